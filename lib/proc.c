/* Process identity for supervision, read from /proc. A zombie counts as dead: on these hosts
 * an orphan that exits may stay a zombie for seconds, and it still answers kill(pid, 0). */
#include "lib/proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t proc_starttime(pid_t pid)
{
    char path[64], buf[1024], *p, *save = NULL;
    unsigned long long start = 0;
    FILE *f;
    size_t n;
    int field;

    if (pid <= 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: start after the last ')'. */
    p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return 0;
    if (p[2] == 'Z' || p[2] == 'X')
        return 0;
    /* Field 3 is the state; field 22 the start time. */
    p = strtok_r(p + 2, " ", &save);
    for (field = 3; p && field < 22; field++)
        p = strtok_r(NULL, " ", &save);
    if (p)
        start = strtoull(p, NULL, 10);
    return start;
}

bool proc_alive(pid_t pid, uint64_t starttime)
{
    uint64_t now = proc_starttime(pid);

    return now != 0 && (starttime == 0 || now == starttime);
}
