/* Checks of an agent's heartbeat report: member ids and states, and clean health and seeding
 * objects (api/hbcheck.h). */
#include "api/hbcheck.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/errc.h"
#include "lib/hbproto.h"
#include "lib/xalloc.h"

enum kind {
    K_BOOL,    /* true or false */
    K_COUNT,   /* an integer >= 0 */
    K_INT,     /* an integer 0..INT32_MAX: a member's int column (pid, restarts, versions) */
    K_SECONDS, /* a number >= 0 */
    K_ROLE,    /* "primary" or "replica" */
    K_TEXT,    /* a string, cut to HBCHECK_ERROR_MAX bytes */
    K_POSITION /* a string of at most HBCHECK_POSITION_MAX bytes */
};

struct field {
    const char *name;
    enum kind kind;
};

static const struct field health_fields[] = {
    {HB_F_ALIVE, K_BOOL},
    {HB_F_ROLE, K_ROLE},
    {HB_F_WRITABLE, K_BOOL},
    {HB_F_POSITION, K_POSITION},
    {HB_F_POSITION_BYTES, K_COUNT},
    {HB_F_RECEIVED_BYTES, K_COUNT},
    {HB_F_UPSTREAM_UP, K_BOOL},
    {HB_F_LAG_BYTES, K_COUNT},
    {HB_F_LAG_SECONDS, K_SECONDS},
    {HB_F_AGE_MS, K_COUNT},
    {HB_F_ERROR, K_TEXT},
    {NULL, K_BOOL},
};

static const struct field usage_fields[] = {
    {HB_F_CPU_USEC, K_COUNT},
    {HB_F_MEMORY_BYTES, K_COUNT},
    {HB_F_IO_READ_BYTES, K_COUNT},
    {HB_F_IO_WRITE_BYTES, K_COUNT},
    {HB_F_DISK_MB, K_COUNT},
    {HB_F_OOM_KILLS, K_COUNT},
    {NULL, K_BOOL},
};

static const struct field seeding_fields[] = {
    {HB_F_BYTES, K_COUNT},
    {HB_F_ELAPSED_MS, K_COUNT},
    {NULL, K_BOOL},
};

/* Seconds beyond this (some 30,000 years) are not a lag but a broken clock. */
#define SECONDS_MAX 1e12

/* v as kind, as a new reference; NULL when v does not fit. */
static json_t *clean_value(const json_t *v, enum kind kind)
{
    const char *s;
    size_t len;

    switch (kind) {
    case K_BOOL:
        return json_is_boolean(v) ? json_boolean(json_is_true(v)) : NULL;
    case K_COUNT:
        return json_is_integer(v) && json_integer_value(v) >= 0
                   ? json_integer(json_integer_value(v))
                   : NULL;
    case K_INT:
        return json_is_integer(v) && json_integer_value(v) >= 0 &&
                       json_integer_value(v) <= INT32_MAX
                   ? json_integer(json_integer_value(v))
                   : NULL;
    case K_SECONDS:
        if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < 0 ||
            json_number_value(v) > SECONDS_MAX)
            return NULL;
        return json_real(json_number_value(v));
    case K_ROLE:
        s = json_string_value(v);
        return s && (strcmp(s, HB_ROLE_PRIMARY) == 0 || strcmp(s, HB_ROLE_REPLICA) == 0)
                   ? json_string(s)
                   : NULL;
    case K_POSITION:
        s = json_string_value(v);
        len = json_string_length(v);
        return s && len > 0 && len <= HBCHECK_POSITION_MAX && !memchr(s, '\0', len)
                   ? json_stringn(s, len)
                   : NULL;
    case K_TEXT:
        s = json_string_value(v);
        if (!s)
            return NULL;
        len = strnlen(s, json_string_length(v)); /* the store's text cannot hold a NUL */
        if (len > HBCHECK_ERROR_MAX) {
            len = HBCHECK_ERROR_MAX;
            while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
                len--; /* never cut a UTF-8 sequence */
        }
        return json_stringn(s, len);
    }
    return NULL;
}

static json_t *clean_object(const json_t *in, const struct field *fields)
{
    json_t *out;
    int i;

    if (!json_is_object(in))
        return NULL;
    out = json_object();
    for (i = 0; fields[i].name; i++) {
        json_t *v = clean_value(json_object_get(in, fields[i].name), fields[i].kind);

        if (v)
            json_object_set_new(out, fields[i].name, v);
    }
    return out;
}

json_t *hbcheck_health(const json_t *in)
{
    return clean_object(in, health_fields);
}

json_t *hbcheck_seeding(const json_t *in)
{
    return clean_object(in, seeding_fields);
}

json_t *hbcheck_usage(const json_t *in)
{
    return clean_object(in, usage_fields);
}

/* Replace member[key] by clean(member[key]), or remove it. */
static void replace_clean(json_t *member, const char *key, json_t *(*clean)(const json_t *))
{
    json_t *v = clean(json_object_get(member, key));

    if (v)
        json_object_set_new(member, key, v);
    else
        json_object_del(member, key);
}

