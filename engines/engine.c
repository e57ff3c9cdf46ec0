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
#define REPL_SECRET_CHARS ALNUM "._~+/=-"
#define REPL_SECRET_MIN 16
#define REPL_SECRET_MAX 256
#define MAX_REPLICAS 8 /* PostgreSQL: max_wal_senders 10 leaves room for one seed's two */
#define MAX_MEMBER_ID INT64_C(4294967295) /* MariaDB server_id is 32 bits, never 0 */

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

static bool addr_ok(const char *a)
{
    unsigned char addr[sizeof(struct in6_addr)];

    return a && (inet_pton(AF_INET, a, addr) == 1 || inet_pton(AF_INET6, a, addr) == 1);
}

static int validate_peer(const struct engine_peer *p, const char *what, struct err *e)
{
    if (p->id < 1 || p->id > MAX_MEMBER_ID)
        return err_set(e, ENGINE_E_INVALID, "invalid member id %lld of the %s", (long long)p->id,
                       what);
    if (!addr_ok(p->host))
        return err_set(e, ENGINE_E_INVALID,
                       "invalid address \"%s\" of the %s (member %lld): a numeric IP address is "
                       "needed",
                       p->host ? p->host : "", what, (long long)p->id);
    if (p->port < 1 || p->port > 65535)
        return err_set(e, ENGINE_E_INVALID, "invalid port %d of the %s (member %lld)", p->port,
                       what, (long long)p->id);
    return 0;
}

/* The replication part of a spec. The secret is never quoted. */
static int validate_repl(const struct engine_repl *r, struct err *e)
{
    if (r->role != ENGINE_ROLE_PRIMARY && r->role != ENGINE_ROLE_REPLICA)
        return err_set(e, ENGINE_E_INVALID, "invalid replication role %d", (int)r->role);
    if (r->member_id < 1 || r->member_id > MAX_MEMBER_ID)
        return err_set(e, ENGINE_E_INVALID, "invalid member id %lld: 1 to %lld is needed",
                       (long long)r->member_id, (long long)MAX_MEMBER_ID);
    if (!r->user || strcmp(r->user, CATALOG_REPL_USER) != 0)
        return err_set(e, ENGINE_E_INVALID, "invalid replication user \"%s\": \"%s\" is needed",
                       r->user ? r->user : "", CATALOG_REPL_USER);
    if (!engine_util_charset(r->secret, REPL_SECRET_MAX, REPL_SECRET_CHARS) ||
        strlen(r->secret) < REPL_SECRET_MIN)
        return err_set(e, ENGINE_E_INVALID,
                       "invalid replication secret: %d to %d characters [A-Za-z0-9._~+/=-] are "
                       "needed",
                       REPL_SECRET_MIN, REPL_SECRET_MAX);
    if (r->role == ENGINE_ROLE_REPLICA) {
        if (validate_peer(&r->upstream, "primary", e) < 0)
            return -1;
        if (r->upstream.id == r->member_id)
            return err_set(e, ENGINE_E_INVALID, "member %lld cannot replicate from itself",
                           (long long)r->member_id);
        return 0;
    }
    /* A primary: the replicas it serves (a replica's list is not used). */
    if (r->n_replicas < 0 || r->n_replicas > MAX_REPLICAS || (r->n_replicas > 0 && !r->replicas))
        return err_set(e, ENGINE_E_INVALID, "invalid list of replicas: 0 to %d are supported",
                       MAX_REPLICAS);
    for (int i = 0; i < r->n_replicas; i++) {
        if (validate_peer(&r->replicas[i], "replica", e) < 0)
            return -1;
        if (r->replicas[i].id == r->member_id)
            return err_set(e, ENGINE_E_INVALID, "member %lld cannot be a replica of itself",
                           (long long)r->member_id);
        for (int j = 0; j < i; j++)
            if (r->replicas[j].id == r->replicas[i].id)
                return err_set(e, ENGINE_E_INVALID, "replica %lld is listed twice",
                               (long long)r->replicas[i].id);
    }
    return 0;
}

