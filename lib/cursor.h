/* Opaque pagination cursors: a list position (a row's sequence number) encoded so that clients
 * treat it as a token. Format: base64url("c1:" + decimal seq). */
#ifndef LIB_CURSOR_H
#define LIB_CURSOR_H

#include <stdint.h>

/* A new cursor string for position seq (> 0). The caller frees it. NULL when seq <= 0. */
char *cursor_encode(int64_t seq);

/* Decode a cursor into *seq. 0 on success, -1 when s is not a cursor this module made. */
int cursor_decode(const char *s, int64_t *seq) __attribute__((warn_unused_result));

/* Parse a ?limit= value: ASCII digits only (no sign or spaces), value 1..max. 0 / -1. */
int cursor_parse_limit(const char *s, int max, int *limit) __attribute__((warn_unused_result));

#endif
