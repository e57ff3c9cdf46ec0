/* The hosts' lease renewals and the HA settings (control/lease.h). */
#include "control/lease.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "lib/clock.h"
#include "lib/xalloc.h"
#include "store/store.h"

#define SETTINGS_TTL_MS 1000

struct slot {
    int64_t host_id; /* 0: empty */
    int64_t last_ms;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot *table; /* open addressing, a power of two slots */
static size_t cap, used;
static int64_t takeover_ms = -1;
static struct ha_settings cached = {300, 1000, 250, 2000, 60000};
static int64_t cached_at = -1;

static size_t slot_of(const struct slot *t, size_t n, int64_t host_id)
{
    size_t i = (size_t)((uint64_t)host_id * 0x9e3779b97f4a7c15u) & (n - 1);

    while (t[i].host_id != 0 && t[i].host_id != host_id)
        i = (i + 1) & (n - 1);
    return i;
}

static void grow(void)
{
    size_t n = cap ? cap * 2 : 1024, i;
    struct slot *t = xcalloc(n, sizeof(*t));

    for (i = 0; i < cap; i++)
        if (table[i].host_id != 0)
            t[slot_of(t, n, table[i].host_id)] = table[i];
    free(table);
    table = t;
    cap = n;
}

void lease_renewed(int64_t host_id, int64_t now_ms)
{
    size_t i;

    if (host_id <= 0)
        return;
    pthread_mutex_lock(&lock);
    if ((used + 1) * 2 > cap)
        grow();
    i = slot_of(table, cap, host_id);
    if (table[i].host_id == 0) {
        table[i].host_id = host_id;
        used++;
    }
    if (now_ms > table[i].last_ms)
        table[i].last_ms = now_ms;
    pthread_mutex_unlock(&lock);
}

int64_t lease_last_renewal_ms(int64_t host_id)
{
    int64_t last = -1;

    pthread_mutex_lock(&lock);
    if (cap) {
        size_t i = slot_of(table, cap, host_id);
        if (table[i].host_id == host_id)
            last = table[i].last_ms;
    }
    if (takeover_ms > last)
        last = takeover_ms;
    pthread_mutex_unlock(&lock);
    return last;
}

void lease_note_takeover(void)
{
    pthread_mutex_lock(&lock);
    takeover_ms = clock_now_ms();
    pthread_mutex_unlock(&lock);
}

static const char sql_settings[] =
    "SELECT renew_ms, lease_ttl_ms, fence_margin_ms, grace_ms, failover_cooldown_ms"
    " FROM ha_settings WHERE id = $1::boolean";

void lease_settings(struct ha_settings *out)
{
    int64_t now = clock_now_ms();
    bool stale;
    struct err e;
    PGresult *res;

    pthread_mutex_lock(&lock);
    stale = cached_at < 0 || now - cached_at >= SETTINGS_TTL_MS;
    *out = cached;
    pthread_mutex_unlock(&lock);
    if (!stale)
        return;
    /* Read outside the lock: the store may be slow. On failure the last values stay. */
    res = store_exec(&e, sql_settings, 1, (const char *const[]){"true"});
    if (res && store_ok(res) && PQntuples(res) == 1) {
        out->renew_ms = atoi(PQgetvalue(res, 0, 0));
        out->lease_ttl_ms = atoi(PQgetvalue(res, 0, 1));
        out->fence_margin_ms = atoi(PQgetvalue(res, 0, 2));
        out->grace_ms = atoi(PQgetvalue(res, 0, 3));
        out->failover_cooldown_ms = atoi(PQgetvalue(res, 0, 4));
        pthread_mutex_lock(&lock);
        cached = *out;
        cached_at = now;
        pthread_mutex_unlock(&lock);
    }
    PQclear(res);
}
