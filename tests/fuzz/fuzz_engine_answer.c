/* libFuzzer target: what the engines and their tools answer, as the agent's drivers parse it
 * (engines/answers.h): Redis's INFO and pg_controldata's "key: value" lines, PostgreSQL WAL
 * locations and timeline histories, MariaDB GTID position lists and binary log coordinates. The input is cut at its
 * first NUL byte into an answer and a second value (a key, the other GTID list). A value found
 * stays inside its line and the size given; a WAL location that parses prints back the same. */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engines/answers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 2), *other, v[24], again[40];
    int64_t b, b2;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = text[size + 1] = '\0';
    other = text + strlen(text) + 1;
    if (other > text + size + 1)
        other = text + size + 1;

    for (size_t n = 0; n <= sizeof(v); n += sizeof(v) / 2) {
        memset(v, 'x', sizeof(v));
        if (answer_field(text, other, v, n) && n > 0 &&
            (strnlen(v, n) == n || strpbrk(v, "\r\n") != NULL))
            __builtin_trap();
    }
    (void)answer_field_int(text, other);
    (void)answer_field_int(text, "role");

    if (answer_pg_lsn(text, &b) == 0) {
        snprintf(again, sizeof(again), "%" PRIX32 "/%" PRIX32, (uint32_t)((uint64_t)b >> 32),
                 (uint32_t)b);
        if (answer_pg_lsn(again, &b2) != 0 || b2 != b)
            __builtin_trap();
    }

    (void)answer_gtid_ahead(text, other);
    (void)answer_gtid_ahead(other, text);
    if (answer_binlog_coord(text, (int64_t)size) < -1)
        __builtin_trap();
    {
        /* a timeline history: a verdict, or -1; a later point never un-diverges */
        int64_t tli = (int64_t)(size % 5);
        int at0 = answer_pg_history_diverged(text, tli, 0);
        int at_end = answer_pg_history_diverged(text, tli, INT64_MAX);
        if (at0 < -1 || at0 > 1 || (at0 >= 0 && at_end < at0))
            __builtin_trap();
    }
    free(text);
    return 0;
}
