/* An instance as the API shows it (docs/api.md, "Instance"): the columns every instance query
 * selects, the JSON made from them (members with the role the engine reports, writability and
 * lag; endpoints with the client URIs), the credentials of a create, and the one-instance reply
 * the instance handlers share (api/instances.c, api/instpatch.c). */
#ifndef API_INSTVIEW_H
#define API_INSTVIEW_H

#include <jansson.h>
#include <libpq-fe.h>

#include "api/http.h"

/* A failover record (failovers row f) as the API shows it (docs/api.md, "Failover"): JSON text. */
#define INSTVIEW_FAILOVER(f)                                                                       \
    "json_build_object('id', " f ".id, 'kind', " f ".kind, 'state', " f ".state,"                  \
    " 'from_member', " f ".from_member, 'to_member', " f ".to_member, 'reason', " f ".reason,"     \
    " 'actor', " f ".actor, 'detected_at', iso(" f ".detected_at), 'fenced_at', iso(" f            \
    ".fenced_at), 'promoted_at', iso(" f ".promoted_at), 'first_write_at', iso(" f                 \
    ".first_write_at), 'finished_at', iso(" f ".finished_at))::text"

/* The columns, for SELECT INSTVIEW_COLS INSTVIEW_FROM ... (i: instances, t: tenants, h: the
 * primary's host). Column INSTVIEW_SEQ_COL is the list position; the last is the failover in
 * flight, else the last one (NULL when none). */
#define INSTVIEW_COLS                                                                              \
    "i.id, i.name, t.name, i.engine, i.version, i.plan_name, i.replicas, i.status,"                \
    " i.status_reason, h.name, iso(i.created_at), iso(i.updated_at), i.seq,"                       \
    " (SELECT json_agg(json_build_object('id', m.id, 'role', v.shown_role, 'host', mh.name,"       \
    "  'address', mh.address, 'zone', mh.zone, 'port', m.port, 'status', m.observed,"              \
    "  'desired', m.desired, 'writable', v.writable, 'lag_bytes', v.lag_bytes,"                    \
    "  'lag_seconds', v.lag_seconds, 'error', m.observed_error, 'restarts', m.restarts,"           \
    "  'pid', m.pid, 'usage', m.usage) ORDER BY m.role, m.id)"                                     \
    "  FROM members m JOIN hosts mh ON mh.id = m.host_id JOIN member_health v ON v.id = m.id"      \
    "  WHERE m.instance_id = i.id)::text, i.storage_full,"                                         \
    " jsonb_strip_nulls(jsonb_build_object('primary', (SELECT jsonb_build_object('host',"          \
    "  eh.address, 'port', e.port) FROM members e JOIN hosts eh ON eh.id = e.host_id"              \
    "  WHERE e.instance_id = i.id AND e.role = 'primary' AND e.desired = 'running'"                \
    "  ORDER BY e.id LIMIT 1), 'replicas', (SELECT jsonb_agg(jsonb_build_object('host',"           \
    "  eh.address, 'port', e.port) ORDER BY e.id) FROM members e JOIN hosts eh"                    \
    "  ON eh.id = e.host_id WHERE e.instance_id = i.id AND e.role = 'replica'"                     \
    "  AND e.desired = 'running')))::text, i.max_lag_bytes, i.username, i.sync,"                   \
    " (SELECT " INSTVIEW_FAILOVER(                                                                 \
        "f") " FROM failovers f WHERE f.instance_id = i.id"                                        \
             "  ORDER BY f.state IN ('detected', 'fencing', 'promoting') DESC, f.id DESC LIMIT 1)"
#define INSTVIEW_FROM                                                                              \
    " FROM instances i JOIN tenants t ON t.id = i.tenant_id LEFT JOIN hosts h ON h.id = i.host_id"
#define INSTVIEW_SEQ_COL 12

/* The instance of row i of a result of INSTVIEW_COLS. New reference. */
json_t *instview_json(const PGresult *res, int i);

/* The caller's tenant scope for statements: its tenant id, or NULL (all tenants) for
 * operators. Borrowed from r. */
const char *instview_scope(const struct req *r);

/* Reply status with instance id as the caller may see it, or 404. */
void instview_reply(struct req *r, unsigned status, const char *id);

/* The credentials of a new instance (inst as instview_json() made it) for user: username,
 * password, database (engines whose driver creates one named after the user) and uri, the URI
 * with the password over the members known so far (no host part before placement). New
 * reference; the caller decrefs. */
json_t *instview_credentials(const json_t *inst, const char *user, const char *password);

#endif
