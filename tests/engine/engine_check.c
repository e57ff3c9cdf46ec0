/* engine_check: drive one engine driver end to end, as root, for tests/integration/test_engines.py.
 * It does what the agent will do for one member (init, configure, exec the server as the
 * engine's OS user, wait for the probe, create the tenant's user) with a plain fork/setsid/setuid
 * instead of isolation/, and leaves the server running so that the test can connect with the
 * engine's real client.
 *
 *   engine_check min ENGINE                       print the engine's minimum memory (MB)
 *   engine_check start ENGINE DIR PORT [MEMORY]   password on stdin; prints "pid=N ..." timings
 *   engine_check resize ENGINE DIR PORT MEMORY    password on stdin; prints "restart_needed=0|1"
 *   engine_check user ENGINE DIR PORT             password on stdin: create or update "app"
 *   engine_check stop ENGINE DIR PID              stop signal, wait (deadline), then SIGKILL
 *   engine_check remove ENGINE DIR                engine_remove(): delete the member directory
 *   engine_check repl ENGINE TOP PORT1 PORT2 [MEMORY]
 *                       a primary (member 1, TOP/m1, PORT1) and a replica (member 2, TOP/m2,
 *                       PORT2), both left running; tenant password then replication secret
 *                       on stdin (two lines); prints key=value lines (see cmd_repl())
 *   engine_check health ENGINE DIR PORT TIMEOUT_MS
 *                       one engine_health() probe: "alive=1 role=... elapsed_ms=N"
 *   engine_check repl-setup ENGINE DIR PORT MEMBER_ID [REPLICA_ID:PORT ...]
 *                       engine_repl_setup() on a running primary (secret on stdin)
 *   engine_check failover ENGINE TOP PORT1 PORT2 clean|diverge|diverge-far
 *                       a pair as for repl, then a switchover (clean) or a crash of the
 *                       primary after a write the replica missed (diverge): the replica is
 *                       promoted and the old primary rejoins as its replica; diverge-far:
 *                       the new primary also moves past the old one's position (see
 *                       cmd_failover()); password and secret on stdin; stops both servers
 *   engine_check sync ENGINE TOP PORT1 PORT2
 *                       a pair switched to synchronous replication live: writes with and
 *                       without the replica (see cmd_sync()); stops both servers
 *
 * The tenant is "app" on 127.0.0.1:PORT; DIR is the member directory (its parent must exist
 * and be traversable by the engine's OS user). Exit status: 0 ok, 1 failure, 2 usage,
 * 3 plan too small (the message names the minimum). Errors go to stderr as
 * "engine_check: <message>"; the password and the replication secret are never printed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engines/engine.h"
#include "engines/engine_util.h"
#include "lib/clock.h"
#include "lib/crypto.h"
#include "lib/proc.h"
#include "lib/spawn.h"
#include "lib/xalloc.h"
#include "tests/engine/tenant.h"

#define START_DEADLINE_MS 60000
#define STOP_DEADLINE_MS 60000
#define PROBE_TIMEOUT_MS 1000
#define DEFAULT_MEMORY_MB 256
#define SEED_TIMEOUT_MS 600000
#define REPLICATE_DEADLINE_MS 30000
#define HEALTH_TIMEOUT_MS 2000

static int usage(void)
{
    fprintf(stderr,
            "usage: engine_check min ENGINE\n"
            "       engine_check start ENGINE DIR PORT [MEMORY_MB]   (password on stdin)\n"
            "       engine_check resize ENGINE DIR PORT MEMORY_MB    (password on stdin)\n"
            "       engine_check user ENGINE DIR PORT                (password on stdin)\n"
            "       engine_check stop ENGINE DIR PID\n"
            "       engine_check remove ENGINE DIR\n"
            "       engine_check repl ENGINE TOP PORT1 PORT2 [MEMORY_MB]\n"
            "                                  (password, then secret, on stdin)\n"
            "       engine_check health ENGINE DIR PORT TIMEOUT_MS\n"
            "       engine_check repl-setup ENGINE DIR PORT MEMBER_ID [ID:PORT ...]\n"
            "                                  (secret on stdin)\n"
            "       engine_check failover ENGINE TOP PORT1 PORT2 clean|diverge|diverge-far\n"
            "       engine_check sync ENGINE TOP PORT1 PORT2\n"
            "                                  (password, then secret, on stdin)\n");
    return 2;
}

static int fail(const struct err *e)
{
    fprintf(stderr, "engine_check: %s\n", e->msg);
    return e->code == CATALOG_E_PLAN ? 3 : 1;
}

static bool parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end;

    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno == 0 && end != s && *end == '\0' && *out >= lo && *out <= hi;
}

/* The password from the first line of stdin; the caller frees it. */
static char *read_password(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);

    if (n <= 0) {
        free(line);
        return NULL;
    }
    line[strcspn(line, "\r\n")] = '\0';
    return line;
}

/* Stop a server: its stop signal, again every second (Redis drops a SIGTERM that arrives while
 * it writes its first AOF, right after a replica's first sync), then SIGKILL at the deadline;
 * reap it if it is our child. */
static void stop_pid(const struct engine_ops *ops, pid_t pid, bool child)
{
    int64_t deadline = clock_now_ms() + STOP_DEADLINE_MS, resend = 0;
    int status;

    while (clock_now_ms() < deadline) {
        if (clock_now_ms() >= resend) {
            kill(pid, ops->stop_signal);
            resend = clock_now_ms() + 1000;
        }
        if (child ? waitpid(pid, &status, WNOHANG) == pid : !proc_alive(pid, 0))
            return;
        clock_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    if (child)
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
}

static void make_spec(struct engine_spec *s, const char *dir, int port, int64_t memory_mb,
                      const char *verifier, char *instance, size_t n)
{
    snprintf(instance, n, "check-%d", port);
    memset(s, 0, sizeof(*s));
    s->instance = instance;
    s->data_dir = dir;
    s->listen_addr = "127.0.0.1";
    s->port = port;
    s->cpu_millis = 1000;
    s->memory_mb = memory_mb;
    s->disk_mb = 1024;
    s->username = "app";
    s->verifier = verifier;
}

/* The member's server.log opened for appending (st: its state before). The directory is the
 * engine user's: a link, a FIFO or a hard link planted there is refused. */
static int open_log(const struct engine_spec *spec, struct stat *st, struct err *e)
{
    char *path = engine_log_path(spec);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);

    if (fd < 0 || fstat(fd, st) < 0)
        err_set(e, ENGINE_E_SYSTEM, "could not open \"%s\": %s", path, strerror(errno));
    else if (!S_ISREG(st->st_mode) || st->st_nlink != 1 || fcntl(fd, F_SETFL, O_APPEND) < 0)
        err_set(e, ENGINE_E_SYSTEM, "\"%s\" is not a plain file", path);
    else {
        free(path);
        return fd;
    }
    if (fd >= 0)
        close(fd);
    free(path);
    return -1;
}

