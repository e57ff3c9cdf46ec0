/* libFuzzer target: a lease datagram as dbaasd's UDP port and the agent's lease socket receive
 * it from the network (lib/lease.h): lease_peek() and lease_decode() never read past the
 * datagram, and whatever decodes under the key encodes back to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/lease.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char key[LEASE_KEY_LEN] = "0123456789abcdef0123456789abcdef";
    unsigned char again[LEASE_MSG_LEN];
    struct lease_msg m, p;

    if (lease_peek(data, size, &p) == 0 && size != LEASE_MSG_LEN)
        __builtin_trap(); /* only a whole datagram is one */
    if (lease_decode(data, size, key, &m) == 0) {
        lease_encode(&m, key, again);
        if (memcmp(again, data, LEASE_MSG_LEN) != 0)
            __builtin_trap();
    }
    return 0;
}
