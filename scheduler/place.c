/* Placement of instance members on hosts: the rules of scheduler/place.h answered from an index
 * instead of a scan of every host.
 *
 * NOTES
 * Pure library: no I/O, no globals, no locks; whoever owns a cluster serializes calls on it.
 * The cluster owns its hosts array, their names, the name hash table and the groups array.
 * Index: the ready, non-draining hosts are split into groups of equal (engine set, zone, IO
 * limits enforced or not); each
 * group is a treap ordered by rank = (policy-ordered load, host index), so the first host in
 * order is the best one. Every node keeps the largest free amount of each resource in its
 * subtree, and a query skips the subtrees where one resource cannot fit. A placement looks at
 * the first fitting host of each group that offers the engine and keeps the best by zone spread,
 * zone preference and rank. Refusals, which need a count per cause, scan every host.
 * Errors are returned in struct err (codes enum place_errc) or struct place_result; nothing
 * is logged. */
#include "scheduler/place.h"
#include "scheduler/place_int.h"
#include "scheduler/treap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const res_name[PLACE_RES__COUNT] = {"cpu", "memory", "disk"};

/* Which cause a lack of each resource is. */
static const int res_cause[PLACE_RES__COUNT] = {PLACE_CAUSE_CPU, PLACE_CAUSE_MEMORY,
                                                PLACE_CAUSE_DISK};

/* Resource checks in the order of the causes: memory, CPU, disk. */
static const int cause_res[3] = {PLACE_MEMORY, PLACE_CPU, PLACE_DISK};

/* ---- configuration ---- */

void place_config_init(struct place_config *cfg)
{
    cfg->cpu_ratio = 1.0;
    cfg->memory_ratio = 1.0;
    cfg->disk_ratio = 1.0;
    cfg->policy = PLACE_BINPACK;
}

static int64_t ratio_permille(double ratio)
{
    return (int64_t)(ratio * 1000.0 + 0.5);
}

int place_config_check(const struct place_config *cfg, struct err *err)
{
    const double ratios[PLACE_RES__COUNT] = {cfg->cpu_ratio, cfg->memory_ratio, cfg->disk_ratio};

    for (int r = 0; r < PLACE_RES__COUNT; r++) {
        if (!isfinite(ratios[r]) || ratios[r] <= 0.0 || ratios[r] > PLACE_RATIO_MAX ||
            ratio_permille(ratios[r]) < 1)
            return err_set(err, PLACE_E_INVALID, "%s ratio %g is out of range (0, %g]", res_name[r],
                           ratios[r], PLACE_RATIO_MAX);
    }
    if (cfg->policy != PLACE_BINPACK && cfg->policy != PLACE_SPREAD)
        return err_set(err, PLACE_E_INVALID, "invalid placement policy %d", (int)cfg->policy);
    err_clear(err);
    return 0;
}

/* ---- load and rank ---- */

static uint32_t load_of(const int64_t eff[], const int64_t alloc[])
{
    uint32_t sum = 0;

    for (int r = 0; r < PLACE_RES__COUNT; r++) {
        if (eff[r] <= 0 || alloc[r] >= eff[r])
            sum += PLACE_LOAD_ONE;
        else
            sum += (uint32_t)(((uint64_t)alloc[r] << 20) / (uint64_t)eff[r]);
    }
    return sum;
}

static void host_compute(const struct place_cluster *c, struct host *h, int idx)
{
    uint32_t ord;

    for (int r = 0; r < PLACE_RES__COUNT; r++)
        h->eff[r] = h->cap[r] * c->permille[r] / 1000;
    h->load = load_of(h->eff, h->alloc);
    ord = c->cfg.policy == PLACE_BINPACK ? 3 * PLACE_LOAD_ONE - h->load : h->load;
    h->rank = (uint64_t)ord << 32 | (uint32_t)idx;
}

/* ---- names ---- */

static uint64_t hash_name(const char *s)
{
    uint64_t x = 0xcbf29ce484222325u;

    for (; *s; s++) {
        x ^= (unsigned char)*s;
        x *= 0x100000001b3u;
    }
    return x;
}

static size_t htab_slot(const struct place_cluster *c, const char *name)
{
    size_t mask = c->hcap - 1;
    size_t i = (size_t)hash_name(name) & mask;

    while (c->htab[i] >= 0 && strcmp(c->hosts[c->htab[i]].name, name) != 0)
        i = (i + 1) & mask;
    return i;
}

