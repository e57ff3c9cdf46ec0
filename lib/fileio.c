/* Files: atomic replacement, whole small files, the tail of a log. */
#include "lib/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/xalloc.h"

#define TMP_FLAGS (O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC)

/* fsync the directory holding path. 0, or -1 with errno set. */
static int fsync_dir_of(const char *path)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    int fd, rc = -1, saved;

    if (!slash) {
        free(dir);
        dir = xstrdup(".");
    } else if (slash == dir) {
        slash[1] = '\0';
    } else {
        *slash = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0 && fsync(fd) == 0)
        rc = 0;
    saved = errno;
    if (fd >= 0)
        close(fd);
    free(dir);
    errno = saved;
    return rc;
}

int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode, uid_t uid,
                        gid_t gid, int flags, struct err *e)
{
    char *tmp = xasprintf("%s.tmp", path);
    const char *p = data;
    bool created = false;
    size_t done = 0;
    int fd = -1, rc = -1;

    fd = open(tmp, TMP_FLAGS, mode);
    if (fd < 0 && errno == EEXIST) {
        /* A leftover of an interrupted write, or a planted link: unlink never follows it. */
        if (unlink(tmp) < 0 && errno != ENOENT) {
            err_set(e, LIB_E_SYSTEM, "could not remove \"%s\": %s", tmp, strerror(errno));
            goto out;
        }
        fd = open(tmp, TMP_FLAGS, mode);
    }
    if (fd < 0) {
        err_set(e, errno == ENOENT ? LIB_E_NOENT : LIB_E_SYSTEM, "could not create \"%s\": %s", tmp,
                strerror(errno));
        goto out;
    }
    created = true;
    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            err_set(e, LIB_E_SYSTEM, "could not write \"%s\": %s", tmp, strerror(errno));
            goto out;
        }
        done += (size_t)w;
    }
    if ((uid != FILEIO_KEEP_UID || gid != FILEIO_KEEP_GID) && fchown(fd, uid, gid) < 0) {
        err_set(e, LIB_E_SYSTEM, "could not change owner of \"%s\": %s", tmp, strerror(errno));
        goto out;
    }
    /* Explicitly: the mode given to open() went through the umask. */
    if (fchmod(fd, mode) < 0) {
        err_set(e, LIB_E_SYSTEM, "could not set mode of \"%s\": %s", tmp, strerror(errno));
        goto out;
    }
    if (fsync(fd) < 0) {
        err_set(e, LIB_E_SYSTEM, "could not fsync \"%s\": %s", tmp, strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path) < 0) {
        err_set(e, LIB_E_SYSTEM, "could not rename \"%s\" to \"%s\": %s", tmp, path,
                strerror(errno));
        goto out;
    }
    created = false;
    if ((flags & FILEIO_SYNC_DIR) && fsync_dir_of(path) < 0) {
        err_set(e, LIB_E_SYSTEM, "could not fsync the directory of \"%s\": %s", path,
                strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (created)
        unlink(tmp);
    free(tmp);
    return rc;
}

char *fileio_read(const char *path, size_t max, int flags, struct err *e)
{
    struct buf b = BUF_INIT;
    char chunk[4096];
    struct stat st;
    char *ret = NULL;
    int fd = -1, saved = 0;

    if (flags & FILEIO_NOFOLLOW)
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    else
        fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        saved = errno;
        err_set(e,
                saved == ENOENT  ? LIB_E_NOENT
                : saved == ELOOP ? LIB_E_INVALID
                                 : LIB_E_SYSTEM,
                "could not open \"%s\": %s", path,
                saved == ELOOP && (flags & FILEIO_NOFOLLOW) ? "it is a symbolic link"
                                                            : strerror(saved));
        goto out;
    }
    if (flags & FILEIO_NOFOLLOW) {
        if (fstat(fd, &st) < 0) {
            saved = errno;
            err_set(e, LIB_E_SYSTEM, "could not stat \"%s\": %s", path, strerror(saved));
            goto out;
        }
        if (!S_ISREG(st.st_mode)) {
            saved = EINVAL;
            err_set(e, LIB_E_INVALID, "could not read \"%s\": not a regular file", path);
            goto out;
        }
        if (st.st_nlink != 1) {
            saved = EMLINK;
            err_set(e, LIB_E_INVALID, "could not read \"%s\": it has %ju links", path,
                    (uintmax_t)st.st_nlink);
            goto out;
        }
    }
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            saved = errno;
            err_set(e, LIB_E_SYSTEM, "could not read \"%s\": %s", path, strerror(saved));
            goto out;
        }
        if ((size_t)n > max - b.len) {
            saved = EFBIG;
            err_set(e, LIB_E_INVALID, "could not read \"%s\": larger than %zu bytes", path, max);
            goto out;
        }
        buf_append(&b, chunk, (size_t)n);
    }
    ret = buf_steal(&b);
out:
    if (fd >= 0)
        close(fd);
    buf_free(&b);
    if (!ret)
        errno = saved;
    return ret;
}

char *fileio_read_tail(const char *path, off_t from, size_t max)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    char *data = NULL, *nl;
    size_t done = 0;
    bool cut;

    if (fd < 0)
        return xstrdup("");
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
        close(fd);
        return xstrdup("");
    }
    if (from < 0 || from > st.st_size)
        from = 0;
    cut = (uint64_t)(st.st_size - from) > max;
    if (cut)
        from = st.st_size - (off_t)max;
    data = xmalloc(max + 1);
    if (lseek(fd, from, SEEK_SET) >= 0) {
        while (done < max) {
            ssize_t n = read(fd, data + done, max - done);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            done += (size_t)n;
        }
    }
    close(fd);
    data[done] = '\0';
    if (cut && (nl = strchr(data, '\n')) != NULL)
        memmove(data, nl + 1, strlen(nl + 1) + 1);
    return data;
}
