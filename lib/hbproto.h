/* The heartbeat protocol between dbaas-agent and dbaasd (docs/agent.md): the member states the
 * agent reports, the desired states dbaasd answers with, and the JSON field names of the
 * request and the reply. Both sides spell these names only through this header.
 *
 * NOTES: the names are string-literal macros so that they also fit in static SQL text and
 * json_pack() key arguments; the enums and their name<->enum mappings are for C code. */
#ifndef LIB_HBPROTO_H
#define LIB_HBPROTO_H

/* The route the agent posts its heartbeat to. */
#define HB_PATH "/v1/agent/heartbeat"

/* Member states, as the agent observes and reports them (request: members[].state). */
#define HB_STATE_PENDING "pending"   /* known, not yet created */
#define HB_STATE_STARTING "starting" /* down, due for a (re)start after a back-off */
#define HB_STATE_RUNNING "running"   /* the engine answers */
#define HB_STATE_FAILED "failed"     /* its creation failed; members[].error says why */
#define HB_STATE_STOPPED "stopped"   /* accepted by dbaasd; the agent does not report it today */
#define HB_STATE_DELETED "deleted"   /* desired "deleted" and now gone: process, group, data */

enum hb_state { HB_PENDING, HB_STARTING, HB_RUNNING, HB_FAILED, HB_STOPPED, HB_DELETED, HB__COUNT };

/* Desired states, as dbaasd asks for them (reply: members[].desired). */
#define HB_DESIRED_RUNNING "running"
#define HB_DESIRED_DELETED "deleted"

enum hb_desired { HB_WANT_RUNNING, HB_WANT_DELETED, HB_WANT__COUNT };

/* JSON field names. Request (agent -> dbaasd): */
#define HB_F_AGENT_VERSION "agent_version"
#define HB_F_ISOLATION "isolation"
#define HB_F_CAPACITY "capacity" /* {cpu_millis, memory_mb, disk_mb} */
#define HB_F_ENGINES "engines"
#define HB_F_PORTS "ports" /* {min, max} */
#define HB_F_MIN "min"
#define HB_F_MAX "max"
#define HB_F_DESIRED_HASH "desired_hash" /* also in the reply */
#define HB_F_WAIT_MS "wait_ms"
#define HB_F_MEMBERS "members" /* also in the reply */
/* A reported member (request: members[]): */
#define HB_F_ID "id" /* also a desired member's */
#define HB_F_STATE "state"
#define HB_F_PID "pid"
#define HB_F_RESTARTS "restarts"
#define HB_F_APPLIED_VERSION "applied_version"
#define HB_F_PENDING_RESTART "pending_restart"
#define HB_F_ERROR "error"
/* The last resize that failed: the spec_version it was to apply and why. The member keeps
 * running with the limits of applied_version; the agent does not try that spec_version again. */
#define HB_F_RESIZE_VERSION "resize_version"
#define HB_F_RESIZE_ERROR "resize_error"
#define HB_F_USAGE "usage" /* {cpu_usec, memory_bytes, io_*_bytes, disk_mb, oom_kills} */
#define HB_F_CPU_USEC "cpu_usec"
#define HB_F_MEMORY_BYTES "memory_bytes"
#define HB_F_IO_READ_BYTES "io_read_bytes"
#define HB_F_IO_WRITE_BYTES "io_write_bytes"
#define HB_F_OOM_KILLS "oom_kills"
/* Quantities of capacity, limits and usage: */
#define HB_F_CPU_MILLIS "cpu_millis"
#define HB_F_MEMORY_MB "memory_mb"
#define HB_F_DISK_MB "disk_mb"
#define HB_F_READ_IOPS "read_iops"
#define HB_F_WRITE_IOPS "write_iops"
#define HB_F_READ_BPS "read_bps"
#define HB_F_WRITE_BPS "write_bps"

/* HA part 1 (docs/ha.md), request: */
#define HB_F_SEED_PORT "seed_port" /* host: the agent's seed server (streams for replicas) */
/* A reported member's last health probe (members[].health), engines/engine.h's
 * struct engine_health; a field the probe could not tell is null: */
