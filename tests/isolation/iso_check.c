/* iso_check: the measured test of one real isolation backend, run as root.
 *
 *   iso_check BACKEND [--uri URI] [--user USER] [--dir DIR]
 *
 * BACKEND is cgroup, cgroup-v1, cgroup-v2 or lxc. It starts its own helper modes (a CPU spinner,
 * a memory hog, a direct-IO writer: "iso_check spin|hog|write ...") under limits and checks, from
 * the group's own counters, that a 20% CPU quota holds a busy loop to 20% +/- 10%, that a live
 * resize to 50% keeps the pid and takes effect, that a 64 MiB limit OOM-kills a 200 MiB
 * allocator, that a 4 MiB/s write limit holds O_DIRECT writes, that a failed start and a stop +
 * destroy leave no process, group or domain. Prints one line per check, the measured figures,
 * and "N passed, N failed"; exits 1 when a check failed. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include "isolation/backend.h"
#include "isolation/isolation.h"
#include "isolation/lxc_init.h"
#include "lib/fileio.h"
#include "lib/xalloc.h"
#include "lib/clock.h"
#include "lib/proc.h"

#define MIB (1024 * 1024)

static int passed, failed;
static char self[4096];
static char root[64];
static char workdir[256];
static enum iso_kind kind;

static void check(int ok, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void check(int ok, const char *name, const char *fmt, ...)
{
    char detail[1024] = "";
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    if (ok) {
        passed++;
        printf("ok   %s%s%s\n", name, detail[0] ? ": " : "", detail);
    } else {
        failed++;
        printf("FAIL %s%s%s\n", name, detail[0] ? ": " : "", detail);
    }
    fflush(stdout);
}

/* ---- helper modes (run inside the group) ---- */

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
    (void)sig;
    _exit(0);
}

static int mode_spin(int argc, char **argv)
{
    volatile unsigned long n = 0;
    bool ignore = argc > 2 && strcmp(argv[2], "--ignore-term") == 0;

    signal(SIGTERM, ignore ? SIG_IGN : on_term);
    printf("ready\n");
    fflush(stdout);
    for (;;)
        n++;
    return 0;
}

static int mode_hog(int argc, char **argv)
{
    int mb = argc > 2 ? atoi(argv[2]) : 200;

    signal(SIGTERM, on_term);
    for (int i = 1; i <= mb; i++) {
        char *p = malloc(MIB);
        if (!p) {
            printf("malloc failed at %d MiB\n", i);
            return 1;
        }
        memset(p, i, MIB);
        if (i % 8 == 0) {
            printf("allocated %d MiB\n", i);
            fflush(stdout);
        }
    }
    printf("done %d MiB\n", mb);
    fflush(stdout);
    for (;;)
        pause();
}

static int mode_write(int argc, char **argv)
{
    const char *path = argc > 2 ? argv[2] : "iso_check.data";
    int mb = argc > 3 ? atoi(argv[3]) : 8;
    void *buf = NULL;
    struct timespec t0, t1;
    int fd;

    signal(SIGTERM, on_term);
    if (posix_memalign(&buf, 4096, MIB) != 0)
        return 1;
    memset(buf, 'x', MIB);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0600);
    if (fd < 0) {
        printf("open %s: %s\n", path, strerror(errno));
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < mb; i++) {
        if (write(fd, buf, MIB) != MIB) {
            printf("write: %s\n", strerror(errno));
            return 1;
        }
    }
    fsync(fd);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    close(fd);
    printf("wrote %d MiB in %.3f s\n", mb,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    fflush(stdout);
    free(buf);
    for (;;)
        pause();
}

/* ---- helpers ---- */

static char *path_in(const char *file)
{
    return xasprintf("%s/%s", workdir, file);
}

static bool proc_has_tag(pid_t pid, const char *tag)
{
    char path[64];
    char buf[4096];
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    return strstr(buf, tag) != NULL;
}

