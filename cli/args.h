/* Command-line parsing for dbaasctl: long options in any position, and parsers for the values
 * people type (integers, CPU and size quantities, byte rates). Pure functions; no output. */
#ifndef CLI_ARGS_H
#define CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/err.h"

/* Codes set in struct err by this module. */
enum args_errc {
    ARGS_E_USAGE = ERR_BASE_CLI + 1, /* a command line that does not fit the command */
    ARGS_E_TOKEN_FILE,               /* a token file that cannot be read or holds no token */
};

#define ARGS_MAX_POS 8
#define ARGS_MAX_OPTS 32

enum args_kind {
    ARGS_FLAG,  /* --json */
    ARGS_VALUE, /* --cpu 500m or --cpu=500m */
};

/* One accepted option. Tables of specs end with an entry whose name is NULL. */
struct args_spec {
    const char *name; /* long name without the leading "--" */
    enum args_kind kind;
    const char *metavar; /* for help: "Q", "N" (NULL for flags) */
    bool required;       /* checked by args_missing() */
    const char *help;    /* one line for --help */
};

/* The result of args_parse(). Strings point into argv or into the specs; nothing is owned. */
struct args {
    const char *pos[ARGS_MAX_POS];
    int npos;
    struct {
        const char *name;  /* the spec's name */
        const char *value; /* the option's argument; "" for a flag */
    } opts[ARGS_MAX_OPTS];
    int nopts;
};

/* Parse argv[0..argc) against the NULL-terminated list of spec tables. Options may come before,
 * between and after positional arguments; "--" ends the options; "-h" means "--help" when a
 * "help" spec exists. A repeated option keeps its last value. With stop_at_positional, parsing
 * stops at the first positional argument and *consumed says how many arguments were used;
 * otherwise *consumed (may be NULL) is argc. Returns 0, or -1 with e set for an unknown
 * option, a missing or unexpected option value, or too many positional arguments. */
int args_parse(struct args *a, const struct args_spec *const *tables, int argc, char **argv,
               bool stop_at_positional, int *consumed, struct err *e)
    __attribute__((warn_unused_result));

/* The value of option name ("" for a flag), or NULL when it was not given. */
const char *args_get(const struct args *a, const char *name);
bool args_has(const struct args *a, const char *name);

/* The first required option of the tables that a lacks, or NULL. */
const struct args_spec *args_missing(const struct args *a, const struct args_spec *const *tables);

/* A decimal integer in [min, max] (no sign, no spaces). 0 / -1. */
int args_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
    __attribute__((warn_unused_result));

/* A decimal number with at most three significant fraction digits ("2", "1.5", "0.125"; more
 * fraction digits only when they are zeros), as thousandths in [min, max]: "1.5" -> 1500. No sign,
 * exponent or spaces. 0 / -1. */
int args_parse_milli(const char *s, int64_t min, int64_t max, int64_t *out)
    __attribute__((warn_unused_result));

/* A byte rate in bytes/s: a plain integer, or an integer with a suffix K M G T (powers of 1000)
 * or Ki Mi Gi Ti (powers of 1024); "0" is allowed (0 = unlimited). 0 / -1. */
int args_parse_bps(const char *s, int64_t *out) __attribute__((warn_unused_result));

/* Format a byte rate the way args_parse_bps() reads it, choosing the largest exact suffix
 * (binary first): 10485760 -> "10Mi", 5000000 -> "5M", 1234 -> "1234". Always NUL-terminated. */
void args_format_bps(int64_t bps, char *out, size_t n);

/* Quota limits: like quantity_parse_cpu() / quantity_parse_mb(), but zero ("0", "0Mi") is
 * allowed. 0 / -1. */
int args_parse_cpu_limit(const char *s, int64_t *millis) __attribute__((warn_unused_result));
int args_parse_mb_limit(const char *s, int64_t *mb) __attribute__((warn_unused_result));

/* Whether s can go into an HTTP header value: 1..max characters of printable ASCII (0x20-0x7e).
 * Tokens and idempotency keys are checked with it. */
bool args_header_safe(const char *s, size_t max);

/* Read an API token from path: the file's content with leading and trailing whitespace removed.
 * Returns a new string the caller frees, or NULL with e set (unreadable, empty, larger than
 * 4 KiB, or containing characters that cannot go into a header). */
char *args_read_token_file(const char *path, struct err *e);

/* Append s to b percent-encoded for use as one URL path segment or query value: every byte but
 * [A-Za-z0-9_-] becomes %XX. */
void args_url_escape(struct buf *b, const char *s);

#endif
