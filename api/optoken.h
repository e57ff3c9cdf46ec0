/* The operator token: DATA/operator.token, made at the first start, and its rotation
 * (POST /v1/operator/token). Only its SHA-256 is in the store; a rotation revokes every other
 * operator token at once, in every dbaasd of the store. */
#ifndef API_OPTOKEN_H
#define API_OPTOKEN_H

#include "lib/err.h"

struct req;

/* At start (store ready): read DIR/operator.token, or make one (mode 0600, never logged) when
 * there is no file; make sure the store knows its hash. A token that a rotation revoked is not
 * made valid again: it is logged as an error, and the file is left for the operator to replace.
 * An unreadable file, or one without an operator token, is an error: never replaced silently.
 * 0 / -1 with e set. */
int optoken_init(const char *dir, struct err *e) __attribute__((warn_unused_result));

/* POST /v1/operator/token (operator): a new operator token, shown once; every other operator
 * token is revoked in the same statement; this dbaasd's DIR/operator.token gets the new one. */
void h_operator_token(struct req *r);

#endif