/* Live processes whose command line holds tag (the per-test marker argument). */
static int count_tagged(const char *tag)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    int n = 0;

    while (d && (de = readdir(d)) != NULL) {
        pid_t pid = (pid_t)atoi(de->d_name);
        if (pid > 0 && pid != getpid() && proc_alive(pid, 0) && proc_has_tag(pid, tag))
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

/* Wait until the spinner says it is ready (its signal handling is in place) in its log. */
static bool wait_ready(pid_t pid, const char *log, int ms)
{
    int64_t deadline = clock_now_ms() + ms;

    while (clock_now_ms() < deadline) {
        char *text = fileio_read(log, SIZE_MAX, 0, NULL);
        bool ready = text && strstr(text, "ready\n");
        free(text);
        if (ready)
            return true;
        if (!proc_alive(pid, 0))
            return false;
        clock_sleep_ms(10);
    }
    return false;
}

static long status_field(pid_t pid, const char *key)
{
    char path[64];
    char *text;
    long v = -1;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    text = fileio_read(path, SIZE_MAX, 0, NULL);
    for (char *save = NULL, *line = text ? strtok_r(text, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, key, strlen(key)) == 0) {
            v = strtol(line + strlen(key), NULL, 10);
            break;
        }
    }
    free(text);
    return v;
}

/* A control file of pid's own cgroup for controller ("memory", "cpu"), read from the kernel
 * (v1 hierarchies under /sys/fs/cgroup/<controller>, or the unified one); -2 when unreadable. */
static long long kernel_value(pid_t pid, const char *controller, const char *file)
{
    char path[64];
    char *text, *value = NULL, *cg = NULL;
    long long v = -2;

    snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
    text = fileio_read(path, SIZE_MAX, 0, NULL);
    for (char *save = NULL, *line = text ? strtok_r(text, "\n", &save) : NULL; line && !cg;
         line = strtok_r(NULL, "\n", &save)) {
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        if (kind == ISO_CGROUP_V2 ? strcmp(c1 + 1, "") == 0 : strcmp(c1 + 1, controller) == 0)
            cg = kind == ISO_CGROUP_V2
                     ? xasprintf("/sys/fs/cgroup%s/%s", c2 + 1, file)
                     : xasprintf("/sys/fs/cgroup/%s%s/%s", controller, c2 + 1, file);
    }
    if (cg)
        value = fileio_read(cg, SIZE_MAX, 0, NULL);
    if (value)
        v = strncmp(value, "max", 3) == 0 ? -1 : strtoll(value, NULL, 10);
    free(value);
    free(cg);
    free(text);
    return v;
}

static void reap(pid_t pid, int *status)
{
    if (kind == ISO_LXC)
        return;
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
}

/* CPU share of the group over ms, from its own counters. */
static double measure_cpu(struct iso *iso, const char *name, int ms, double *secs)
{
    struct iso_usage u0, u1;
    struct err e = {0};
    int64_t t0, t1;

    if (iso_usage(iso, name, &u0, &e) != 0)
        return -1;
    t0 = clock_now_ms();
    clock_sleep_ms(ms);
    if (iso_usage(iso, name, &u1, &e) != 0)
        return -1;
    t1 = clock_now_ms();
    *secs = (double)(t1 - t0) / 1000.0;
    return (double)(u1.cpu_usec - u0.cpu_usec) / 1000.0 / (double)(t1 - t0);
}

static unsigned long long start_time(pid_t pid)
{
    struct proc_stat p;

    return proc_stat_read(pid, &p) == 0 ? p.starttime : 0;
}

static void cleanup(struct iso *iso, const char *name)
{
    struct err e = {0};

    if (iso_exists(iso, name)) {
        if (iso_stop(iso, name, SIGKILL, 0, &e) != 0 || iso_destroy(iso, name, &e) != 0)
            printf("cleanup of \"%s\": %s\n", name, e.msg);
    }
}

static bool gone(struct iso *iso, const char *name, const char *tag)
{
    pid_t *pids = NULL;
    size_t n = 0;
    struct err e = {0};
    int rc = iso_pids(iso, name, &pids, &n, &e);

    free(pids);
    return !iso_exists(iso, name) && rc != 0 && e.code == ISO_ENOENT && count_tagged(tag) == 0;
}

