/* Unit tests for scheduler/place: hand-made cases for each rule and message, then property tests
 * with fixed seeds that run random clusters and request streams through place_member(), the
 * full-scan reference (scheduler/place_scan) and a brute force written here from the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "scheduler/place.h"
#include "scheduler/place_scan.h"

#define GIB 1024

/* ---- helpers ---- */

static uint64_t rnd_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static int rnd(uint64_t *s, int n)
{
    return (int)(rnd_next(s) % (uint64_t)n);
}

static const char *const all_engines[] = {"postgres", "mysql", "redis"};

static struct place_host_spec spec_of(const char *name, const char *zone, int64_t cpu, int64_t mem,
                                      int64_t disk)
{
    struct place_host_spec spec = {
        .name = name,
        .zone = zone,
        .engines = all_engines,
        .n_engines = 3,
        .capacity = {cpu, mem, disk},
        .state = PLACE_HOST_READY,
    };
    return spec;
}

static int add_host(struct place_cluster *c, const struct place_host_spec *spec)
{
    struct err err;
    int h = place_host_add(c, spec, &err);

    if (h < 0)
        fail_msg("place_host_add: %s", err.msg);
    return h;
}

static struct place_request req_of(const char *engine, int64_t cpu, int64_t mem, int64_t disk)
{
    struct place_request req = {.need = {cpu, mem, disk}, .engine = engine};
    return req;
}

static int place_commit_ok(struct place_cluster *c, const struct place_request *req)
{
    struct place_result res;
    struct err err;

    if (place_member(c, req, &res) < 0)
        return -1;
    if (place_commit(c, res.host, req->need, &err) < 0)
        fail_msg("place_commit: %s", err.msg);
    return res.host;
}

static int64_t allocated(const struct place_cluster *c, int host, int r)
{
    struct place_host_view v;

    assert_int_equal(place_host_get(c, host, &v), 0);
    return v.allocated[r];
}

/* ---- configuration and hosts ---- */

static void test_config(void **state)
{
    struct place_config cfg;
    struct err err;
    struct place_cluster *c;

    (void)state;
    place_config_init(&cfg);
    assert_true(cfg.cpu_ratio == 1.0 && cfg.memory_ratio == 1.0 && cfg.disk_ratio == 1.0);
    assert_int_equal(cfg.policy, PLACE_BINPACK);
    assert_int_equal(place_config_check(&cfg, &err), 0);

    cfg.cpu_ratio = 4.0;
    assert_int_equal(place_config_check(&cfg, &err), 0);
    cfg.cpu_ratio = 4.5;
    assert_int_equal(place_config_check(&cfg, &err), -1);
    assert_int_equal(err.code, PLACE_E_INVALID);
    assert_string_equal(err.msg, "cpu ratio 4.5 is out of range (0, 4]");
    cfg.cpu_ratio = 1.0;
    const double bad[] = {0.0, -1.0, NAN, INFINITY, 0.0004};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cfg.memory_ratio = bad[i];
        assert_int_equal(place_config_check(&cfg, NULL), -1);
    }
    cfg.memory_ratio = 1.0;
    cfg.policy = (enum place_policy)7;
    assert_int_equal(place_config_check(&cfg, &err), -1);
    assert_string_equal(err.msg, "invalid placement policy 7");

    c = place_cluster_new(&cfg, &err);
    assert_null(c);
    assert_int_equal(err.code, PLACE_E_INVALID);
    assert_null(place_scan_new(&cfg));
    c = place_cluster_new(NULL, &err);
    assert_non_null(c);
    assert_int_equal(place_host_count(c), 0);
    assert_int_equal(place_host_limit(c), 0);
    place_cluster_free(c);
    place_cluster_free(NULL);
    place_scan_free(NULL);
}

static void test_hosts(void **state)
{
    struct place_cluster *c = place_cluster_new(NULL, NULL);
    struct place_host_spec spec = spec_of("h0", "a", 4000, 8 * GIB, 100 * GIB);
    struct place_host_view v;
    struct err err;
    char names[70][16];
    const char *engines[40];

    (void)state;
    assert_int_equal(add_host(c, &spec), 0);
    spec.name = "h1";
    assert_int_equal(add_host(c, &spec), 1);
    spec.name = "h2";
    assert_int_equal(add_host(c, &spec), 2);
    assert_int_equal(place_host_add(c, &spec, &err), -1);
    assert_int_equal(err.code, PLACE_E_EXISTS);
    assert_string_equal(err.msg, "host \"h2\" already exists");
    assert_int_equal(place_host_find(c, "h1"), 1);
    assert_int_equal(place_host_find(c, "nope"), -1);
    assert_true(place_host_offers(c, 1, "redis"));
    assert_false(place_host_offers(c, 1, "mongo"));
    assert_false(place_host_offers(c, 9, "redis"));

    /* Indices of removed hosts are reused, lowest first. */
    assert_int_equal(place_host_remove(c, 1, &err), 0);
    assert_int_equal(place_host_remove(c, 1, &err), -1);
    assert_int_equal(err.code, PLACE_E_NOENT);
    assert_int_equal(place_host_get(c, 1, &v), -1);
    assert_int_equal(place_host_find(c, "h1"), -1);
    assert_int_equal(place_host_count(c), 2);
    assert_int_equal(place_host_limit(c), 3);
    spec.name = "h3";
    assert_int_equal(add_host(c, &spec), 1);
    assert_int_equal(place_host_remove(c, 2, &err), 0);
    assert_int_equal(place_host_limit(c), 2);

    /* Update, renaming. */
    spec = spec_of("h0-renamed", "b", 8000, 16 * GIB, 100 * GIB);
    spec.allocated[PLACE_MEMORY] = 4 * GIB;
    spec.draining = true;
    assert_int_equal(place_host_update(c, 0, &spec, &err), 0);
    assert_int_equal(place_host_find(c, "h0"), -1);
    assert_int_equal(place_host_find(c, "h0-renamed"), 0);
    assert_int_equal(place_host_get(c, 0, &v), 0);
    assert_string_equal(v.name, "h0-renamed");
    assert_string_equal(v.zone, "b");
    assert_int_equal(v.capacity[PLACE_CPU], 8000);
    assert_int_equal(v.allocated[PLACE_MEMORY], 4 * GIB);
    assert_true(v.draining);
    assert_int_equal(v.load, PLACE_LOAD_ONE / 4);
    spec.name = "h3";
    assert_int_equal(place_host_update(c, 0, &spec, &err), -1);
    assert_int_equal(err.code, PLACE_E_EXISTS);
    assert_int_equal(place_host_update(c, 7, &spec, &err), -1);
    assert_int_equal(err.code, PLACE_E_NOENT);

    /* Invalid specs. */
    spec = spec_of("x", "", 1, 1, 1);
    assert_int_equal(place_host_add(c, &spec, &err), -1);
    assert_int_equal(err.code, PLACE_E_INVALID);
    spec = spec_of("", "a", 1, 1, 1);
    assert_int_equal(place_host_add(c, &spec, &err), -1);
    spec = spec_of("x", "a", -1, 1, 1);
    assert_int_equal(place_host_add(c, &spec, &err), -1);
    assert_string_equal(err.msg, "cpu capacity -1 of host \"x\" is out of range");
    spec = spec_of("x", "a", 1, 1, PLACE_QTY_MAX + 1);
    assert_int_equal(place_host_add(c, &spec, &err), -1);
    spec = spec_of("x", "a", 1, 1, 1);
    spec.state = (enum place_host_state)9;
    assert_int_equal(place_host_add(c, &spec, &err), -1);
    assert_int_equal(place_host_count(c), 2);

    /* At most PLACE_ZONES_MAX zones in use; a zone no host uses any more is given back. */
    for (int i = 0; i < 70; i++)
        snprintf(names[i], sizeof(names[i]), "z%d", i);
    for (int i = 2; i < PLACE_ZONES_MAX; i++) {
        spec = spec_of(names[i], names[i], 1, 1, 1);
        assert_true(add_host(c, &spec) >= 0);
    }
    spec = spec_of("one-too-many", "z64", 1, 1, 1);
    assert_int_equal(place_host_add(c, &spec, &err), -1);
    assert_int_equal(err.code, PLACE_E_LIMIT);
    assert_string_equal(err.msg, "could not add zone \"z64\": more than 64 zones");
    assert_int_equal(place_host_remove(c, place_host_find(c, "z10"), NULL), 0);
    assert_true(add_host(c, &spec) >= 0);

    /* At most PLACE_ENGINES_MAX engines. */
    for (int i = 0; i < 33; i++)
        engines[i] = names[i];
    spec = spec_of("many-engines", "a", 1, 1, 1);
    spec.engines = engines;
    spec.n_engines = 33;
    assert_int_equal(place_host_add(c, &spec, &err), -1);
    spec.n_engines = 32;
    assert_int_equal(place_host_add(c, &spec, &err), -1); /* postgres, mysql, redis in use */
    assert_int_equal(err.code, PLACE_E_LIMIT);
    spec.n_engines = 29;
    assert_true(add_host(c, &spec) >= 0);
    place_cluster_free(c);
}

