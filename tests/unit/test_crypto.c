/* Unit tests for lib/crypto: verifiers against vectors computed independently (Python hashlib and
 * hmac), tokens, passwords and base64url. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "lib/crypto.h"

/* Expected verifiers, from /usr/bin/python3:
 *   sp = hashlib.pbkdf2_hmac('sha256', pw, salt, it, 32)
 *   ck = hmac.new(sp, b'Client Key', sha256).digest(); sk = sha256(ck).digest()
 *   sv = hmac.new(sp, b'Server Key', sha256).digest()
 *   f"SCRAM-SHA-256${it}:{b64(salt)}${b64(sk)}:{b64(sv)}" */
static const char scram_pencil[] =
    "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$zHCdol2044/ZyWzPLi7oxApCkamKw9Z+E4U/QApd/5Y=:"
    "dd5peBOitVnLNFu7VmwP+HiDaaw4OUCv396eVCWhYiE=";
static const char scram_generated[] =
    "SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$2qJ8PLYb2sx62KIHf9WsSN3uA5opzgELWq5qOz/iCGk=:"
    "pGrhouQuioN93iogTLbY+YTG4tLdBzWcgscrFzwyH2c=";
static const char scram_one_iter_short_salt[] =
    "SCRAM-SHA-256$1://79/Ps=$zvB85oxetenKTJq8InfGvu9rPP5Jp0D/g5GxfTy9Lus=:"
    "Biq7GrtdMr9X51g4BNXyGXbZdqmROgzHJuKIM4U9GEw=";
/* A 100-character password: longer than the HMAC block, so the key is hashed first. */
static const char scram_long_password[] =
    "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$MMimjHzFsZsdetPTaXzBA7zwLpEUhXa+47oeY3/9DfQ=:"
    "c32woAZrLHqvUjuIfV3qWm1RRgJChQU50x5BA3lBjf8=";

