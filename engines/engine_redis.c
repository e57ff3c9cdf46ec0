/* Redis 7 driver: no init, a redis.conf sized from the plan with AOF persistence, users in an
 * ACL file (default user off, the agent's admin user, the tenant from its SHA-256), and the
 * admin path over the Unix socket as ACL user "dbaas-admin".
 *
 * NOTES
 * - Files in the member directory: redis.conf, users.acl (Redis rewrites it on ACL SAVE) and
 *   admin.secret (root-owned, 0600: the admin user's password, made by engine_configure()).
 *   The socket is RUN/redis.<port>.sock (mode 0700).
 * - The tenant gets every command except the @admin category (CONFIG, ACL SETUSER, SHUTDOWN,
 *   DEBUG, MODULE, REPLICAOF, SAVE, CLIENT KILL/PAUSE/UNPAUSE, ...), MIGRATE (it connects to
 *   any host and port: a request forgery from the engine's host) and RESTORE-ASKING (cluster
 *   only): it cannot lock the agent out, reach the network or the engine user's files, touch
 *   other sessions or change replication. RESTORE stays (DUMP/RESTORE tools need it): with
 *   sanitize-dump-payload clients, the server checks every payload a client sends in full,
 *   so a corrupt one is refused instead of crashing the server later. maxmemory-policy is
 *   noeviction: a database, not a cache.
 * - Replication (spec->repl): every member has the ACL user CATALOG_REPL_USER with the
 *   secret's SHA-256 and exactly what a replica sends (+psync +replconf +ping); redis.conf
 *   includes repl-auth.conf (0600: masteruser, masterauth), so that the server's own
 *   configuration carries the password and no command line does. A replica renders replicaof
 *   and replica-read-only and syncs by itself at start: no seed steps, no seed source; follow
 *   only acts when the running server follows another upstream (REPLICAOF over the admin
 *   path; it also sets the link's credentials live). ACLs do not replicate: create_user runs on
 *   replicas too. */
#include "engines/engine.h"

#include <hiredis.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "engines/answers.h"
#include "engines/engine_util.h"
#include "lib/clock.h"
#include "lib/crypto.h"
#include "lib/fileio.h"
#include "lib/lines.h"
#include "lib/xalloc.h"

#define RD_DEFAULT_BIN "/usr/bin"
#define RD_ADMIN_USER "dbaas-admin"
#define RD_ADMIN_TIMEOUT_MS 30000
/* See the NOTES; docs/engines.md lists what each category holds in Redis 7.0. */
#define RD_TENANT_RULES "~* &* +@all -@admin -migrate -restore-asking"
#define RD_REPL_RULES "resetchannels -@all +psync +replconf +ping"
#define RD_REPL_AUTH_FILE "repl-auth.conf"
#define RD_SYNC_MAX_LAG "1" /* seconds: min-replicas-max-lag in sync mode */
/* CLIENT PAUSE WRITE of stop_writes, in ms: a year; promote and follow end it */
#define RD_PAUSE_MS "31536000000"

/* ---- sizing (see docs/engines.md) ---- */

static int64_t rd_maxmemory_bytes(const struct engine_spec *s)
{
    return s->memory_mb * 1024 * 1024 / 4 * 3;
}

static char *rd_socket(const struct engine_spec *s)
{
    return xasprintf("%s/redis.%d.sock", s->run_dir, s->port);
}

/* ---- render, argv ---- */

/* The replication user on every member, the password for a replica's link in its own file, and
 * a replica's upstream. */
static void rd_render_repl(const struct engine_spec *s, struct buf *conf, struct buf *acl,
                           struct engine_file *auth)
{
    const struct engine_repl *r = s->repl;
    char hash[65];

