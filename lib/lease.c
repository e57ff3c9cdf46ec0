/* Lease datagrams: see lease.h. */
#include "lib/lease.h"

#include <string.h>

#include <openssl/crypto.h>

#include "lib/crypto.h"

static const unsigned char magic[4] = {'D', 'B', 'L', '1'};

static void put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t get_be(const unsigned char *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

void lease_encode(const struct lease_msg *m, const unsigned char key[LEASE_KEY_LEN],
                  unsigned char out[LEASE_MSG_LEN])
{
    memset(out, 0, LEASE_MSG_LEN);
    memcpy(out, magic, sizeof(magic));
    out[4] = (unsigned char)m->kind;
    put_be(out + 8, (uint64_t)m->host_id, 8);
    put_be(out + 16, m->seq, 8);
    put_be(out + 24, m->ttl_ms, 4);
    crypto_hmac_sha256(key, LEASE_KEY_LEN, out, 32, out + 32);
}

int lease_peek(const unsigned char *buf, size_t n, struct lease_msg *out)
{
    static const unsigned char zero[4] = {0};

    if (n != LEASE_MSG_LEN || memcmp(buf, magic, sizeof(magic)) != 0 ||
        (buf[4] != LEASE_RENEW && buf[4] != LEASE_GRANT) || memcmp(buf + 5, zero, 3) != 0 ||
        memcmp(buf + 28, zero, 4) != 0)
        return -1;
    out->kind = (enum lease_kind)buf[4];
    out->host_id = (int64_t)get_be(buf + 8, 8);
    out->seq = get_be(buf + 16, 8);
    out->ttl_ms = (uint32_t)get_be(buf + 24, 4);
    return out->host_id > 0 ? 0 : -1;
}

int lease_decode(const unsigned char *buf, size_t n, const unsigned char key[LEASE_KEY_LEN],
                 struct lease_msg *out)
{
    unsigned char mac[32];

    if (lease_peek(buf, n, out) < 0)
        return -1;
    crypto_hmac_sha256(key, LEASE_KEY_LEN, buf, 32, mac);
    return CRYPTO_memcmp(mac, buf + 32, sizeof(mac)) == 0 ? 0 : -1;
}

uint32_t lease_grant_ttl(uint32_t ttl_ms, uint32_t margin_ms, int64_t unrecorded_ms)
{
    int64_t left;

    if (unrecorded_ms < 0)
        unrecorded_ms = 0;
    left = (int64_t)ttl_ms + margin_ms - unrecorded_ms - LEASE_GRANT_SLACK_MS;
    if (left <= 0)
        return 0;
    return left < (int64_t)ttl_ms ? (uint32_t)left : ttl_ms;
}
