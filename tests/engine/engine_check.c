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
 *
 * The tenant is "app" on 127.0.0.1:PORT; DIR is the member directory (its parent must exist
 * and be traversable by the engine's OS user). Exit status: 0 ok, 1 failure, 2 usage,
 * 3 plan too small (the message names the minimum). Errors go to stderr as
 * "engine_check: <message>"; the password is never printed. */
#include <errno.h>
#include <fcntl.h>
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
#include "lib/xalloc.h"
#include "lib/clock.h"
#include "lib/proc.h"

#define START_DEADLINE_MS 60000
#define STOP_DEADLINE_MS 60000
#define PROBE_TIMEOUT_MS 1000
#define DEFAULT_MEMORY_MB 256

static int usage(void)
{
    fprintf(stderr, "usage: engine_check min ENGINE\n"
                    "       engine_check start ENGINE DIR PORT [MEMORY_MB]   (password on stdin)\n"
                    "       engine_check resize ENGINE DIR PORT MEMORY_MB    (password on stdin)\n"
                    "       engine_check user ENGINE DIR PORT                (password on stdin)\n"
                    "       engine_check stop ENGINE DIR PID\n"
                    "       engine_check remove ENGINE DIR\n");
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

/* Stop a server: its stop signal, then SIGKILL at the deadline; reap it if it is our child. */
static void stop_pid(const struct engine_ops *ops, pid_t pid, bool child)
{
    int64_t deadline = clock_now_ms() + STOP_DEADLINE_MS;
    int status;

    kill(pid, ops->stop_signal);
    while (clock_now_ms() < deadline) {
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

static int cmd_start(const struct engine_ops *ops, const char *dir, int port, int64_t memory_mb)
{
    struct engine_spec spec;
    struct engine_user u;
    struct err e = {0};
    char instance[32], **argv = NULL, *password = NULL, *verifier = NULL, *log_path = NULL;
    int64_t t0, t1, t2, t3, t4;
    struct stat st;
    int rc = 1, logfd = -1, status;
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
    if (engine_configure(ops, &spec, &e) < 0 || engine_argv(ops, &spec, &argv, &e) < 0 ||
        engine_util_user(ops->cat->default_os_user, &u, &e) < 0) {
        rc = fail(&e);
        goto out;
    }
    t2 = clock_now_ms();
    log_path = engine_log_path(&spec);
    /* The directory is the engine user's: refuse a link, a FIFO or a hard link planted there. */
    logfd =
        open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    if (logfd < 0 || fstat(logfd, &st) < 0) {
        fprintf(stderr, "engine_check: could not open \"%s\": %s\n", log_path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || fcntl(logfd, F_SETFL, O_APPEND) < 0) {
        fprintf(stderr, "engine_check: \"%s\" is not a plain file\n", log_path);
        goto out;
    }
    /* A server of this member that already answers would make the probe lie. */
    if (engine_probe(ops, &spec, PROBE_TIMEOUT_MS, &e) == 0) {
        fprintf(stderr, "engine_check: a server already runs in \"%s\"\n", dir);
        goto out;
    }
    if (engine_util_spawn(&u, argv, NULL, dir, logfd, &pid, &e) < 0) {
        rc = fail(&e);
        goto out;
    }
    for (;;) {
        if (engine_probe(ops, &spec, PROBE_TIMEOUT_MS, &e) == 0)
            break;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            pid = -1;
            engine_start_error(ops, &spec, status, st.st_size, &e);
            rc = fail(&e);
            goto out;
        }
        if (e.code != ENGINE_E_UNAVAILABLE || clock_now_ms() - t2 > START_DEADLINE_MS) {
            struct err probe = e;
            engine_start_error(ops, &spec, -1, st.st_size, &e);
            fprintf(stderr, "engine_check: last probe: %s\n", probe.msg);
            rc = fail(&e);
            goto out;
        }
        clock_sleep_ms(10);
    }
    t3 = clock_now_ms();
    if (engine_create_user(ops, &spec, &e) < 0) {
        rc = fail(&e);
        goto out;
    }
    t4 = clock_now_ms();
    printf("pid=%d init_ms=%lld configure_ms=%lld start_ms=%lld user_ms=%lld total_ms=%lld\n",
           (int)pid, (long long)(t1 - t0), (long long)(t2 - t1), (long long)(t3 - t2),
           (long long)(t4 - t3), (long long)(t4 - t0));
    fflush(stdout);
    pid = -1; /* leave it running */
    rc = 0;
out:
    if (pid > 0)
        stop_pid(ops, pid, true);
    if (logfd >= 0)
        close(logfd);
    if (password) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
    free(verifier);
    free(log_path);
    engine_argv_free(argv);
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
    if (password) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
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
    if (password) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
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
    if (strcmp(argv[1], "remove") == 0 && argc == 4) {
        make_spec(&spec, argv[3], 1, ops->cat->min_memory_mb, NULL, instance, sizeof(instance));
        if (engine_remove(ops, &spec, &e) < 0)
            return fail(&e);
        return 0;
    }
    return usage();
}
