/* The heartbeat: the status report, the exchange with dbaasd and reconciling its reply.
 *
 * NOTES: heartbeat_once() runs on two threads: the heartbeat thread's long polls
 * (heartbeat_poll_main) and the main thread's immediate reports after a state change, each
 * with its own HTTP client. Both build the report and apply the reply under a->lock; the
 * slow work a reply asks for is handed to worker threads (agent/jobs.c). Their replies may be
 * applied out of order: the decision (agent/desired.c) does not recognise a stale reply, and
 * the next reply corrects what it did (tests/unit/test_desired.c, test_stale_reply). */
#include "agent/heartbeat.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/desired.h"
#include "engines/engine.h"
#include "agent/hostinfo.h"
#include "agent/jobs.h"
#include "agent/member.h"
#include "agent/report.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/hbproto.h"
#include "lib/httpc.h"
#include "lib/log.h"

#define DISK_CHECK_MS 10000

/* The request's members: every member we know, with usage sampled for the running ones. */
static json_t *report_members(struct agent *a)
{
    json_t *arr = json_array();
    struct member *m;
    int64_t now = clock_now_ms();

    pthread_mutex_lock(&a->lock);
    for (m = a->members; m; m = m->next) {
        if (m->state == HB_RUNNING) {
            char group[40];
            struct err e;
            member_group(m, a->tag, group);
            if (iso_usage(a->iso, group, &m->usage, &e) < 0)
                memset(&m->usage, 0, sizeof(m->usage));
            if (now - m->disk_checked_ms > DISK_CHECK_MS || !m->disk_checked_ms) {
                char *dir = member_dir(m, a->cfg->data_dir);
                m->disk_used_mb = hostinfo_disk_used_mb(dir);
                m->disk_checked_ms = now;
                free(dir);
            }
        }
        json_array_append_new(arr, report_member(m));
    }
    pthread_mutex_unlock(&a->lock);
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
        member_update_desired(m, st->entry);
        if (st->spec_changed)
            jobs_save(a, m);
        if (st->action == DESIRED_PROVISION)
            jobs_spawn(a, m, JOB_PROVISION);
        else if (st->action == DESIRED_RESIZE)
            jobs_spawn(a, m, JOB_RESIZE);
        else if (st->action == DESIRED_DELETE)
            jobs_spawn(a, m, JOB_DELETE);
        break;
    case DESIRED_ORPHAN:
        m->want_running = false;
        jobs_spawn(a, m, JOB_DELETE);
        break;
    case DESIRED_FORGET:
        *pp = m->next;
        member_forget(m, a->cfg->data_dir);
        member_free(m);
        break;
    }
}

/* Reconcile: apply the desired members of a heartbeat reply (desired_plan() decides). */
static void reconcile(struct agent *a, const json_t *desired)
{
    struct desired_step *steps;
    size_t n, i;

    pthread_mutex_lock(&a->lock);
    n = desired_plan(a->members, desired, &steps);
    for (i = 0; i < n; i++)
        apply_step(a, &steps[i]);
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
    struct err e;
    int rc = -1;

    for (ops = engine_list(); *ops; ops++)
        json_array_append_new(engines, json_string((*ops)->cat->name));
    host.isolation = iso_kind_name(iso_kind_of(a->iso));
    host.cpu_millis = cfg->cpu_millis ? cfg->cpu_millis : hostinfo_cpu_millis();
    host.memory_mb = cfg->memory_mb ? cfg->memory_mb : hostinfo_memory_mb();
    host.disk_mb = cfg->disk_mb ? cfg->disk_mb : hostinfo_disk_mb(cfg->data_dir);
    host.port_min = cfg->port_min;
    host.port_max = cfg->port_max;
    members = report_members(a);
    pthread_mutex_lock(&a->lock);
    memcpy(hash, a->desired_hash, sizeof(hash));
    pthread_mutex_unlock(&a->lock);
    body = report_request(&host, engines, members, hash, wait_ms);
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (httpc_request(c, "POST", HB_PATH, text, 5000 + wait_ms, &status, &resp, &e) < 0) {
        if ((*failures)++ % 10 == 0)
            log_warn("event=heartbeat_failed error=\"%s\"", e.msg);
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
        reconcile(a, json_object_get(reply, HB_F_MEMBERS));
        pthread_mutex_lock(&a->lock);
        snprintf(a->desired_hash, sizeof(a->desired_hash), "%s",
                 json_string_value(json_object_get(reply, HB_F_DESIRED_HASH))
                     ? json_string_value(json_object_get(reply, HB_F_DESIRED_HASH))
                     : "");
        pthread_mutex_unlock(&a->lock);
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

void *heartbeat_poll_main(void *arg)
{
    struct agent *a = arg;
    int failures = 0;

    while (!*a->stopping) {
        int64_t start = clock_now_ms();
        int rc = heartbeat_once(a, a->poll_http, &failures, a->cfg->heartbeat_ms);
        int64_t elapsed = clock_now_ms() - start;
        /* Pace: after a failure, or a server that answered without waiting. */
        if (rc < 0 || elapsed < 100) {
            int64_t pause = rc < 0 ? a->cfg->heartbeat_ms : 100 - elapsed;
            while (pause > 0 && !*a->stopping) {
                clock_sleep_ms(50);
                pause -= 50;
            }
        }
    }
    return NULL;
}
