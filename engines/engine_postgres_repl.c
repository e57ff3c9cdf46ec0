/* PostgreSQL 15 driver, replication and failover: the settings of each role (synchronous
 * standbys included), seeding with pg_basebackup, the primary's role, grants and slots, following
 * an upstream, health, promotion and the rejoin of a former primary with pg_rewind.
 *
 * NOTES
 * - Both roles render what failover and pg_rewind need and let CATALOG_REPL_USER in for
 *   replication, plus a plain session to database "postgres" only (pg_rewind's source
 *   connection), with scram-sha-256 from anywhere; its password is in repl.pgpass (the libpq
 *   passfile, 0600). The tenant is NOREPLICATION and pg_hba.conf rejects its replication
 *   connections.
 * - A primary keeps the role (from a SCRAM verifier computed here), EXECUTE on the four file
 *   functions pg_rewind calls and pg_checkpoint (the rewind runs CHECKPOINT on its source
 *   first: PostgreSQL 15's pg_rewind reads the source's timeline from pg_control, which a
 *   promotion updates only at the next checkpoint), and one physical slot "dbaas_m<id>" per
 *   replica (repl_setup). With repl->sync it names its replicas, by application_name
 *   "dbaas_m<id>", in synchronous_standby_names = 'ANY 1 (...)'.
 * - A replica is seeded with pg_basebackup through its slot, starts with standby.signal and
 *   streams with primary_conninfo/primary_slot_name (no -R: the driver writes all of it).
 *   primary_conninfo is reloadable (PostgreSQL 13+): follow reloads when the running value
 *   differs from the rendered one, which makes the WAL receiver reconnect to the new upstream
 *   (recovery_target_timeline 'latest' follows a promoted primary's new timeline).
 * - Promotion: engine_promote() rendered the primary's configuration; pg_promote(wait) ends
 *   recovery (the server removes standby.signal itself) and a reload applies the primary's
 *   synchronous settings. A rejoin runs CHECKPOINT on the new primary then pg_rewind
 *   --source-server as the OS user, and writes standby.signal (rejoin_finish). */
#include "engines/engine.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "engines/engine_postgres.h"
#include "engines/answers.h"
#include "engines/engine_util.h"
#include "lib/clock.h"
#include "lib/crypto.h"
#include "lib/xalloc.h"

#define PG_PROMOTE_WAIT_S "20"  /* pg_promote(wait_seconds); below PG_ADMIN_TIMEOUT_MS */
#define PG_REWIND_APP "_rewind" /* application_name of the rewind's sessions: member id + this */

/* The functions pg_rewind runs on its source (PostgreSQL 15 documentation of pg_rewind). */
static const char *const pg_rewind_functions[] = {
    "pg_catalog.pg_ls_dir(text, boolean, boolean)",
    "pg_catalog.pg_stat_file(text, boolean)",
    "pg_catalog.pg_read_binary_file(text)",
    "pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)",
};

/* ---- render ---- */

/* The connection string to the upstream of a replica (or the source of a rewind), with the
 * password in the passfile. Addresses are numeric and paths [A-Za-z0-9._/+-]: nothing to quote.
 * `app` is appended to the application_name "dbaas_m<id>" ("" for the replica's stream). */
static void pg_conninfo(const struct engine_spec *s, const char *app, bool dbname, struct buf *out)
{
    const struct engine_repl *r = s->repl;

    buf_printf(out,
               "host=%s port=%d user=%s %spassfile=%s/" PG_PASSFILE
               " application_name=" PG_SLOT_PREFIX "%lld%s connect_timeout=5",
               r->upstream.host, r->upstream.port, r->user, dbname ? "dbname=" PG_ADMIN_DB " " : "",
               s->data_dir, (long long)r->member_id, app);
}

