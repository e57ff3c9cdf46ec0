/* Unit tests for the seed protocol and server (agent/seedproto.c, agent/seedsrv.c) and the
 * seed-fetch command (agent/seedcmd.c): the HMAC handshake (valid, wrong secret, wrong member,
 * a replayed proof), and a whole stream over loopback TCP from a fake source (`cat FILE`) into
 * a program run by seed-fetch, as a replica's seeding step does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/seedcmd.h"
#include "agent/seedproto.h"
#include "agent/seedsrv.h"
#include "lib/fileio.h"
#include "lib/spawn.h"

#define SECRET "correct horse battery staple"

/* The primary's side of the test: member 11 serves replica 12 with SECRET. */
static int lookup(void *arg, int64_t primary, int64_t replica, char **secret, struct err *e)
{
    (void)arg;
    if (primary != 11)
        return err_set(e, AGENT_E_DENIED, "member %lld is not a running primary of this agent",
                       (long long)primary);
    if (replica != 12)
        return err_set(e, AGENT_E_DENIED, "member %lld is not a replica of member 11",
                       (long long)replica);
    *secret = strdup(SECRET);
    return 0;
}

struct server_run {
    int fd;
    int rc;
    int64_t primary, replica;
    struct err e;
};

static void *server_thread(void *arg)
{
    struct server_run *r = arg;

    r->rc = seedproto_server(r->fd, lookup, NULL, 2000, &r->primary, &r->replica, &r->e);
    if (seedproto_write_all(r->fd, r->rc == 0 ? "OK\n" : "ERR denied\n", r->rc == 0 ? 3 : 11, 2000,
                            &r->e) < 0)
        r->rc = -2;
    return NULL;
}

/* One handshake over a socket pair; returns the client's result, the server's in *srv. */
static int handshake(const char *secret, int64_t primary, int64_t replica, struct server_run *srv,
                     struct err *e)
{
    int sv[2];
    pthread_t t;
    int rc;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    memset(srv, 0, sizeof(*srv));
    srv->fd = sv[0];
    assert_int_equal(pthread_create(&t, NULL, server_thread, srv), 0);
    rc = seedproto_client(sv[1], secret, primary, replica, 2000, e);
    pthread_join(t, NULL);
    close(sv[0]);
    close(sv[1]);
    return rc;
}

static void test_handshake(void **state)
{
    struct server_run srv;
    struct err e;

    (void)state;
    /* valid */
    assert_int_equal(handshake(SECRET, 11, 12, &srv, &e), 0);
    assert_int_equal(srv.rc, 0);
    assert_int_equal(srv.primary, 11);
    assert_int_equal(srv.replica, 12);

    /* wrong secret: refused, and the server's reason does not quote either secret */
    assert_int_equal(handshake("correct horse battery stapler", 11, 12, &srv, &e), -1);
    assert_int_equal(e.code, AGENT_E_DENIED);
    assert_string_equal(e.msg, "the seed server refused: denied");
    assert_int_equal(srv.rc, -1);
    assert_int_equal(srv.e.code, AGENT_E_DENIED);
    assert_non_null(strstr(srv.e.msg, "did not prove"));
    assert_null(strstr(srv.e.msg, "horse"));

    /* wrong member: another primary, or a replica the primary does not serve */
    assert_int_equal(handshake(SECRET, 10, 12, &srv, &e), -1);
    assert_int_equal(e.code, AGENT_E_DENIED);
    assert_non_null(strstr(srv.e.msg, "not a running primary"));
    assert_int_equal(handshake(SECRET, 11, 13, &srv, &e), -1);
    assert_non_null(strstr(srv.e.msg, "not a replica"));
}

/* The proof binds the nonce and both members: changing any one changes it. */
static void test_mac(void **state)
{
    unsigned char nonce[SEEDPROTO_NONCE_LEN], other[SEEDPROTO_NONCE_LEN];
    char a[SEEDPROTO_MAC_HEX + 1], b[SEEDPROTO_MAC_HEX + 1];

    (void)state;
    memset(nonce, 7, sizeof(nonce));
    memcpy(other, nonce, sizeof(nonce));
    other[31] ^= 1;
    seedproto_mac(SECRET, nonce, 11, 12, a);
    assert_int_equal(strlen(a), 64);
    seedproto_mac(SECRET, nonce, 11, 12, b);
    assert_string_equal(a, b);
    seedproto_mac(SECRET, other, 11, 12, b);
    assert_string_not_equal(a, b);
    seedproto_mac(SECRET, nonce, 12, 11, b);
    assert_string_not_equal(a, b);
    seedproto_mac(SECRET, nonce, 1, 112, b); /* no ambiguity of concatenated decimals */
    assert_string_not_equal(a, b);
    seedproto_mac("x", nonce, 11, 12, b);
    assert_string_not_equal(a, b);
}