/* ---- the checks ---- */

static void test_failed_start(struct iso *iso, const char *user)
{
    struct iso_limits lim = {.cpu_millis = 100, .memory_mb = 64};
    struct err e = {0};
    pid_t pid = 0;
    char tag[96];
    char *log = path_in("bad.log");

    {
        char *argv[] = {"/nonexistent/engine", NULL};
        struct iso_exec ex = {argv, user, workdir, log, NULL};
        int rc = iso_start(iso, "bad1", &lim, &ex, &pid, &e);
        check(rc != 0 && !iso_exists(iso, "bad1"), "failed start (no such program) leaves nothing",
              "%s", e.msg);
    }
    snprintf(tag, sizeof(tag), "tag-%s-bad2", root);
    {
        char *argv[] = {self, "spin", tag, NULL};
        struct iso_exec ex = {argv, user, "/nonexistent-dir", log, NULL};
        int rc;
        err_clear(&e);
        rc = iso_start(iso, "bad2", &lim, &ex, &pid, &e);
        check(rc != 0 && !iso_exists(iso, "bad2") && count_tagged(tag) == 0,
              "failed start (bad working directory) leaves no process and no group", "%s", e.msg);
    }
    /* cgroups: a failure in the child after it joined the group (the user cannot enter the
     * directory); LXC changes directory as root before setpriv, so this would start there */
    if (kind != ISO_LXC && user) {
        char *closed = path_in("closed");
        char *argv[] = {self, "spin", tag, NULL};
        struct iso_exec ex = {argv, user, closed, log, NULL};
        int rc;
        snprintf(tag, sizeof(tag), "tag-%s-bad3", root);
        mkdir(closed, 0700);
        err_clear(&e);
        rc = iso_start(iso, "bad3", &lim, &ex, &pid, &e);
        check(rc != 0 && !iso_exists(iso, "bad3") && count_tagged(tag) == 0,
              "failed start after joining the group leaves no process and no group", "%s", e.msg);
        rmdir(closed);
        free(closed);
        cleanup(iso, "bad3");
    }
    cleanup(iso, "bad1");
    cleanup(iso, "bad2");
    free(log);
}

