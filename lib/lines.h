/* Lines of a program's output or of a log, picked for an error message: the last few that
 * matter, joined with "; ". */
#ifndef LIB_LINES_H
#define LIB_LINES_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* The longest piece of one line that is appended. */
#define LINES_MAX_LEN 200

/* Append to out the lines of text (NULL: none) that keep() accepts, each after skip(line)
 * characters and then its leading spaces, cut at LINES_MAX_LEN bytes, keeping only the last
 * max_lines matches; "; " goes before each one when out is not empty. keep and skip see one
 * NUL-terminated line without its newline or a trailing '\r'; skip may be NULL. */
void lines_pick(const char *text, bool (*keep)(const char *line), size_t (*skip)(const char *line),
                int max_lines, struct buf *out);

/* Append the last max_lines non-blank lines of text, as lines_pick() does. */
void lines_last(const char *text, int max_lines, struct buf *out);

#endif