/* ---- rules ---- */

static void test_refusal_message(void **state)
{
    struct place_cluster *c = place_cluster_new(NULL, NULL);
    struct place_request req = req_of("postgres", 1000, 4 * GIB, 10 * GIB);
    struct place_result res;
    struct place_host_spec spec;
    char name[32];
    int members[1];
    const char *pg_only[] = {"postgres"};

    (void)state;
    assert_int_equal(place_member(c, &req, &res), -1);
    assert_int_equal(res.host, -1);
    assert_int_equal(res.err.code, PLACE_E_NOFIT);
    assert_string_equal(res.err.msg, "no host fits: there are no hosts");

    /* The example of the issue: 812 lack memory, 3 draining, 2 hold a member. */
    for (int i = 0; i < 817; i++) {
        snprintf(name, sizeof(name), "h%d", i);
        spec = spec_of(name, i % 2 ? "a" : "b", 4000, 8 * GIB, 100 * GIB);
        spec.allocated[PLACE_MEMORY] = 6 * GIB;
        if (i >= 812 && i < 815) {
            spec.draining = true;
            spec.allocated[PLACE_MEMORY] = 0;
        }
        if (i >= 815)
            spec.allocated[PLACE_MEMORY] = 0;
        assert_int_equal(add_host(c, &spec), i);
    }
    req.members = (int[]){815, 816};
    req.n_members = 2;
    assert_int_equal(place_member(c, &req, &res), -1);
    assert_string_equal(res.err.msg, "no host fits: 812 lack memory, 3 draining, 2 already hold "
                                     "a member of this instance");
    assert_int_equal(res.counts[PLACE_CAUSE_MEMORY], 812);
    assert_int_equal(res.counts[PLACE_CAUSE_DRAINING], 3);
    assert_int_equal(res.counts[PLACE_CAUSE_MEMBER], 2);
    place_cluster_free(c);

    /* Every cause, singular and plural; equal counts in the order of enum place_cause. */
    c = place_cluster_new(NULL, NULL);
    spec = spec_of("unreachable", "a", 4000, 8 * GIB, 100 * GIB);
    spec.state = PLACE_HOST_UNREACHABLE;
    spec.draining = true; /* the first cause wins */
    add_host(c, &spec);
    spec = spec_of("unknown", "a", 4000, 8 * GIB, 100 * GIB);
    spec.state = PLACE_HOST_UNKNOWN;
    add_host(c, &spec);
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof(name), "pg%d", i);
        spec = spec_of(name, "a", 4000, 8 * GIB, 100 * GIB);
        spec.engines = pg_only;
        spec.n_engines = 1;
        add_host(c, &spec);
    }
    spec = spec_of("member", "a", 0, 0, 0);
    members[0] = add_host(c, &spec);
    spec = spec_of("b-zone", "b", 4000, 8 * GIB, 100 * GIB);
    add_host(c, &spec);
    spec = spec_of("no-cpu", "a", 500, 8 * GIB, 100 * GIB);
    add_host(c, &spec);
    spec = spec_of("no-cpu-2", "a", 500, 8 * GIB, 100 * GIB);
    add_host(c, &spec);
    spec = spec_of("no-disk", "a", 4000, 8 * GIB, 1 * GIB);
    add_host(c, &spec);
    spec = spec_of("no-anything", "a", 0, 0, 0);
    add_host(c, &spec);
    spec = spec_of("no-io", "a", 4000, 8 * GIB, 100 * GIB);
    spec.no_io_limits = true;
    add_host(c, &spec);
    req = req_of("mysql", 1000, 4 * GIB, 10 * GIB);
    req.members = members;
    req.n_members = 1;
    req.zone = "a";
    req.zone_required = true;
    req.io_limits = true;
    assert_int_equal(place_member(c, &req, &res), -1);
    assert_string_equal(res.err.msg,
                        "no host fits: 2 do not offer engine \"mysql\", 2 lack CPU, 1 unreachable, "
                        "1 not yet reporting, 1 cannot enforce IO limits (its data directory is on "
                        "no block device), 1 outside zone \"a\", 1 already holds a member of "
                        "this instance, 1 lacks memory, 1 lacks disk");
    int sum = 0;
    for (int i = 0; i < PLACE_CAUSE__COUNT; i++)
        sum += res.counts[i];
    assert_int_equal(sum, place_host_count(c));

    /* Without IO limits the host that cannot enforce them fits. */
    req.io_limits = false;
    assert_int_equal(place_member(c, &req, &res), 0);
    assert_int_equal(res.host, place_host_find(c, "no-io"));
    req.io_limits = true;

    /* Not required: the host in zone b fits. */
    req.zone_required = false;
    assert_int_equal(place_member(c, &req, &res), 0);
    assert_int_equal(res.host, place_host_find(c, "b-zone"));
    assert_int_equal(res.err.code, PLACE_OK);
    place_cluster_free(c);
}