/* Make room for one more name. 0 / -1 (out of memory, nothing changed). */
static int htab_reserve(struct place_cluster *c)
{
    size_t ncap;
    int *old = c->htab;
    size_t ocap = c->hcap;

    if ((size_t)(c->count + 1) * 2 <= c->hcap)
        return 0;
    ncap = c->hcap ? c->hcap * 2 : 64;
    c->htab = malloc(ncap * sizeof(*c->htab));
    if (!c->htab) {
        c->htab = old;
        return -1;
    }
    c->hcap = ncap;
    for (size_t i = 0; i < ncap; i++)
        c->htab[i] = -1;
    for (size_t i = 0; i < ocap; i++)
        if (old[i] >= 0)
            c->htab[htab_slot(c, c->hosts[old[i]].name)] = old[i];
    free(old);
    return 0;
}

/* Remove slot i, shifting back the entries of its probe run. */
static void htab_delete(struct place_cluster *c, size_t i)
{
    size_t mask = c->hcap - 1;
    size_t j = i;

    for (;;) {
        size_t home;

        j = (j + 1) & mask;
        if (c->htab[j] < 0)
            break;
        home = (size_t)hash_name(c->hosts[c->htab[j]].name) & mask;
        /* Move j into the hole at i unless its home lies cyclically in (i, j]. */
        if ((i <= j) ? (i < home && home <= j) : (i < home || home <= j))
            continue;
        c->htab[i] = c->htab[j];
        i = j;
    }
    c->htab[i] = -1;
}

static int name_find(const struct name_slot *slots, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(slots[i].name, name) == 0)
            return i;
    return -1;
}

/* The slot for name, claiming a new or unused one, but none in taken (slots claimed for the
 * same host, whose refs are not counted yet); -1 when all max are in use. */
static int name_intern(struct name_slot *slots, int *n, int max, const char *name, uint64_t taken)
{
    int i = name_find(slots, *n, name);

    if (i >= 0)
        return i;
    if (*n < max) {
        i = (*n)++;
    } else {
        for (i = 0; i < max && (slots[i].refs > 0 || (taken >> i & 1)); i++)
            ;
        if (i == max)
            return -1;
    }
    memcpy(slots[i].name, name, strlen(name) + 1);
    slots[i].refs = 0;
    return i;
}

static bool name_ok(const char *s)
{
    return s && s[0] && strlen(s) <= PLACE_NAME_MAX;
}

/* ---- cluster ---- */

struct place_cluster *place_cluster_new(const struct place_config *cfg, struct err *err)
{
    struct place_config defaults;
    struct place_cluster *c = NULL;

    if (!cfg) {
        place_config_init(&defaults);
        cfg = &defaults;
    }
    if (place_config_check(cfg, err) < 0)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (!c) {
        err_set(err, PLACE_E_NOMEM, "out of memory");
        return NULL;
    }
    c->cfg = *cfg;
    c->permille[PLACE_CPU] = ratio_permille(cfg->cpu_ratio);
    c->permille[PLACE_MEMORY] = ratio_permille(cfg->memory_ratio);
    c->permille[PLACE_DISK] = ratio_permille(cfg->disk_ratio);
    err_clear(err);
    return c;
}

void place_cluster_free(struct place_cluster *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->limit; i++)
        free(c->hosts[i].name);
    free(c->hosts);
    free(c->htab);
    free(c->groups);
    free(c);
}

int place_cluster_set_config(struct place_cluster *c, const struct place_config *cfg,
                             struct err *err)
{
    if (place_config_check(cfg, err) < 0)
        return -1;
    c->cfg = *cfg;
    c->permille[PLACE_CPU] = ratio_permille(cfg->cpu_ratio);
    c->permille[PLACE_MEMORY] = ratio_permille(cfg->memory_ratio);
    c->permille[PLACE_DISK] = ratio_permille(cfg->disk_ratio);
    for (int g = 0; g < c->n_groups; g++)
        c->groups[g].root = -1;
    for (int i = 0; i < c->limit; i++) {
        if (!c->hosts[i].name)
            continue;
        host_compute(c, &c->hosts[i], i);
        treap_index_host(c, i);
    }
    return 0;
}

