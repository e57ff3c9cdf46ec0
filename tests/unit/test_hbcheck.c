/* Unit tests for api/hbcheck: the members of a heartbeat report, and the cleaning of health and
 * seeding objects (only known fields of known types and ranges; bad values dropped, never
 * refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/hbcheck.h"

/* cleaned(text) as compact JSON with sorted keys ("null" when NULL); the caller frees. */
static char *clean_text(json_t *(*clean)(const json_t *), const char *text)
{
    json_t *in = json_loads(text, JSON_DECODE_ANY, NULL);
    json_t *out;
    char *s;

    assert_non_null(in);
    out = clean(in);
    s = out ? json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : strdup("null");
    json_decref(in);
    json_decref(out);
    return s;
}

static void expect_clean(json_t *(*clean)(const json_t *), const char *in, const char *want)
{
    char *got = clean_text(clean, in);

    assert_string_equal(got, want);
    free(got);
}

static void test_health_keeps_known_fields(void **state)
{
    (void)state;
    expect_clean(hbcheck_health,
                 "{\"alive\":true,\"role\":\"replica\",\"writable\":false,"
                 "\"position\":\"0/3000060\",\"position_bytes\":50331744,\"upstream_up\":true,"
                 "\"lag_bytes\":0,\"lag_seconds\":0.25,\"age_ms\":120,\"error\":null}",
                 "{\"age_ms\":120,\"alive\":true,\"lag_bytes\":0,\"lag_seconds\":0.25,"
                 "\"position\":\"0/3000060\",\"position_bytes\":50331744,\"role\":\"replica\","
                 "\"upstream_up\":true,\"writable\":false}");
    /* an integer lag_seconds is a number too */
    expect_clean(hbcheck_health, "{\"lag_seconds\":3}", "{\"lag_seconds\":3.0}");
    expect_clean(hbcheck_health, "{}", "{}");
}

static void test_health_drops_bad_values(void **state)
{
    (void)state;
    /* wrong types, out of range, unknown roles and keys: dropped, the rest kept */
    expect_clean(hbcheck_health,
                 "{\"alive\":\"yes\",\"role\":\"master\",\"writable\":1,\"position\":42,"
                 "\"position_bytes\":-1,\"upstream_up\":null,\"lag_bytes\":1.5,"
                 "\"lag_seconds\":-2,\"age_ms\":\"10\",\"error\":17,\"secret\":\"x\","
                 "\"upstream\":{\"a\":1}}",
                 "{}");
    expect_clean(hbcheck_health, "{\"lag_seconds\":1e13,\"position_bytes\":7}",
                 "{\"position_bytes\":7}");
    /* not an object: no health at all */
    expect_clean(hbcheck_health, "[1,2]", "null");
    expect_clean(hbcheck_health, "\"alive\"", "null");
    expect_clean(hbcheck_health, "null", "null");
}

static void test_health_strings(void **state)
{
    char pos[80], err[700], want[700];
    char *got;
    json_t *in, *out;

    (void)state;
    /* a position longer than 64 bytes is dropped; 64 is kept */
    memset(pos, 'a', 65);
    pos[65] = '\0';
    in = json_pack("{s:s}", "position", pos);
    out = hbcheck_health(in);
    assert_null(json_object_get(out, "position"));
    json_decref(in);
    json_decref(out);
    pos[64] = '\0';
    in = json_pack("{s:s}", "position", pos);
    out = hbcheck_health(in);
    assert_string_equal(json_string_value(json_object_get(out, "position")), pos);
    json_decref(in);
    json_decref(out);
    expect_clean(hbcheck_health, "{\"position\":\"\"}", "{}");

    /* an error is cut to 500 bytes, never inside a UTF-8 sequence */
    memset(err, 'e', 499);
    memcpy(err + 499, "\xc3\xa9tail", 7); /* "é" spans bytes 499 and 500 */
    in = json_pack("{s:s}", "error", err);
    out = hbcheck_health(in);
    got = (char *)json_string_value(json_object_get(out, "error"));
    memset(want, 'e', 499);
    want[499] = '\0';
    assert_string_equal(got, want);
    json_decref(in);
    json_decref(out);
}

static void test_seeding(void **state)
{
    (void)state;
    expect_clean(hbcheck_seeding, "{\"bytes\":1048576,\"elapsed_ms\":5300,\"rate\":9}",
                 "{\"bytes\":1048576,\"elapsed_ms\":5300}");
    expect_clean(hbcheck_seeding, "{\"bytes\":-5,\"elapsed_ms\":true}", "{}");
    expect_clean(hbcheck_seeding, "7", "null");
}

static void test_usage(void **state)
{
    (void)state;
    expect_clean(hbcheck_usage,
                 "{\"cpu_usec\":5,\"memory_bytes\":6,\"io_read_bytes\":7,\"io_write_bytes\":8,"
                 "\"disk_mb\":9,\"oom_kills\":0,\"gpu\":1}",
                 "{\"cpu_usec\":5,\"disk_mb\":9,\"io_read_bytes\":7,\"io_write_bytes\":8,"
                 "\"memory_bytes\":6,\"oom_kills\":0}");
    /* a disk_mb that would break the store's ::bigint cast for every host of the instance */
    expect_clean(hbcheck_usage, "{\"disk_mb\":\"12abc\",\"cpu_usec\":-1,\"oom_kills\":1.5}", "{}");
    expect_clean(hbcheck_usage, "[]", "null");
}

