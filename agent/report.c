/* The heartbeat request's JSON: the host record and every member's observed state. */
#include "agent/report.h"

#include "lib/hbproto.h"

json_t *report_member(const struct member *m)
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
    if (desired_hash[0])
        json_object_set_new(body, HB_F_DESIRED_HASH, json_string(desired_hash));
    json_object_set_new(body, HB_F_WAIT_MS, json_integer(wait_ms));
    return body;
}