/* Check a host spec; on success *zone and *engines hold the interned zone and engine mask. */
static int spec_resolve(struct place_cluster *c, const struct place_host_spec *spec, int *zone,
                        uint32_t *engines, struct err *err)
{
    const char *name = spec->name;

    if (!name || !name[0])
        return err_set(err, PLACE_E_INVALID, "host name is empty");
    if (!name_ok(spec->zone))
        return err_set(err, PLACE_E_INVALID, "zone of host \"%s\" is empty or longer than %d bytes",
                       name, PLACE_NAME_MAX);
    if (spec->n_engines < 0 || spec->n_engines > PLACE_ENGINES_MAX ||
        (spec->n_engines > 0 && !spec->engines))
        return err_set(err, PLACE_E_INVALID, "invalid engine list for host \"%s\"", name);
    for (int i = 0; i < spec->n_engines; i++)
        if (!name_ok(spec->engines[i]))
            return err_set(err, PLACE_E_INVALID,
                           "engine of host \"%s\" is empty or longer than %d bytes", name,
                           PLACE_NAME_MAX);
    for (int r = 0; r < PLACE_RES__COUNT; r++) {
        if (spec->capacity[r] < 0 || spec->capacity[r] > PLACE_QTY_MAX)
            return err_set(err, PLACE_E_INVALID, "%s capacity %lld of host \"%s\" is out of range",
                           res_name[r], (long long)spec->capacity[r], name);
        if (spec->allocated[r] < 0 || spec->allocated[r] > PLACE_QTY_MAX)
            return err_set(err, PLACE_E_INVALID,
                           "%s allocation %lld of host \"%s\" is out of range", res_name[r],
                           (long long)spec->allocated[r], name);
    }
    if (spec->state != PLACE_HOST_READY && spec->state != PLACE_HOST_UNKNOWN &&
        spec->state != PLACE_HOST_UNREACHABLE)
        return err_set(err, PLACE_E_INVALID, "invalid state %d of host \"%s\"", (int)spec->state,
                       name);

    *zone = name_intern(c->zones, &c->n_zones, PLACE_ZONES_MAX, spec->zone, 0);
    if (*zone < 0)
        return err_set(err, PLACE_E_LIMIT, "could not add zone \"%s\": more than %d zones",
                       spec->zone, PLACE_ZONES_MAX);
    *engines = 0;
    for (int i = 0; i < spec->n_engines; i++) {
        int e =
            name_intern(c->engines, &c->n_engines, PLACE_ENGINES_MAX, spec->engines[i], *engines);

        if (e < 0)
            return err_set(err, PLACE_E_LIMIT, "could not add engine \"%s\": more than %d engines",
                           spec->engines[i], PLACE_ENGINES_MAX);
        *engines |= UINT32_C(1) << e;
    }
    return 0;
}

/* The group of (engines, zone, no_io), created when missing; -1 when out of memory. */
static int group_get(struct place_cluster *c, uint32_t engines, int zone, bool no_io)
{
    for (int g = 0; g < c->n_groups; g++)
        if (c->groups[g].engines == engines && c->groups[g].zone == zone &&
            c->groups[g].no_io == no_io)
            return g;
    if (c->n_groups == c->groups_alloc) {
        int n = c->groups_alloc ? c->groups_alloc * 2 : 8;
        struct group *ng = realloc(c->groups, (size_t)n * sizeof(*ng));

        if (!ng)
            return -1;
        c->groups = ng;
        c->groups_alloc = n;
    }
    c->groups[c->n_groups] =
        (struct group){.engines = engines, .zone = zone, .no_io = no_io, .root = -1};
    return c->n_groups++;
}

static void refs_adjust(struct place_cluster *c, const struct host *h, int delta)
{
    c->zones[h->zone].refs += delta;
    for (int e = 0; e < PLACE_ENGINES_MAX; e++)
        if (h->engines & (UINT32_C(1) << e))
            c->engines[e].refs += delta;
}

static void host_fill(struct place_cluster *c, int idx, const struct place_host_spec *spec,
                      int zone, uint32_t engines, int group)
{
    struct host *h = &c->hosts[idx];

    h->zone = zone;
    h->engines = engines;
    h->group = group;
    h->state = spec->state;
    h->draining = spec->draining;
    h->no_io = spec->no_io_limits;
    for (int r = 0; r < PLACE_RES__COUNT; r++) {
        h->cap[r] = spec->capacity[r];
        h->alloc[r] = spec->allocated[r];
    }
    h->prio = treap_prio(idx);
    host_compute(c, h, idx);
    refs_adjust(c, h, 1);
    treap_index_host(c, idx);
}

