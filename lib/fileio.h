/* Files for the daemons and tools: replacing a file atomically, reading a whole small file and
 * reading the tail of a log.
 *
 * NOTES
 * - Library style: nothing logs; errors fill struct err with LIB_E_NOENT (missing file),
 *   LIB_E_INVALID (not what was expected: a link, a FIFO, too large) or LIB_E_SYSTEM.
 * - Written for directories another user may own (an engine's member directory): with
 *   FILEIO_NOFOLLOW a link planted there cannot redirect a read, and an atomic write never
 *   follows a link planted at its temporary name. */
#ifndef LIB_FILEIO_H
#define LIB_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

#include "lib/err.h"

enum fileio_flags {
    FILEIO_SYNC_DIR = 1 << 0, /* write: fsync the directory after the rename */
    FILEIO_NOFOLLOW = 1 << 1, /* read: refuse a symbolic link, a FIFO, anything not regular,
                                 a file with more than one link */
};

/* No owner change in fileio_write_atomic(). */
#define FILEIO_KEEP_UID ((uid_t)-1)
#define FILEIO_KEEP_GID ((gid_t)-1)

/* Replace path with the len bytes of data: write "<path>.tmp" (created with O_EXCL|O_NOFOLLOW;
 * a leftover of an interrupted write or a link planted at that name is unlinked first, never
 * followed), give it mode and, unless FILEIO_KEEP_UID/FILEIO_KEEP_GID, owner uid:gid, fsync it,
 * rename it over path and, with FILEIO_SYNC_DIR, fsync the directory. On failure path is
 * unchanged and no temporary file is left. */
int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode, uid_t uid,
                        gid_t gid, int flags, struct err *e) __attribute__((warn_unused_result));

/* The whole content of a file of at most max bytes (SIZE_MAX: no limit), read until end of file
 * (so that /proc, /sys and cgroup files, whose size says 0, read whole), NUL-terminated, in a
 * new string the caller frees. With FILEIO_NOFOLLOW the file must be a regular file and not a
 * link. NULL with e set (e may be NULL) and errno kept (ENOENT for a missing file, ELOOP for a
 * link, EFBIG when larger than max) on failure. */
char *fileio_read(const char *path, size_t max, int flags, struct err *e);

/* The tail of a log from offset from (0: the whole log; an offset past its end counts as 0),
 * at most its last max bytes, from the start of a line when it was cut. The file must be a
 * regular file with one link, not a symbolic link. A new string the caller frees; "" when the log
 * cannot be read. */
char *fileio_read_tail(const char *path, off_t from, size_t max);

#endif
