/* The heartbeat memo (hbmemo.h): per host, the digests of what was last written. A small
 * open-addressing table of host entries, each with a sorted array of its members. */
#include "api/hbmemo.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "lib/hbproto.h"
#include "lib/xalloc.h"

struct memo_member {
    int64_t id;
    unsigned char key[16], usage[16];
    int64_t usage_ms; /* when its usage was last written */
};

struct memo {
    int64_t host_id; /* 0: free */
    unsigned char agent[16];
    int64_t host_ms; /* when the host row was last written */
    size_t n;
    struct memo_member *m; /* owned, by id */
    /* the desired members last read (hbmemo_desired_get()) */
    char *desired;           /* owned; NULL: none */
    char desired_hash[65];
    uint64_t desired_seen;   /* the notify generation before the read */
    int64_t desired_ms;      /* when it was read */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct memo *slots;
static size_t cap, used;

static void digest(const char *text, unsigned char out[16])
{
    unsigned char full[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *)text, strlen(text), full);
    memcpy(out, full, 16);
}

static void digest_json(json_t *v, unsigned char out[16])
{
    char *text = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;

    digest(text ? text : "", out);
    free(text);
}

static size_t slot_of(int64_t id, size_t c)
{
    return (size_t)(((uint64_t)id * 0x9E3779B97F4A7C15ull) >> 17) & (c - 1);
}

static struct memo *find(int64_t id)
{
    size_t i;

    if (!cap)
        return NULL;
    for (i = slot_of(id, cap); slots[i].host_id; i = (i + 1) & (cap - 1))
        if (slots[i].host_id == id)
            return &slots[i];
    return NULL;
}

static struct memo *add(int64_t id)
{
    size_t i;

    if ((used + 1) * 4 > cap * 3) {
        struct memo *old = slots;
        size_t oldcap = cap, j;
        cap = cap ? cap * 2 : 1024;
        slots = xcalloc(cap, sizeof(*slots));
        for (j = 0; j < oldcap; j++) {
            if (!old[j].host_id)
                continue;
            for (i = slot_of(old[j].host_id, cap); slots[i].host_id; i = (i + 1) & (cap - 1))
                ;
            slots[i] = old[j];
        }
        free(old);
    }
    for (i = slot_of(id, cap); slots[i].host_id; i = (i + 1) & (cap - 1))
        ;
    memset(&slots[i], 0, sizeof(slots[i]));
    slots[i].host_id = id;
    used++;
    return &slots[i];
}

static const struct memo_member *member_of(const struct memo *mo, int64_t id)
{
    size_t i;

    for (i = 0; mo && i < mo->n; i++)
        if (mo->m[i].id == id)
            return &mo->m[i];
    return NULL;
}

void hbmemo_plan(int64_t host_id, const char *agent_text, json_t *members, bool ready,
                 int64_t now_ms, struct hbmemo_plan *plan)
{
    const struct memo *mo;
    json_t *v;
    size_t i;

    memset(plan, 0, sizeof(*plan));
    plan->members = json_array();
    digest(agent_text, plan->agent);
    plan->n = json_array_size(members);
    plan->m = xcalloc(plan->n ? plan->n : 1, sizeof(*plan->m));
    /* The digests, outside the lock: everything but the usage counters and the probe's age
     * (which move at every report without anything having changed). */
    json_array_foreach(members, i, v)
    {
        json_t *copy = json_deep_copy(v), *health, *usage = json_object_get(v, HB_F_USAGE);
        plan->m[i].id = json_integer_value(json_object_get(v, HB_F_ID));
        digest_json(usage, plan->m[i].usage);
        /* The disk used stays in the key: crossing the plan's disk (storage_full) or its warning
         * threshold must not wait for the usage interval. */
        json_object_set(copy, HB_F_USAGE,
                        json_object_get(usage, HB_F_DISK_MB) ? json_object_get(usage, HB_F_DISK_MB)
                                                             : json_null());
        health = json_object_get(copy, HB_F_HEALTH);
        if (json_is_object(health))
            json_object_del(health, HB_F_AGE_MS);
        digest_json(copy, plan->m[i].key);
        json_decref(copy);
        if (json_is_string(json_object_get(v, HB_F_STATE)) &&
            strcmp(json_string_value(json_object_get(v, HB_F_STATE)), HB_STATE_DELETED) == 0)
            plan->any_deleted = true;
    }
    pthread_mutex_lock(&lock);
    mo = find(host_id);
    plan->host = !ready || !mo || memcmp(mo->agent, plan->agent, 16) != 0 ||
                 now_ms - mo->host_ms >= HBMEMO_HOST_MS;
    for (i = 0; i < plan->n; i++) {
        const struct memo_member *mm = member_of(mo, plan->m[i].id);
        plan->m[i].write = !mm || memcmp(mm->key, plan->m[i].key, 16) != 0 ||
                           (memcmp(mm->usage, plan->m[i].usage, 16) != 0 &&
                            now_ms - mm->usage_ms >= HBMEMO_USAGE_MS);
    }
    pthread_mutex_unlock(&lock);
    json_array_foreach(members, i, v) if (plan->m[i].write) json_array_append(plan->members, v);
}

