/* Request bodies: parse the JSON body and validate its fields. Each helper answers bad input
 * itself (4xx naming the field) and returns -1, so that a handler chains them with ||. */
#ifndef API_BODY_H
#define API_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/http.h"

/* Parse the body as a JSON object into r->json. An empty body counts as {} when !required.
 * Replies 415 (not application/json), 400 invalid_json (not a JSON object) and returns -1. */
int body_parse(struct req *r, bool required) __attribute__((warn_unused_result));

/* Reject fields of r->json not in allowed (NULL-terminated): 400 invalid_field. 0 / -1. */
int body_allow(struct req *r, const char *const *allowed) __attribute__((warn_unused_result));
/* A string field matching valid_name. *out NULL when absent and !required. 0 / -1 (replied). */
int body_name(struct req *r, const char *key, bool required, const char **out)
    __attribute__((warn_unused_result));
/* A string field of 1..max_len characters, checked by ok() if given. 0 / -1 (replied). */
int body_string(struct req *r, const char *key, bool required, size_t max_len,
                bool (*ok)(const char *), const char *what, const char **out)
    __attribute__((warn_unused_result));
/* An integer field in [min, max]. When nullable, JSON null (or absent, if !required) sets
 * *is_null. When absent and !required and !nullable, *out keeps its default. 0 / -1 (replied). */
int body_int(struct req *r, const char *key, bool required, bool nullable, int64_t min, int64_t max,
             int64_t *out, bool *is_null) __attribute__((warn_unused_result));

/* An optional boolean field: *out keeps its default when absent. 0 / -1 (replied 400). */
int body_bool(struct req *r, const char *key, bool *out) __attribute__((warn_unused_result));

#endif
