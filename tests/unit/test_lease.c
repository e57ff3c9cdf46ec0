/* Unit tests for lib/lease: the lease datagram's layout (written out here from lease.h), its
 * MAC, and every way a datagram is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/lease.h"

static const unsigned char key[LEASE_KEY_LEN] = "0123456789abcdef0123456789abcdef";

static void test_roundtrip(void **state)
{
    struct lease_msg m = {LEASE_GRANT, 42, 7, 1000}, out;
    unsigned char buf[LEASE_MSG_LEN];

    (void)state;
    lease_encode(&m, key, buf);
    assert_memory_equal(buf, "DBL1", 4);
    assert_int_equal(buf[4], 2);
    assert_int_equal(buf[15], 42); /* host id, big-endian */
    assert_int_equal(buf[23], 7);  /* seq */
    assert_int_equal(buf[26], 0x03);
    assert_int_equal(buf[27], 0xe8); /* ttl 1000 */
    assert_int_equal(lease_decode(buf, sizeof(buf), key, &out), 0);
    assert_int_equal(out.kind, LEASE_GRANT);
    assert_int_equal(out.host_id, 42);
    assert_int_equal(out.seq, 7);
    assert_int_equal(out.ttl_ms, 1000);
}

static void test_refused(void **state)
{
    struct lease_msg m = {LEASE_RENEW, 3, 1ULL << 40, 0}, out;
    unsigned char buf[LEASE_MSG_LEN], bad[LEASE_MSG_LEN];
    unsigned char other[LEASE_KEY_LEN];

    (void)state;
    lease_encode(&m, key, buf);
    assert_int_equal(lease_decode(buf, sizeof(buf), key, &out), 0);
    assert_true(out.seq == 1ULL << 40);
    /* wrong key */
    memcpy(other, key, sizeof(other));
    other[0] ^= 1;
    assert_int_equal(lease_decode(buf, sizeof(buf), other, &out), -1);
    /* short or long datagram */
    assert_int_equal(lease_peek(buf, sizeof(buf) - 1, &out), -1);
    /* any changed byte: header fields are refused by peek or by the MAC */
    for (size_t i = 0; i < sizeof(buf); i++) {
        memcpy(bad, buf, sizeof(bad));
        bad[i] ^= 0x40;
        assert_int_equal(lease_decode(bad, sizeof(bad), key, &out), -1);
    }
    /* unknown kind, host id 0 */
    m.kind = (enum lease_kind)3;
    lease_encode(&m, key, bad);
    assert_int_equal(lease_peek(bad, sizeof(bad), &out), -1);
    m.kind = LEASE_RENEW;
    m.host_id = 0;
    lease_encode(&m, key, bad);
    assert_int_equal(lease_peek(bad, sizeof(bad), &out), -1);
}

/* A grant never outlives the leader's view: recorded + ttl + margin, less the slack. */
static void test_grant_ttl(void **state)
{
    (void)state;
    /* recorded recently: the whole ttl */
    assert_int_equal(lease_grant_ttl(1000, 250, 0), 1000);
    assert_int_equal(lease_grant_ttl(1000, 250, 200), 1000);
    /* then shorter, so that the grant ends by recorded + ttl + margin - slack */
    assert_int_equal(lease_grant_ttl(1000, 250, 300), 900);
    assert_int_equal(lease_grant_ttl(1000, 250, 1000), 200);
    assert_int_equal(lease_grant_ttl(1000, 250, 1199), 1);
    /* nothing once that time passed, or long unrecorded */
    assert_int_equal(lease_grant_ttl(1000, 250, 1200), 0);
    assert_int_equal(lease_grant_ttl(1000, 250, 5000), 0);
    assert_int_equal(lease_grant_ttl(1000, 250, INT64_MAX / 2), 0);
    /* a clock read before the record: as recorded now */
    assert_int_equal(lease_grant_ttl(1000, 250, -5), 1000);
    for (int64_t u = 0; u < 3000; u += 7) {
        uint32_t t = lease_grant_ttl(1000, 250, u);
        assert_true(t <= 1000);
        assert_true(t == 0 || u + (int64_t)t <= 1000 + 250 - LEASE_GRANT_SLACK_MS);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_grant_ttl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
