/* A growable byte/string buffer, always NUL-terminated. */
#ifndef LIB_BUF_H
#define LIB_BUF_H

#include <stddef.h>

struct buf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
};

#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void buf_append(struct buf *b, const void *data, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Empty the buffer, keeping its memory. */
void buf_reset(struct buf *b);
/* Free the memory; the buffer is empty and usable again. */
void buf_free(struct buf *b);
/* The contents as a string the caller frees ("" when empty); the buffer is left empty. */
char *buf_steal(struct buf *b);
/* The contents as a string valid until the next change ("" when empty). */
const char *buf_str(const struct buf *b);

#endif