static void test_member_scalars(void **state)
{
    struct err e;
    json_t *members;
    char *s;

    (void)state;
    members = json_loads("[{\"id\":1,\"state\":\"running\",\"pid\":\"x\",\"restarts\":-2,"
                         "\"applied_version\":3,\"pending_restart\":1,\"resize_version\":null,"
                         "\"usage\":{\"disk_mb\":\"NaN\"}}]",
                         0, NULL);
    assert_int_equal(hbcheck_members(members, &e), 0);
    s = json_dumps(members, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "[{\"applied_version\":3,\"id\":1,\"state\":\"running\","
                           "\"usage\":{}}]");
    free(s);
    json_decref(members);
}

static void test_members(void **state)
{
    struct err e;
    json_t *members;
    char *s;

    (void)state;
    members = json_loads("[{\"id\":1,\"state\":\"running\",\"health\":{\"alive\":true,\"x\":1},"
                         "\"seeding\":\"no\"},{\"id\":2,\"state\":\"starting\",\"health\":null,"
                         "\"seeding\":{\"bytes\":10}}]",
                         0, NULL);
    assert_int_equal(hbcheck_members(members, &e), 0);
    s = json_dumps(members, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "[{\"health\":{\"alive\":true},\"id\":1,\"state\":\"running\"},"
                           "{\"id\":2,\"seeding\":{\"bytes\":10},\"state\":\"starting\"}]");
    free(s);
    json_decref(members);

    /* the member itself must be right: an integer id and a known state */
    members = json_loads("[{\"id\":\"1\",\"state\":\"running\"}]", 0, NULL);
    assert_int_equal(hbcheck_members(members, &e), -1);
    assert_non_null(strstr(e.msg, "integer id"));
    json_decref(members);
    members = json_loads("[{\"id\":1,\"state\":\"sleeping\"}]", 0, NULL);
    assert_int_equal(hbcheck_members(members, &e), -1);
    assert_non_null(strstr(e.msg, "state"));
    json_decref(members);
    members = json_loads("{}", 0, NULL);
    assert_int_equal(hbcheck_members(members, &e), -1);
    json_decref(members);
    /* one member listed twice (found by tests/fuzz/fuzz_heartbeat.c: written from either
       entry, and again at every heartbeat) */
    members = json_loads("[{\"id\":7,\"state\":\"running\"},{\"id\":8,\"state\":\"running\"},"
                         "{\"id\":7,\"state\":\"stopped\"}]",
                         0, NULL);
    assert_int_equal(hbcheck_members(members, &e), -1);
    assert_non_null(strstr(e.msg, "id 7 is listed twice"));
    json_decref(members);
}

/* The counts go to int columns: a larger one is dropped, not left to fail the statement. */
static void test_member_int_columns(void **state)
{
    struct err e;
    json_t *members;
    char *s;

    (void)state;
    members = json_loads("[{\"id\":1,\"state\":\"running\",\"pid\":2147483647,"
                         "\"restarts\":2147483648,\"applied_version\":4294967296,"
                         "\"resize_version\":0}]",
                         0, NULL);
    assert_int_equal(hbcheck_members(members, &e), 0);
    s = json_dumps(members, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "[{\"id\":1,\"pid\":2147483647,\"resize_version\":0,"
                           "\"state\":\"running\"}]");
    free(s);
    json_decref(members);
}

/* The host's own fields: each optional, each refusal naming its field. */
static void test_host(void **state)
{
    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{\"ports\":{\"min\":1023,\"max\":2000}}", "ports"},
        {"{\"ports\":{\"min\":3000,\"max\":2000}}", "ports"},
        {"{\"ports\":{\"min\":3000,\"max\":65536}}", "ports"},
        {"{\"ports\":{\"min\":3000.0,\"max\":4000}}", "ports"},
        {"{\"ports\":{\"min\":3000}}", "ports"},
        {"{\"ports\":[3000,4000]}", "ports"},
        {"{\"seed_port\":0}", "seed_port"},
        {"{\"seed_port\":\"21000\"}", "seed_port"},
        {"{\"lease_valid\":1}", "lease_valid"},
        {"{\"io_limits\":null}", "io_limits"},
        {NULL, NULL},
    };
    struct hbcheck_host h;
    const char *field;
    struct err e;
    json_t *body;

    (void)state;
    body = json_loads("{\"ports\":{\"min\":20000,\"max\":20999},\"seed_port\":null,"
                      "\"lease_valid\":true,\"io_limits\":false}",
                      0, NULL);
    assert_int_equal(hbcheck_host(body, &h, &field, &e), 0);
    assert_true(h.has_ports);
    assert_int_equal(h.port_min, 20000);
    assert_int_equal(h.port_max, 20999);
    json_decref(body);
    body = json_loads("{\"seed_port\":21000}", 0, NULL);
    assert_int_equal(hbcheck_host(body, &h, &field, &e), 0);
    assert_false(h.has_ports);
    json_decref(body);
    for (int i = 0; bad[i].body; i++) {
        body = json_loads(bad[i].body, 0, NULL);
        assert_non_null(body);
        assert_int_equal(hbcheck_host(body, &h, &field, &e), -1);
        assert_string_equal(field, bad[i].field);
        assert_non_null(strstr(e.msg, bad[i].field));
        json_decref(body);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_keeps_known_fields),
        cmocka_unit_test(test_health_drops_bad_values),
        cmocka_unit_test(test_health_strings),
        cmocka_unit_test(test_seeding),
        cmocka_unit_test(test_members),
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_member_scalars),
        cmocka_unit_test(test_member_int_columns),
        cmocka_unit_test(test_host),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
