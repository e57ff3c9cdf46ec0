/* Text output for dbaasctl: aligned tables and "key: value" lines, with server-supplied text
 * made safe for a terminal. */
#ifndef CLI_TABLE_H
#define CLI_TABLE_H

#include <stdio.h>

#include "lib/buf.h"

struct table; /* opaque: a header row and the rows added so far */

/* A new table with ncols columns named by headers (printed in upper case). The strings are
 * copied. The caller frees it with table_free(). */
struct table *table_new(int ncols, const char *const *headers);
void table_free(struct table *t);

/* Append one cell to the current row; a row is complete after ncols cells. NULL prints as "-".
 * The text is copied with control characters replaced (see table_sanitize). */
void table_cell(struct table *t, const char *text);
void table_cellf(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print the header and the rows: columns separated by two spaces, padded to the widest cell
 * (counted in UTF-8 characters), the last column unpadded. */
void table_print(const struct table *t, FILE *out);

/* Print "key: value\n"; a NULL value prints as "-". */
void table_kv(FILE *out, const char *key, const char *value);
void table_kvf(FILE *out, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Append s to b with every control character (0x00-0x1f, 0x7f) replaced by '?', so that text
 * from the server cannot move the cursor or break a table row. */
void table_sanitize(struct buf *b, const char *s);

#endif