static void test_invalid_request(void **state)
{
    struct place_cluster *c = place_cluster_new(NULL, NULL);
    struct place_host_spec spec = spec_of("h0", "a", 4000, 8 * GIB, 100 * GIB);
    struct place_request req;
    struct place_result res;

    (void)state;
    add_host(c, &spec);
    req = req_of("postgres", -1, 1, 1);
    assert_int_equal(place_member(c, &req, &res), -1);
    assert_int_equal(res.err.code, PLACE_E_INVALID);
    assert_string_equal(res.err.msg, "cpu need -1 is out of range");
    req = req_of(NULL, 1, 1, 1);
    assert_int_equal(place_member(c, &req, &res), -1);
    assert_int_equal(res.err.code, PLACE_E_INVALID);
    req = req_of("postgres", 1, 1, 1);
    req.members = (int[]){3};
    req.n_members = 1;
    assert_int_equal(place_member(c, &req, &res), -1);
    assert_string_equal(res.err.msg, "member host 3 does not exist");
    req = req_of("postgres", 1, 1, 1);
    req.zone_required = true;
    assert_int_equal(place_member(c, &req, &res), -1);
    assert_int_equal(res.err.code, PLACE_E_INVALID);
    req.zone = "a";
    assert_int_equal(place_member(c, &req, &res), 0);
    place_cluster_free(c);
}

static void test_overcommit(void **state)
{
    struct place_config cfg;
    struct place_cluster *c;
    struct place_host_spec spec = spec_of("h0", "a", 4000, 64 * GIB, 1000 * GIB);
    struct place_request req = req_of("redis", 1000, 1 * GIB, 1 * GIB);
    struct place_result res;
    struct place_host_view v;
    struct err err;

    (void)state;
    place_config_init(&cfg);
    cfg.cpu_ratio = 4.0;
    c = place_cluster_new(&cfg, NULL);
    add_host(c, &spec);
    for (int i = 0; i < 16; i++)
        assert_int_equal(place_commit_ok(c, &req), 0);
    assert_int_equal(place_member(c, &req, &res), -1);
    assert_string_equal(res.err.msg, "no host fits: 1 lacks CPU");
    assert_int_equal(place_commit(c, 0, req.need, &err), -1);
    assert_int_equal(err.code, PLACE_E_NOFIT);
    assert_string_equal(err.msg, "host \"h0\" has no room for 1000 more cpu");
    assert_int_equal(allocated(c, 0, PLACE_CPU), 16000);

    /* Lowering the ratio leaves the host over its effective capacity: nothing more fits, the
     * load counts it as full. */
    cfg.cpu_ratio = 2.0;
    assert_int_equal(place_cluster_set_config(c, &cfg, &err), 0);
    assert_int_equal(place_host_get(c, 0, &v), 0);
    assert_int_equal(v.effective[PLACE_CPU], 8000);
    assert_int_equal(v.load, PLACE_LOAD_ONE + (PLACE_LOAD_ONE / 4) + 16 * PLACE_LOAD_ONE / 1000);
    req.need[PLACE_CPU] = 0;
    assert_int_equal(place_member(c, &req, &res), -1);
    assert_string_equal(res.err.msg, "no host fits: 1 lacks CPU");
    cfg.cpu_ratio = 9.0;
    assert_int_equal(place_cluster_set_config(c, &cfg, &err), -1);
    assert_int_equal(place_host_get(c, 0, &v), 0);
    assert_int_equal(v.effective[PLACE_CPU], 8000);
    place_cluster_free(c);

    /* Memory at 1.0, ratios below 1.0 keep headroom, ratios round to 0.001. */
    place_config_init(&cfg);
    cfg.memory_ratio = 0.75;
    cfg.disk_ratio = 1.2346;
    c = place_cluster_new(&cfg, NULL);
    spec = spec_of("h0", "a", 4000, 8 * GIB, 1000);
    add_host(c, &spec);
    assert_int_equal(place_host_get(c, 0, &v), 0);
    assert_int_equal(v.effective[PLACE_MEMORY], 6 * GIB);
    assert_int_equal(v.effective[PLACE_DISK], 1235);
    req = req_of("redis", 0, 1 * GIB, 0);
    for (int i = 0; i < 6; i++)
        assert_int_equal(place_commit_ok(c, &req), 0);
    assert_int_equal(place_member(c, &req, &res), -1);
    assert_string_equal(res.err.msg, "no host fits: 1 lacks memory");
    place_cluster_free(c);
}

/* Hosts 0..3 in one zone with 0, 50, 25 and 50 percent of their memory allocated. */
static struct place_cluster *ordered_cluster(enum place_policy policy)
{
    struct place_config cfg;
    struct place_cluster *c;
    static const int pct[] = {0, 50, 25, 50};
    char name[8];

    place_config_init(&cfg);
    cfg.policy = policy;
    c = place_cluster_new(&cfg, NULL);
    for (int i = 0; i < 4; i++) {
        struct place_host_spec spec;

        snprintf(name, sizeof(name), "h%d", i);
        spec = spec_of(name, "a", 8000, 16 * GIB, 100 * GIB);
        spec.allocated[PLACE_MEMORY] = 16 * GIB * pct[i] / 100;
        add_host(c, &spec);
    }
    return c;
}

