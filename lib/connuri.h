/* Client connection URIs of an instance (docs/api.md, "endpoints" and "credentials"):
 *   postgresql://app:PW@10.0.0.1:20000,10.0.0.2:20000/app?target_session_attrs=read-write
 *   mysql://app:PW@10.0.0.1:20000/app        redis://app:PW@10.0.0.1:20000
 * What differs between engines comes from the catalogue (lib/catalog.h: uri_scheme,
 * user_database, multi_host_uri). Pure: no I/O. */
#ifndef LIB_CONNURI_H
#define LIB_CONNURI_H

#include "lib/buf.h"
#include "lib/catalog.h"

/* One member's address (borrowed). */
struct connuri_host {
    const char *host; /* a numeric address or a name; an IPv6 address is put in brackets */
    int port;
};

/* Which member a multi-host client connects to. */
enum connuri_target {
    CONNURI_ANY,            /* no preference (no target_session_attrs) */
    CONNURI_READ_WRITE,     /* the primary: target_session_attrs=read-write */
    CONNURI_PREFER_STANDBY, /* a replica if one answers: target_session_attrs=prefer-standby */
};

/* Append to out the URI of an instance of engine ce for user, with password (NULL: none) and
 * the members' addresses hosts[0 .. n) (the primary first; n may be 0: no host part). Engines
 * whose clients take several hosts get all of them and target; the others get hosts[0] only and
 * no option. The user, the password and the database (the user's name, on engines with
 * user_database) are percent-encoded. */
void connuri_build(struct buf *out, const struct catalog_engine *ce, const char *user,
                   const char *password, const struct connuri_host *hosts, int n,
                   enum connuri_target target);

/* Append s percent-encoded for a URI's user information or path: every byte but the
 * unreserved characters [A-Za-z0-9-._~] becomes %XX. */
void connuri_escape(struct buf *out, const char *s);

#endif
