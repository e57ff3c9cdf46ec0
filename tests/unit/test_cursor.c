/* Unit tests for lib/cursor: cursor encoding, strict decoding and ?limit= parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/crypto.h"
#include "lib/cursor.h"

static void test_encode_format(void **state)
{
    char *c;

    (void)state;
    /* base64url("c1:1") and base64url("c1:9223372036854775807"), unpadded (Python's
     * base64.urlsafe_b64encode with the "=" stripped). */
    c = cursor_encode(1);
    assert_non_null(c);
    assert_string_equal(c, "YzE6MQ");
    free(c);
    c = cursor_encode(INT64_MAX);
    assert_non_null(c);
    assert_string_equal(c, "YzE6OTIyMzM3MjAzNjg1NDc3NTgwNw");
    free(c);

    assert_null(cursor_encode(0));
    assert_null(cursor_encode(-1));
    assert_null(cursor_encode(INT64_MIN));
}

static void test_round_trip(void **state)
{
    static const int64_t seqs[] = {
        1, 2, 9, 10, 99, 100, 12345, 999999999, INT64_C(4294967296), INT64_MAX - 1, INT64_MAX};
    int64_t seq;
    size_t i;
    char *c;

    (void)state;
    for (i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
        c = cursor_encode(seqs[i]);
        assert_non_null(c);
        seq = -7;
        assert_int_equal(cursor_decode(c, &seq), 0);
        assert_true(seq == seqs[i]);
        free(c);
    }
}

/* base64url of an arbitrary plain text, to build hostile cursors. */
static char *forge(const char *plain)
{
    return crypto_base64url_encode(plain, strlen(plain));
}

static void test_decode_rejects_forged(void **state)
{
    static const char *const plains[] = {
        "c1:0",                    /* zero */
        "c1:-5",                   /* negative */
        "c1:+5",                   /* sign */
        "c1:05",                   /* leading zero: a second spelling of 5 */
        "c1: 5",                   /* space */
        "c1:5 ",                   /* trailing space */
        "c1:5x",                   /* trailing junk */
        "c1:",                     /* no number */
        "c1",                      /* no colon */
        "c2:5",                    /* other version */
        "C1:5",                    /* case */
        "5",                       /* bare number */
        "c1:9223372036854775808",  /* INT64_MAX + 1 */
        "c1:99999999999999999999", /* far past int64 */
        "",                        /* empty */
    };
    int64_t seq;
    size_t i;
    char *c;

    (void)state;
    for (i = 0; i < sizeof(plains) / sizeof(plains[0]); i++) {
        c = forge(plains[i]);
        assert_non_null(c);
        seq = 42;
        assert_int_equal(cursor_decode(c, &seq), -1);
        assert_true(seq == 42);
        free(c);
    }
    /* An embedded NUL after a valid number. */
    c = crypto_base64url_encode("c1:5\0", 5);
    assert_non_null(c);
    assert_int_equal(cursor_decode(c, &seq), -1);
    free(c);
}

static void test_decode_rejects_junk(void **state)
{
    char long_cursor[200];
    int64_t seq = 42;

    (void)state;
    assert_int_equal(cursor_decode(NULL, &seq), -1);
    assert_int_equal(cursor_decode("", &seq), -1);
    assert_int_equal(cursor_decode("YzE6MQ==", &seq), -1); /* padded */
    assert_int_equal(cursor_decode("YzE6MR", &seq), -1);   /* non-canonical last character */
    assert_int_equal(cursor_decode("YzE6M", &seq), -1);    /* truncated */
    assert_int_equal(cursor_decode("YzE6MQ!", &seq), -1);
    assert_int_equal(cursor_decode("12", &seq), -1);
    assert_int_equal(cursor_decode("not a cursor", &seq), -1);
    memset(long_cursor, 'A', sizeof(long_cursor) - 1);
    long_cursor[sizeof(long_cursor) - 1] = '\0';
    assert_int_equal(cursor_decode(long_cursor, &seq), -1);
    assert_true(seq == 42);
    assert_int_equal(cursor_decode("YzE6MQ", NULL), -1);
}

static void test_parse_limit(void **state)
{
    int limit = -1;

    (void)state;
    assert_int_equal(cursor_parse_limit("1", 1000, &limit), 0);
    assert_int_equal(limit, 1);
    assert_int_equal(cursor_parse_limit("100", 1000, &limit), 0);
    assert_int_equal(limit, 100);
    assert_int_equal(cursor_parse_limit("1000", 1000, &limit), 0);
    assert_int_equal(limit, 1000);
    assert_int_equal(cursor_parse_limit("007", 1000, &limit), 0);
    assert_int_equal(limit, 7);
    assert_int_equal(cursor_parse_limit("2147483647", 2147483647, &limit), 0);
    assert_int_equal(limit, 2147483647);

    limit = 55;
    assert_int_equal(cursor_parse_limit("1001", 1000, &limit), -1);
    assert_int_equal(cursor_parse_limit("0", 1000, &limit), -1);
    assert_int_equal(cursor_parse_limit("-1", 1000, &limit), -1);
    assert_int_equal(cursor_parse_limit("+5", 1000, &limit), -1);
    assert_int_equal(cursor_parse_limit("", 1000, &limit), -1);
    assert_int_equal(cursor_parse_limit(" 5", 1000, &limit), -1);
    assert_int_equal(cursor_parse_limit("5 ", 1000, &limit), -1);
    assert_int_equal(cursor_parse_limit("5x", 1000, &limit), -1);
    assert_int_equal(cursor_parse_limit("1e3", 1000, &limit), -1);
    assert_int_equal(cursor_parse_limit("0x10", 1000, &limit), -1);
    assert_int_equal(cursor_parse_limit("10.0", 1000, &limit), -1);
    assert_int_equal(cursor_parse_limit("99999999999999999999999", 1000, &limit), -1);
    assert_int_equal(cursor_parse_limit("5", 4, &limit), -1);
    assert_int_equal(cursor_parse_limit("1", 0, &limit), -1);
    assert_int_equal(cursor_parse_limit(NULL, 1000, &limit), -1);
    assert_int_equal(limit, 55);
    assert_int_equal(cursor_parse_limit("5", 1000, NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_format),         cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_decode_rejects_forged), cmocka_unit_test(test_decode_rejects_junk),
        cmocka_unit_test(test_parse_limit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