    crypto_sha256_hex(r->secret, strlen(r->secret), hash);
    buf_printf(acl, "user %s on #%s " RD_REPL_RULES "\n", r->user, hash);
    explicit_bzero(hash, sizeof(hash));
    buf_printf(conf,
               "\n# Replication (HA), member %lld, %s; the link's credentials are in\n"
               "# " RD_REPL_AUTH_FILE ". A dead link is noticed within repl-timeout.\n"
               "repl-timeout 10\n"
               "repl-ping-replica-period 2\n",
               (long long)r->member_id, r->role == ENGINE_ROLE_PRIMARY ? "a primary" : "a replica");
    if (r->role == ENGINE_ROLE_REPLICA)
        buf_printf(conf,
                   "replicaof %s %d\n"
                   "replica-read-only yes\n"
                   "replica-serve-stale-data yes\n",
                   r->upstream.host, r->upstream.port);
    /* Every role: a replica ignores it, a promoted one has it already. */
    buf_printf(conf,
               "# Sync: a primary refuses writes (NOREPLICAS) unless a replica acknowledged\n"
               "# the stream within the last second; clients use WAIT for their own writes\n"
               "min-replicas-to-write %d\n"
               "min-replicas-max-lag " RD_SYNC_MAX_LAG "\n",
               r->sync ? 1 : 0);
    buf_printf(conf, "include %s/" RD_REPL_AUTH_FILE "\n", s->data_dir);
    auth->name = RD_REPL_AUTH_FILE;
    auth->content = xasprintf("masteruser %s\nmasterauth %s\n", r->user, r->secret);
}

static int rd_render(const struct engine_spec *s, const char *admin_secret,
                     struct engine_files *out, struct err *e)
{
    struct buf conf = BUF_INIT, acl = BUF_INIT;
    char *sock = rd_socket(s), admin_hash[65];

    if (!admin_secret || !*admin_secret) {
        free(sock);
        return err_set(e, ENGINE_E_INVALID, "no admin secret for Redis");
    }
    crypto_sha256_hex(admin_secret, strlen(admin_secret), admin_hash);
    buf_printf(&conf,
               "# Redis 7 settings of instance %s, written by the dbaas agent: every configure\n"
               "# rewrites this file (edits here are lost). Plan: %lld millicores, %lld MB\n"
               "# memory, %lld MB disk.\n\n"
               "bind %s\n"
               "port %d\n"
               "protected-mode yes\n"
               "unixsocket %s\n"
               "unixsocketperm 700\n"
               "daemonize no\n"
               "supervised no\n"
               "loglevel notice\n"
               "logfile \"\"\n"
               "always-show-logo no\n"
               "dir %s/data\n"
               "aclfile %s/users.acl\n"
               "enable-debug-command no\n"
               "enable-module-command no\n"
               "enable-protected-configs no\n"
               "# Check in full every DUMP payload that a client RESTOREs; RDB and AOF\n"
               "# files are the server's own and load without the cost (2 to 3 times slower)\n"
               "sanitize-dump-payload clients\n\n",
               s->instance, (long long)s->cpu_millis, (long long)s->memory_mb,
               (long long)s->disk_mb, s->listen_addr, s->port, sock, s->data_dir, s->data_dir);
    buf_printf(&conf,
               "# Sized from the plan\n"
               "maxmemory %lld\n"
               "maxmemory-policy noeviction\n\n"
               "# Persistence: append-only file, fsync every second; no RDB snapshots\n"
               "appendonly yes\n"
               "appendfsync everysec\n"
               "save \"\"\n\n"
               "# Replication (replicas follow with REPLICAOF)\n"
               "repl-diskless-sync yes\n"
               "repl-diskless-sync-delay 0\n",
               (long long)rd_maxmemory_bytes(s));
    buf_printf(&acl,
               "user default off resetkeys resetchannels -@all\n"
               "user " RD_ADMIN_USER " on #%s ~* &* +@all\n"
               "user %s on #%s " RD_TENANT_RULES "\n",
               admin_hash, s->username, s->verifier);
    explicit_bzero(admin_hash, sizeof(admin_hash));
    free(sock);
    out->n = 2;
    if (s->repl)
        rd_render_repl(s, &conf, &acl, &out->f[out->n++]);
    out->f[0].name = "redis.conf";
    out->f[0].content = buf_steal(&conf);
    out->f[1].name = "users.acl";
    out->f[1].content = buf_steal(&acl);
    return 0;
}