static void test_binpack_order(void **state)
{
    struct place_cluster *c = ordered_cluster(PLACE_BINPACK);
    struct place_request req = req_of("postgres", 1000, 2 * GIB, 10 * GIB);
    struct place_result res;

    (void)state;
    /* The fullest host first, ties to the lowest index. */
    assert_int_equal(place_member(c, &req, &res), 0);
    assert_int_equal(res.host, 1);
    /* Filling it keeps it the fullest, until it has no room. */
    for (int i = 0; i < 4; i++)
        assert_int_equal(place_commit_ok(c, &req), 1);
    assert_int_equal(place_commit_ok(c, &req), 3);
    /* A request that only the emptier hosts fit. */
    req.need[PLACE_MEMORY] = 12 * GIB;
    assert_int_equal(place_commit_ok(c, &req), 2);
    assert_int_equal(place_commit_ok(c, &req), 0);
    assert_int_equal(place_commit_ok(c, &req), -1);
    /* The zone preference comes before the load. */
    place_cluster_free(c);
    c = ordered_cluster(PLACE_BINPACK);
    struct place_host_spec spec = spec_of("b0", "b", 8000, 16 * GIB, 100 * GIB);
    add_host(c, &spec);
    req = req_of("postgres", 1000, 2 * GIB, 10 * GIB);
    req.zone = "b";
    assert_int_equal(place_commit_ok(c, &req), 4);
    req.zone = "nowhere";
    assert_int_equal(place_commit_ok(c, &req), 1);
    place_cluster_free(c);
}

static void test_spread_order(void **state)
{
    struct place_cluster *c = ordered_cluster(PLACE_SPREAD);
    struct place_request req = req_of("postgres", 1000, 2 * GIB, 10 * GIB);
    struct place_result res;
    struct err err;

    (void)state;
    /* The least loaded host first. */
    assert_int_equal(place_member(c, &req, &res), 0);
    assert_int_equal(res.host, 0);
    assert_int_equal(place_commit(c, 0, req.need, &err), 0);
    /* Host 0 now holds 1000m/8000m, 2/16 GiB and 10/100 GiB: 0.125 + 0.125 + 0.1 loaded;
     * host 2 holds 4/16 GiB: 0.25. Host 2 is the least loaded. */
    assert_int_equal(place_commit_ok(c, &req), 2);
    /* Host 0 at 0.35 against host 2 at 0.6 and hosts 1 and 3 at 0.5: host 0. */
    assert_int_equal(place_commit_ok(c, &req), 0);
    place_cluster_free(c);

    /* Equal loads: the lowest index. */
    c = place_cluster_new(&(struct place_config){1, 1, 1, PLACE_SPREAD}, NULL);
    for (int i = 0; i < 3; i++) {
        char name[8];
        struct place_host_spec spec;

        snprintf(name, sizeof(name), "h%d", i);
        spec = spec_of(name, "a", 8000, 16 * GIB, 100 * GIB);
        add_host(c, &spec);
    }
    assert_int_equal(place_commit_ok(c, &req), 0);
    assert_int_equal(place_commit_ok(c, &req), 1);
    assert_int_equal(place_commit_ok(c, &req), 2);
    assert_int_equal(place_commit_ok(c, &req), 0);
    place_cluster_free(c);
}

static void test_zone_spread(void **state)
{
    struct place_cluster *c = place_cluster_new(NULL, NULL);
    static const char *const zones[] = {"a", "b", "c"};
    struct place_request req = req_of("postgres", 1000, 2 * GIB, 10 * GIB);
    struct place_result res;
    struct place_host_view v;
    int hosts[6];
    char name[8];

    (void)state;
    for (int i = 0; i < 6; i++) {
        struct place_host_spec spec;

        snprintf(name, sizeof(name), "h%d", i);
        spec = spec_of(name, zones[i % 3], 8000, 16 * GIB, 100 * GIB);
        add_host(c, &spec);
    }
    /* Five members: every zone once, then the emptiest zones again, all on distinct hosts. */
    req.zone = "b";
    assert_int_equal(place_instance(c, &req, 5, hosts, &res), 0);
    int per_zone[3] = {0};
    for (int i = 0; i < 5; i++) {
        for (int j = 0; j < i; j++)
            assert_int_not_equal(hosts[i], hosts[j]);
        per_zone[hosts[i] % 3]++;
        if (i < 3)
            for (int j = 0; j < i; j++)
                assert_int_not_equal(hosts[i] % 3, hosts[j] % 3);
    }
    assert_int_equal(hosts[0], 1); /* preferred zone b */
    assert_true(per_zone[0] <= 2 && per_zone[1] <= 2 && per_zone[2] <= 2);
    assert_int_equal(res.zone_members, 1);

    /* A sixth member has only the last free host, in zone c, used once. */
    req.members = hosts;
    req.n_members = 5;
    assert_int_equal(place_member(c, &req, &res), 0);
    assert_int_equal(res.zone_members, 1);
    place_cluster_free(c);

    /* Zone c full: the best spread possible, not a refusal. */
    c = place_cluster_new(NULL, NULL);
    for (int i = 0; i < 6; i++) {
        struct place_host_spec spec;

        snprintf(name, sizeof(name), "h%d", i);
        spec = spec_of(name, zones[i % 3], 8000, 16 * GIB, 100 * GIB);
        if (i % 3 == 2)
            spec.allocated[PLACE_MEMORY] = 15 * GIB;
        add_host(c, &spec);
    }
    req = req_of("postgres", 1000, 2 * GIB, 10 * GIB);
    assert_int_equal(place_instance(c, &req, 3, hosts, &res), 0);
    assert_int_equal(res.zone_members, 1);
    assert_int_equal(place_host_get(c, hosts[2], &v), 0);
    assert_string_not_equal(v.zone, "c");
    place_cluster_free(c);
}