static const unsigned char salt_0_15[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static bool all_in(const char *s, const char *alphabet)
{
    for (; *s; s++)
        if (!strchr(alphabet, *s))
            return false;
    return true;
}

static void test_scram_known_vectors(void **state)
{
    static const unsigned char salt_ff[5] = {0xff, 0xfe, 0xfd, 0xfc, 0xfb};
    char long_pw[101];
    char *v;

    (void)state;
    v = crypto_scram_verifier_salt("pencil", 4096, salt_0_15, sizeof(salt_0_15));
    assert_non_null(v);
    assert_string_equal(v, scram_pencil);
    free(v);

    v = crypto_scram_verifier_salt("Zk3pQ9xW2mB7nR4tY8uV1cD6fG5hJ0aL", CRYPTO_SCRAM_ITERATIONS,
                                   (const unsigned char *)"0123456789abcdef", 16);
    assert_non_null(v);
    assert_string_equal(v, scram_generated);
    free(v);

    v = crypto_scram_verifier_salt("pencil", 1, salt_ff, sizeof(salt_ff));
    assert_non_null(v);
    assert_string_equal(v, scram_one_iter_short_salt);
    free(v);

    memset(long_pw, 'a', 100);
    long_pw[100] = '\0';
    v = crypto_scram_verifier_salt(long_pw, 4096, salt_0_15, sizeof(salt_0_15));
    assert_non_null(v);
    assert_string_equal(v, scram_long_password);
    free(v);
}

/* Split "SCRAM-SHA-256$4096:<salt>$<stored>:<server>", check each part's shape and return the
 * decoded salt (16 bytes). */
static void check_scram_shape(const char *v, unsigned char salt[16])
{
    const char *prefix = "SCRAM-SHA-256$4096:";
    const char *std_b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
    char salt_b64[25], stored_b64[45], server_b64[45];
    unsigned char raw[48];
    const char *p;

    assert_int_equal(strncmp(v, prefix, strlen(prefix)), 0);
    p = v + strlen(prefix);
    /* 16-byte salt -> 24 characters; 32-byte keys -> 44 characters. */
    assert_int_equal(strlen(p), 24 + 1 + 44 + 1 + 44);
    assert_int_equal(p[24], '$');
    assert_int_equal(p[24 + 1 + 44], ':');
    memcpy(salt_b64, p, 24);
    salt_b64[24] = '\0';
    memcpy(stored_b64, p + 25, 44);
    stored_b64[44] = '\0';
    memcpy(server_b64, p + 25 + 44 + 1, 44);
    server_b64[44] = '\0';
    assert_true(all_in(salt_b64, std_b64));
    assert_true(all_in(stored_b64, std_b64));
    assert_true(all_in(server_b64, std_b64));
    assert_string_equal(salt_b64 + 22, "==");
    assert_int_equal(stored_b64[43], '=');
    assert_int_equal(server_b64[43], '=');
    assert_int_equal(EVP_DecodeBlock(raw, (const unsigned char *)salt_b64, 24), 18);
    memcpy(salt, raw, 16);
}

static void test_scram_random_salt(void **state)
{
    const char *pw = "Zk3pQ9xW2mB7nR4tY8uV1cD6fG5hJ0aL";
    unsigned char salt1[16], salt2[16];
    char *v1, *v2, *again;

    (void)state;
    v1 = crypto_scram_verifier(pw, CRYPTO_SCRAM_ITERATIONS);
    v2 = crypto_scram_verifier(pw, CRYPTO_SCRAM_ITERATIONS);
    assert_non_null(v1);
    assert_non_null(v2);
    assert_string_not_equal(v1, v2);
    check_scram_shape(v1, salt1);
    check_scram_shape(v2, salt2);
    assert_memory_not_equal(salt1, salt2, 16);

    /* The random-salt verifier is the fixed-salt one with the salt it chose. */
    again = crypto_scram_verifier_salt(pw, CRYPTO_SCRAM_ITERATIONS, salt1, sizeof(salt1));
    assert_non_null(again);
    assert_string_equal(again, v1);
    free(again);
    free(v1);
    free(v2);
}

static void test_scram_bad_input(void **state)
{
    (void)state;
    assert_null(crypto_scram_verifier(NULL, 4096));
    assert_null(crypto_scram_verifier("", 4096));
    assert_null(crypto_scram_verifier("pencil", 0));
    assert_null(crypto_scram_verifier("pencil", -4096));
    /* Non-ASCII would need SASLprep: refused rather than silently wrong. */
    assert_null(crypto_scram_verifier("p\xc3\xa9ncil", 4096));
    assert_null(crypto_scram_verifier("\x80", 4096));
    assert_null(crypto_scram_verifier_salt("pencil", 4096, NULL, 16));
    assert_null(crypto_scram_verifier_salt("pencil", 4096, salt_0_15, 0));
    assert_null(crypto_scram_verifier_salt(NULL, 4096, salt_0_15, 16));
}

static void test_mysql_native_hash(void **state)
{
    char *h;

    (void)state;
    h = crypto_mysql_native_hash("password");
    assert_non_null(h);
    assert_string_equal(h, "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19");
    free(h);

    h = crypto_mysql_native_hash("Zk3pQ9xW2mB7nR4tY8uV1cD6fG5hJ0aL");
    assert_non_null(h);
    assert_int_equal(strlen(h), 41);
    assert_int_equal(h[0], '*');
    assert_true(all_in(h + 1, "0123456789ABCDEF"));
    free(h);

    assert_null(crypto_mysql_native_hash(""));
    assert_null(crypto_mysql_native_hash(NULL));
}

static void test_redis_acl_hash(void **state)
{
    char *h;

    (void)state;
    h = crypto_redis_acl_hash("password");
    assert_non_null(h);
    assert_string_equal(h, "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8");
    free(h);

    h = crypto_redis_acl_hash("");
    assert_non_null(h);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    free(h);

    assert_null(crypto_redis_acl_hash(NULL));
}

static void test_sha256_hex(void **state)
{
    char out[65];

    (void)state;
    memset(out, 'x', sizeof(out));
    crypto_sha256_hex("abc", 3, out);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    crypto_sha256_hex("", 0, out);
    assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* Binary input with NUL bytes is hashed by length, not as a string. */
    crypto_sha256_hex("a\0b", 3, out);
    assert_string_not_equal(out,
                            "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb");
}

static void test_token_new(void **state)
{
    const char *b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char *raw;
    size_t len = 0;
    char *t1, *t2, *t3;

    (void)state;
    t1 = crypto_token_new("dbaas_tn_");
    t2 = crypto_token_new("dbaas_tn_");
    assert_non_null(t1);
    assert_non_null(t2);
    assert_int_equal(strlen(t1), strlen("dbaas_tn_") + 43);
    assert_int_equal(strncmp(t1, "dbaas_tn_", 9), 0);
    assert_true(all_in(t1 + 9, b64url));
    assert_string_not_equal(t1, t2);

    /* The body is 32 random bytes in canonical base64url. */
    raw = crypto_base64url_decode(t1 + 9, &len);
    assert_non_null(raw);
    assert_int_equal(len, 32);
    free(raw);

    t3 = crypto_token_new(NULL);
    assert_non_null(t3);
    assert_int_equal(strlen(t3), 43);
    assert_true(all_in(t3, b64url));
    free(t1);
    free(t2);
    free(t3);
}

static void test_password_new(void **state)
{
    const char *alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    int counts[256] = {0};
    char *p1, *p2, *big;
    size_t i;

    (void)state;
    p1 = crypto_password_new(32);
    p2 = crypto_password_new(32);
    assert_non_null(p1);
    assert_non_null(p2);
    assert_int_equal(strlen(p1), 32);
    assert_true(all_in(p1, alnum));
    assert_string_not_equal(p1, p2);
    free(p1);
    free(p2);

    p1 = crypto_password_new(0);
    assert_non_null(p1);
    assert_string_equal(p1, "");
    free(p1);
    p1 = crypto_password_new(1);
    assert_non_null(p1);
    assert_int_equal(strlen(p1), 1);
    free(p1);

    /* 62000 characters: every one of the 62 appears about 1000 times (sd ~31). A modulo bias
     * or a short alphabet would show far outside 800..1200. */
    big = crypto_password_new(62000);
    assert_non_null(big);
    assert_int_equal(strlen(big), 62000);
    assert_true(all_in(big, alnum));
    for (i = 0; i < 62000; i++)
        counts[(unsigned char)big[i]]++;
    for (i = 0; alnum[i]; i++) {
        assert_in_range(counts[(unsigned char)alnum[i]], 800, 1200);
    }
    free(big);
}

static void test_random(void **state)
{
    unsigned char a[32], b[32], zero[32] = {0};

    (void)state;
    assert_int_equal(crypto_random(a, 0), 0);
    assert_int_equal(crypto_random(a, sizeof(a)), 0);
    assert_int_equal(crypto_random(b, sizeof(b)), 0);
    assert_memory_not_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, zero, sizeof(a));
}