int engine_validate(const struct engine_ops *ops, const struct engine_spec *spec, struct err *e)
{
    const char *os_user;

    if (validate_paths(ops, spec, e) < 0)
        return -1;
    os_user = spec->os_user ? spec->os_user : ops->cat->default_os_user;
    if (!engine_util_charset(spec->instance, 64, ALNUM "._-") || !strchr(ALNUM, spec->instance[0]))
        return err_set(e, ENGINE_E_INVALID,
                       "invalid instance id \"%s\": 1 to 64 characters [A-Za-z0-9._-] starting "
                       "with a letter or digit are needed",
                       spec->instance ? spec->instance : "");
    if (!addr_ok(spec->listen_addr))
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
    if (spec->repl && validate_repl(spec->repl, e) < 0)
        return -1;
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

/* The member directory and the socket directory, 0700 for the OS user. */
static int member_dirs(const struct engine_spec *rs, const struct engine_user *u, struct err *e)
{
    if (engine_util_mkdir(rs->data_dir, u, e) < 0)
        return -1;
    if (strcmp(rs->run_dir, rs->data_dir) != 0 && engine_util_mkdir(rs->run_dir, u, e) < 0)
        return -1;
    return 0;
}

/* What fills DIR/data.tmp (an empty directory owned by the OS user): the engine's init tool
 * or a replica's seed steps. */
typedef int (*fill_fn)(const struct engine_ops *ops, const struct engine_spec *rs, const char *tmp,
                       void *arg, struct err *e);

/* Unless DIR/data exists: remove leftovers of an interrupted attempt, fill DIR/data.tmp,
 * sync it (tools run without fsync: one syncfs() is much cheaper) when sync, and rename it to
 * DIR/data. */
static int build_data(const struct engine_ops *ops, const struct engine_spec *rs,
                      const struct engine_user *u, fill_fn fill, void *arg, bool sync,
                      struct err *e)
{
    char *data = engine_util_path(rs->data_dir, "data");
    char *tmp = engine_util_path(rs->data_dir, "data.tmp");
    struct stat st;
    int fd = -1, rc = -1;

    if (engine_util_is_dir(data)) {
        rc = 0; /* already there */
        goto out;
    }
    if (lstat(tmp, &st) == 0 && remove_as_user(u, &tmp, 1, e) < 0)
        goto out;
    if (engine_util_mkdir(tmp, u, e) < 0)
        goto out;
    if (fill(ops, rs, tmp, arg, e) < 0)
        goto out;
    fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || (sync && syncfs(fd) < 0)) {
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
    fd = open(rs->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        err_set(e, ENGINE_E_SYSTEM, "could not fsync \"%s\": %s", rs->data_dir, strerror(errno));
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

static int fill_init(const struct engine_ops *ops, const struct engine_spec *rs, const char *tmp,
                     void *arg, struct err *e)
{
    (void)arg;
    return ops->init ? ops->init(rs, tmp, e) : 0;
}

int engine_init(const struct engine_ops *ops, const struct engine_spec *spec, struct err *e)
{
    struct engine_spec rs;
    struct engine_user u;

    if (prepare(ops, spec, &rs, &u, e) < 0 || member_dirs(&rs, &u, e) < 0)
        return -1;
    /* An engine with nothing to initialise has nothing to sync. */
    return build_data(ops, &rs, &u, fill_init, NULL, ops->init != NULL, e);
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

/* Whether path holds exactly content (a regular file, not followed if a link). */
static bool same_content(const char *path, const char *content)
{
    char *old = fileio_read(path, strlen(content) + 1, FILEIO_NOFOLLOW, NULL);
    bool same = old && strcmp(old, content) == 0;

    if (old) {
        explicit_bzero(old, strlen(old));
        free(old);
    }
    return same;
}

/* Render and write the configuration files into the existing member directory; with
 * only_changed, files whose content is already right are left alone. */
static int write_config_x(const struct engine_ops *ops, const struct engine_spec *rs,
                          const struct engine_user *u, bool only_changed, struct err *e)
{
    struct engine_files files = {0};
    char *secret = NULL;
    int rc = -1;

    if (ops->admin_secret && !(secret = admin_secret(rs, e)))
        goto out;
    if (ops->render(rs, secret, &files, e) < 0)
        goto out;
    for (int i = 0; i < files.n; i++) {
        char *path = engine_util_path(rs->data_dir, files.f[i].name);
        int r = only_changed && same_content(path, files.f[i].content)
                    ? 0
                    : engine_util_write_file(path, files.f[i].content, u, e);
        free(path);
        if (r < 0)
            goto out;
    }
    rc = 0;
out:
    for (int i = 0; i < files.n; i++)
        explicit_bzero(files.f[i].content, strlen(files.f[i].content));
    engine_files_free(&files);
    engine_util_secret_free(secret);
    return rc;
}

static int write_config(const struct engine_ops *ops, const struct engine_spec *rs,
                        const struct engine_user *u, struct err *e)
{
    return write_config_x(ops, rs, u, false, e);
}

/* A message never carries the replication secret, whatever a driver or a tool put in it. */
static int redact(const struct engine_spec *spec, int rc, struct err *e)
{
    const char *secret = spec->repl ? spec->repl->secret : NULL;
    size_t n = secret ? strlen(secret) : 0;
    char *p;

    if (rc == 0 || !e || n == 0)
        return rc;
    /* Validated secrets are longer than the mark: the message only shrinks. */
    while ((p = strstr(e->msg, secret)) != NULL) {
        static const char mark[] = "(secret)";
        memmove(p + sizeof(mark) - 1, p + n, strlen(p + n) + 1);
        memcpy(p, mark, sizeof(mark) - 1);
    }
    return rc;
}

int engine_configure(const struct engine_ops *ops, const struct engine_spec *spec, struct err *e)
{
    struct engine_spec rs;
    struct engine_user u;

    if (prepare(ops, spec, &rs, &u, e) < 0)
        return -1;
    if (engine_util_mkdir(rs.data_dir, &u, e) < 0)
        return -1;
    return redact(spec, write_config(ops, &rs, &u, e), e);
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

/* ---- replication ---- */

/* Whether spec takes part in replication with this role. */
static bool has_role(const struct engine_spec *spec, enum engine_role role)
{
    return spec->repl && spec->repl->role == role;
}

struct seed_run {
    int (*run_step)(void *ctx, const struct engine_seed_step *step, struct err *e);
    void *ctx;
};

static int fill_seed(const struct engine_ops *ops, const struct engine_spec *rs, const char *tmp,
                     void *arg, struct err *e)
{
    struct seed_run *run = arg;
    struct engine_seed_plan plan = {0};
    int rc = -1;

    if (ops->seed_plan(rs, tmp, &plan, e) < 0)
        goto out;
    for (int i = 0; i < plan.n; i++)
        if (run->run_step(run->ctx, &plan.step[i], e) < 0) {
            if (ops->seed_error)
                ops->seed_error(rs, &plan.step[i], e);
            goto out;
        }
    if (ops->seed_finish && ops->seed_finish(rs, tmp, e) < 0)
        goto out;
    rc = 0;
out:
    engine_seed_plan_free(&plan);
    return rc;
}

int engine_seed(const struct engine_ops *ops, const struct engine_spec *spec,
                int (*run_step)(void *ctx, const struct engine_seed_step *step, struct err *e),
                void *ctx, struct err *e)
{
    struct seed_run run = {run_step, ctx};
    struct engine_spec rs;
    struct engine_user u;
    int rc;

    if (prepare(ops, spec, &rs, &u, e) < 0)
        return -1;
    if (!has_role(spec, ENGINE_ROLE_REPLICA) || !ops->seed_plan || !run_step)
        return err_set(e, ENGINE_E_INVALID,
                       "cannot seed member \"%s\": only a replica (with replication settings) "
                       "is seeded",
                       rs.data_dir);
    rc = member_dirs(&rs, &u, e);
    if (rc == 0)
        rc = write_config(ops, &rs, &u, e);
    if (rc == 0)
        rc = build_data(ops, &rs, &u, fill_seed, &run, true, e);
    return redact(spec, rc, e);
}

int engine_seed_source_unblock(const struct engine_ops *ops, const struct engine_spec *spec,
                               int *released, struct err *e)
{
    struct engine_spec rs;

    *released = 0;
    if (!ops->seed_source_unblock)
        return 0;
    if (prepare(ops, spec, &rs, NULL, e) < 0)
        return -1;
    return redact(spec, ops->seed_source_unblock(&rs, released, e), e);
}

int engine_seed_source(const struct engine_ops *ops, const struct engine_spec *spec,
                       char ***argv_out, struct err *e)
{
    struct engine_spec rs;

    *argv_out = NULL;
    if (prepare(ops, spec, &rs, NULL, e) < 0)
        return -1;
    if (!ops->seed_source)
        return err_set(e, ENGINE_E_UNSUPPORTED,
                       "engine \"%s\" has no seed source: its replicas copy the primary's data "
                       "themselves",
                       ops->cat->name);
    return redact(spec, ops->seed_source(&rs, argv_out, e), e);
}

void engine_seed_plan_free(struct engine_seed_plan *plan)
{
    if (!plan)
        return;
    for (int i = 0; i < plan->n; i++) {
        engine_argv_free(plan->step[i].argv);
        engine_argv_free(plan->step[i].env);
        plan->step[i].argv = plan->step[i].env = NULL;
    }
    plan->n = 0;
}

int engine_repl_setup(const struct engine_ops *ops, const struct engine_spec *spec, struct err *e)
{
    struct engine_spec rs;
    struct engine_user u;

    if (prepare(ops, spec, &rs, &u, e) < 0)
        return -1;
    if (!has_role(spec, ENGINE_ROLE_PRIMARY) || !ops->repl_setup)
        return 0;
    /* The replicas' list reaches the rendered files first (PostgreSQL names them in
     * synchronous_standby_names): the driver's set-up ends with a reload. */
    if (write_config_x(ops, &rs, &u, true, e) < 0)
        return redact(spec, -1, e);
    return redact(spec, ops->repl_setup(&rs, e), e);
}

int engine_follow(const struct engine_ops *ops, const struct engine_spec *spec, struct err *e)
{
    struct engine_spec rs;
    struct engine_user u;

    if (prepare(ops, spec, &rs, &u, e) < 0)
        return -1;
    if (!has_role(spec, ENGINE_ROLE_REPLICA))
        return 0;
    /* A new upstream reaches the rendered files first: the engine may read them (a reload). */
    if (write_config_x(ops, &rs, &u, true, e) < 0)
        return redact(spec, -1, e);
    if (!ops->follow)
        return 0;
    return redact(spec, ops->follow(&rs, e), e);
}

static void health_reset(struct engine_health *out)
{
    memset(out, 0, sizeof(*out));
    out->role = ENGINE_ROLE_PRIMARY;
    out->position_bytes = -1;
    out->received_bytes = -1;
    out->upstream_up = -1;
    out->lag_bytes = -1;
    out->lag_seconds = -1;
}

int engine_stopped_position(const struct engine_ops *ops, const struct engine_spec *spec,
                            struct engine_health *out, struct err *e)
{
    struct engine_spec rs;

    health_reset(out);
    if (prepare(ops, spec, &rs, NULL, e) < 0)
        return -1;
    if (!ops->stopped_position)
        return err_set(e, ENGINE_E_UNSUPPORTED,
                       "engine \"%s\" cannot tell the position of stopped data", ops->cat->name);
    return redact(spec, ops->stopped_position(&rs, out, e), e);
}

int engine_health(const struct engine_ops *ops, const struct engine_spec *spec, int timeout_ms,
                  struct engine_health *out, struct err *e)
{
    struct engine_spec rs;

    health_reset(out);
    if (prepare(ops, spec, &rs, NULL, e) < 0)
        return -1;
    if (!ops->health)
        return err_set(e, ENGINE_E_UNSUPPORTED, "engine \"%s\" has no health probe",
                       ops->cat->name);
    if (timeout_ms < 1)
        timeout_ms = 1;
    return redact(spec, ops->health(&rs, timeout_ms, out, e), e);
}

/* ---- failover ---- */

int engine_promote(const struct engine_ops *ops, const struct engine_spec *spec, struct err *e)
{
    struct engine_spec rs;
    struct engine_user u;

    if (prepare(ops, spec, &rs, &u, e) < 0)
        return -1;
    if (!has_role(spec, ENGINE_ROLE_PRIMARY))
        return err_set(e, ENGINE_E_INVALID,
                       "cannot promote member \"%s\": its replication settings must name it "
                       "the primary",
                       rs.data_dir);
    if (!ops->promote)
        return err_set(e, ENGINE_E_UNSUPPORTED, "engine \"%s\" cannot promote a replica",
                       ops->cat->name);
    /* The primary's configuration first: whatever happens next, the member never starts as a
     * replica of its old upstream again (the running engine does not read it before the op). */
    if (write_config(ops, &rs, &u, e) < 0)
        return redact(spec, -1, e);
    return redact(spec, ops->promote(&rs, e), e);
}

int engine_stop_writes(const struct engine_ops *ops, const struct engine_spec *spec, struct err *e)
{
    struct engine_spec rs;

    if (prepare(ops, spec, &rs, NULL, e) < 0)
        return -1;
    if (!ops->stop_writes)
        return err_set(e, ENGINE_E_UNSUPPORTED,
                       "engine \"%s\" cannot refuse writes while running: stop it instead",
                       ops->cat->name);
    return redact(spec, ops->stop_writes(&rs, e), e);
}

int engine_rejoin(const struct engine_ops *ops, const struct engine_spec *spec,
                  int (*run_step)(void *ctx, const struct engine_seed_step *step, struct err *e),
                  void *ctx, struct err *e)
{
    struct engine_seed_plan plan = {0};
    struct engine_spec rs;
    struct engine_user u;
    char *data = NULL;
    int rc = -1;

    if (prepare(ops, spec, &rs, &u, e) < 0)
        return -1;
    if (!has_role(spec, ENGINE_ROLE_REPLICA) || !run_step)
        return err_set(e, ENGINE_E_INVALID,
                       "cannot rejoin member \"%s\": only a replica (with replication settings) "
                       "rejoins",
                       rs.data_dir);
    if (!ops->rejoin_plan)
        return 0;
    /* the steps read the replication secret's file: the configuration first */
    if (write_config(ops, &rs, &u, e) < 0)
        return redact(spec, -1, e);
    data = xasprintf("%s/data", rs.data_dir);
    if (ops->rejoin_plan(&rs, data, &plan, e) < 0)
        goto out;
    for (int i = 0; i < plan.n; i++)
        if (run_step(ctx, &plan.step[i], e) < 0)
            goto out;
    if (ops->rejoin_finish && ops->rejoin_finish(&rs, data, e) < 0)
        goto out;
    rc = 0;
out:
    engine_seed_plan_free(&plan);
    free(data);
    return redact(spec, rc, e);
}
