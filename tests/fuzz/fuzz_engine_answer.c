/* libFuzzer target: what the engines and their tools answer, as the agent's drivers parse it
 * (engines/answers.h): Redis's INFO and pg_controldata's "key: value" lines, PostgreSQL WAL
 * locations, timeline histories and numbers, MariaDB GTID position lists, binary log
 * coordinates and SHOW SLAVE STATUS (the answer's "Name: value" lines taken as its columns,
 * and the second value as every column). The input is cut at its first NUL byte into an
 * answer and a second value (a key, the other GTID list). A value found stays inside its line
 * and the size given; a WAL location, an integer and a number that parse print back the same;
 * a replica status holds terminated texts and numbers in their ranges or unknown. */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engines/answers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The integer and number forms: in range, and printed back they parse to the same value. */
static void numbers(const char *text)
{
    static const int64_t ranges[][2] = {
        {INT64_MIN, INT64_MAX}, {0, INT64_MAX}, {1, UINT32_MAX}, {0, 65535}, {-5, 5}};
    char again[64];
    int64_t n, n2;
    double d, d2;

    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        if (answer_int(text, ranges[i][0], ranges[i][1], &n) != 0)
            continue;
        snprintf(again, sizeof(again), "%" PRId64, n);
        if (n < ranges[i][0] || n > ranges[i][1] ||
            answer_int(again, ranges[i][0], ranges[i][1], &n2) != 0 || n2 != n)
            __builtin_trap();
    }
    if (answer_real(text, &d) == 0) {
        snprintf(again, sizeof(again), "%.17g", d);
        if (!isfinite(d) || answer_real(again, &d2) != 0 || d2 != d)
            __builtin_trap();
    }
}

/* Whether s ends inside its buffer of n bytes. */
static bool ends(const char *s, size_t n)
{
    return strnlen(s, n) < n;
}

static void slave_check(const struct answer_slave *st)
{
    if (!ends(st->host, sizeof(st->host)) || !ends(st->user, sizeof(st->user)) ||
        !ends(st->io_error, sizeof(st->io_error)) || !ends(st->gtid_io, sizeof(st->gtid_io)) ||
        !ends(st->read_file, sizeof(st->read_file)) || !ends(st->exec_file, sizeof(st->exec_file)))
        __builtin_trap();
    if (st->port < 0 || st->port > 65535 || st->io_errno < 0 || st->read_pos < -1 ||
        st->exec_pos < -1 || !(st->behind == -1 || (isfinite(st->behind) && st->behind >= 0)))
        __builtin_trap();
    if (st->configured && st->host[0] == '\0')
        __builtin_trap(); /* configured means a source host was named */
}

/* SHOW SLAVE STATUS as the mysql client's \G shows it: "Name: value" lines (a line without a
 * colon: the column's value is NULL); then value as every column's. */
static void slave(char *text, const char *value)
{
    static const char *const names[] = {
        "Master_Host",          "Master_Port",           "Master_User",
        "Slave_IO_Running",     "Slave_SQL_Running",     "Last_IO_Errno",
        "Last_IO_Error",        "Gtid_IO_Pos",           "Master_Log_File",
        "Read_Master_Log_Pos",  "Relay_Master_Log_File", "Exec_Master_Log_Pos",
        "Seconds_Behind_Master"};
    struct answer_slave st;
    char *line = text;

    answer_slave_init(&st);
    slave_check(&st);
    while (line) {
        char *next = strchr(line, '\n'), *colon;
        if (next)
            *next++ = '\0';
        colon = strchr(line, ':');
        if (colon) {
            *colon++ = '\0';
            colon += strspn(colon, " ");
        }
        answer_slave_column(&st, line + strspn(line, " "), colon);
        slave_check(&st);
        line = next;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        answer_slave_column(&st, names[i], value);
    slave_check(&st);
}

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
    numbers(text);
    numbers(other);
    slave(text, other); /* last: it cuts text into its lines */
    free(text);
    return 0;
}
