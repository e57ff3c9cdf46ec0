/* The engine registry and the engine_*() wrappers: validate the spec, resolve its defaults and
 * do what is common to every engine (member directory, init in data.tmp then rename, writing
 * the rendered configuration, the admin secret, reading a failed start's log), then call the
 * driver. Nothing here branches on the engine. */
#include "engines/engine.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engines/engine_util.h"
#include "lib/crypto.h"
#include "lib/fileio.h"
#include "lib/lines.h"
#include "lib/spawn.h"
#include "lib/xalloc.h"

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#define PATH_CHARS ALNUM "._/+-"
#define MAX_PATH_LEN 200
#define MAX_RUN_DIR_LEN 80 /* sun_path is 108 bytes: leave room for ".s.PGSQL.65535.lock" */
#define INIT_TIMEOUT_MS 300000
#define REMOVE_TIMEOUT_MS 300000
#define SECRET_LEN 40
#define LOG_TAIL 16384

static const struct engine_ops *const all_engines[] = {
    &engine_postgres_ops,
    &engine_mariadb_ops,
    &engine_redis_ops,
    NULL,
};

const struct engine_ops *engine_find(const char *name)
{
    if (!name)
        return NULL;
    for (int i = 0; all_engines[i]; i++)
        if (strcmp(all_engines[i]->cat->name, name) == 0)
            return all_engines[i];
    return NULL;
}

const struct engine_ops *const *engine_list(void)
{
    return all_engines;
}

void engine_files_free(struct engine_files *files)
{
    if (!files)
        return;
    for (int i = 0; i < files->n; i++)
        free(files->f[i].content);
    files->n = 0;
}

void engine_argv_free(char **argv)
{
    engine_util_strv_free(argv);
}

char *engine_log_path(const struct engine_spec *spec)
{
    return engine_util_path(spec->data_dir, "server.log");
}

/* ---- validation ---- */

/* An absolute path of safe characters with no "." or ".." component, no empty component and
 * no trailing slash: safe to put unquoted in any engine's configuration syntax. */
static bool path_ok(const char *p, size_t max)
{
    const char *c;

    if (!engine_util_charset(p, max, PATH_CHARS) || p[0] != '/' || p[1] == '\0')
        return false;
    for (c = p; *c; c++) {
        if (*c != '/')
            continue;
        if (c[1] == '/' || c[1] == '\0')
            return false;
        if (c[1] == '.' && (c[2] == '/' || c[2] == '\0'))
            return false;
        if (c[1] == '.' && c[2] == '.' && (c[3] == '/' || c[3] == '\0'))
            return false;
    }
    return true;
}

static int validate_paths(const struct engine_ops *ops, const struct engine_spec *spec,
                          struct err *e)
{
    if (!ops || !spec)
        return err_set(e, ENGINE_E_INVALID, "no engine or no spec");
    if (!path_ok(spec->data_dir, MAX_PATH_LEN))
        return err_set(e, ENGINE_E_INVALID,
                       "invalid data directory \"%s\": an absolute path of at most %d "
                       "characters [A-Za-z0-9._/+-] is needed",
                       spec->data_dir ? spec->data_dir : "", MAX_PATH_LEN);
    if (spec->run_dir && !path_ok(spec->run_dir, MAX_RUN_DIR_LEN))
        return err_set(e, ENGINE_E_INVALID,
                       "invalid socket directory \"%s\": an absolute path of at most %d "
                       "characters [A-Za-z0-9._/+-] is needed",
                       spec->run_dir, MAX_RUN_DIR_LEN);
    if (!spec->run_dir && strlen(spec->data_dir) > MAX_RUN_DIR_LEN)
        return err_set(e, ENGINE_E_INVALID,
                       "data directory \"%s\" is too long to hold Unix sockets (at most %d "
                       "characters): set a shorter socket directory",
                       spec->data_dir, MAX_RUN_DIR_LEN);
    if (spec->bin_dir && !path_ok(spec->bin_dir, MAX_PATH_LEN))
        return err_set(e, ENGINE_E_INVALID, "invalid program directory \"%s\"", spec->bin_dir);
    if (spec->os_user && (!engine_util_charset(spec->os_user, 32, ALNUM "_-") ||
                          strchr("_abcdefghijklmnopqrstuvwxyz", spec->os_user[0]) == NULL))
        return err_set(e, ENGINE_E_INVALID, "invalid OS user name \"%s\"", spec->os_user);
    return 0;
}