/* A peer that says nothing: the handshake fails after its deadline, not never. */
static void test_handshake_timeout(void **state)
{
    int sv[2];
    struct err e;

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(seedproto_client(sv[1], SECRET, 11, 12, 200, &e), -1);
    assert_non_null(strstr(e.msg, "timed out"));
    close(sv[0]);
    close(sv[1]);
}

/* ---- the server over loopback TCP, with `cat FILE` as the source ---- */

struct fake {
    const char *file;
    int started, finished, complete;
    pid_t pid;
};

static int fake_start(void *arg, int64_t primary, int64_t replica, int *fd, void **h, struct err *e)
{
    struct fake *f = arg;
    char *argv[] = {"/bin/cat", (char *)f->file, NULL};
    struct spawn_opts o = SPAWN_OPTS_INIT;
    int p[2];

    (void)primary;
    (void)replica;
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    o.argv = argv;
    o.out_fd = p[1];
    if (spawn_start(&o, &f->pid, e) < 0)
        return -1;
    close(p[1]);
    *fd = p[0];
    *h = f;
    f->started++;
    return 0;
}

static int fake_finish(void *arg, void *h, bool complete, struct err *e)
{
    struct fake *f = arg;
    int status;

    assert_ptr_equal(h, f);
    if (!complete)
        kill(f->pid, SIGKILL);
    waitpid(f->pid, &status, 0);
    f->finished++;
    f->complete += complete;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0
                                                         : err_set(e, AGENT_E_SEED, "cat failed");
}

static const struct seedsrv_ops fake_ops = {lookup, fake_start, fake_finish, NULL};

static char *tmpdir(void)
{
    char tmpl[] = "/tmp/test-seed-XXXXXX";

    assert_non_null(mkdtemp(tmpl));
    return strdup(tmpl);
}

/* A port free on loopback now. */
static int free_port(void)
{
    for (int port = 24000 + (getpid() % 4000);; port++) {
        struct err e;
        struct seedsrv *s = seedsrv_start("127.0.0.1", port, &fake_ops, NULL, &e);
        if (s) {
            seedsrv_stop(s);
            return port;
        }
    }
}