#define HB_F_HEALTH "health"
#define HB_F_ALIVE "alive"                   /* bool */
#define HB_F_WRITABLE "writable"             /* bool */
#define HB_F_POSITION "position"             /* the engine's notation: LSN, GTID, offset */
#define HB_F_POSITION_BYTES "position_bytes" /* comparable between the members of an instance */
#define HB_F_RECEIVED_BYTES "received_bytes" /* replica: received and durable, >= position_bytes */
#define HB_F_UPSTREAM_UP "upstream_up"       /* replica: bool */
#define HB_F_LAG_BYTES "lag_bytes"
#define HB_F_LAG_SECONDS "lag_seconds"
#define HB_F_AGE_MS "age_ms" /* how old the probe is when reported */
/* (health also carries "role", HB_F_ROLE, and "error", HB_F_ERROR.) */
/* A replica being seeded (members[].seeding): */
#define HB_F_SEEDING "seeding"
#define HB_F_BYTES "bytes"           /* copied so far */
#define HB_F_ELAPSED_MS "elapsed_ms" /* since the copy began */

/* Reply (dbaasd -> agent), besides desired_hash and members: */
#define HB_F_GENERATION                                                                            \
    "generation"         /* grows with every change of the host's desired members;                 \
                            an agent ignores a reply older than one it applied */
#define HB_F_HOST "host" /* also the primary's address in a desired member */
#define HB_F_HEARTBEAT_INTERVAL_MS "heartbeat_interval_ms"
/* A desired member (reply: members[]), besides id: */
#define HB_F_INSTANCE_ID "instance_id"
#define HB_F_INSTANCE "instance"
#define HB_F_ENGINE "engine"
#define HB_F_VERSION "version"
#define HB_F_ROLE "role"
#define HB_F_PORT "port"
#define HB_F_DESIRED "desired"
#define HB_F_SPEC_VERSION "spec_version"
#define HB_F_LIMITS "limits" /* {cpu_millis, memory_mb, disk_mb, read/write_iops/bps} */
#define HB_F_CREDENTIALS "credentials"
#define HB_F_USERNAME "username"
#define HB_F_VERIFIER "verifier"
#define HB_F_PRIMARY "primary" /* {id, host, port} */
/* HA part 1, a desired member: */
/* {user, secret}: sent only to the agents of this instance's hosts */
#define HB_F_REPLICATION "replication"
#define HB_F_USER "user"
#define HB_F_SECRET "secret"
#define HB_F_REPLICAS "replicas" /* primary: [{id, host, port}] of the replicas it serves */
#define HB_F_SEED "seed"         /* replica: {host, port} of the primary's agent seed server */

/* HA part 2 (docs/ha.md, "Failover"). Reply: the host's lease, how to renew it (lib/lease.h):
 * {host_id, port, key (base64url of LEASE_KEY_LEN bytes), ttl_ms, renew_ms}. The agent renews over
 * UDP at dbaasd's address and that port; key is a secret (never logged). */
#define HB_F_LEASE "lease"
#define HB_F_HOST_ID "host_id" /* the host's id, which the lease datagrams carry (lib/lease.h) */
#define HB_F_KEY "key"
#define HB_F_TTL_MS "ttl_ms"
#define HB_F_RENEW_MS "renew_ms"
/* A desired member: */
#define HB_F_SYNC "sync" /* bool: synchronous replication (primary waits for one replica) */
#define HB_F_FENCE                                                                                 \
    "fence" /* bool: this primary must stop taking writes now (switchover, or a                    \
               failover whose agent still answers); the agent stops the engine or                  \
               makes it refuse writes and reports fenced */
/* A reported member (request: members[]), besides health: */
#define HB_F_FENCED                                                                                \
    "fenced" /* bool: the member does not take writes because it was fenced                        \
                (desired fence, or the lease guard fired) */
/* Request (agent -> dbaasd), host: whether the agent holds a valid lease now. */
#define HB_F_LEASE_VALID "lease_valid"
/* Request, host: whether the agent can enforce IO limits (its data directory is on a block
 * device); false: dbaasd places no member with IO limits there. */
#define HB_F_IO_LIMITS "io_limits"

/* Member roles (desired members[].role, health.role). */
#define HB_ROLE_PRIMARY "primary"
#define HB_ROLE_REPLICA "replica"

/* The name of a state ("pending", ...; a static string); NULL for a value outside the enum. */
const char *hb_state_name(enum hb_state s);
/* Parse a state name (NULL is unknown). 0, or -1 when unknown. */
int hb_state_parse(const char *name, enum hb_state *out) __attribute__((warn_unused_result));

/* The name of a desired state ("running", "deleted"); NULL for a value outside the enum. */
const char *hb_desired_name(enum hb_desired d);
/* Parse a desired state name (NULL is unknown). 0, or -1 when unknown. */
int hb_desired_parse(const char *name, enum hb_desired *out) __attribute__((warn_unused_result));

#endif
