/* Capacity probing (CPUs, memory, disk) and the disk-usage walk of a member's directory. */
#include "agent/hostinfo.h"

#include <fts.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <unistd.h>

int64_t hostinfo_cpu_millis(void)
{
    return (int64_t)sysconf(_SC_NPROCESSORS_ONLN) * 1000;
}

int64_t hostinfo_memory_mb(void)
{
    struct sysinfo si;

    if (sysinfo(&si) < 0)
        return 0;
    return (int64_t)((unsigned long long)si.totalram * si.mem_unit >> 20);
}

int64_t hostinfo_disk_mb(const char *dir)
{
    struct statvfs sv;

    if (statvfs(dir, &sv) < 0)
        return 0;
    return (int64_t)((unsigned long long)sv.f_blocks * sv.f_frsize >> 20);
}

int64_t hostinfo_disk_used_mb(const char *dir)
{
    int64_t bytes = hostinfo_disk_used_bytes(dir);

    return bytes < 0 ? 0 : (bytes + (1 << 20) - 1) >> 20;
}

int64_t hostinfo_disk_used_bytes(const char *dir)
{
    char *paths[] = {(char *)dir, NULL};
    int64_t total = 0;
    FTS *fts;
    FTSENT *f;
    dev_t dev = 0;

    /* FTS_NOCHDIR: the agent is multi-threaded, the working directory is shared. */
    fts = fts_open(paths, FTS_PHYSICAL | FTS_XDEV | FTS_NOCHDIR, NULL);
    if (!fts)
        return -1;
    while ((f = fts_read(fts)) != NULL) {
        if (f->fts_level == FTS_ROOTLEVEL && f->fts_statp)
            dev = f->fts_statp->st_dev;
        /* Files (not directories or links) on dir's file system: FTS_XDEV keeps the walk out
         * of other file systems' directories, the device check out of their other files. */
        if ((f->fts_info == FTS_F || f->fts_info == FTS_DEFAULT) && f->fts_statp->st_dev == dev)
            total += (int64_t)f->fts_statp->st_blocks * 512;
    }
    fts_close(fts);
    return total;
}