static void check_encode(const char *in, size_t n, const char *want)
{
    unsigned char *back;
    size_t len = 99;
    char *enc;

    enc = crypto_base64url_encode(in, n);
    assert_non_null(enc);
    assert_string_equal(enc, want);
    back = crypto_base64url_decode(enc, &len);
    assert_non_null(back);
    assert_int_equal(len, n);
    assert_memory_equal(back, in, n);
    assert_int_equal(back[n], '\0');
    free(back);
    free(enc);
}

static void test_base64url_vectors(void **state)
{
    (void)state;
    /* RFC 4648 section 10, without padding. */
    check_encode("", 0, "");
    check_encode("f", 1, "Zg");
    check_encode("fo", 2, "Zm8");
    check_encode("foo", 3, "Zm9v");
    check_encode("foob", 4, "Zm9vYg");
    check_encode("fooba", 5, "Zm9vYmE");
    check_encode("foobar", 6, "Zm9vYmFy");
    /* The two characters that differ from standard base64 ("+/8" there). */
    check_encode("\xfb\xff", 2, "-_8");
    check_encode("\0\0\0", 3, "AAAA");
    check_encode("\xff\xff\xff", 3, "____");
}

static void test_base64url_round_trip(void **state)
{
    unsigned char data[100], *back;
    size_t n, len;
    char *enc;

    (void)state;
    for (n = 0; n <= sizeof(data); n++) {
        assert_int_equal(crypto_random(data, n), 0);
        if (n > 2)
            data[1] = 0; /* embedded NUL bytes survive */
        enc = crypto_base64url_encode(data, n);
        assert_non_null(enc);
        assert_int_equal(strlen(enc), (4 * n + 2) / 3);
        len = 12345;
        back = crypto_base64url_decode(enc, &len);
        assert_non_null(back);
        assert_int_equal(len, n);
        assert_memory_equal(back, data, n);
        free(back);
        free(enc);
    }
}

