/* Placement: choose a host for one member of a database instance, or explain why none fits.
 * A pure library: no I/O, no globals, no locks. docs/scheduler.md describes the rules for people.
 *
 * A cluster is a view of the hosts (capacity, allocation, zone, engines, state) that the caller
 * keeps in sync: it adds, updates and removes hosts, and commits or releases allocations. The
 * caller serializes all calls on one cluster; place_member() only reads it, so several threads may
 * call it at once when no thread changes the cluster.
 *
 * Rules (in this order; every one of them is applied, see docs/scheduler.md):
 *  hard  1. the host is ready (not unknown, not unreachable) and not draining;
 *        2. it offers the requested engine, and when the member has IO limits
 *           (req->io_limits) it can enforce them (not spec->no_io_limits);
 *        3. with zone_required, it is in the requested zone;
 *        4. it holds no member of the instance (req->members; anti-affinity);
 *        5. for memory, CPU and disk: allocated + need <= effective capacity, where
 *           effective capacity = floor(capacity * ratio / 1000) with ratio in thousandths
 *           (place_config ratios rounded to 0.001).
 *  among hosts passing every hard rule, the chosen host is the first in this order:
 *        a. fewest members of the instance already in the host's zone (maximal zone spread:
 *           a zone the instance does not use yet wins whenever one has a fitting host);
 *        b. in the preferred zone (req->zone) before outside it;
 *        c. by load, as chosen by the operator:
 *             PLACE_BINPACK  highest load first (fill the fullest host that fits)
 *             PLACE_SPREAD   lowest load first (the least loaded host)
 *           where load = sum over memory, CPU and disk of
 *             floor(2^20 * min(allocated, effective) / effective)   (2^20 when effective is 0)
 *           i.e. the sum of the three utilizations in units of 2^-20, from 0 to 3 * 2^20,
 *           computed before the request is added;
 *        d. lowest host index.
 *  The order is total, so the choice is deterministic for a given sequence of calls.
 *
 * Units are the caller's; dbaasd uses millicores for CPU and MiB for memory and disk. */
#ifndef SCHEDULER_PLACE_H
#define SCHEDULER_PLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

enum place_resource { PLACE_CPU, PLACE_MEMORY, PLACE_DISK, PLACE_RES__COUNT };

enum place_policy {
    PLACE_BINPACK, /* default: fill the fullest host that fits */
    PLACE_SPREAD   /* the least loaded host */
};

/* What the agent last reported; draining is a separate operator flag (struct place_host_spec). */
enum place_host_state {
    PLACE_HOST_READY,
    PLACE_HOST_UNKNOWN, /* has not reported yet */
    PLACE_HOST_UNREACHABLE
};

/* Why a host cannot take a member. A refused host is counted once, under the first cause that
 * applies in this order. */
enum place_cause {
    PLACE_CAUSE_UNREACHABLE,
    PLACE_CAUSE_UNKNOWN,
    PLACE_CAUSE_DRAINING,
    PLACE_CAUSE_ENGINE, /* does not offer the engine */
    PLACE_CAUSE_IO,     /* cannot enforce IO limits, which the member has */
    PLACE_CAUSE_ZONE,   /* outside the required zone */
    PLACE_CAUSE_MEMBER, /* already holds a member of the instance */
    PLACE_CAUSE_MEMORY,
    PLACE_CAUSE_CPU,
    PLACE_CAUSE_DISK,
    PLACE_CAUSE__COUNT
};

/* Codes set in struct err (lib/err.h) by this module. */
enum place_errc {
    PLACE_OK = 0,                       /* no error */
    PLACE_E_NOFIT = ERR_BASE_PLACE + 1, /* no host fits the request: could succeed later */
    PLACE_E_INVALID,                    /* invalid argument */
    PLACE_E_EXISTS,                     /* a host with that name exists */
    PLACE_E_NOENT,                      /* no such host */
    PLACE_E_LIMIT, /* more than PLACE_ZONES_MAX zones or PLACE_ENGINES_MAX engines */
    PLACE_E_NOMEM
};