/* Timings of one start, in ms. */
struct start_times {
    int64_t configure, start;
};

/* Configure, exec the server as the OS user with its output appended to server.log, and wait
 * for the probe; *pid is the running server (the caller stops it). On failure nothing runs. */
static int launch(const struct engine_ops *ops, const struct engine_spec *spec, pid_t *pid,
                  struct start_times *t, struct err *e)
{
    struct engine_user u;
    char **argv = NULL;
    int64_t t0 = clock_now_ms(), t1;
    struct stat st;
    int rc = -1, logfd = -1, status;

    *pid = -1;
    if (engine_configure(ops, spec, e) < 0 || engine_argv(ops, spec, &argv, e) < 0 ||
        engine_util_user(ops->cat->default_os_user, &u, e) < 0)
        goto out;
    t1 = clock_now_ms();
    if ((logfd = open_log(spec, &st, e)) < 0)
        goto out;
    /* A server of this member that already answers would make the probe lie. */
    if (engine_probe(ops, spec, PROBE_TIMEOUT_MS, e) == 0) {
        err_set(e, ENGINE_E_SYSTEM, "a server already runs in \"%s\"", spec->data_dir);
        goto out;
    }
    if (engine_util_spawn(&u, argv, NULL, spec->data_dir, logfd, pid, e) < 0)
        goto out;
    for (;;) {
        if (engine_probe(ops, spec, PROBE_TIMEOUT_MS, e) == 0)
            break;
        if (waitpid(*pid, &status, WNOHANG) == *pid) {
            *pid = -1;
            engine_start_error(ops, spec, status, st.st_size, e);
            goto out;
        }
        if (e->code != ENGINE_E_UNAVAILABLE || clock_now_ms() - t1 > START_DEADLINE_MS) {
            struct err probe = *e;
            engine_start_error(ops, spec, -1, st.st_size, e);
            fprintf(stderr, "engine_check: last probe: %s\n", probe.msg);
            goto out;
        }
        clock_sleep_ms(10);
    }
    t->configure = t1 - t0;
    t->start = clock_now_ms() - t1;
    rc = 0;
out:
    if (rc < 0 && *pid > 0) {
        stop_pid(ops, *pid, true);
        *pid = -1;
    }
    if (logfd >= 0)
        close(logfd);
    engine_argv_free(argv);
    return rc;
}

static void free_password(char *password)
{
    if (password) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
}

static int cmd_start(const struct engine_ops *ops, const char *dir, int port, int64_t memory_mb)
{
    struct engine_spec spec;
    struct start_times t = {0};
    struct err e = {0};
    char instance[32], *password = NULL, *verifier = NULL;
    int64_t t0, t1, t3, t4;
    int rc = 1;
    pid_t pid = -1;

    password = read_password();
    if (!password || !(verifier = ops->cat->verifier_new(password))) {
        fprintf(stderr, "engine_check: no usable password on standard input\n");
        goto out;
    }
    make_spec(&spec, dir, port, memory_mb, verifier, instance, sizeof(instance));
    if (engine_validate(ops, &spec, &e) < 0) {
        rc = fail(&e);
        goto out;
    }
    t0 = clock_now_ms();
    if (engine_init(ops, &spec, &e) < 0) {
        rc = fail(&e);
        goto out;
    }
    t1 = clock_now_ms();
    if (launch(ops, &spec, &pid, &t, &e) < 0) {
        rc = fail(&e);
        goto out;
    }
    t3 = clock_now_ms();
    if (engine_create_user(ops, &spec, &e) < 0) {
        rc = fail(&e);
        goto out;
    }
    t4 = clock_now_ms();
    printf("pid=%d init_ms=%lld configure_ms=%lld start_ms=%lld user_ms=%lld total_ms=%lld\n",
           (int)pid, (long long)(t1 - t0), (long long)t.configure, (long long)t.start,
           (long long)(t4 - t3), (long long)(t4 - t0));
    fflush(stdout);
    pid = -1; /* leave it running */
    rc = 0;
out:
    if (pid > 0)
        stop_pid(ops, pid, true);
    free_password(password);
    free(verifier);
    return rc;
}

static int cmd_resize(const struct engine_ops *ops, const char *dir, int port, int64_t memory_mb)
{
    struct engine_spec spec;
    struct err e = {0};
    char instance[32], *password = read_password(), *verifier = NULL;
    bool restart = false;
    int rc = 1;

    if (!password || !(verifier = ops->cat->verifier_new(password))) {
        fprintf(stderr, "engine_check: no usable password on standard input\n");
        goto out;
    }
    make_spec(&spec, dir, port, memory_mb, verifier, instance, sizeof(instance));
    if (engine_apply_live(ops, &spec, &restart, &e) < 0) {
        rc = fail(&e);
        goto out;
    }
    printf("restart_needed=%d\n", restart ? 1 : 0);
    rc = 0;
out:
    free_password(password);
    free(verifier);
    return rc;
}

static int cmd_user(const struct engine_ops *ops, const char *dir, int port)
{
    struct engine_spec spec;
    struct err e = {0};
    char instance[32], *password = read_password(), *verifier = NULL;
    int rc = 1;

    if (!password || !(verifier = ops->cat->verifier_new(password))) {
        fprintf(stderr, "engine_check: no usable password on standard input\n");
        goto out;
    }
    make_spec(&spec, dir, port, DEFAULT_MEMORY_MB, verifier, instance, sizeof(instance));
    if (engine_create_user(ops, &spec, &e) < 0) {
        rc = fail(&e);
        goto out;
    }
    rc = 0;
out:
    free_password(password);
    free(verifier);
    return rc;
}

/* Stop the server with this pid, after checking that it is the one of DIR: it runs as the
 * engine's user with its working directory inside DIR. */
