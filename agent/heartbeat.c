/* The heartbeat: the status report, the exchange with dbaasd and reconciling its reply.
 *
 * NOTES: heartbeat_once() runs on two threads: the heartbeat thread's long polls
 * (heartbeat_poll_main) and the main thread's immediate reports after a state change, each
 * with its own HTTP client. Both build the report and apply the reply under a->lock; the
 * slow work a reply asks for is handed to worker threads (agent/jobs.c). Their replies may
 * arrive out of order: a reply older than the newest applied (by its generation) is ignored
 * (desired_reply_current(), tests/unit/test_desired.c). Usage is sampled and the member
 * directories walked without a->lock. */
#include "agent/heartbeat.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/desired.h"
#include "engines/engine.h"
#include "agent/hostinfo.h"
#include "agent/token.h"
#include "agent/jobs.h"
#include "agent/leasing.h"
#include "agent/member.h"
#include "agent/report.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/hbproto.h"
#include "lib/httpc.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define DISK_CHECK_MS 10000
#define HEARTBEAT_WAIT_MAX_MS 5000 /* dbaasd's longest long poll (docs/agent.md) */

/* What report_members() samples of a running member without the lock. */
struct sample {
    int64_t id;
    char group[40];
    char *dir; /* owned; NULL: no disk walk due */
    int usage_rc;
    struct iso_usage usage;
    int64_t disk_used_mb;
};

/* The request's members: every member we know, with usage sampled for the running ones. The
 * samples (cgroup files, a walk of the member directory) are taken without a->lock. */
static json_t *report_members(struct agent *a)
{
    json_t *arr = json_array();
    struct member *m;
    struct sample *samples = NULL;
    size_t n = 0, cap = 0, i;
    int64_t now = clock_now_ms();

    pthread_mutex_lock(&a->lock);
    for (m = a->members; m; m = m->next) {
        struct sample *sp;
        if (m->state != HB_RUNNING)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            samples = xrealloc(samples, cap * sizeof(*samples));
        }
        sp = &samples[n++];
        memset(sp, 0, sizeof(*sp));
        sp->id = m->id;
        member_group(m, a->tag, sp->group);
        if (now - m->disk_checked_ms > DISK_CHECK_MS || !m->disk_checked_ms) {
            sp->dir = member_dir(m, a->cfg->data_dir);
            m->disk_checked_ms = now;
        }
    }
    pthread_mutex_unlock(&a->lock);
    for (i = 0; i < n; i++) {
        struct err e;
        samples[i].usage_rc = iso_usage(a->iso, samples[i].group, &samples[i].usage, &e);
        if (samples[i].dir)
            samples[i].disk_used_mb = hostinfo_disk_used_mb(samples[i].dir);
    }
    pthread_mutex_lock(&a->lock);
    now = clock_now_ms();
    for (m = a->members; m; m = m->next) {
        for (i = 0; i < n && samples[i].id != m->id; i++)
            ;
        if (i < n && m->state == HB_RUNNING) {
            if (samples[i].usage_rc == 0)
                m->usage = samples[i].usage;
            else
                memset(&m->usage, 0, sizeof(m->usage));
            if (samples[i].dir)
                m->disk_used_mb = samples[i].disk_used_mb;
        }
        json_array_append_new(arr, report_member(m, now));
    }
    pthread_mutex_unlock(&a->lock);
    for (i = 0; i < n; i++)
        free(samples[i].dir);
    free(samples);
    return arr;
}

