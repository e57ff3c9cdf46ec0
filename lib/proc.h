/* Processes as /proc/PID/stat describes them: one parser of that line for every program, and
 * process identity for supervision (a pid plus its start time names one process for good, so
 * that a recycled pid is never mistaken for the engine we started).
 *
 * NOTES: a zombie ('Z') or a dead task ('X', 'x') counts as gone everywhere here: on these
 * hosts an orphan that exits may stay a zombie for seconds, and it still answers kill(pid, 0). */
#ifndef LIB_PROC_H
#define LIB_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The fields of /proc/PID/stat that callers use. */
struct proc_stat {
    pid_t pid;          /* field 1 */
    char state;         /* field 3: 'R', 'S', 'D', 'Z', ... */
    pid_t ppid;         /* field 4 */
    pid_t pgrp;         /* field 5 */
    pid_t sid;          /* field 6: the session id */
    uint64_t starttime; /* field 22: clock ticks since boot */
};

/* Parse the text of a /proc/PID/stat file into st. The command name (field 2) may hold spaces
 * and parentheses: the fields after it are read after its last ')'. 0, or -1 when the text is
 * not such a line (st is then zeroed). */
int proc_stat_parse(const char *text, struct proc_stat *st) __attribute__((warn_unused_result));

/* Read and parse /proc/PID/stat. 0, or -1 when the process does not exist (pid <= 0 included)
 * or the file cannot be parsed. */
int proc_stat_read(pid_t pid, struct proc_stat *st) __attribute__((warn_unused_result));

/* Whether a state letter means the process is gone: zombie or dead. */
bool proc_state_gone(char state);

/* The start time of pid in clock ticks since boot (field 22 of /proc/PID/stat); 0 when the
 * process does not exist or is a zombie. */
uint64_t proc_starttime(pid_t pid);

/* Whether pid is alive (not a zombie) and, when starttime is not 0, started at starttime. */
bool proc_alive(pid_t pid, uint64_t starttime);

#endif