int place_host_add(struct place_cluster *c, const struct place_host_spec *spec, struct err *err)
{
    int zone, group, idx;
    uint32_t engines;
    char *name = NULL;

    if (spec_resolve(c, spec, &zone, &engines, err) < 0)
        return -1;
    if (place_host_find(c, spec->name) >= 0)
        return err_set(err, PLACE_E_EXISTS, "host \"%s\" already exists", spec->name);
    group = group_get(c, engines, zone, spec->no_io_limits);
    if (group < 0)
        goto nomem;
    for (idx = c->first_free < c->limit ? c->first_free : c->limit;
         idx < c->limit && c->hosts[idx].name; idx++)
        ;
    if (idx == c->alloc_n) {
        int n = c->alloc_n ? c->alloc_n * 2 : 64;
        struct host *nh;

        if (n > INT32_MAX / 2)
            return err_set(err, PLACE_E_LIMIT, "could not add host \"%s\": too many hosts",
                           spec->name);
        nh = realloc(c->hosts, (size_t)n * sizeof(*nh));
        if (!nh)
            goto nomem;
        c->hosts = nh;
        c->alloc_n = n;
    }
    if (htab_reserve(c) < 0)
        goto nomem;
    name = strdup(spec->name);
    if (!name)
        goto nomem;

    if (idx == c->limit)
        c->limit++;
    c->first_free = idx + 1;
    memset(&c->hosts[idx], 0, sizeof(c->hosts[idx]));
    c->hosts[idx].name = name;
    c->htab[htab_slot(c, name)] = idx;
    c->count++;
    host_fill(c, idx, spec, zone, engines, group);
    err_clear(err);
    return idx;

nomem:
    return err_set(err, PLACE_E_NOMEM, "could not add host \"%s\": out of memory", spec->name);
}

static bool host_live(const struct place_cluster *c, int host)
{
    return host >= 0 && host < c->limit && c->hosts[host].name;
}

int place_host_update(struct place_cluster *c, int host, const struct place_host_spec *spec,
                      struct err *err)
{
    int zone, group, other;
    uint32_t engines;
    char *name = NULL;
    struct host *h;

    if (!host_live(c, host))
        return err_set(err, PLACE_E_NOENT, "host %d does not exist", host);
    if (spec_resolve(c, spec, &zone, &engines, err) < 0)
        return -1;
    other = place_host_find(c, spec->name);
    if (other >= 0 && other != host)
        return err_set(err, PLACE_E_EXISTS, "host \"%s\" already exists", spec->name);
    group = group_get(c, engines, zone, spec->no_io_limits);
    if (group < 0)
        goto nomem;
    h = &c->hosts[host];
    if (other < 0) {
        name = strdup(spec->name);
        if (!name)
            goto nomem;
        /* Same number of names: the table needs no room. */
        htab_delete(c, htab_slot(c, h->name));
        free(h->name);
        h->name = name;
        c->htab[htab_slot(c, name)] = host;
    }
    treap_unindex_host(c, host);
    refs_adjust(c, h, -1);
    host_fill(c, host, spec, zone, engines, group);
    err_clear(err);
    return 0;

nomem:
    return err_set(err, PLACE_E_NOMEM, "could not update host \"%s\": out of memory", spec->name);
}

int place_host_remove(struct place_cluster *c, int host, struct err *err)
{
    struct host *h;

    if (!host_live(c, host))
        return err_set(err, PLACE_E_NOENT, "host %d does not exist", host);
    h = &c->hosts[host];
    treap_unindex_host(c, host);
    refs_adjust(c, h, -1);
    htab_delete(c, htab_slot(c, h->name));
    free(h->name);
    h->name = NULL;
    c->count--;
    if (host < c->first_free)
        c->first_free = host;
    while (c->limit > 0 && !c->hosts[c->limit - 1].name)
        c->limit--;
    err_clear(err);
    return 0;
}

int place_host_find(const struct place_cluster *c, const char *name)
{
    if (!name || c->hcap == 0)
        return -1;
    return c->htab[htab_slot(c, name)];
}

int place_host_limit(const struct place_cluster *c)
{
    return c->limit;
}

int place_host_count(const struct place_cluster *c)
{
    return c->count;
}

