/* Wake-ups for long-polling agents: a generation counter under a mutex and a condition
 * variable on the monotonic clock, the generation of the last bump of each host (a small
 * open-addressing table) and of the last bump of every host, and a LISTEN session that carries
 * bumps between the dbaasd sharing a store. A notification's payload is its sender's origin (a
 * random tag of each process), a colon, and the hosts it bumps ("1,2,3") or "*" for every host;
 * anything else (an older dbaasd's empty payload) bumps every host. A listener skips its own
 * process's notifications: their bumps were made here when they were sent. */
#include "control/notify.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include <libpq-fe.h>

#include "control/errc.h"
#include "lib/clock.h"
#include "lib/crypto.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/store.h"

#define CHANNEL "dbaas_desired"
#define RECONNECT_MS 1000
/* Hosts tracked at most: beyond, the table is emptied and every host bumped (which is what its
 * entries would have said at worst). */
#define HOSTS_MAX (1u << 20)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static uint64_t generation = 1;
static uint64_t all_generation = 1; /* of the last bump of every host */
/* Under lock: host ids (0: free) and the generation of each one's last bump. */
static int64_t *host_ids;
static uint64_t *host_gens;
static size_t host_cap, host_used;
/* This process's random tag and a colon: the start of every payload it sends */
static char origin_prefix[18];

static char *listen_info;
static volatile sig_atomic_t stopping;
static bool listening;
static pthread_t listener;

static void init(void)
{
    pthread_condattr_t attr;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&cond, &attr);
    pthread_condattr_destroy(&attr);
    {
        unsigned char r[8];
        uint64_t v;

        if (crypto_random(r, sizeof(r)) == 0)
            memcpy(&v, r, sizeof(v));
        else
            v = (uint64_t)clock_now_ns() ^ ((uint64_t)getpid() << 40);
        snprintf(origin_prefix, sizeof(origin_prefix), "%016llx:", (unsigned long long)v);
    }
}

uint64_t notify_generation(void)
{
    uint64_t g;

    pthread_once(&once, init);
    pthread_mutex_lock(&lock);
    g = generation;
    pthread_mutex_unlock(&lock);
    return g;
}

