/* Identity: who calls the API (a role and, for tenants and hosts, which one) from the bearer
 * token, whose SHA-256 is looked up in the store. A host token's row is kept in memory for at
 * most AUTH_HOST_CACHE_MS while no change of the host was notified (control/notify.h): a change
 * of what a host's row answers bumps that host (its desired members) or every host (its
 * deletion, its state, its token), in every dbaasd on the store. */
#ifndef API_AUTH_H
#define API_AUTH_H

#include <stdbool.h>

/* Token prefixes by kind. */
#define TOKEN_PREFIX_OPERATOR "dbaas_op_"
#define TOKEN_PREFIX_TENANT "dbaas_tn_"
#define TOKEN_PREFIX_HOST "dbaas_ag_"

#define AUTH_HOST_CACHE_MS 15000

enum role { ROLE_NONE = 0, ROLE_OPERATOR = 1, ROLE_TENANT = 2, ROLE_HOST = 4 };

/* Who is calling, from the bearer token. */
struct principal {
    enum role role;
    char tenant_id[24]; /* ROLE_TENANT: the tenant's id (decimal) and name */
    char tenant[64];
    char host_id[24]; /* ROLE_HOST */
    char host[64];
    char actor[80]; /* for events: "operator", "tenant:acme", "host:h1" */
    /* ROLE_HOST, as the store showed them when the token was checked: whether the host is
     * ready, the hash and generation of the last desired members answered */
    bool host_ready;
    char host_desired_hash[65];
    long long host_desired_gen;
    char token_hash[65]; /* ROLE_HOST: the SHA-256 of the token (auth_host_forget()) */
};

struct req; /* api/http.h */

/* Fill r->who from the Authorization header. 0, or -1 after replying 401 (or 503). */
int auth_authenticate(struct req *r) __attribute__((warn_unused_result));
/* The host's row that r's token was checked against changed (its state, its desired members'
 * hash): the next request with that token reads it again. */
void auth_host_forget(const struct req *r);

#endif