void pg_render_repl(const struct engine_spec *s, struct buf *conf)
{
    const struct engine_repl *r = s->repl;
    struct buf conninfo = BUF_INIT;

    buf_printf(conf,
               "\n# Replication (HA), member %lld, %s. Both roles keep what failover and\n"
               "# pg_rewind need (wal_log_hints, retained WAL, standby feedback).\n"
               "hot_standby_feedback = on\n"
               "wal_receiver_timeout = 10s\n"
               "max_slot_wal_keep_size = %lldMB\n"
               "recovery_target_timeline = 'latest'\n",
               (long long)r->member_id, r->role == ENGINE_ROLE_PRIMARY ? "a primary" : "a replica",
               (long long)engine_util_clamp(s->disk_mb / 4, 64, INT64_C(1) << 30));
    buf_puts(conf, "# Synchronous replication: a commit waits for one replica's flush\n"
                   "synchronous_commit = on\n");
    if (r->role == ENGINE_ROLE_PRIMARY && r->sync && r->n_replicas > 0) {
        buf_puts(conf, "synchronous_standby_names = 'ANY 1 (");
        for (int i = 0; i < r->n_replicas; i++)
            buf_printf(conf, "%s" PG_SLOT_PREFIX "%lld", i ? ", " : "",
                       (long long)r->replicas[i].id);
        buf_puts(conf, ")'\n");
    } else {
        /* A standby ignores it; promotion renders the primary's list first. */
        buf_printf(conf, "synchronous_standby_names = ''%s\n",
                   r->sync ? (r->role == ENGINE_ROLE_PRIMARY ? "  # no replica to wait for"
                                                             : "  # a standby: see promotion")
                           : "");
    }
    if (r->role != ENGINE_ROLE_REPLICA)
        return;
    pg_conninfo(s, "", false, &conninfo);
    buf_printf(conf,
               "primary_conninfo = '%s'\n"
               "primary_slot_name = '" PG_SLOT_PREFIX "%lld'\n",
               buf_str(&conninfo), (long long)r->member_id);
    buf_free(&conninfo);
}

void pg_render_repl_hba(const struct engine_spec *s, struct buf *hba)
{
    /* "all" never matches replication connections: only the replication user gets them; it
     * gets a plain session to database "postgres" only (pg_rewind's source), nothing else. */
    buf_printf(hba,
               "local   replication  %s  peer map=dbaas_admin\n"
               "host    replication  %s  all  scram-sha-256\n"
               "host    replication  all         all  reject\n"
               "host    " PG_ADMIN_DB "     %s  all  scram-sha-256\n"
               "host    all          %s  all  reject\n",
               s->os_user, s->repl->user, s->repl->user, s->repl->user);
}

/* ---- seeding ---- */

/* pg_basebackup from the primary through this replica's slot, with the password from the
 * passfile and HOME in the member directory (libpq looks for its files there). */
int pg_seed_plan(const struct engine_spec *s, const char *data_path, struct engine_seed_plan *out,
                 struct err *e)
{
    const struct engine_repl *r = s->repl;
    struct engine_strv argv = {0}, env = {0};
    char *prog = engine_util_program(s->bin_dir, PG_DEFAULT_BIN, "pg_basebackup");

    (void)e;
    engine_util_strv_push(&argv, prog);
    free(prog);
    engine_util_strv_pushf(&argv, "--pgdata=%s", data_path);
    engine_util_strv_pushf(&argv, "--host=%s", r->upstream.host);
    engine_util_strv_pushf(&argv, "--port=%d", r->upstream.port);
    engine_util_strv_pushf(&argv, "--username=%s", r->user);
    engine_util_strv_push(&argv, "--no-password");
    engine_util_strv_push(&argv, "--wal-method=stream");
    engine_util_strv_pushf(&argv, "--slot=" PG_SLOT_PREFIX "%lld", (long long)r->member_id);
    engine_util_strv_push(&argv, "--checkpoint=fast");
    engine_util_strv_push(&argv, "--no-sync"); /* engine_seed() syncs once */
    engine_util_strv_pushf(&env, "PGPASSFILE=%s/" PG_PASSFILE, s->data_dir);
    engine_util_strv_pushf(&env, "HOME=%s", s->data_dir);
    engine_util_strv_push(&env, "PGCONNECT_TIMEOUT=" PG_SEED_CONNECT_TIMEOUT);
    /* Not the replica's application_name: a seed's WAL stream must never count as the
     * synchronous standby (its copy may still be thrown away). */
    engine_util_strv_pushf(&env, "PGAPPNAME=" PG_SLOT_PREFIX "%lld_seed", (long long)r->member_id);
    out->n = 1;
    out->step[0].argv = engine_util_strv_steal(&argv);
    out->step[0].env = engine_util_strv_steal(&env);
    out->step[0].stdin_stream = false;
    out->step[0].what = "pg_basebackup";
    return 0;
}

