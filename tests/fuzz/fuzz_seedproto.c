/* libFuzzer target: the seed protocol's handshake (agent/seedproto.h), which an agent's seed
 * server reads from any peer on the network and a replica's agent reads from the primary's.
 * The input's first byte picks the side; the rest is what the peer sends, through a socketpair
 * whose peer end is then closed for writing. The server side must never accept (the nonce is
 * fresh, so no input can hold its MAC); the client side may accept only after the greeting and
 * an "OK" line. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/seedproto.h"
#include "lib/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int lookup(void *arg, int64_t primary, int64_t replica, char **secret, struct err *e)
{
    (void)arg;
    (void)e;
    (void)primary;
    (void)replica;
    *secret = xstrdup("a replication secret");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2];
    int64_t primary, replica;
    struct err e;

    if (size < 1 || size > 4096 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return 0;
    if (write(sv[1], data + 1, size - 1) != (ssize_t)(size - 1)) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    shutdown(sv[1], SHUT_WR);
    if (data[0] & 1) {
        if (seedproto_server(sv[0], lookup, NULL, 50, &primary, &replica, &e) == 0)
            __builtin_trap();
    } else if (seedproto_client(sv[0], "a replication secret", 1, 2, 50, &e) == 0) {
        if (size - 1 < strlen(SEEDPROTO_GREETING) + 1 + 2 * SEEDPROTO_NONCE_LEN + 1 + 3 ||
            memcmp(data + 1, SEEDPROTO_GREETING, strlen(SEEDPROTO_GREETING)) != 0)
            __builtin_trap();
    }
    close(sv[0]);
    close(sv[1]);
    return 0;
}