/* Replace member[key] by its value as kind, or remove it when it does not fit. */
static void replace_scalar(json_t *member, const char *key, enum kind kind)
{
    json_t *v = clean_value(json_object_get(member, key), kind);

    if (v)
        json_object_set_new(member, key, v);
    else
        json_object_del(member, key);
}

/* *field = name, and e set: -1. */
static int host_refuse(const char **field, const char *name, struct err *e, const char *msg)
{
    *field = name;
    return err_set(e, API_E_INVALID, "%s", msg);
}

int hbcheck_host(const json_t *body, struct hbcheck_host *out, const char **field, struct err *e)
{
    const json_t *ports = json_object_get(body, HB_F_PORTS);
    const json_t *seed = json_object_get(body, HB_F_SEED_PORT);
    const json_t *lease_valid = json_object_get(body, HB_F_LEASE_VALID);
    const json_t *io_limits = json_object_get(body, HB_F_IO_LIMITS);

    memset(out, 0, sizeof(*out));
    *field = NULL;
    if (ports) {
        const json_t *lo = json_object_get(ports, HB_F_MIN), *hi = json_object_get(ports, HB_F_MAX);
        if (!json_is_integer(lo) || !json_is_integer(hi) || json_integer_value(lo) < 1024 ||
            json_integer_value(hi) > 65535 || json_integer_value(lo) > json_integer_value(hi))
            return host_refuse(field, HB_F_PORTS, e,
                               "ports must be {\"min\",\"max\"} with 1024 <= min <= max <= 65535");
        out->has_ports = true;
        out->port_min = (int)json_integer_value(lo);
        out->port_max = (int)json_integer_value(hi);
    }
    if (seed && !json_is_null(seed) &&
        (!json_is_integer(seed) || json_integer_value(seed) < 1 ||
         json_integer_value(seed) > 65535))
        return host_refuse(field, HB_F_SEED_PORT, e,
                           HB_F_SEED_PORT " must be a port number (1..65535) or null");
    if (lease_valid && !json_is_boolean(lease_valid))
        return host_refuse(field, HB_F_LEASE_VALID, e, HB_F_LEASE_VALID " must be a boolean");
    if (io_limits && !json_is_boolean(io_limits))
        return host_refuse(field, HB_F_IO_LIMITS, e, HB_F_IO_LIMITS " must be a boolean");
    return 0;
}

static int cmp_id(const void *a, const void *b)
{
    json_int_t x = *(const json_int_t *)a, y = *(const json_int_t *)b;

    return (x > y) - (x < y);
}

/* Whether a member is listed twice (*id: its id; ids checked to be integers). One member
 * reported twice would be written from either entry, and twice over at every heartbeat
 * (api/hbmemo.c remembers one digest per id; found by tests/fuzz/fuzz_heartbeat.c). */
static bool duplicate_id(const json_t *members, json_int_t *id)
{
    size_t n = json_array_size(members), i;
    json_int_t *ids = xcalloc(n ? n : 1, sizeof(*ids));
    bool dup = false;

    for (i = 0; i < n; i++)
        ids[i] = json_integer_value(json_object_get(json_array_get(members, i), HB_F_ID));
    qsort(ids, n, sizeof(*ids), cmp_id);
    for (i = 1; i < n && !dup; i++)
        if (ids[i] == ids[i - 1]) {
            *id = ids[i];
            dup = true;
        }
    free(ids);
    return dup;
}

int hbcheck_members(json_t *members, struct err *e)
{
    size_t i;
    json_t *m;
    enum hb_state state;
    json_int_t dup;

    if (!json_is_array(members))
        return err_set(e, API_E_INVALID, HB_F_MEMBERS " must be an array");
    json_array_foreach(members, i, m)
    {
        if (!json_is_object(m) || !json_is_integer(json_object_get(m, HB_F_ID)))
            return err_set(e, API_E_INVALID,
                           "each member must be an object with an integer " HB_F_ID);
    }
    if (duplicate_id(members, &dup))
        return err_set(e, API_E_INVALID, "member " HB_F_ID " %lld is listed twice", (long long)dup);
    json_array_foreach(members, i, m)
    {
        if (hb_state_parse(json_string_value(json_object_get(m, HB_F_STATE)), &state) < 0)
            return err_set(e, API_E_INVALID,
                           "member " HB_F_STATE " must be one of " HB_STATE_PENDING
                           ", " HB_STATE_STARTING ", " HB_STATE_RUNNING ", " HB_STATE_FAILED
                           ", " HB_STATE_STOPPED ", " HB_STATE_DELETED);
        replace_scalar(m, HB_F_PID, K_INT);
        replace_scalar(m, HB_F_RESTARTS, K_INT);
        replace_scalar(m, HB_F_APPLIED_VERSION, K_INT);
        replace_scalar(m, HB_F_PENDING_RESTART, K_BOOL);
        replace_scalar(m, HB_F_RESIZE_VERSION, K_INT);
        replace_scalar(m, HB_F_RESIZE_ERROR, K_TEXT);
        replace_scalar(m, HB_F_FENCED, K_BOOL);
        replace_clean(m, HB_F_HEALTH, hbcheck_health);
        replace_clean(m, HB_F_SEEDING, hbcheck_seeding);
        replace_clean(m, HB_F_USAGE, hbcheck_usage);
    }
    return 0;
}
