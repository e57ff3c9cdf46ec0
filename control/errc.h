/* The error codes of dbaasd's own modules: api/ and control/ share the range ERR_BASE_API
 * (lib/err.h). The header lives in control/ because api/ may include control/, never the
 * reverse. Codes from store/ (enum store_errc) pass through unchanged. */
#ifndef CONTROL_ERRC_H
#define CONTROL_ERRC_H

#include "lib/err.h"

/* Values of struct err.code set by api/ and control/. */
enum api_errc {
    API_E_INVALID = ERR_BASE_API + 1, /* a malformed option or file: listen address, token file */
    API_E_SYSTEM, /* an OS call failed: listening, threads, files; the message carries strerror */
    API_E_STORE,  /* the store answered a statement with an error; carries the store's text */
    API_E_PLACE,  /* the scheduler library refused: the cluster view, a host, no free port */
};

#endif