int engine_validate(const struct engine_ops *ops, const struct engine_spec *spec, struct err *e)
{
    unsigned char addr[sizeof(struct in6_addr)];
    const char *os_user;

    if (validate_paths(ops, spec, e) < 0)
        return -1;
    os_user = spec->os_user ? spec->os_user : ops->cat->default_os_user;
    if (!engine_util_charset(spec->instance, 64, ALNUM "._-") || !strchr(ALNUM, spec->instance[0]))
        return err_set(e, ENGINE_E_INVALID,
                       "invalid instance id \"%s\": 1 to 64 characters [A-Za-z0-9._-] starting "
                       "with a letter or digit are needed",
                       spec->instance ? spec->instance : "");
    if (!spec->listen_addr || (inet_pton(AF_INET, spec->listen_addr, addr) != 1 &&
                               inet_pton(AF_INET6, spec->listen_addr, addr) != 1))
        return err_set(e, ENGINE_E_INVALID,
                       "invalid listen address \"%s\": a numeric IP address is needed",
                       spec->listen_addr ? spec->listen_addr : "");
    if (spec->port < 1 || spec->port > 65535)
        return err_set(e, ENGINE_E_INVALID, "invalid port %d", spec->port);
    if (spec->cpu_millis < 1 || spec->disk_mb < 1)
        return err_set(e, ENGINE_E_INVALID, "invalid plan: cpu_millis and disk_mb must be >= 1");
    if (spec->memory_mb > (INT64_C(1) << 40))
        return err_set(e, ENGINE_E_INVALID, "invalid plan: memory_mb %lld is too large",
                       (long long)spec->memory_mb);
    if (catalog_check_plan(ops->cat, spec->memory_mb, e) < 0)
        return -1;
    if (!engine_util_charset(spec->username, 32, "abcdefghijklmnopqrstuvwxyz0123456789_") ||
        !strchr("abcdefghijklmnopqrstuvwxyz", spec->username[0]))
        return err_set(e, ENGINE_E_INVALID,
                       "invalid user name \"%s\": 1 to 32 characters [a-z0-9_] starting with a "
                       "letter are needed",
                       spec->username ? spec->username : "");
    if (catalog_user_reserved(ops->cat, spec->username) || strcmp(spec->username, os_user) == 0)
        return err_set(e, ENGINE_E_INVALID, "user name \"%s\" is reserved", spec->username);
    /* The verifier is not quoted in the message: it is a secret. */
    if (!spec->verifier || !ops->cat->verifier_ok(spec->verifier))
        return err_set(e, ENGINE_E_INVALID,
                       "invalid verifier for user \"%s\": not in the %s format", spec->username,
                       ops->cat->server_name);
    return 0;
}

/* The spec with its defaults filled in, as the drivers see it. */
static struct engine_spec resolve(const struct engine_ops *ops, const struct engine_spec *spec)
{
    struct engine_spec rs = *spec;

    if (!rs.os_user)
        rs.os_user = ops->cat->default_os_user;
    if (!rs.run_dir)
        rs.run_dir = rs.data_dir;
    return rs;
}

/* Validate, resolve and look up the OS user. */
static int prepare(const struct engine_ops *ops, const struct engine_spec *spec,
                   struct engine_spec *rs, struct engine_user *u, struct err *e)
{
    if (engine_validate(ops, spec, e) < 0)
        return -1;
    *rs = resolve(ops, spec);
    if (u && engine_util_user(rs->os_user, u, e) < 0)
        return -1;
    return 0;
}

/* ---- init ---- */

/* rm -rf the given paths as the OS user: a link the engine planted cannot make root delete
 * anything outside. */
