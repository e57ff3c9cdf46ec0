/* Process identity for supervision: a pid plus its start time (from /proc/PID/stat) names one
 * process for good, so that a recycled pid is never mistaken for the engine we started. */
#ifndef LIB_PROC_H
#define LIB_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The start time of pid in clock ticks since boot (field 22 of /proc/PID/stat); 0 when the
 * process does not exist or is a zombie. */
uint64_t proc_starttime(pid_t pid);

/* Whether pid is alive (not a zombie) and, when starttime is not 0, started at starttime. */
bool proc_alive(pid_t pid, uint64_t starttime);

#endif