int place_host_get(const struct place_cluster *c, int host, struct place_host_view *out)
{
    const struct host *h;

    if (!host_live(c, host))
        return -1;
    h = &c->hosts[host];
    out->name = h->name;
    out->zone = c->zones[h->zone].name;
    for (int r = 0; r < PLACE_RES__COUNT; r++) {
        out->capacity[r] = h->cap[r];
        out->effective[r] = h->eff[r];
        out->allocated[r] = h->alloc[r];
    }
    out->state = h->state;
    out->draining = h->draining;
    out->no_io_limits = h->no_io;
    out->load = h->load;
    return 0;
}

bool place_host_offers(const struct place_cluster *c, int host, const char *engine)
{
    int e;

    if (!host_live(c, host) || !engine)
        return false;
    e = name_find(c->engines, c->n_engines, engine);
    return e >= 0 && (c->hosts[host].engines & (UINT32_C(1) << e));
}

/* ---- placement ---- */

static bool need_ok(const int64_t need[], struct err *err)
{
    for (int r = 0; r < PLACE_RES__COUNT; r++)
        if (need[r] < 0 || need[r] > PLACE_QTY_MAX) {
            err_set(err, PLACE_E_INVALID, "%s need %lld is out of range", res_name[r],
                    (long long)need[r]);
            return false;
        }
    return true;
}

static int request_check(const struct place_cluster *c, const struct place_request *req,
                         struct err *err)
{
    if (!need_ok(req->need, err))
        return -1;
    if (!name_ok(req->engine))
        return err_set(err, PLACE_E_INVALID, "engine name is empty or longer than %d bytes",
                       PLACE_NAME_MAX);
    if (req->zone && !name_ok(req->zone))
        return err_set(err, PLACE_E_INVALID, "zone name is empty or longer than %d bytes",
                       PLACE_NAME_MAX);
    if (req->zone_required && !req->zone)
        return err_set(err, PLACE_E_INVALID, "a required zone needs a zone name");
    if (req->n_members < 0 || (req->n_members > 0 && !req->members))
        return err_set(err, PLACE_E_INVALID, "invalid member list");
    for (int i = 0; i < req->n_members; i++)
        if (!host_live(c, req->members[i]))
            return err_set(err, PLACE_E_INVALID, "member host %d does not exist", req->members[i]);
    return 0;
}

static void result_clear(struct place_result *res)
{
    res->host = -1;
    res->zone_members = 0;
    memset(res->counts, 0, sizeof(res->counts));
    err_clear(&res->err);
}

/* Attribute every host to the first cause that keeps it from taking the member. */
static void count_causes(const struct place_cluster *c, const struct place_request *req,
                         uint32_t bit, int pref, int counts[])
{
    for (int i = 0; i < c->limit; i++) {
        const struct host *h = &c->hosts[i];
        int cause = -1;

        if (!h->name)
            continue;
        if (h->state == PLACE_HOST_UNREACHABLE)
            cause = PLACE_CAUSE_UNREACHABLE;
        else if (h->state != PLACE_HOST_READY)
            cause = PLACE_CAUSE_UNKNOWN;
        else if (h->draining)
            cause = PLACE_CAUSE_DRAINING;
        else if (!(h->engines & bit))
            cause = PLACE_CAUSE_ENGINE;
        else if (req->io_limits && h->no_io)
            cause = PLACE_CAUSE_IO;
        else if (req->zone_required && h->zone != pref)
            cause = PLACE_CAUSE_ZONE;
        else if (treap_in_list(i, req->members, req->n_members))
            cause = PLACE_CAUSE_MEMBER;
        else
            for (int k = 0; k < 3 && cause < 0; k++) {
                int r = cause_res[k];

                if (h->alloc[r] + req->need[r] > h->eff[r])
                    cause = res_cause[r];
            }
        if (cause >= 0)
            counts[cause]++;
    }
}

int place_member(const struct place_cluster *c, const struct place_request *req,
                 struct place_result *res)
{
    int zone_count[PLACE_ZONES_MAX] = {0};
    uint32_t bit = 0;
    int e, pref = -1;
    int best = -1, best_zc = 0;
    bool best_np = false;

    result_clear(res);
    if (request_check(c, req, &res->err) < 0)
        return -1;
    for (int i = 0; i < req->n_members; i++)
        zone_count[c->hosts[req->members[i]].zone]++;
    e = name_find(c->engines, c->n_engines, req->engine);
    if (e >= 0)
        bit = UINT32_C(1) << e;
    if (req->zone)
        pref = name_find(c->zones, c->n_zones, req->zone);