static void test_base64url_rejects(void **state)
{
    static const char *const bad[] = {
        "Zg==",         /* padding */
        "Zm9vYg=",      /* padding */
        "Z",            /* 4k+1 characters */
        "Zm9vY",        /* 4k+1 characters */
        "Zh",           /* non-canonical: unused bits set */
        "Zm9",          /* non-canonical */
        "Zm9v!",        /* junk */
        "Zm 9v",        /* space */
        "Zm9v\n",       /* newline */
        "+/8",          /* standard base64 alphabet */
        "Zm9v\xc3\xa9", /* non-ASCII */
    };
    size_t i, len;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        len = 777;
        assert_null(crypto_base64url_decode(bad[i], &len));
        assert_int_equal(len, 777);
    }
    assert_null(crypto_base64url_decode(NULL, &len));
    assert_null(crypto_base64url_decode("Zm9v", NULL));
}

static void test_equal(void **state)
{
    (void)state;
    assert_true(crypto_equal("abc", "abc"));
    assert_true(crypto_equal("", ""));
    assert_false(crypto_equal("abc", "abd"));
    assert_false(crypto_equal("abc", "Abc"));
    assert_false(crypto_equal("abc", "abcd"));
    assert_false(crypto_equal("abcd", "abc"));
    assert_false(crypto_equal("", "a"));
    assert_false(crypto_equal(NULL, "a"));
    assert_false(crypto_equal("a", NULL));
    assert_false(crypto_equal(NULL, NULL));
}

/* RFC 4231, test cases 1 and 2. */
static void test_hmac_sha256(void **state)
{
    static const unsigned char want1[32] = {0xb0, 0x34, 0x4c, 0x61, 0xd8, 0xdb, 0x38, 0x53,
                                            0x5c, 0xa8, 0xaf, 0xce, 0xaf, 0x0b, 0xf1, 0x2b,
                                            0x88, 0x1d, 0xc2, 0x00, 0xc9, 0x83, 0x3d, 0xa7,
                                            0x26, 0xe9, 0x37, 0x6c, 0x2e, 0x32, 0xcf, 0xf7};
    static const unsigned char want2[32] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e,
                                            0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
                                            0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83,
                                            0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
    unsigned char key[20], out[32];

    (void)state;
    memset(key, 0x0b, sizeof(key));
    crypto_hmac_sha256(key, sizeof(key), "Hi There", 8, out);
    assert_memory_equal(out, want1, 32);
    crypto_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, out);
    assert_memory_equal(out, want2, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scram_known_vectors), cmocka_unit_test(test_hmac_sha256),
        cmocka_unit_test(test_scram_random_salt),   cmocka_unit_test(test_scram_bad_input),
        cmocka_unit_test(test_mysql_native_hash),   cmocka_unit_test(test_redis_acl_hash),
        cmocka_unit_test(test_sha256_hex),          cmocka_unit_test(test_token_new),
        cmocka_unit_test(test_password_new),        cmocka_unit_test(test_random),
        cmocka_unit_test(test_base64url_vectors),   cmocka_unit_test(test_base64url_round_trip),
        cmocka_unit_test(test_base64url_rejects),   cmocka_unit_test(test_equal),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
