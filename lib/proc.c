/* Processes read from /proc: the one parser of /proc/PID/stat, and process identity for
 * supervision. */
#include "lib/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The last field read (starttime). */
#define LAST_FIELD 22

/* One decimal field at *p (tpgid, priority and nice may be negative), followed by a space or
 * the end; advances *p past it. */
static bool next_number(const char **p, long long *v)
{
    char *end;

    if ((**p < '0' || **p > '9') && **p != '-')
        return false;
    errno = 0;
    *v = strtoll(*p, &end, 10);
    if (errno != 0 || (*end != ' ' && *end != '\n' && *end != '\0'))
        return false;
    *p = *end == ' ' ? end + 1 : end;
    return true;
}

int proc_stat_parse(const char *text, struct proc_stat *st)
{
    long long v;
    const char *p, *rp;
    char *end;
    long pid;

    memset(st, 0, sizeof(*st));
    /* "PID (COMM) S PPID PGRP SESSION ... STARTTIME(22) ..." */
    errno = 0;
    pid = strtol(text, &end, 10);
    if (errno != 0 || end == text || pid <= 0 || pid > INT_MAX || strncmp(end, " (", 2) != 0)
        goto fail;
    rp = strrchr(end, ')');
    if (!rp || rp[1] != ' ' || rp[2] == '\0' || rp[3] != ' ')
        goto fail;
    st->pid = (pid_t)pid;
    st->state = rp[2];
    p = rp + 4;
    for (int field = 4; field <= LAST_FIELD; field++) {
        if (!next_number(&p, &v))
            goto fail;
        if (field == 4)
            st->ppid = (pid_t)v;
        else if (field == 5)
            st->pgrp = (pid_t)v;
        else if (field == 6)
            st->sid = (pid_t)v;
        else if (field == LAST_FIELD)
            st->starttime = (uint64_t)v;
    }
    return 0;
fail:
    memset(st, 0, sizeof(*st));
    return -1;
}

int proc_stat_read(pid_t pid, struct proc_stat *st)
{
    char path[64], buf[1024];
    ssize_t n;
    int fd;

    memset(st, 0, sizeof(*st));
    if (pid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    do
        n = read(fd, buf, sizeof(buf) - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return proc_stat_parse(buf, st);
}

bool proc_state_gone(char state)
{
    return state == 'Z' || state == 'X' || state == 'x';
}

uint64_t proc_starttime(pid_t pid)
{
    struct proc_stat st;

    if (proc_stat_read(pid, &st) != 0 || proc_state_gone(st.state))
        return 0;
    return st.starttime;
}

bool proc_alive(pid_t pid, uint64_t starttime)
{
    uint64_t now = proc_starttime(pid);

    return now != 0 && (starttime == 0 || now == starttime);
}