static void test_cpu(struct iso *iso, const char *user, const char *device,
                     const struct iso_options *opts)
{
    struct iso_limits lim = {.cpu_millis = 200, .memory_mb = 128};
    struct err e = {0};
    pid_t pid = 0, main_pid = 0, other = 0;
    char tag[96];
    char *log = path_in("cpu.log");
    char *argv[] = {self, "spin", tag, NULL};
    struct iso_exec ex = {argv, user, workdir, log, NULL};
    double secs = 0, share;
    unsigned long long st0;
    int status = 0;
    int64_t t0;

    snprintf(lim.device, sizeof(lim.device), "%s", device);
    snprintf(tag, sizeof(tag), "tag-%s-cpu", root);
    unlink(log);
    if (iso_start(iso, "cpu", &lim, &ex, &pid, &e) != 0) {
        check(0, "start a busy loop under a 20% CPU quota", "%s", e.msg);
        goto out;
    }
    check(pid > 0 && wait_ready(pid, log, 5000), "start a busy loop under a 20% CPU quota",
          "pid %d", (int)pid);
    if (user) {
        long uid = status_field(pid, "Uid:"), gid = status_field(pid, "Gid:");
        check(uid > 0 && gid > 0, "engine runs as the user", "uid %ld gid %ld", uid, gid);
    }
    if (kind == ISO_LXC) {
        char a[64], b[64], pa[64];
        ssize_t na, nb;
        snprintf(pa, sizeof(pa), "/proc/%d/ns/net", (int)pid);
        na = readlink(pa, a, sizeof(a) - 1);
        nb = readlink("/proc/self/ns/net", b, sizeof(b) - 1);
        a[na > 0 ? na : 0] = '\0';
        b[nb > 0 ? nb : 0] = '\0';
        check(na > 0 && nb > 0 && strcmp(a, b) == 0, "container shares the host network namespace",
              "%s vs %s", a, b);
        long nspid = status_field(pid, "NSpid:");
        check(nspid == pid, "pid is the host pid of the container's init", "NSpid starts with %ld",
              nspid);
    } else {
        check(getsid(pid) == pid, "engine leads its own session", "sid %d", (int)getsid(pid));
    }
    err_clear(&e);
    {
        bool ok = iso_exists(iso, "cpu") && iso_main_pid(iso, "cpu", &main_pid, &e) == 0;
        check(ok && main_pid == pid, "main pid found from the group", "%d %s", (int)main_pid,
              e.msg);
    }
    {
        char *argv2[] = {self, "spin", tag, NULL};
        struct iso_exec ex2 = {argv2, user, workdir, log, NULL};
        err_clear(&e);
        int rc = iso_start(iso, "cpu", &lim, &ex2, &other, &e);
        check(rc != 0 && e.code == ISO_EEXIST && proc_alive(pid, 0),
              "starting an existing instance is refused", "%s", e.msg);
    }
    /* re-adopt: a new handle (as after an agent restart) finds the same engine */
    {
        struct iso *again;
        err_clear(&e);
        bool ok;
        again = iso_open(kind, root, opts, &e);
        main_pid = 0;
        ok = again && iso_main_pid(again, "cpu", &main_pid, &e) == 0;
        check(ok && main_pid == pid, "re-adopt from a new handle", "%d %s", (int)main_pid, e.msg);
        iso_close(again);
    }
    {
        bool v2 = kind == ISO_CGROUP_V2;
        long long mem = kernel_value(pid, "memory", v2 ? "memory.max" : "memory.limit_in_bytes");
        long long quota = kernel_value(pid, "cpu", v2 ? "cpu.max" : "cpu.cfs_quota_us");
        check(mem == 128LL * MIB && quota == 20000, "the kernel holds the limits",
              "memory %lld bytes, cpu quota %lld us per 100 ms", mem, quota);
    }
    clock_sleep_ms(300);
    share = measure_cpu(iso, "cpu", 2000, &secs);
    check(share >= 0.18 && share <= 0.22, "20% quota holds a busy loop to 20% +/- 10%",
          "measured %.1f%% over %.2f s", share * 100, secs);
    st0 = start_time(pid);
    lim.cpu_millis = 500;
    lim.memory_mb = 256;
    err_clear(&e);
    check(iso_update(iso, "cpu", &lim, &e) == 0, "live resize to 50% / 256 MiB", "%s", e.msg);
    {
        bool v2 = kind == ISO_CGROUP_V2;
        long long mem = kernel_value(pid, "memory", v2 ? "memory.max" : "memory.limit_in_bytes");
        long long quota = kernel_value(pid, "cpu", v2 ? "cpu.max" : "cpu.cfs_quota_us");
        check(mem == 256LL * MIB && quota == 50000, "the kernel holds the new limits",
              "memory %lld bytes, cpu quota %lld us per 100 ms", mem, quota);
    }
    clock_sleep_ms(300);
    share = measure_cpu(iso, "cpu", 2000, &secs);
    check(share >= 0.45 && share <= 0.55, "after resize the loop gets 50% +/- 10%",
          "measured %.1f%% over %.2f s", share * 100, secs);
    err_clear(&e);
    main_pid = 0;
    {
        bool ok = iso_main_pid(iso, "cpu", &main_pid, &e) == 0;
        check(ok && main_pid == pid && start_time(pid) == st0 && proc_alive(pid, 0),
              "resize keeps the same process", "pid %d", (int)main_pid);
    }
    {
        /* and back to unlimited, still live */
        struct iso_limits open_lim = {0};
        bool v2 = kind == ISO_CGROUP_V2;
        long long mem, quota;
        int rc;
        snprintf(open_lim.device, sizeof(open_lim.device), "%s", device);
        err_clear(&e);
        rc = iso_update(iso, "cpu", &open_lim, &e);
        mem = kernel_value(pid, "memory", v2 ? "memory.max" : "memory.limit_in_bytes");
        quota = kernel_value(pid, "cpu", v2 ? "cpu.max" : "cpu.cfs_quota_us");
        check(rc == 0 && (mem == -1 || mem > (1LL << 50)) && quota == -1 && proc_alive(pid, 0),
              "live resize to unlimited", "memory %lld, cpu quota %lld %s", mem, quota, e.msg);
    }
    {
        struct iso_usage u = {0};
        bool ok;
        err_clear(&e);
        ok = iso_usage(iso, "cpu", &u, &e) == 0;
        check(ok && u.cpu_usec > 0 && u.memory_bytes > 0, "usage is reported",
              "cpu %" PRIu64 " us, memory %" PRIu64 " bytes, io r/w %" PRIu64 "/%" PRIu64
              " bytes, oom kills %" PRId64 " %s",
              u.cpu_usec, u.memory_bytes, u.io_read_bytes, u.io_write_bytes, u.oom_kills, e.msg);
    }
    t0 = clock_now_ms();
    err_clear(&e);
    {
        int rc = iso_stop(iso, "cpu", SIGTERM, 3000, &e);
        int64_t took = clock_now_ms() - t0;
        check(rc == 0 && took < 3000 && !proc_alive(pid, 0), "SIGTERM stops it before the deadline",
              "%" PRId64 " ms %s", took, e.msg);
    }
    err_clear(&e);
    check(iso_destroy(iso, "cpu", &e) == 0, "destroy after stop", "%s", e.msg);
    reap(pid, &status);
    check(gone(iso, "cpu", tag), "stop + destroy leave no process and no group", "%s", "");
out:
    cleanup(iso, "cpu");
    free(log);
}

