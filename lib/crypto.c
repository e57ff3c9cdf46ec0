/* Secrets on top of OpenSSL's libcrypto: random tokens and passwords, token hashing, base64url,
 * and the password verifiers that PostgreSQL (SCRAM-SHA-256), MariaDB (mysql_native_password)
 * and Redis (ACL "#<sha256>") store in place of a password.
 *
 * NOTES: every function is thread-safe (OpenSSL 3 needs no locking setup). Nothing logs; the
 * only failures are a failing random source or invalid input, reported as NULL / -1. Memory comes
 * from xmalloc (aborts on out-of-memory); intermediate key material is wiped with
 * OPENSSL_cleanse before returning. */
#include "lib/crypto.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The SHA256_* functions (deprecated in OpenSSL 3, still supported) let PBKDF2 reuse the HMAC
 * key's inner and outer states; the EVP path re-creates them at every iteration. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "lib/xalloc.h"

#define SCRAM_KEY_LEN SHA256_DIGEST_LENGTH
#define SCRAM_SALT_LEN 16
#define TOKEN_RANDOM_BYTES 32

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char alnum_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

int crypto_random(void *buf, size_t n)
{
    unsigned char *p = buf;

    /* RAND_bytes takes an int length: feed it in chunks. */
    while (n > 0) {
        int chunk = n > (size_t)INT_MAX ? INT_MAX : (int)n;

        if (RAND_bytes(p, chunk) != 1)
            return -1;
        p += chunk;
        n -= (size_t)chunk;
    }
    return 0;
}

char *crypto_token_new(const char *prefix)
{
    unsigned char raw[TOKEN_RANDOM_BYTES];
    char *body = NULL;
    char *token = NULL;
    size_t plen, blen;

    if (!prefix)
        prefix = "";
    if (crypto_random(raw, sizeof(raw)) < 0)
        goto out;
    body = crypto_base64url_encode(raw, sizeof(raw));
    plen = strlen(prefix);
    blen = strlen(body);
    token = xmalloc(plen + blen + 1);
    memcpy(token, prefix, plen);
    memcpy(token + plen, body, blen + 1);
out:
    OPENSSL_cleanse(raw, sizeof(raw));
    if (body) {
        OPENSSL_cleanse(body, strlen(body));
        free(body);
    }
    return token;
}

char *crypto_password_new(size_t len)
{
    /* 62 * 4 = 248: bytes >= 248 are rejected so that each character is uniform over 62. */
    enum { ACCEPT_BELOW = 248 };
    unsigned char pool[64];
    size_t used = sizeof(pool); /* the pool starts empty */
    char *pw = NULL;
    size_t i = 0;

    if (len == SIZE_MAX)
        goto fail;
    pw = xmalloc(len + 1);
    while (i < len) {
        if (used == sizeof(pool)) {
            if (crypto_random(pool, sizeof(pool)) < 0)
                goto fail;
            used = 0;
        }
        if (pool[used] < ACCEPT_BELOW)
            pw[i++] = alnum_alphabet[pool[used] % 62];
        used++;
    }
    pw[len] = '\0';
    OPENSSL_cleanse(pool, sizeof(pool));
    return pw;
fail:
    if (pw) {
        OPENSSL_cleanse(pw, i);
        free(pw);
    }
    OPENSSL_cleanse(pool, sizeof(pool));
    return NULL;
}

static void hex_encode(const unsigned char *in, size_t n, char *out, bool upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

void crypto_sha256_hex(const void *data, size_t n, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];

    SHA256(data, n, md);
    hex_encode(md, sizeof(md), out, false);
}

/* Standard base64 with '=' padding (RFC 4648 section 4), as PostgreSQL's pg_b64_encode writes
 * it inside SCRAM secrets. The caller frees the result. */
static char *base64_std_encode(const unsigned char *in, size_t n)
{
    char *out;

    /* Our inputs are salts and 32-byte keys; EVP_EncodeBlock takes an int length. */
    if (n > 1024)
        return NULL;
    out = xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    return out;
}

static bool password_is_ascii(const char *password)
{
    const unsigned char *p;

    for (p = (const unsigned char *)password; *p; p++)
        if (*p >= 0x80)
            return false;
    return true;
}

/* PBKDF2-HMAC-SHA256 for one 32-byte block, all SCRAM needs. The HMAC key's inner and outer
 * hash states are computed once instead of at each of the iterations: about 2.3 times faster
 * than PKCS5_PBKDF2_HMAC with the same output (the test vectors check it). 0 / -1. */
