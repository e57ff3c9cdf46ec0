/* Unit tests for lib/lines: picking the last lines of an output for an error message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "lib/lines.h"

static bool keep_all(const char *line)
{
    return *line != '\0';
}

static bool errors_only(const char *line)
{
    return strncmp(line, "ERROR:", 6) == 0 || strncmp(line, "FATAL:", 6) == 0;
}

static size_t skip_tag(const char *line)
{
    (void)line;
    return 6;
}

static void test_pick(void **state)
{
    struct buf out = BUF_INIT;
    char longline[400];

    (void)state;
    lines_pick("a\nb\r\nc\n\nd\ne", keep_all, NULL, 3, &out);
    assert_string_equal(buf_str(&out), "c; d; e");
    buf_reset(&out);
    lines_pick("", keep_all, NULL, 3, &out);
    assert_string_equal(buf_str(&out), "");
    lines_pick(NULL, keep_all, NULL, 3, &out);
    assert_string_equal(buf_str(&out), "");
    lines_pick("a\nb", keep_all, NULL, 0, &out);
    assert_string_equal(buf_str(&out), "");
    memset(longline, 'x', sizeof(longline) - 1);
    longline[sizeof(longline) - 1] = '\0';
    lines_pick(longline, keep_all, NULL, 3, &out);
    assert_int_equal(out.len, LINES_MAX_LEN);
    buf_free(&out);
}

static void test_pick_skip(void **state)
{
    struct buf out = BUF_INIT;

    (void)state;
    lines_pick("LOG:  start\nERROR:  bad thing\nLOG: x\nFATAL:  worse thing\n", errors_only,
               skip_tag, 4, &out);
    assert_string_equal(buf_str(&out), "bad thing; worse thing");
    /* appended after what is there, with a separator */
    lines_pick("ERROR: more", errors_only, skip_tag, 4, &out);
    assert_string_equal(buf_str(&out), "bad thing; worse thing; more");
    buf_free(&out);
}

static void test_last(void **state)
{
    struct buf out = BUF_INIT;

    (void)state;
    lines_last("one\n  \n\ttwo\nthree\n\t\nfour\n\n", 3, &out);
    assert_string_equal(buf_str(&out), "\ttwo; three; four");
    buf_reset(&out);
    lines_last("a\nb\n", 4, &out);
    assert_string_equal(buf_str(&out), "a; b");
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pick),
        cmocka_unit_test(test_pick_skip),
        cmocka_unit_test(test_last),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