static void test_stubborn(struct iso *iso, const char *user)
{
    struct iso_limits lim = {.cpu_millis = 100, .memory_mb = 64};
    struct err e = {0};
    pid_t pid = 0;
    char tag[96];
    char *log = path_in("stubborn.log");
    char *argv[] = {self, "spin", "--ignore-term", tag, NULL};
    struct iso_exec ex = {argv, user, workdir, log, NULL};
    int64_t t0, took;
    int rc;

    snprintf(tag, sizeof(tag), "tag-%s-stubborn", root);
    unlink(log);
    if (iso_start(iso, "stubborn", &lim, &ex, &pid, &e) != 0 || !wait_ready(pid, log, 5000)) {
        check(0, "start a process that ignores SIGTERM", "%s", e.msg);
        goto out;
    }
    t0 = clock_now_ms();
    rc = iso_stop(iso, "stubborn", SIGTERM, 300, &e);
    took = clock_now_ms() - t0;
    check(rc == 0 && took >= 300 && took < 5000 && !proc_alive(pid, 0),
          "SIGKILL after the deadline", "stopped in %" PRId64 " ms (deadline 300) %s", took, e.msg);
    err_clear(&e);
    check(iso_destroy(iso, "stubborn", &e) == 0, "destroy", "%s", e.msg);
    reap(pid, NULL);
    check(gone(iso, "stubborn", tag), "nothing left after a forced stop", "%s", "");
out:
    cleanup(iso, "stubborn");
    free(log);
}

