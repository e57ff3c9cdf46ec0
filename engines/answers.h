/* What the engines and their tools answer, parsed: pure functions over the text a server
 * (Redis's INFO, MariaDB's GTID positions, binary log coordinates and SHOW SLAVE STATUS,
 * PostgreSQL's numbers) or a tool (pg_controldata) returns. The drivers take the text from a
 * connection or a child process; these functions only read it, so that
 * tests/fuzz/fuzz_engine_answer.c can feed them anything.
 *
 * NOTES: nothing logs or allocates; every output is bounded by the size the caller gives. */
#ifndef ENGINES_ANSWERS_H
#define ENGINES_ANSWERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The value of the line "key: value" that starts with key followed by ':' (Redis's INFO,
 * pg_controldata), with the blanks after the colon and the line end ("\n" or "\r\n") left out,
 * into out (truncated to n - 1 bytes; "" when absent). Whether the line was there. */
bool answer_field(const char *text, const char *key, char *out, size_t n);

/* answer_field() as a decimal integer: -1 when absent or empty. */
int64_t answer_field_int(const char *text, const char *key);

/* A whole decimal integer as a server prints one (an optional '-', then digits: no blanks, no
 * '+', nothing after) within min..max into *out. 0, or -1 (*out untouched) when it is not one. */
int answer_int(const char *text, int64_t min, int64_t max, int64_t *out);

/* A finite decimal number as a server prints one ("12", "-0.5", "1e3"; no blanks, no hex, no
 * inf or nan, nothing after) into *out. 0, or -1 (*out untouched) when it is not one. */
int answer_real(const char *text, double *out);

/* A PostgreSQL WAL location "X/X" (hex) as one byte position: 0 / -1 when it is not one. */
int answer_pg_lsn(const char *lsn, int64_t *bytes);

/* PostgreSQL's timeline history of a primary (the content of TIMELINE_HISTORY, a .history
 * file: one line "parent_tli<TAB>switchpoint<TAB>reason" per ancestor timeline, '#' comments):
 * whether a standby on timeline tli (older than the primary's) whose recovery reached lsn
 * (bytes) holds WAL that primary lacks: 1 when tli is not one of its ancestors or when the
 * primary's history left tli before lsn (the standby's data forked off: it needs a rewind), 0
 * when the standby can follow, -1 when the text is not a history. */
int answer_pg_history_diverged(const char *history, int64_t tli, int64_t lsn);

/* Whether the MariaDB GTID position list `ours` ("domain-server-seq,...") holds a transaction
 * that `theirs` lacks, as far as the two lists tell: a domain they lack, a higher sequence
 * number, or the same one written by another server. A lower sequence number tells nothing. */
bool answer_gtid_ahead(const char *ours, const char *theirs);

/* A MariaDB binary log coordinate (file "name.000042", byte offset) as one ordered number: the
 * file's sequence number in the high 32 bits, the offset in the low 32. -1 when unknown. */
int64_t answer_binlog_coord(const char *file, int64_t pos);

/* What MariaDB's SHOW SLAVE STATUS says (the default connection), column by column. */
struct answer_slave {
    bool configured; /* a source is set */
    char host[64];   /* Master_Host */
    int port;        /* Master_Port (0: unknown) */
    char user[64];   /* Master_User */
    bool io_yes, sql_yes;
    bool io_connecting;  /* Slave_IO_Running = Connecting */
    int io_errno;        /* Last_IO_Errno (0: none or unknown) */
    char io_error[256];  /* Last_IO_Error */
    char gtid_io[256];   /* Gtid_IO_Pos: the last GTID received */
    char read_file[128]; /* Master_Log_File, Read_Master_Log_Pos: received */
    int64_t read_pos;    /* -1: unknown */
    char exec_file[128]; /* Relay_Master_Log_File, Exec_Master_Log_Pos: applied */
    int64_t exec_pos;    /* -1: unknown */
    double behind;       /* Seconds_Behind_Master; -1: NULL or unknown */
};

/* An empty status: no source configured (what zero rows mean), positions and lag unknown. */
void answer_slave_init(struct answer_slave *st);

/* Take one column of SHOW SLAVE STATUS's row into st: its name and value (NULL for SQL NULL:
 * ignored). Columns other than st's are ignored. A text longer than its field is cut; a number
 * that is not one, or out of its range (a port 0..65535, an errno 0..INT_MAX, a position
 * 0..INT64_MAX, seconds >= 0), leaves the field unknown (see struct answer_slave). */
void answer_slave_column(struct answer_slave *st, const char *name, const char *value);

#endif
