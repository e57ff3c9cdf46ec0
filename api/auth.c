/* Bearer-token authentication. Tokens are never stored or logged: only their SHA-256 is, and
 * each request looks the hash up, so that a revoked token fails on the very next request. */
#include "api/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/dbq.h"
#include "api/http.h"
#include "lib/crypto.h"

static const char sql_operator[] = "SELECT 1 FROM api_tokens WHERE hash = $1 AND kind = 'operator'";
static const char sql_tenant[] =
    "SELECT t.id, t.name FROM api_tokens a JOIN tenants t ON t.id = a.tenant_id"
    " WHERE a.hash = $1 AND a.kind = 'tenant'";
/* A host also gets its state and the generation of its desired members (the heartbeat
 * handler's fast path, api/heartbeat.c), read in the same statement. */
static const char sql_host[] = "SELECT id, name, state = 'ready', coalesce(desired_hash, ''),"
                               " desired_gen FROM hosts WHERE token_hash = $1";

static int unauthenticated(struct req *r, const char *why)
{
    http_add_header(r, "WWW-Authenticate", "Bearer realm=\"dbaas\"");
    return http_error(r, 401, "unauthenticated", NULL, "%s", why);
}

int auth_authenticate(struct req *r)
{
    const char *h = http_header(r, "Authorization");
    const char *token, *sql;
    char hash[65];
    enum role role;
    PGresult *res;
    int rc = -1;

    if (!h)
        return unauthenticated(r, "missing bearer token");
    if (strncasecmp(h, "Bearer ", 7) != 0)
        return unauthenticated(r, "the Authorization header must be \"Bearer <token>\"");
    token = h + 7;
    while (*token == ' ')
        token++;
    if (strncmp(token, TOKEN_PREFIX_OPERATOR, strlen(TOKEN_PREFIX_OPERATOR)) == 0) {
        sql = sql_operator;
        role = ROLE_OPERATOR;
    } else if (strncmp(token, TOKEN_PREFIX_TENANT, strlen(TOKEN_PREFIX_TENANT)) == 0) {
        sql = sql_tenant;
        role = ROLE_TENANT;
    } else if (strncmp(token, TOKEN_PREFIX_HOST, strlen(TOKEN_PREFIX_HOST)) == 0) {
        sql = sql_host;
        role = ROLE_HOST;
    } else {
        return unauthenticated(r, "invalid or revoked token");
    }
    crypto_sha256_hex(token, strlen(token), hash);
    res = dbq_ok(r, sql, hash);
    if (!res)
        return -1;
    if (PQntuples(res) != 1) {
        unauthenticated(r, "invalid or revoked token");
        goto out;
    }
    memset(&r->who, 0, sizeof(r->who));
    r->who.role = role;
    switch (role) {
    case ROLE_OPERATOR:
        snprintf(r->who.actor, sizeof(r->who.actor), "operator");
        break;
    case ROLE_TENANT:
        snprintf(r->who.tenant_id, sizeof(r->who.tenant_id), "%s", PQgetvalue(res, 0, 0));
        snprintf(r->who.tenant, sizeof(r->who.tenant), "%s", PQgetvalue(res, 0, 1));
        snprintf(r->who.actor, sizeof(r->who.actor), "tenant:%s", r->who.tenant);
        break;
    case ROLE_HOST:
        snprintf(r->who.host_id, sizeof(r->who.host_id), "%s", PQgetvalue(res, 0, 0));
        snprintf(r->who.host, sizeof(r->who.host), "%s", PQgetvalue(res, 0, 1));
        snprintf(r->who.actor, sizeof(r->who.actor), "host:%s", r->who.host);
        r->who.host_ready = PQgetvalue(res, 0, 2)[0] == 't';
        snprintf(r->who.host_desired_hash, sizeof(r->who.host_desired_hash), "%s",
                 PQgetvalue(res, 0, 3));
        r->who.host_desired_gen = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
        break;
    case ROLE_NONE:
        break;
    }
    rc = 0;
out:
    PQclear(res);
    return rc;
}
