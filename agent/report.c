/* The heartbeat request's JSON: the host record and every member's observed state. */
#include "agent/report.h"

#include "engines/engine.h"
#include "lib/hbproto.h"

/* A number, or null when the probe could not tell (< 0). */
static json_t *int_or_null(int64_t v)
{
    return v < 0 ? json_null() : json_integer(v);
}

json_t *report_health(const struct member_health *mh, int64_t now_ms)
{
    const struct engine_health *h = &mh->h;
    bool answered = mh->code == 0;
    json_t *o;

    if (!mh->done)
        return json_null();
    o = json_object();
    /* alive: false when the engine did not answer; null when the probe itself could not run
     * (an engine without a health probe, a spec the driver refused) */
    json_object_set_new(o, HB_F_ALIVE,
                        answered                           ? json_boolean(h->alive)
                        : mh->code == ENGINE_E_UNAVAILABLE ? json_false()
                                                           : json_null());
    json_object_set_new(
        o, HB_F_ROLE,
        answered ? json_string(h->role == ENGINE_ROLE_REPLICA ? HB_ROLE_REPLICA : HB_ROLE_PRIMARY)
                 : json_null());
    json_object_set_new(o, HB_F_WRITABLE, answered ? json_boolean(h->writable) : json_null());
    json_object_set_new(o, HB_F_POSITION,
                        answered && h->position[0] ? json_string(h->position) : json_null());
    json_object_set_new(o, HB_F_POSITION_BYTES,
                        answered ? int_or_null(h->position_bytes) : json_null());
    if (answered && h->received_bytes >= 0)
        json_object_set_new(o, HB_F_RECEIVED_BYTES, json_integer(h->received_bytes));
    json_object_set_new(o, HB_F_UPSTREAM_UP,
                        answered && h->upstream_up >= 0 ? json_boolean(h->upstream_up == 1)
                                                        : json_null());
    json_object_set_new(o, HB_F_LAG_BYTES, answered ? int_or_null(h->lag_bytes) : json_null());
    json_object_set_new(o, HB_F_LAG_SECONDS,
                        answered && h->lag_seconds >= 0 ? json_real(h->lag_seconds) : json_null());
    json_object_set_new(o, HB_F_AGE_MS, json_integer(now_ms > mh->at_ms ? now_ms - mh->at_ms : 0));
    json_object_set_new(o, HB_F_ERROR, answered ? json_null() : json_string(mh->error));
    return o;
}

json_t *report_member(const struct member *m, int64_t now_ms)
{
    json_t *r;

    r = json_pack(
        "{s:I,s:s,s:i,s:i,s:i,s:b,s:{s:I,s:I,s:I,s:I,s:I,s:I}}", HB_F_ID, (json_int_t)m->id,
        HB_F_STATE, hb_state_name(m->state), HB_F_PID, (int)m->pid, HB_F_RESTARTS, m->restarts,
        HB_F_APPLIED_VERSION, m->applied_version, HB_F_PENDING_RESTART, m->pending_restart,
        HB_F_USAGE, HB_F_CPU_USEC, (json_int_t)m->usage.cpu_usec, HB_F_MEMORY_BYTES,
        (json_int_t)m->usage.memory_bytes, HB_F_IO_READ_BYTES, (json_int_t)m->usage.io_read_bytes,
        HB_F_IO_WRITE_BYTES, (json_int_t)m->usage.io_write_bytes, HB_F_DISK_MB,
        (json_int_t)m->disk_used_mb, HB_F_OOM_KILLS, (json_int_t)m->usage.oom_kills);
    if (m->error[0])
        json_object_set_new(r, HB_F_ERROR, json_string(m->error));
    if (m->resize_failed_version > 0) {
        json_object_set_new(r, HB_F_RESIZE_VERSION, json_integer(m->resize_failed_version));
        json_object_set_new(r, HB_F_RESIZE_ERROR, json_string(m->resize_error));
    }
    json_object_set_new(r, HB_F_HEALTH, report_health(&m->health, now_ms));
    json_object_set_new(r, HB_F_FENCED, json_boolean(m->fenced || m->guard_fenced));
    if (m->seeding)
        json_object_set_new(
            r, HB_F_SEEDING,
            json_pack("{s:I,s:I}", HB_F_BYTES, (json_int_t)m->seed_bytes, HB_F_ELAPSED_MS,
                      (json_int_t)(now_ms > m->seed_started_ms ? now_ms - m->seed_started_ms : 0)));
    return r;
}

json_t *report_request(const struct report_host *h, json_t *engines, json_t *members,
                       const char *desired_hash, int wait_ms)
{
    json_t *body;

    body = json_pack("{s:s,s:s,s:{s:I,s:I,s:I},s:o,s:{s:i,s:i},s:o}", HB_F_AGENT_VERSION,
                     AGENT_VERSION, HB_F_ISOLATION, h->isolation, HB_F_CAPACITY, HB_F_CPU_MILLIS,
                     (json_int_t)h->cpu_millis, HB_F_MEMORY_MB, (json_int_t)h->memory_mb,
                     HB_F_DISK_MB, (json_int_t)h->disk_mb, HB_F_ENGINES, engines, HB_F_PORTS,
                     HB_F_MIN, h->port_min, HB_F_MAX, h->port_max, HB_F_MEMBERS, members);
    if (h->seed_port > 0)
        json_object_set_new(body, HB_F_SEED_PORT, json_integer(h->seed_port));
    if (h->lease_valid >= 0)
        json_object_set_new(body, HB_F_LEASE_VALID, json_boolean(h->lease_valid == 1));
    json_object_set_new(body, HB_F_IO_LIMITS, json_boolean(h->io_limits));
    if (desired_hash[0])
        json_object_set_new(body, HB_F_DESIRED_HASH, json_string(desired_hash));
    json_object_set_new(body, HB_F_WAIT_MS, json_integer(wait_ms));
    return body;
}
