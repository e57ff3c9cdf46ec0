/* Bearer-token authentication. Tokens are never stored or logged: only their SHA-256 is, and
 * each request looks the hash up, so that a revoked token fails on the very next request; a
 * host token's row is looked up again after AUTH_HOST_CACHE_MS or at once after a notified
 * change (api/auth.h), so that an idle heartbeat reads nothing from the store. A host's next
 * token (a rotation) replaces its current one at its first use, which notifies. */
#include "api/auth.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/dbq.h"
#include "api/http.h"
#include "control/notify.h"
#include "lib/clock.h"
#include "lib/crypto.h"
#include "lib/log.h"

static const char sql_operator[] =
    "SELECT 1 FROM api_tokens WHERE hash = $1 AND kind = 'operator' AND revoked_at IS NULL";
static const char sql_tenant[] =
    "SELECT t.id, t.name FROM api_tokens a JOIN tenants t ON t.id = a.tenant_id"
    " WHERE a.hash = $1 AND a.kind = 'tenant'";
/* A host also gets its state and the generation of its desired members (the heartbeat
 * handler's fast path, api/heartbeat.c), read in the same statement. Its current token or its
 * next one (a rotation, api/hosts.c) is accepted; column 5 says which. */
static const char sql_host[] = "SELECT id, name, state = 'ready', coalesce(desired_hash, ''),"
                               " desired_gen, token_hash_next IS NOT DISTINCT FROM $1"
                               " FROM hosts WHERE token_hash = $1 OR token_hash_next = $1";
/* The agent used its next token: it becomes the current one, and the old one stops working. */
static const char sql_host_token_switch[] =
    "WITH u AS (UPDATE hosts SET token_hash = token_hash_next, token_hash_next = NULL"
    "  WHERE id = $1::bigint AND token_hash_next = $2 RETURNING name)"
    " INSERT INTO events (actor, kind, message)"
    " SELECT 'host:' || name, 'host.token_rotated', format('host \"%s\" uses its new token; the"
    " old one no longer works', name) FROM u RETURNING id";

/* Host tokens checked recently: a direct-mapped table indexed by the token's hash (uniform), a
 * slot overwritten by the next token that maps to it. */
#define HOST_SLOTS 32768
struct host_slot {
    struct principal who; /* who.token_hash[0] == 0: empty */
    uint64_t gen;         /* notify_generation() before the row was read (control/notify.h) */
    int64_t at_ms;        /* when it was read */
};
static struct host_slot *host_slots;
static pthread_mutex_t host_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t host_slot_of(const char *hash)
{
    char head[9];

    memcpy(head, hash, 8);
    head[8] = '\0';
    return (size_t)strtoul(head, NULL, 16) % HOST_SLOTS;
}

/* The cached row of the host token hashing to hash, into who: true when fresh. */
static bool host_cached(const char *hash, struct principal *who)
{
    int64_t now = clock_now_ms();
    struct host_slot copy;
    const struct host_slot *s;
    bool hit = false;

    pthread_mutex_lock(&host_lock);
    if (host_slots) {
        s = &host_slots[host_slot_of(hash)];
        if (strcmp(s->who.token_hash, hash) == 0 && now >= s->at_ms &&
            now - s->at_ms < AUTH_HOST_CACHE_MS) {
            copy = *s;
            hit = true;
        }
    }
    pthread_mutex_unlock(&host_lock);
    /* and no change of the host was notified since the read */
    if (!hit || notify_host_generation(strtoll(copy.who.host_id, NULL, 10)) > copy.gen)
        return false;
    *who = copy.who;
    return true;
}

static void host_remember(const struct principal *who, uint64_t gen, int64_t at_ms)
{
    struct host_slot *s;

    pthread_mutex_lock(&host_lock);
    if (!host_slots)
        host_slots = calloc(HOST_SLOTS, sizeof(*host_slots));
    if (host_slots) {
        s = &host_slots[host_slot_of(who->token_hash)];
        s->who = *who;
        s->gen = gen;
        s->at_ms = at_ms;
    }
    pthread_mutex_unlock(&host_lock);
}

void auth_host_forget(const struct req *r)
{
    struct host_slot *s;

    if (r->who.role != ROLE_HOST || !r->who.token_hash[0])
        return;
    pthread_mutex_lock(&host_lock);
    if (host_slots) {
        s = &host_slots[host_slot_of(r->who.token_hash)];
        if (strcmp(s->who.token_hash, r->who.token_hash) == 0)
            memset(s, 0, sizeof(*s));
    }
    pthread_mutex_unlock(&host_lock);
}

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
    uint64_t gen = 0;
    int64_t at_ms = 0;
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
    if (role == ROLE_HOST) {
        if (host_cached(hash, &r->who))
            return 0;
        gen = notify_generation(); /* before the read: a change after it is not missed */
        at_ms = clock_now_ms();
    }
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
        snprintf(r->who.token_hash, sizeof(r->who.token_hash), "%s", hash);
        if (PQgetvalue(res, 0, 5)[0] == 't') {
            PQclear(res);
            if (!(res = dbq_ok(r, sql_host_token_switch, r->who.host_id, hash)))
                return -1;
            log_info("event=host_token_rotated host=%s", r->who.host);
            notify_bump(); /* every dbaasd drops the old token's cached row */
            break;
        }
        host_remember(&r->who, gen, at_ms);
        break;
    case ROLE_NONE:
        break;
    }
    rc = 0;
out:
    PQclear(res);
    return rc;
}