static int cmd_stop(const struct engine_ops *ops, const char *dir, pid_t pid)
{
    struct engine_user u;
    struct err e = {0};
    char path[64], cwd[PATH_MAX];
    struct stat st;
    ssize_t n;
    size_t len = strlen(dir);

    if (engine_util_user(ops->cat->default_os_user, &u, &e) < 0)
        return fail(&e);
    if (!proc_alive(pid, 0))
        return 0;
    snprintf(path, sizeof(path), "/proc/%d", (int)pid);
    if (stat(path, &st) < 0 || st.st_uid != u.os.uid) {
        fprintf(stderr, "engine_check: process %d is not run by user \"%s\"\n", (int)pid,
                u.os.name);
        return 1;
    }
    snprintf(path, sizeof(path), "/proc/%d/cwd", (int)pid);
    n = readlink(path, cwd, sizeof(cwd) - 1);
    if (n < 0) {
        fprintf(stderr, "engine_check: could not read the directory of process %d: %s\n", (int)pid,
                strerror(errno));
        return 1;
    }
    cwd[n] = '\0';
    if (strncmp(cwd, dir, len) != 0 || (cwd[len] != '\0' && cwd[len] != '/')) {
        fprintf(stderr, "engine_check: process %d does not run in \"%s\"\n", (int)pid, dir);
        return 1;
    }
    stop_pid(ops, pid, false);
    if (proc_alive(pid, 0)) {
        fprintf(stderr, "engine_check: process %d did not stop\n", (int)pid);
        return 1;
    }
    return 0;
}

/* ---- replication ---- */

/* How engine_check plays the agent's part in a seed: the replica's member, the primary whose
 * seed source feeds a stdin_stream step, and the OS user both run as. */
struct seed_ctx {
    const struct engine_ops *ops;
    const struct engine_spec *primary;
    const struct engine_spec *replica;
    struct engine_user u;
};

/* Wait for a child until the deadline, then kill its session; its wait status. */
static int reap(pid_t pid, int64_t deadline)
{
    int status = 0;

    while (waitpid(pid, &status, WNOHANG) != pid) {
        if (clock_now_ms() > deadline) {
            kill(-pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            break;
        }
        clock_sleep_ms(10);
    }
    return status;
}

/* A seed step as the OS user in the replica's directory. A stdin_stream step reads the
 * primary's seed source through a pipe; the source's log (its stderr) goes to the primary's
 * server.log. */
static int run_step(void *arg, const struct engine_seed_step *step, struct err *e)
{
    struct seed_ctx *c = arg;
    struct spawn_opts o = SPAWN_OPTS_INIT, so = SPAWN_OPTS_INIT;
    char **env = engine_util_env_with(&c->u, step->env), **src = NULL, **src_env = NULL, how[128];
    int p[2] = {-1, -1}, logfd = -1, rc = -1, status;
    struct stat st;
    pid_t src_pid = -1;

    o.argv = step->argv;
    o.envp = env;
    o.user = c->u.switch_user ? &c->u.os : NULL;
    o.workdir = c->replica->data_dir;
    o.umask = 077;
    if (step->stdin_stream) {
        if (engine_seed_source(c->ops, c->primary, &src, e) < 0 ||
            (logfd = open_log(c->primary, &st, e)) < 0)
            goto out;
        if (pipe2(p, O_CLOEXEC) < 0) {
            err_set(e, ENGINE_E_SYSTEM, "could not create a pipe: %s", strerror(errno));
            goto out;
        }
        src_env = engine_util_env_new(&c->u);
        so = o;
        so.argv = src;
        so.envp = src_env;
        so.workdir = c->primary->data_dir;
        so.out_fd = p[1];
        so.err_fd = logfd;
        if (spawn_start(&so, &src_pid, e) < 0)
            goto out;
        close(p[1]);
        p[1] = -1;
        o.in_fd = p[0];
    }
    rc = spawn_run_tool(&o, SEED_TIMEOUT_MS, step->what, e);
    if (src_pid > 0) {
        close(p[0]); /* a step that stopped reading ends the source too */
        p[0] = -1;
        status = reap(src_pid, clock_now_ms() + STOP_DEADLINE_MS);
        if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
            spawn_status_text(status, how, sizeof(how));
            rc = err_set(e, LIB_E_TOOL, "the seed source \"%s\" %s (its log is in \"%s\")", src[0],
                         how, c->primary->data_dir);
        }
    }
out:
    for (int i = 0; i < 2; i++)
        if (p[i] >= 0)
            close(p[i]);
    if (logfd >= 0)
        close(logfd);
    engine_util_strv_free(env);
    engine_util_strv_free(src_env);
    engine_argv_free(src);
    return rc;
}

static const char *role_name(enum engine_role r)
{
    return r == ENGINE_ROLE_REPLICA ? "replica" : "primary";
}

/* One key=value line per field, keys prefixed with `who` ("" for none). */
static void print_health(const char *who, const struct engine_health *h)
{
    printf("%salive=%d\n%srole=%s\n%swritable=%d\n%sposition=%s\n%sposition_bytes=%lld\n"
           "%sreceived_bytes=%lld\n%supstream_up=%d\n%slag_bytes=%lld\n%slag_seconds=%.3f\n",
           who, h->alive, who, role_name(h->role), who, h->writable, who, h->position, who,
           (long long)h->position_bytes, who, (long long)h->received_bytes, who, h->upstream_up,
           who, (long long)h->lag_bytes, who, h->lag_seconds);
}

/* A file's bytes (a /proc file, whose size says 0, or a regular file) into b. */
static int slurp(const char *path, struct buf *b)
{
    char chunk[65536];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

    buf_reset(b);
    if (fd < 0)
        return -1;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        buf_append(b, chunk, (size_t)n);
    close(fd);
    return n < 0 ? -1 : 0;
}

/* Every process whose command line or environment holds the secret, as "pid/file" words. */
static void scan_proc(const char *secret, struct buf *hits)
{
    static const char *const files[] = {"cmdline", "environ"};
    struct buf b = BUF_INIT;
    DIR *d = opendir("/proc");
    struct dirent *de;
    char path[300];

    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        for (int i = 0; i < 2; i++) {
            snprintf(path, sizeof(path), "/proc/%s/%s", de->d_name, files[i]);
            if (slurp(path, &b) == 0 && b.len && memmem(b.data, b.len, secret, strlen(secret)))
                buf_printf(hits, "%s%s/%s", hits->len ? "," : "", de->d_name, files[i]);
        }
    }
    if (d)
        closedir(d);
    buf_free(&b);
}