static int pbkdf2_sha256_block(const char *pw, size_t pwlen, const unsigned char *salt,
                               size_t salt_len, int iterations, unsigned char out[SCRAM_KEY_LEN])
{
    static const unsigned char block_index[4] = {0, 0, 0, 1};
    unsigned char key[SHA256_CBLOCK], pad[SHA256_CBLOCK], u[SCRAM_KEY_LEN];
    SHA256_CTX inner, outer, c;
    int i, k, rc = -1;

    memset(key, 0, sizeof(key));
    if (pwlen > sizeof(key)) {
        if (!SHA256((const unsigned char *)pw, pwlen, key))
            goto out;
    } else {
        memcpy(key, pw, pwlen);
    }
    for (i = 0; i < SHA256_CBLOCK; i++)
        pad[i] = key[i] ^ 0x36;
    if (!SHA256_Init(&inner) || !SHA256_Update(&inner, pad, sizeof(pad)))
        goto out;
    for (i = 0; i < SHA256_CBLOCK; i++)
        pad[i] = key[i] ^ 0x5c;
    if (!SHA256_Init(&outer) || !SHA256_Update(&outer, pad, sizeof(pad)))
        goto out;
    /* U1 = HMAC(P, salt || INT(1)); Uk = HMAC(P, Uk-1); out = U1 ^ U2 ^ ... */
    c = inner;
    SHA256_Update(&c, salt, salt_len);
    SHA256_Update(&c, block_index, sizeof(block_index));
    SHA256_Final(u, &c);
    c = outer;
    SHA256_Update(&c, u, sizeof(u));
    SHA256_Final(u, &c);
    memcpy(out, u, sizeof(u));
    for (k = 1; k < iterations; k++) {
        c = inner;
        SHA256_Update(&c, u, sizeof(u));
        SHA256_Final(u, &c);
        c = outer;
        SHA256_Update(&c, u, sizeof(u));
        SHA256_Final(u, &c);
        for (i = 0; i < SCRAM_KEY_LEN; i++)
            out[i] ^= u[i];
    }
    rc = 0;
out:
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(pad, sizeof(pad));
    OPENSSL_cleanse(u, sizeof(u));
    OPENSSL_cleanse(&inner, sizeof(inner));
    OPENSSL_cleanse(&outer, sizeof(outer));
    OPENSSL_cleanse(&c, sizeof(c));
    return rc;
}

char *crypto_scram_verifier_salt(const char *password, int iterations, const unsigned char *salt,
                                 size_t salt_len)
{
    static const char client_key_label[] = "Client Key";
    static const char server_key_label[] = "Server Key";
    unsigned char salted[SCRAM_KEY_LEN];
    unsigned char client_key[SCRAM_KEY_LEN];
    unsigned char stored_key[SCRAM_KEY_LEN];
    unsigned char server_key[SCRAM_KEY_LEN];
    unsigned int mdlen;
    char *salt_b64 = NULL;
    char *stored_b64 = NULL;
    char *server_b64 = NULL;
    char *result = NULL;
    size_t pwlen;

    if (!password || !salt || salt_len == 0 || iterations < 1)
        goto out;
    pwlen = strlen(password);
    /* PostgreSQL refuses empty passwords at login; non-ASCII ones would need SASLprep. */
    if (pwlen == 0 || pwlen > INT_MAX || salt_len > INT_MAX || !password_is_ascii(password))
        goto out;

    if (pbkdf2_sha256_block(password, pwlen, salt, salt_len, iterations, salted) < 0)
        goto out;
    mdlen = 0;
    if (!HMAC(EVP_sha256(), salted, SCRAM_KEY_LEN, (const unsigned char *)client_key_label,
              sizeof(client_key_label) - 1, client_key, &mdlen) ||
        mdlen != SCRAM_KEY_LEN)
        goto out;
    SHA256(client_key, SCRAM_KEY_LEN, stored_key);
    mdlen = 0;
    if (!HMAC(EVP_sha256(), salted, SCRAM_KEY_LEN, (const unsigned char *)server_key_label,
              sizeof(server_key_label) - 1, server_key, &mdlen) ||
        mdlen != SCRAM_KEY_LEN)
        goto out;

    salt_b64 = base64_std_encode(salt, salt_len);
    stored_b64 = base64_std_encode(stored_key, SCRAM_KEY_LEN);
    server_b64 = base64_std_encode(server_key, SCRAM_KEY_LEN);
    if (!salt_b64 || !stored_b64 || !server_b64)
        goto out;
    result = xasprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, salt_b64, stored_b64, server_b64);