/* standby.signal: the copy starts as a standby of primary_conninfo. */
int pg_seed_finish(const struct engine_spec *s, const char *data_path, struct err *e)
{
    struct engine_user u;
    char *path;
    int rc;

    if (engine_util_user(s->os_user, &u, e) < 0)
        return -1;
    path = engine_util_path(data_path, "standby.signal");
    rc = engine_util_write_file(path, "", &u, e);
    free(path);
    return rc;
}

/* pg_basebackup -S fails when the primary's agent has not created the slot yet. */
void pg_seed_error(const struct engine_spec *s, const struct engine_seed_step *step, struct err *e)
{
    const struct engine_repl *r = s->repl;
    char slot[64];

    (void)step;
    snprintf(slot, sizeof(slot), "replication slot \"" PG_SLOT_PREFIX "%lld\" does not exist",
             (long long)r->member_id);
    if (e && strstr(e->msg, slot))
        err_set(e, ENGINE_E_UNAVAILABLE,
                "could not seed from the primary at %s:%d yet: %s there (the primary's agent "
                "creates it); retry later",
                r->upstream.host, r->upstream.port, slot);
}

/* Drop a slot of ours, ending the walsender that holds it. A replica that still runs would take
 * the slot again within milliseconds: DROP_REPLICATION_SLOT ... WAIT on a replication session
 * waits first and takes the slot the moment the walsender releases it. */
static int pg_drop_slot(const struct engine_spec *s, PGconn *c, int64_t deadline, const char *slot,
                        struct err *e)
{
    PGconn *rc = pg_connect(s, deadline, true, e);
    PGresult *res = NULL;
    char sql[128], what[128], msg[400];
    int ok = -1;

    snprintf(what, sizeof(what), "drop replication slot \"%s\"", slot);
    /* The name is ours, "dbaas_m<digits>": an identifier as it is. */
    snprintf(sql, sizeof(sql), "DROP_REPLICATION_SLOT %s WAIT", slot);
    if (!rc)
        goto out;
    if (!PQsendQuery(rc, sql)) {
        err_set(e, ENGINE_E_UNAVAILABLE, "could not %s: %s", what,
                pg_msg(PQerrorMessage(rc), msg, sizeof(msg)));
        goto out;
    }
    if (pg_run(c, deadline, what,
               "SELECT pg_catalog.pg_terminate_backend(active_pid)"
               " FROM pg_catalog.pg_replication_slots"
               " WHERE slot_name = $1 AND active_pid <> pg_catalog.pg_backend_pid()",
               1, &slot, e) < 0)
        goto out;
    if ((res = pg_result(rc, deadline, what, false, e)) != NULL)
        ok = 0;
out:
    PQclear(res);
    PQfinish(rc);
    return ok;
}

/* What pg_rewind needs of its source's user (granted on the primary; grants replicate, so a
 * promoted replica has them too): EXECUTE on the file functions, and membership of
 * pg_checkpoint for the CHECKPOINT the rejoin runs first (the role is NOINHERIT: that step
 * does SET ROLE). Repeating a grant changes nothing. */
static int pg_rewind_grants(PGconn *c, int64_t deadline, const char *user, struct err *e)
{
    struct buf sql = BUF_INIT;
    char *ident = PQescapeIdentifier(c, user, strlen(user)), what[128];
    int rc = -1;

    snprintf(what, sizeof(what), "grant role \"%s\" what pg_rewind needs", user);
    if (!ident) {
        err_set(e, ENGINE_E_SYSTEM, "could not quote role \"%s\"", user);
        goto out;
    }
    for (size_t i = 0; i < sizeof(pg_rewind_functions) / sizeof(pg_rewind_functions[0]); i++) {
        buf_reset(&sql);
        buf_printf(&sql, "GRANT EXECUTE ON FUNCTION %s TO %s", pg_rewind_functions[i], ident);
        if (pg_run(c, deadline, what, buf_str(&sql), 0, NULL, e) < 0)
            goto out;
    }
    buf_reset(&sql);
    buf_printf(&sql, "GRANT pg_checkpoint TO %s", ident);
    if (pg_run(c, deadline, what, buf_str(&sql), 0, NULL, e) < 0)
        goto out;
    rc = 0;
out:
    PQfreemem(ident);
    buf_free(&sql);
    return rc;
}