#define PLACE_QTY_MAX (INT64_C(1) << 40) /* largest capacity, allocation or need */
#define PLACE_RATIO_MAX 4.0              /* largest overcommit ratio */
#define PLACE_NAME_MAX 63                /* longest zone or engine name, in bytes */
#define PLACE_ZONES_MAX 64               /* distinct zones in use at once */
#define PLACE_ENGINES_MAX 32             /* distinct engines in use at once */
#define PLACE_LOAD_ONE (1u << 20)        /* a fully used resource in the load score */

struct place_config {
    /* Overcommit ratios: a host takes up to capacity * ratio of each resource. Each in
     * (0, PLACE_RATIO_MAX], rounded to 0.001; defaults 1.0. */
    double cpu_ratio;
    double memory_ratio;
    double disk_ratio;
    enum place_policy policy; /* default PLACE_BINPACK */
};

/* A host as the caller describes it to place_host_add() and place_host_update(). The strings
 * and the engines array are the caller's; the cluster copies what it keeps. */
struct place_host_spec {
    const char *name;                    /* unique in the cluster, non-empty */
    const char *zone;                    /* 1..PLACE_NAME_MAX bytes */
    const char *const *engines;          /* engine names offered, each 1..PLACE_NAME_MAX bytes */
    int n_engines;                       /* 0..PLACE_ENGINES_MAX */
    int64_t capacity[PLACE_RES__COUNT];  /* physical, 0..PLACE_QTY_MAX */
    int64_t allocated[PLACE_RES__COUNT]; /* already committed, 0..PLACE_QTY_MAX (may exceed
                                            the effective capacity; then nothing more fits) */
    enum place_host_state state;
    bool draining;
    bool no_io_limits; /* cannot enforce IO limits (its agent's data directory is on no block
                          device): takes no member with IO limits */
};

/* A read-only view of one host (place_host_get()). The strings belong to the cluster and stay
 * valid until the host is updated or removed or the cluster is freed. */
struct place_host_view {
    const char *name;
    const char *zone;
    int64_t capacity[PLACE_RES__COUNT];
    int64_t effective[PLACE_RES__COUNT]; /* capacity times the ratio, see the rules above */
    int64_t allocated[PLACE_RES__COUNT];
    enum place_host_state state;
    bool draining;
    bool no_io_limits;
    uint32_t load; /* the load score of rule c */
};

/* One member to place. Pointers are the caller's and only read during the call. */
struct place_request {
    int64_t need[PLACE_RES__COUNT]; /* 0..PLACE_QTY_MAX each */
    const char *engine;             /* engine name, 1..PLACE_NAME_MAX bytes */
    const int *members;             /* hosts already holding a member of this instance */
    int n_members;                  /* 0 for the first member (then members may be NULL) */
    const char *zone;               /* preferred zone or NULL */
    bool zone_required;             /* only hosts in zone (which must then be set) */
    bool io_limits;                 /* the member has IO limits: not on a host with
                                       no_io_limits */
};

/* The answer of place_member(). */
struct place_result {
    int host;         /* chosen host index, -1 on refusal or error */
    int zone_members; /* members of the instance already in the chosen host's zone (0: new zone) */
    int counts[PLACE_CAUSE__COUNT]; /* on PLACE_E_NOFIT: hosts refused per cause, else zero */
    struct err err;                 /* code PLACE_OK on success */
};

/* Fill cfg with the defaults: all ratios 1.0, PLACE_BINPACK. */
void place_config_init(struct place_config *cfg);

/* Check a configuration (for a reload that keeps the old one when the new one is invalid).
 * 0, or -1 with err (PLACE_E_INVALID) filled; err may be NULL. */
int place_config_check(const struct place_config *cfg, struct err *err)
    __attribute__((warn_unused_result));

/* A new empty cluster with a copy of cfg (NULL: the defaults). Returns NULL when cfg is invalid
 * or memory runs out, with err filled if not NULL. The caller frees it with place_cluster_free().
 */
