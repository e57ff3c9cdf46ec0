/* Secrets: random tokens and passwords, token hashing, and the engines' password verifiers.
 * All built on OpenSSL's libcrypto. */
#ifndef LIB_CRYPTO_H
#define LIB_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

/* Number of PBKDF2 iterations in SCRAM verifiers (PostgreSQL's default). */
#define CRYPTO_SCRAM_ITERATIONS 4096

/* Fill buf with n cryptographically random bytes. 0 / -1. */
int crypto_random(void *buf, size_t n) __attribute__((warn_unused_result));

/* A new API token: prefix followed by 43 base64url characters (32 random bytes); a NULL prefix
 * means "". The caller frees it. NULL only if the random source fails. */
char *crypto_token_new(const char *prefix);

/* A new random password of len characters from [A-Za-z0-9] (unbiased). The caller frees it.
 * NULL only if the random source fails. */
char *crypto_password_new(size_t len);

/* Lowercase hex SHA-256 of data into out (65 bytes incl. NUL). Used to store API tokens. */
void crypto_sha256_hex(const void *data, size_t n, char out[65]);

/* PostgreSQL SCRAM-SHA-256 verifier for password, as accepted by CREATE ROLE ... PASSWORD:
 * "SCRAM-SHA-256$<iter>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>" (standard base64
 * with padding) with a random 16-byte salt. The password is used as its raw bytes, without
 * SASLprep; PostgreSQL's SASLprep leaves pure ASCII unchanged, so only ASCII passwords are
 * accepted (ours come from crypto_password_new). The caller frees it; NULL when the password is
 * NULL, empty or not ASCII, iterations < 1, or the random source fails. About 1 ms of CPU at
 * CRYPTO_SCRAM_ITERATIONS. */
char *crypto_scram_verifier(const char *password, int iterations);

/* Same with a caller-supplied salt (for tests against known vectors); NULL also for an empty
 * or NULL salt. */
char *crypto_scram_verifier_salt(const char *password, int iterations, const unsigned char *salt,
                                 size_t salt_len);

/* MySQL/MariaDB mysql_native_password hash: "*" + uppercase hex SHA1(SHA1(password)),
 * 41 characters. The caller frees it. NULL for a NULL or empty password (MariaDB stores an
 * empty password as an empty hash, which this format cannot express). */
char *crypto_mysql_native_hash(const char *password);

/* Redis ACL password hash: lowercase hex SHA-256 (64 chars), used as "#<hash>". Caller frees.
 * NULL only for a NULL password. */
char *crypto_redis_acl_hash(const char *password);

/* base64url without padding. The caller frees the result. */
char *crypto_base64url_encode(const void *data, size_t n);
/* Decode base64url without padding into a new buffer (NUL-terminated for convenience) and
 * set *out_len. NULL on invalid input: a character outside [A-Za-z0-9_-] (including "="),
 * a length of 4k+1, or non-zero unused bits in the last character (only the canonical encoding
 * is accepted). "" decodes to an empty buffer. The caller frees it. */
unsigned char *crypto_base64url_decode(const char *s, size_t *out_len);

/* HMAC-SHA256 of the n bytes of msg with key (klen bytes) into out. */
void crypto_hmac_sha256(const void *key, size_t klen, const void *msg, size_t n,
                        unsigned char out[32]);

/* Constant-time comparison of two equal-length strings. Strings of different lengths (the
 * length is not secret) and NULL compare unequal. */
bool crypto_equal(const char *a, const char *b);

#endif