static void test_memory(struct iso *iso, const char *user)
{
    struct iso_limits lim = {.cpu_millis = 1000, .memory_mb = 64};
    struct err e = {0};
    pid_t pid = 0;
    char tag[96];
    char *log = path_in("hog.log");
    char *argv[] = {self, "hog", "200", tag, NULL};
    struct iso_exec ex = {argv, user, workdir, log, NULL};
    int64_t deadline;
    int status = 0;
    char *text;

    snprintf(tag, sizeof(tag), "tag-%s-mem", root);
    unlink(log);
    if (iso_start(iso, "mem", &lim, &ex, &pid, &e) != 0) {
        check(0, "start a 200 MiB allocator under a 64 MiB limit", "%s", e.msg);
        goto out;
    }
    deadline = clock_now_ms() + 20000;
    while (proc_alive(pid, 0) && clock_now_ms() < deadline)
        clock_sleep_ms(20);
    check(!proc_alive(pid, 0), "64 MiB limit: the 200 MiB allocator dies", "%s", "");
    if (kind != ISO_LXC) {
        struct iso_usage u = {0};
        bool ok;
        reap(pid, &status);
        check(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "it was SIGKILLed", "status 0x%x",
              status);
        err_clear(&e);
        ok = iso_usage(iso, "mem", &u, &e) == 0;
        check(ok && u.oom_kills >= 1, "the group counts an OOM kill", "oom_kills %" PRId64 " %s",
              u.oom_kills, e.msg);
    } else {
        /* the init died: libvirt tears the transient domain down by itself */
        deadline = clock_now_ms() + 10000;
        while (iso_exists(iso, "mem") && clock_now_ms() < deadline)
            clock_sleep_ms(20);
        check(!iso_exists(iso, "mem"), "the domain ends with its init", "%s", "");
    }
    text = fileio_read(log, SIZE_MAX, 0, NULL);
    {
        const char *last = text ? strstr(text, "allocated") : NULL;
        int max_mb = 0;
        while (last) {
            int v;
            if (sscanf(last, "allocated %d MiB", &v) == 1)
                max_mb = v;
            last = strstr(last + 1, "allocated");
        }
        check(text && !strstr(text, "done") && max_mb < 64, "killed before reaching the limit",
              "last report %d MiB", max_mb);
    }
    free(text);
    err_clear(&e);
    check(iso_stop(iso, "mem", SIGTERM, 100, &e) == 0 && iso_destroy(iso, "mem", &e) == 0,
          "stop + destroy", "%s", e.msg);
    check(gone(iso, "mem", tag), "nothing left after an OOM kill", "%s", "");
out:
    cleanup(iso, "mem");
    free(log);
}

static void test_io(struct iso *iso, const char *user, const char *device)
{
    struct iso_limits lim = {.cpu_millis = 1000, .memory_mb = 128, .write_bps = 4 * MIB};
    struct err e = {0};
    pid_t pid = 0;
    char tag[96];
    char *log = path_in("io.log");
    char *data = path_in("io.data");
    char *argv[] = {self, "write", data, "12", tag, NULL};
    struct iso_exec ex = {argv, user, workdir, log, NULL};
    int64_t deadline;
    char *text = NULL;
    double secs = 0;
    int mb = 0;

    snprintf(lim.device, sizeof(lim.device), "%s", device);
    snprintf(tag, sizeof(tag), "tag-%s-io", root);
    unlink(log);
    if (iso_start(iso, "io", &lim, &ex, &pid, &e) != 0) {
        check(0, "start a direct-IO writer under 4 MiB/s", "%s", e.msg);
        goto out;
    }
    deadline = clock_now_ms() + 30000;
    while (clock_now_ms() < deadline) {
        free(text);
        text = fileio_read(log, SIZE_MAX, 0, NULL);
        if (text && (strstr(text, "wrote") || strstr(text, "open") || strstr(text, "write:")))
            break;
        if (!proc_alive(pid, 0))
            break;
        clock_sleep_ms(50);
    }
    if (text && strstr(text, "wrote"))
        sscanf(strstr(text, "wrote"), "wrote %d MiB in %lf s", &mb, &secs);
    if (text)
        text[strcspn(text, "\n")] = '\0';
    check(mb == 12 && secs > 0 && (double)mb / secs <= 4.4,
          "4 MiB/s write limit holds O_DIRECT writes", "12 MiB in %.2f s = %.2f MiB/s (%s)", secs,
          secs > 0 ? mb / secs : 0.0, text ? text : "no output");
    {
        struct iso_usage u = {0};
        bool ok;
        err_clear(&e);
        ok = iso_usage(iso, "io", &u, &e) == 0;
        check(ok && u.io_write_bytes >= 12ULL * MIB, "written bytes are counted",
              "io_write_bytes %" PRIu64 " %s", u.io_write_bytes, e.msg);
    }
    err_clear(&e);
    check(iso_stop(iso, "io", SIGTERM, 3000, &e) == 0 && iso_destroy(iso, "io", &e) == 0,
          "stop + destroy", "%s", e.msg);
    reap(pid, NULL);
    check(gone(iso, "io", tag), "nothing left", "%s", "");
out:
    free(text);
    cleanup(iso, "io");
    unlink(data);
    free(data);
    free(log);
}

