/* The scheduler's internals shared by its files (scheduler/place.c, scheduler/treap.c): the
 * cluster's host slots, names and groups. Not for use outside scheduler/. */
#ifndef SCHEDULER_PLACE_INT_H
#define SCHEDULER_PLACE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "scheduler/place.h"

struct host {
    char *name; /* owned; NULL when the slot is free */
    int zone;   /* index into cluster.zones */
    uint32_t engines;
    int group;    /* index into cluster.groups: same engines, zone and no_io */
    bool indexed; /* in its group's treap: ready and not draining */
    enum place_host_state state;
    bool draining;
    bool no_io; /* cannot enforce IO limits */
    int64_t cap[PLACE_RES__COUNT];
    int64_t eff[PLACE_RES__COUNT];
    int64_t alloc[PLACE_RES__COUNT];
    uint32_t load;
    uint64_t rank; /* order key in the treap: lower is better */
    /* treap node */
    int left, right;
    uint32_t prio;
    int64_t maxfree[PLACE_RES__COUNT]; /* largest eff - alloc in this subtree */
};

struct name_slot {
    char name[PLACE_NAME_MAX + 1];
    int refs; /* live hosts using it; 0: free for another name */
};

struct group {
    uint32_t engines;
    int zone;
    bool no_io;
    int root; /* treap root, -1 when empty */
};

struct place_cluster {
    struct place_config cfg;
    int64_t permille[PLACE_RES__COUNT];
    struct host *hosts;
    int limit;      /* slots 0 .. limit - 1 in use or free */
    int alloc_n;    /* slots allocated */
    int count;      /* live hosts */
    int first_free; /* no free slot below this index */
    int *htab;      /* open addressing, name -> host index, -1 empty */
    size_t hcap;    /* power of two */
    struct name_slot zones[PLACE_ZONES_MAX];
    int n_zones;
    struct name_slot engines[PLACE_ENGINES_MAX];
    int n_engines;
    struct group *groups;
    int n_groups, groups_alloc;
};

#endif