static int rd_argv(const struct engine_spec *s, char ***argv_out, struct err *e)
{
    struct engine_strv sv = {0};
    char *prog = engine_util_program(s->bin_dir, RD_DEFAULT_BIN, catalog_redis.server_program);

    (void)e;
    engine_util_strv_push(&sv, prog);
    free(prog);
    engine_util_strv_pushf(&sv, "%s/redis.conf", s->data_dir);
    *argv_out = engine_util_strv_steal(&sv);
    return 0;
}

/* ---- admin sessions ---- */

/* Run a command given as an argument vector (never formatted into a command line). Returns the
 * reply (the caller frees it with freeReplyObject) or NULL with e set; an error reply is an
 * error. */
static redisReply *rd_cmd(redisContext *c, const char *what, int argc, const char **argv,
                          struct err *e)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);

    if (!r) {
        err_set(e, ENGINE_E_UNAVAILABLE, "could not %s: %s", what,
                c->errstr[0] ? c->errstr : "connection lost");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        err_set(e, ENGINE_E_ENGINE, "could not %s: %s", what, r->str ? r->str : "error");
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* The time left before deadline as a timeout (at least 1 ms); false when it passed. */
static bool rd_left(int64_t deadline, struct timeval *tv)
{
    int64_t left = deadline - clock_now_ms();

    if (left <= 0)
        return false;
    tv->tv_sec = left / 1000;
    tv->tv_usec = (left % 1000) * 1000;
    return true;
}

/* rd_cmd() that returns before deadline: ENGINE_E_UNAVAILABLE when it passed. */
static redisReply *rd_cmd_by(redisContext *c, int64_t deadline, const char *what, int argc,
                             const char **argv, struct err *e)
{
    struct timeval tv;

    if (!rd_left(deadline, &tv) || redisSetTimeout(c, tv) != REDIS_OK) {
        err_set(e, ENGINE_E_UNAVAILABLE, "could not %s: timed out", what);
        return NULL;
    }
    return rd_cmd(c, what, argc, argv, e);
}

/* An authenticated admin session over the Unix socket, before timeout_ms. The caller frees
 * it. */
static redisContext *rd_connect(const struct engine_spec *s, int timeout_ms, struct err *e)
{
    int64_t deadline = clock_now_ms() + timeout_ms;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    char *sock = rd_socket(s), *path = engine_util_path(s->data_dir, "admin.secret");
    char *secret = NULL;
    redisContext *c = NULL;
    redisReply *r;

    secret = engine_util_read_secret(path, e);
    if (!secret)
        goto out;
    c = redisConnectUnixWithTimeout(sock, tv);
    if (!c || c->err) {
        err_set(e, ENGINE_E_UNAVAILABLE, "could not connect to Redis 7 on \"%s\": %s", sock,
                c ? c->errstr : "out of memory");
        goto fail;
    }
    {
        const char *argv[] = {"AUTH", RD_ADMIN_USER, secret};
        r = rd_cmd_by(c, deadline, "authenticate as \"" RD_ADMIN_USER "\"", 3, argv, e);
    }
    if (!r)
        goto fail;
    freeReplyObject(r);
    goto out;
fail:
    if (c)
        redisFree(c);
    c = NULL;
out:
    engine_util_secret_free(secret);
    free(path);
    free(sock);
    return c;
}

static int rd_probe(const struct engine_spec *s, int timeout_ms, struct err *e)
{
    redisContext *c = rd_connect(s, timeout_ms, e);
    const char *argv[] = {"PING"};
    redisReply *r;

    if (!c)
        return -1;
    /* PING answers -LOADING while the AOF is being loaded: not ready yet. */
    r = rd_cmd(c, "probe Redis", 1, argv, e);
    if (!r && e && e->code == ENGINE_E_ENGINE && strstr(e->msg, "LOADING"))
        e->code = ENGINE_E_UNAVAILABLE;
    freeReplyObject(r);
    redisFree(c);
    return r ? 0 : -1;
}

/* ACL SETUSER user reset on #<hash> <rules>, then ACL SAVE (which writes users.acl). rules is
 * the text users.acl holds (RD_TENANT_RULES, RD_REPL_RULES), one argument per word. Because
 * of "reset", a repeat is a no-op and a new hash replaces the old one. */
static int rd_set_acl_user(redisContext *c, const char *user, const char *sha256, const char *rules,
                           struct err *e)
{
    const char *argv[16] = {"ACL", "SETUSER", user, "reset", "on"};
    char *hash = xasprintf("#%s", sha256), *words = xstrdup(rules), *save = NULL, what[128];
    redisReply *r = NULL;
    int argc = 5, rc = -1;

    argv[argc++] = hash;
    for (char *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (argc == 16) {
            err_set(e, ENGINE_E_SYSTEM, "could not set ACL user \"%s\": too many rules", user);
            goto out;
        }
        argv[argc++] = w;
    }
    snprintf(what, sizeof(what), "set ACL user \"%s\"", user);
    if (!(r = rd_cmd(c, what, argc, argv, e)))
        goto out;
    freeReplyObject(r);
    argv[1] = "SAVE";
    if (!(r = rd_cmd(c, "save the ACL file", 2, argv, e)))
        goto out;
    freeReplyObject(r);
    rc = 0;
out:
    engine_util_secret_free(hash);
    free(words);
    return rc;
}

static int rd_create_user(const struct engine_spec *s, struct err *e)
{
    redisContext *c = rd_connect(s, RD_ADMIN_TIMEOUT_MS, e);
    int rc;

    if (!c)
        return -1;
    rc = rd_set_acl_user(c, s->username, s->verifier, RD_TENANT_RULES, e);
    redisFree(c);
    return rc;
}

/* Run one admin command whose reply is not needed: 0 / -1. */
static int rd_run(redisContext *c, int64_t deadline, const char *what, int argc, const char **argv,
                  struct err *e)
{
    redisReply *r = rd_cmd_by(c, deadline, what, argc, argv, e);

    freeReplyObject(r);
    return r ? 0 : -1;
}

/* The sync settings of spec->repl, live (what redis.conf says at the next start). */
static int rd_sync_live(redisContext *c, const struct engine_spec *s, struct err *e)
{
    const char *argv[] = {"CONFIG",
                          "SET",
                          "min-replicas-to-write",
                          s->repl->sync ? "1" : "0",
                          "min-replicas-max-lag",
                          RD_SYNC_MAX_LAG};

    return rd_run(c, clock_now_ms() + RD_ADMIN_TIMEOUT_MS, "set the sync settings", 6, argv, e);
}

static int rd_apply_live(const struct engine_spec *s, bool *restart_needed, struct err *e)
{
    redisContext *c = rd_connect(s, RD_ADMIN_TIMEOUT_MS, e);
    char bytes[32];
    redisReply *r;

    *restart_needed = false;
    if (!c)
        return -1;
    snprintf(bytes, sizeof(bytes), "%lld", (long long)rd_maxmemory_bytes(s));
    {
        const char *argv[] = {"CONFIG", "SET", "maxmemory", bytes};
        r = rd_cmd(c, "set maxmemory", 4, argv, e);
    }
    freeReplyObject(r);
    if (r && s->repl && rd_sync_live(c, s, e) < 0)
        r = NULL;
    redisFree(c);
    return r ? 0 : -1;
}

/* ---- replication ---- */

/* Redis replicas need no copy: a replica loads the primary's data at its first sync. */
static int rd_seed_plan(const struct engine_spec *s, const char *data_path,
                        struct engine_seed_plan *out, struct err *e)
{
    (void)s;
    (void)data_path;
    (void)e;
    out->n = 0;
    return 0;
}

/* The replication user, for a primary that runs already (a new secret, HA turned on). */
static int rd_repl_setup(const struct engine_spec *s, struct err *e)
{
    redisContext *c = rd_connect(s, RD_ADMIN_TIMEOUT_MS, e);
    char digest[65];
    int rc;

    if (!c)
        return -1;
    crypto_sha256_hex(s->repl->secret, strlen(s->repl->secret), digest);
    rc = rd_set_acl_user(c, s->repl->user, digest, RD_REPL_RULES, e);
    explicit_bzero(digest, sizeof(digest));
    if (rc == 0)
        rc = rd_sync_live(c, s, e);
    redisFree(c);
    return rc;
}

/* INFO replication over a session, before deadline: the reply (the caller frees it). */
static redisReply *rd_info_replication(redisContext *c, int64_t deadline, struct err *e)
{
    const char *argv[] = {"INFO", "replication"};
    redisReply *r = rd_cmd_by(c, deadline, "read the replication status", 2, argv, e);

    if (r && r->type != REDIS_REPLY_STRING) {
        err_set(e, ENGINE_E_ENGINE, "could not read the replication status: unexpected reply");
        freeReplyObject(r);
        r = NULL;
    }
    return r;
}

/* The configuration makes a replica follow at start. The link's credentials are set live every
 * time (a new secret takes effect at the next reconnection; no resync), and a running server
 * that follows another upstream, or none, is pointed at this one. */
static int rd_follow(const struct engine_spec *s, struct err *e)
{
    const struct engine_repl *rp = s->repl;
    int64_t deadline = clock_now_ms() + RD_ADMIN_TIMEOUT_MS;
    redisContext *c = rd_connect(s, RD_ADMIN_TIMEOUT_MS, e);
    redisReply *r = NULL;
    char role[16], host[64], port[16], what[128];
    int rc = -1;

    if (!c)
        return -1;
    snprintf(what, sizeof(what), "follow %s:%d", rp->upstream.host, rp->upstream.port);
    {
        const char *argv[] = {"CONFIG", "SET", "masteruser", rp->user, "masterauth", rp->secret};
        if (!(r = rd_cmd_by(c, deadline, what, 6, argv, e)))
            goto out;
        freeReplyObject(r);
    }
    if (!(r = rd_info_replication(c, deadline, e)))
        goto out;
    answer_field(r->str, "role", role, sizeof(role));
    answer_field(r->str, "master_host", host, sizeof(host));
    answer_field(r->str, "master_port", port, sizeof(port));
    freeReplyObject(r);
    if (strcmp(role, "slave") != 0 || strcmp(host, rp->upstream.host) != 0 ||
        atoi(port) != rp->upstream.port) {
        const char *argv[] = {"REPLICAOF", rp->upstream.host, port};

        snprintf(port, sizeof(port), "%d", rp->upstream.port); /* what argv[2] points to */
        if (!(r = rd_cmd_by(c, deadline, what, 3, argv, e)))
            goto out;
        freeReplyObject(r);
    }
    {
        /* A former primary fenced by stop_writes: a replica refuses the tenant anyway. */
        const char *argv[] = {"CLIENT", "UNPAUSE"};
        if (rd_run(c, deadline, what, 2, argv, e) < 0 || rd_sync_live(c, s, e) < 0)
            goto out;
    }
    rc = 0;
out:
    redisFree(c);
    return rc;
}

static int rd_health(const struct engine_spec *s, int timeout_ms, struct engine_health *out,
                     struct err *e)
{
    int64_t deadline = clock_now_ms() + timeout_ms, done, got;
    redisContext *c = rd_connect(s, timeout_ms, e);
    redisReply *r = NULL;
    char v[32];
    int rc = -1;

    if (!c) {
        if (e && e->code == LIB_E_NOENT) /* no admin secret: never configured, not up */
            e->code = ENGINE_E_UNAVAILABLE;
        return -1;
    }
    if (!(r = rd_info_replication(c, deadline, e)))
        goto out;
    out->alive = true;
    answer_field(r->str, "role", v, sizeof(v));
    if (strcmp(v, "slave") != 0) {
        out->role = ENGINE_ROLE_PRIMARY;
        out->writable = true;
        out->position_bytes = answer_field_int(r->str, "master_repl_offset");
    } else {
        out->role = ENGINE_ROLE_REPLICA;
        out->writable = answer_field_int(r->str, "slave_read_only") == 0;
        done = answer_field_int(r->str, "slave_repl_offset");
        got = answer_field_int(r->str, "slave_read_repl_offset");
        out->position_bytes = done;
        answer_field(r->str, "master_link_status", v, sizeof(v));
        out->upstream_up = strcmp(v, "up") == 0;
        if (done >= 0 && got >= done)
            out->lag_bytes = got - done;
    }
    if (out->position_bytes >= 0)
        snprintf(out->position, sizeof(out->position), "%lld", (long long)out->position_bytes);
    rc = 0;
out:
    freeReplyObject(r);
    redisFree(c);
    return rc;
}

/* ---- failover ---- */

/* Stop replicating and take writes (REPLICAOF NO ONE keeps the data and the replication
 * history, so the other replicas continue partially), with the primary's sync settings and
 * any stop_writes pause ended. Idempotent. */
static int rd_promote(const struct engine_spec *s, struct err *e)
{
    int64_t deadline = clock_now_ms() + RD_ADMIN_TIMEOUT_MS;
    redisContext *c = rd_connect(s, RD_ADMIN_TIMEOUT_MS, e);
    const char *noone[] = {"REPLICAOF", "NO", "ONE"}, *unpause[] = {"CLIENT", "UNPAUSE"};
    int rc = -1;

    if (!c)
        return -1;
    if (rd_sync_live(c, s, e) < 0 || rd_run(c, deadline, "promote the replica", 3, noone, e) < 0 ||
        rd_run(c, deadline, "promote the replica", 2, unpause, e) < 0)
        goto out;
    rc = 0;
out:
    redisFree(c);
    return rc;
}

/* Switchover: every client's write commands wait (CLIENT PAUSE WRITE, for a year) and are
 * never answered while the pause lasts: nothing new is acknowledged, expiry and eviction stop
 * too, so the replication offset stands still and the replicas catch up with it. Reads go on.
 * The pause ends with the process, a promotion (CLIENT UNPAUSE) or follow. */
static int rd_stop_writes(const struct engine_spec *s, struct err *e)
{
    redisContext *c = rd_connect(s, RD_ADMIN_TIMEOUT_MS, e);
    const char *argv[] = {"CLIENT", "PAUSE", RD_PAUSE_MS, "WRITE"};
    int rc;

    if (!c)
        return -1;
    rc = rd_run(c, clock_now_ms() + RD_ADMIN_TIMEOUT_MS, "pause the writes", 4, argv, e);
    redisFree(c);
    return rc;
}

/* ---- start errors ---- */

/* Log lines look like "PID:R DD Mon YYYY HH:MM:SS.mmm # message": '#' marks a warning. */
static bool rd_warning_line(const char *line)
{
    /* Redis logs its start banner at the warning level too. */
    return strstr(line, " # ") != NULL && !strstr(line, "oO0OoO0OoO0Oo") &&
           !strstr(line, "Redis version=") && !strstr(line, "Configuration loaded");
}

static size_t rd_warning_skip(const char *line)
{
    const char *p = strstr(line, " # ");

    return p ? (size_t)(p - line) + 3 : 0;
}

static bool rd_any_line(const char *line)
{
    return line[strspn(line, " ")] != '\0';
}

/* A configuration error is printed after a banner, without the log prefix. */
static void rd_start_error(const char *output, struct buf *out)
{
    const char *banner = strstr(output, "*** FATAL CONFIG FILE ERROR");
    const char *rest = banner ? strchr(banner, '\n') : NULL;

    if (rest)
        lines_pick(rest + 1, rd_any_line, NULL, 3, out);
    else
        lines_pick(output, rd_warning_line, rd_warning_skip, 4, out);
}

const struct engine_ops engine_redis_ops = {
    .cat = &catalog_redis,
    .stop_signal = SIGTERM,
    .admin_secret = true,
    .init = NULL, /* nothing to create: the server makes its files in DIR/data */
    .render = rd_render,
    .argv = rd_argv,
    .probe = rd_probe,
    .create_user = rd_create_user,
    .apply_live = rd_apply_live,
    .start_error = rd_start_error,
    .seed_plan = rd_seed_plan,
    .seed_source = NULL, /* replicas load the primary's data at their first sync */
    .seed_finish = NULL,
    .seed_error = NULL,
    .repl_setup = rd_repl_setup,
    .follow = rd_follow,
    .health = rd_health,
    .promote = rd_promote,
    .stop_writes = rd_stop_writes,
    .rejoin_plan = NULL, /* a former primary's REPLICAOF resyncs (fully when it diverged) */
    .rejoin_finish = NULL,
};