/* Every regular file under dir (relative to top) that holds the secret, comma-separated. */
static void scan_tree(const char *top, const char *dir, const char *secret, struct buf *hits)
{
    struct buf b = BUF_INIT;
    DIR *d = opendir(dir);
    struct dirent *de;
    struct stat st;

    while (d && (de = readdir(d)) != NULL) {
        char *path;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        path = engine_util_path(dir, de->d_name);
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            scan_tree(top, path, secret, hits);
        else if (S_ISREG(st.st_mode) && slurp(path, &b) == 0 && b.len &&
                 memmem(b.data, b.len, secret, strlen(secret)))
            buf_printf(hits, "%s%s", hits->len ? "," : "", path + strlen(top) + 1);
        free(path);
    }
    if (d)
        closedir(d);
    buf_free(&b);
}

/* Wait until the replica reports a live link and a position at least `target` (deadline). */
static int wait_caught_up(const struct engine_ops *ops, const struct engine_spec *replica,
                          int64_t target, struct engine_health *h, struct err *e)
{
    int64_t deadline = clock_now_ms() + REPLICATE_DEADLINE_MS;

    for (;;) {
        int rc = engine_health(ops, replica, HEALTH_TIMEOUT_MS, h, e);
        if (rc == 0 && h->upstream_up == 1 && h->position_bytes >= target)
            return 0;
        if (clock_now_ms() > deadline)
            return rc < 0
                       ? -1
                       : err_set(e, ENGINE_E_UNAVAILABLE,
                                 "the replica did not catch up with position %lld (it is at "
                                 "%lld, link %d)",
                                 (long long)target, (long long)h->position_bytes, h->upstream_up);
        clock_sleep_ms(20);
    }
}

/* The tenant writes key = value on the primary; wait until the replica has it (deadline). */
static int replicate(const struct engine_ops *ops, int port1, int port2, const char *password,
                     const char *key, const char *value, int64_t *ms, struct err *e)
{
    struct buf msg = BUF_INIT;
    int64_t t0 = clock_now_ms(), deadline = t0 + REPLICATE_DEADLINE_MS;
    char got[256] = "";
    int r, rc = -1;

    if (tenant_write(ops->cat->name, port1, password, key, value, &msg) < 0) {
        err_set(e, ENGINE_E_ENGINE, "the tenant could not write on the primary: %s", buf_str(&msg));
        goto out;
    }
    for (;; clock_sleep_ms(10)) {
        r = tenant_read(ops->cat->name, port2, password, key, got, sizeof(got), &msg);
        if (r == 1 && strcmp(got, value) == 0)
            break;
        if (r < 0 || clock_now_ms() > deadline) {
            err_set(e, ENGINE_E_ENGINE, "the write did not reach the replica: %s",
                    r < 0 ? buf_str(&msg) : "timed out");
            goto out;
        }
    }
    *ms = clock_now_ms() - t0;
    rc = 0;
out:
    buf_free(&msg);
    return rc;
}

/* The whole replication check of one engine (see the file's comment). Prints one key=value
 * per line: the pids, timings, what an early seed (before the primary made the replica's
 * slot) answered, how the replica refused a tenant's write, both health probes, whether the
 * tenant and the replication user may replicate and read, and where the secret was found. */
