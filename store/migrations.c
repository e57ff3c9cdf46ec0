/* The schema migrations, in order. Never edit a released migration: add a new one.
 * Counters on tenants (used_*) and hosts (alloc_*) are maintained in the same statement as the
 * change that moves them, so that a conditional UPDATE on one row is the atomic quota check. */
#include "store/migrations.h"

const struct migration migrations[] = {
    {1, "core",
     "CREATE FUNCTION iso(timestamptz) RETURNS text LANGUAGE sql STABLE AS "
     "$$ SELECT to_char($1 AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') $$;"

     "CREATE TABLE tenants ("
     " id bigserial PRIMARY KEY,"
     " name text NOT NULL UNIQUE,"
     " created_at timestamptz NOT NULL DEFAULT now(),"
     " max_instances bigint CHECK (max_instances >= 0),"
     " max_cpu_millis bigint CHECK (max_cpu_millis >= 0),"
     " max_memory_mb bigint CHECK (max_memory_mb >= 0),"
     " max_disk_mb bigint CHECK (max_disk_mb >= 0),"
     " used_instances bigint NOT NULL DEFAULT 0 CHECK (used_instances >= 0),"
     " used_cpu_millis bigint NOT NULL DEFAULT 0 CHECK (used_cpu_millis >= 0),"
     " used_memory_mb bigint NOT NULL DEFAULT 0 CHECK (used_memory_mb >= 0),"
     " used_disk_mb bigint NOT NULL DEFAULT 0 CHECK (used_disk_mb >= 0));"

     "CREATE TABLE api_tokens ("
     " id text PRIMARY KEY,"
     " kind text NOT NULL CHECK (kind IN ('operator', 'tenant')),"
     " tenant_id bigint REFERENCES tenants(id) ON DELETE CASCADE,"
     " hash text NOT NULL UNIQUE,"
     " created_at timestamptz NOT NULL DEFAULT now(),"
     " CHECK ((kind = 'tenant') = (tenant_id IS NOT NULL)));"

     "CREATE TABLE plans ("
     " id bigserial PRIMARY KEY,"
     " name text NOT NULL UNIQUE,"
     " cpu_millis bigint NOT NULL CHECK (cpu_millis > 0),"
     " memory_mb bigint NOT NULL CHECK (memory_mb > 0),"
     " disk_mb bigint NOT NULL CHECK (disk_mb > 0),"
     " read_iops bigint NOT NULL DEFAULT 0 CHECK (read_iops >= 0),"
     " write_iops bigint NOT NULL DEFAULT 0 CHECK (write_iops >= 0),"
     " read_bps bigint NOT NULL DEFAULT 0 CHECK (read_bps >= 0),"
     " write_bps bigint NOT NULL DEFAULT 0 CHECK (write_bps >= 0),"
     " created_at timestamptz NOT NULL DEFAULT now());"

     "CREATE TABLE hosts ("
     " id bigserial PRIMARY KEY,"
     " name text NOT NULL UNIQUE,"
     " address text NOT NULL,"
     " zone text NOT NULL,"
     " cpu_millis bigint NOT NULL CHECK (cpu_millis > 0),"
     " memory_mb bigint NOT NULL CHECK (memory_mb > 0),"
     " disk_mb bigint NOT NULL CHECK (disk_mb > 0),"
     " engines text[] NOT NULL,"
     " state text NOT NULL DEFAULT 'unknown' CHECK (state IN ('unknown', 'ready', 'unreachable')),"
     " draining boolean NOT NULL DEFAULT false,"
     " token_hash text NOT NULL UNIQUE,"
     " last_heartbeat timestamptz,"
     " alloc_cpu_millis bigint NOT NULL DEFAULT 0,"
     " alloc_memory_mb bigint NOT NULL DEFAULT 0,"
     " alloc_disk_mb bigint NOT NULL DEFAULT 0,"
     " created_at timestamptz NOT NULL DEFAULT now());"

     "CREATE TABLE instances ("
     " seq bigserial NOT NULL UNIQUE,"
     " id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
     " tenant_id bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
     " name text NOT NULL,"
     " engine text NOT NULL,"
     " version text NOT NULL,"
     " plan_id bigint REFERENCES plans(id),"
     " plan_name text NOT NULL,"
     " replicas int NOT NULL CHECK (replicas BETWEEN 0 AND 5),"
     " status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'provisioning',"
     "  'running', 'resizing', 'failing_over', 'degraded', 'deleting', 'deleted', 'failed')),"
     " status_reason text,"
     " host_id bigint REFERENCES hosts(id),"
     " username text NOT NULL,"
     " verifier text NOT NULL,"
     " created_at timestamptz NOT NULL DEFAULT now(),"
     " updated_at timestamptz NOT NULL DEFAULT now(),"
     " deleted_at timestamptz,"
     " CHECK ((status = 'deleted') = (plan_id IS NULL)));"
     "CREATE UNIQUE INDEX instances_tenant_name ON instances (tenant_id, name)"
     " WHERE status <> 'deleted';"
     "CREATE INDEX instances_tenant_seq ON instances (tenant_id, seq);"
     "CREATE INDEX instances_work ON instances (status) WHERE status IN ('pending', 'deleting');"

     "CREATE TABLE events ("
     " id bigserial PRIMARY KEY,"
     " at timestamptz NOT NULL DEFAULT now(),"
     " tenant_id bigint REFERENCES tenants(id) ON DELETE CASCADE,"
     " instance_id uuid,"
     " actor text NOT NULL,"
     " kind text NOT NULL,"
     " message text NOT NULL);"
     "CREATE INDEX events_tenant ON events (tenant_id, id);"
     "CREATE INDEX events_instance ON events (instance_id, id);"

     "CREATE TABLE idempotency_keys ("
     " tenant_id bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,"
     " key text NOT NULL,"
     " request_hash text NOT NULL,"
     " instance_id uuid NOT NULL,"
     " created_at timestamptz NOT NULL DEFAULT now(),"
     " PRIMARY KEY (tenant_id, key));"},

    {2, "placement",
     /* One row per member (primary or replica) of an instance, on one host, holding that host's
      * allocation (the plan's size at placement or resize) until the agent confirms it is gone. */
     "CREATE TABLE members ("
     " id bigserial PRIMARY KEY,"
     " instance_id uuid NOT NULL REFERENCES instances(id) ON DELETE CASCADE,"
     " role text NOT NULL CHECK (role IN ('primary', 'replica')),"
     " host_id bigint NOT NULL REFERENCES hosts(id),"
     " port int NOT NULL CHECK (port > 0 AND port < 65536),"
     " cpu_millis bigint NOT NULL, memory_mb bigint NOT NULL, disk_mb bigint NOT NULL,"
     " desired text NOT NULL DEFAULT 'running' CHECK (desired IN ('running', 'deleted')),"
     " spec_version int NOT NULL DEFAULT 1,"
     " observed text NOT NULL DEFAULT 'pending',"
     " observed_error text,"
     " observed_version int NOT NULL DEFAULT 0,"
     " observed_at timestamptz,"
     " pid int,"
     " restarts int NOT NULL DEFAULT 0,"
     " pending_restart boolean NOT NULL DEFAULT false,"
     " usage jsonb,"
     " replaces bigint,"
     " created_at timestamptz NOT NULL DEFAULT now(),"
     " UNIQUE (host_id, port),"
     " UNIQUE (instance_id, host_id));"
     "CREATE INDEX members_instance ON members (instance_id);"
     "CREATE INDEX members_host ON members (host_id);"
     "ALTER TABLE hosts ADD COLUMN agent jsonb;"
     "ALTER TABLE hosts ADD COLUMN unreachable_since timestamptz;"
     "ALTER TABLE hosts ADD COLUMN port_min int NOT NULL DEFAULT 20000;"
     "ALTER TABLE hosts ADD COLUMN port_max int NOT NULL DEFAULT 29999;"
     /* Operator settings of the scheduler and the host liveness checks. */
     "CREATE TABLE settings (key text PRIMARY KEY, value text NOT NULL);"
     "INSERT INTO settings (key, value) VALUES ('policy', 'binpack'), ('cpu_ratio', '1.0'),"
     " ('memory_ratio', '1.0'), ('disk_ratio', '1.0'), ('heartbeat_timeout_ms', '5000'),"
     " ('unreachable_grace_s', '60');"},

    {3, "disk watch",
     "ALTER TABLE members ADD COLUMN disk_warned boolean NOT NULL DEFAULT false;"
     "ALTER TABLE instances ADD COLUMN storage_full boolean NOT NULL DEFAULT false;"},

    {4, "placement queue index",
     /* The scheduler takes the oldest pending instances: an index in that order, so that a pass
      * costs the same with 10 or 100,000 instances waiting. */
     "CREATE INDEX instances_pending_seq ON instances (seq) WHERE status = 'pending';"
     "CREATE INDEX instances_deleting ON instances (id) WHERE status = 'deleting';"
     "DROP INDEX instances_work;"},

    {5, "engines from the catalogue",
     /* dbaasd checks engine names against lib/catalog.h, the one list of engines; stores made
      * before this version carry a CHECK that repeated it. */
     "ALTER TABLE instances DROP CONSTRAINT IF EXISTS instances_engine_check;"},

    {6, "ha part 1",
     /* The replication user's password of each instance (docs/ha.md, "Secrets"): in a table of
      * its own, read only by the heartbeat reply to the agents of the instance's hosts. */
     "CREATE TABLE instance_secrets ("
     " instance_id uuid PRIMARY KEY REFERENCES instances(id) ON DELETE CASCADE,"
     " repl_secret text NOT NULL,"
     " created_at timestamptz NOT NULL DEFAULT now());"
     /* How far a replica may lag before the instance is degraded; replicas asked for by a PATCH
      * and not placed yet (with the scheduler's refusal); the placement queue's turn. */
     "ALTER TABLE instances ADD COLUMN max_lag_bytes bigint NOT NULL DEFAULT 16777216"
     " CHECK (max_lag_bytes >= 0);"
     "ALTER TABLE instances ADD COLUMN replicas_pending boolean NOT NULL DEFAULT false;"
     "ALTER TABLE instances ADD COLUMN place_refusal text;"
     "ALTER TABLE instances ADD COLUMN place_tried_at timestamptz;"
     "CREATE INDEX instances_pending_turn ON instances (place_tried_at NULLS FIRST, seq)"
     " WHERE status = 'pending';"
     "CREATE INDEX instances_replicas_pending ON instances (place_tried_at NULLS FIRST, seq)"
     " WHERE replicas_pending;"
     "DROP INDEX instances_pending_seq;"
     /* A member's last health probe and seeding progress as its agent reported them (checked
      * and reduced to known fields of known types by the heartbeat handler), when the probe was
      * made, and when the replica was last seen caught up (the lag_seconds estimate). */
     "ALTER TABLE members ADD COLUMN health jsonb;"
     "ALTER TABLE members ADD COLUMN health_at timestamptz;"
     "ALTER TABLE members ADD COLUMN seeding jsonb;"
     "ALTER TABLE members ADD COLUMN caught_up_at timestamptz;"
     /* The generation of a host's desired members: the hash of the last answer and the
      * sequence value taken when it changed (docs/agent.md). */
     "CREATE SEQUENCE desired_gen_seq;"
     "ALTER TABLE hosts ADD COLUMN desired_gen bigint NOT NULL DEFAULT 0;"
     "ALTER TABLE hosts ADD COLUMN desired_hash text;"
     /* What the API shows of a member's replication, in one place: the role the engine
      * reports (the desired one until a probe arrived), and for a replica its lag behind the
      * instance's primary (positions when both are known, else the agent's figures, else the
      * time since it was last caught up). */
     "CREATE VIEW member_health AS"
     " SELECT x.*, CASE WHEN x.shown_role = 'primary' THEN NULL"
     "  WHEN x.health->>'lag_seconds' IS NOT NULL THEN (x.health->>'lag_seconds')::float8"
     "  WHEN x.lag_bytes = 0 THEN 0::float8"
     "  WHEN x.caught_up_at IS NOT NULL"
     "   THEN extract(epoch FROM now() - x.caught_up_at)::float8 END AS lag_seconds"
     " FROM (SELECT m.id, m.instance_id, m.host_id, m.role, m.desired, m.observed, m.health,"
     "  m.caught_up_at, coalesce(m.health->>'role', m.role) AS shown_role,"
     "  (m.health->>'alive')::boolean AS alive, (m.health->>'writable')::boolean AS writable,"
     "  (m.health->>'upstream_up')::boolean AS upstream_up,"
     "  CASE WHEN coalesce(m.health->>'role', m.role) = 'primary' THEN NULL"
     "   WHEN p.id <> m.id AND p.health->>'position_bytes' IS NOT NULL"
     "    AND m.health->>'position_bytes' IS NOT NULL"
     "   THEN greatest((p.health->>'position_bytes')::bigint"
     "    - (m.health->>'position_bytes')::bigint, 0)"
     "   ELSE (m.health->>'lag_bytes')::bigint END AS lag_bytes"
     "  FROM members m LEFT JOIN LATERAL (SELECT pm.id, pm.health FROM members pm"
     "   WHERE pm.instance_id = m.instance_id AND pm.role = 'primary'"
     "   AND pm.desired = 'running' ORDER BY pm.id LIMIT 1) p ON true) x;"},

    {7, "resize failures",
     /* The last resize a member's agent could not apply: the spec_version it was for and why
      * (docs/states.md); it counts while that is still the member's spec_version. */
     "ALTER TABLE members ADD COLUMN resize_version int;"
     "ALTER TABLE members ADD COLUMN resize_error text;"},

    {8, "ha part 2: failover",
     /* Synchronous replication per instance (docs/ha.md, "Synchronous mode"). */
     "ALTER TABLE instances ADD COLUMN sync boolean NOT NULL DEFAULT false;"
     /* The HA settings, one row (GET/PUT /v1/ha): leases, the grace before an engine-level
      * failure counts, the cooldown against flapping, and how long a failover waits for its
      * fence or a switchover for its target's catch-up. */
     "CREATE TABLE ha_settings ("
     " id boolean PRIMARY KEY DEFAULT true CHECK (id),"
     " renew_ms int NOT NULL DEFAULT 300 CHECK (renew_ms BETWEEN 50 AND 60000),"
     " lease_ttl_ms int NOT NULL DEFAULT 1000 CHECK (lease_ttl_ms BETWEEN 100 AND 600000),"
     " fence_margin_ms int NOT NULL DEFAULT 250 CHECK (fence_margin_ms BETWEEN 0 AND 60000),"
     " grace_ms int NOT NULL DEFAULT 10000 CHECK (grace_ms BETWEEN 0 AND 600000),"
     " failover_cooldown_ms int NOT NULL DEFAULT 60000"
     "  CHECK (failover_cooldown_ms BETWEEN 0 AND 86400000),"
     " step_timeout_ms int NOT NULL DEFAULT 30000"
     "  CHECK (step_timeout_ms BETWEEN 1000 AND 3600000),"
     " CHECK (lease_ttl_ms >= 2 * renew_ms));"
     "INSERT INTO ha_settings DEFAULT VALUES;"
     /* Every failover and switchover, step by step, so that a new leader continues one the old
      * leader started (ha/failover.h); at most one in flight per instance. The members are
      * named by id without a reference: a member row goes when its agent deleted it. */
     "CREATE TABLE failovers ("
     " id bigserial PRIMARY KEY,"
     " instance_id uuid NOT NULL REFERENCES instances(id) ON DELETE CASCADE,"
     " kind text NOT NULL CHECK (kind IN ('failover', 'switchover')),"
     " state text NOT NULL CHECK (state IN ('detected', 'fencing', 'promoting', 'done',"
     "  'refused', 'aborted')),"
     " from_member bigint,"
     " to_member bigint,"
     " reason text,"
     " actor text NOT NULL,"
     " detected_at timestamptz NOT NULL DEFAULT now(),"
     " fenced_at timestamptz,"
     " promoted_at timestamptz,"
     " promoted_position bigint,"
     " first_write_at timestamptz,"
     " state_at timestamptz NOT NULL DEFAULT now(),"
     " created_at timestamptz NOT NULL DEFAULT now(),"
     " finished_at timestamptz);"
     "CREATE UNIQUE INDEX failovers_in_flight ON failovers (instance_id)"
     " WHERE state IN ('detected', 'fencing', 'promoting');"
     "CREATE INDEX failovers_instance ON failovers (instance_id, id);"
     /* A member's fence (desired: stop taking writes), what its agent reports of it, and when
      * it last lost the primary role (the cooldown). */
     "ALTER TABLE members ADD COLUMN fence boolean NOT NULL DEFAULT false;"
     "ALTER TABLE members ADD COLUMN fenced boolean NOT NULL DEFAULT false;"
     "ALTER TABLE members ADD COLUMN demoted_at timestamptz;"},
    {9, "leases",
     /* Each host's lease key (docs/ha.md, "Failure model"): 32 random bytes made at its first
      * heartbeat, shared by every dbaasd on this store; a secret, in no API answer. The HA
      * settings (ha_settings) come with migration 8; dbaasd uses defaults while it is absent. */
     "CREATE TABLE IF NOT EXISTS host_lease_keys ("
     " host_id bigint PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,"
     " key bytea NOT NULL CHECK (length(key) = 32),"
     " created_at timestamptz NOT NULL DEFAULT now());"
     /* Renewals granted by a dbaasd that does not lead, added up every 200 ms; v tells the
      * leader which rows moved. UNLOGGED: no WAL, emptied by a crash of the store (a new leader
      * counts every host as renewed at its takeover anyway). */
     "CREATE SEQUENCE IF NOT EXISTS host_renewals_v;"
     "CREATE UNLOGGED TABLE IF NOT EXISTS host_renewals ("
     " host_id bigint PRIMARY KEY, renewals bigint NOT NULL, v bigint NOT NULL);"
     "CREATE INDEX IF NOT EXISTS host_renewals_v_idx ON host_renewals (v);"
     /* When each host's agent last heartbeated, written by every dbaasd in one statement a
      * second instead of a durable row update per heartbeat; hosts.last_heartbeat is written on
      * changes and at least every minute, and readers take the later of the two. */
     "CREATE UNLOGGED TABLE IF NOT EXISTS host_seen ("
     " host_id bigint PRIMARY KEY, at timestamptz NOT NULL);"},
    {10, "token rotation",
     /* A host's next token (POST /v1/hosts/{name}/token): both work until the agent first
      * uses the next one, which then replaces the current one (api/auth.c). */
     "ALTER TABLE hosts ADD COLUMN token_hash_next text UNIQUE;"
     /* An operator token that a rotation (POST /v1/operator/token) revoked: kept, so that a
      * dbaasd whose operator.token still holds it does not make it valid again at its start. */
     "ALTER TABLE api_tokens ADD COLUMN revoked_at timestamptz;"},
    {11, "audit log",
     /* Every mutating call of an operator or a tenant (api/audit.c). The tenant is a name, not
      * a reference: a record outlives its tenant. */
     "CREATE TABLE audit_log ("
     " id bigserial PRIMARY KEY,"
     " at timestamptz NOT NULL DEFAULT clock_timestamp(),"
     " actor text NOT NULL,"
     " tenant text,"
     " action text NOT NULL,"
     " target text NOT NULL,"
     " status int NOT NULL,"
     " error text,"
     " created text);"
     "CREATE INDEX audit_log_tenant ON audit_log (tenant, id);"},
};

const int migrations_count = (int)(sizeof(migrations) / sizeof(migrations[0]));