static void test_stream(void **state)
{
    char *dir = tmpdir(), *src = NULL, *out = NULL, *secret = NULL, *status = NULL, *got;
    struct fake f = {0};
    struct seedsrv *s;
    struct err e;
    int port = free_port();
    char from[64], buf[4096];
    FILE *fp;

    (void)state;
    assert_true(asprintf(&src, "%s/source", dir) > 0);
    assert_true(asprintf(&out, "%s/copy", dir) > 0);
    assert_true(asprintf(&secret, "%s/seed.secret", dir) > 0);
    assert_true(asprintf(&status, "%s/seed.status", dir) > 0);
    /* 3 MiB of varied bytes */
    fp = fopen(src, "w");
    for (int i = 0; i < 3 * 256; i++) {
        for (size_t k = 0; k < sizeof(buf); k++)
            buf[k] = (char)(i * 31 + k * 7);
        fwrite(buf, 1, sizeof(buf), fp);
    }
    fclose(fp);
    assert_int_equal(fileio_write_atomic(secret, SECRET "\n", strlen(SECRET) + 1, 0600,
                                         FILEIO_KEEP_UID, FILEIO_KEEP_GID, 0, &e),
                     0);
    f.file = src;
    s = seedsrv_start("127.0.0.1", port, &fake_ops, &f, &e);
    assert_non_null(s);
    snprintf(from, sizeof(from), "127.0.0.1:%d", port);

    /* seed-fetch in a child, as a seeding step runs it: PROGRAM reads the stream on stdin */
    {
        pid_t pid = fork();
        int st;
        assert_true(pid >= 0);
        if (pid == 0) {
            char *argv[] = {"seed-fetch",
                            "--from",
                            from,
                            "--primary",
                            "11",
                            "--replica",
                            "12",
                            "--secret-file",
                            secret,
                            "--status-file",
                            status,
                            "--",
                            "/bin/sh",
                            "-c",
                            "exec cat > \"$0\"",
                            out,
                            NULL};
            _exit(seedcmd_fetch_main(16, argv));
        }
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    got = fileio_read(status, 64, 0, &e);
    assert_string_equal(got, "exit 0\n");
    free(got);
    {
        char *a = fileio_read(src, SIZE_MAX, 0, &e), *b = fileio_read(out, SIZE_MAX, 0, &e);
        assert_non_null(a);
        assert_non_null(b);
        assert_int_equal(strlen(a), strlen(b));
        assert_memory_equal(a, b, strlen(a));
        free(a);
        free(b);
    }
    assert_int_equal(f.started, 1);

    /* a wrong secret: seed-fetch fails before PROGRAM runs, and says so in its status */
    assert_int_equal(
        fileio_write_atomic(secret, "nope", 4, 0600, FILEIO_KEEP_UID, FILEIO_KEEP_GID, 0, &e), 0);
    {
        pid_t pid = fork();
        int st;
        if (pid == 0) {
            char *argv[] = {"seed-fetch", "--from",
                            from,         "--primary",
                            "11",         "--replica",
                            "12",         "--secret-file",
                            secret,       "--status-file",
                            status,       "--",
                            "/bin/true",  NULL};
            int fd = open("/dev/null", O_WRONLY);
            dup2(fd, STDERR_FILENO);
            _exit(seedcmd_fetch_main(13, argv));
        }
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_int_equal(WEXITSTATUS(st), 1);
    }
    got = fileio_read(status, 64, 0, &e);
    assert_string_equal(got, "exit 1\n");
    free(got);
    assert_int_equal(f.started, 1); /* no source started for it */

    /* a program that fails: its status is seed-fetch's */
    {
        pid_t pid = fork();
        int st;
        if (pid == 0) {
            char *argv[] = {"seed-fetch", "--status-file", status, "--", "/bin/sh",
                            "-c",         "exit 3",        NULL};
            _exit(seedcmd_fetch_main(7, argv));
        }
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_int_equal(WEXITSTATUS(st), 3);
    }
    got = fileio_read(status, 64, 0, &e);
    assert_string_equal(got, "exit 3\n");
    free(got);

    seedsrv_stop(s);
    assert_int_equal(f.finished, 1);
    assert_int_equal(f.complete, 1);
    unlink(src);
    unlink(out);
    unlink(secret);
    unlink(status);
    rmdir(dir);
    free(src);
    free(out);
    free(secret);
    free(status);
    free(dir);
}

/* A replica that stops reading mid-stream: the server's relay ends (the client closed),
 * the source is finished as incomplete, and the server serves the replica again afterwards. */
static void test_stream_abandoned(void **state)
{
    struct fake f = {0};
    struct seedsrv *s;
    struct err e;
    int port = free_port(), fd;
    char buf[1024];

    (void)state;
    f.file = "/dev/zero"; /* endless */
    s = seedsrv_start("127.0.0.1", port, &fake_ops, &f, &e);
    assert_non_null(s);
    fd = seedsrv_connect("127.0.0.1", port, 2000, &e);
    assert_true(fd >= 0);
    assert_int_equal(seedproto_client(fd, SECRET, 11, 12, 2000, &e), 0);
    assert_true(read(fd, buf, sizeof(buf)) > 0);
    close(fd);
    for (int i = 0; i < 200 && f.finished == 0; i++)
        usleep(10000);
    assert_int_equal(f.finished, 1);
    assert_int_equal(f.complete, 0);
    fd = seedsrv_connect("127.0.0.1", port, 2000, &e);
    assert_int_equal(seedproto_client(fd, SECRET, 11, 12, 2000, &e), 0);
    close(fd);
    seedsrv_stop(s);
    assert_int_equal(f.started, 2);
    assert_int_equal(f.finished, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake),         cmocka_unit_test(test_mac),
        cmocka_unit_test(test_handshake_timeout), cmocka_unit_test(test_stream),
        cmocka_unit_test(test_stream_abandoned),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