static void test_commit_release(void **state)
{
    struct place_cluster *c = place_cluster_new(NULL, NULL);
    struct place_host_spec spec = spec_of("h0", "a", 4000, 8 * GIB, 100 * GIB);
    int64_t need[PLACE_RES__COUNT] = {1000, 4 * GIB, 10 * GIB};
    int64_t too_much[PLACE_RES__COUNT] = {1000, 5 * GIB, 10 * GIB};
    struct err err;
    struct place_host_view v;

    (void)state;
    add_host(c, &spec);
    assert_int_equal(place_commit(c, 0, need, &err), 0);
    assert_int_equal(place_commit(c, 0, too_much, &err), -1);
    assert_int_equal(err.code, PLACE_E_NOFIT);
    assert_int_equal(allocated(c, 0, PLACE_MEMORY), 4 * GIB);
    assert_int_equal(place_release(c, 0, too_much, &err), -1);
    assert_int_equal(err.code, PLACE_E_INVALID);
    assert_string_equal(err.msg,
                        "cannot release 5120 memory from host \"h0\": only 4096 allocated");
    assert_int_equal(place_release(c, 0, need, &err), 0);
    assert_int_equal(place_host_get(c, 0, &v), 0);
    assert_int_equal(v.load, 0);
    need[PLACE_CPU] = -5;
    assert_int_equal(place_commit(c, 0, need, &err), -1);
    assert_int_equal(err.code, PLACE_E_INVALID);
    assert_int_equal(place_commit(c, 3, need, &err), -1);
    assert_int_equal(err.code, PLACE_E_NOENT);

    /* A draining host keeps its allocation and can release it, but takes no member. */
    need[PLACE_CPU] = 1000;
    assert_int_equal(place_commit(c, 0, need, &err), 0);
    spec.allocated[PLACE_CPU] = 1000;
    spec.allocated[PLACE_MEMORY] = 4 * GIB;
    spec.allocated[PLACE_DISK] = 10 * GIB;
    spec.draining = true;
    assert_int_equal(place_host_update(c, 0, &spec, &err), 0);
    struct place_request req = req_of("redis", 1, 1, 1);
    struct place_result res;
    assert_int_equal(place_member(c, &req, &res), -1);
    assert_string_equal(res.err.msg, "no host fits: 1 draining");
    assert_int_equal(place_release(c, 0, need, &err), 0);
    spec.draining = false;
    spec.allocated[PLACE_CPU] = spec.allocated[PLACE_MEMORY] = spec.allocated[PLACE_DISK] = 0;
    assert_int_equal(place_host_update(c, 0, &spec, &err), 0);
    assert_int_equal(place_member(c, &req, &res), 0);
    place_cluster_free(c);
}

static void test_place_instance_rollback(void **state)
{
    struct place_cluster *c = place_cluster_new(NULL, NULL);
    struct place_request req = req_of("postgres", 1000, 2 * GIB, 10 * GIB);
    struct place_result res;
    int hosts[3];

    (void)state;
    for (int i = 0; i < 2; i++) {
        char name[8];
        struct place_host_spec spec;

        snprintf(name, sizeof(name), "h%d", i);
        spec = spec_of(name, "a", 8000, 16 * GIB, 100 * GIB);
        add_host(c, &spec);
    }
    assert_int_equal(place_instance(c, &req, 3, hosts, &res), -1);
    assert_int_equal(res.err.code, PLACE_E_NOFIT);
    assert_string_equal(res.err.msg, "no host fits: 2 already hold a member of this instance");
    assert_int_equal(allocated(c, 0, PLACE_MEMORY), 0);
    assert_int_equal(allocated(c, 1, PLACE_MEMORY), 0);
    assert_int_equal(place_instance(c, &req, 2, hosts, &res), 0);
    assert_int_equal(allocated(c, 0, PLACE_MEMORY), 2 * GIB);
    assert_int_equal(allocated(c, 1, PLACE_MEMORY), 2 * GIB);
    assert_int_equal(place_instance(c, &req, -1, hosts, &res), -1);
    assert_int_equal(res.err.code, PLACE_E_INVALID);
    place_cluster_free(c);
}

/* ---- property tests ---- */

#define P_ZONES 4
#define P_ENGINES 3

static const char *const p_zone_names[] = {"z0", "z1", "z2", "z3", "nowhere"};
static const char *const p_engine_names[] = {"postgres", "mysql", "redis", "mongo"};

struct model_host {
    bool live;
    char name[24];
    int zone;
    unsigned engines;
    bool no_io; /* cannot enforce IO limits */
    int64_t spec_alloc[PLACE_RES__COUNT]; /* may exceed the effective capacity */
};

struct instance {
    int n;
    int hosts[8];
    int64_t need[PLACE_RES__COUNT];
};

struct world {
    struct place_cluster *c;
    struct place_scan *s;
    enum place_policy policy;
    int64_t permille[PLACE_RES__COUNT];
    struct model_host *hosts;
    int max_hosts;
    int n_names;
    struct instance *inst;
    int n_inst, max_inst;
    uint64_t rng;
    bool brute; /* check every decision against the brute force here too */
    long decisions, placed, refused, spread_fallbacks;
};

static struct place_host_spec model_spec(struct world *w, int h, const char **engines,
                                         const int64_t cap[], const int64_t alloc[])
{
    struct model_host *m = &w->hosts[h];
    struct place_host_spec spec = {.name = m->name, .zone = p_zone_names[m->zone]};
    int n = 0;

    for (int e = 0; e < P_ENGINES; e++)
        if (m->engines >> e & 1)
            engines[n++] = p_engine_names[e];
    spec.engines = engines;
    spec.n_engines = n;
    spec.no_io_limits = m->no_io;
    for (int r = 0; r < PLACE_RES__COUNT; r++) {
        spec.capacity[r] = cap[r];
        spec.allocated[r] = alloc[r];
    }
    return spec;
}

/* Random host contents into the model and spec; state and draining into spec. */
static struct place_host_spec random_host(struct world *w, int h, const char **engines,
                                          int64_t cap[], int n_zones)
{
    static const int64_t cpus[] = {2000, 4000, 8000, 16000, 0};
    static const int64_t mems[] = {4 * GIB, 8 * GIB, 16 * GIB, 32 * GIB, 64 * GIB};
    static const int64_t disks[] = {50 * GIB, 100 * GIB, 200 * GIB, 400 * GIB};
    struct model_host *m = &w->hosts[h];
    struct place_host_spec spec;
    int k = rnd(&w->rng, 100);

    m->zone = rnd(&w->rng, n_zones);
    m->engines = rnd(&w->rng, 20) == 0 ? (unsigned)rnd(&w->rng, 8) : 7u;
    if (rnd(&w->rng, 4) == 0)
        m->engines = 1u + (unsigned)rnd(&w->rng, 7);
    m->no_io = rnd(&w->rng, 6) == 0;
    cap[PLACE_CPU] = cpus[rnd(&w->rng, rnd(&w->rng, 30) == 0 ? 5 : 4)];
    cap[PLACE_MEMORY] = mems[rnd(&w->rng, 5)];
    cap[PLACE_DISK] = disks[rnd(&w->rng, 4)];
    for (int r = 0; r < PLACE_RES__COUNT; r++) {
        int pct = rnd(&w->rng, 3) == 0 ? 0 : rnd(&w->rng, 60);

        if (rnd(&w->rng, 40) == 0)
            pct = 100 + rnd(&w->rng, 300); /* over the effective capacity */
        m->spec_alloc[r] = cap[r] * pct / 100;
    }
    spec = model_spec(w, h, engines, cap, m->spec_alloc);
    spec.state = k < 5 ? PLACE_HOST_UNKNOWN : k < 10 ? PLACE_HOST_UNREACHABLE : PLACE_HOST_READY;
    spec.draining = rnd(&w->rng, 14) == 0;
    return spec;
}

