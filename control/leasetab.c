/* The lease table (leasetab.h): open addressing on the host id, linear probing, grown at 3/4
 * full; entries are only dropped by leasetab_sweep(), which rebuilds the table. */
#include "control/leasetab.h"

#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

struct entry {
    int64_t host_id; /* 0: free slot */
    bool has_key;
    unsigned char key[LEASE_KEY_LEN];
    unsigned mark;
    uint64_t last_seq;
    int64_t renewed_ms; /* -1: never */
    int64_t renewals;   /* accepted here, not handed out by leasetab_take_renewals() yet */
    int64_t remote;     /* the last count of another dbaasd seen; -1: none yet */
    int64_t hb_ms;      /* last HTTP heartbeat; -1: none */
    bool hb_pending;    /* hb_ms not handed out yet */
};

struct leasetab {
    struct entry *slots;
    size_t cap; /* a power of two */
    size_t used;
};

static size_t slot_of(int64_t id, size_t cap)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull;

    return (size_t)(h >> 17) & (cap - 1);
}

struct leasetab *leasetab_new(void)
{
    struct leasetab *t = xcalloc(1, sizeof(*t));

    t->cap = 64;
    t->slots = xcalloc(t->cap, sizeof(*t->slots));
    return t;
}

void leasetab_free(struct leasetab *t)
{
    if (!t)
        return;
    explicit_bzero(t->slots, t->cap * sizeof(*t->slots));
    free(t->slots);
    free(t);
}

size_t leasetab_count(const struct leasetab *t)
{
    return t->used;
}

static struct entry *find(const struct leasetab *t, int64_t id)
{
    size_t i = slot_of(id, t->cap);

    for (;;) {
        struct entry *e = &t->slots[i];
        if (e->host_id == id)
            return e;
        if (e->host_id == 0)
            return NULL;
        i = (i + 1) & (t->cap - 1);
    }
}

/* Place a copy of e into slots (cap, a power of two, with a free slot). */
static void place(struct entry *slots, size_t cap, const struct entry *e)
{
    size_t i = slot_of(e->host_id, cap);

    while (slots[i].host_id != 0)
        i = (i + 1) & (cap - 1);
    slots[i] = *e;
}

static void rebuild(struct leasetab *t, size_t cap, bool (*keep)(const struct entry *, unsigned),
                    unsigned mark)
{
    struct entry *slots = xcalloc(cap, sizeof(*slots));
    size_t i, used = 0;

    for (i = 0; i < t->cap; i++) {
        if (t->slots[i].host_id == 0 || (keep && !keep(&t->slots[i], mark)))
            continue;
        place(slots, cap, &t->slots[i]);
        used++;
    }
    explicit_bzero(t->slots, t->cap * sizeof(*t->slots));
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    t->used = used;
}

static struct entry *get_or_add(struct leasetab *t, int64_t id)
{
    struct entry *e = find(t, id), fresh;

    if (e)
        return e;
    if ((t->used + 1) * 4 > t->cap * 3)
        rebuild(t, t->cap * 2, NULL, 0);
    memset(&fresh, 0, sizeof(fresh));
    fresh.host_id = id;
    fresh.renewed_ms = -1;
    fresh.remote = -1;
    fresh.hb_ms = -1;
    place(t->slots, t->cap, &fresh);
    t->used++;
    return find(t, id);
}

void leasetab_set_key(struct leasetab *t, int64_t host_id, const unsigned char key[LEASE_KEY_LEN],
                      unsigned mark)
{
    struct entry *e = get_or_add(t, host_id);

    if (!e->has_key || memcmp(e->key, key, LEASE_KEY_LEN) != 0) {
        memcpy(e->key, key, LEASE_KEY_LEN);
        e->has_key = true;
        e->last_seq = 0;
    }
    e->mark = mark;
}

bool leasetab_get_key(const struct leasetab *t, int64_t host_id, unsigned char key[LEASE_KEY_LEN])
{
    const struct entry *e = find(t, host_id);

    if (!e || !e->has_key)
        return false;
    memcpy(key, e->key, LEASE_KEY_LEN);
    return true;
}

static bool marked(const struct entry *e, unsigned mark)
{
    return e->mark == mark;
}

void leasetab_sweep(struct leasetab *t, unsigned mark)
{
    size_t cap = t->cap;

    rebuild(t, cap, marked, mark);
    while (cap > 64 && t->used * 4 < cap)
        cap /= 2;
    if (cap != t->cap)
        rebuild(t, cap, NULL, 0);
}

enum leasetab_verdict leasetab_renew(struct leasetab *t, const unsigned char *buf, size_t n,
                                     int64_t now_ms, struct lease_msg *msg,
                                     unsigned char key[LEASE_KEY_LEN])
{
    struct entry *e;

    if (lease_peek(buf, n, msg) < 0 || msg->kind != LEASE_RENEW)
        return LEASETAB_MALFORMED;
    e = find(t, msg->host_id);
    if (!e || !e->has_key)
        return LEASETAB_UNKNOWN;
    if (lease_decode(buf, n, e->key, msg) < 0)
        return LEASETAB_BAD_MAC;
    if (msg->seq <= e->last_seq)
        return LEASETAB_REPLAY;
    e->last_seq = msg->seq;
    e->renewed_ms = now_ms;
    e->renewals++;
    /* the agent is alive: as good as a heartbeat for the host's liveness */
    e->hb_ms = now_ms;
    e->hb_pending = true;
    memcpy(key, e->key, LEASE_KEY_LEN);
    return LEASETAB_GRANTED;
}

int64_t leasetab_last_renewal(const struct leasetab *t, int64_t host_id)
{
    const struct entry *e = find(t, host_id);

    return e ? e->renewed_ms : -1;
}

void leasetab_touch_all(struct leasetab *t, int64_t now_ms)
{
    size_t i;

    for (i = 0; i < t->cap; i++)
        if (t->slots[i].host_id != 0 && t->slots[i].has_key)
            t->slots[i].renewed_ms = now_ms;
}

void leasetab_note_remote(struct leasetab *t, int64_t host_id, int64_t count, int64_t now_ms)
{
    struct entry *e = find(t, host_id);

    if (!e)
        return;
    if (e->remote >= 0 && count > e->remote)
        e->renewed_ms = now_ms;
    if (count > e->remote)
        e->remote = count;
}

size_t leasetab_take_renewals(struct leasetab *t, int64_t *ids, int64_t *counts, size_t max)
{
    size_t i, n = 0;

    for (i = 0; i < t->cap && n < max; i++) {
        struct entry *e = &t->slots[i];
        if (e->host_id == 0 || e->renewals == 0)
            continue;
        ids[n] = e->host_id;
        counts[n] = e->renewals;
        e->renewals = 0;
        n++;
    }
    return n;
}

void leasetab_note_heartbeat(struct leasetab *t, int64_t host_id, int64_t now_ms)
{
    struct entry *e = get_or_add(t, host_id);

    e->hb_ms = now_ms;
    e->hb_pending = true;
}

size_t leasetab_take_heartbeats(struct leasetab *t, int64_t now_ms, int64_t *ids, int64_t *ages,
                                size_t max)
{
    size_t i, n = 0;

    for (i = 0; i < t->cap && n < max; i++) {
        struct entry *e = &t->slots[i];
        if (e->host_id == 0 || !e->hb_pending)
            continue;
        ids[n] = e->host_id;
        ages[n] = now_ms > e->hb_ms ? now_ms - e->hb_ms : 0;
        e->hb_pending = false;
        n++;
    }
    return n;
}