    for (int g = 0; g < c->n_groups && bit; g++) {
        const struct group *grp = &c->groups[g];
        int zc = zone_count[grp->zone];
        bool np = grp->zone != pref;
        int h;

        if (!(grp->engines & bit) || grp->root < 0 || (req->io_limits && grp->no_io))
            continue;
        if (req->zone_required && np)
            continue;
        /* A group in a worse zone tier cannot beat the best so far. */
        if (best >= 0 && (zc > best_zc || (zc == best_zc && np > best_np)))
            continue;
        h = treap_first(c->hosts, grp->root, req->need, req->members, req->n_members);
        if (h < 0)
            continue;
        if (best < 0 || zc < best_zc || (zc == best_zc && np < best_np) ||
            (zc == best_zc && np == best_np && c->hosts[h].rank < c->hosts[best].rank)) {
            best = h;
            best_zc = zc;
            best_np = np;
        }
    }
    if (best >= 0) {
        res->host = best;
        res->zone_members = best_zc;
        return 0;
    }
    count_causes(c, req, bit, pref, res->counts);
    place_refusal_format(res, req);
    return -1;
}

int place_commit(struct place_cluster *c, int host, const int64_t need[PLACE_RES__COUNT],
                 struct err *err)
{
    struct host *h;

    if (!host_live(c, host))
        return err_set(err, PLACE_E_NOENT, "host %d does not exist", host);
    if (!need_ok(need, err))
        return -1;
    h = &c->hosts[host];
    for (int k = 0; k < 3; k++) {
        int r = cause_res[k];

        if (h->alloc[r] + need[r] > h->eff[r])
            return err_set(err, PLACE_E_NOFIT, "host \"%s\" has no room for %lld more %s", h->name,
                           (long long)need[r], res_name[r]);
    }
    treap_unindex_host(c, host);
    for (int r = 0; r < PLACE_RES__COUNT; r++)
        h->alloc[r] += need[r];
    host_compute(c, h, host);
    treap_index_host(c, host);
    err_clear(err);
    return 0;
}

int place_release(struct place_cluster *c, int host, const int64_t need[PLACE_RES__COUNT],
                  struct err *err)
{
    struct host *h;

    if (!host_live(c, host))
        return err_set(err, PLACE_E_NOENT, "host %d does not exist", host);
    if (!need_ok(need, err))
        return -1;
    h = &c->hosts[host];
    for (int r = 0; r < PLACE_RES__COUNT; r++)
        if (h->alloc[r] < need[r])
            return err_set(err, PLACE_E_INVALID,
                           "cannot release %lld %s from host \"%s\": only %lld allocated",
                           (long long)need[r], res_name[r], h->name, (long long)h->alloc[r]);
    treap_unindex_host(c, host);
    for (int r = 0; r < PLACE_RES__COUNT; r++)
        h->alloc[r] -= need[r];
    host_compute(c, h, host);
    treap_index_host(c, host);
    err_clear(err);
    return 0;
}

int place_instance(struct place_cluster *c, const struct place_request *req, int n_new,
                   int *hosts_out, struct place_result *res)
{
    struct place_request sub = *req;
    int *members = NULL;
    int placed = 0, rc = -1;

    result_clear(res);
    if (n_new < 0 || (n_new > 0 && !hosts_out) || req->n_members < 0 ||
        req->n_members > INT32_MAX / 2 - n_new) {
        err_set(&res->err, PLACE_E_INVALID, "invalid member count");
        goto out;
    }
    members = malloc(((size_t)req->n_members + (size_t)n_new + 1) * sizeof(*members));
    if (!members) {
        err_set(&res->err, PLACE_E_NOMEM, "out of memory");
        goto out;
    }
    if (req->n_members > 0) {
        if (!req->members) {
            err_set(&res->err, PLACE_E_INVALID, "invalid member list");
            goto out;
        }
        memcpy(members, req->members, (size_t)req->n_members * sizeof(*members));
    }
    sub.members = members;
    for (placed = 0; placed < n_new; placed++) {
        if (place_member(c, &sub, res) < 0)
            goto out;
        if (place_commit(c, res->host, req->need, &res->err) < 0) {
            res->host = -1;
            goto out;
        }
        hosts_out[placed] = res->host;
        members[sub.n_members++] = res->host;
    }
    rc = 0;
out:
    if (rc < 0)
        while (placed-- > 0)
            if (place_release(c, hosts_out[placed], req->need, NULL) < 0)
                break; /* cannot happen: we committed it just before */
    free(members);
    return rc;
}
