/* Text output for dbaasctl: aligned tables (header in capitals, two spaces between columns) and
 * "key: value" lines. */
#include "cli/table.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

struct table {
    int ncols;
    char **cells; /* owned, row-major; the first ncols are the header */
    size_t ncells;
    size_t cap;
};

static void table_push(struct table *t, char *cell)
{
    if (t->ncells == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->cells = xrealloc(t->cells, t->cap * sizeof(*t->cells));
    }
    t->cells[t->ncells++] = cell;
}

struct table *table_new(int ncols, const char *const *headers)
{
    struct table *t = xcalloc(1, sizeof(*t));
    int i;

    t->ncols = ncols;
    for (i = 0; i < ncols; i++) {
        char *h = xstrdup(headers[i]);
        char *p;

        for (p = h; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
        table_push(t, h);
    }
    return t;
}

void table_free(struct table *t)
{
    size_t i;

    if (!t)
        return;
    for (i = 0; i < t->ncells; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

void table_sanitize(struct buf *b, const char *s)
{
    const char *p;

    for (p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;

        if (ch < 0x20 || ch == 0x7f)
            buf_append(b, "?", 1);
        else
            buf_append(b, p, 1);
    }
}

void table_cell(struct table *t, const char *text)
{
    struct buf b = BUF_INIT;

    table_sanitize(&b, text ? text : "-");
    table_push(t, buf_steal(&b));
}

void table_cellf(struct table *t, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (!s)
        s = xstrdup("?");
    table_cell(t, s);
    free(s);
}

/* Display width of a UTF-8 string: the number of characters (bytes that do not continue one). */
static size_t table_width(const char *s)
{
    size_t w = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

void table_print(const struct table *t, FILE *out)
{
    size_t *widths = xcalloc((size_t)t->ncols, sizeof(*widths));
    size_t i;

    for (i = 0; i < t->ncells; i++) {
        size_t w = table_width(t->cells[i]);
        size_t col = i % (size_t)t->ncols;

        if (w > widths[col])
            widths[col] = w;
    }
    for (i = 0; i < t->ncells; i++) {
        size_t col = i % (size_t)t->ncols;
        bool last = col + 1 == (size_t)t->ncols || i + 1 == t->ncells;

        fputs(t->cells[i], out);
        if (last) {
            fputc('\n', out);
        } else {
            size_t pad = widths[col] - table_width(t->cells[i]) + 2;

            while (pad-- > 0)
                fputc(' ', out);
        }
    }
    free(widths);
}

void table_kv(FILE *out, const char *key, const char *value)
{
    struct buf b = BUF_INIT;

    table_sanitize(&b, value ? value : "-");
    fprintf(out, "%s: %s\n", key, buf_str(&b));
    buf_free(&b);
}

void table_kvf(FILE *out, const char *key, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    table_kv(out, key, s ? s : "?");
    free(s);
}
