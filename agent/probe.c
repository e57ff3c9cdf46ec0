/* Health probes of the running engines (agent/probe.h).
 *
 * NOTES: the prober thread starts one detached thread per probe; a probe owns a copy of the
 * member's spec (member_spec_new()) and touches the member only to record its result, under
 * a->lock, after finding it again by id and probe sequence number (the member may have been
 * forgotten meanwhile). a->helpers counts the probe threads so that shutdown waits for them. */
#include "agent/probe.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/member.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"

/* One probe in flight. */
struct probe {
    struct agent *a; /* borrowed */
    probe_fn fn;
    int timeout_ms;
    int64_t id;   /* the member's */
    uint64_t seq; /* m->health.seq when it started */
    char engine[16];
    struct member_spec *ms; /* owned */
};

int probe_engine(const char *engine, const struct engine_spec *spec, int timeout_ms,
                 struct engine_health *out, struct err *e)
{
    const struct engine_ops *ops = engine_find(engine);

    memset(out, 0, sizeof(*out));
    if (!ops)
        return err_set(e, AGENT_E_NO_ENGINE, "engine \"%s\" is not offered by this agent", engine);
    return engine_health(ops, spec, timeout_ms, out, e);
}

/* Whether a result differs from the last in what the HA controller decides on. */
static bool changed(const struct member_health *old, int code, const struct engine_health *h)
{
    if (!old->done || (old->code == 0) != (code == 0))
        return true;
    if (code != 0)
        return old->code != code;
    return old->h.alive != h->alive || old->h.role != h->role || old->h.writable != h->writable ||
           old->h.upstream_up != h->upstream_up;
}

static void *probe_thread(void *arg)
{
    struct probe *p = arg;
    struct agent *a = p->a;
    struct engine_health h;
    struct err e = {0, ""};
    struct member *m;
    int rc;

    memset(&h, 0, sizeof(h));
    rc = p->fn(p->engine, &p->ms->spec, p->timeout_ms, &h, &e);
    pthread_mutex_lock(&a->lock);
    for (m = a->members; m && m->id != p->id; m = m->next)
        ;
    if (m && m->health.in_flight && m->health.seq == p->seq) {
        int code = rc == 0 ? 0 : e.code ? e.code : ENGINE_E_UNAVAILABLE;
        if (changed(&m->health, code, &h) && m->state == HB_RUNNING) {
            log_info("event=health_changed member=%lld alive=%s error=\"%s\"", (long long)m->id,
                     code == 0                      ? (h.alive ? "yes" : "no")
                     : code == ENGINE_E_UNAVAILABLE ? "no"
                                                    : "unknown",
                     code == 0 ? "" : e.msg);
            a->report_now = true;
            pthread_cond_signal(&a->report_wake);
        }
        m->health.in_flight = false;
        m->health.done = true;
        m->health.at_ms = clock_now_ms();
        m->health.code = code;
        if (code == 0)
            m->health.h = h;
        snprintf(m->health.error, sizeof(m->health.error), "%s", code == 0 ? "" : e.msg);
    }
    a->helpers--;
    pthread_mutex_unlock(&a->lock);
    member_spec_free(p->ms);
    free(p);
    return NULL;
}

int probe_round(struct agent *a, probe_fn fn, int timeout_ms)
{
    static uint64_t next_seq; /* under a->lock */
    pthread_attr_t attr;
    struct member *m;
    int started = 0;

    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&a->lock);
    for (m = a->members; m; m = m->next) {
        struct probe *p;
        pthread_t t;
        if (m->state != HB_RUNNING || !m->want_running || m->health.in_flight)
            continue;
        p = xcalloc(1, sizeof(*p));
        p->a = a;
        p->fn = fn;
        p->timeout_ms = timeout_ms;
        p->id = m->id;
        p->seq = ++next_seq;
        snprintf(p->engine, sizeof(p->engine), "%s", m->engine);
        p->ms = member_spec_new(m, a->cfg->data_dir, a->cfg->advertise);
        if (pthread_create(&t, &attr, probe_thread, p) != 0) {
            log_error("event=thread_failed member=%lld what=probe", (long long)m->id);
            member_spec_free(p->ms);
            free(p);
            continue;
        }
        m->health.in_flight = true;
        m->health.seq = p->seq;
        a->helpers++;
        started++;
    }
    pthread_mutex_unlock(&a->lock);
    pthread_attr_destroy(&attr);
    return started;
}

void *probe_main(void *arg)
{
    struct agent *a = arg;
    int64_t next = clock_now_ms();

    while (!*a->stopping) {
        int64_t now = clock_now_ms();
        if (now >= next) {
            probe_round(a, probe_engine, PROBE_TIMEOUT_MS);
            next += PROBE_PERIOD_MS;
            if (next <= now)
                next = now + PROBE_PERIOD_MS;
        }
        clock_sleep_ms(next - now < 100 ? next - now : 100);
    }
    return NULL;
}
