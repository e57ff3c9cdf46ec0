/* The placement rules of scheduler/place.h by a full scan of the hosts: the brute-force reference
 * for the unit tests and the baseline of bench_sched. Written from the rules, not from place.c,
 * so that the two can check each other. */
#include "scheduler/place_scan.h"

#include <stdlib.h>
#include <string.h>

struct scan_host {
    bool live;
    int zone;
    uint32_t engines;
    enum place_host_state state;
    bool draining;
    bool no_io;
    int64_t cap[PLACE_RES__COUNT];
    int64_t eff[PLACE_RES__COUNT];
    int64_t alloc[PLACE_RES__COUNT];
    uint32_t load;
};

struct scan_name {
    char name[PLACE_NAME_MAX + 1];
    int refs;
};

struct place_scan {
    int64_t permille[PLACE_RES__COUNT];
    enum place_policy policy;
    struct scan_host *hosts;
    int n, alloc_n; /* slots 0 .. n - 1 in use or free */
    struct scan_name zones[PLACE_ZONES_MAX];
    int n_zones;
    struct scan_name engines[PLACE_ENGINES_MAX];
    int n_engines;
};

static void scan_compute(const struct place_scan *s, struct scan_host *h)
{
    h->load = 0;
    for (int r = 0; r < PLACE_RES__COUNT; r++) {
        h->eff[r] = h->cap[r] * s->permille[r] / 1000;
        if (h->eff[r] == 0 || h->alloc[r] >= h->eff[r])
            h->load += PLACE_LOAD_ONE;
        else
            h->load += (uint32_t)((uint64_t)h->alloc[r] * PLACE_LOAD_ONE / (uint64_t)h->eff[r]);
    }
}

struct place_scan *place_scan_new(const struct place_config *cfg)
{
    struct place_config defaults;
    struct place_scan *s;

    if (!cfg) {
        place_config_init(&defaults);
        cfg = &defaults;
    }
    if (place_config_check(cfg, NULL) < 0)
        return NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->permille[PLACE_CPU] = (int64_t)(cfg->cpu_ratio * 1000.0 + 0.5);
    s->permille[PLACE_MEMORY] = (int64_t)(cfg->memory_ratio * 1000.0 + 0.5);
    s->permille[PLACE_DISK] = (int64_t)(cfg->disk_ratio * 1000.0 + 0.5);
    s->policy = cfg->policy;
    return s;
}

void place_scan_free(struct place_scan *s)
{
    if (!s)
        return;
    free(s->hosts);
    free(s);
}

static int scan_lookup(const struct scan_name *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i].name, name) == 0)
            return i;
    return -1;
}

/* taken: slots already claimed for the host being resolved (their refs are not counted yet). */
static int scan_intern(struct scan_name *names, int *n, int max, const char *name, uint32_t taken)
{
    int i = scan_lookup(names, *n, name);

    if (i >= 0)
        return i;
    for (i = 0; i < *n && (names[i].refs > 0 || (taken >> i & 1)); i++)
        ;
    if (i == *n) {
        if (*n == max)
            return -1;
        (*n)++;
    }
    memcpy(names[i].name, name, strlen(name) + 1); /* length checked by the caller */
    names[i].refs = 0;
    return i;
}

static bool scan_name_ok(const char *s)
{
    return s && s[0] && strlen(s) <= PLACE_NAME_MAX;
}

static void scan_refs(struct place_scan *s, const struct scan_host *h, int delta)
{
    s->zones[h->zone].refs += delta;
    for (int e = 0; e < PLACE_ENGINES_MAX; e++)
        if (h->engines >> e & 1)
            s->engines[e].refs += delta;
}

