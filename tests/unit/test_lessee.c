/* Unit tests for agent/lessee: the lease settings of the heartbeat reply, renewals and the
 * grants that extend the lease, with a fake clock (the lease runs from the SEND time of the
 * granted seq; a grant for a seq never sent, another host or another key is dropped). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "agent/lessee.h"
#include "lib/crypto.h"
#include "lib/hbproto.h"

static const unsigned char key[LEASE_KEY_LEN] = "0123456789abcdef0123456789abcdef";

static json_t *lease_json(int ttl, int renew)
{
    char *k = crypto_base64url_encode(key, sizeof(key));
    json_t *j = json_pack("{s:I,s:i,s:s,s:i,s:i}", "host_id", (json_int_t)7, "port", 8080, "key", k,
                          "ttl_ms", ttl, "renew_ms", renew);

    free(k);
    return j;
}

static void setup(struct lessee *l)
{
    struct lessee_settings s;
    json_t *j = lease_json(1000, 300);
    struct err e;

    memset(l, 0, sizeof(*l));
    assert_int_equal(lessee_settings_parse(j, &s, &e), 0);
    json_decref(j);
    assert_true(lessee_configure(l, &s));
    assert_false(lessee_configure(l, &s)); /* the same settings change nothing */
}

/* dbaasd's answer to renewal buf: a grant for its seq with ttl, under k. */
static void grant_for(const unsigned char *renewal, const unsigned char *k, int64_t host,
                      uint32_t ttl, unsigned char out[LEASE_MSG_LEN])
{
    struct lease_msg m;

    assert_int_equal(lease_decode(renewal, LEASE_MSG_LEN, key, &m), 0);
    assert_int_equal(m.kind, LEASE_RENEW);
    m.kind = LEASE_GRANT;
    m.host_id = host;
    m.ttl_ms = ttl;
    lease_encode(&m, k, out);
}

static void test_settings(void **state)
{
    struct lessee_settings s;
    struct err e;
    json_t *j;

    (void)state;
    j = lease_json(1000, 300);
    assert_int_equal(lessee_settings_parse(j, &s, &e), 0);
    assert_int_equal(s.host_id, 7);
    assert_int_equal(s.port, 8080);
    assert_int_equal(s.ttl_ms, 1000);
    assert_int_equal(s.renew_ms, 300);
    assert_memory_equal(s.key, key, sizeof(key));
    json_decref(j);
    j = lease_json(500, 300); /* ttl below 2 * renew */
    assert_int_equal(lessee_settings_parse(j, &s, &e), -1);
    json_decref(j);
    j = lease_json(1000, 300);
    json_object_set_new(j, "key", json_string("c2hvcnQ")); /* 5 bytes */
    assert_int_equal(lessee_settings_parse(j, &s, &e), -1);
    assert_null(strstr(e.msg, "c2hvcnQ")); /* never quoted */
    json_object_del(j, "key");
    assert_int_equal(lessee_settings_parse(j, &s, &e), -1);
    json_decref(j);
    j = lease_json(1000, 300);
    json_object_del(j, "host_id");
    assert_int_equal(lessee_settings_parse(j, &s, &e), -1);
    json_decref(j);
    assert_int_equal(lessee_settings_parse(json_null(), &s, &e), -1);
}

static void test_grant_from_send_time(void **state)
{
    struct lessee l;
    unsigned char r1[LEASE_MSG_LEN], r2[LEASE_MSG_LEN], g[LEASE_MSG_LEN];
    struct lease_msg m1, m2;

    (void)state;
    setup(&l);
    assert_false(lessee_valid(&l, 0)); /* never granted: not valid */
    assert_int_equal(lessee_renewal(&l, 10000, 5000000, r1), 0);
    assert_int_equal(lessee_renewal(&l, 10300, 1000, r2), 0); /* the wall clock went back */
    assert_int_equal(lease_decode(r1, sizeof(r1), key, &m1), 0);
    assert_int_equal(lease_decode(r2, sizeof(r2), key, &m2), 0);
    assert_int_equal(m1.seq, 5000000);
    assert_int_equal(m2.seq, 5000001); /* still growing */
    assert_int_equal(m1.host_id, 7);
    /* the grant of the first arrives late: the lease runs from its send time */
    grant_for(r1, key, 7, 1000, g);
    assert_true(lessee_grant(&l, g, sizeof(g)));
    assert_int_equal(l.end_ms, 11000);
    assert_int_equal(l.valid_since_ms, 10000);
    assert_true(lessee_valid(&l, 10999));
    assert_false(lessee_valid(&l, 11000));
    /* the second extends it; the first's grant again does not shorten it */
    grant_for(r2, key, 7, 1000, g);
    assert_true(lessee_grant(&l, g, sizeof(g)));
    assert_int_equal(l.end_ms, 11300);
    grant_for(r1, key, 7, 1000, g);
    assert_true(lessee_grant(&l, g, sizeof(g)));
    assert_int_equal(l.end_ms, 11300);
    assert_int_equal(l.valid_since_ms, 10000); /* one unbroken run */
}

