/* What the engines and their tools answer, parsed (answers.h). */
#include "engines/answers.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool answer_field(const char *text, const char *key, char *out, size_t n)
{
    size_t klen = strlen(key);
    const char *p = text;

    if (n > 0)
        out[0] = '\0';
    for (; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
            p += klen + 1;
            p += strspn(p, " \t");
            if (n > 0)
                snprintf(out, n, "%.*s", (int)strcspn(p, "\r\n"), p);
            return true;
        }
    return false;
}

int64_t answer_field_int(const char *text, const char *key)
{
    char v[32];

    return answer_field(text, key, v, sizeof(v)) && *v ? strtoll(v, NULL, 10) : -1;
}

int answer_int(const char *text, int64_t min, int64_t max, int64_t *out)
{
    const char *digits = text && *text == '-' ? text + 1 : text;
    char *end;
    long long v;

    /* strtoll alone would take blanks and '+' before the number and saturate on overflow */
    if (!digits || *digits < '0' || *digits > '9')
        return -1;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int answer_real(const char *text, double *out)
{
    const char *digits = text && *text == '-' ? text + 1 : text;
    char *end;
    double v;

    /* a digit first leaves out blanks, '+', "inf" and "nan"; a hex float ("0x1p3") starts
     * with a digit too: its 'x' gives it away */
    if (!digits || *digits < '0' || *digits > '9' || strpbrk(text, "xX"))
        return -1;
    v = strtod(text, &end);
    if (*end != '\0' || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int answer_pg_lsn(const char *lsn, int64_t *bytes)
{
    unsigned hi, lo;
    int end = 0;

    if (sscanf(lsn, "%8X/%8X%n", &hi, &lo, &end) != 2 || lsn[end] != '\0' ||
        strspn(lsn, "0123456789ABCDEFabcdef/") != strlen(lsn))
        return -1;
    *bytes = (int64_t)(((uint64_t)hi << 32) | lo);
    return 0;
}

int answer_pg_history_diverged(const char *history, int64_t tli, int64_t lsn)
{
    const char *line = history;
    bool found = false;
    int64_t switchpoint = 0;

    while (line && *line) {
        const char *next = strchr(line, '\n');
        const char *start = line + strspn(line, " \t");
        const char *stop = next ? next : line + strlen(line);
        char buf[128], loc[32];
        unsigned long long parent;
        size_t len;
        int end = 0;
        int64_t at;

        line = next ? next + 1 : NULL;
        if (stop > start && stop[-1] == '\r')
            stop--;
        if (stop <= start || *start == '#')
            continue;
        len = (size_t)(stop - start);
        if (len >= sizeof(buf))
            return -1;
        memcpy(buf, start, len);
        buf[len] = '\0';
        /* "tli<TAB>X/X<TAB>reason": the reason is free text */
        if (sscanf(buf, "%llu%*[ \t]%31[0-9A-Fa-f/]%n", &parent, loc, &end) != 2 ||
            (buf[end] != '\0' && buf[end] != '\t' && buf[end] != ' ') ||
            answer_pg_lsn(loc, &at) < 0 || parent == 0 || parent > UINT32_MAX || buf[0] == '-' ||
            buf[0] == '+')
            return -1;
        if ((int64_t)parent == tli) {
            found = true;
            switchpoint = at;
        }
    }
    if (!found)
        return 1;
    return lsn > switchpoint ? 1 : 0;
}

/* One "domain-server-seq" item of a GTID list at *p into d, sv, q; moves *p past it and its
 * comma (NULL after the last). Whether there was one. */
static bool gtid_next(const char **p, unsigned long *d, unsigned long *sv, unsigned long long *q)
{
    char *end;

    if (!*p || !**p)
        return false;
    *d = strtoul(*p, &end, 10);
    *sv = *end == '-' ? strtoul(end + 1, &end, 10) : 0;
    *q = *end == '-' ? strtoull(end + 1, &end, 10) : 0;
    *p = strchr(end, ',');
    if (*p)
        (*p)++;
    return true;
}

/* The GTID of domain `domain` in list: whether it is there. */
static bool gtid_find(const char *list, unsigned long domain, unsigned long *server,
                      unsigned long long *seq)
{
    unsigned long d, sv;
    unsigned long long q;

    while (gtid_next(&list, &d, &sv, &q))
        if (d == domain) {
            *server = sv;
            *seq = q;
            return true;
        }
    return false;
}

bool answer_gtid_ahead(const char *ours, const char *theirs)
{
    unsigned long d, sv, ts;
    unsigned long long q, tq;

    while (gtid_next(&ours, &d, &sv, &q))
        if (!gtid_find(theirs, d, &ts, &tq) || q > tq || (q == tq && sv != ts))
            return true;
    return false;
}

int64_t answer_binlog_coord(const char *file, int64_t pos)
{
    const char *dot = file ? strrchr(file, '.') : NULL;
    char *end;
    long long seq;

    if (!dot || pos < 0 || pos > UINT32_MAX)
        return -1;
    seq = strtoll(dot + 1, &end, 10);
    if (end == dot + 1 || *end || seq < 0 || seq > INT32_MAX)
        return -1;
    return ((int64_t)seq << 32) + pos;
}

void answer_slave_init(struct answer_slave *st)
{
    memset(st, 0, sizeof(*st));
    st->read_pos = st->exec_pos = -1;
    st->behind = -1;
}

void answer_slave_column(struct answer_slave *st, const char *name, const char *v)
{
    int64_t n;
    double d;

    if (!name || !v)
        return;
    if (strcmp(name, "Master_Host") == 0) {
        snprintf(st->host, sizeof(st->host), "%s", v);
        st->configured = *v != '\0';
    } else if (strcmp(name, "Master_Port") == 0)
        st->port = answer_int(v, 0, 65535, &n) == 0 ? (int)n : 0;
    else if (strcmp(name, "Master_User") == 0)
        snprintf(st->user, sizeof(st->user), "%s", v);
    else if (strcmp(name, "Slave_IO_Running") == 0) {
        st->io_yes = strcmp(v, "Yes") == 0;
        st->io_connecting = strcmp(v, "Connecting") == 0;
    } else if (strcmp(name, "Slave_SQL_Running") == 0)
        st->sql_yes = strcmp(v, "Yes") == 0;
    else if (strcmp(name, "Last_IO_Errno") == 0)
        st->io_errno = answer_int(v, 0, INT_MAX, &n) == 0 ? (int)n : 0;
    else if (strcmp(name, "Last_IO_Error") == 0)
        snprintf(st->io_error, sizeof(st->io_error), "%s", v);
    else if (strcmp(name, "Gtid_IO_Pos") == 0)
        snprintf(st->gtid_io, sizeof(st->gtid_io), "%s", v);
    else if (strcmp(name, "Master_Log_File") == 0)
        snprintf(st->read_file, sizeof(st->read_file), "%s", v);
    else if (strcmp(name, "Read_Master_Log_Pos") == 0)
        st->read_pos = answer_int(v, 0, INT64_MAX, &n) == 0 ? n : -1;
    else if (strcmp(name, "Relay_Master_Log_File") == 0)
        snprintf(st->exec_file, sizeof(st->exec_file), "%s", v);
    else if (strcmp(name, "Exec_Master_Log_Pos") == 0)
        st->exec_pos = answer_int(v, 0, INT64_MAX, &n) == 0 ? n : -1;
    else if (strcmp(name, "Seconds_Behind_Master") == 0)
        st->behind = answer_real(v, &d) == 0 && d >= 0 ? d : -1;
}
