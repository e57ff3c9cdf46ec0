/* Unit tests for agent/report: the heartbeat request as dbaasd reads it, with the field names
 * written out from docs/agent.md independently of lib/hbproto.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/report.h"
#include "engines/engine.h"
#include "lib/hbproto.h"

static json_int_t int_at(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);

    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static const char *str_at(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);

    assert_true(json_is_string(v));
    return json_string_value(v);
}

static void test_member_running(void **state)
{
    struct member m;
    json_t *r, *u;

    (void)state;
    memset(&m, 0, sizeof(m));
    m.id = 12;
    m.state = HB_RUNNING;
    m.pid = 4242;
    m.restarts = 2;
    m.applied_version = 3;
    m.spec_version = 4; /* not reported: dbaasd knows it */
    m.pending_restart = true;
    m.usage.cpu_usec = 1200000;
    m.usage.memory_bytes = 52428800;
    m.usage.io_read_bytes = 7;
    m.usage.io_write_bytes = 8192;
    m.usage.oom_kills = 1;
    m.disk_used_mb = 40;
    r = report_member(&m, 10000);
    assert_non_null(r);
    assert_int_equal(json_object_size(r), 9);
    assert_true(json_is_false(json_object_get(r, "fenced")));
    assert_true(json_is_null(json_object_get(r, "health"))); /* not probed yet */
    assert_null(json_object_get(r, "seeding"));
    assert_int_equal(int_at(r, "id"), 12);
    assert_string_equal(str_at(r, "state"), "running");
    assert_int_equal(int_at(r, "pid"), 4242);
    assert_int_equal(int_at(r, "restarts"), 2);
    assert_int_equal(int_at(r, "applied_version"), 3);
    assert_true(json_is_true(json_object_get(r, "pending_restart")));
    assert_null(json_object_get(r, "error")); /* no error: no key */
    u = json_object_get(r, "usage");
    assert_int_equal(json_object_size(u), 6);
    assert_int_equal(int_at(u, "cpu_usec"), 1200000);
    assert_int_equal(int_at(u, "memory_bytes"), 52428800);
    assert_int_equal(int_at(u, "io_read_bytes"), 7);
    assert_int_equal(int_at(u, "io_write_bytes"), 8192);
    assert_int_equal(int_at(u, "disk_mb"), 40);
    assert_int_equal(int_at(u, "oom_kills"), 1);
    json_decref(r);
}

/* A failed member carries the engine's own error text; every state reported is one dbaasd
 * accepts. */
static void test_member_states_and_error(void **state)
{
    struct member m;
    json_t *r;
    enum hb_state parsed;

    (void)state;
    memset(&m, 0, sizeof(m));
    m.id = 7;
    for (int s = 0; s < HB__COUNT; s++) {
        m.state = (enum hb_state)s;
        r = report_member(&m, 10000);
        assert_int_equal(hb_state_parse(str_at(r, "state"), &parsed), 0);
        assert_int_equal(parsed, s);
        json_decref(r);
    }
    m.state = HB_FAILED;
    snprintf(m.error, sizeof(m.error), "%s", "could not bind to port 20000");
    r = report_member(&m, 10000);
    assert_string_equal(str_at(r, "state"), "failed");
    assert_string_equal(str_at(r, "error"), "could not bind to port 20000");
    json_decref(r);
}

/* The last probe, as dbaasd's HA controller reads it: every field, null where the engine did
 * not tell; an engine that did not answer is alive false; a probe that could not run (no
 * probe for this engine) leaves alive null. A replica being seeded reports its progress. */