/* The replication role from a SCRAM verifier of the secret (so the clear password is in no
 * statement), then exactly one slot per replica, then a reload for pg_hba.conf. */
int pg_repl_setup(const struct engine_spec *s, struct err *e)
{
    const struct engine_repl *r = s->repl;
    int64_t deadline = clock_now_ms() + PG_ADMIN_TIMEOUT_MS;
    PGconn *c = NULL;
    PGresult *res = NULL;
    char *verifier = NULL, what[128], name[64];
    int exists, rc = -1;

    if (!(c = pg_connect(s, deadline, false, e)))
        goto out;
    verifier = crypto_scram_verifier(r->secret, CRYPTO_SCRAM_ITERATIONS);
    if (!verifier) {
        err_set(e, ENGINE_E_SYSTEM, "could not compute the verifier of role \"%s\"", r->user);
        goto out;
    }
    if (pg_set_role(c, deadline, r->user, verifier,
                    "LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOBYPASSRLS",
                    e) < 0 ||
        pg_rewind_grants(c, deadline, r->user, e) < 0)
        goto out;

    /* Drop our slots of members that are gone (ending a walsender that still uses one). */
    res = pg_query(c, deadline, "list replication slots",
                   "SELECT slot_name FROM pg_catalog.pg_replication_slots"
                   " WHERE slot_type = 'physical' AND slot_name LIKE '" PG_SLOT_PREFIX "%'",
                   0, NULL, e);
    if (!res)
        goto out;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *slot = PQgetvalue(res, i, 0);
        bool wanted = false;

        for (int j = 0; j < r->n_replicas && !wanted; j++) {
            snprintf(name, sizeof(name), PG_SLOT_PREFIX "%lld", (long long)r->replicas[j].id);
            wanted = strcmp(name, slot) == 0;
        }
        if (wanted)
            continue;
        if (pg_drop_slot(s, c, deadline, slot, e) < 0)
            goto out;
    }
    for (int j = 0; j < r->n_replicas; j++) {
        const char *params[] = {name};

        snprintf(name, sizeof(name), PG_SLOT_PREFIX "%lld", (long long)r->replicas[j].id);
        snprintf(what, sizeof(what), "create replication slot \"%s\"", name);
        exists = pg_exists(c, deadline, what,
                           "SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
                           name, e);
        if (exists < 0)
            goto out;
        /* Reserve WAL now: the replica's pg_basebackup streams through this slot. */
        if (!exists && pg_run(c, deadline, what,
                              "SELECT pg_catalog.pg_create_physical_replication_slot($1, true)", 1,
                              params, e) < 0)
            goto out;
    }
    if (pg_run(c, deadline, "reload the configuration", "SELECT pg_catalog.pg_reload_conf()", 0,
               NULL, e) < 0)
        goto out;
    rc = 0;
out:
    PQclear(res);
    engine_util_secret_free(verifier);
    PQfinish(c);
    return rc;
}

/* Whether this standby (session c) can follow its upstream, as PostgreSQL itself decides when
 * its WAL receiver connects: the upstream's timeline must be this one's, or a later one whose
 * history left this one at or after the point this standby's recovery reached. 0: it can (or
 * it streams from that upstream already); -1 with ENGINE_E_DIVERGED: its data has WAL the
 * upstream lacks (a replica that was ahead of the one promoted); -1 with ENGINE_E_UNAVAILABLE:
 * no verdict yet (the upstream cannot be asked, or is still a standby: promoted in a moment). */