out:
    OPENSSL_cleanse(salted, sizeof(salted));
    OPENSSL_cleanse(client_key, sizeof(client_key));
    free(salt_b64);
    free(stored_b64);
    free(server_b64);
    return result;
}

char *crypto_scram_verifier(const char *password, int iterations)
{
    unsigned char salt[SCRAM_SALT_LEN];

    if (crypto_random(salt, sizeof(salt)) < 0)
        return NULL;
    return crypto_scram_verifier_salt(password, iterations, salt, sizeof(salt));
}

char *crypto_mysql_native_hash(const char *password)
{
    unsigned char stage1[SHA_DIGEST_LENGTH];
    unsigned char stage2[SHA_DIGEST_LENGTH];
    char *out = NULL;

    /* An empty password has the empty hash in MariaDB, not "*" + hex: refuse it. */
    if (!password || !*password)
        goto out;
    SHA1((const unsigned char *)password, strlen(password), stage1);
    SHA1(stage1, sizeof(stage1), stage2);
    out = xmalloc(1 + 2 * SHA_DIGEST_LENGTH + 1);
    out[0] = '*';
    hex_encode(stage2, sizeof(stage2), out + 1, true);
out:
    OPENSSL_cleanse(stage1, sizeof(stage1));
    return out;
}

char *crypto_redis_acl_hash(const char *password)
{
    char *out;

    if (!password)
        return NULL;
    out = xmalloc(65);
    crypto_sha256_hex(password, strlen(password), out);
    return out;
}

char *crypto_base64url_encode(const void *data, size_t n)
{
    const unsigned char *in = data;
    char *out;
    size_t i, o = 0;

    if (n > (SIZE_MAX - 4) / 4 * 3)
        return NULL;
    out = xmalloc((n / 3) * 4 + 4 + 1);
    for (i = 0; i + 3 <= n; i += 3) {
        unsigned long v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8 | in[i + 2];

        out[o++] = b64url_alphabet[(v >> 18) & 0x3f];
        out[o++] = b64url_alphabet[(v >> 12) & 0x3f];
        out[o++] = b64url_alphabet[(v >> 6) & 0x3f];
        out[o++] = b64url_alphabet[v & 0x3f];
    }
    if (n - i == 1) {
        unsigned long v = (unsigned long)in[i] << 16;

        out[o++] = b64url_alphabet[(v >> 18) & 0x3f];
        out[o++] = b64url_alphabet[(v >> 12) & 0x3f];
    } else if (n - i == 2) {
        unsigned long v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8;

        out[o++] = b64url_alphabet[(v >> 18) & 0x3f];
        out[o++] = b64url_alphabet[(v >> 12) & 0x3f];
        out[o++] = b64url_alphabet[(v >> 6) & 0x3f];
    }
    out[o] = '\0';
    return out;
}

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

unsigned char *crypto_base64url_decode(const char *s, size_t *out_len)
{
    unsigned char *out = NULL;
    unsigned long acc = 0;
    size_t len, i, o = 0;
    int bits = 0;

    if (!s || !out_len)
        goto fail;
    len = strlen(s);
    /* One leftover character carries only 6 bits: never a whole byte. */
    if (len % 4 == 1)
        goto fail;
    out = xmalloc(len / 4 * 3 + 3 + 1);
    for (i = 0; i < len; i++) {
        int v = b64url_value((unsigned char)s[i]);

        if (v < 0)
            goto fail;
        acc = (acc << 6 | (unsigned long)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    /* Canonical form only: the unused low bits of the last character must be zero, so every
     * byte string has exactly one encoding. */
    if (bits > 0 && (acc & ((1UL << bits) - 1)) != 0)
        goto fail;
    out[o] = '\0';
    *out_len = o;
    return out;
fail:
    free(out);
    return NULL;
}

bool crypto_equal(const char *a, const char *b)
{
    size_t n;

    if (!a || !b)
        return false;
    n = strlen(a);
    if (n != strlen(b))
        return false;
    return CRYPTO_memcmp(a, b, n) == 0;
}

void crypto_hmac_sha256(const void *key, size_t klen, const void *msg, size_t n,
                        unsigned char out[32])
{
    unsigned int len = 0;

    HMAC(EVP_sha256(), key, (int)klen, msg, n, out, &len);
}
