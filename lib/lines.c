/* Picking the lines of an output that go into an error message. */
#include "lib/lines.h"

#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

void lines_pick(const char *text, bool (*keep)(const char *line), size_t (*skip)(const char *line),
                int max_lines, struct buf *out)
{
    char *copy = NULL, *save = NULL;
    char **picked = NULL;
    int n = 0, first = 0;

    if (max_lines <= 0)
        return;
    copy = xstrdup(text ? text : "");
    picked = xcalloc((size_t)max_lines, sizeof(*picked));
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        if (!keep(line))
            continue;
        /* A ring of the last max_lines matches. */
        picked[(first + n) % max_lines] = line;
        if (n < max_lines)
            n++;
        else
            first = (first + 1) % max_lines;
    }
    for (int i = 0; i < n; i++) {
        const char *line = picked[(first + i) % max_lines];
        size_t off = skip ? skip(line) : 0, len;

        if (off > strlen(line))
            off = strlen(line);
        line += off;
        while (*line == ' ')
            line++;
        len = strlen(line);
        if (len > LINES_MAX_LEN)
            len = LINES_MAX_LEN;
        if (out->len)
            buf_puts(out, "; ");
        buf_append(out, line, len);
    }
    free(picked);
    free(copy);
}

static bool non_blank(const char *line)
{
    return line[strspn(line, " \t")] != '\0';
}

void lines_last(const char *text, int max_lines, struct buf *out)
{
    lines_pick(text, non_blank, NULL, max_lines, out);
}