static size_t host_slot(int64_t id, size_t cap)
{
    return (size_t)(((uint64_t)id * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

/* Under lock: where host id is, or the free slot where it would go (the table has one). */
static size_t host_find(int64_t id)
{
    size_t i = host_slot(id, host_cap);

    while (host_ids[i] && host_ids[i] != id)
        i = (i + 1) & (host_cap - 1);
    return i;
}

uint64_t notify_host_generation(int64_t host_id)
{
    uint64_t g;

    pthread_once(&once, init);
    pthread_mutex_lock(&lock);
    if (host_id <= 0) {
        g = generation;
    } else {
        g = all_generation;
        if (host_cap) {
            size_t i = host_find(host_id);
            if (host_ids[i] && host_gens[i] > g)
                g = host_gens[i];
        }
    }
    pthread_mutex_unlock(&lock);
    return g;
}

/* Under lock: empty the table and let every host's generation be the current one. */
static void bump_all_locked(void)
{
    generation++;
    all_generation = generation;
    if (host_cap) {
        memset(host_ids, 0, host_cap * sizeof(*host_ids));
        host_used = 0;
    }
}

/* Under lock: host id's generation is the current one. */
static void bump_host_locked(int64_t id)
{
    size_t i;

    if (id <= 0)
        return;
    if ((host_used + 1) * 2 > host_cap) {
        int64_t *old_ids = host_ids;
        uint64_t *old_gens = host_gens;
        size_t old_cap = host_cap, j;

        if (host_cap >= HOSTS_MAX) {
            bump_all_locked();
            return;
        }
        host_cap = host_cap ? host_cap * 2 : 256;
        host_ids = xcalloc(host_cap, sizeof(*host_ids));
        host_gens = xcalloc(host_cap, sizeof(*host_gens));
        for (j = 0; j < old_cap; j++)
            if (old_ids[j]) {
                i = host_find(old_ids[j]);
                host_ids[i] = old_ids[j];
                host_gens[i] = old_gens[j];
            }
        free(old_ids);
        free(old_gens);
    }
    i = host_find(id);
    if (!host_ids[i]) {
        host_ids[i] = id;
        host_used++;
    }
    host_gens[i] = generation;
}

static void bump_local(void)
{
    pthread_once(&once, init);
    pthread_mutex_lock(&lock);
    bump_all_locked();
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
}

/* Bump the hosts a comma-separated list of ids names (a notification's payload after its
 * origin, or what notify_bump_instances() read); anything but a list of positive ids bumps
 * every host. */
static void bump_local_list(const char *list)
{
    const char *p = list;

    pthread_once(&once, init);
    pthread_mutex_lock(&lock);
    generation++;
    while (*p) {
        char *end;
        long long id;

        errno = 0;
        id = strtoll(p, &end, 10);
        if (end == p || errno || id <= 0 || (*end && *end != ',')) {
            bump_all_locked();
            break;
        }
        bump_host_locked(id);
        p = *end ? end + 1 : end;
    }
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
}

void notify_bump(void)
{
    static const char sql[] = "SELECT pg_notify('" CHANNEL "', $1 || '*')";
    struct err e;

    bump_local();
    if (listening) {
        /* The others' listeners bump theirs; a lost NOTIFY only delays them to their agents'
         * next poll. */
        PGresult *res = store_exec(&e, sql, 1, (const char *const[]){origin_prefix});
        if (!store_ok(res))
            log_warn("event=notify_failed error=\"%s\"", res ? PQresultErrorMessage(res) : e.msg);
        PQclear(res);
    }
}

void notify_bump_instances(const char *instances, int64_t also_host)
{
    /* The hosts, and the notification that names them, in one statement. */
    static const char sql[] =
        "WITH h AS (SELECT DISTINCT host_id AS id FROM members WHERE instance_id = ANY($1::uuid[])"
        "  UNION SELECT $2::bigint WHERE $2::bigint > 0),"
        " l AS (SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') AS ids FROM h)"
        /* a payload over 7000 bytes names every host (PostgreSQL takes up to 8000) */
        " SELECT ids, pg_notify('" CHANNEL "', $3 || CASE WHEN length(ids) > 7000"
        "  THEN '*' ELSE ids END) IS NULL FROM l";
    char also[24];
    struct err e;
    PGresult *res;

    if (!listening) {
        bump_local();
        return;
    }
    pthread_once(&once, init);
    snprintf(also, sizeof(also), "%lld", (long long)also_host);
    res = store_exec(&e, sql, 3, (const char *const[]){instances, also, origin_prefix});
    if (store_ok(res) && PQntuples(res) == 1) {
        bump_local_list(PQgetvalue(res, 0, 0));
    } else {
        bump_local();
        log_warn("event=notify_failed error=\"%s\"", res ? PQresultErrorMessage(res) : e.msg);
    }
    PQclear(res);
}

void notify_bump_instance(const char *instance_id)
{
    char list[64];

    snprintf(list, sizeof(list), "{%.40s}", instance_id);
    notify_bump_instances(list, 0);
}

uint64_t notify_wait(uint64_t seen, int timeout_ms)
{
    struct timespec until;
    uint64_t g;

    pthread_once(&once, init);
    clock_deadline(&until, timeout_ms);
    pthread_mutex_lock(&lock);
    while (generation == seen && pthread_cond_timedwait(&cond, &lock, &until) == 0)
        ;
    g = generation;
    pthread_mutex_unlock(&lock);
    return g;
}

/* One LISTEN session until it breaks or we stop. */
static void listen_session(void)
{
    PGconn *c = store_connect(listen_info);
    PGresult *res;
    PGnotify *n;

    if (PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        return;
    }
    res = PQexec(c, "LISTEN " CHANNEL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        PQclear(res);
        PQfinish(c);
        return;
    }
    PQclear(res);
    bump_local(); /* what happened while nobody listened */
    while (!stopping) {
        struct pollfd p = {PQsocket(c), POLLIN, 0};
        bool got = false;

        if (poll(&p, 1, 200) < 0 && errno != EINTR)
            break;
        if (p.revents && !PQconsumeInput(c))
            break;
        while ((n = PQnotifies(c)) != NULL) {
            const char *hosts = strchr(n->extra, ':');

            if (strncmp(n->extra, origin_prefix, strlen(origin_prefix)) == 0)
                ; /* ours: bumped when it was sent */
            else if (hosts && strcmp(hosts + 1, "*") != 0)
                bump_local_list(hosts + 1);
            else
                got = true; /* "*", or an older dbaasd's empty payload: every host */
            PQfreemem(n);
        }
        if (got)
            bump_local();
        if (PQstatus(c) != CONNECTION_OK)
            break;
    }
    PQfinish(c);
}

static void *listen_main(void *arg)
{
    (void)arg;
    while (!stopping) {
        listen_session();
        for (int64_t until = clock_now_ms() + RECONNECT_MS; !stopping && clock_now_ms() < until;)
            clock_sleep_ms(100);
    }
    return NULL;
}

int notify_start(const char *conninfo, struct err *e)
{
    sigset_t all, old;
    int rc;

    free(listen_info);
    listen_info = xstrdup(conninfo);
    stopping = 0;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&listener, NULL, listen_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return err_set(e, API_E_SYSTEM, "could not start the notification listener: error %d", rc);
    listening = true;
    return 0;
}

void notify_stop(void)
{
    if (!listening)
        return;
    stopping = 1;
    pthread_join(listener, NULL);
    listening = false;
    free(listen_info);
    listen_info = NULL;
}