/* Check spec and fill *h from it (live, refs not counted). 0 / -1. */
static int scan_spec(struct place_scan *s, const struct place_host_spec *spec, struct scan_host *h)
{
    if (!spec->name || !spec->name[0] || !scan_name_ok(spec->zone) || spec->n_engines < 0 ||
        spec->n_engines > PLACE_ENGINES_MAX || (spec->n_engines > 0 && !spec->engines))
        return -1;
    if (spec->state != PLACE_HOST_READY && spec->state != PLACE_HOST_UNKNOWN &&
        spec->state != PLACE_HOST_UNREACHABLE)
        return -1;
    for (int r = 0; r < PLACE_RES__COUNT; r++)
        if (spec->capacity[r] < 0 || spec->capacity[r] > PLACE_QTY_MAX || spec->allocated[r] < 0 ||
            spec->allocated[r] > PLACE_QTY_MAX)
            return -1;
    for (int i = 0; i < spec->n_engines; i++)
        if (!scan_name_ok(spec->engines[i]))
            return -1;
    h->zone = scan_intern(s->zones, &s->n_zones, PLACE_ZONES_MAX, spec->zone, 0);
    if (h->zone < 0)
        return -1;
    h->engines = 0;
    for (int i = 0; i < spec->n_engines; i++) {
        int e =
            scan_intern(s->engines, &s->n_engines, PLACE_ENGINES_MAX, spec->engines[i], h->engines);

        if (e < 0)
            return -1;
        h->engines |= UINT32_C(1) << e;
    }
    h->live = true;
    h->state = spec->state;
    h->draining = spec->draining;
    h->no_io = spec->no_io_limits;
    memcpy(h->cap, spec->capacity, sizeof(h->cap));
    memcpy(h->alloc, spec->allocated, sizeof(h->alloc));
    scan_compute(s, h);
    return 0;
}

int place_scan_host_add(struct place_scan *s, const struct place_host_spec *spec)
{
    struct scan_host h;
    int idx;

    if (scan_spec(s, spec, &h) < 0)
        return -1;
    for (idx = 0; idx < s->n && s->hosts[idx].live; idx++)
        ;
    if (idx == s->alloc_n) {
        int n = s->alloc_n ? s->alloc_n * 2 : 64;
        struct scan_host *nh = realloc(s->hosts, (size_t)n * sizeof(*nh));

        if (!nh)
            return -1;
        s->hosts = nh;
        s->alloc_n = n;
    }
    if (idx == s->n)
        s->n++;
    s->hosts[idx] = h;
    scan_refs(s, &h, 1);
    return idx;
}

int place_scan_host_update(struct place_scan *s, int host, const struct place_host_spec *spec)
{
    struct scan_host h;

    if (host < 0 || host >= s->n || !s->hosts[host].live || scan_spec(s, spec, &h) < 0)
        return -1;
    scan_refs(s, &s->hosts[host], -1);
    s->hosts[host] = h;
    scan_refs(s, &h, 1);
    return 0;
}

int place_scan_host_remove(struct place_scan *s, int host)
{
    if (host < 0 || host >= s->n || !s->hosts[host].live)
        return -1;
    scan_refs(s, &s->hosts[host], -1);
    s->hosts[host].live = false;
    while (s->n > 0 && !s->hosts[s->n - 1].live)
        s->n--;
    return 0;
}

int place_scan_member(const struct place_scan *s, const struct place_request *req,
                      struct place_result *res)
{
    int zone_count[PLACE_ZONES_MAX] = {0};
    int e, pref = -1;
    uint32_t bit = 0;
    int best = -1;
    int best_zc = 0, best_np = 0;
    uint32_t best_ord = 0;

    res->host = -1;
    res->zone_members = 0;
    memset(res->counts, 0, sizeof(res->counts));
    res->err.code = PLACE_OK;
    res->err.msg[0] = '\0';
    for (int r = 0; r < PLACE_RES__COUNT; r++)
        if (req->need[r] < 0 || req->need[r] > PLACE_QTY_MAX)
            goto invalid;
    if (!scan_name_ok(req->engine) || (req->zone && !scan_name_ok(req->zone)) ||
        (req->zone_required && !req->zone) || req->n_members < 0 ||
        (req->n_members > 0 && !req->members))
        goto invalid;
    for (int i = 0; i < req->n_members; i++) {
        int m = req->members[i];

        if (m < 0 || m >= s->n || !s->hosts[m].live)
            goto invalid;
        zone_count[s->hosts[m].zone]++;
    }
    e = scan_lookup(s->engines, s->n_engines, req->engine);
    if (e >= 0)
        bit = UINT32_C(1) << e;
    if (req->zone)
        pref = scan_lookup(s->zones, s->n_zones, req->zone);

