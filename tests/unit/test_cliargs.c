/* Unit tests for cli/args.c: option parsing and the value parsers of dbaasctl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/args.h"

static const struct args_spec specs_cmd[] = {
    {"cpu", ARGS_VALUE, "Q", true, "cpu"},
    {"engines", ARGS_VALUE, "LIST", false, "engines"},
    {"wait", ARGS_FLAG, NULL, false, "wait"},
    {0},
};

static const struct args_spec specs_global[] = {
    {"json", ARGS_FLAG, NULL, false, "json"},
    {"url", ARGS_VALUE, "URL", false, "url"},
    {"help", ARGS_FLAG, NULL, false, "help"},
    {0},
};

static const struct args_spec *const tables[] = {specs_cmd, specs_global, NULL};

static int parse(struct args *a, struct err *e, int argc, char **argv)
{
    err_clear(e);
    return args_parse(a, tables, argc, argv, false, NULL, e);
}

static void test_parse_mixed(void **state)
{
    char *argv[] = {"db1", "--cpu", "500m", "--json", "extra", "--url=http://x:1", "--wait"};
    struct args a;
    struct err e;

    (void)state;
    assert_int_equal(parse(&a, &e, 7, argv), 0);
    assert_int_equal(a.npos, 2);
    assert_string_equal(a.pos[0], "db1");
    assert_string_equal(a.pos[1], "extra");
    assert_string_equal(args_get(&a, "cpu"), "500m");
    assert_string_equal(args_get(&a, "url"), "http://x:1");
    assert_string_equal(args_get(&a, "json"), "");
    assert_true(args_has(&a, "wait"));
    assert_false(args_has(&a, "engines"));
    assert_null(args_get(&a, "engines"));
    assert_null(args_missing(&a, tables));
}

static void test_parse_repeat_and_dashdash(void **state)
{
    char *argv[] = {"--cpu", "1", "--cpu=2", "--", "--json", "-"};
    struct args a;
    struct err e;

    (void)state;
    assert_int_equal(parse(&a, &e, 6, argv), 0);
    assert_string_equal(args_get(&a, "cpu"), "2");
    assert_false(args_has(&a, "json"));
    assert_int_equal(a.npos, 2);
    assert_string_equal(a.pos[0], "--json");
    assert_string_equal(a.pos[1], "-");
}

static void test_parse_value_may_look_like_option(void **state)
{
    char *argv[] = {"--engines", "--json", "--cpu="};
    struct args a;
    struct err e;

    (void)state;
    assert_int_equal(parse(&a, &e, 3, argv), 0);
    assert_string_equal(args_get(&a, "engines"), "--json");
    assert_string_equal(args_get(&a, "cpu"), "");
    assert_false(args_has(&a, "json"));
}

static void test_parse_errors(void **state)
{
    char *unknown[] = {"--nope"};
    char *unknown_eq[] = {"--nope=1"};
    char *single[] = {"-x"};
    char *novalue[] = {"x", "--cpu"};
    char *flagvalue[] = {"--json=yes"};
    char *many[] = {"1", "2", "3", "4", "5", "6", "7", "8", "9"};
    struct args a;
    struct err e;

    (void)state;
    assert_int_equal(parse(&a, &e, 1, unknown), -1);
    assert_string_equal(e.msg, "unknown option \"--nope\"");
    assert_int_equal(parse(&a, &e, 1, unknown_eq), -1);
    assert_string_equal(e.msg, "unknown option \"--nope\"");
    assert_int_equal(parse(&a, &e, 1, single), -1);
    assert_string_equal(e.msg, "unknown option \"-x\"");
    assert_int_equal(parse(&a, &e, 2, novalue), -1);
    assert_string_equal(e.msg, "option \"--cpu\" needs a value");
    assert_int_equal(parse(&a, &e, 1, flagvalue), -1);
    assert_string_equal(e.msg, "option \"--json\" takes no value");
    assert_int_equal(parse(&a, &e, 9, many), -1);
    assert_string_equal(e.msg, "too many arguments");
}

static void test_parse_prefix_is_not_a_match(void **state)
{
    char *argv[] = {"--cp", "1"};
    char *longer[] = {"--cpus", "1"};
    struct args a;
    struct err e;

    (void)state;
    assert_int_equal(parse(&a, &e, 2, argv), -1);
    assert_int_equal(parse(&a, &e, 2, longer), -1);
}

static void test_parse_short_help(void **state)
{
    char *argv[] = {"-h"};
    const struct args_spec *no_help[] = {specs_cmd, NULL};
    struct args a;
    struct err e;

    (void)state;
    assert_int_equal(parse(&a, &e, 1, argv), 0);
    assert_true(args_has(&a, "help"));
    assert_int_equal(args_parse(&a, no_help, 1, argv, false, NULL, &e), -1);
}

static void test_parse_stop_at_positional(void **state)
{
    char *argv[] = {"--json", "--url", "http://h", "tenant", "list", "--wait"};
    char *dd[] = {"--json", "--", "tenant"};
    struct args a;
    struct err e;
    int used = -1;

    (void)state;
    err_clear(&e);
    assert_int_equal(args_parse(&a, tables, 6, argv, true, &used, &e), 0);
    assert_int_equal(used, 3);
    assert_int_equal(a.npos, 0);
    assert_true(args_has(&a, "json"));
    assert_false(args_has(&a, "wait"));
    assert_int_equal(args_parse(&a, tables, 3, dd, true, &used, &e), 0);
    assert_int_equal(used, 2);
    assert_int_equal(args_parse(&a, tables, 0, argv, true, &used, &e), 0);
    assert_int_equal(used, 0);
}

static void test_missing(void **state)
{
    char *argv[] = {"db1", "--wait"};
    struct args a;
    struct err e;
    const struct args_spec *m;

    (void)state;
    assert_int_equal(parse(&a, &e, 2, argv), 0);
    m = args_missing(&a, tables);
    assert_non_null(m);
    assert_string_equal(m->name, "cpu");
}

static void test_parse_int(void **state)
{
    int64_t v = -1;

    (void)state;
    assert_int_equal(args_parse_int("0", 0, 10, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(args_parse_int("10", 0, 10, &v), 0);
    assert_int_equal(v, 10);
    assert_int_equal(args_parse_int("9223372036854775807", 0, INT64_MAX, &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(args_parse_int("9223372036854775808", 0, INT64_MAX, &v), -1);
    assert_int_equal(args_parse_int("11", 0, 10, &v), -1);
    assert_int_equal(args_parse_int("0", 1, 10, &v), -1);
    assert_int_equal(args_parse_int("-1", 0, 10, &v), -1);
    assert_int_equal(args_parse_int("+1", 0, 10, &v), -1);
    assert_int_equal(args_parse_int("", 0, 10, &v), -1);
    assert_int_equal(args_parse_int(" 1", 0, 10, &v), -1);
    assert_int_equal(args_parse_int("1 ", 0, 10, &v), -1);
    assert_int_equal(args_parse_int("1x", 0, 10, &v), -1);
}

static void test_parse_bps(void **state)
{
    int64_t v = -1;

    (void)state;
    assert_int_equal(args_parse_bps("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(args_parse_bps("1048576", &v), 0);
    assert_int_equal(v, 1048576);
    assert_int_equal(args_parse_bps("10Mi", &v), 0);
    assert_int_equal(v, 10 * 1024 * 1024);
    assert_int_equal(args_parse_bps("5M", &v), 0);
    assert_int_equal(v, 5000000);
    assert_int_equal(args_parse_bps("1K", &v), 0);
    assert_int_equal(v, 1000);
    assert_int_equal(args_parse_bps("1Ki", &v), 0);
    assert_int_equal(v, 1024);
    assert_int_equal(args_parse_bps("2G", &v), 0);
    assert_int_equal(v, 2000000000);
    assert_int_equal(args_parse_bps("2Gi", &v), 0);
    assert_true(v == 2LL * 1024 * 1024 * 1024);
    assert_int_equal(args_parse_bps("1Ti", &v), 0);
    assert_true(v == 1024LL * 1024 * 1024 * 1024);
    assert_int_equal(args_parse_bps("8388608Ti", &v), -1); /* 2^63: overflow */
    assert_int_equal(args_parse_bps("99999999999999999999", &v), -1);
    assert_int_equal(args_parse_bps("", &v), -1);
    assert_int_equal(args_parse_bps("M", &v), -1);
    assert_int_equal(args_parse_bps("-1", &v), -1);
    assert_int_equal(args_parse_bps("1.5M", &v), -1);
    assert_int_equal(args_parse_bps("1m", &v), -1);
    assert_int_equal(args_parse_bps("1MiB", &v), -1);
    assert_int_equal(args_parse_bps("1 M", &v), -1);
}