static int world_add_host(struct world *w, int n_zones)
{
    const char *engines[P_ENGINES];
    int64_t cap[PLACE_RES__COUNT];
    struct place_host_spec spec;
    struct err err;
    int hi, hs, slot;

    /* The index the cluster will assign: the lowest free. */
    for (slot = 0; slot < w->max_hosts && w->hosts[slot].live; slot++)
        ;
    if (slot == w->max_hosts)
        return -1;
    snprintf(w->hosts[slot].name, sizeof(w->hosts[slot].name), "host-%d", w->n_names++);
    spec = random_host(w, slot, engines, cap, n_zones);
    hi = place_host_add(w->c, &spec, &err);
    if (hi < 0)
        fail_msg("place_host_add: %s", err.msg);
    hs = place_scan_host_add(w->s, &spec);
    assert_int_equal(hi, slot);
    assert_int_equal(hs, slot);
    w->hosts[slot].live = true;
    return slot;
}

static int64_t eff_of(const struct world *w, int64_t cap, int r)
{
    return cap * w->permille[r] / 1000;
}

static uint32_t ref_load(const struct place_host_view *v)
{
    uint32_t load = 0;

    for (int r = 0; r < PLACE_RES__COUNT; r++)
        load += v->effective[r] == 0 || v->allocated[r] >= v->effective[r]
                    ? (uint32_t)1 << 20
                    : (uint32_t)(v->allocated[r] * 1048576 / v->effective[r]);
    return load;
}

/* The first cause that keeps host h from taking req (by the rules), or -1 when it fits. */
static int ref_cause(const struct world *w, int h, const struct place_host_view *v,
                     const struct place_request *req, int pref)
{
    const struct model_host *m = &w->hosts[h];
    int e = -1;
    static const int order[] = {PLACE_MEMORY, PLACE_CPU, PLACE_DISK};
    static const int causes[] = {PLACE_CAUSE_MEMORY, PLACE_CAUSE_CPU, PLACE_CAUSE_DISK};

    for (int i = 0; i < P_ENGINES; i++)
        if (strcmp(p_engine_names[i], req->engine) == 0)
            e = i;
    if (v->state == PLACE_HOST_UNREACHABLE)
        return PLACE_CAUSE_UNREACHABLE;
    if (v->state == PLACE_HOST_UNKNOWN)
        return PLACE_CAUSE_UNKNOWN;
    if (v->draining)
        return PLACE_CAUSE_DRAINING;
    if (e < 0 || !(m->engines >> e & 1))
        return PLACE_CAUSE_ENGINE;
    if (req->io_limits && (m->no_io || v->no_io_limits))
        return PLACE_CAUSE_IO;
    if (req->zone_required && m->zone != pref)
        return PLACE_CAUSE_ZONE;
    for (int i = 0; i < req->n_members; i++)
        if (req->members[i] == h)
            return PLACE_CAUSE_MEMBER;
    for (int i = 0; i < 3; i++)
        if (v->allocated[order[i]] + req->need[order[i]] > v->effective[order[i]])
            return causes[i];
    return -1;
}

/* Every host within capacity times its ratio, unless its spec loaded it above. */
static void check_capacity(struct world *w)
{
    for (int h = 0; h < place_host_limit(w->c); h++) {
        struct place_host_view v;

        if (!w->hosts[h].live) {
            assert_int_equal(place_host_get(w->c, h, &v), -1);
            continue;
        }
        assert_int_equal(place_host_get(w->c, h, &v), 0);
        for (int r = 0; r < PLACE_RES__COUNT; r++) {
            assert_int_equal(v.effective[r], eff_of(w, v.capacity[r], r));
            assert_true(v.allocated[r] <= v.effective[r] ||
                        v.allocated[r] <= w->hosts[h].spec_alloc[r]);
        }
        assert_int_equal(v.load, ref_load(&v));
    }
}

/* Compare the indexed answer with the scan's and, with w->brute, with the rules themselves. */
static void check_decision(struct world *w, const struct place_request *req,
                           const struct place_result *ri, const struct place_result *rs)
{
    int pref = -1, limit = place_host_limit(w->c);
    int zone_count[P_ZONES + 1] = {0};
    int counts[PLACE_CAUSE__COUNT] = {0};
    int min_zc = 1 << 30, chosen = ri->host;
    bool pref_possible = false;
    struct place_host_view vc;

    w->decisions++;
    assert_int_equal(ri->host, rs->host);
    assert_int_equal(ri->err.code, rs->err.code);
    assert_int_equal(ri->zone_members, rs->zone_members);
    assert_memory_equal(ri->counts, rs->counts, sizeof(ri->counts));
    assert_string_equal(ri->err.msg, rs->err.msg);
    assert_true(ri->err.code == PLACE_OK || ri->err.code == PLACE_E_NOFIT);
    if (chosen < 0)
        w->refused++;
    else
        w->placed++;
    if (!w->brute)
        return;

    if (req->zone)
        for (int z = 0; z < P_ZONES; z++)
            if (strcmp(req->zone, p_zone_names[z]) == 0)
                pref = z;
    for (int i = 0; i < req->n_members; i++)
        zone_count[w->hosts[req->members[i]].zone]++;
    /* Pass 1: causes, the smallest zone count and whether the preferred zone can be had there. */
    for (int h = 0; h < limit; h++) {
        struct place_host_view v;
        int cause;

        if (!w->hosts[h].live)
            continue;
        assert_int_equal(place_host_get(w->c, h, &v), 0);
        cause = ref_cause(w, h, &v, req, pref);
        if (cause >= 0) {
            counts[cause]++;
            continue;
        }
        if (zone_count[w->hosts[h].zone] < min_zc) {
            min_zc = zone_count[w->hosts[h].zone];
            pref_possible = false;
        }
        if (zone_count[w->hosts[h].zone] == min_zc && w->hosts[h].zone == pref)
            pref_possible = true;
    }
    if (chosen < 0) {
        /* A refusal only when no host passes every rule; the same counts per cause. */
        assert_int_equal(min_zc, 1 << 30);
        assert_memory_equal(counts, ri->counts, sizeof(counts));
        return;
    }
    assert_int_equal(place_host_get(w->c, chosen, &vc), 0);
    assert_int_equal(ref_cause(w, chosen, &vc, req, pref), -1); /* hard rules, anti-affinity */
    /* Zone spread maximal: no fitting host in a zone with fewer members. */
    assert_int_equal(zone_count[w->hosts[chosen].zone], min_zc);
    assert_int_equal(ri->zone_members, min_zc);
    if (min_zc > 0)
        w->spread_fallbacks++;
    assert_true(!pref_possible || w->hosts[chosen].zone == pref);
    /* Pass 2: the order of the policy among the hosts of the same zone tier. */
    for (int h = 0; h < limit; h++) {
        struct place_host_view v;

        if (!w->hosts[h].live || h == chosen)
            continue;
        assert_int_equal(place_host_get(w->c, h, &v), 0);
        if (ref_cause(w, h, &v, req, pref) >= 0 || zone_count[w->hosts[h].zone] != min_zc ||
            (w->hosts[h].zone == pref) != (w->hosts[chosen].zone == pref))
            continue;
        if (w->policy == PLACE_BINPACK)
            assert_true(ref_load(&v) < ref_load(&vc) ||
                        (ref_load(&v) == ref_load(&vc) && h > chosen));
        else
            assert_true(ref_load(&v) > ref_load(&vc) ||
                        (ref_load(&v) == ref_load(&vc) && h > chosen));
    }
}

