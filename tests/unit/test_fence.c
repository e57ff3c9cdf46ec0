/* Unit tests for agent/fence: the guard's pipe frames, its deadline decision, and the guard
 * process itself (fence_guard_main() in a forked child) against a fake group directory whose
 * cgroup.procs lists a sleeping child of the test: killed after the deadline and not before,
 * a newer deadline postpones it, the pipe's end does not stop a pending deadline, a marker is
 * left per fenced member. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/fence.h"
#include "lib/clock.h"
#include "lib/proc.h"

static void test_codec(void **state)
{
    static struct fence_msg m, out;
    struct buf b = BUF_INIT;
    struct err e;
    long used;

    (void)state;
    memset(&m, 0, sizeof(m));
    m.deadline_ms = 123456789;
    m.n = 2;
    m.t[0].id = 7;
    snprintf(m.t[0].dir, sizeof(m.t[0].dir), "/sys/fs/cgroup/memory/dbaas/a1-m7");
    m.t[1].id = 9;
    snprintf(m.t[1].dir, sizeof(m.t[1].dir), "/sys/fs/cgroup/memory/machine/lxc-1.libvirt-lxc");
    fence_msg_encode(&m, &b);
    assert_memory_equal(b.data, "DBF1", 4);
    /* every prefix is "more, please"; the whole frame decodes to the same message */
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(fence_msg_decode((unsigned char *)b.data, n, &out, &e), 0);
    used = fence_msg_decode((unsigned char *)b.data, b.len, &out, &e);
    assert_int_equal(used, (long)b.len);
    assert_int_equal(out.deadline_ms, 123456789);
    assert_int_equal(out.n, 2);
    assert_int_equal(out.t[1].id, 9);
    assert_string_equal(out.t[1].dir, m.t[1].dir);
    /* two frames back to back: the first one's length */
    fence_msg_encode(&m, &b);
    assert_int_equal(fence_msg_decode((unsigned char *)b.data, b.len, &out, &e), used);
    buf_free(&b);

    /* a disarming message: no target, deadline 0 */
    memset(&m, 0, sizeof(m));
    fence_msg_encode(&m, &b);
    assert_int_equal(fence_msg_decode((unsigned char *)b.data, b.len, &out, &e), (long)b.len);
    assert_int_equal(out.deadline_ms, 0);
    assert_int_equal(out.n, 0);
    buf_free(&b);
}

static void test_codec_refused(void **state)
{
    static struct fence_msg out;
    static const char *const bad[] = {
        "1000\n0 /x\n",       /* member id 0 */
        "1000\n7 relative\n", /* not an absolute path */
        "1000\n7 /a/../b\n",  /* a ".." component */
        "-5\n",               /* negative deadline */
        "1000\n7 /x",         /* no final newline */
        "soon\n",             /* not a number */
    };
    struct err e;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned char frame[256];
        size_t len = strlen(bad[i]);
        memcpy(frame, "DBF1", 4);
        frame[4] = frame[5] = frame[6] = 0;
        frame[7] = (unsigned char)len;
        memcpy(frame + 8, bad[i], len);
        assert_int_equal(fence_msg_decode(frame, 8 + len, &out, &e), -1);
    }
    assert_int_equal(fence_msg_decode((const unsigned char *)"XXXX\0\0\0\1\n", 9, &out, &e), -1);
    /* a length over the limit is refused at once, not waited for */
    assert_int_equal(fence_msg_decode((const unsigned char *)"DBF1\x7f\0\0\0", 8, &out, &e), -1);
}

static void test_deadline(void **state)
{
    struct fence_msg m;

    (void)state;
    memset(&m, 0, sizeof(m));
    assert_int_equal(fence_wait_ms(&m, 5000), -1); /* disarmed: wait for a message */
    assert_false(fence_due(&m, 5000));
    m.deadline_ms = 6000;
    assert_int_equal(fence_wait_ms(&m, 5000), 1000);
    assert_false(fence_due(&m, 5999));
    assert_true(fence_due(&m, 6000));
    assert_int_equal(fence_wait_ms(&m, 7000), 0);
}

/* A temporary data directory and a fake group directory in it with a cgroup.procs listing the
 * pid of a sleeping child. */