static void test_format_bps(void **state)
{
    char out[32];
    char tiny[4];

    (void)state;
    args_format_bps(0, out, sizeof(out));
    assert_string_equal(out, "0");
    args_format_bps(1234, out, sizeof(out));
    assert_string_equal(out, "1234");
    args_format_bps(10485760, out, sizeof(out));
    assert_string_equal(out, "10Mi");
    args_format_bps(5000000, out, sizeof(out));
    assert_string_equal(out, "5M");
    args_format_bps(1024, out, sizeof(out));
    assert_string_equal(out, "1Ki");
    args_format_bps(3000, out, sizeof(out));
    assert_string_equal(out, "3K");
    args_format_bps(1536, out, sizeof(out));
    assert_string_equal(out, "1536"); /* 1.5Ki: no exact suffix */
    args_format_bps(123456789, tiny, sizeof(tiny));
    assert_string_equal(tiny, "123");
}

static void test_limits(void **state)
{
    int64_t v = -1;

    (void)state;
    assert_int_equal(args_parse_cpu_limit("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(args_parse_cpu_limit("0m", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(args_parse_cpu_limit("0.0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(args_parse_cpu_limit("2500m", &v), 0);
    assert_int_equal(v, 2500);
    assert_int_equal(args_parse_cpu_limit("4", &v), 0);
    assert_int_equal(v, 4000);
    assert_int_equal(args_parse_cpu_limit("-1", &v), -1);
    assert_int_equal(args_parse_cpu_limit("lots", &v), -1);
    assert_int_equal(args_parse_cpu_limit("", &v), -1);
    assert_int_equal(args_parse_mb_limit("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(args_parse_mb_limit("0Gi", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(args_parse_mb_limit("16Gi", &v), 0);
    assert_int_equal(v, 16384);
    assert_int_equal(args_parse_mb_limit("1G", &v), 0);
    assert_int_equal(v, 954);
    assert_int_equal(args_parse_mb_limit("0x", &v), -1);
    assert_int_equal(args_parse_mb_limit("1Xi", &v), -1);
}

static void test_header_safe(void **state)
{
    (void)state;
    assert_true(args_header_safe("dbaas_op_abc-DEF_123", 255));
    assert_true(args_header_safe("a b ~!", 255));
    assert_false(args_header_safe("", 255));
    assert_false(args_header_safe("a\r\nX-Evil: 1", 255));
    assert_false(args_header_safe("tab\there", 255));
    assert_false(args_header_safe("caf\xc3\xa9", 255));
    assert_true(args_header_safe("abc", 3));
    assert_false(args_header_safe("abcd", 3));
}

static char *write_temp(const char *content)
{
    char tmpl[] = "/tmp/test_cliargs.XXXXXX";
    int fd = mkstemp(tmpl);
    size_t len = strlen(content);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    close(fd);
    return strdup(tmpl);
}

static void test_token_file(void **state)
{
    char *path;
    char *tok;
    struct err e;
    char big[5000];

    (void)state;
    err_clear(&e);
    path = write_temp("  \n\tdbaas_op_secret-token\r\n\n");
    tok = args_read_token_file(path, &e);
    assert_non_null(tok);
    assert_string_equal(tok, "dbaas_op_secret-token");
    free(tok);
    unlink(path);
    free(path);

    path = write_temp(" \n\n");
    assert_null(args_read_token_file(path, &e));
    assert_non_null(strstr(e.msg, "is empty"));
    unlink(path);
    free(path);

    path = write_temp("two\nlines\n");
    assert_null(args_read_token_file(path, &e));
    assert_non_null(strstr(e.msg, "cannot be in a token"));
    unlink(path);
    free(path);

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    path = write_temp(big);
    assert_null(args_read_token_file(path, &e));
    assert_non_null(strstr(e.msg, "larger than"));
    unlink(path);
    free(path);

    assert_null(args_read_token_file("/nonexistent/dbaas/token", &e));
    assert_string_equal(e.msg,
                        "could not open token file \"/nonexistent/dbaas/token\": No such file or "
                        "directory");
}

static void test_url_escape(void **state)
{
    struct buf b = BUF_INIT;

    (void)state;
    args_url_escape(&b, "acme-1_X");
    assert_string_equal(buf_str(&b), "acme-1_X");
    buf_reset(&b);
    args_url_escape(&b, "a/../b?c d&e=%.~");
    assert_string_equal(buf_str(&b), "a%2F%2E%2E%2Fb%3Fc%20d%26e%3D%25%2E%7E");
    buf_reset(&b);
    args_url_escape(&b, "\xc3\xa9");
    assert_string_equal(buf_str(&b), "%C3%A9");
    buf_reset(&b);
    args_url_escape(&b, "");
    assert_string_equal(buf_str(&b), "");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_mixed),
        cmocka_unit_test(test_parse_repeat_and_dashdash),
        cmocka_unit_test(test_parse_value_may_look_like_option),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_prefix_is_not_a_match),
        cmocka_unit_test(test_parse_short_help),
        cmocka_unit_test(test_parse_stop_at_positional),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_parse_int),
        cmocka_unit_test(test_parse_bps),
        cmocka_unit_test(test_format_bps),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_header_safe),
        cmocka_unit_test(test_token_file),
        cmocka_unit_test(test_url_escape),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