void hbmemo_done(int64_t host_id, const struct hbmemo_plan *plan, int64_t now_ms)
{
    struct memo_member *m = xcalloc(plan->n ? plan->n : 1, sizeof(*m));
    struct memo *mo;
    size_t i;

    pthread_mutex_lock(&lock);
    mo = find(host_id);
    if (!mo)
        mo = add(host_id);
    for (i = 0; i < plan->n; i++) {
        const struct memo_member *old = member_of(mo, plan->m[i].id);
        m[i].id = plan->m[i].id;
        memcpy(m[i].key, plan->m[i].key, 16);
        if (plan->m[i].write || !old) {
            memcpy(m[i].usage, plan->m[i].usage, 16);
            m[i].usage_ms = now_ms;
        } else {
            /* not written: the usage the store holds is still the old one */
            memcpy(m[i].usage, old->usage, 16);
            m[i].usage_ms = old->usage_ms;
        }
    }
    free(mo->m);
    mo->m = m;
    mo->n = plan->n;
    if (plan->host) {
        memcpy(mo->agent, plan->agent, 16);
        mo->host_ms = now_ms;
    }
    pthread_mutex_unlock(&lock);
}

char *hbmemo_desired_get(int64_t host_id, uint64_t changed, const char *hash, int64_t now_ms)
{
    const struct memo *mo;
    char *text = NULL;

    pthread_mutex_lock(&lock);
    mo = find(host_id);
    if (mo && mo->desired && changed <= mo->desired_seen && strcmp(mo->desired_hash, hash) == 0 &&
        now_ms - mo->desired_ms < HBMEMO_DESIRED_MS && now_ms >= mo->desired_ms)
        text = xstrdup(mo->desired);
    pthread_mutex_unlock(&lock);
    return text;
}

void hbmemo_desired_put(int64_t host_id, uint64_t seen, const char *hash, const char *text,
                        int64_t now_ms)
{
    struct memo *mo;
    char *copy = xstrdup(text), *old;

    pthread_mutex_lock(&lock);
    mo = find(host_id);
    if (!mo) {
        mo = add(host_id);
        mo->host_ms = INT64_MIN / 2; /* nothing written yet */
    }
    old = mo->desired;
    mo->desired = copy;
    snprintf(mo->desired_hash, sizeof(mo->desired_hash), "%s", hash);
    mo->desired_seen = seen;
    mo->desired_ms = now_ms;
    pthread_mutex_unlock(&lock);
    xfree_secret(&old);
}

void hbmemo_forget(int64_t host_id)
{
    struct memo *mo;

    pthread_mutex_lock(&lock);
    mo = find(host_id);
    if (mo) {
        /* keep the slot (linear probing): a zero digest and time match nothing */
        free(mo->m);
        mo->m = NULL;
        mo->n = 0;
        memset(mo->agent, 0, sizeof(mo->agent));
        mo->host_ms = INT64_MIN / 2;
    }
    pthread_mutex_unlock(&lock);
}

void hbmemo_plan_free(struct hbmemo_plan *plan)
{
    json_decref(plan->members);
    free(plan->m);
    plan->members = NULL;
    plan->m = NULL;
}