static void test_member_health_and_seeding(void **state)
{
    struct member m;
    json_t *r, *h, *sd;

    (void)state;
    memset(&m, 0, sizeof(m));
    m.id = 3;
    m.state = HB_RUNNING;
    m.health.done = true;
    m.health.at_ms = 9600;
    m.health.h =
        (struct engine_health){true, ENGINE_ROLE_REPLICA, false, "0-1-42", 4242, 4300, 1, -1, 0.5};
    r = report_member(&m, 10000);
    h = json_object_get(r, "health");
    assert_int_equal(json_object_size(h), 11);
    assert_true(json_is_true(json_object_get(h, "alive")));
    assert_string_equal(str_at(h, "role"), "replica");
    assert_true(json_is_false(json_object_get(h, "writable")));
    assert_string_equal(str_at(h, "position"), "0-1-42");
    assert_int_equal(int_at(h, "position_bytes"), 4242);
    assert_int_equal(int_at(h, "received_bytes"), 4300);
    assert_true(json_is_true(json_object_get(h, "upstream_up")));
    assert_true(json_is_null(json_object_get(h, "lag_bytes")));
    assert_true(json_real_value(json_object_get(h, "lag_seconds")) == 0.5);
    assert_int_equal(int_at(h, "age_ms"), 400);
    assert_true(json_is_null(json_object_get(h, "error")));
    json_decref(r);

    /* a primary: no upstream, no lag; position unknown */
    m.health.h = (struct engine_health){true, ENGINE_ROLE_PRIMARY, true, "", -1, -1, -1, -1, -1};
    r = report_member(&m, 10000);
    h = json_object_get(r, "health");
    assert_string_equal(str_at(h, "role"), "primary");
    assert_true(json_is_true(json_object_get(h, "writable")));
    assert_true(json_is_null(json_object_get(h, "position")));
    assert_true(json_is_null(json_object_get(h, "position_bytes")));
    assert_true(json_is_null(json_object_get(h, "upstream_up")));
    assert_true(json_is_null(json_object_get(h, "lag_seconds")));
    json_decref(r);

    /* no answer within the deadline */
    m.health.code = ENGINE_E_UNAVAILABLE;
    snprintf(m.health.error, sizeof(m.health.error), "%s", "timeout");
    r = report_member(&m, 10000);
    h = json_object_get(r, "health");
    assert_true(json_is_false(json_object_get(h, "alive")));
    assert_true(json_is_null(json_object_get(h, "writable")));
    assert_true(json_is_null(json_object_get(h, "role")));
    assert_string_equal(str_at(h, "error"), "timeout");
    json_decref(r);

    /* the probe could not run */
    m.health.code = ENGINE_E_UNSUPPORTED;
    r = report_member(&m, 10000);
    assert_true(json_is_null(json_object_get(json_object_get(r, "health"), "alive")));
    json_decref(r);

    m.seeding = true;
    m.seed_bytes = 1 << 20;
    m.seed_started_ms = 4000;
    r = report_member(&m, 10000);
    sd = json_object_get(r, "seeding");
    assert_int_equal(int_at(sd, "bytes"), 1 << 20);
    assert_int_equal(int_at(sd, "elapsed_ms"), 6000);
    json_decref(r);
}

static void test_request(void **state)
{
    struct report_host h = {"cgroup-v1", 2000, 24000, 80000, 20000, 29999, 30000, -1, true};
    json_t *engines = json_pack("[s,s]", "postgres", "redis"), *members = json_array(), *b;

    (void)state;
    json_array_append_new(members, json_pack("{s:i}", "id", 1));
    b = report_request(&h, engines, members, "", 1000);
    assert_string_equal(str_at(b, "agent_version"), AGENT_VERSION);
    assert_string_equal(str_at(b, "isolation"), "cgroup-v1");
    assert_int_equal(int_at(json_object_get(b, "capacity"), "cpu_millis"), 2000);
    assert_int_equal(int_at(json_object_get(b, "capacity"), "memory_mb"), 24000);
    assert_int_equal(int_at(json_object_get(b, "capacity"), "disk_mb"), 80000);
    assert_ptr_equal(json_object_get(b, "engines"), engines); /* stolen */
    assert_ptr_equal(json_object_get(b, "members"), members);
    assert_int_equal(int_at(json_object_get(b, "ports"), "min"), 20000);
    assert_int_equal(int_at(json_object_get(b, "ports"), "max"), 29999);
    assert_int_equal(int_at(b, "wait_ms"), 1000);
    assert_null(json_object_get(b, "desired_hash")); /* no reply applied yet */
    assert_int_equal(int_at(b, "seed_port"), 30000);
    assert_null(json_object_get(b, "lease_valid")); /* no lease handed out: not sent */
    assert_true(json_is_true(json_object_get(b, "io_limits")));
    assert_int_equal(json_object_size(b), 9);
    json_decref(b);
}

static void test_request_desired_hash(void **state)
{
    struct report_host h = {"lxc", 1000, 1000, 1000, 1024, 2048, 0, 1, false};
    json_t *b;

    (void)state;
    b = report_request(&h, json_array(), json_array(), "9f86d0", 0);
    assert_string_equal(str_at(b, "desired_hash"), "9f86d0");
    assert_null(json_object_get(b, "seed_port")); /* no seed server */
    assert_true(json_is_true(json_object_get(b, "lease_valid")));
    assert_true(json_is_false(json_object_get(b, "io_limits"))); /* data directory on no disk */
    assert_int_equal(int_at(b, "wait_ms"), 0);
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_member_running),
        cmocka_unit_test(test_member_states_and_error),
        cmocka_unit_test(test_member_health_and_seeding),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_request_desired_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
