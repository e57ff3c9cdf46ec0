/* What the agent learns about its machine: the capacity it reports when the operator set none,
 * and the disk space a member's files take. */
#ifndef AGENT_HOSTINFO_H
#define AGENT_HOSTINFO_H

#include <stdint.h>

/* CPUs online, in millicores. */
int64_t hostinfo_cpu_millis(void);
/* The machine's memory in MiB; 0 when unknown. */
int64_t hostinfo_memory_mb(void);
/* The size of the file system holding dir in MiB; 0 when unknown. */
int64_t hostinfo_disk_mb(const char *dir);
/* The space the files under dir take on its file system, in MiB rounded up (symbolic links
 * not followed, other file systems not entered); 0 when dir cannot be read. */
int64_t hostinfo_disk_used_mb(const char *dir);
/* The same in bytes; -1 when dir cannot be read. */
int64_t hostinfo_disk_used_bytes(const char *dir);

#endif
