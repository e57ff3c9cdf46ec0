/* bench_sched: the scheduler's throughput, decision time and packing on a large cluster, and the
 * same stream through the full-scan reference for comparison. docs/benchmarks.md explains it.
 * Single thread; stops by itself; the last line is `placements/s=<N> p99_us=<N> packing=<pct>`. */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scheduler/place.h"
#include "scheduler/place_scan.h"

#define HOSTS 10000
#define ZONES 3
#define STREAM 100000    /* timed placements, through both implementations */
#define EXTRA_MAX 400000 /* further placements until the first refusal for lack of room */
#define MEMBERS_MAX 3
#define GIB INT64_C(1024) /* MiB */
#define SEED UINT64_C(20240601)

static const char *const zone_names[ZONES] = {"zone-a", "zone-b", "zone-c"};
static const char *const engines_all[] = {"postgres", "mysql", "redis"};

/* Host shape: 48 cores, 192 GiB, 2 TiB; CPU overcommitted 2x. */
static const int64_t host_cap[PLACE_RES__COUNT] = {48000, 192 * GIB, 2048 * GIB};
#define CPU_RATIO 2.0

struct plan {
    const char *name;
    int64_t need[PLACE_RES__COUNT];
    int weight; /* percent of the stream */
};

static const struct plan plans[] = {
    {"nano", {250, GIB / 2, 5 * GIB}, 10},       {"small", {500, 2 * GIB, 20 * GIB}, 25},
    {"medium", {1000, 4 * GIB, 50 * GIB}, 25},   {"large", {2000, 12 * GIB, 100 * GIB}, 15},
    {"xlarge", {4000, 24 * GIB, 200 * GIB}, 10}, {"highmem", {4000, 48 * GIB, 200 * GIB}, 5},
    {"highcpu", {8000, 6 * GIB, 50 * GIB}, 10},
};
#define N_PLANS (sizeof(plans) / sizeof(plans[0]))