static int pg_upstream_check(const struct engine_spec *s, PGconn *c, int64_t deadline,
                             struct err *e)
{
    const struct engine_repl *r = s->repl;
    char port[16], q[64], msg[400];
    const char *params[] = {r->upstream.host, port};
    struct buf info = BUF_INIT;
    PGresult *res = NULL;
    PGconn *up = NULL;
    const char *standby;
    int64_t tli, lsn, up_tli;
    int rc = -1, verdict;

    snprintf(port, sizeof(port), "%d", r->upstream.port);
    if (!(res = pg_query(c, deadline, "read the recovery point",
                         "SELECT coalesce((SELECT status = 'streaming' AND sender_host = $1"
                         " AND sender_port = $2::int FROM pg_catalog.pg_stat_wal_receiver), false),"
                         " greatest((SELECT timeline_id FROM pg_catalog.pg_control_checkpoint()),"
                         " (SELECT min_recovery_end_timeline FROM pg_catalog.pg_control_recovery())),"
                         " greatest(pg_catalog.pg_last_wal_replay_lsn(),"
                         " (SELECT min_recovery_end_lsn FROM pg_catalog.pg_control_recovery()))",
                         2, params, e)))
        return -1;
    if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
        rc = 0; /* streaming from this upstream: following it */
        goto out;
    }
    /* a timeline id is a positive 32-bit number */
    if (answer_int(PQgetvalue(res, 0, 1), 1, UINT32_MAX, &tli) < 0 ||
        answer_pg_lsn(PQgetvalue(res, 0, 2), &lsn) < 0) {
        err_set(e, ENGINE_E_ENGINE, "could not read the recovery point of \"%s\"", s->data_dir);
        goto out;
    }
    PQclear(res);
    res = NULL;
    /* a physical replication session to the upstream, as the WAL receiver opens */
    pg_conninfo(s, "_check", false, &info);
    buf_puts(&info, " replication=true");
    up = PQconnectdb(buf_str(&info));
    if (PQstatus(up) != CONNECTION_OK) {
        err_set(e, ENGINE_E_UNAVAILABLE, "could not ask %s:%d for its timeline: %s",
                r->upstream.host, r->upstream.port,
                pg_msg(PQerrorMessage(up), msg, sizeof(msg)));
        goto out;
    }
    standby = PQparameterStatus(up, "in_hot_standby");
    if (standby && strcmp(standby, "on") == 0) {
        err_set(e, ENGINE_E_UNAVAILABLE, "%s:%d is not promoted yet", r->upstream.host,
                r->upstream.port);
        goto out;
    }
    if (!PQsendQuery(up, "IDENTIFY_SYSTEM") ||
        !(res = pg_result(up, deadline, "ask the upstream for its timeline", false, e)))
        goto unavailable;
    /* read as 0, a malformed answer would pass for an older timeline: a false divergence */
    if (PQnfields(res) < 2 || PQntuples(res) != 1 ||
        answer_int(PQgetvalue(res, 0, 1), 1, UINT32_MAX, &up_tli) < 0) {
        err_set(e, ENGINE_E_ENGINE, "%s:%d answered a timeline that is not one", r->upstream.host,
                r->upstream.port);
        goto out;
    }
    PQclear(res);
    res = NULL;
    if (up_tli == tli) {
        rc = 0;
        goto out;
    }
    if (up_tli > tli) {
        snprintf(q, sizeof(q), "TIMELINE_HISTORY %lld", (long long)up_tli);
        if (!PQsendQuery(up, q) ||
            !(res = pg_result(up, deadline, "read the upstream's timeline history", false, e)))
            goto unavailable;
        verdict = PQnfields(res) >= 2 && PQntuples(res) == 1
                      ? answer_pg_history_diverged(PQgetvalue(res, 0, 1), tli, lsn)
                      : -1;
        if (verdict < 0) {
            err_set(e, ENGINE_E_ENGINE, "%s:%d answered a timeline history that is not one",
                    r->upstream.host, r->upstream.port);
            goto out;
        }
        if (verdict == 0) {
            rc = 0;
            goto out;
        }
    }
    err_set(e, ENGINE_E_DIVERGED,
            "cannot follow %s:%d: PostgreSQL in \"%s\" recovered timeline %lld up to %X/%X, "
            "which the upstream's timeline %lld does not contain; it needs a rewind",
            r->upstream.host, r->upstream.port, s->data_dir, (long long)tli,
            (unsigned)((uint64_t)lsn >> 32), (unsigned)lsn, (long long)up_tli);
    goto out;
