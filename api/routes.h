/* The REST API's route table (api/routes.c): method, pattern, who may call, handler. */
#ifndef API_ROUTES_H
#define API_ROUTES_H

#include <stddef.h>

#include "api/http.h"
#include "api/router.h"

/* Handlers: one per route. They leave a reply in r, or park it (http_park). */
typedef void (*route_handler)(struct req *r);

struct route {
    struct route_entry entry;
    int roles; /* bit set of enum role allowed; 0 = no authentication */
    route_handler handler;
};

extern const struct route routes[];
extern const size_t routes_count;

#endif