struct item {
    uint8_t plan;
    uint8_t engine;
    uint8_t members; /* 1 + replicas */
    int8_t zone;     /* preferred zone or -1 */
};

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static int rng_below(uint64_t *s, int n)
{
    return (int)(rng_next(s) % (uint64_t)n);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The mixed stream: plans by weight; postgres 60%, mysql 25%, redis 15%; a third with 1 or 2
 * replicas; a fifth with a preferred zone. */
static void make_stream(struct item *items, int n, uint64_t *rng)
{
    for (int i = 0; i < n; i++) {
        int w = rng_below(rng, 100), p = 0, e = rng_below(rng, 100);

        while (w >= plans[p].weight) {
            w -= plans[p].weight;
            p++;
        }
        items[i].plan = (uint8_t)p;
        items[i].engine = (uint8_t)(e < 60 ? 0 : e < 85 ? 1 : 2);
        items[i].members = (uint8_t)(rng_below(rng, 3) == 0 ? 2 + rng_below(rng, 2) : 1);
        items[i].zone = (int8_t)(rng_below(rng, 5) == 0 ? rng_below(rng, ZONES) : -1);
    }
}

/* Host i: zone i % 3; one host in ten does not offer redis. */
static struct place_host_spec host_spec(int i, char *name, size_t n)
{
    struct place_host_spec spec = {
        .name = name,
        .zone = zone_names[i % ZONES],
        .engines = engines_all,
        .n_engines = i % 10 == 9 ? 2 : 3,
        .state = PLACE_HOST_READY,
    };

    snprintf(name, n, "host-%05d", i);
    memcpy(spec.capacity, host_cap, sizeof(spec.capacity));
    return spec;
}

static struct place_request item_request(const struct item *it, int *members)
{
    struct place_request req = {
        .engine = engines_all[it->engine],
        .members = members,
        .zone = it->zone >= 0 ? zone_names[it->zone] : NULL,
    };

    memcpy(req.need, plans[it->plan].need, sizeof(req.need));
    return req;
}

/* One implementation behind the same loop. */
struct impl {
    struct place_cluster *c;
    struct place_scan *s;
};

static int impl_member(struct impl *im, const struct place_request *req, struct place_result *res)
{
    return im->c ? place_member(im->c, req, res) : place_scan_member(im->s, req, res);
}

static int impl_commit(struct impl *im, int host, const int64_t need[])
{
    return im->c ? place_commit(im->c, host, need, NULL) : place_scan_commit(im->s, host, need);
}

static int impl_release(struct impl *im, int host, const int64_t need[])
{
    return im->c ? place_release(im->c, host, need, NULL) : place_scan_release(im->s, host, need);
}

/* Place all members of one instance, or none (the refusal in *res). 0 / -1. */
static int place_item(struct impl *im, const struct item *it, struct place_result *res,
                      uint64_t *digest)
{
    int members[MEMBERS_MAX];
    struct place_request req = item_request(it, members);

    for (int k = 0; k < it->members; k++) {
        req.n_members = k;
        if (impl_member(im, &req, res) < 0 || impl_commit(im, res->host, req.need) < 0) {
            while (k-- > 0)
                if (impl_release(im, members[k], req.need) < 0)
                    abort();
            *digest = (*digest ^ UINT64_C(0xffff)) * UINT64_C(0x100000001b3);
            return -1;
        }
        members[k] = res->host;
        *digest = (*digest ^ (uint64_t)res->host) * UINT64_C(0x100000001b3);
    }
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v. */
static int64_t pct(const int64_t *v, int n, double p)
{
    int k = (int)ceil(p / 100.0 * n) - 1;

    return v[k < 0 ? 0 : k];
}

struct run {
    double secs;
    int placed, refused, members;
    int64_t p50, p99, max; /* ns per placement */
    uint64_t digest;
};

static void run_stream(struct impl *im, const struct item *items, int n, int64_t *lat,
                       struct run *out)
{
    struct place_result res;
    double t0;

    memset(out, 0, sizeof(*out));
    out->digest = UINT64_C(0xcbf29ce484222325);
    t0 = now_s();
    for (int i = 0; i < n; i++) {
        int64_t a = now_ns();

        if (place_item(im, &items[i], &res, &out->digest) == 0) {
            out->placed++;
            out->members += items[i].members;
        } else {
            out->refused++;
        }
        lat[i] = now_ns() - a;
    }
    out->secs = now_s() - t0;
    qsort(lat, (size_t)n, sizeof(*lat), cmp_i64);
    out->p50 = pct(lat, n, 50);
    out->p99 = pct(lat, n, 99);
    out->max = lat[n - 1];
}

/* Allocated share of the effective capacity of the whole cluster, per resource, in percent. */
static void shares(const struct place_cluster *c, double out[PLACE_RES__COUNT])
{
    double alloc[PLACE_RES__COUNT] = {0}, eff[PLACE_RES__COUNT] = {0};

    for (int h = 0; h < place_host_limit(c); h++) {
        struct place_host_view v;

        if (place_host_get(c, h, &v) < 0)
            continue;
        for (int r = 0; r < PLACE_RES__COUNT; r++) {
            alloc[r] += (double)v.allocated[r];
            eff[r] += (double)v.effective[r];
        }
    }
    for (int r = 0; r < PLACE_RES__COUNT; r++)
        out[r] = eff[r] > 0 ? 100.0 * alloc[r] / eff[r] : 0.0;
}

int main(void)
{
    struct place_config cfg;
    struct err err;
    struct impl idx = {0}, scan = {0};
    struct item *items = NULL, *extra = NULL;
    int64_t *lat = NULL;
    struct run ri, rs;
    struct place_result res;
    double sh[PLACE_RES__COUNT], packing = 0.0;
    uint64_t rng = SEED, digest = 0;
    char name[32];
    int extra_placed = 0, rc = 1;
    bool refused_for_room = false;

    place_config_init(&cfg);
    cfg.cpu_ratio = CPU_RATIO;
    idx.c = place_cluster_new(&cfg, &err);
    scan.s = place_scan_new(&cfg);
    items = calloc(STREAM, sizeof(*items));
    extra = calloc(EXTRA_MAX, sizeof(*extra));
    lat = calloc(STREAM, sizeof(*lat));
    if (!idx.c || !scan.s || !items || !extra || !lat) {
        fprintf(stderr, "bench_sched: could not set up: %s\n", idx.c ? "out of memory" : err.msg);
        goto out;
    }
    for (int i = 0; i < HOSTS; i++) {
        struct place_host_spec spec = host_spec(i, name, sizeof(name));

        if (place_host_add(idx.c, &spec, &err) != i || place_scan_host_add(scan.s, &spec) != i) {
            fprintf(stderr, "bench_sched: could not add host %d: %s\n", i, err.msg);
            goto out;
        }
    }
    make_stream(items, STREAM, &rng);
    make_stream(extra, EXTRA_MAX, &rng);

    printf("cluster: %d hosts in %d zones, each %d cores (cpu ratio %.1f), %" PRId64
           " GiB memory, %" PRId64 " GiB disk; one in ten without redis; binpack\n",
           HOSTS, ZONES, (int)(host_cap[PLACE_CPU] / 1000), CPU_RATIO, host_cap[PLACE_MEMORY] / GIB,
           host_cap[PLACE_DISK] / GIB);
    printf("stream: %d placements (instances) of %zu plans, a third with 1-2 replicas "
           "(anti-affinity, zone spread), a fifth with a preferred zone; one thread\n",
           STREAM, N_PLANS);

    run_stream(&idx, items, STREAM, lat, &ri);
    printf("indexed:   %.3f s, %d placed (%d members), %d refused; %.0f placements/s, "
           "%.0f members/s; per placement p50 %.2f us, p99 %.2f us, max %.1f us\n",
           ri.secs, ri.placed, ri.members, ri.refused, STREAM / ri.secs, ri.members / ri.secs,
           ri.p50 / 1e3, ri.p99 / 1e3, ri.max / 1e3);
    shares(idx.c, sh);
    printf("after the stream: memory %.1f%%, cpu %.1f%%, disk %.1f%% of the effective capacity "
           "allocated\n",
           sh[PLACE_MEMORY], sh[PLACE_CPU], sh[PLACE_DISK]);

    run_stream(&scan, items, STREAM, lat, &rs);
    printf("full scan: %.3f s, %d placed (%d members), %d refused; %.0f placements/s; "
           "per placement p50 %.2f us, p99 %.2f us, max %.1f us\n",
           rs.secs, rs.placed, rs.members, rs.refused, STREAM / rs.secs, rs.p50 / 1e3, rs.p99 / 1e3,
           rs.max / 1e3);
    printf("ratio: indexed/full scan = %.1fx placements/s, p99 %.1fx lower; decisions "
           "identical: %s\n",
           rs.secs / ri.secs, (double)rs.p99 / (double)ri.p99,
           ri.digest == rs.digest ? "yes" : "NO");

    /* Packing: keep placing (indexed, binpack) until the first refusal for lack of room. */
    for (int i = 0; i < EXTRA_MAX; i++) {
        if (place_item(&idx, &extra[i], &res, &digest) == 0) {
            extra_placed++;
            continue;
        }
        if (res.counts[PLACE_CAUSE_MEMORY] + res.counts[PLACE_CAUSE_CPU] +
                res.counts[PLACE_CAUSE_DISK] ==
            0)
            continue;
        refused_for_room = true;
        shares(idx.c, sh);
        packing = fmax(sh[PLACE_MEMORY], fmax(sh[PLACE_CPU], sh[PLACE_DISK]));
        printf("first refusal for lack of room at placement %d (%s, %d members): %s\n",
               STREAM + i + 1, plans[extra[i].plan].name, extra[i].members, res.err.msg);
        printf("packing: memory %.2f%%, cpu %.2f%%, disk %.2f%% allocated\n", sh[PLACE_MEMORY],
               sh[PLACE_CPU], sh[PLACE_DISK]);
        break;
    }
    if (!refused_for_room)
        printf("packing: no refusal after %d more placements\n", extra_placed);

    printf("placements/s=%.0f p99_us=%.0f packing=%.2f\n", STREAM / ri.secs, ceil(ri.p99 / 1e3),
           packing);
    rc = ri.digest == rs.digest && refused_for_room ? 0 : 1;
out:
    place_cluster_free(idx.c);
    place_scan_free(scan.s);
    free(items);
    free(extra);
    free(lat);
    return rc;
}
