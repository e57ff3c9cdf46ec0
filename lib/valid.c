/* Validation of names and identifiers that arrive in requests and on command lines.
 * Pure functions over NUL-terminated strings; NULL is never valid. No locale is consulted:
 * every rule is spelled out in ASCII ranges. */
#include "lib/valid.h"

#include <stddef.h>
#include <string.h>

#define NAME_MAX_LEN 63
#define TOKEN_ID_MAX_LEN 64
#define IDEMPOTENCY_KEY_MAX_LEN 255
#define ADDRESS_MAX_LEN 253

static bool is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_lower_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f');
}

bool valid_name(const char *s)
{
    size_t i;

    if (!s || !is_lower(s[0]))
        return false;
    for (i = 1; s[i]; i++) {
        if (i >= NAME_MAX_LEN)
            return false;
        if (!is_lower(s[i]) && !is_digit(s[i]) && s[i] != '-')
            return false;
    }
    return true;
}

bool valid_uuid(const char *s)
{
    size_t i;

    if (!s)
        return false;
    for (i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;

        if (dash ? s[i] != '-' : !is_lower_hex(s[i]))
            return false; /* also stops at an early NUL */
    }
    return s[36] == '\0';
}

bool valid_token_id(const char *s)
{
    size_t i;

    if (!s || !s[0])
        return false;
    for (i = 0; s[i]; i++) {
        char c = s[i];

        if (i >= TOKEN_ID_MAX_LEN)
            return false;
        if (!is_lower(c) && !is_upper(c) && !is_digit(c) && c != '_' && c != '-')
            return false;
    }
    return true;
}

bool valid_idempotency_key(const char *s)
{
    size_t i;

    if (!s || !s[0])
        return false;
    for (i = 0; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];

        if (i >= IDEMPOTENCY_KEY_MAX_LEN)
            return false;
        if (c < 0x20 || c > 0x7e)
            return false;
    }
    return true;
}

bool valid_address(const char *s)
{
    size_t i;

    if (!s || !s[0])
        return false;
    for (i = 0; s[i]; i++) {
        char c = s[i];

        if (i >= ADDRESS_MAX_LEN)
            return false;
        if (!is_lower(c) && !is_upper(c) && !is_digit(c) && c != '.' && c != ':' && c != '-')
            return false;
    }
    return true;
}
