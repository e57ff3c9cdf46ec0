/* Unit tests for control/leasetab: renewals in seq order, replays and forgeries refused without
 * changing anything, key lookup and replacement, the counters handed to the store, a takeover,
 * other dbaasd's counts, and a table that grows and sweeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "control/leasetab.h"

static const unsigned char key_a[LEASE_KEY_LEN] = "0123456789abcdef0123456789abcdef";
static const unsigned char key_b[LEASE_KEY_LEN] = "fedcba9876543210fedcba9876543210";

static enum leasetab_verdict renew(struct leasetab *t, int64_t host, uint64_t seq,
                                   const unsigned char *key, int64_t now)
{
    struct lease_msg m = {LEASE_RENEW, host, seq, 0}, out;
    unsigned char buf[LEASE_MSG_LEN], k[LEASE_KEY_LEN];
    enum leasetab_verdict v;

    lease_encode(&m, key, buf);
    memset(k, 0, sizeof(k));
    v = leasetab_renew(t, buf, sizeof(buf), now, &out, k);
    if (v == LEASETAB_GRANTED) {
        assert_int_equal(out.host_id, host);
        assert_int_equal(out.seq, seq);
        assert_memory_equal(k, key, LEASE_KEY_LEN); /* to sign the grant */
    }
    return v;
}

static void test_seq_order_and_replay(void **state)
{
    struct leasetab *t = leasetab_new();

    (void)state;
    leasetab_set_key(t, 7, key_a, 1);
    assert_int_equal(leasetab_last_renewal(t, 7), -1);
    assert_int_equal(renew(t, 7, 1, key_a, 100), LEASETAB_GRANTED);
    assert_int_equal(leasetab_last_renewal(t, 7), 100);
    assert_int_equal(renew(t, 7, 5, key_a, 200), LEASETAB_GRANTED); /* gaps are fine */
    /* the same seq again, an older one: refused, the renewal time does not move */
    assert_int_equal(renew(t, 7, 5, key_a, 300), LEASETAB_REPLAY);
    assert_int_equal(renew(t, 7, 4, key_a, 300), LEASETAB_REPLAY);
    assert_int_equal(renew(t, 7, 0, key_a, 300), LEASETAB_REPLAY);
    assert_int_equal(leasetab_last_renewal(t, 7), 200);
    assert_int_equal(renew(t, 7, 6, key_a, 400), LEASETAB_GRANTED);
    assert_int_equal(leasetab_last_renewal(t, 7), 400);
    leasetab_free(t);
}

static void test_forgeries(void **state)
{
    struct leasetab *t = leasetab_new();
    struct lease_msg m = {LEASE_GRANT, 7, 9, 1000}, out;
    unsigned char buf[LEASE_MSG_LEN], k[LEASE_KEY_LEN];

    (void)state;
    leasetab_set_key(t, 7, key_a, 1);
    leasetab_set_key(t, 8, key_b, 1);
    /* another host's key, an unknown host, a bad MAC: nothing moves, not even the seq */
    assert_int_equal(renew(t, 7, 10, key_b, 100), LEASETAB_BAD_MAC);
    assert_int_equal(renew(t, 9, 10, key_a, 100), LEASETAB_UNKNOWN);
    assert_int_equal(leasetab_last_renewal(t, 7), -1);
    assert_int_equal(renew(t, 7, 10, key_a, 100), LEASETAB_GRANTED);
    /* a grant is no renewal; a short datagram is nothing */
    lease_encode(&m, key_a, buf);
    assert_int_equal(leasetab_renew(t, buf, sizeof(buf), 200, &out, k), LEASETAB_MALFORMED);
    m.kind = LEASE_RENEW;
    m.seq = 11;
    lease_encode(&m, key_a, buf);
    assert_int_equal(leasetab_renew(t, buf, sizeof(buf) - 1, 200, &out, k), LEASETAB_MALFORMED);
    buf[40] ^= 1;
    assert_int_equal(leasetab_renew(t, buf, sizeof(buf), 200, &out, k), LEASETAB_BAD_MAC);
    assert_int_equal(leasetab_last_renewal(t, 7), 100);
    leasetab_free(t);
}

