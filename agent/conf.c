/* dbaas-agent's configuration file and durations (agent/conf.h). */
#include "agent/conf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* s with the blanks at both ends cut (in place). */
static char *trim(char *s)
{
    size_t len;

    while (*s == ' ' || *s == '\t')
        s++;
    len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        s[--len] = '\0';
    return s;
}

int conf_load(FILE *f, const char *path, conf_set_fn set, void *arg, char *msg, size_t n)
{
    char line[1024];
    int no = 0;

    while (fgets(line, sizeof(line), f)) {
        char *k, *v, *p;
        no++;
        line[strcspn(line, "#\r\n")] = '\0';
        v = strchr(line, '=');
        if (!v) {
            if (*trim(line)) {
                snprintf(msg, n, "%s:%d: expected key = value", path, no);
                return -1;
            }
            continue;
        }
        *v++ = '\0';
        k = trim(line);
        v = trim(v);
        for (p = k; *p; p++)
            if (*p == '_')
                *p = '-';
        if (set(arg, k, v) < 0) {
            snprintf(msg, n, "%s:%d: unknown setting \"%.64s\"", path, no, k);
            return -1;
        }
    }
    return 0;
}

int conf_duration(const char *s, int64_t *secs)
{
    char *end;
    long long v;
    int64_t unit = 1;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0)
        return -1;
    if (*end == 'm')
        unit = 60;
    else if (*end == 'h')
        unit = 3600;
    else if (*end == 'd')
        unit = 86400;
    else if (*end != 's' && *end != '\0')
        return -1;
    if (*end && end[1])
        return -1;
    if (v > INT64_MAX / unit)
        return -1;
    *secs = v * unit;
    return 0;
}