struct rig {
    char data[64];
    char group[128];
    pid_t victim;
};

static void rig_up(struct rig *r)
{
    char procs[192];
    FILE *f;

    snprintf(r->data, sizeof(r->data), "/tmp/test-fence-XXXXXX");
    assert_non_null(mkdtemp(r->data));
    snprintf(r->group, sizeof(r->group), "%s/grp", r->data);
    assert_int_equal(mkdir(r->group, 0700), 0);
    r->victim = fork();
    assert_true(r->victim >= 0);
    if (r->victim == 0) {
        for (;;)
            pause();
    }
    snprintf(procs, sizeof(procs), "%s/cgroup.procs", r->group);
    f = fopen(procs, "w");
    assert_non_null(f);
    fprintf(f, "%d\n", (int)r->victim);
    fclose(f);
}

static void rig_down(struct rig *r)
{
    char cmd[128];

    kill(r->victim, SIGKILL);
    waitpid(r->victim, NULL, 0);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", r->data);
    assert_int_equal(system(cmd), 0);
}

/* The guard in a child reading the returned pipe's read end. */
static pid_t guard_start(const struct rig *r, int *wfd)
{
    int p[2];
    pid_t g;

    assert_int_equal(pipe(p), 0);
    g = fork();
    assert_true(g >= 0);
    if (g == 0) {
        close(p[1]);
        _exit(fence_guard_main(p[0], r->data));
    }
    close(p[0]);
    *wfd = p[1];
    return g;
}

/* Whether the victim is still running (not a zombie: the test is its parent and has not reaped
 * it yet). */
static bool victim_alive(const struct rig *r)
{
    return proc_alive(r->victim, 0);
}

static void feed(int wfd, const struct rig *r, int64_t deadline)
{
    static struct fence_msg m;
    struct err e;

    memset(&m, 0, sizeof(m));
    m.deadline_ms = deadline;
    m.n = 1;
    m.t[0].id = 42;
    snprintf(m.t[0].dir, sizeof(m.t[0].dir), "%s", r->group);
    assert_int_equal(fence_guard_feed(wfd, &m, &e), 0);
}

static bool marker_exists(const struct rig *r);

/* The guard writes the marker once the group is empty: wait for it (2 s at most). */
static bool marker_appears(const struct rig *r)
{
    for (int i = 0; i < 200 && !marker_exists(r); i++)
        clock_sleep_ms(10);
    return marker_exists(r);
}

static bool marker_exists(const struct rig *r)
{
    char path[192];
    struct stat st;

    snprintf(path, sizeof(path), "%s/fenced/42", r->data);
    return stat(path, &st) == 0;
}

/* Killed after the deadline, not before; a newer message postponed it; a marker is left; the
 * guard keeps running while its pipe is open. */
static void test_guard_fires(void **state)
{
    struct rig r;
    int wfd, status;
    pid_t g;
    int64_t t0, fired_after = -1;

    (void)state;
    rig_up(&r);
    g = guard_start(&r, &wfd);
    t0 = clock_now_ms();
    feed(wfd, &r, t0 + 300);
    clock_sleep_ms(200);
    feed(wfd, &r, clock_now_ms() + 300); /* renewed: the first deadline must not fire */
    t0 = clock_now_ms();
    while (clock_now_ms() - t0 < 3000) {
        if (!victim_alive(&r)) {
            fired_after = clock_now_ms() - t0;
            break;
        }
        clock_sleep_ms(10);
    }
    assert_true(fired_after >= 250); /* not before the renewed deadline */
    assert_true(fired_after < 1500);
    assert_true(waitpid(r.victim, &status, 0) == r.victim);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_true(marker_appears(&r));
    {
        int64_t *ids, *at;
        size_t n;
        fence_markers_read(r.data, &ids, &at, &n);
        assert_int_equal(n, 1);
        assert_int_equal(ids[0], 42);
        assert_true(at[0] > 0);
        free(ids);
        free(at);
        fence_marker_remove(r.data, 42);
        assert_false(marker_exists(&r));
    }
    /* it keeps running: the agent is still there */
    assert_int_equal(waitpid(g, &status, WNOHANG), 0);
    close(wfd); /* the agent is gone, nothing armed: the guard exits */
    assert_true(waitpid(g, &status, 0) == g);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    rig_down(&r);
}