unavailable:
    e->code = ENGINE_E_UNAVAILABLE; /* asking failed: no verdict */
out:
    PQclear(res);
    PQfinish(up);
    buf_free(&info);
    return rc;
}

/* The configuration (standby.signal, primary_conninfo) makes a standby follow. engine_follow()
 * rewrote the files; when the running primary_conninfo or primary_slot_name differs from the
 * rendered one, a reload applies it (PostgreSQL 13+: the WAL receiver restarts with it), else
 * nothing is done. A server that is not a standby cannot follow without a rewind or a seed;
 * one whose data forked off the upstream's timeline answers ENGINE_E_DIVERGED (see
 * pg_upstream_check()), one that cannot tell yet ENGINE_E_UNAVAILABLE after the reload. */
int pg_follow(const struct engine_spec *s, struct err *e)
{
    int64_t deadline = clock_now_ms() + PG_ADMIN_TIMEOUT_MS;
    PGconn *c = pg_connect(s, deadline, false, e);
    PGresult *res = NULL;
    struct buf conninfo = BUF_INIT;
    struct err ce;
    char slot[64];
    bool same;
    int rc = -1, checked;

    if (!c)
        goto out;
    if (!(res = pg_query(c, deadline, "check recovery",
                         "SELECT pg_catalog.pg_is_in_recovery(),"
                         " pg_catalog.current_setting('primary_conninfo'),"
                         " pg_catalog.current_setting('primary_slot_name')",
                         0, NULL, e)))
        goto out;
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        err_set(e, ENGINE_E_ENGINE,
                "cannot follow %s:%d: PostgreSQL 15 in \"%s\" is not a standby (promoted, or "
                "not seeded as a replica); it needs a rewind or a new seed",
                s->repl->upstream.host, s->repl->upstream.port, s->data_dir);
        goto out;
    }
    pg_conninfo(s, "", false, &conninfo);
    snprintf(slot, sizeof(slot), PG_SLOT_PREFIX "%lld", (long long)s->repl->member_id);
    same = strcmp(PQgetvalue(res, 0, 1), buf_str(&conninfo)) == 0 &&
           strcmp(PQgetvalue(res, 0, 2), slot) == 0;
    /* A standby whose data forked off the upstream's timeline cannot follow it: the caller
     * rewinds it. Without a verdict yet, the configuration is applied all the same and the
     * caller asks again later. */
    checked = pg_upstream_check(s, c, deadline, &ce);
    if (checked < 0 && ce.code == ENGINE_E_DIVERGED) {
        *e = ce;
        goto out;
    }
    rc = same ? 0 /* following this upstream already */
              : pg_run(c, deadline, "reload the configuration",
                       "SELECT pg_catalog.pg_reload_conf()", 0, NULL, e);
    if (rc == 0 && checked < 0) {
        *e = ce;
        rc = -1;
    }
out:
    buf_free(&conninfo);
    PQclear(res);
    PQfinish(c);
    return rc;
}

/* ---- failover ---- */

/* End recovery (idempotent: a server already out of recovery succeeds), then reload: the
 * configuration engine_promote() rendered carries the primary's synchronous settings. */
int pg_promote(const struct engine_spec *s, struct err *e)
{
    int64_t deadline = clock_now_ms() + PG_ADMIN_TIMEOUT_MS;
    PGconn *c = pg_connect(s, deadline, false, e);
    PGresult *res = NULL;
    int rc = -1;

    if (!c)
        goto out;
    if (!(res = pg_query(c, deadline, "check recovery", "SELECT pg_catalog.pg_is_in_recovery()", 0,
                         NULL, e)))
        goto out;
    if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
        PQclear(res);
        res = pg_query(c, deadline, "promote the standby",
                       "SELECT pg_catalog.pg_promote(true, " PG_PROMOTE_WAIT_S ")", 0, NULL, e);
        if (!res)
            goto out;
        if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
            err_set(e, ENGINE_E_ENGINE,
                    "could not promote the standby in \"%s\": recovery did not end within "
                    "%s s",
                    s->data_dir, PG_PROMOTE_WAIT_S);
            goto out;
        }
    }
    rc = pg_run(c, deadline, "reload the configuration", "SELECT pg_catalog.pg_reload_conf()", 0,
                NULL, e);