static int remove_as_user(const struct engine_user *u, char **paths, int n, struct err *e)
{
    struct engine_strv sv = {0};
    struct buf out = BUF_INIT;
    char **argv = NULL, how[128];
    int status = 0, rc = -1;

    if (n == 0)
        return 0;
    engine_util_strv_push(&sv, "/bin/rm");
    engine_util_strv_push(&sv, "-rf");
    engine_util_strv_push(&sv, "--one-file-system");
    engine_util_strv_push(&sv, "--");
    for (int i = 0; i < n; i++)
        engine_util_strv_push(&sv, paths[i]);
    argv = engine_util_strv_steal(&sv);
    if (engine_util_run(u, argv, "/", REMOVE_TIMEOUT_MS, &out, &status, e) < 0)
        goto out;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        struct buf last = BUF_INIT;
        spawn_status_text(status, how, sizeof(how));
        lines_last(buf_str(&out), 3, &last);
        err_set(e, ENGINE_E_SYSTEM, "could not remove \"%s\" as user \"%s\": rm %s: %s", paths[0],
                u->os.name, how, buf_str(&last));
        buf_free(&last);
        goto out;
    }
    rc = 0;
out:
    engine_util_strv_free(argv);
    buf_free(&out);
    return rc;
}

int engine_init(const struct engine_ops *ops, const struct engine_spec *spec, struct err *e)
{
    struct engine_spec rs;
    struct engine_user u;
    char *data = NULL, *tmp = NULL;
    struct stat st;
    int fd = -1, rc = -1;

    if (prepare(ops, spec, &rs, &u, e) < 0)
        return -1;
    if (engine_util_mkdir(rs.data_dir, &u, e) < 0)
        goto out;
    if (strcmp(rs.run_dir, rs.data_dir) != 0 && engine_util_mkdir(rs.run_dir, &u, e) < 0)
        goto out;
    data = engine_util_path(rs.data_dir, "data");
    tmp = engine_util_path(rs.data_dir, "data.tmp");
    if (engine_util_is_dir(data)) {
        rc = 0; /* already initialised */
        goto out;
    }
    if (lstat(tmp, &st) == 0 && remove_as_user(&u, &tmp, 1, e) < 0)
        goto out;
    if (engine_util_mkdir(tmp, &u, e) < 0)
        goto out;
    if (ops->init && ops->init(&rs, tmp, e) < 0)
        goto out;
    /* The tools ran without fsync (initdb --no-sync): one syncfs() is much cheaper. An engine
     * with nothing to initialise has nothing to sync. */
    fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || (ops->init && syncfs(fd) < 0)) {
        err_set(e, ENGINE_E_SYSTEM, "could not sync \"%s\": %s", tmp, strerror(errno));
        goto out;
    }
    if (rename(tmp, data) < 0) {
        err_set(e, ENGINE_E_SYSTEM, "could not rename \"%s\" to \"%s\": %s", tmp, data,
                strerror(errno));
        goto out;
    }
    if (fsync(fd) < 0) {
        err_set(e, ENGINE_E_SYSTEM, "could not fsync \"%s\": %s", data, strerror(errno));
        goto out;
    }
    close(fd);
    fd = open(rs.data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        err_set(e, ENGINE_E_SYSTEM, "could not fsync \"%s\": %s", rs.data_dir, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    free(data);
    free(tmp);
    return rc;
}

/* ---- configure ---- */

/* The admin secret in DIR/admin.secret, created (root-owned, 0600) when missing. The caller
 * frees it (after wiping it). */
static char *admin_secret(const struct engine_spec *rs, struct err *e)
{
    char *path = engine_util_path(rs->data_dir, "admin.secret");
    char *secret = fileio_read(path, 256, FILEIO_NOFOLLOW, e);
    size_t n;

    if (!secret && errno == ENOENT) {
        err_clear(e);
        secret = crypto_password_new(SECRET_LEN);
        if (!secret)
            err_set(e, ENGINE_E_SYSTEM, "could not generate the admin secret");
        else if (fileio_write_atomic(path, secret, strlen(secret), 0600, FILEIO_KEEP_UID,
                                     FILEIO_KEEP_GID, FILEIO_SYNC_DIR, e) < 0) {
            explicit_bzero(secret, strlen(secret));
            free(secret);
            secret = NULL;
        }
    }
    if (secret) {
        n = strcspn(secret, "\r\n");
        secret[n] = '\0';
        if (n < 16) {
            err_set(e, ENGINE_E_SYSTEM, "the admin secret in \"%s\" is too short", path);
            explicit_bzero(secret, n);
            free(secret);
            secret = NULL;
        }
    }
    free(path);
    return secret;
}

static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

int engine_configure(const struct engine_ops *ops, const struct engine_spec *spec, struct err *e)
{
    struct engine_spec rs;
    struct engine_user u;
    struct engine_files files = {0};
    char *secret = NULL;
    int rc = -1;

    if (prepare(ops, spec, &rs, &u, e) < 0)
        return -1;
    if (engine_util_mkdir(rs.data_dir, &u, e) < 0)
        goto out;
    if (ops->admin_secret && !(secret = admin_secret(&rs, e)))
        goto out;
    if (ops->render(&rs, secret, &files, e) < 0)
        goto out;
    for (int i = 0; i < files.n; i++) {
        char *path = engine_util_path(rs.data_dir, files.f[i].name);
        int r = fileio_write_atomic(path, files.f[i].content, strlen(files.f[i].content), 0600,
                                    u.switch_user ? u.os.uid : FILEIO_KEEP_UID,
                                    u.switch_user ? u.os.gid : FILEIO_KEEP_GID, FILEIO_SYNC_DIR, e);
        free(path);
        if (r < 0)
            goto out;
    }
    rc = 0;
out:
    for (int i = 0; i < files.n; i++)
        explicit_bzero(files.f[i].content, strlen(files.f[i].content));
    engine_files_free(&files);
    free_secret(secret);
    return rc;
}

/* ---- the rest of the interface ---- */

int engine_argv(const struct engine_ops *ops, const struct engine_spec *spec, char ***argv_out,
                struct err *e)
{
    struct engine_spec rs;

    *argv_out = NULL;
    if (prepare(ops, spec, &rs, NULL, e) < 0)
        return -1;
    return ops->argv(&rs, argv_out, e);
}

int engine_probe(const struct engine_ops *ops, const struct engine_spec *spec, int timeout_ms,
                 struct err *e)
{
    struct engine_spec rs;

    if (prepare(ops, spec, &rs, NULL, e) < 0)
        return -1;
    if (timeout_ms < 1)
        timeout_ms = 1;
    return ops->probe(&rs, timeout_ms, e);
}

int engine_create_user(const struct engine_ops *ops, const struct engine_spec *spec, struct err *e)
{
    struct engine_spec rs;

    if (prepare(ops, spec, &rs, NULL, e) < 0)
        return -1;
    return ops->create_user(&rs, e);
}

int engine_apply_live(const struct engine_ops *ops, const struct engine_spec *spec,
                      bool *restart_needed, struct err *e)
{
    struct engine_spec rs;

    *restart_needed = false;
    if (engine_configure(ops, spec, e) < 0)
        return -1;
    rs = resolve(ops, spec);
    return ops->apply_live(&rs, restart_needed, e);
}

int engine_start_error(const struct engine_ops *ops, const struct engine_spec *spec, int status,
                       off_t log_from, struct err *e)
{
    char *path = engine_log_path(spec);
    char *tail = fileio_read_tail(path, log_from, LOG_TAIL);
    struct buf text = BUF_INIT;
    char how[128];

    ops->start_error(tail, &text);
    if (text.len == 0)
        lines_last(tail, 3, &text);
    if (status >= 0) {
        spawn_status_text(status, how, sizeof(how));
        err_set(e, ENGINE_E_START, "%s %s at start: %s", ops->cat->server_name, how,
                text.len ? buf_str(&text) : "no error in its log");
    } else {
        err_set(e, ENGINE_E_START, "%s did not become ready: %s", ops->cat->server_name,
                text.len ? buf_str(&text) : "no error in its log");
    }
    buf_free(&text);
    free(tail);
    free(path);
    return -1;
}

int engine_remove(const struct engine_ops *ops, const struct engine_spec *spec, struct err *e)
{
    struct engine_spec rs;
    struct engine_user u;
    struct engine_strv sv = {0};
    char **paths = NULL;
    DIR *d = NULL;
    struct dirent *de;
    int rc = -1, fd = -1;

    if (validate_paths(ops, spec, e) < 0)
        return -1;
    rs = resolve(ops, spec);
    fd = open(rs.data_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        rc = 0;
        goto out;
    }
    if (fd < 0 || !(d = fdopendir(fd))) {
        err_set(e, ENGINE_E_SYSTEM, "could not open directory \"%s\": %s", rs.data_dir,
                strerror(errno));
        goto out;
    }
    fd = -1;
    if (engine_util_user(rs.os_user, &u, e) < 0)
        goto out;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        engine_util_strv_pushf(&sv, "%s/%s", rs.data_dir, de->d_name);
    }
    paths = engine_util_strv_steal(&sv);
    {
        int n = 0;
        while (paths[n])
            n++;
        if (remove_as_user(&u, paths, n, e) < 0)
            goto out;
    }
    if (rmdir(rs.data_dir) < 0 && errno != ENOENT) {
        err_set(e, ENGINE_E_SYSTEM, "could not remove directory \"%s\": %s", rs.data_dir,
                strerror(errno));
        goto out;
    }
    /* A separate socket directory may be shared: remove it only when empty. */
    if (strcmp(rs.run_dir, rs.data_dir) != 0 && rmdir(rs.run_dir) < 0 && errno != ENOENT &&
        errno != ENOTEMPTY && errno != EEXIST) {
        err_set(e, ENGINE_E_SYSTEM, "could not remove directory \"%s\": %s", rs.run_dir,
                strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (d)
        closedir(d);
    if (fd >= 0)
        close(fd);
    engine_util_strv_free(paths);
    return rc;
}

int engine_promote(const struct engine_ops *ops, const struct engine_spec *spec, struct err *e)
{
    struct engine_spec rs;

    if (prepare(ops, spec, &rs, NULL, e) < 0)
        return -1;
    if (!ops->promote)
        return err_set(e, ENGINE_E_UNSUPPORTED,
                       "promote is not supported yet for engine \"%s\" (HA part 2)",
                       ops->cat->name);
    return ops->promote(&rs, e);
}

/* ---- replication: placeholders until the drivers implement them (HA part 1) ---- */

static int unsupported(const struct engine_ops *ops, const char *what, struct err *e)
{
    return err_set(e, ENGINE_E_UNSUPPORTED, "%s is not supported yet for engine \"%s\"", what,
                   ops->cat->name);
}

int engine_seed(const struct engine_ops *ops, const struct engine_spec *spec,
                int (*run_step)(void *ctx, const struct engine_seed_step *step, struct err *e),
                void *ctx, struct err *e)
{
    (void)spec;
    (void)run_step;
    (void)ctx;
    return unsupported(ops, "seeding a replica", e);
}

int engine_seed_source(const struct engine_ops *ops, const struct engine_spec *spec,
                       char ***argv_out, struct err *e)
{
    (void)spec;
    *argv_out = NULL;
    return unsupported(ops, "a seed source", e);
}

void engine_seed_plan_free(struct engine_seed_plan *plan)
{
    if (!plan)
        return;
    for (int i = 0; i < plan->n; i++) {
        engine_argv_free(plan->step[i].argv);
        engine_argv_free(plan->step[i].env);
    }
    plan->n = 0;
}

int engine_repl_setup(const struct engine_ops *ops, const struct engine_spec *spec, struct err *e)
{
    (void)spec;
    return unsupported(ops, "replication", e);
}

int engine_follow(const struct engine_ops *ops, const struct engine_spec *spec, struct err *e)
{
    (void)spec;
    return unsupported(ops, "follow", e);
}

int engine_health(const struct engine_ops *ops, const struct engine_spec *spec, int timeout_ms,
                  struct engine_health *out, struct err *e)
{
    (void)spec;
    (void)timeout_ms;
    memset(out, 0, sizeof(*out));
    return unsupported(ops, "a health probe", e);
}
