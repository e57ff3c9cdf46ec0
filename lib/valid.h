/* Validation of names and identifiers that arrive in requests and on command lines (engine
 * names and versions: lib/catalog.h). */
#ifndef LIB_VALID_H
#define LIB_VALID_H

#include <stdbool.h>

/* ^[a-z][a-z0-9-]{0,62}$ : tenant, plan, host and instance names. */
bool valid_name(const char *s);

/* A canonical lowercase UUID (8-4-4-4-12 hex). Instance ids. */
bool valid_uuid(const char *s);

/* A token id: 1..64 characters of [A-Za-z0-9_-]. Also Idempotency-Key values: 1..255
 * printable ASCII characters, 0x20 (space) to 0x7e (valid_idempotency_key). */
bool valid_token_id(const char *s);
bool valid_idempotency_key(const char *s);

/* A host address: 1..253 characters of [A-Za-z0-9.:-] (a hostname, IPv4 or IPv6 literal).
 * Zone names have no function of their own: check them with valid_name. */
bool valid_address(const char *s);

#endif