out:
    PQclear(res);
    PQfinish(c);
    return rc;
}

/* A step run as the OS user with the passfile and HOME of the member directory. */
static void pg_step(struct engine_seed_step *step, struct engine_strv *argv,
                    const struct engine_spec *s, const char *what)
{
    struct engine_strv env = {0};

    engine_util_strv_pushf(&env, "HOME=%s", s->data_dir);
    engine_util_strv_push(&env, "PGCONNECT_TIMEOUT=" PG_SEED_CONNECT_TIMEOUT);
    step->argv = engine_util_strv_steal(argv);
    step->env = engine_util_strv_steal(&env);
    step->stdin_stream = false;
    step->what = what;
}

/* A former primary (stopped) becomes a standby of the new primary: CHECKPOINT there (PostgreSQL
 * 15's pg_rewind takes the source's timeline from its pg_control, which a promotion updates
 * only at the next checkpoint: without it a fresh primary looks "on the same timeline" and
 * nothing is rewound), then pg_rewind from it over a plain session (crash recovery of an
 * unclean stop first, in single-user mode with our configuration file). rejoin_finish then
 * writes standby.signal. */
int pg_rejoin_plan(const struct engine_spec *s, const char *data_path, struct engine_seed_plan *out,
                   struct err *e)
{
    struct engine_strv argv = {0};
    struct buf conninfo = BUF_INIT;
    char *prog;

    (void)e;
    pg_conninfo(s, PG_REWIND_APP, true, &conninfo);
    prog = engine_util_program(s->bin_dir, PG_DEFAULT_BIN, "psql");
    engine_util_strv_push(&argv, prog);
    free(prog);
    engine_util_strv_push(&argv, "--no-psqlrc");
    engine_util_strv_push(&argv, "--quiet");
    engine_util_strv_push(&argv, "--set=ON_ERROR_STOP=1");
    engine_util_strv_pushf(&argv, "--dbname=%s", buf_str(&conninfo));
    /* NOINHERIT: pg_checkpoint's right needs SET ROLE. */
    engine_util_strv_push(&argv, "--command=SET ROLE pg_checkpoint");
    engine_util_strv_push(&argv, "--command=CHECKPOINT");
    pg_step(&out->step[0], &argv, s, "CHECKPOINT on the new primary");
    out->n = 1;

    prog = engine_util_program(s->bin_dir, PG_DEFAULT_BIN, "pg_rewind");
    engine_util_strv_push(&argv, prog);
    free(prog);
    engine_util_strv_pushf(&argv, "--target-pgdata=%s", data_path);
    engine_util_strv_pushf(&argv, "--source-server=%s", buf_str(&conninfo));
    engine_util_strv_pushf(&argv, "--config-file=%s/postgresql.conf", s->data_dir);
    pg_step(&out->step[1], &argv, s, "pg_rewind");
    out->n = 2;
    buf_free(&conninfo);
    return 0;
}

/* Column col of the first row as an integer: -1 when NULL or not one. */
static int64_t pg_int(const PGresult *res, int col)
{
    int64_t v;

    return !PQgetisnull(res, 0, col) &&
                   answer_int(PQgetvalue(res, 0, col), INT64_MIN, INT64_MAX, &v) == 0
               ? v
               : -1;
}

/* Role and writability, then the position (and a standby's link and lag), each statement
 * within the deadline and never cancelled (see pg_query_x()). */