static int cmd_repl(const struct engine_ops *ops, const char *top, int port1, int port2,
                    int64_t memory_mb)
{
    char *password = read_password(), *secret = read_password(), *verifier = NULL;
    char *value = NULL, *dir1 = engine_util_path(top, "m1"), *dir2 = engine_util_path(top, "m2");
    char instance[32], unused[32], key[32];
    struct engine_peer replica = {2, "127.0.0.1", port2};
    struct engine_repl r1 = {
        ENGINE_ROLE_PRIMARY, 1, CATALOG_REPL_USER, secret, {0}, NULL, 0, false};
    struct engine_repl r2 = {
        ENGINE_ROLE_REPLICA, 2, CATALOG_REPL_USER, secret, {1, "127.0.0.1", port1}, NULL, 0, false};
    struct engine_spec s1, s2;
    struct engine_health h1, h2;
    struct start_times t;
    struct seed_ctx ctx;
    struct buf msg = BUF_INIT, hits = BUF_INIT;
    struct err e = {0};
    int64_t t0, ms;
    pid_t pid1 = -1, pid2 = -1;
    int rc = 1, r;

    if (!password || !secret || !(verifier = ops->cat->verifier_new(password))) {
        fprintf(stderr, "engine_check: no password and secret on standard input\n");
        goto out;
    }
    make_spec(&s1, dir1, port1, memory_mb, verifier, unused, sizeof(unused));
    make_spec(&s2, dir2, port2, memory_mb, verifier, unused, sizeof(unused));
    snprintf(instance, sizeof(instance), "repl-%d", port1);
    s1.instance = s2.instance = instance;
    s1.repl = &r1;
    s2.repl = &r2;
    memset(&ctx, 0, sizeof(ctx));
    ctx.ops = ops;
    ctx.primary = &s1;
    ctx.replica = &s2;
    if (engine_validate(ops, &s1, &e) < 0 || engine_validate(ops, &s2, &e) < 0 ||
        engine_util_user(ops->cat->default_os_user, &ctx.u, &e) < 0)
        goto fail;

    /* The primary, with no replica yet. */
    if (engine_init(ops, &s1, &e) < 0 || launch(ops, &s1, &pid1, &t, &e) < 0 ||
        engine_create_user(ops, &s1, &e) < 0 || engine_repl_setup(ops, &s1, &e) < 0)
        goto fail;
    printf("primary_pid=%d\n", (int)pid1);
    fflush(stdout);
    /* A seed before the primary knows the replica (PostgreSQL: no slot yet). */
    t0 = clock_now_ms();
    if (engine_seed(ops, &s2, run_step, &ctx, &e) < 0)
        printf("early_seed=error\nearly_seed_code=%d\nearly_seed_error=%s\n", e.code, e.msg);
    else
        printf("early_seed=ok\nearly_seed_ms=%lld\n", (long long)(clock_now_ms() - t0));
    r1.replicas = &replica;
    r1.n_replicas = 1;
    if (engine_repl_setup(ops, &s1, &e) < 0)
        goto fail;
    t0 = clock_now_ms();
    if (engine_seed(ops, &s2, run_step, &ctx, &e) < 0)
        goto fail;
    printf("seed_ms=%lld\n", (long long)(clock_now_ms() - t0));
    if (launch(ops, &s2, &pid2, &t, &e) < 0)
        goto fail;
    printf("replica_pid=%d\nreplica_start_ms=%lld\n", (int)pid2, (long long)t.start);
    fflush(stdout);
    /* What the agent does after every start, twice: idempotent. */
    for (int i = 0; i < 2; i++)
        if (engine_create_user(ops, &s2, &e) < 0 || engine_follow(ops, &s2, &e) < 0 ||
            engine_repl_setup(ops, &s1, &e) < 0)
            goto fail;

    /* A tenant's write reaches the replica, also after the replica restarted. */
    snprintf(key, sizeof(key), "k%d", port1);
    value = crypto_password_new(24);
    if (!value || replicate(ops, port1, port2, password, "first", value, &ms, &e) < 0)
        goto fail;
    printf("replicate_ms=%lld\n", (long long)ms);
    stop_pid(ops, pid2, true);
    pid2 = -1;
    if (launch(ops, &s2, &pid2, &t, &e) < 0 || engine_follow(ops, &s2, &e) < 0)
        goto fail;
    if (replicate(ops, port1, port2, password, key, value, &ms, &e) < 0)
        goto fail;
    printf("replica_pid=%d\nrestart_replicate_ms=%lld\nkey=%s\nvalue=%s\n", (int)pid2,
           (long long)ms, key, value);
    /* The replica refuses the tenant's writes. */
    if (tenant_write(ops->cat->name, port2, password, key, "x", &msg) == 0) {
        err_set(&e, ENGINE_E_ENGINE, "the replica accepted a tenant's write");
        goto fail;
    }
    printf("replica_write_error=%s\n", buf_str(&msg));

    /* Health: the primary, then the replica once it has caught up with it. */
    if (engine_health(ops, &s1, HEALTH_TIMEOUT_MS, &h1, &e) < 0 ||
        wait_caught_up(ops, &s2, h1.position_bytes, &h2, &e) < 0)
        goto fail;
    print_health("primary_", &h1);
    print_health("replica_", &h2);

    /* Who may replicate and read: the tenant must not replicate, the replication user must
     * not read data (and may replicate: the control). */
    r = tenant_replicate(ops->cat->name, port1, "app", password, &msg);
    printf("tenant_replication=%s\ntenant_replication_msg=%s\n",
           r == 0   ? "refused"
           : r == 1 ? "allowed"
                    : "error",
           buf_str(&msg));
    r = tenant_replicate(ops->cat->name, port1, CATALOG_REPL_USER, secret, &msg);
    printf("repl_user_replication=%s\nrepl_user_replication_msg=%s\n",
           r == 0   ? "refused"
           : r == 1 ? "allowed"
                    : "error",
           buf_str(&msg));
    r = tenant_read_as(ops->cat->name, port1, CATALOG_REPL_USER, secret, &msg);
    printf("repl_user_reads=%s\nrepl_user_reads_msg=%s\n",
           r == 0   ? "refused"
           : r == 1 ? "allowed"
                    : "error",
           buf_str(&msg));

    /* The secret in no command line, no environment, no log; the files that hold it. */
    scan_proc(secret, &hits);
    printf("secret_in_proc=%s\n", buf_str(&hits));
    buf_reset(&hits);
    scan_tree(top, top, secret, &hits);
    printf("secret_files=%s\n", buf_str(&hits));
    fflush(stdout);
    pid1 = pid2 = -1; /* leave both running */
    rc = 0;
    goto out;
fail:
    rc = fail(&e);
out:
    if (pid2 > 0)
        stop_pid(ops, pid2, true);
    if (pid1 > 0)
        stop_pid(ops, pid1, true);
    buf_free(&msg);
    buf_free(&hits);
    free_password(password);
    free_password(secret);
    free(verifier);
    free(value);
    free(dir1);
    free(dir2);
    return rc;
}

/* ---- failover (HA part 2) ---- */

#define FENCE_WRITE_TIMEOUT_MS 1500
#define SYNC_WRITE_TIMEOUT_MS 3000

/* A primary (member 1, TOP/m1) and a replica streaming from it (member 2, TOP/m2), running,
 * and what the failover checks change on them: each member's role and peers. */
struct pair {
    const struct engine_ops *ops;
    const char *password, *secret;
    char *dir1, *dir2, *verifier;
    char instance[32], unused[32];
    struct engine_peer peer1, peer2; /* m1, m2 as the other sees them */
    struct engine_repl r1, r2;
    struct engine_spec s1, s2;
    struct seed_ctx ctx;
    pid_t pid1, pid2;
};

static void pair_primary(struct engine_repl *r, const struct engine_peer *replica)
{
    r->role = ENGINE_ROLE_PRIMARY;
    r->replicas = replica;
    r->n_replicas = 1;
}

static void pair_replica(struct engine_repl *r, const struct engine_peer *upstream)
{
    r->role = ENGINE_ROLE_REPLICA;
    r->upstream = *upstream;
    r->replicas = NULL;
    r->n_replicas = 0;
}

/* m1 the primary, m2 seeded from it, both running, m2 following. */
static int pair_up(struct pair *p, const struct engine_ops *ops, const char *top, int port1,
                   int port2, const char *password, const char *secret, struct err *e)
{
    struct start_times t;

    memset(p, 0, sizeof(*p));
    p->ops = ops;
    p->password = password;
    p->secret = secret;
    p->pid1 = p->pid2 = -1;
    p->dir1 = engine_util_path(top, "m1");
    p->dir2 = engine_util_path(top, "m2");
    if (!(p->verifier = ops->cat->verifier_new(password)))
        return err_set(e, ENGINE_E_INVALID, "no verifier for the password");
    p->peer1 = (struct engine_peer){1, "127.0.0.1", port1};
    p->peer2 = (struct engine_peer){2, "127.0.0.1", port2};
    p->r1 = (struct engine_repl){
        ENGINE_ROLE_PRIMARY, 1, CATALOG_REPL_USER, secret, {0}, NULL, 0, false};
    p->r2 = p->r1;
    p->r2.member_id = 2;
    pair_primary(&p->r1, &p->peer2);
    pair_replica(&p->r2, &p->peer1);
    make_spec(&p->s1, p->dir1, port1, DEFAULT_MEMORY_MB, p->verifier, p->unused, sizeof(p->unused));
    make_spec(&p->s2, p->dir2, port2, DEFAULT_MEMORY_MB, p->verifier, p->unused, sizeof(p->unused));
    snprintf(p->instance, sizeof(p->instance), "fo-%d", port1);
    p->s1.instance = p->s2.instance = p->instance;
    p->s1.repl = &p->r1;
    p->s2.repl = &p->r2;
    p->ctx.ops = ops;
    p->ctx.primary = &p->s1;
    p->ctx.replica = &p->s2;
    if (engine_util_user(ops->cat->default_os_user, &p->ctx.u, e) < 0 ||
        engine_init(ops, &p->s1, e) < 0 || launch(ops, &p->s1, &p->pid1, &t, e) < 0 ||
        engine_create_user(ops, &p->s1, e) < 0 || engine_repl_setup(ops, &p->s1, e) < 0 ||
        engine_seed(ops, &p->s2, run_step, &p->ctx, e) < 0 ||
        launch(ops, &p->s2, &p->pid2, &t, e) < 0 || engine_create_user(ops, &p->s2, e) < 0 ||
        engine_follow(ops, &p->s2, e) < 0)
        return -1;
    printf("pid1=%d\npid2=%d\n", (int)p->pid1, (int)p->pid2);
    fflush(stdout);
    return 0;
}