/* Carry out one step of desired_plan(); caller holds a->lock. */
static void apply_step(struct agent *a, const struct desired_step *st)
{
    struct member *m, **pp;
    struct err e;

    for (pp = &a->members; *pp && (*pp)->id != st->id; pp = &(*pp)->next)
        ;
    m = *pp;
    switch (st->action) {
    case DESIRED_MALFORMED:
        if (member_desired_check(st->entry, &e) < 0)
            log_warn("event=bad_desired_member error=\"%s\"", e.msg);
        if (m)
            m->unlisted = false;
        break;
    case DESIRED_CREATE:
    case DESIRED_CLEANUP:
        m = member_from_desired(st->entry, &e);
        if (!m) {
            log_warn("event=bad_desired_member error=\"%s\"", e.msg);
            break;
        }
        m->next = a->members;
        a->members = m;
        jobs_save(a, m);
        /* CLEANUP: the leftovers of a crash, if any */
        jobs_spawn(a, m, st->action == DESIRED_CREATE ? JOB_PROVISION : JOB_DELETE);
        break;
    case DESIRED_KEEP:
    case DESIRED_PROVISION:
    case DESIRED_RESIZE:
    case DESIRED_DELETE:
        if (m->unlisted)
            log_info("event=member_listed_again member=%lld", (long long)m->id);
        m->unlisted = false;
        member_update_desired(m, st->entry);
        if (m->repl_dirty)
            jobs_save(a, m);
        if (st->spec_changed)
            jobs_save(a, m);
        if (st->action == DESIRED_PROVISION)
            jobs_spawn(a, m, JOB_PROVISION);
        else if (st->action == DESIRED_RESIZE)
            jobs_spawn(a, m, JOB_RESIZE);
        else if (st->action == DESIRED_DELETE)
            jobs_spawn(a, m, JOB_DELETE);
        break;
    case DESIRED_UNLISTED:
        if (!m->unlisted)
            log_warn("event=member_unlisted member=%lld instance=%s state=%s action=kept "
                     "reason=\"missing from dbaasd's reply; only desired deleted deletes\"",
                     (long long)m->id, m->instance, hb_state_name(m->state));
        m->unlisted = true;
        break;
    case DESIRED_FORGET:
        *pp = m->next;
        member_forget(m, a->cfg->data_dir);
        member_free(m);
        break;
    }
}

/* Reconcile: apply the desired members of a heartbeat reply (desired_plan() decides), unless
 * the reply is older than one already applied (desired_reply_current()); then take its lease
 * (agent/leasing.h; req_ms: when its request was sent), its hash and heartbeat interval. The check
 * and the changes are made under one hold of a->lock, so that the two threads that exchange with
 * dbaasd cannot interleave them. */
static void reconcile(struct agent *a, const json_t *reply, int64_t req_ms)
{
    const json_t *desired = json_object_get(reply, HB_F_MEMBERS);
    struct desired_reply_info info;
    struct desired_step *steps = NULL;
    int64_t generation;
    size_t n, i;

    pthread_mutex_lock(&a->lock);
    if (!desired_reply_current(reply, a->generation, &generation)) {
        log_info("event=stale_reply_ignored generation=%lld applied=%lld", (long long)generation,
                 (long long)a->generation);
        goto out;
    }
    a->generation = generation;
    n = desired_plan(a->members, desired, &steps);
    for (i = 0; i < n; i++)
        apply_step(a, &steps[i]);
    leasing_reply(a, json_object_get(reply, HB_F_LEASE), desired, req_ms);
    pthread_cond_signal(&a->wake); /* role changes, fences: supervision acts at once */
    desired_reply_info(reply, &info);
    snprintf(a->desired_hash, sizeof(a->desired_hash), "%s", info.hash);
    if (info.heartbeat_ms > 0) {
        if (info.heartbeat_ms != a->heartbeat_ms)
            log_info("event=heartbeat_interval from_ms=%d to_ms=%d", a->heartbeat_ms,
                     info.heartbeat_ms);
        a->heartbeat_ms = info.heartbeat_ms;
    }
out:
    pthread_mutex_unlock(&a->lock);
    free(steps);
}

