/* Unit tests for lib/quantity: CPU and size parsing (values, rounding, rejects) and formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/quantity.h"

static void check_cpu(const char *s, int64_t want)
{
    int64_t got = -1;

    if (quantity_parse_cpu(s, &got) != 0)
        fail_msg("quantity_parse_cpu(\"%s\") failed, want %lld", s, (long long)want);
    if (got != want)
        fail_msg("quantity_parse_cpu(\"%s\") = %lld, want %lld", s, (long long)got,
                 (long long)want);
}

static void check_cpu_bad(const char *s)
{
    int64_t got = 777;

    if (quantity_parse_cpu(s, &got) != -1)
        fail_msg("quantity_parse_cpu(\"%s\") accepted (%lld)", s ? s : "(null)", (long long)got);
    assert_true(got == 777);
}

static void check_mb(const char *s, int64_t want)
{
    int64_t got = -1;

    if (quantity_parse_mb(s, &got) != 0)
        fail_msg("quantity_parse_mb(\"%s\") failed, want %lld", s, (long long)want);
    if (got != want)
        fail_msg("quantity_parse_mb(\"%s\") = %lld, want %lld", s, (long long)got, (long long)want);
}

static void check_mb_bad(const char *s)
{
    int64_t got = 777;

    if (quantity_parse_mb(s, &got) != -1)
        fail_msg("quantity_parse_mb(\"%s\") accepted (%lld)", s ? s : "(null)", (long long)got);
    assert_true(got == 777);
}

static void test_parse_cpu(void **state)
{
    (void)state;
    check_cpu("500m", 500);
    check_cpu("1m", 1);
    check_cpu("0m", 0);
    check_cpu("2", 2000);
    check_cpu("1.5", 1500);
    check_cpu("0.25", 250);
    check_cpu("0.001", 1);
    check_cpu("0.100", 100);
    check_cpu("1.5000", 1500); /* extra zero digits are not finer than 1m */
    check_cpu("0", 0);
    check_cpu("007", 7000);
    check_cpu("64", 64000);
    check_cpu("9223372036854775807m", INT64_MAX);
    check_cpu("9223372036854775.807", INT64_MAX);
}

static void test_parse_cpu_rejects(void **state)
{
    (void)state;
    check_cpu_bad(NULL);
    check_cpu_bad("");
    check_cpu_bad("-1");
    check_cpu_bad("-500m");
    check_cpu_bad("+1");
    check_cpu_bad(" 1");
    check_cpu_bad("1 ");
    check_cpu_bad("1 m");
    check_cpu_bad("m");
    check_cpu_bad(".5");
    check_cpu_bad("1.");
    check_cpu_bad("1.5m");
    check_cpu_bad("0.0005"); /* finer than 1m */
    check_cpu_bad("1.0001");
    check_cpu_bad("500M"); /* mega, not milli */
    check_cpu_bad("500mm");
    check_cpu_bad("1e3");
    check_cpu_bad("0x10");
    check_cpu_bad("abc");
    check_cpu_bad("1,5");
    check_cpu_bad("9223372036854775808m"); /* past INT64_MAX */
    check_cpu_bad("9223372036854776");     /* x1000 overflows */
    check_cpu_bad("9223372036854775.808");
    check_cpu_bad("99999999999999999999999999");
}

static void test_parse_mb(void **state)
{
    (void)state;
    /* the header's examples */
    check_mb("512Mi", 512);
    check_mb("1Gi", 1024);
    check_mb("1Ti", 1048576);
    check_mb("1G", 954);
    check_mb("100M", 96);
    check_mb("2048Ki", 2);
    check_mb("64", 64);
    /* more */
    check_mb("10Gi", 10240);
    check_mb("1Ki", 1);    /* rounded up */
    check_mb("1K", 1);     /* rounded up */
    check_mb("1025Ki", 2); /* just over 1 MiB */
    check_mb("1024Ki", 1);
    check_mb("1M", 1);
    check_mb("1048576K", 1000);
    check_mb("1048577K", 1001);
    check_mb("1T", 953675); /* 10^12 / 2^20 = 953674.3 */
    check_mb("1.5Gi", 1536);
    check_mb("0.5Gi", 512);
    check_mb("1.5", 2);     /* 1.5 MiB rounds up */
    check_mb("0.001Ki", 1); /* a tiny positive size is still 1 MiB */
    check_mb("2.25Ti", 2359296);
    check_mb("1.000000001Gi", 1025);
    check_mb("007Gi", 7168);
    check_mb("9223372036854775807", INT64_MAX);
    check_mb("8796093022207Ti", INT64_C(8796093022207) << 20);
    check_mb("9223372036854775807Ki", INT64_C(9007199254740992)); /* 2^63 KiB rounded up */
}