static void pair_down(struct pair *p)
{
    if (p->pid2 > 0)
        stop_pid(p->ops, p->pid2, true);
    if (p->pid1 > 0)
        stop_pid(p->ops, p->pid1, true);
    free(p->dir1);
    free(p->dir2);
    free(p->verifier);
}

/* Wait (deadline) until the tenant reads key = value on port. */
static int wait_value(const struct engine_ops *ops, int port, const char *password, const char *key,
                      const char *value, struct err *e)
{
    int64_t deadline = clock_now_ms() + REPLICATE_DEADLINE_MS;
    struct buf msg = BUF_INIT;
    char got[256];
    int r;

    for (;; clock_sleep_ms(20)) {
        r = tenant_read(ops->cat->name, port, password, key, got, sizeof(got), &msg);
        if (r == 1 && strcmp(got, value) == 0)
            break;
        if (clock_now_ms() > deadline) {
            err_set(e, ENGINE_E_ENGINE, "\"%s\" did not reach port %d: %s", key, port,
                    r < 0 ? buf_str(&msg) : "timed out");
            buf_free(&msg);
            return -1;
        }
    }
    buf_free(&msg);
    return 0;
}

static const char *write_outcome(int r)
{
    return r == 0 ? "accepted" : r == -2 ? "timeout" : "refused";
}

/* The SIGKILL of a child server, reaped. */
static void kill_child(pid_t *pid)
{
    int status;

    kill(*pid, SIGKILL);
    while (waitpid(*pid, &status, 0) < 0 && errno == EINTR)
        ;
    *pid = -1;
}

/* A failover and the old primary's rejoin. clean: a switchover (stop_writes or a clean stop,
 * the replica catches up, the primary stops). diverge: the replica stops, the primary takes a
 * write the replica never sees and is killed. Then the replica is promoted, takes a write,
 * and the old primary rejoins as its replica (rejoin steps, start, follow; on
 * ENGINE_E_DIVERGED a new seed, as the agent does). far: the new primary takes more writes
 * than the old one missed. Prints key=value lines. */
static int cmd_failover(const struct engine_ops *ops, const char *top, int port1, int port2,
                        bool diverge, bool far)
{
    char *password = read_password(), *secret = read_password();
    const char *name = ops->cat->name;
    struct engine_health h1, h2;
    struct start_times t;
    struct buf msg = BUF_INIT;
    struct err e = {0};
    struct pair p;
    int64_t t0;
    char got[256];
    int rc = 1, r;

    memset(&p, 0, sizeof(p));
    p.pid1 = p.pid2 = -1;
    if (!password || !secret) {
        fprintf(stderr, "engine_check: no password and secret on standard input\n");
        goto out;
    }
    if (pair_up(&p, ops, top, port1, port2, password, secret, &e) < 0 ||
        tenant_write(name, port1, password, "k1", "before", &msg) < 0 ||
        wait_value(ops, port2, password, "k1", "before", &e) < 0)
        goto fail;
    if (!diverge) {
        /* Switchover: the fence, then the replica catches up with the final position. */
        if (engine_stop_writes(ops, &p.s1, &e) == 0) {
            r = tenant_write_by(name, port1, password, "fenced", "x", FENCE_WRITE_TIMEOUT_MS, &msg);
            printf("stop_writes=ok\nfenced_write=%s\nfenced_write_msg=%s\n", write_outcome(r),
                   buf_str(&msg));
        } else if (e.code == ENGINE_E_UNSUPPORTED) {
            printf("stop_writes=unsupported\n");
        } else
            goto fail;
        if (engine_health(ops, &p.s1, HEALTH_TIMEOUT_MS, &h1, &e) < 0 ||
            wait_caught_up(ops, &p.s2, h1.position_bytes, &h2, &e) < 0)
            goto fail;
        stop_pid(ops, p.pid1, true);
        p.pid1 = -1;
    } else {
        stop_pid(ops, p.pid2, true);
        p.pid2 = -1;
        if (tenant_write(name, port1, password, "kd", "divergent", &msg) < 0) {
            err_set(&e, ENGINE_E_ENGINE, "the divergent write failed: %s", buf_str(&msg));
            goto fail;
        }
        kill_child(&p.pid1);
        if (launch(ops, &p.s2, &p.pid2, &t, &e) < 0)
            goto fail;
    }
    fflush(stdout);

    /* m2 becomes the primary of m1. */
    pair_primary(&p.r2, &p.peer1);
    t0 = clock_now_ms();
    if (engine_promote(ops, &p.s2, &e) < 0)
        goto fail;
    printf("pid2=%d\npromote_ms=%lld\n", (int)p.pid2, (long long)(clock_now_ms() - t0));
    if (engine_promote(ops, &p.s2, &e) < 0 || engine_repl_setup(ops, &p.s2, &e) < 0 ||
        engine_health(ops, &p.s2, HEALTH_TIMEOUT_MS, &h2, &e) < 0)
        goto fail;
    print_health("promoted_", &h2);
    /* far: the new primary moves past the old one's position (MariaDB: only the primary's
     * refusal of the position, error 1236, tells the divergence then). */
    for (int i = far ? 5 : 0; i >= 0; i--)
        if (tenant_write(name, port2, password, i ? "kfar" : "k2", i ? "far" : "after", &msg) < 0) {
            err_set(&e, ENGINE_E_ENGINE, "the promoted replica refused a write: %s", buf_str(&msg));
            goto fail;
        }

    /* m1 rejoins as a replica of m2. */
    pair_replica(&p.r1, &p.peer2);
    p.ctx.primary = &p.s2;
    p.ctx.replica = &p.s1;
    t0 = clock_now_ms();
    if (engine_rejoin(ops, &p.s1, run_step, &p.ctx, &e) < 0) {
        printf("rejoin=error\nrejoin_error=%s\n", e.msg);
        goto fail;
    }
    printf("rejoin=ok\nrejoin_ms=%lld\n", (long long)(clock_now_ms() - t0));
    if (launch(ops, &p.s1, &p.pid1, &t, &e) < 0)
        goto fail;
    printf("pid1=%d\n", (int)p.pid1);
    fflush(stdout);
    if (engine_follow(ops, &p.s1, &e) < 0) {
        if (e.code != ENGINE_E_DIVERGED)
            goto fail;
        printf("follow=diverged\nfollow_error=%s\n", e.msg);
        /* What the agent does: a fresh copy. */
        stop_pid(ops, p.pid1, true);
        p.pid1 = -1;
        if (engine_remove(ops, &p.s1, &e) < 0 ||
            engine_seed(ops, &p.s1, run_step, &p.ctx, &e) < 0 ||
            launch(ops, &p.s1, &p.pid1, &t, &e) < 0 || engine_follow(ops, &p.s1, &e) < 0)
            goto fail;
        printf("reseed=ok\npid1=%d\n", (int)p.pid1);
    } else
        printf("follow=ok\n");
    if (wait_value(ops, port1, password, "k2", "after", &e) < 0)
        goto fail;
    r = tenant_read(name, port1, password, "kd", got, sizeof(got), &msg);
    printf("rejoined_has_divergent=%d\n", r == 1);
    r = tenant_write(name, port1, password, "k3", "x", &msg);
    printf("rejoined_write=%s\nrejoined_write_msg=%s\n", r == 0 ? "accepted" : "refused",
           buf_str(&msg));
    t0 = clock_now_ms();
    if (engine_follow(ops, &p.s1, &e) < 0)
        goto fail;
    printf("follow_again_ms=%lld\n", (long long)(clock_now_ms() - t0));
    if (engine_health(ops, &p.s2, HEALTH_TIMEOUT_MS, &h2, &e) < 0 ||
        wait_caught_up(ops, &p.s1, h2.position_bytes, &h1, &e) < 0)
        goto fail;
    print_health("rejoined_", &h1);
    rc = 0;
    goto out;
fail:
    rc = fail(&e);
out:
    fflush(stdout);
    pair_down(&p);
    buf_free(&msg);
    free_password(password);
    free_password(secret);
    return rc;
}