int heartbeat_once(struct agent *a, struct httpc *c, int *failures, int wait_ms)
{
    const struct agent_config *cfg = a->cfg;
    struct report_host host;
    json_t *body, *reply, *members, *engines = json_array();
    const struct engine_ops *const *ops;
    struct buf resp = BUF_INIT;
    char *text, hash[sizeof(a->desired_hash)];
    long status = 0;
    int64_t req_ms;
    struct err e;
    int rc = -1;

    agent_token_apply(a, c);
    for (ops = engine_list(); *ops; ops++)
        json_array_append_new(engines, json_string((*ops)->cat->name));
    host.isolation = iso_kind_name(iso_kind_of(a->iso));
    host.cpu_millis = cfg->cpu_millis ? cfg->cpu_millis : hostinfo_cpu_millis();
    host.memory_mb = cfg->memory_mb ? cfg->memory_mb : hostinfo_memory_mb();
    host.disk_mb = cfg->disk_mb ? cfg->disk_mb : hostinfo_disk_mb(cfg->data_dir);
    host.port_min = cfg->port_min;
    host.port_max = cfg->port_max;
    host.io_limits = a->device[0] != '\0';
    pthread_mutex_lock(&a->lock);
    host.seed_port = a->seed_port_refused ? 0 : a->seed_port;
    host.lease_valid = leasing_report(a, clock_now_ms());
    pthread_mutex_unlock(&a->lock);
    members = report_members(a);
    pthread_mutex_lock(&a->lock);
    memcpy(hash, a->desired_hash, sizeof(hash));
    pthread_mutex_unlock(&a->lock);
    body = report_request(&host, engines, members, hash, wait_ms);
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    req_ms = clock_now_ms();
    if (httpc_request(c, "POST", HB_PATH, text, 5000 + wait_ms, &status, &resp, &e) < 0) {
        if ((*failures)++ % 10 == 0)
            log_warn("event=heartbeat_failed error=\"%s\"", e.msg);
        goto out;
    }
    if (status == 400 && host.seed_port &&
        strstr(buf_str(&resp), "\"field\":\"" HB_F_SEED_PORT "\"")) {
        /* a dbaasd older than HA part 1 (a rolling upgrade): report without it */
        pthread_mutex_lock(&a->lock);
        if (!a->seed_port_refused)
            log_warn("event=seed_port_not_accepted reason=\"dbaasd does not know the field yet\"");
        a->seed_port_refused = true;
        pthread_mutex_unlock(&a->lock);
        goto out;
    }
    if (status != 200) {
        if ((*failures)++ % 10 == 0)
            log_warn("event=heartbeat_refused status=%ld body=\"%.200s\"", status, buf_str(&resp));
        goto out;
    }
    if (*failures)
        log_info("event=heartbeat_ok after_failures=%d", *failures);
    *failures = 0;
    reply = json_loadb(buf_str(&resp), resp.len, 0, NULL);
    if (reply && json_is_array(json_object_get(reply, HB_F_MEMBERS))) {
        reconcile(a, reply, req_ms);
        rc = 0;
    } else {
        log_warn("event=heartbeat_bad_reply");
    }
    json_decref(reply);
out:
    free(text);
    buf_free(&resp);
    return rc;
}

/* The interval dbaasd asked for (heartbeat_interval_ms of its last reply). */
static int interval_ms(struct agent *a)
{
    int ms;

    pthread_mutex_lock(&a->lock);
    ms = a->heartbeat_ms;
    pthread_mutex_unlock(&a->lock);
    return ms;
}

void *heartbeat_poll_main(void *arg)
{
    struct agent *a = arg;
    int failures = 0;

    while (!*a->stopping) {
        int64_t start = clock_now_ms();
        int interval = interval_ms(a);
        /* dbaasd holds a long poll for at most wait_ms: one heartbeat per interval at least */
        int rc =
            heartbeat_once(a, a->poll_http, &failures,
                           interval < HEARTBEAT_WAIT_MAX_MS ? interval : HEARTBEAT_WAIT_MAX_MS);
        int64_t elapsed = clock_now_ms() - start;
        /* Pace: after a failure, or a server that answered without waiting. */
        if (rc < 0 || elapsed < 100) {
            int64_t pause = rc < 0 ? interval : 100 - elapsed;
            while (pause > 0 && !*a->stopping) {
                clock_sleep_ms(50);
                pause -= 50;
            }
        }
    }
    return NULL;
}