static void world_release(struct world *w, int k)
{
    struct instance *in = &w->inst[k];

    for (int i = 0; i < in->n; i++) {
        assert_int_equal(place_release(w->c, in->hosts[i], in->need, NULL), 0);
        assert_int_equal(place_scan_release(w->s, in->hosts[i], in->need), 0);
    }
    w->inst[k] = w->inst[--w->n_inst];
}

static void random_request(struct world *w, struct place_request *req, int n_zones)
{
    static const int64_t plans[][PLACE_RES__COUNT] = {
        {250, 512, 5 * GIB},       {500, 1 * GIB, 10 * GIB},   {1000, 2 * GIB, 20 * GIB},
        {2000, 4 * GIB, 50 * GIB}, {2000, 8 * GIB, 100 * GIB}, {4000, 16 * GIB, 100 * GIB},
        {8000, 8 * GIB, 20 * GIB}, {1000, 24 * GIB, 50 * GIB}, {0, 0, 0},
    };
    int p = rnd(&w->rng, 9);
    int z = rnd(&w->rng, 10);

    memset(req, 0, sizeof(*req));
    memcpy(req->need, plans[p], sizeof(req->need));
    req->engine = p_engine_names[rnd(&w->rng, 40) == 0 ? 3 : rnd(&w->rng, 3)];
    req->io_limits = rnd(&w->rng, 3) == 0;
    if (z < 3) {
        req->zone = p_zone_names[rnd(&w->rng, 20) == 0 ? 4 : rnd(&w->rng, n_zones)];
        req->zone_required = z == 0;
    }
}

/* Place one instance member by member through both implementations, checking each decision. */
static void world_place(struct world *w, int n_zones)
{
    struct instance in = {0};
    struct place_request req;
    int members = 1 + (rnd(&w->rng, 3) == 0 ? 1 + rnd(&w->rng, 2) : 0);

    if (rnd(&w->rng, 15) == 0)
        members = 4 + rnd(&w->rng, 3); /* more members than zones */
    random_request(w, &req, n_zones);
    memcpy(in.need, req.need, sizeof(in.need));
    req.members = in.hosts;
    for (int k = 0; k < members; k++) {
        struct place_result ri, rs;
        int rci, rcs;

        req.n_members = in.n;
        rci = place_member(w->c, &req, &ri);
        rcs = place_scan_member(w->s, &req, &rs);
        assert_int_equal(rci, rcs);
        check_decision(w, &req, &ri, &rs);
        if (rci < 0)
            break;
        assert_int_equal(place_commit(w->c, ri.host, req.need, NULL), 0);
        assert_int_equal(place_scan_commit(w->s, ri.host, req.need), 0);
        in.hosts[in.n++] = ri.host;
    }
    if (in.n > 0 && w->n_inst < w->max_inst)
        w->inst[w->n_inst++] = in;
    else
        for (int i = 0; i < in.n; i++) {
            assert_int_equal(place_release(w->c, in.hosts[i], in.need, NULL), 0);
            assert_int_equal(place_scan_release(w->s, in.hosts[i], in.need), 0);
        }
}

/* place_instance() against the scan placing member by member (and undoing on refusal). */
static void world_place_instance(struct world *w, int n_zones)
{
    struct instance in = {0};
    struct place_request req;
    struct place_result ri, rs;
    int n = 1 + rnd(&w->rng, 3);
    int hosts[8], placed = 0, rci, rcs = 0;

    random_request(w, &req, n_zones);
    memcpy(in.need, req.need, sizeof(in.need));
    rci = place_instance(w->c, &req, n, hosts, &ri);
    req.members = in.hosts;
    for (placed = 0; placed < n; placed++) {
        req.n_members = placed;
        rcs = place_scan_member(w->s, &req, &rs);
        if (rcs < 0)
            break;
        assert_int_equal(place_scan_commit(w->s, rs.host, req.need), 0);
        in.hosts[placed] = rs.host;
    }
    assert_int_equal(rci, rcs);
    if (rci < 0) {
        assert_int_equal(ri.err.code, rs.err.code);
        assert_string_equal(ri.err.msg, rs.err.msg);
        while (placed-- > 0)
            assert_int_equal(place_scan_release(w->s, in.hosts[placed], req.need), 0);
        return;
    }
    assert_memory_equal(hosts, in.hosts, (size_t)n * sizeof(int));
    in.n = n;
    if (w->n_inst == w->max_inst)
        world_release(w, 0);
    w->inst[w->n_inst++] = in;
}

/* Forget the members on host h (its allocation goes with it). */
static void world_forget_host(struct world *w, int h)
{
    for (int k = 0; k < w->n_inst; k++) {
        struct instance *in = &w->inst[k];

        for (int i = 0; i < in->n; i++)
            if (in->hosts[i] == h)
                in->hosts[i--] = in->hosts[--in->n];
    }
}

