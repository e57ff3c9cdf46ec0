/* The seed protocol's handshake (agent/seedproto.h). */
#include "agent/seedproto.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/agent.h"
#include "lib/clock.h"
#include "lib/crypto.h"

static void put_be64(unsigned char *p, int64_t v)
{
    for (int i = 7; i >= 0; i--, v = (int64_t)((uint64_t)v >> 8))
        p[i] = (unsigned char)(v & 0xff);
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static bool from_hex(const char *s, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned int v;
        if (!s[2 * i] || !s[2 * i + 1] || sscanf(s + 2 * i, "%2x", &v) != 1 ||
            !strchr("0123456789abcdefABCDEF", s[2 * i]) ||
            !strchr("0123456789abcdefABCDEF", s[2 * i + 1]))
            return false;
        out[i] = (unsigned char)v;
    }
    return s[2 * n] == '\0';
}

void seedproto_mac(const char *secret, const unsigned char nonce[SEEDPROTO_NONCE_LEN],
                   int64_t primary, int64_t replica, char hex[SEEDPROTO_MAC_HEX + 1])
{
    unsigned char msg[SEEDPROTO_NONCE_LEN + 16], mac[32];

    memcpy(msg, nonce, SEEDPROTO_NONCE_LEN);
    put_be64(msg + SEEDPROTO_NONCE_LEN, primary);
    put_be64(msg + SEEDPROTO_NONCE_LEN + 8, replica);
    crypto_hmac_sha256(secret, strlen(secret), msg, sizeof(msg), mac);
    to_hex(mac, sizeof(mac), hex);
    explicit_bzero(mac, sizeof(mac));
}

/* Wait for events on fd until deadline: 1 ready, 0 timed out, -1 error (errno). */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p = {fd, events, 0};
        int64_t left = deadline - clock_now_ms();
        int r;
        if (left <= 0)
            return 0;
        r = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

/* wait_fd() with its failures as errors: 0 when ready, -1 with e set. */
static int wait_ready(int fd, short events, int64_t deadline, int timeout_ms, struct err *e)
{
    int r = wait_fd(fd, events, deadline);

    if (r == 0)
        return err_set(e, AGENT_E_SEED, "timed out after %d ms %s the peer", timeout_ms,
                       events == POLLIN ? "waiting for" : "writing to");
    if (r < 0)
        return err_set(e, AGENT_E_SEED, "could not wait for the peer: %s", strerror(errno));
    return 0;
}

int seedproto_read_line(int fd, char *buf, size_t n, int timeout_ms, struct err *e)
{
    int64_t deadline = clock_now_ms() + timeout_ms;
    size_t len = 0;

    for (;;) {
        char c;
        ssize_t r;
        if (wait_ready(fd, POLLIN, deadline, timeout_ms, e) < 0)
            return -1;
        r = recv(fd, &c, 1, MSG_DONTWAIT);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r < 0)
            return err_set(e, AGENT_E_SEED, "could not read from the peer: %s", strerror(errno));
        if (r == 0)
            return err_set(e, AGENT_E_SEED, "the peer closed the connection");
        if (c == '\n')
            break;
        if (len + 1 >= n)
            return err_set(e, AGENT_E_SEED, "the peer sent a line longer than %zu bytes", n - 1);
        buf[len++] = c;
    }
    buf[len] = '\0';
    return 0;
}

int seedproto_write_all(int fd, const void *buf, size_t n, int timeout_ms, struct err *e)
{
    int64_t deadline = clock_now_ms() + timeout_ms;
    const char *p = buf;

    while (n > 0) {
        ssize_t w;
        if (wait_ready(fd, POLLOUT, deadline, timeout_ms, e) < 0)
            return -1;
        w = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (w < 0)
            return err_set(e, AGENT_E_SEED, "could not write to the peer: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int seedproto_client(int fd, const char *secret, int64_t primary, int64_t replica, int timeout_ms,
                     struct err *e)
{
    char line[SEEDPROTO_LINE_MAX], mac[SEEDPROTO_MAC_HEX + 1];
    unsigned char nonce[SEEDPROTO_NONCE_LEN];
    int n, rc = -1;

    if (seedproto_read_line(fd, line, sizeof(line), timeout_ms, e) < 0)
        goto out;
    if (strncmp(line, SEEDPROTO_GREETING " ", sizeof(SEEDPROTO_GREETING)) != 0 ||
        !from_hex(line + sizeof(SEEDPROTO_GREETING), nonce, sizeof(nonce))) {
        err_set(e, AGENT_E_SEED, "the peer is not a seed server (greeting \"%.40s\")", line);
        goto out;
    }
    seedproto_mac(secret, nonce, primary, replica, mac);
    n = snprintf(line, sizeof(line), "%" PRId64 " %" PRId64 " %s\n", primary, replica, mac);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        err_set(e, AGENT_E_SEED, "could not format the answer");
        goto out;
    }
    if (seedproto_write_all(fd, line, (size_t)n, timeout_ms, e) < 0 ||
        seedproto_read_line(fd, line, sizeof(line), timeout_ms, e) < 0)
        goto out;
    if (strcmp(line, "OK") != 0) {
        err_set(e, AGENT_E_DENIED, "the seed server refused: %.200s",
                strncmp(line, "ERR ", 4) == 0 ? line + 4 : line);
        goto out;
    }
    rc = 0;
out:
    explicit_bzero(mac, sizeof(mac));
    return rc;
}

int seedproto_server(int fd, seedproto_lookup_fn lookup, void *arg, int timeout_ms,
                     int64_t *primary, int64_t *replica, struct err *e)
{
    char line[SEEDPROTO_LINE_MAX], hex[SEEDPROTO_NONCE_LEN * 2 + 1], got[SEEDPROTO_MAC_HEX + 1],
        want[SEEDPROTO_MAC_HEX + 1];
    unsigned char nonce[SEEDPROTO_NONCE_LEN];
    char *secret = NULL;
    long long p, r;
    int n, rc = -1;

    got[0] = want[0] = '\0';
    if (crypto_random(nonce, sizeof(nonce)) < 0) {
        err_set(e, AGENT_E_SYSTEM, "could not draw a nonce");
        goto out;
    }
    to_hex(nonce, sizeof(nonce), hex);
    n = snprintf(line, sizeof(line), "%s %s\n", SEEDPROTO_GREETING, hex);
    if (n < 0 || (size_t)n >= sizeof(line) ||
        seedproto_write_all(fd, line, (size_t)n, timeout_ms, e) < 0 ||
        seedproto_read_line(fd, line, sizeof(line), timeout_ms, e) < 0)
        goto out;
    if (sscanf(line, "%lld %lld %64s%n", &p, &r, got, &n) != 3 || line[n] != '\0' || p <= 0 ||
        r <= 0 || strlen(got) != SEEDPROTO_MAC_HEX) {
        err_set(e, AGENT_E_SEED, "malformed answer from the client");
        goto out;
    }
    if (lookup(arg, p, r, &secret, e) < 0)
        goto out;
    seedproto_mac(secret, nonce, p, r, want);
    if (!crypto_equal(got, want)) {
        err_set(e, AGENT_E_DENIED,
                "the client of replica %lld did not prove it knows the replication secret of "
                "member %lld",
                r, p);
        goto out;
    }
    *primary = p;
    *replica = r;
    rc = 0;
out:
    if (secret) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
    explicit_bzero(want, sizeof(want));
    return rc;
}
