/* Opaque pagination cursors (base64url of "c1:<seq>") and the ?limit= parser.
 * Decoding is strict: only the exact string cursor_encode would produce is accepted, so a cursor
 * cannot be forged by re-encoding, padding or leading zeros into a second spelling. */
#include "lib/cursor.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"

#define CURSOR_PREFIX "c1:"
/* "c1:" + 19 digits of INT64_MAX = 22 bytes -> 30 base64url characters. */
#define CURSOR_MAX_LEN 30

/* Parse a string of decimal digits only (no sign, no spaces) into *out, refusing overflow past
 * max. Leading zeros are allowed unless strict. */
static bool parse_digits(const char *s, size_t n, bool strict, int64_t max, int64_t *out)
{
    int64_t v = 0;
    size_t i;

    if (n == 0)
        return false;
    if (strict && n > 1 && s[0] == '0')
        return false;
    for (i = 0; i < n; i++) {
        int d;

        if (s[i] < '0' || s[i] > '9')
            return false;
        d = s[i] - '0';
        if (d > max || v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

char *cursor_encode(int64_t seq)
{
    char plain[32];
    int n;

    if (seq <= 0)
        return NULL;
    n = snprintf(plain, sizeof(plain), CURSOR_PREFIX "%lld", (long long)seq);
    if (n < 0 || (size_t)n >= sizeof(plain))
        return NULL;
    return crypto_base64url_encode(plain, (size_t)n);
}

int cursor_decode(const char *s, int64_t *seq)
{
    const size_t plen = sizeof(CURSOR_PREFIX) - 1;
    unsigned char *plain = NULL;
    size_t len = 0;
    int64_t v;
    int rc = -1;

    if (!s || !seq || strlen(s) > CURSOR_MAX_LEN)
        goto out;
    plain = crypto_base64url_decode(s, &len);
    if (!plain || len <= plen || memcmp(plain, CURSOR_PREFIX, plen) != 0)
        goto out;
    if (!parse_digits((const char *)plain + plen, len - plen, true, INT64_MAX, &v) || v <= 0)
        goto out;
    *seq = v;
    rc = 0;
out:
    free(plain);
    return rc;
}

int cursor_parse_limit(const char *s, int max, int *limit)
{
    int64_t v;

    if (!s || !limit || max < 1)
        return -1;
    if (!parse_digits(s, strlen(s), false, max, &v) || v < 1)
        return -1;
    *limit = (int)v;
    return 0;
}
