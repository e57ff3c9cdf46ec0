/* The error struct that library-style modules fill instead of logging. */
#include "lib/err.h"

#include <stdarg.h>
#include <stdio.h>

int err_set(struct err *e, int code, const char *fmt, ...)
{
    va_list ap;

    if (!e)
        return -1;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return -1;
}

void err_clear(struct err *e)
{
    if (!e)
        return;
    e->code = 0;
    e->msg[0] = '\0';
}

const char *err_module(int code)
{
    static const char *const names[] = {"lib",   "isolation", "engine", "scheduler", "store",
                                        "agent", "api",       "cli",    "ha"};

    if (code == 0)
        return "none";
    if (code < ERR_BASE_LIB || code >= ERR_BASE_HA + 100)
        return "unknown";
    return names[code / 100 - 1];
}
