/* Unit tests for agent/quarantine (a deleted member's data moved aside, removed after the keep
 * time, with the wall clock passed in: a fake clock) and agent/progress (a start or a seed
 * fails only after a whole window without progress). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/progress.h"
#include "agent/quarantine.h"

static char *path(const char *dir, const char *name)
{
    char *p = NULL;

    assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

static bool exists(const char *dir, const char *name)
{
    char *p = path(dir, name);
    struct stat st;
    bool ok = lstat(p, &st) == 0;

    free(p);
    return ok;
}

/* A member directory with a file and a link planted by "the engine" pointing outside. */
static void make_member(const char *data, const char *id, const char *victim)
{
    char *m = path(data, "members"), *d, *f, *l;

    mkdir(m, 0711);
    d = path(m, id);
    assert_int_equal(mkdir(d, 0700), 0);
    f = path(d, "data.db");
    FILE *fp = fopen(f, "w");
    fputs("rows", fp);
    fclose(fp);
    l = path(d, "link");
    assert_int_equal(symlink(victim, l), 0);
    free(m);
    free(d);
    free(f);
    free(l);
}

static void test_move_and_sweep(void **state)
{
    char tmpl[] = "/tmp/test-quarantine-XXXXXX";
    char *data, *src, *q, *victim, *vfile;
    const time_t t0 = 1700000000;
    struct err e;
    bool moved;

    (void)state;
    data = mkdtemp(tmpl);
    assert_non_null(data);
    victim = path(data, "victim");
    mkdir(victim, 0700);
    vfile = path(victim, "keep-me");
    fclose(fopen(vfile, "w"));
    make_member(data, "7", victim);
    src = path(data, "members/7");
    q = path(data, "quarantine");

    /* the delete moves the directory aside, root-only */
    assert_int_equal(quarantine_move(data, src, 7, t0, &moved, &e), 0);
    assert_true(moved);
    assert_false(exists(data, "members/7"));
    assert_true(exists(q, "7-1700000000"));
    assert_true(exists(q, "7-1700000000/data.db"));
    {
        struct stat st;
        assert_int_equal(stat(q, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0700);
    }
    /* the same member deleted again in the same second (recreated, say): a second entry */
    make_member(data, "7", victim);
    assert_int_equal(quarantine_move(data, src, 7, t0, &moved, &e), 0);
    assert_true(exists(q, "7-1700000000-1"));
    /* nothing to move: not an error */
    assert_int_equal(quarantine_move(data, src, 7, t0, &moved, &e), 0);
    assert_false(moved);
    /* another member, deleted later */
    make_member(data, "8", victim);
    free(src);
    src = path(data, "members/8");
    assert_int_equal(quarantine_move(data, src, 8, t0 + 3600, &moved, &e), 0);

    /* the janitor: nothing before the keep time (24 h) */
    assert_int_equal(quarantine_sweep(data, t0 + 86399, 86400, &e), 0);
    assert_true(exists(q, "7-1700000000"));
    /* member 7's two entries at 24 h; member 8's an hour later */
    assert_int_equal(quarantine_sweep(data, t0 + 86400, 86400, &e), 2);
    assert_false(exists(q, "7-1700000000"));
    assert_false(exists(q, "7-1700000000-1"));
    assert_true(exists(q, "8-1700003600"));
    /* the link was removed, never followed */
    assert_true(exists(victim, "keep-me"));
    assert_int_equal(quarantine_sweep(data, t0 + 86400 + 3600, 86400, &e), 1);
    assert_false(exists(q, "8-1700003600"));
    /* a keep of 0 removes at once; foreign names are left alone */
    {
        char *other = path(q, "not-an-entry");
        mkdir(other, 0700);
        free(other);
    }
    assert_int_equal(quarantine_sweep(data, t0, 0, &e), 0);
    assert_true(exists(q, "not-an-entry"));

    {
        char *cmd = NULL;
        assert_true(asprintf(&cmd, "rm -rf '%s'", data) > 0);
        assert_int_equal(system(cmd), 0);
        free(cmd);
    }
    free(src);
    free(q);
    free(victim);
    free(vfile);
}

static void test_entry_names(void **state)
{
    time_t t;

    (void)state;
    assert_true(quarantine_entry_time("12-1700000000", &t));
    assert_int_equal(t, 1700000000);
    assert_true(quarantine_entry_time("12-1700000000-3", &t));
    assert_false(quarantine_entry_time("12", &t));
    assert_false(quarantine_entry_time("x-1", &t));
    assert_false(quarantine_entry_time("12-", &t));
    assert_false(quarantine_entry_time("12-17x", &t));
    assert_false(quarantine_entry_time("-12-1", &t));
    assert_false(quarantine_entry_time(".", &t));
}

/* A recovering engine: its log or data grows, or it uses CPU: never stalled; a stopped one
 * (SIGSTOP: nothing moves) is stalled after the window. */
static void test_progress(void **state)
{
    struct progress p;
    struct progress_sample s = {100, 1000, 0, 0};

    (void)state;
    progress_init(&p, 0, &s);
    for (int64_t t = 1000; t <= 300000; t += 1000) {
        s.cpu_usec += 50000; /* 5% of a CPU */
        assert_true(progress_note(&p, t, &s));
        assert_false(progress_stalled(&p, t, 60000));
    }
    /* nothing moves any more */
    for (int64_t t = 301000; t < 360000; t += 1000) {
        assert_false(progress_note(&p, t, &s));
        assert_false(progress_stalled(&p, t, 60000));
    }
    assert_false(progress_note(&p, 360000, &s));
    assert_true(progress_stalled(&p, 360000, 60000));
    /* the log grows again */
    s.log_bytes += 10;
    assert_true(progress_note(&p, 361000, &s));
    assert_false(progress_stalled(&p, 361000, 60000));
    /* CPU dribbles below the threshold per sample, counted once it adds up */
    s.cpu_usec += PROGRESS_CPU_USEC / 2;
    assert_false(progress_note(&p, 362000, &s));
    s.cpu_usec += PROGRESS_CPU_USEC / 2;
    assert_true(progress_note(&p, 363000, &s));
    /* a counter that goes down (a rotated log) is not progress; unknown counters neither */
    s.log_bytes = 0;
    assert_false(progress_note(&p, 364000, &s));
    s = (struct progress_sample){-1, -1, -1, -1};
    assert_false(progress_note(&p, 365000, &s));
    /* the data directory grows (a seed arriving) */
    s.dir_bytes = 5000;
    assert_false(progress_note(&p, 366000, &s)); /* from unknown: a new reference */
    s.dir_bytes = 6000;
    assert_true(progress_note(&p, 367000, &s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_move_and_sweep),
        cmocka_unit_test(test_entry_names),
        cmocka_unit_test(test_progress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
