/* Wake-ups for long-polling agents: a generation counter under a mutex and a condition
 * variable on the monotonic clock, and a LISTEN session that carries bumps between the dbaasd
 * sharing a store. */
#include "control/notify.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include <libpq-fe.h>

#include "control/errc.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/store.h"

#define CHANNEL "dbaas_desired"
#define RECONNECT_MS 1000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static uint64_t generation = 1;

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

static void bump_local(void)
{
    pthread_once(&once, init);
    pthread_mutex_lock(&lock);
    generation++;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
}

void notify_bump(void)
{
    static const char sql[] = "SELECT pg_notify('" CHANNEL "', '')";
    struct err e;

    bump_local();
    if (listening) {
        /* The others' listeners bump theirs; a lost NOTIFY only delays them to their agents'
         * next poll. */
        PGresult *res = store_exec(&e, sql, 0, NULL);
        if (!store_ok(res))
            log_warn("event=notify_failed error=\"%s\"", res ? PQresultErrorMessage(res) : e.msg);
        PQclear(res);
    }
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
            got = true;
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