int pg_health(const struct engine_spec *s, int timeout_ms, struct engine_health *out, struct err *e)
{
    int64_t deadline = clock_now_ms() + timeout_ms;
    PGconn *c = pg_connect(s, deadline, false, e);
    PGresult *res = NULL;
    bool standby;
    int rc = -1;

    if (!c)
        goto out;
    res = pg_query_x(c, deadline, "probe PostgreSQL",
                     "SELECT pg_catalog.pg_is_in_recovery(),"
                     " current_setting('default_transaction_read_only') = 'on'",
                     0, NULL, false, e);
    if (!res)
        goto out;
    out->alive = true;
    standby = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    out->role = standby ? ENGINE_ROLE_REPLICA : ENGINE_ROLE_PRIMARY;
    out->writable = !standby && strcmp(PQgetvalue(res, 0, 1), "f") == 0;
    PQclear(res);
    if (!standby)
        res = pg_query_x(c, deadline, "read the WAL position",
                         "SELECT pg_catalog.pg_current_wal_lsn()::text,"
                         " (pg_catalog.pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint",
                         0, NULL, false, e);
    else
        res = pg_query_x(
            c, deadline, "read the replay position",
            "WITH w AS (SELECT pg_catalog.pg_last_wal_replay_lsn() AS replay,"
            "  pg_catalog.pg_last_wal_receive_lsn() AS received,"
            "  (SELECT latest_end_lsn FROM pg_catalog.pg_stat_wal_receiver) AS sender_end,"
            "  coalesce((SELECT status = 'streaming' FROM pg_catalog.pg_stat_wal_receiver),"
            "   false) AS streaming)"
            " SELECT coalesce(replay::text, ''), (replay - '0/0'::pg_lsn)::bigint,"
            "  streaming::int,"
            "  CASE WHEN replay IS NOT NULL THEN"
            "   greatest(0, greatest(received, sender_end) - replay)::bigint END,"
            "  CASE WHEN received = replay THEN 0 ELSE extract(epoch FROM"
            "   now() - pg_catalog.pg_last_xact_replay_timestamp())::float8 END,"
            "  (greatest(received, replay) - '0/0'::pg_lsn)::bigint"
            " FROM w",
            0, NULL, false, e);
    if (!res)
        goto out;
    snprintf(out->position, sizeof(out->position), "%s", PQgetvalue(res, 0, 0));
    out->position_bytes = pg_int(res, 1);
    if (standby) {
        out->upstream_up = (int)pg_int(res, 2);
        out->lag_bytes = pg_int(res, 3);
        if (PQgetisnull(res, 0, 4) || answer_real(PQgetvalue(res, 0, 4), &out->lag_seconds) < 0)
            out->lag_seconds = -1;
        /* flushed to its disk: what synchronous_commit counted as acknowledged */
        out->received_bytes = pg_int(res, 5);
    }
    rc = 0;
out:
    PQclear(res);
    PQfinish(c);
    return rc;
}

int pg_stopped_position(const struct engine_spec *s, struct engine_health *out, struct err *e)
{
    char *prog = engine_util_program(s->bin_dir, PG_DEFAULT_BIN, "pg_controldata");
    char *data = engine_util_path(s->data_dir, "data");
    char *argv[] = {prog, "-D", data, NULL};
    char state[64], lsn[64];
    struct engine_user u;
    struct buf text = BUF_INIT;
    int status = 0, rc = -1;

    if (engine_util_user(s->os_user, &u, e) < 0 ||
        engine_util_run(&u, argv, s->data_dir, 10000, &text, &status, e) < 0)
        goto out;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        err_set(e, ENGINE_E_ENGINE, "pg_controldata failed: %s", buf_str(&text));
        goto out;
    }
    answer_field(buf_str(&text), "Database cluster state", state, sizeof(state));
    answer_field(buf_str(&text), "Latest checkpoint location", lsn, sizeof(lsn));
    if (strcmp(state, "shut down") != 0) {
        err_set(e, ENGINE_E_ENGINE,
                "the data in \"%s\" was not shut down cleanly (state \"%s\"): its last "
                "position is not known",
                data, state);
        goto out;
    }
    if (answer_pg_lsn(lsn, &out->position_bytes) < 0) {
        err_set(e, ENGINE_E_ENGINE, "pg_controldata gave no checkpoint location");
        goto out;
    }
    snprintf(out->position, sizeof(out->position), "%X/%X", (unsigned)(out->position_bytes >> 32),
             (unsigned)out->position_bytes);
    rc = 0;
out:
    buf_free(&text);
    free(prog);
    free(data);
    return rc;
}
