/* The one error type of the project: library-style modules fill a struct err instead of
 * logging, and the caller logs it or turns it into an HTTP error body.
 *
 * NOTES
 * - Every module names its codes in its own header as an enum whose values start at the
 *   module's base below (ISO_E_NOENT = ERR_BASE_ISO + 2, ...): codes never overlap, so a code
 *   alone tells which module set it (err_module()). 0 means no error.
 * - No call site passes a bare number: use a named code of the module that fills the error.
 * - Messages follow PostgreSQL's style guide: lowercase, no trailing period, names quoted. */
#ifndef LIB_ERR_H
#define LIB_ERR_H

/* The bases of the modules' code ranges (100 codes each). */
#define ERR_BASE_LIB 100    /* lib/: generic codes below, for the shared helpers */
#define ERR_BASE_ISO 200    /* isolation/ */
#define ERR_BASE_ENGINE 300 /* engines/ */
#define ERR_BASE_PLACE 400  /* scheduler/ */
#define ERR_BASE_STORE 500  /* store/ */
#define ERR_BASE_AGENT 600  /* agent/ */
#define ERR_BASE_API 700    /* api/ and control/ (dbaasd) */
#define ERR_BASE_CLI 800    /* cli/ */
#define ERR_BASE_HA 900     /* ha/ */

/* Codes of the shared library's own helpers (lib/). */
enum lib_errc {
    LIB_E_INVALID = ERR_BASE_LIB + 1, /* a malformed argument or file content */
    LIB_E_SYSTEM,                     /* an OS call failed; the message carries strerror */
    LIB_E_NOENT,                      /* a file, user or process does not exist */
    LIB_E_TOOL,                       /* a program run by a helper failed; carries its output */
    LIB_E_TIMEOUT,                    /* a deadline passed */
};

struct err {
    int code;      /* a module's named code; 0 = no error */
    char msg[512]; /* PostgreSQL style: lowercase, no trailing period */
};

/* Set code and a formatted message (e may be NULL: nothing is set); always returns -1 so callers
 * can "return err_set(...)". */
int err_set(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* No error; accepts NULL. */
void err_clear(struct err *e);
/* The name of the module whose range holds code ("isolation", "engine", ...; "none" for 0,
 * "unknown" outside every range). Static string. */
const char *err_module(int code);

#endif
