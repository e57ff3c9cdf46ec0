/* The scheduler's index: per group of equal (engines, zone), a treap of the ready hosts ordered
 * by rank, each node keeping the largest free amount of each resource in its subtree (see the
 * NOTES of scheduler/place.c). Pure, like the rest of scheduler/. */
#include "scheduler/treap.h"

uint32_t treap_prio(int idx)
{
    uint32_t x = (uint32_t)idx * 0x9e3779b9u + 0x7f4a7c15u;

    x ^= x >> 16;
    x *= 0x85ebca6bu;
    x ^= x >> 13;
    x *= 0xc2b2ae35u;
    x ^= x >> 16;
    return x;
}

static void tp_pull(struct host *hs, int t)
{
    struct host *n = &hs[t];

    for (int r = 0; r < PLACE_RES__COUNT; r++) {
        int64_t m = n->eff[r] - n->alloc[r];

        if (n->left >= 0 && hs[n->left].maxfree[r] > m)
            m = hs[n->left].maxfree[r];
        if (n->right >= 0 && hs[n->right].maxfree[r] > m)
            m = hs[n->right].maxfree[r];
        n->maxfree[r] = m;
    }
}

/* Split t into ranks < rank (*l) and >= rank (*r). */
static void tp_split(struct host *hs, int t, uint64_t rank, int *l, int *r)
{
    if (t < 0) {
        *l = -1;
        *r = -1;
        return;
    }
    if (hs[t].rank < rank) {
        tp_split(hs, hs[t].right, rank, &hs[t].right, r);
        *l = t;
    } else {
        tp_split(hs, hs[t].left, rank, l, &hs[t].left);
        *r = t;
    }
    tp_pull(hs, t);
}

/* Merge a and b, every rank in a below every rank in b. */
static int tp_merge(struct host *hs, int a, int b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    if (hs[a].prio > hs[b].prio) {
        hs[a].right = tp_merge(hs, hs[a].right, b);
        tp_pull(hs, a);
        return a;
    }
    hs[b].left = tp_merge(hs, a, hs[b].left);
    tp_pull(hs, b);
    return b;
}

static int tp_insert(struct host *hs, int t, int h)
{
    if (t < 0)
        return h;
    if (hs[h].prio > hs[t].prio) {
        tp_split(hs, t, hs[h].rank, &hs[h].left, &hs[h].right);
        tp_pull(hs, h);
        return h;
    }
    if (hs[h].rank < hs[t].rank)
        hs[t].left = tp_insert(hs, hs[t].left, h);
    else
        hs[t].right = tp_insert(hs, hs[t].right, h);
    tp_pull(hs, t);
    return t;
}

static int tp_erase(struct host *hs, int t, uint64_t rank)
{
    if (t < 0)
        return -1;
    if (hs[t].rank == rank)
        return tp_merge(hs, hs[t].left, hs[t].right);
    if (rank < hs[t].rank)
        hs[t].left = tp_erase(hs, hs[t].left, rank);
    else
        hs[t].right = tp_erase(hs, hs[t].right, rank);
    tp_pull(hs, t);
    return t;
}

bool treap_in_list(int h, const int *list, int n)
{
    for (int i = 0; i < n; i++)
        if (list[i] == h)
            return true;
    return false;
}

/* The first host of subtree t in rank order that has room for need and is not in excl. */
int treap_first(const struct host *hs, int t, const int64_t need[], const int *excl, int n_excl)
{
    while (t >= 0) {
        const struct host *n = &hs[t];
        int found;

        if (n->maxfree[PLACE_MEMORY] < need[PLACE_MEMORY] ||
            n->maxfree[PLACE_CPU] < need[PLACE_CPU] || n->maxfree[PLACE_DISK] < need[PLACE_DISK])
            return -1;
        found = treap_first(hs, n->left, need, excl, n_excl);
        if (found >= 0)
            return found;
        if (n->alloc[PLACE_MEMORY] + need[PLACE_MEMORY] <= n->eff[PLACE_MEMORY] &&
            n->alloc[PLACE_CPU] + need[PLACE_CPU] <= n->eff[PLACE_CPU] &&
            n->alloc[PLACE_DISK] + need[PLACE_DISK] <= n->eff[PLACE_DISK] &&
            !treap_in_list(t, excl, n_excl))
            return t;
        t = n->right;
    }
    return -1;
}

void treap_index_host(struct place_cluster *c, int idx)
{
    struct host *h = &c->hosts[idx];
    struct group *g = &c->groups[h->group];

    h->indexed = h->state == PLACE_HOST_READY && !h->draining;
    if (!h->indexed)
        return;
    h->left = -1;
    h->right = -1;
    tp_pull(c->hosts, idx);
    g->root = tp_insert(c->hosts, g->root, idx);
}

void treap_unindex_host(struct place_cluster *c, int idx)
{
    struct host *h = &c->hosts[idx];
    struct group *g = &c->groups[h->group];

    if (!h->indexed)
        return;
    g->root = tp_erase(c->hosts, g->root, h->rank);
    h->indexed = false;
}