/* The agent gone (pipe closed) with a deadline pending: the guard still fires, then exits. A
 * disarming message in between would have kept it quiet. */
static void test_guard_orphaned(void **state)
{
    struct rig r;
    int wfd, status;
    pid_t g;
    int64_t t0;

    (void)state;
    rig_up(&r);
    g = guard_start(&r, &wfd);
    t0 = clock_now_ms();
    feed(wfd, &r, t0 + 300);
    close(wfd);
    clock_sleep_ms(150);
    assert_true(victim_alive(&r));
    assert_true(waitpid(g, &status, 0) == g); /* it exits only after firing */
    assert_true(clock_now_ms() - t0 >= 300);
    assert_true(waitpid(r.victim, &status, 0) == r.victim);
    assert_true(WIFSIGNALED(status));
    assert_true(marker_exists(&r));
    rig_down(&r);

    /* disarmed before the agent left: nothing fires, the guard exits at once */
    rig_up(&r);
    g = guard_start(&r, &wfd);
    feed(wfd, &r, clock_now_ms() + 300);
    feed(wfd, &r, 0);
    close(wfd);
    assert_true(waitpid(g, &status, 0) == g);
    clock_sleep_ms(400);
    assert_true(victim_alive(&r));
    assert_false(marker_exists(&r));
    rig_down(&r);
}

/* A frame cut short when the agent died mid-write counts for nothing: the earlier deadline
 * still fires. */
static void test_guard_partial_frame(void **state)
{
    static struct fence_msg m;
    struct buf b = BUF_INIT;
    struct rig r;
    int wfd, status;
    pid_t g;

    (void)state;
    rig_up(&r);
    g = guard_start(&r, &wfd);
    feed(wfd, &r, clock_now_ms() + 200);
    memset(&m, 0, sizeof(m));
    m.deadline_ms = clock_now_ms() + 60000; /* a far deadline, never completely written */
    fence_msg_encode(&m, &b);
    assert_int_equal(write(wfd, b.data, b.len - 3), (ssize_t)(b.len - 3));
    buf_free(&b);
    close(wfd);
    assert_true(waitpid(g, &status, 0) == g);
    assert_true(waitpid(r.victim, &status, 0) == r.victim);
    assert_true(WIFSIGNALED(status));
    rig_down(&r);
}

/* Subgroups are emptied too, and an empty or missing group is no error. */
static void test_kill_group(void **state)
{
    struct rig r;
    char sub[192], procs[224];
    struct err e;
    FILE *f;
    int killed, status;

    (void)state;
    rig_up(&r);
    /* move the victim's line to a subgroup */
    snprintf(sub, sizeof(sub), "%s/sub", r.group);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(procs, sizeof(procs), "%s/cgroup.procs", sub);
    f = fopen(procs, "w");
    fprintf(f, "%d\n", (int)r.victim);
    fclose(f);
    snprintf(procs, sizeof(procs), "%s/cgroup.procs", r.group);
    f = fopen(procs, "w");
    fclose(f);
    /* the fake files never empty themselves: the rounds end once the victim is a zombie */
    assert_int_equal(fence_kill_group(r.group, &killed, &e), 0);
    assert_true(killed >= 1);
    assert_true(waitpid(r.victim, &status, 0) == r.victim);
    assert_int_equal(fence_kill_group("/nonexistent/group", &killed, &e), 0);
    assert_int_equal(killed, 0);
    rig_down(&r);
}

/* This process's own group is refused (fencing it would kill the caller). */
static void test_group_dir_self(void **state)
{
    char dir[FENCE_DIR_MAX];
    struct err e;

    (void)state;
    assert_int_equal(fence_group_dir(getpid(), dir, &e), -1);
    assert_int_equal(fence_group_dir(999999999, dir, &e), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec),          cmocka_unit_test(test_codec_refused),
        cmocka_unit_test(test_deadline),       cmocka_unit_test(test_guard_fires),
        cmocka_unit_test(test_guard_orphaned), cmocka_unit_test(test_guard_partial_frame),
        cmocka_unit_test(test_kill_group),     cmocka_unit_test(test_group_dir_self),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
