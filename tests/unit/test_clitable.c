/* Unit tests for cli/table.c: aligned tables and key/value lines of dbaasctl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/table.h"

/* Run print(t) into a string the caller frees. */
static char *capture_table(const struct table *t)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);

    assert_non_null(f);
    table_print(t, f);
    fclose(f);
    return out;
}

static void test_alignment(void **state)
{
    static const char *const headers[] = {"name", "cpu", "status"};
    struct table *t = table_new(3, headers);
    char *out;

    (void)state;
    table_cell(t, "db1");
    table_cell(t, "500m");
    table_cell(t, "running");
    table_cell(t, "a-much-longer-name");
    table_cellf(t, "%d", 2);
    table_cell(t, NULL);
    out = capture_table(t);
    assert_string_equal(out, "NAME                CPU   STATUS\n"
                             "db1                 500m  running\n"
                             "a-much-longer-name  2     -\n");
    free(out);
    table_free(t);
}

static void test_header_only_and_utf8(void **state)
{
    static const char *const headers[] = {"id", "message"};
    struct table *t = table_new(2, headers);
    char *out;

    (void)state;
    out = capture_table(t);
    assert_string_equal(out, "ID  MESSAGE\n");
    free(out);
    table_cell(t, "\xc3\xa9t\xc3\xa9"); /* "été": 3 characters, 5 bytes */
    table_cell(t, "x");
    table_cell(t, "abcd");
    table_cell(t, "y");
    out = capture_table(t);
    assert_string_equal(out, "ID    MESSAGE\n"
                             "\xc3\xa9t\xc3\xa9   x\n"
                             "abcd  y\n");
    free(out);
    table_free(t);
}

static void test_sanitize(void **state)
{
    static const char *const headers[] = {"message"};
    struct table *t = table_new(1, headers);
    struct buf b = BUF_INIT;
    char *out;

    (void)state;
    table_sanitize(&b, "a\nb\x1b[31mc\x7f\td");
    assert_string_equal(buf_str(&b), "a?b?[31mc??d");
    buf_free(&b);
    table_cell(t, "two\nlines");
    out = capture_table(t);
    assert_string_equal(out, "MESSAGE\ntwo?lines\n");
    free(out);
    table_free(t);
    table_free(NULL);
}

static void test_kv(void **state)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);

    (void)state;
    table_kv(f, "name", "acme");
    table_kv(f, "host", NULL);
    table_kvf(f, "replicas", "%d", 2);
    table_kv(f, "reason", "bad\r\nthing");
    fclose(f);
    assert_string_equal(out, "name: acme\nhost: -\nreplicas: 2\nreason: bad??thing\n");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_header_only_and_utf8),
        cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_kv),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