struct place_cluster *place_cluster_new(const struct place_config *cfg, struct err *err);

/* Free a cluster and everything it holds. Accepts NULL. */
void place_cluster_free(struct place_cluster *c);

/* Change the ratios and the policy; effective capacities and load order are recomputed, host
 * indices and allocations stay. 0, or -1 with err filled (the old configuration stays). */
int place_cluster_set_config(struct place_cluster *c, const struct place_config *cfg,
                             struct err *err) __attribute__((warn_unused_result));

/* Add a host. Returns its index (>= 0, the lowest free one: indices of removed hosts are reused),
 * or -1 with err filled (PLACE_E_INVALID, PLACE_E_EXISTS, PLACE_E_LIMIT, PLACE_E_NOMEM). */
int place_host_add(struct place_cluster *c, const struct place_host_spec *spec, struct err *err)
    __attribute__((warn_unused_result));

/* Replace everything about a host, its name included; its index stays. 0, or -1 with err filled
 * (the host is then unchanged). */
int place_host_update(struct place_cluster *c, int host, const struct place_host_spec *spec,
                      struct err *err) __attribute__((warn_unused_result));

/* Remove a host; its index may be given to a later place_host_add(). 0, or -1 (PLACE_E_NOENT). */
int place_host_remove(struct place_cluster *c, int host, struct err *err)
    __attribute__((warn_unused_result));

/* The index of the host with that name, or -1. */
int place_host_find(const struct place_cluster *c, const char *name);

/* One more than the highest host index in use (0 when empty): hosts are 0 .. limit - 1, some of
 * which may be free (place_host_get() returns -1 for those). */
int place_host_limit(const struct place_cluster *c);

/* The number of hosts. */
int place_host_count(const struct place_cluster *c);

/* Fill out with a view of host. 0, or -1 when there is no such host. */
int place_host_get(const struct place_cluster *c, int host, struct place_host_view *out);

/* Whether host exists and offers engine. */
bool place_host_offers(const struct place_cluster *c, int host, const char *engine);

/* Choose a host for one member; the cluster does not change (see place_commit()).
 * 0 with res->host set; or -1 with res->err set: PLACE_E_NOFIT with res->counts and a message such
 * as `no host fits: 812 lack memory, 3 draining, 2 already hold a member of this instance`
 * (causes by descending count), or PLACE_E_INVALID for an invalid request (a negative need, a
 * member that is not a host, ...). */
int place_member(const struct place_cluster *c, const struct place_request *req,
                 struct place_result *res) __attribute__((warn_unused_result));

/* Place n_new members of one instance at once: like n_new calls of place_member(), each followed
 * by place_commit(), each later member seeing the earlier ones as members. On success writes the
 * hosts to hosts_out[0 .. n_new - 1] and returns 0 (res describes the last member); on failure
 * nothing stays committed and res describes the first member that could not be placed (-1). */
int place_instance(struct place_cluster *c, const struct place_request *req, int n_new,
                   int *hosts_out, struct place_result *res) __attribute__((warn_unused_result));

/* Add need to a host's allocation. Fails with PLACE_E_NOFIT, changing nothing, when the host
 * would exceed an effective capacity, so a stale decision can never double-book a host.
 * 0, or -1 with err filled (may be NULL). */
int place_commit(struct place_cluster *c, int host, const int64_t need[PLACE_RES__COUNT],
                 struct err *err) __attribute__((warn_unused_result));

/* Subtract need from a host's allocation (a member removed or moved away). Fails with
 * PLACE_E_INVALID, changing nothing, when an allocation would drop below zero. */
int place_release(struct place_cluster *c, int host, const int64_t need[PLACE_RES__COUNT],
                  struct err *err) __attribute__((warn_unused_result));

/* Set res to a refusal (host -1, code PLACE_E_NOFIT) with the message built from res->counts and
 * the engine and zone of req. For other implementations of the rules (scheduler/place_scan.c). */
void place_refusal_format(struct place_result *res, const struct place_request *req);

#endif