static void test_grant_refused(void **state)
{
    struct lessee l;
    unsigned char r[LEASE_MSG_LEN], g[LEASE_MSG_LEN], other[LEASE_KEY_LEN];
    struct lease_msg m;

    (void)state;
    setup(&l);
    memset(other, 'x', sizeof(other));
    assert_int_equal(lessee_renewal(&l, 1000, 1, r), 0);
    grant_for(r, other, 7, 1000, g); /* another key */
    assert_false(lessee_grant(&l, g, sizeof(g)));
    grant_for(r, key, 8, 1000, g); /* another host */
    assert_false(lessee_grant(&l, g, sizeof(g)));
    assert_false(lessee_grant(&l, r, sizeof(r))); /* our own renewal echoed */
    grant_for(r, key, 7, 1000, g);
    assert_false(lessee_grant(&l, g, sizeof(g) - 1)); /* short */
    assert_int_equal(lease_decode(g, sizeof(g), key, &m), 0);
    m.seq += 1; /* a seq never sent */
    lease_encode(&m, key, g);
    assert_false(lessee_grant(&l, g, sizeof(g)));
    assert_false(lessee_valid(&l, 1001));
    /* a renewal too old to be remembered: its grant is dropped */
    for (int i = 0; i < LESSEE_SENT_MAX; i++) {
        unsigned char x[LEASE_MSG_LEN];
        assert_int_equal(lessee_renewal(&l, 1100 + i, 0, x), 0);
    }
    grant_for(r, key, 7, 1000, g);
    assert_false(lessee_grant(&l, g, sizeof(g)));
}

static void test_gap_and_rekey(void **state)
{
    struct lessee l;
    struct lessee_settings s;
    unsigned char r[LEASE_MSG_LEN], g[LEASE_MSG_LEN];

    (void)state;
    setup(&l);
    assert_int_equal(lessee_renewal(&l, 1000, 1, r), 0);
    grant_for(r, key, 7, 1000, g);
    assert_true(lessee_grant(&l, g, sizeof(g)));
    /* a renewal sent after the lease ran out starts a new run */
    assert_int_equal(lessee_renewal(&l, 2500, 2, r), 0);
    grant_for(r, key, 7, 1000, g);
    assert_true(lessee_grant(&l, g, sizeof(g)));
    assert_int_equal(l.valid_since_ms, 2500);
    assert_int_equal(l.end_ms, 3500);
    /* a new key: renewals sent under the old one are forgotten; the lease runs to its end */
    assert_int_equal(lessee_renewal(&l, 2800, 3, r), 0);
    s = l.s;
    memset(s.key, 'k', sizeof(s.key));
    assert_true(lessee_configure(&l, &s));
    grant_for(r, key, 7, 1000, g);
    assert_false(lessee_grant(&l, g, sizeof(g)));
    assert_true(lessee_valid(&l, 3499));
    lessee_unconfigure(&l);
    assert_int_equal(lessee_renewal(&l, 2900, 4, r), -1);
    assert_true(lessee_valid(&l, 3499));
}

/* The reply's lease field as leasing_reply() takes it: none, usable settings, or unusable. */
static void test_reply_parse(void **state)
{
    struct lessee_settings s;
    struct err e;
    json_t *null = json_null(), *ok, *bad;

    (void)state;
    ok = json_pack("{s:I, s:i, s:s, s:i, s:i}", HB_F_HOST_ID, (json_int_t)7, HB_F_PORT, 4000,
                   HB_F_KEY, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", HB_F_TTL_MS, 1000,
                   HB_F_RENEW_MS, 300);
    bad = json_pack("{s:I}", HB_F_HOST_ID, (json_int_t)7);
    assert_int_equal(lessee_reply_parse(NULL, &s, &e), LESSEE_REPLY_NONE);
    assert_int_equal(lessee_reply_parse(null, &s, &e), LESSEE_REPLY_NONE);
    assert_int_equal(lessee_reply_parse(ok, &s, &e), LESSEE_REPLY_OK);
    assert_int_equal(s.ttl_ms, 1000);
    assert_int_equal(lessee_reply_parse(bad, &s, &e), LESSEE_REPLY_BAD);
    assert_non_null(strstr(e.msg, "malformed lease"));
    json_decref(null);
    json_decref(ok);
    json_decref(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_reply_parse),
        cmocka_unit_test(test_grant_from_send_time),
        cmocka_unit_test(test_grant_refused),
        cmocka_unit_test(test_gap_and_rekey),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
