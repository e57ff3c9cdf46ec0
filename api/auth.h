/* Bearer-token authentication: the token's SHA-256 is looked up in the store. */
#ifndef API_AUTH_H
#define API_AUTH_H

#include "api/http.h"

/* Token prefixes by kind. */
#define TOKEN_PREFIX_OPERATOR "dbaas_op_"
#define TOKEN_PREFIX_TENANT "dbaas_tn_"
#define TOKEN_PREFIX_HOST "dbaas_ag_"

/* Fill r->who from the Authorization header. 0, or -1 after replying 401 (or 503). */
int auth_authenticate(struct req *r) __attribute__((warn_unused_result));

#endif