static void world_update_host(struct world *w, int h, int n_zones)
{
    const char *engines[P_ENGINES];
    int64_t cap[PLACE_RES__COUNT];
    struct place_host_view v;
    struct place_host_spec spec;
    struct err err;
    int k = rnd(&w->rng, 4);

    assert_int_equal(place_host_get(w->c, h, &v), 0);
    if (k == 0) {
        /* New everything: the allocation is reloaded, members there forgotten. */
        world_forget_host(w, h);
        spec = random_host(w, h, engines, cap, n_zones);
    } else {
        /* A state change, keeping the allocation (its members stay recorded). */
        spec = model_spec(w, h, engines, v.capacity, v.allocated);
        spec.state = (enum place_host_state)(k == 1 ? rnd(&w->rng, 3) : PLACE_HOST_READY);
        spec.draining = k == 2 ? rnd(&w->rng, 2) : false;
    }
    if (place_host_update(w->c, h, &spec, &err) < 0)
        fail_msg("place_host_update: %s", err.msg);
    assert_int_equal(place_scan_host_update(w->s, h, &spec), 0);
}

struct tally {
    long decisions, placed, refused, fallbacks;
};

static void property_run(uint64_t seed, enum place_policy policy, int max_hosts, int ops,
                         bool brute, struct tally *t)
{
    struct world w = {.policy = policy, .max_hosts = max_hosts, .rng = seed, .brute = brute};
    struct place_config cfg;
    static const double cpu_ratios[] = {1.0, 1.0, 1.5, 2.0, 4.0, 0.9};
    int n_zones, n_hosts;

    place_config_init(&cfg);
    cfg.policy = policy;
    cfg.cpu_ratio = cpu_ratios[rnd(&w.rng, 6)];
    cfg.memory_ratio = rnd(&w.rng, 4) == 0 ? 0.9 : 1.0;
    cfg.disk_ratio = rnd(&w.rng, 4) == 0 ? 1.25 : 1.0;
    w.permille[PLACE_CPU] = (int64_t)(cfg.cpu_ratio * 1000 + 0.5);
    w.permille[PLACE_MEMORY] = (int64_t)(cfg.memory_ratio * 1000 + 0.5);
    w.permille[PLACE_DISK] = (int64_t)(cfg.disk_ratio * 1000 + 0.5);
    w.c = place_cluster_new(&cfg, NULL);
    w.s = place_scan_new(&cfg);
    assert_non_null(w.c);
    assert_non_null(w.s);
    w.hosts = calloc((size_t)max_hosts, sizeof(*w.hosts));
    w.max_inst = max_hosts * 8;
    w.inst = calloc((size_t)w.max_inst, sizeof(*w.inst));
    assert_non_null(w.hosts);
    assert_non_null(w.inst);

    n_zones = 1 + rnd(&w.rng, P_ZONES);
    n_hosts = max_hosts > 64 ? max_hosts - max_hosts / 8 : 1 + rnd(&w.rng, max_hosts - 8);
    for (int i = 0; i < n_hosts; i++)
        world_add_host(&w, n_zones);

    for (int op = 0; op < ops; op++) {
        int k = rnd(&w.rng, 100);
        int h = rnd(&w.rng, max_hosts);

        if (k < 70) {
            world_place(&w, n_zones);
        } else if (k < 76) {
            world_place_instance(&w, n_zones);
        } else if (k < 88) {
            if (w.n_inst > 0)
                world_release(&w, rnd(&w.rng, w.n_inst));
        } else if (k < 94) {
            if (w.hosts[h].live)
                world_update_host(&w, h, n_zones);
        } else if (k < 97) {
            if (w.hosts[h].live && place_host_count(w.c) > 1) {
                world_forget_host(&w, h);
                assert_int_equal(place_host_remove(w.c, h, NULL), 0);
                assert_int_equal(place_scan_host_remove(w.s, h), 0);
                w.hosts[h].live = false;
            }
        } else {
            world_add_host(&w, n_zones);
        }
        if (brute || op % 256 == 0)
            check_capacity(&w);
    }
    check_capacity(&w);
    /* Every instance on distinct hosts. */
    for (int k = 0; k < w.n_inst; k++)
        for (int i = 0; i < w.inst[k].n; i++)
            for (int j = 0; j < i; j++)
                assert_int_not_equal(w.inst[k].hosts[i], w.inst[k].hosts[j]);
    /* Releasing everything brings the hosts back to what their specs loaded. */
    while (w.n_inst > 0)
        world_release(&w, w.n_inst - 1);
    for (int h = 0; h < place_host_limit(w.c); h++) {
        struct place_host_view v;

        if (!w.hosts[h].live)
            continue;
        assert_int_equal(place_host_get(w.c, h, &v), 0);
        assert_memory_equal(v.allocated, w.hosts[h].spec_alloc, sizeof(v.allocated));
    }
    t->decisions += w.decisions;
    t->placed += w.placed;
    t->refused += w.refused;
    t->fallbacks += w.spread_fallbacks;
    place_cluster_free(w.c);
    place_scan_free(w.s);
    free(w.hosts);
    free(w.inst);
}

static void property_small(enum place_policy policy)
{
    struct tally t = {0};

    for (uint64_t seed = 1; seed <= 100; seed++)
        property_run(seed * 7919 + (uint64_t)policy, policy, 48, 300, true, &t);
    print_message("%ld decisions: %ld placed (%ld in a zone the instance already used), "
                  "%ld refused\n",
                  t.decisions, t.placed, t.fallbacks, t.refused);
    /* Each kind of answer is exercised. */
    assert_true(t.decisions > 20000);
    assert_true(t.refused > 1000 && t.fallbacks > 500);
}

static void test_property_binpack(void **state)
{
    (void)state;
    property_small(PLACE_BINPACK);
}

static void test_property_spread(void **state)
{
    (void)state;
    property_small(PLACE_SPREAD);
}

/* Larger clusters, where the index is deep: the index and the scan agree on every decision. */
static void test_property_large(void **state)
{
    struct tally t = {0};

    (void)state;
    property_run(424242, PLACE_BINPACK, 1500, 4000, false, &t);
    property_run(171717, PLACE_SPREAD, 1500, 4000, false, &t);
    print_message("%ld decisions: %ld placed, %ld refused\n", t.decisions, t.placed, t.refused);
    assert_true(t.decisions > 8000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),           cmocka_unit_test(test_hosts),
        cmocka_unit_test(test_refusal_message),  cmocka_unit_test(test_invalid_request),
        cmocka_unit_test(test_overcommit),       cmocka_unit_test(test_binpack_order),
        cmocka_unit_test(test_spread_order),     cmocka_unit_test(test_zone_spread),
        cmocka_unit_test(test_commit_release),   cmocka_unit_test(test_place_instance_rollback),
        cmocka_unit_test(test_property_binpack), cmocka_unit_test(test_property_spread),
        cmocka_unit_test(test_property_large),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
