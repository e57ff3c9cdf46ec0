/* Client connection URIs (lib/connuri.h). */
#include "lib/connuri.h"

#include <string.h>

void connuri_escape(struct buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            buf_append(out, s, 1);
        } else {
            char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
            buf_append(out, enc, 3);
        }
    }
}

void connuri_build(struct buf *out, const struct catalog_engine *ce, const char *user,
                   const char *password, const struct connuri_host *hosts, int n,
                   enum connuri_target target)
{
    int i;

    buf_printf(out, "%s://", ce->uri_scheme);
    if (user) {
        connuri_escape(out, user);
        if (password) {
            buf_puts(out, ":");
            connuri_escape(out, password);
        }
        buf_puts(out, "@");
    }
    if (!ce->multi_host_uri && n > 1)
        n = 1;
    for (i = 0; i < n; i++) {
        const char *h = hosts[i].host ? hosts[i].host : "";

        if (strchr(h, ':'))
            buf_printf(out, "%s[%s]:%d", i ? "," : "", h, hosts[i].port);
        else
            buf_printf(out, "%s%s:%d", i ? "," : "", h, hosts[i].port);
    }
    if (ce->user_database && user) {
        buf_puts(out, "/");
        connuri_escape(out, user);
    }
    if (ce->multi_host_uri && target != CONNURI_ANY)
        buf_printf(out, "%starget_session_attrs=%s", ce->user_database && user ? "?" : "/?",
                   target == CONNURI_READ_WRITE ? "read-write" : "prefer-standby");
}
