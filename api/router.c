/* Route matching for dbaasd's REST API. */
#include "api/router.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Whether path matches pattern; captures "{x}" segments into params. */
static bool match_path(const char *pattern, const char *path,
                       char params[ROUTER_MAX_PARAMS][ROUTER_PARAM_MAX])
{
    int np = 0;

    while (*pattern && *path) {
        if (*pattern != '/' || *path != '/')
            return false;
        pattern++;
        path++;
        if (*pattern == '{') {
            size_t len = strcspn(path, "/");
            if (len == 0 || len >= ROUTER_PARAM_MAX || np == ROUTER_MAX_PARAMS)
                return false;
            memcpy(params[np], path, len);
            params[np][len] = '\0';
            np++;
            path += len;
            pattern = strchr(pattern, '}');
            if (!pattern)
                return false;
            pattern++;
        } else {
            size_t plen = strcspn(pattern, "/");
            size_t len = strcspn(path, "/");
            if (plen != len || strncmp(pattern, path, len) != 0)
                return false;
            pattern += plen;
            path += len;
        }
    }
    return *pattern == '\0' && *path == '\0';
}

enum router_result router_match(const void *table, size_t n, size_t entry_size, const char *method,
                                const char *path, size_t *index,
                                char params[ROUTER_MAX_PARAMS][ROUTER_PARAM_MAX], char *allow,
                                size_t allow_size)
{
    char scratch[ROUTER_MAX_PARAMS][ROUTER_PARAM_MAX];
    bool path_known = false;
    size_t i, used = 0;

    if (allow_size)
        allow[0] = '\0';
    for (i = 0; i < n; i++) {
        const struct route_entry *r =
            (const struct route_entry *)(const void *)((const char *)table + i * entry_size);
        if (!match_path(r->pattern, path, scratch))
            continue;
        if (strcmp(r->method, method) == 0) {
            *index = i;
            memcpy(params, scratch, sizeof(scratch));
            return ROUTER_FOUND;
        }
        path_known = true;
        if (allow_size && !strstr(allow, r->method)) {
            int w = snprintf(allow + used, allow_size - used, "%s%s", used ? ", " : "", r->method);
            if (w > 0 && (size_t)w < allow_size - used)
                used += (size_t)w;
        }
    }
    return path_known ? ROUTER_BAD_METHOD : ROUTER_NOT_FOUND;
}
