/* The audit log: every mutating call (POST, PUT, PATCH, DELETE) of an operator or a tenant,
 * recorded after its handler answered, and listed by operators (GET /v1/audit). */
#ifndef API_AUDIT_H
#define API_AUDIT_H

#include "lib/err.h"

struct req;

/* Start the writer thread (after store_init()); audit_stop() writes what waits and stops it
 * (after http_stop(): no call runs any more). */
int audit_start(struct err *e) __attribute__((warn_unused_result));
void audit_stop(void);

/* Record r (answered, not parked) when it is an authenticated mutating call of an operator or a
 * tenant: actor, tenant, action ("METHOD /route/{pattern}"), target (the path), the status, the
 * error code of a refusal and the id or name a POST's 201/202 answer created. Never a body, a token
 * or a password. Queued: written within AUDIT_FLUSH_MS (api/audit.c); a record that could not be
 * written is logged (event=audit_failed) with the same fields. */
void audit_record(struct req *r);

/* GET /v1/audit (operator): the records in order, paginated like the other lists; ?tenant=NAME
 * keeps one tenant's. */
void h_audit_list(struct req *r);

#endif