    for (int i = 0; i < s->n; i++) {
        const struct scan_host *h = &s->hosts[i];
        bool member = false;
        int zc, np;
        uint32_t ord;

        if (!h->live)
            continue;
        if (h->state == PLACE_HOST_UNREACHABLE) {
            res->counts[PLACE_CAUSE_UNREACHABLE]++;
            continue;
        }
        if (h->state != PLACE_HOST_READY) {
            res->counts[PLACE_CAUSE_UNKNOWN]++;
            continue;
        }
        if (h->draining) {
            res->counts[PLACE_CAUSE_DRAINING]++;
            continue;
        }
        if (!(h->engines & bit)) {
            res->counts[PLACE_CAUSE_ENGINE]++;
            continue;
        }
        if (req->io_limits && h->no_io) {
            res->counts[PLACE_CAUSE_IO]++;
            continue;
        }
        if (req->zone_required && h->zone != pref) {
            res->counts[PLACE_CAUSE_ZONE]++;
            continue;
        }
        for (int k = 0; k < req->n_members; k++)
            member |= req->members[k] == i;
        if (member) {
            res->counts[PLACE_CAUSE_MEMBER]++;
            continue;
        }
        if (h->alloc[PLACE_MEMORY] + req->need[PLACE_MEMORY] > h->eff[PLACE_MEMORY]) {
            res->counts[PLACE_CAUSE_MEMORY]++;
            continue;
        }
        if (h->alloc[PLACE_CPU] + req->need[PLACE_CPU] > h->eff[PLACE_CPU]) {
            res->counts[PLACE_CAUSE_CPU]++;
            continue;
        }
        if (h->alloc[PLACE_DISK] + req->need[PLACE_DISK] > h->eff[PLACE_DISK]) {
            res->counts[PLACE_CAUSE_DISK]++;
            continue;
        }
        zc = zone_count[h->zone];
        np = h->zone != pref;
        ord = s->policy == PLACE_BINPACK ? 3 * PLACE_LOAD_ONE - h->load : h->load;
        /* Hosts come in index order, so a tie keeps the lower index. */
        if (best < 0 || zc < best_zc || (zc == best_zc && np < best_np) ||
            (zc == best_zc && np == best_np && ord < best_ord)) {
            best = i;
            best_zc = zc;
            best_np = np;
            best_ord = ord;
        }
    }
    if (best >= 0) {
        memset(res->counts, 0, sizeof(res->counts));
        res->host = best;
        res->zone_members = best_zc;
        return 0;
    }
    place_refusal_format(res, req);
    return -1;

invalid:
    res->err.code = PLACE_E_INVALID;
    memcpy(res->err.msg, "invalid request", sizeof("invalid request"));
    return -1;
}

static bool scan_live(const struct place_scan *s, int host)
{
    return host >= 0 && host < s->n && s->hosts[host].live;
}

int place_scan_commit(struct place_scan *s, int host, const int64_t need[PLACE_RES__COUNT])
{
    struct scan_host *h;

    if (!scan_live(s, host))
        return -1;
    h = &s->hosts[host];
    for (int r = 0; r < PLACE_RES__COUNT; r++)
        if (need[r] < 0 || need[r] > PLACE_QTY_MAX || h->alloc[r] + need[r] > h->eff[r])
            return -1;
    for (int r = 0; r < PLACE_RES__COUNT; r++)
        h->alloc[r] += need[r];
    scan_compute(s, h);
    return 0;
}

int place_scan_release(struct place_scan *s, int host, const int64_t need[PLACE_RES__COUNT])
{
    struct scan_host *h;

    if (!scan_live(s, host))
        return -1;
    h = &s->hosts[host];
    for (int r = 0; r < PLACE_RES__COUNT; r++)
        if (need[r] < 0 || h->alloc[r] < need[r])
            return -1;
    for (int r = 0; r < PLACE_RES__COUNT; r++)
        h->alloc[r] -= need[r];
    scan_compute(s, h);
    return 0;
}
