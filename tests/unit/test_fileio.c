/* Unit tests for lib/fileio: atomic writes (content, mode, owner, no temporary file left, a link
 * planted at the temporary name or at the target is never followed, failures leave nothing),
 * whole-file reads (limits, links, FIFOs, /proc) and log tails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/xalloc.h"

struct dir {
    char path[64];
};

static void dir_new(struct dir *d)
{
    snprintf(d->path, sizeof(d->path), "/tmp/test_fileio.XXXXXX");
    assert_non_null(mkdtemp(d->path));
}

static char *in(const struct dir *d, const char *name)
{
    return xasprintf("%s/%s", d->path, name);
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The content of path (following links), or NULL. */
static char *slurp(const char *path)
{
    return fileio_read(path, 1 << 20, 0, NULL);
}

static void rm_dir(struct dir *d, const char *const *names)
{
    for (size_t i = 0; names[i]; i++) {
        char *p = in(d, names[i]);
        unlink(p);
        free(p);
    }
    assert_int_equal(rmdir(d->path), 0);
}

static void test_write_content_and_mode(void **state)
{
    static const char *const names[] = {"a.conf", NULL};
    struct dir d;
    char *path, *tmp, *data;
    struct stat st;
    struct err e = {0};
    mode_t old = umask(077);

    (void)state;
    dir_new(&d);
    path = in(&d, "a.conf");
    tmp = xasprintf("%s.tmp", path);
    /* the mode is set exactly, whatever the umask */
    assert_int_equal(fileio_write_atomic(path, "x = 1\n", 6, 0644, FILEIO_KEEP_UID, FILEIO_KEEP_GID,
                                         FILEIO_SYNC_DIR, &e),
                     0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(st.st_size, 6);
    data = slurp(path);
    assert_string_equal(data, "x = 1\n");
    free(data);
    assert_int_not_equal(lstat(tmp, &st), 0);

    /* replacing: a new file (another inode) with the new content and mode */
    {
        struct stat before;
        assert_int_equal(stat(path, &before), 0);
        assert_int_equal(
            fileio_write_atomic(path, "y", 1, 0600, FILEIO_KEEP_UID, FILEIO_KEEP_GID, 0, &e), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_not_equal(st.st_ino, before.st_ino);
        assert_int_equal(st.st_mode & 07777, 0600);
        data = slurp(path);
        assert_string_equal(data, "y");
        free(data);
    }
    /* an empty file */
    assert_int_equal(
        fileio_write_atomic(path, "", 0, 0600, FILEIO_KEEP_UID, FILEIO_KEEP_GID, 0, &e), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_int_not_equal(lstat(tmp, &st), 0);
    umask(old);
    free(path);
    free(tmp);
    rm_dir(&d, names);
}

/* A relative path without a directory part (its directory is ".") */
static void test_write_relative(void **state)
{
    static const char *const names[] = {"rel", NULL};
    struct dir d;
    struct err e = {0};
    char cwd[4096], *data;

    (void)state;
    dir_new(&d);
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(d.path), 0);
    assert_int_equal(fileio_write_atomic("rel", "r", 1, 0600, FILEIO_KEEP_UID, FILEIO_KEEP_GID,
                                         FILEIO_SYNC_DIR, &e),
                     0);
    data = slurp("rel");
    assert_string_equal(data, "r");
    free(data);
    assert_int_equal(chdir(cwd), 0);
    rm_dir(&d, names);
}

/* Links planted in the directory: at the temporary name (replaced, never followed) and at the
 * target (the link itself is replaced; what it points to is untouched). */
static void test_write_refuses_links(void **state)
{
    static const char *const names[] = {"a.conf", "a.conf.tmp", "victim", "b.conf", NULL};
    struct dir d;
    char *path, *tmp, *victim, *b, *data;
    struct stat st;
    struct err e = {0};

    (void)state;
    dir_new(&d);
    path = in(&d, "a.conf");
    tmp = in(&d, "a.conf.tmp");
    victim = in(&d, "victim");
    b = in(&d, "b.conf");
    put(victim, "keep me");
    assert_int_equal(symlink(victim, tmp), 0);
    assert_int_equal(
        fileio_write_atomic(path, "x = 1\n", 6, 0600, FILEIO_KEEP_UID, FILEIO_KEEP_GID, 0, &e), 0);
    data = slurp(victim);
    assert_string_equal(data, "keep me");
    free(data);
    data = slurp(path);
    assert_string_equal(data, "x = 1\n");
    free(data);
    assert_int_not_equal(lstat(tmp, &st), 0);

    assert_int_equal(symlink(victim, b), 0);
    assert_int_equal(
        fileio_write_atomic(b, "new", 3, 0600, FILEIO_KEEP_UID, FILEIO_KEEP_GID, 0, &e), 0);
    assert_int_equal(lstat(b, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    data = slurp(victim);
    assert_string_equal(data, "keep me");
    free(data);

    /* reading with FILEIO_NOFOLLOW refuses the link */
    assert_int_equal(symlink(victim, tmp), 0);
    errno = 0;
    assert_null(fileio_read(tmp, 100, FILEIO_NOFOLLOW, &e));
    assert_int_equal(errno, ELOOP);
    assert_int_equal(e.code, LIB_E_INVALID);
    assert_non_null(strstr(e.msg, "symbolic link"));
    /* and without it follows */
    data = fileio_read(tmp, 100, 0, &e);
    assert_string_equal(data, "keep me");
    free(data);
    free(path);
    free(tmp);
    free(victim);
    free(b);
    rm_dir(&d, names);
}

static void test_write_owner(void **state)
{
    static const char *const names[] = {"owned", NULL};
    struct dir d;
    char *path;
    struct stat st;
    struct err e = {0};

    (void)state;
    if (geteuid() != 0)
        skip();
    dir_new(&d);
    path = in(&d, "owned");
    assert_int_equal(fileio_write_atomic(path, "s", 1, 0640, 65534, 65534, 0, &e), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_uid, 65534);
    assert_int_equal(st.st_gid, 65534);
    assert_int_equal(st.st_mode & 07777, 0640);
    /* the group only */
    assert_int_equal(fileio_write_atomic(path, "s", 1, 0640, FILEIO_KEEP_UID, 65534, 0, &e), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_uid, 0);
    assert_int_equal(st.st_gid, 65534);
    free(path);
    rm_dir(&d, names);
}

/* Failures leave the target as it was and no temporary file. */
static void test_write_failures(void **state)
{
    static const char *const names[] = {"sub/x", NULL};
    struct dir d;
    char *path, *tmp, *sub, *x;
    struct stat st;
    struct err e = {0};

    (void)state;
    dir_new(&d);
    path = in(&d, "missing/a.conf");
    assert_int_equal(
        fileio_write_atomic(path, "x", 1, 0600, FILEIO_KEEP_UID, FILEIO_KEEP_GID, 0, &e), -1);
    assert_int_equal(e.code, LIB_E_NOENT);
    assert_non_null(strstr(e.msg, "could not create"));
    free(path);

    /* the rename fails: the target is a directory that is not empty */
    sub = in(&d, "sub");
    x = in(&d, "sub/x");
    assert_int_equal(mkdir(sub, 0700), 0);
    put(x, "x");
    tmp = xasprintf("%s.tmp", sub);
    err_clear(&e);
    assert_int_equal(
        fileio_write_atomic(sub, "x", 1, 0600, FILEIO_KEEP_UID, FILEIO_KEEP_GID, 0, &e), -1);
    assert_int_equal(e.code, LIB_E_SYSTEM);
    assert_non_null(strstr(e.msg, "could not rename"));
    assert_int_not_equal(lstat(tmp, &st), 0);
    assert_int_equal(stat(sub, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    unlink(x);
    rmdir(sub);
    free(sub);
    free(x);
    free(tmp);
    rm_dir(&d, names);
}

static void test_read(void **state)
{
    static const char *const names[] = {"f", "fifo", NULL};
    struct dir d;
    char *f, *fifo, *data;
    struct err e = {0};

    (void)state;
    dir_new(&d);
    f = in(&d, "f");
    fifo = in(&d, "fifo");
    put(f, "0123456789");
    data = fileio_read(f, 10, FILEIO_NOFOLLOW, &e);
    assert_string_equal(data, "0123456789");
    free(data);
    errno = 0;
    assert_null(fileio_read(f, 9, FILEIO_NOFOLLOW, &e));
    assert_int_equal(errno, EFBIG);
    assert_int_equal(e.code, LIB_E_INVALID);
    /* a second link (planted in a directory another user owns) is refused */
    {
        char *hard = in(&d, "hard");
        assert_int_equal(link(f, hard), 0);
        errno = 0;
        assert_null(fileio_read(f, 10, FILEIO_NOFOLLOW, &e));
        assert_int_equal(errno, EMLINK);
        assert_non_null(strstr(e.msg, "2 links"));
        data = fileio_read_tail(f, 0, 100);
        assert_string_equal(data, "");
        free(data);
        data = fileio_read(f, 10, 0, &e); /* without FILEIO_NOFOLLOW: read */
        assert_string_equal(data, "0123456789");
        free(data);
        unlink(hard);
        free(hard);
    }
    put(f, "");
    data = fileio_read(f, 0, 0, &e);
    assert_string_equal(data, "");
    free(data);

    /* missing: ENOENT kept for the caller */
    unlink(f);
    errno = 0;
    assert_null(fileio_read(f, 10, 0, &e));
    assert_int_equal(errno, ENOENT);
    assert_int_equal(e.code, LIB_E_NOENT);
    assert_null(fileio_read(f, 10, 0, NULL));

    /* a FIFO is refused without blocking */
    assert_int_equal(mkfifo(fifo, 0600), 0);
    errno = 0;
    assert_null(fileio_read(fifo, 10, FILEIO_NOFOLLOW, &e));
    assert_int_equal(errno, EINVAL);
    assert_non_null(strstr(e.msg, "not a regular file"));

    /* /proc files say size 0 but read whole */
    data = fileio_read("/proc/self/stat", SIZE_MAX, 0, &e);
    assert_non_null(data);
    assert_true(strlen(data) > 20);
    free(data);
    free(f);
    free(fifo);
    rm_dir(&d, names);
}

static void test_read_tail(void **state)
{
    static const char *const names[] = {"log", "link", NULL};
    struct dir d;
    char *log, *link, *t;

    (void)state;
    dir_new(&d);
    log = in(&d, "log");
    link = in(&d, "link");
    put(log, "first line\nsecond line\nthird\n");
    t = fileio_read_tail(log, 0, 1000);
    assert_string_equal(t, "first line\nsecond line\nthird\n");
    free(t);
    /* from an offset */
    t = fileio_read_tail(log, 11, 1000);
    assert_string_equal(t, "second line\nthird\n");
    free(t);
    /* past the end: the whole log */
    t = fileio_read_tail(log, 1000, 1000);
    assert_string_equal(t, "first line\nsecond line\nthird\n");
    free(t);
    /* cut: from the start of a line */
    t = fileio_read_tail(log, 0, 15);
    assert_string_equal(t, "third\n");
    free(t);
    /* missing, or a link: "" */
    assert_int_equal(symlink(log, link), 0);
    t = fileio_read_tail(link, 0, 1000);
    assert_string_equal(t, "");
    free(t);
    unlink(log);
    t = fileio_read_tail(log, 0, 1000);
    assert_string_equal(t, "");
    free(t);
    free(log);
    free(link);
    rm_dir(&d, names);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_content_and_mode),
        cmocka_unit_test(test_write_relative),
        cmocka_unit_test(test_write_refuses_links),
        cmocka_unit_test(test_write_owner),
        cmocka_unit_test(test_write_failures),
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_read_tail),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
