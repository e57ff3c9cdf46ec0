/* Request bodies: the JSON body parsed into r->json, and its fields validated, with bad input
 * answered 4xx naming the field. */
#include "api/body.h"

#include <string.h>
#include <strings.h>

#include "lib/valid.h"

int body_parse(struct req *r, bool required)
{
    const char *ctype = http_header(r, "Content-Type");
    json_error_t jerr;

    if (r->body.len == 0 && !required) {
        r->json = json_object();
        return 0;
    }
    if (r->body.len > 0 || ctype) {
        size_t n = ctype ? strcspn(ctype, ";") : 0;
        while (n > 0 && ctype[n - 1] == ' ')
            n--;
        if (!ctype || n != strlen("application/json") ||
            strncasecmp(ctype, "application/json", n) != 0)
            return http_error(r, 415, "unsupported_media_type", NULL,
                              "the body must be application/json");
    }
    r->json = json_loadb(buf_str(&r->body), r->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!r->json)
        return http_error(r, 400, "invalid_json", NULL, "invalid JSON: %s", jerr.text);
    if (!json_is_object(r->json))
        return http_error(r, 400, "invalid_json", NULL, "the body must be a JSON object");
    return 0;
}

int body_allow(struct req *r, const char *const *allowed)
{
    const char *key;
    json_t *value;
    int i;

    json_object_foreach(r->json, key, value)
    {
        for (i = 0; allowed[i]; i++)
            if (strcmp(key, allowed[i]) == 0)
                break;
        if (!allowed[i])
            return http_error(r, 400, "invalid_field", key, "unknown field \"%s\"", key);
    }
    return 0;
}

int body_string(struct req *r, const char *key, bool required, size_t max_len,
                bool (*ok)(const char *), const char *what, const char **out)
{
    json_t *v = json_object_get(r->json, key);
    const char *s;

    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return http_error(r, 400, "invalid_field", key, "field \"%s\" is required", key);
        return 0;
    }
    if (!json_is_string(v))
        return http_error(r, 400, "invalid_field", key, "field \"%s\" must be a string", key);
    s = json_string_value(v);
    if (strlen(s) != json_string_length(v) || s[0] == '\0' || strlen(s) > max_len || (ok && !ok(s)))
        return http_error(r, 400, "invalid_field", key, "field \"%s\" must be %s", key, what);
    *out = s;
    return 0;
}

int body_name(struct req *r, const char *key, bool required, const char **out)
{
    return body_string(r, key, required, 63, valid_name, "a name matching ^[a-z][a-z0-9-]{0,62}$",
                       out);
}

int body_int(struct req *r, const char *key, bool required, bool nullable, int64_t min, int64_t max,
             int64_t *out, bool *is_null)
{
    json_t *v = json_object_get(r->json, key);
    json_int_t n;

    if (is_null)
        *is_null = false;
    if (!v || json_is_null(v)) {
        if (required && !(v && nullable))
            return http_error(r, 400, "invalid_field", key, "field \"%s\" is required", key);
        if (v && !nullable)
            return http_error(r, 400, "invalid_field", key, "field \"%s\" must be an integer", key);
        if (is_null && nullable)
            *is_null = true;
        return 0;
    }
    if (!json_is_integer(v))
        return http_error(r, 400, "invalid_field", key, "field \"%s\" must be an integer", key);
    n = json_integer_value(v);
    if (n < min || n > max)
        return http_error(r, 400, "invalid_field", key,
                          "field \"%s\" must be between %lld and %lld", key, (long long)min,
                          (long long)max);
    *out = n;
    return 0;
}

int body_bool(struct req *r, const char *key, bool *out)
{
    json_t *v = json_object_get(r->json, key);

    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return http_error(r, 400, "invalid_field", key, "field \"%s\" must be true or false", key);
    *out = json_is_true(v);
    return 0;
}
