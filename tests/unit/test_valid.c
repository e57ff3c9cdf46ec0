/* Unit tests for lib/valid: names, UUIDs, token ids, idempotency keys, addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/valid.h"

/* A string of n copies of c in buf, which holds at least n + 1 bytes. */
static const char *repeat(char *buf, char c, size_t n)
{
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

static void test_name(void **state)
{
    char buf[128];

    (void)state;
    assert_true(valid_name("a"));
    assert_true(valid_name("acme"));
    assert_true(valid_name("db-1"));
    assert_true(valid_name("a-"));
    assert_true(valid_name("z9"));
    assert_true(valid_name(repeat(buf, 'a', 63)));

    assert_false(valid_name(NULL));
    assert_false(valid_name(""));
    assert_false(valid_name(repeat(buf, 'a', 64)));
    assert_false(valid_name("1abc"));
    assert_false(valid_name("-abc"));
    assert_false(valid_name("Acme"));
    assert_false(valid_name("acMe"));
    assert_false(valid_name("db_1"));
    assert_false(valid_name("db.1"));
    assert_false(valid_name("db 1"));
    assert_false(valid_name("db1 "));
    assert_false(valid_name("db1\n"));
    assert_false(valid_name("caf\xc3\xa9"));
    assert_false(valid_name("../etc"));
}

static void test_uuid(void **state)
{
    (void)state;
    assert_true(valid_uuid("6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b"));
    assert_true(valid_uuid("00000000-0000-0000-0000-000000000000"));
    assert_true(valid_uuid("ffffffff-ffff-ffff-ffff-ffffffffffff"));

    assert_false(valid_uuid(NULL));
    assert_false(valid_uuid(""));
    /* uppercase is not canonical */
    assert_false(valid_uuid("6F1C2A3B-4D5E-4F60-8A9B-0C1D2E3F4A5B"));
    assert_false(valid_uuid("6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5"));   /* short */
    assert_false(valid_uuid("6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b0")); /* long */
    assert_false(valid_uuid("6f1c2a3b4d5e4f608a9b0c1d2e3f4a5b"));      /* no dashes */
    assert_false(valid_uuid("6f1c2a3b-4d5e-4f60-8a9b_0c1d2e3f4a5b"));
    assert_false(valid_uuid("6f1c2a3-b4d5e-4f60-8a9b-0c1d2e3f4a5b")); /* dash moved */
    assert_false(valid_uuid("6f1c2a3g-4d5e-4f60-8a9b-0c1d2e3f4a5b")); /* not hex */
    assert_false(valid_uuid("{6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b}"));
    assert_false(valid_uuid("6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b "));
    assert_false(valid_uuid("------------------------------------"));
}

static void test_token_id(void **state)
{
    char buf[128];

    (void)state;
    assert_true(valid_token_id("a"));
    assert_true(valid_token_id("Ab_9-"));
    assert_true(valid_token_id("6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b"));
    assert_true(valid_token_id(repeat(buf, 'x', 64)));

    assert_false(valid_token_id(NULL));
    assert_false(valid_token_id(""));
    assert_false(valid_token_id(repeat(buf, 'x', 65)));
    assert_false(valid_token_id("a.b"));
    assert_false(valid_token_id("a b"));
    assert_false(valid_token_id("a/b"));
    assert_false(valid_token_id("a%2Fb"));
    assert_false(valid_token_id("\xc3\xa9"));
}

static void test_idempotency_key(void **state)
{
    char buf[300];

    (void)state;
    assert_true(valid_idempotency_key("k"));
    assert_true(valid_idempotency_key("retry-2026-11-22T04:00:00Z #1 {x}~"));
    assert_true(valid_idempotency_key(repeat(buf, 'k', 255)));
    assert_true(valid_idempotency_key(" "));

    assert_false(valid_idempotency_key(NULL));
    assert_false(valid_idempotency_key(""));
    assert_false(valid_idempotency_key(repeat(buf, 'k', 256)));
    assert_false(valid_idempotency_key("a\tb"));
    assert_false(valid_idempotency_key("a\r\nb"));
    assert_false(valid_idempotency_key("a\x7f"));
    assert_false(valid_idempotency_key("caf\xc3\xa9"));
}

static void test_address(void **state)
{
    char buf[300];

    (void)state;
    assert_true(valid_address("10.0.0.1"));
    assert_true(valid_address("db-host-1.example.com"));
    assert_true(valid_address("::1"));
    assert_true(valid_address("fe80::1:2:3"));
    assert_true(valid_address("H1"));
    assert_true(valid_address(repeat(buf, 'a', 253)));

    assert_false(valid_address(NULL));
    assert_false(valid_address(""));
    assert_false(valid_address(repeat(buf, 'a', 254)));
    assert_false(valid_address("10.0.0.1/24"));
    assert_false(valid_address("[::1]"));
    assert_false(valid_address("host name"));
    assert_false(valid_address("host;rm"));
    assert_false(valid_address("h_1"));
    assert_false(valid_address("fe80::1%eth0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name),     cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_token_id), cmocka_unit_test(test_idempotency_key),
        cmocka_unit_test(test_address),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