/* Synchronous mode: a pair switched to sync live; a write with the replica up is acknowledged;
 * with the replica stopped it is not (PostgreSQL, MariaDB: no answer; Redis: NOREPLICAS);
 * with the replica back, writes are acknowledged again. */
static int cmd_sync(const struct engine_ops *ops, const char *top, int port1, int port2)
{
    char *password = read_password(), *secret = read_password();
    const char *name = ops->cat->name;
    struct engine_health h;
    struct start_times t;
    struct buf msg = BUF_INIT;
    struct err e = {0};
    struct pair p;
    bool restart = false;
    int64_t deadline;
    int rc = 1, r, accepted = 0;

    memset(&p, 0, sizeof(p));
    p.pid1 = p.pid2 = -1;
    if (!password || !secret) {
        fprintf(stderr, "engine_check: no password and secret on standard input\n");
        goto out;
    }
    if (pair_up(&p, ops, top, port1, port2, password, secret, &e) < 0 ||
        tenant_write(name, port1, password, "k1", "before", &msg) < 0 ||
        wait_value(ops, port2, password, "k1", "before", &e) < 0)
        goto fail;
    p.r1.sync = p.r2.sync = true;
    if (engine_apply_live(ops, &p.s1, &restart, &e) < 0 ||
        engine_apply_live(ops, &p.s2, &restart, &e) < 0 || engine_follow(ops, &p.s2, &e) < 0)
        goto fail;
    /* The primary's side, as the agent does it (a MariaDB primary is armed at once). */
    if (engine_repl_setup(ops, &p.s1, &e) < 0)
        goto fail;
    printf("sync_restart_needed=%d\n", restart);
    r = tenant_write_by(name, port1, password, "k2", "sync", 10000, &msg);
    printf("sync_write=%s\nsync_write_msg=%s\n", write_outcome(r), buf_str(&msg));
    if (r < 0)
        goto fail_msg;

    stop_pid(ops, p.pid2, true);
    p.pid2 = -1;
    /* Redis notices a replica gone when its link closes or its acks stop (max lag 1 s). */
    deadline = clock_now_ms() + REPLICATE_DEADLINE_MS;
    do {
        r = tenant_write_by(name, port1, password, "k3", "alone", SYNC_WRITE_TIMEOUT_MS, &msg);
        accepted += r == 0;
    } while (r == 0 && clock_now_ms() < deadline && (clock_sleep_ms(100), true));
    printf("alone_write=%s\nalone_write_msg=%s\nalone_accepted_first=%d\n", write_outcome(r),
           buf_str(&msg), accepted);

    if (launch(ops, &p.s2, &p.pid2, &t, &e) < 0 || engine_follow(ops, &p.s2, &e) < 0)
        goto fail;
    printf("pid2=%d\n", (int)p.pid2);
    /* Redis counts a replica once it acknowledged the stream: until then NOREPLICAS. */
    if (wait_caught_up(ops, &p.s2, 0, &h, &e) < 0)
        goto fail;
    deadline = clock_now_ms() + REPLICATE_DEADLINE_MS;
    while ((r = tenant_write_by(name, port1, password, "k4", "back", 20000, &msg)) == -1 &&
           strstr(buf_str(&msg), "NOREPLICAS") && clock_now_ms() < deadline)
        clock_sleep_ms(50);
    printf("back_write=%s\nback_write_msg=%s\n", write_outcome(r), buf_str(&msg));
    if (r < 0)
        goto fail_msg;
    if (wait_value(ops, port2, password, "k4", "back", &e) < 0)
        goto fail;
    rc = 0;
    goto out;
fail_msg:
    err_set(&e, ENGINE_E_ENGINE, "a write on the sync primary: %s", buf_str(&msg));
fail:
    rc = fail(&e);
out:
    fflush(stdout);
    pair_down(&p);
    buf_free(&msg);
    free_password(password);
    free_password(secret);
    return rc;
}

