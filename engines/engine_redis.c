/* Redis 7 driver: no init, a redis.conf sized from the plan with AOF persistence, users in an
 * ACL file (default user off, the agent's admin user, the tenant from its SHA-256), and the
 * admin path over the Unix socket as ACL user "dbaas-admin".
 *
 * NOTES
 * - Files in the member directory: redis.conf, users.acl (Redis rewrites it on ACL SAVE) and
 *   admin.secret (root-owned, 0600: the admin user's password, made by engine_configure()).
 *   The socket is RUN/redis.<port>.sock (mode 0700).
 * - The tenant gets every command except the @admin category (CONFIG, ACL SETUSER, SHUTDOWN,
 *   DEBUG, MODULE, REPLICAOF, SAVE, ...): it cannot lock the agent out, write files as the
 *   engine user or change replication. maxmemory-policy is noeviction: a database, not a
 *   cache. */
#include "engines/engine.h"

#include <hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "engines/engine_util.h"
#include "lib/crypto.h"
#include "lib/fileio.h"
#include "lib/lines.h"
#include "lib/xalloc.h"

#define RD_DEFAULT_BIN "/usr/bin"
#define RD_ADMIN_USER "dbaas-admin"
#define RD_ADMIN_TIMEOUT_MS 30000
#define RD_TENANT_RULES "~* &* +@all -@admin"

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
               "enable-protected-configs no\n\n",
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

/* An authenticated admin session over the Unix socket. The caller frees it. */
static redisContext *rd_connect(const struct engine_spec *s, int timeout_ms, struct err *e)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    char *sock = rd_socket(s), *path = engine_util_path(s->data_dir, "admin.secret");
    char *secret = NULL;
    redisContext *c = NULL;
    redisReply *r;

    secret = fileio_read(path, 256, FILEIO_NOFOLLOW, e);
    if (!secret)
        goto out;
    secret[strcspn(secret, "\r\n")] = '\0';
    c = redisConnectUnixWithTimeout(sock, tv);
    if (!c || c->err) {
        err_set(e, ENGINE_E_UNAVAILABLE, "could not connect to Redis 7 on \"%s\": %s", sock,
                c ? c->errstr : "out of memory");
        goto fail;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        err_set(e, ENGINE_E_SYSTEM, "could not set the Redis timeout: %s", c->errstr);
        goto fail;
    }
    {
        const char *argv[] = {"AUTH", RD_ADMIN_USER, secret};
        r = rd_cmd(c, "authenticate as \"" RD_ADMIN_USER "\"", 3, argv, e);
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
    if (secret) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
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

/* ACL SETUSER with "reset" replaces the user's rules and passwords, so a repeat with the same
 * verifier is a no-op and a new verifier replaces the old one; ACL SAVE writes users.acl. */
static int rd_create_user(const struct engine_spec *s, struct err *e)
{
    redisContext *c = rd_connect(s, RD_ADMIN_TIMEOUT_MS, e);
    char *hash = NULL, what[128];
    redisReply *r = NULL;
    int rc = -1;

    if (!c)
        return -1;
    hash = xasprintf("#%s", s->verifier);
    {
        const char *argv[] = {"ACL", "SETUSER", s->username, "reset", "on",
                              hash,  "~*",      "&*",        "+@all", "-@admin"};
        snprintf(what, sizeof(what), "set ACL user \"%s\"", s->username);
        if (!(r = rd_cmd(c, what, (int)(sizeof(argv) / sizeof(argv[0])), argv, e)))
            goto out;
        freeReplyObject(r);
    }
    {
        const char *argv[] = {"ACL", "SAVE"};
        if (!(r = rd_cmd(c, "save the ACL file", 2, argv, e)))
            goto out;
        freeReplyObject(r);
    }
    rc = 0;
out:
    explicit_bzero(hash, strlen(hash));
    free(hash);
    redisFree(c);
    return rc;
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
    redisFree(c);
    return r ? 0 : -1;
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
    .promote = NULL, /* HA issue */
    .follow = NULL,  /* HA issue */
};
