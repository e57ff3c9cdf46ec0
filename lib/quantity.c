/* Parsing and formatting of resource quantities: CPU in millicores, sizes in MiB.
 * The grammar is deliberately small: ASCII digits, an optional "." fraction, an optional suffix;
 * no sign, no spaces, no exponent. Sizes are computed exactly (128-bit) and rounded up. */
#include "lib/quantity.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Most fraction digits accepted in a size ("1.123456789Gi"). */
#define SIZE_FRACTION_MAX 9

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Parse the run of digits at *p into *out (at most INT64_MAX) and advance *p past it.
 * Returns the number of digits, or -1 on overflow. Zero digits leaves *out = 0. */
static int scan_digits(const char **p, int64_t *out)
{
    const char *s = *p;
    int64_t v = 0;
    int n = 0;

    while (is_digit(*s)) {
        int d = *s - '0';

        if (v > (INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        s++;
        n++;
    }
    *p = s;
    *out = v;
    return n;
}

int quantity_parse_cpu(const char *s, int64_t *millis)
{
    const char *p = s;
    int64_t whole, frac = 0;
    int nd, i;

    if (!s || !millis)
        return -1;
    nd = scan_digits(&p, &whole);
    if (nd <= 0)
        return -1;
    if (*p == 'm') {
        if (p[1] != '\0')
            return -1;
        *millis = whole;
        return 0;
    }
    if (*p == '.') {
        p++;
        if (!is_digit(*p))
            return -1;
        /* Up to three digits are millicores; any further digit must be zero. */
        for (i = 0; is_digit(*p); i++, p++) {
            if (i < 3)
                frac = frac * 10 + (*p - '0');
            else if (*p != '0')
                return -1;
        }
        for (; i < 3; i++)
            frac *= 10;
    }
    if (*p != '\0')
        return -1;
    if (whole > (INT64_MAX - frac) / 1000)
        return -1;
    *millis = whole * 1000 + frac;
    return 0;
}

/* Bytes per unit of each suffix; "" is a plain number, which means MiB. */
static bool size_multiplier(const char *suffix, uint64_t *mult)
{
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {
        /* clang-format off */
        {"",   UINT64_C(1) << 20},
        {"Ki", UINT64_C(1) << 10},
        {"Mi", UINT64_C(1) << 20},
        {"Gi", UINT64_C(1) << 30},
        {"Ti", UINT64_C(1) << 40},
        {"K",  UINT64_C(1000)},
        {"M",  UINT64_C(1000000)},
        {"G",  UINT64_C(1000000000)},
        {"T",  UINT64_C(1000000000000)},
        /* clang-format on */
    };
    size_t i;

    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(suffix, units[i].suffix) == 0) {
            *mult = units[i].mult;
            return true;
        }
    }
    return false;
}

int quantity_parse_mb(const char *s, int64_t *mb)
{
    typedef unsigned __int128 u128;
    const char *p = s;
    int64_t whole, frac = 0;
    uint64_t mult, scale = 1;
    u128 num, den, res;
    int nd, nf = 0;

    if (!s || !mb)
        return -1;
    nd = scan_digits(&p, &whole);
    if (nd <= 0)
        return -1;
    if (*p == '.') {
        p++;
        nf = scan_digits(&p, &frac);
        if (nf <= 0 || nf > SIZE_FRACTION_MAX)
            return -1;
        while (nf-- > 0)
            scale *= 10;
    }
    if (!size_multiplier(p, &mult))
        return -1;
    /* A whole part above this overflows the int64 result anyway; at or below it the
     * numerator stays under 2^63 * 2^20 * 10^9 < 2^113, far inside 128 bits. */
    if ((u128)whole > ((u128)INT64_MAX << 20) / mult + 1)
        return -1;
    num = ((u128)whole * scale + (u128)frac) * mult;
    if (num == 0)
        return -1;
    den = (u128)scale << 20;
    res = (num + den - 1) / den;
    if (res > (u128)INT64_MAX)
        return -1;
    *mb = (int64_t)res;
    return 0;
}

/* Write into a caller buffer of n bytes; truncation is the documented behaviour. */
static void format_into(char *out, int n, int64_t v, const char *suffix)
{
    if (!out || n <= 0)
        return;
    (void)snprintf(out, (size_t)n, "%lld%s", (long long)v, suffix);
}

void quantity_format_cpu(int64_t millis, char *out, int n)
{
    if (millis % 1000 == 0)
        format_into(out, n, millis / 1000, "");
    else
        format_into(out, n, millis, "m");
}

void quantity_format_mb(int64_t mb, char *out, int n)
{
    const int64_t mib_per_tib = INT64_C(1) << 20;

    if (mb != 0 && mb % mib_per_tib == 0)
        format_into(out, n, mb / mib_per_tib, "Ti");
    else if (mb != 0 && mb % 1024 == 0)
        format_into(out, n, mb / 1024, "Gi");
    else
        format_into(out, n, mb, "Mi");
}
