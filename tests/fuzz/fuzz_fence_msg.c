/* libFuzzer target: the fence guard's pipe (agent/fence.h): fence_msg_decode() over any bytes,
 * frame after frame as the guard reads them, never reads past what it was given, and a frame
 * it accepts encodes to one that decodes to the same message. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/fence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fence_msg m, again;
    struct buf b = BUF_INIT;
    struct err e;
    size_t off = 0;

    while (off < size) {
        long used = fence_msg_decode(data + off, size - off, &m, &e);
        if (used <= 0)
            break;
        if ((size_t)used > size - off)
            __builtin_trap();
        buf_reset(&b);
        fence_msg_encode(&m, &b);
        if (fence_msg_decode((const unsigned char *)b.data, b.len, &again, &e) != (long)b.len ||
            again.deadline_ms != m.deadline_ms || again.n != m.n)
            __builtin_trap();
        for (int i = 0; i < m.n; i++)
            if (again.t[i].id != m.t[i].id || strcmp(again.t[i].dir, m.t[i].dir) != 0)
                __builtin_trap();
        off += (size_t)used;
    }
    buf_free(&b);
    return 0;
}
