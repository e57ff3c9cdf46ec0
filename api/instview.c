/* An instance as the API shows it (api/instview.h). */
#include "api/instview.h"

#include <string.h>

#include "api/dbq.h"
#include "lib/buf.h"
#include "lib/catalog.h"
#include "lib/connuri.h"

#define MAX_HOSTS 8 /* a primary and at most 5 replicas, with room for replacements */

/* The endpoints' addresses, the primary first, into hosts[] (borrowed from eps). */
static int endpoint_hosts(const json_t *eps, struct connuri_host hosts[MAX_HOSTS])
{
    const json_t *ep = json_object_get(eps, "primary");
    int n = 0;
    size_t k;
    json_t *r;

    if (ep) {
        hosts[n].host = json_string_value(json_object_get(ep, "host"));
        hosts[n++].port = (int)json_integer_value(json_object_get(ep, "port"));
    }
    json_array_foreach(json_object_get(eps, "replicas"), k, r)
    {
        if (n == MAX_HOSTS)
            break;
        hosts[n].host = json_string_value(json_object_get(r, "host"));
        hosts[n++].port = (int)json_integer_value(json_object_get(r, "port"));
    }
    return n;
}

/* A URI over the endpoints as a new JSON string. */
static json_t *uri_json(const struct catalog_engine *ce, const char *user, const char *password,
                        const json_t *eps, enum connuri_target target)
{
    struct connuri_host hosts[MAX_HOSTS];
    struct buf b = BUF_INIT;
    json_t *s;

    connuri_build(&b, ce, user, password, hosts, endpoint_hosts(eps, hosts), target);
    s = json_string(buf_str(&b));
    if (password)
        explicit_bzero(b.data, b.len);
    buf_free(&b);
    return s;
}

json_t *instview_json(const PGresult *res, int i)
{
    const struct catalog_engine *ce = catalog_find(PQgetvalue(res, i, 3));
    json_t *inst = json_pack(
        "{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", dbq_str(res, i, 0), "name",
        dbq_str(res, i, 1), "tenant", dbq_str(res, i, 2), "engine", dbq_str(res, i, 3), "version",
        dbq_str(res, i, 4), "plan", dbq_str(res, i, 5), "replicas", dbq_int(res, i, 6), "status",
        dbq_str(res, i, 7), "status_reason", dbq_str(res, i, 8), "host", dbq_str(res, i, 9),
        "created_at", dbq_str(res, i, 10), "updated_at", dbq_str(res, i, 11));
    json_t *members = dbq_json(res, i, 13);
    json_t *endpoints = dbq_json(res, i, 15);

    if (!json_is_array(members)) {
        json_decref(members);
        members = json_array();
    }
    if (!json_is_object(endpoints)) {
        json_decref(endpoints);
        endpoints = json_object();
    }
    /* Clients of engines that take every member in one URI keep it across a change of
     * primary: read-write finds the primary, prefer-standby a replica when one answers. */
    if (ce && ce->multi_host_uri && json_object_get(endpoints, "primary")) {
        const char *user = PQgetvalue(res, i, 17);

        json_object_set_new(endpoints, "uri",
                            uri_json(ce, user, NULL, endpoints, CONNURI_READ_WRITE));
        json_object_set_new(endpoints, "readonly_uri",
                            uri_json(ce, user, NULL, endpoints, CONNURI_PREFER_STANDBY));
    }
    json_object_set_new(inst, "max_lag_bytes", dbq_int(res, i, 16));
    json_object_set_new(inst, "sync", json_boolean(PQgetvalue(res, i, 18)[0] == 't'));
    json_object_set_new(inst, "failover",
                        PQgetisnull(res, i, 19) ? json_null() : dbq_json(res, i, 19));
    json_object_set_new(inst, "members", members);
    json_object_set_new(inst, "endpoints", endpoints);
    json_object_set_new(inst, "storage_full", json_boolean(PQgetvalue(res, i, 14)[0] == 't'));
    return inst;
}

const char *instview_scope(const struct req *r)
{
    return r->who.role == ROLE_TENANT ? r->who.tenant_id : NULL;
}

static const char sql_instance_get[] =
    "SELECT " INSTVIEW_COLS INSTVIEW_FROM
    " WHERE i.id = $1::uuid AND ($2::bigint IS NULL OR i.tenant_id = $2::bigint)";

void instview_reply(struct req *r, unsigned status, const char *id)
{
    PGresult *res = dbq_ok(r, sql_instance_get, id, instview_scope(r));

    if (res)
        dbq_reply_one(r, res, status, instview_json, "instance");
}

json_t *instview_credentials(const json_t *inst, const char *user, const char *password)
{
    const struct catalog_engine *ce =
        catalog_find(json_string_value(json_object_get(inst, "engine")));
    json_t *cred = json_object();
    const json_t *eps = json_object_get(inst, "endpoints");

    json_object_set_new(cred, "username", json_string(user));
    json_object_set_new(cred, "password", json_string(password));
    if (ce && ce->user_database)
        json_object_set_new(cred, "database", json_string(user));
    if (ce)
        json_object_set_new(cred, "uri", uri_json(ce, user, password, eps, CONNURI_READ_WRITE));
    return cred;
}