/* A spec for the subcommands that reach a running member: the tenant's verifier is never
 * used by them, but a spec needs a valid one. */
static char *dummy_verifier(const struct engine_ops *ops)
{
    return ops->cat->verifier_new("engine-check-unused-password");
}

static int cmd_health(const struct engine_ops *ops, const char *dir, int port, int timeout_ms)
{
    struct engine_spec spec;
    struct engine_health h;
    struct err e = {0};
    char instance[32], *verifier = dummy_verifier(ops);
    int64_t t0 = clock_now_ms();
    int rc;

    make_spec(&spec, dir, port, DEFAULT_MEMORY_MB, verifier, instance, sizeof(instance));
    rc = engine_health(ops, &spec, timeout_ms, &h, &e);
    print_health("", &h);
    printf("elapsed_ms=%lld\n", (long long)(clock_now_ms() - t0));
    free(verifier);
    return rc < 0 ? fail(&e) : 0;
}

static int cmd_repl_setup(const struct engine_ops *ops, const char *dir, int port,
                          int64_t member_id, char **peers, int n)
{
    struct engine_peer replicas[8];
    struct engine_repl repl = {
        ENGINE_ROLE_PRIMARY, member_id, CATALOG_REPL_USER, NULL, {0}, replicas, n, false};
    struct engine_spec spec;
    struct err e = {0};
    char instance[32], *verifier = dummy_verifier(ops), *secret = read_password();
    long long id, p;
    int rc = 2;

    for (int i = 0; i < n; i++) {
        char *colon = strchr(peers[i], ':');
        if (n > 8 || !colon)
            goto out;
        *colon = '\0';
        if (!parse_int(peers[i], 1, INT_MAX, &id) || !parse_int(colon + 1, 1, 65535, &p))
            goto out;
        replicas[i] = (struct engine_peer){id, "127.0.0.1", (int)p};
    }
    repl.secret = secret;
    make_spec(&spec, dir, port, DEFAULT_MEMORY_MB, verifier, instance, sizeof(instance));
    spec.repl = &repl;
    rc = engine_repl_setup(ops, &spec, &e) < 0 ? fail(&e) : 0;
out:
    if (rc == 2)
        usage();
    free_password(secret);
    free(verifier);
    return rc;
}

int main(int argc, char **argv)
{
    const struct engine_ops *ops;
    struct engine_spec spec;
    struct err e = {0};
    long long port = 0, mem = DEFAULT_MEMORY_MB, pid;
    char instance[32];

    if (argc < 3)
        return usage();
    ops = engine_find(argv[2]);
    if (!ops) {
        fprintf(stderr, "engine_check: unknown engine \"%s\"\n", argv[2]);
        return 2;
    }
    if (strcmp(argv[1], "min") == 0 && argc == 3) {
        printf("%lld\n", (long long)ops->cat->min_memory_mb);
        return 0;
    }
    if (argc < 4)
        return usage();
    if ((strcmp(argv[1], "start") == 0 && (argc == 5 || argc == 6)) ||
        (strcmp(argv[1], "resize") == 0 && argc == 6)) {
        if (!parse_int(argv[4], 1, 65535, &port) ||
            (argc == 6 && !parse_int(argv[5], 0, INT_MAX, &mem)))
            return usage();
        if (argv[1][0] == 's')
            return cmd_start(ops, argv[3], (int)port, mem);
        return cmd_resize(ops, argv[3], (int)port, mem);
    }
    if (strcmp(argv[1], "user") == 0 && argc == 5) {
        if (!parse_int(argv[4], 1, 65535, &port))
            return usage();
        return cmd_user(ops, argv[3], (int)port);
    }
    if (strcmp(argv[1], "stop") == 0 && argc == 5) {
        if (!parse_int(argv[4], 2, INT_MAX, &pid))
            return usage();
        return cmd_stop(ops, argv[3], (pid_t)pid);
    }
    if (strcmp(argv[1], "repl") == 0 && (argc == 6 || argc == 7)) {
        long long port2;
        if (!parse_int(argv[4], 1, 65535, &port) || !parse_int(argv[5], 1, 65535, &port2) ||
            (argc == 7 && !parse_int(argv[6], 0, INT_MAX, &mem)))
            return usage();
        return cmd_repl(ops, argv[3], (int)port, (int)port2, mem);
    }
    if (strcmp(argv[1], "health") == 0 && argc == 6) {
        long long timeout;
        if (!parse_int(argv[4], 1, 65535, &port) || !parse_int(argv[5], 1, INT_MAX, &timeout))
            return usage();
        return cmd_health(ops, argv[3], (int)port, (int)timeout);
    }
    if (strcmp(argv[1], "repl-setup") == 0 && argc >= 6) {
        long long id;
        if (!parse_int(argv[4], 1, 65535, &port) || !parse_int(argv[5], 1, INT_MAX, &id))
            return usage();
        return cmd_repl_setup(ops, argv[3], (int)port, id, argv + 6, argc - 6);
    }
    if ((strcmp(argv[1], "failover") == 0 && argc == 7) ||
        (strcmp(argv[1], "sync") == 0 && argc == 6)) {
        long long port2;
        if (!parse_int(argv[4], 1, 65535, &port) || !parse_int(argv[5], 1, 65535, &port2))
            return usage();
        if (argv[1][0] == 's')
            return cmd_sync(ops, argv[3], (int)port, (int)port2);
        if (strcmp(argv[6], "clean") != 0 && strcmp(argv[6], "diverge") != 0 &&
            strcmp(argv[6], "diverge-far") != 0)
            return usage();
        return cmd_failover(ops, argv[3], (int)port, (int)port2, argv[6][0] == 'd',
                            strcmp(argv[6], "diverge-far") == 0);
    }
    if (strcmp(argv[1], "remove") == 0 && argc == 4) {
        make_spec(&spec, argv[3], 1, ops->cat->min_memory_mb, NULL, instance, sizeof(instance));
        if (engine_remove(ops, &spec, &e) < 0)
            return fail(&e);
        return 0;
    }
    return usage();
}