static void test_keys(void **state)
{
    struct leasetab *t = leasetab_new();
    unsigned char k[LEASE_KEY_LEN];

    (void)state;
    assert_false(leasetab_get_key(t, 7, k));
    leasetab_set_key(t, 7, key_a, 1);
    assert_true(leasetab_get_key(t, 7, k));
    assert_memory_equal(k, key_a, LEASE_KEY_LEN);
    assert_int_equal(renew(t, 7, 50, key_a, 100), LEASETAB_GRANTED);
    /* the same key again keeps the seq order */
    leasetab_set_key(t, 7, key_a, 2);
    assert_int_equal(renew(t, 7, 50, key_a, 200), LEASETAB_REPLAY);
    /* a new key: the old one no longer verifies, and the seq order restarts */
    leasetab_set_key(t, 7, key_b, 2);
    assert_int_equal(renew(t, 7, 51, key_a, 200), LEASETAB_BAD_MAC);
    assert_int_equal(renew(t, 7, 1, key_b, 200), LEASETAB_GRANTED);
    /* a heartbeat alone makes an entry without a key: renewals stay unknown */
    leasetab_note_heartbeat(t, 9, 300);
    assert_false(leasetab_get_key(t, 9, k));
    assert_int_equal(renew(t, 9, 1, key_a, 300), LEASETAB_UNKNOWN);
    leasetab_free(t);
}

static void test_counters_and_takeover(void **state)
{
    struct leasetab *t = leasetab_new();
    int64_t ids[8], counts[8];

    (void)state;
    leasetab_set_key(t, 7, key_a, 1);
    leasetab_set_key(t, 8, key_b, 1);
    assert_int_equal(renew(t, 7, 1, key_a, 100), LEASETAB_GRANTED);
    assert_int_equal(renew(t, 7, 2, key_a, 110), LEASETAB_GRANTED);
    assert_int_equal(renew(t, 7, 2, key_a, 120), LEASETAB_REPLAY); /* not counted */
    assert_int_equal(leasetab_take_renewals(t, ids, counts, 8), 1);
    assert_int_equal(ids[0], 7);
    assert_int_equal(counts[0], 2);
    assert_int_equal(leasetab_take_renewals(t, ids, counts, 8), 0); /* handed out once */
    /* another dbaasd's counts: the first is a baseline, an advance is a renewal now */
    leasetab_note_remote(t, 8, 5, 1000);
    assert_int_equal(leasetab_last_renewal(t, 8), -1);
    leasetab_note_remote(t, 8, 5, 1100);
    assert_int_equal(leasetab_last_renewal(t, 8), -1);
    leasetab_note_remote(t, 8, 6, 1200);
    assert_int_equal(leasetab_last_renewal(t, 8), 1200);
    leasetab_note_remote(t, 99, 6, 1200); /* unknown host: ignored */
    assert_int_equal(leasetab_last_renewal(t, 99), -1);
    /* a takeover counts every host with a key as renewed now */
    leasetab_note_heartbeat(t, 10, 1300);
    leasetab_touch_all(t, 2000);
    assert_int_equal(leasetab_last_renewal(t, 7), 2000);
    assert_int_equal(leasetab_last_renewal(t, 8), 2000);
    assert_int_equal(leasetab_last_renewal(t, 10), -1);
    /* heartbeats (host 7 also renewed: seen), handed out once, with their age */
    assert_int_equal(leasetab_take_heartbeats(t, 1950, ids, counts, 8), 2);
    leasetab_note_heartbeat(t, 7, 1900);
    assert_int_equal(leasetab_take_heartbeats(t, 2000, ids, counts, 8), 1);
    assert_int_equal(ids[0], 7);
    assert_int_equal(counts[0], 100);
    assert_int_equal(leasetab_take_heartbeats(t, 2000, ids, counts, 8), 0);
    assert_int_equal(renew(t, 7, 3, key_a, 2100), LEASETAB_GRANTED);
    assert_int_equal(leasetab_take_heartbeats(t, 2150, ids, counts, 8), 1);
    assert_int_equal(counts[0], 50);
    leasetab_free(t);
}

static void test_grow_and_sweep(void **state)
{
    struct leasetab *t = leasetab_new();
    unsigned char k[LEASE_KEY_LEN];
    int64_t id;

    (void)state;
    for (id = 1; id <= 10000; id++)
        leasetab_set_key(t, id, id % 2 ? key_a : key_b, id <= 5000 ? 1 : 2);
    assert_int_equal(leasetab_count(t), 10000);
    assert_int_equal(renew(t, 4999, 1, key_a, 10), LEASETAB_GRANTED);
    leasetab_sweep(t, 2); /* hosts 1..5000 left the store */
    assert_int_equal(leasetab_count(t), 5000);
    assert_false(leasetab_get_key(t, 4999, k));
    assert_int_equal(renew(t, 4999, 2, key_a, 20), LEASETAB_UNKNOWN);
    for (id = 5001; id <= 10000; id++) {
        assert_true(leasetab_get_key(t, id, k));
        assert_memory_equal(k, id % 2 ? key_a : key_b, LEASE_KEY_LEN);
    }
    assert_int_equal(renew(t, 10000, 1, key_b, 30), LEASETAB_GRANTED);
    leasetab_free(t);
    leasetab_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seq_order_and_replay),
        cmocka_unit_test(test_forgeries),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_counters_and_takeover),
        cmocka_unit_test(test_grow_and_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
