/* Unit tests for lib/proc: the /proc/PID/stat parser on written lines (command names with
 * spaces and parentheses, negative fields, malformed text) and on real processes (ourselves, a
 * child whose command name looks like more fields, a zombie). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/proc.h"

/* Fields 7 to 21 of a real line: tty_nr tpgid(-1) flags minflt cminflt majflt cmajflt utime
 * stime cutime cstime priority(-2, a real-time task) nice(-20) num_threads itrealvalue. */
#define MIDDLE "34816 -1 4194560 1041 0 0 0 3 1 0 0 -2 -20 1 0"
#define TAIL "29496704 15 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"

static void test_parse_plain(void **state)
{
    struct proc_stat st;

    (void)state;
    assert_int_equal(proc_stat_parse("4242 (postgres) S 17 4242 4240 " MIDDLE " 987654 " TAIL, &st),
                     0);
    assert_int_equal(st.pid, 4242);
    assert_int_equal(st.state, 'S');
    assert_int_equal(st.ppid, 17);
    assert_int_equal(st.pgrp, 4242);
    assert_int_equal(st.sid, 4240);
    assert_int_equal(st.starttime, 987654);
    assert_false(proc_state_gone(st.state));

    /* the line may end right after the start time */
    assert_int_equal(proc_stat_parse("7 (x) R 1 7 7 " MIDDLE " 55", &st), 0);
    assert_int_equal(st.starttime, 55);
}

static void test_parse_odd_names(void **state)
{
    struct proc_stat st;

    (void)state;
    /* a command name holding ") (" and what looks like a state and numbers */
    assert_int_equal(proc_stat_parse("99 (a) (b) Z 1 2 3) R 5 6 7 " MIDDLE " 1234 " TAIL, &st), 0);
    assert_int_equal(st.pid, 99);
    assert_int_equal(st.state, 'R');
    assert_int_equal(st.ppid, 5);
    assert_int_equal(st.pgrp, 6);
    assert_int_equal(st.sid, 7);
    assert_int_equal(st.starttime, 1234);

    assert_int_equal(proc_stat_parse("12 (my prog ) D 3 12 12 " MIDDLE " 8 " TAIL, &st), 0);
    assert_int_equal(st.state, 'D');
    assert_int_equal(st.ppid, 3);
    assert_int_equal(proc_stat_parse("12 () S 3 12 12 " MIDDLE " 8 " TAIL, &st), 0);
    assert_int_equal(st.starttime, 8);
}

static void test_parse_zombie(void **state)
{
    struct proc_stat st;

    (void)state;
    assert_int_equal(proc_stat_parse("300 (sh) Z 1 300 300 " MIDDLE " 77 " TAIL, &st), 0);
    assert_int_equal(st.state, 'Z');
    assert_true(proc_state_gone(st.state));
    assert_true(proc_state_gone('X'));
    assert_true(proc_state_gone('x'));
    assert_false(proc_state_gone('R'));
}

static void test_parse_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "garbage",
        "12",
        "12 (sh",
        "12 sh) S 1 2 3",
        "-4 (sh) S 1 2 3 " MIDDLE " 5",
        "12 (sh)S 1 2 3 " MIDDLE " 5",
        "12 (sh) S 1 2 3",                   /* too short: no start time */
        "12 (sh) S 1 2 3 " MIDDLE,           /* one field short */
        "12 (sh) S 1 x 3 " MIDDLE " 5",      /* not a number */
        "12 (sh) S 1 2 3 " MIDDLE " 5abc 6", /* trailing junk in a number */
        "12 (sh) "
        " 1 2 3 " MIDDLE " 5", /* no state */
    };
    struct proc_stat st;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&st, 0x55, sizeof(st));
        if (proc_stat_parse(bad[i], &st) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(st.pid, 0);
        assert_int_equal(st.starttime, 0);
    }
}

static void test_read_self(void **state)
{
    struct proc_stat st;

    (void)state;
    assert_int_equal(proc_stat_read(getpid(), &st), 0);
    assert_int_equal(st.pid, getpid());
    assert_int_equal(st.ppid, getppid());
    assert_int_equal(st.pgrp, getpgrp());
    assert_int_equal(st.sid, getsid(0));
    assert_int_equal(st.state, 'R');
    assert_true(st.starttime > 0);
    assert_int_equal(proc_starttime(getpid()), st.starttime);
    assert_true(proc_alive(getpid(), 0));
    assert_true(proc_alive(getpid(), st.starttime));
    assert_false(proc_alive(getpid(), st.starttime + 1));

    assert_int_equal(proc_stat_read(0, &st), -1);
    assert_int_equal(proc_stat_read(-1, &st), -1);
    assert_int_equal(proc_starttime(0), 0);
    assert_false(proc_alive(-5, 0));
}

/* A live child whose command name is ") (x) Z 1 2": still read as alive, with us as parent. */
static void test_read_odd_child(void **state)
{
    struct proc_stat st;
    int ready[2];
    char c;
    pid_t child;

    (void)state;
    assert_int_equal(pipe(ready), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        prctl(PR_SET_NAME, ") (x) Z 1 2", 0, 0, 0);
        if (write(ready[1], "r", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    close(ready[1]);
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    assert_int_equal(proc_stat_read(child, &st), 0);
    assert_int_equal(st.pid, child);
    assert_int_equal(st.ppid, getpid());
    assert_false(proc_state_gone(st.state));
    assert_true(proc_alive(child, 0));
    assert_true(proc_alive(child, st.starttime));
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
}

/* An exited child that was not reaped yet is a zombie: not alive, no start time. */
static void test_read_zombie(void **state)
{
    struct proc_stat st;
    uint64_t start;
    pid_t child;

    (void)state;
    child = fork();
    assert_true(child >= 0);
    if (child == 0)
        _exit(0);
    for (int i = 0; i < 1000; i++) {
        if (proc_stat_read(child, &st) == 0 && st.state == 'Z')
            break;
        clock_sleep_ms(2);
    }
    assert_int_equal(proc_stat_read(child, &st), 0);
    assert_int_equal(st.state, 'Z');
    assert_int_equal(st.ppid, getpid());
    start = st.starttime;
    assert_true(start > 0);
    assert_false(proc_alive(child, 0));
    assert_false(proc_alive(child, start));
    assert_int_equal(proc_starttime(child), 0);
    assert_int_equal(waitpid(child, NULL, 0), child);
    assert_int_equal(proc_stat_read(child, &st), -1);
    assert_false(proc_alive(child, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_plain),  cmocka_unit_test(test_parse_odd_names),
        cmocka_unit_test(test_parse_zombie), cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_read_self),    cmocka_unit_test(test_read_odd_child),
        cmocka_unit_test(test_read_zombie),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
