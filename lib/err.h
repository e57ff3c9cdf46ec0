/* The error struct that library-style modules fill instead of logging. */
#ifndef LIB_ERR_H
#define LIB_ERR_H

struct err {
    int code;      /* module-defined; 0 = no error */
    char msg[512]; /* PostgreSQL style: lowercase, no trailing period */
};

/* Set code and a formatted message; always returns -1 so callers can "return err_set(...)". */
int err_set(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void err_clear(struct err *e);

#endif