static void test_parse_mb_rejects(void **state)
{
    (void)state;
    check_mb_bad(NULL);
    check_mb_bad("");
    check_mb_bad("0");
    check_mb_bad("0Gi");
    check_mb_bad("0.0Gi");
    check_mb_bad("-1");
    check_mb_bad("-1Gi");
    check_mb_bad("+1Gi");
    check_mb_bad(" 1Gi");
    check_mb_bad("1Gi ");
    check_mb_bad("1 Gi");
    check_mb_bad("Gi");
    check_mb_bad("1gi");
    check_mb_bad("1GI");
    check_mb_bad("1GiB");
    check_mb_bad("1B");
    check_mb_bad("1Pi");
    check_mb_bad("1P");
    check_mb_bad("1k");
    check_mb_bad("1m");
    check_mb_bad("1i");
    check_mb_bad(".5Gi");
    check_mb_bad("1.Gi");
    check_mb_bad("1.0000000001Gi"); /* more than 9 fraction digits */
    check_mb_bad("1e3");
    check_mb_bad("0x10");
    check_mb_bad("1,5Gi");
    check_mb_bad("9223372036854775808");   /* INT64_MAX + 1 MiB */
    check_mb_bad("8796093022208Ti");       /* 2^63 MiB */
    check_mb_bad("9223372036854775807Ti"); /* far past */
    check_mb_bad("99999999999999999999999999Ki");
}

static void check_fmt_cpu(int64_t v, const char *want)
{
    char out[32];

    memset(out, 'x', sizeof(out));
    quantity_format_cpu(v, out, (int)sizeof(out));
    assert_string_equal(out, want);
}

static void check_fmt_mb(int64_t v, const char *want)
{
    char out[32];

    memset(out, 'x', sizeof(out));
    quantity_format_mb(v, out, (int)sizeof(out));
    assert_string_equal(out, want);
}

static void test_format(void **state)
{
    (void)state;
    check_fmt_cpu(500, "500m");
    check_fmt_cpu(2000, "2");
    check_fmt_cpu(1500, "1500m");
    check_fmt_cpu(1, "1m");
    check_fmt_cpu(0, "0");
    check_fmt_cpu(64000, "64");
    check_fmt_cpu(INT64_MAX, "9223372036854775807m");

    check_fmt_mb(512, "512Mi");
    check_fmt_mb(1024, "1Gi");
    check_fmt_mb(1536, "1536Mi");
    check_fmt_mb(10240, "10Gi");
    check_fmt_mb(1048576, "1Ti");
    check_fmt_mb(1048576 + 1024, "1025Gi");
    check_fmt_mb(1, "1Mi");
    check_fmt_mb(0, "0Mi");
}

static void test_format_round_trip(void **state)
{
    static const int64_t cpus[] = {1, 250, 500, 999, 1000, 1500, 2000, 64000};
    static const int64_t sizes[] = {1, 96, 512, 954, 1024, 1536, 10240, 1048576, 3145728};
    char out[32];
    int64_t v;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cpus) / sizeof(cpus[0]); i++) {
        quantity_format_cpu(cpus[i], out, (int)sizeof(out));
        assert_int_equal(quantity_parse_cpu(out, &v), 0);
        assert_true(v == cpus[i]);
    }
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        quantity_format_mb(sizes[i], out, (int)sizeof(out));
        assert_int_equal(quantity_parse_mb(out, &v), 0);
        assert_true(v == sizes[i]);
    }
}

static void test_format_truncates(void **state)
{
    char out[8];

    (void)state;
    memset(out, 'x', sizeof(out));
    quantity_format_mb(1536, out, 4);
    assert_string_equal(out, "153");
    assert_int_equal(out[4], 'x'); /* nothing written past n */

    memset(out, 'x', sizeof(out));
    quantity_format_cpu(500, out, 1);
    assert_string_equal(out, "");
    assert_int_equal(out[1], 'x');

    memset(out, 'x', sizeof(out));
    quantity_format_cpu(500, out, 0);
    assert_int_equal(out[0], 'x');
    quantity_format_mb(500, out, -1);
    assert_int_equal(out[0], 'x');
    quantity_format_mb(500, NULL, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_cpu),        cmocka_unit_test(test_parse_cpu_rejects),
        cmocka_unit_test(test_parse_mb),         cmocka_unit_test(test_parse_mb_rejects),
        cmocka_unit_test(test_format),           cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_format_truncates),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