static void remove_workdir(void)
{
    DIR *d = opendir(workdir);
    struct dirent *de;

    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *f = path_in(de->d_name);
        unlink(f);
        free(f);
    }
    if (d)
        closedir(d);
    rmdir(workdir);
}

static int usage(void)
{
    fprintf(stderr, "usage: iso_check cgroup|cgroup-v1|cgroup-v2|lxc [--uri URI] [--user USER] "
                    "[--dir DIR]\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct iso_options opts = {0};
    const char *user = "nobody";
    const char *parent = "/var/tmp";
    char device[ISO_DEVICE_MAX] = "";
    struct iso *iso = NULL;
    struct err e = {0};
    ssize_t n;

    if (argc >= 2 && strcmp(argv[1], LXC_INIT_CMD) == 0)
        return lxc_init_main(argc - 1, argv + 1); /* the LXC backend's container init */
    if (argc >= 2 && strcmp(argv[1], "spin") == 0)
        return mode_spin(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "hog") == 0)
        return mode_hog(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "write") == 0)
        return mode_write(argc, argv);
    if (argc < 2 || iso_kind_parse(argv[1], &kind, &e) != 0)
        return usage();
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--uri") == 0 && i + 1 < argc)
            opts.libvirt_uri = argv[++i];
        else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
            user = argv[++i];
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            parent = argv[++i];
        else
            return usage();
    }
    if (geteuid() != 0) {
        fprintf(stderr, "iso_check: must run as root\n");
        return 2;
    }
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        fprintf(stderr, "iso_check: cannot find my own path\n");
        return 2;
    }
    self[n] = '\0';
    opts.lxc_init = self;
    snprintf(root, sizeof(root), "isochk%d", (int)getpid());
    snprintf(workdir, sizeof(workdir), "%s/iso_check.XXXXXX", parent);
    if (!mkdtemp(workdir) || chmod(workdir, 01777) != 0) {
        fprintf(stderr, "iso_check: cannot create a directory in %s: %s\n", parent,
                strerror(errno));
        return 2;
    }

    iso = iso_open(kind, root, &opts, &e);
    check(iso != NULL, "open the backend", "%s %s", iso ? iso_kind_name(iso_kind_of(iso)) : "",
          e.msg);
    if (!iso)
        goto out;
    kind = iso_kind_of(iso);
    err_clear(&e);
    check(iso_block_device(workdir, device, &e) == 0, "find the disk holding the work directory",
          "%s %s", device, e.msg);

    test_failed_start(iso, user);
    test_cpu(iso, user, device, &opts);
    test_stubborn(iso, user);
    test_memory(iso, user);
    if (device[0])
        test_io(iso, user, device);

    err_clear(&e);
    check(iso_remove_root(iso, &e) == 0, "remove the parent group", "%s", e.msg);
    if (kind == ISO_CGROUP_V1) {
        const char *hier[] = {"cpu", "cpuacct", "memory", "blkio"};
        int left = 0;
        for (size_t i = 0; i < 4; i++) {
            char *p = xasprintf("/sys/fs/cgroup/%s/%s", hier[i], root);
            struct stat st;
            left += stat(p, &st) == 0;
            free(p);
        }
        check(left == 0, "no cgroup directory left in any hierarchy", "%d left", left);
    }
    {
        char tag[96];
        snprintf(tag, sizeof(tag), "tag-%s-", root);
        check(count_tagged(tag) == 0, "no test process left", "%s", "");
    }
out:
    iso_close(iso);
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    remove_workdir();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
