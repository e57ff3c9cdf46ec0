/* Unit tests for lib/spawn: starting a program (and failing to, leaving nothing behind), the
 * environment, the tool runner (status and last lines of a failing tool, a deadline that kills a
 * hung one and its session, a copy of the output), and, as root, a program run as "nobody" with
 * a hook that runs before its exec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/fileio.h"
#include "lib/proc.h"
#include "lib/spawn.h"
#include "lib/xalloc.h"

/* No child of ours is left, zombie or not. */
static void assert_no_children(void)
{
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

static void test_start_and_reap(void **state)
{
    char *argv[] = {"/bin/sh", "-c", "exit 7", NULL};
    struct spawn_opts o = SPAWN_OPTS_INIT;
    struct err e = {0};
    pid_t pid = 0;
    int status = 0;

    (void)state;
    o.argv = argv;
    assert_int_equal(spawn_start(&o, &pid, &e), 0);
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 7);
    assert_no_children();
}

/* Failures before exec come back as errors, with the child reaped. */
static void test_start_failures(void **state)
{
    char *missing[] = {"/nonexistent/program", NULL};
    char *sh[] = {"/bin/sh", "-c", "exit 0", NULL};
    struct spawn_opts o = SPAWN_OPTS_INIT;
    struct err e = {0};
    pid_t pid = 0;

    (void)state;
    o.argv = missing;
    assert_int_equal(spawn_start(&o, &pid, &e), -1);
    assert_int_equal(e.code, LIB_E_SYSTEM);
    assert_string_equal(e.msg,
                        "could not execute \"/nonexistent/program\": No such file or directory");
    assert_no_children();

    o.argv = sh;
    o.workdir = "/nonexistent-dir";
    assert_int_equal(spawn_start(&o, &pid, &e), -1);
    assert_non_null(strstr(e.msg, "could not enter directory \"/nonexistent-dir\""));
    assert_no_children();

    o.workdir = NULL;
    o.argv = NULL;
    assert_int_equal(spawn_start(&o, &pid, &e), -1);
    assert_int_equal(e.code, LIB_E_INVALID);
}

/* stdin from in_fd, stdout on out_fd and stderr apart on err_fd: a stream and a log. */
static void test_start_stdio_fds(void **state)
{
    char *argv[] = {"/bin/sh", "-c", "cat; echo log >&2", NULL};
    struct spawn_opts o = SPAWN_OPTS_INIT;
    struct err e = {0};
    int in[2], out[2], errp[2];
    char buf[64];
    ssize_t n;
    pid_t pid = 0;

    (void)state;
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(errp, O_CLOEXEC), 0);
    o.argv = argv;
    o.in_fd = in[0];
    o.out_fd = out[1];
    o.err_fd = errp[1];
    assert_int_equal(spawn_start(&o, &pid, &e), 0);
    close(in[0]);
    close(out[1]);
    close(errp[1]);
    assert_int_equal(write(in[1], "stream", 6), 6);
    close(in[1]);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    n = read(out[0], buf, sizeof(buf) - 1);
    assert_int_equal(n, 6);
    buf[n] = '\0';
    assert_string_equal(buf, "stream");
    n = read(errp[0], buf, sizeof(buf) - 1);
    assert_int_equal(n, 4);
    buf[n] = '\0';
    assert_string_equal(buf, "log\n");
    close(out[0]);
    close(errp[0]);
    assert_no_children();
}

/* program, environment, working directory, umask and output fd reach the program. */
static void test_start_settings(void **state)
{
    char dir[] = "/tmp/test_spawn.XXXXXX";
    char *argv[] = {"called-so", "-c", "echo $0 $FOO $(pwd) $(umask)", NULL};
    char *envp[] = {"FOO=bar", "PATH=/usr/bin:/bin", NULL};
    struct spawn_opts o = SPAWN_OPTS_INIT;
    struct err e = {0};
    char *log, *text;
    pid_t pid = 0;
    int fd;

    (void)state;
    assert_non_null(mkdtemp(dir));
    log = xasprintf("%s/out.log", dir);
    fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    o.program = "/bin/sh";
    o.argv = argv;
    o.envp = envp;
    o.workdir = dir;
    o.out_fd = fd;
    o.umask = 027;
    assert_int_equal(spawn_start(&o, &pid, &e), 0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    close(fd);
    text = fileio_read(log, 4096, 0, &e);
    assert_non_null(text);
    {
        char *want = xasprintf("called-so bar %s 0027\n", dir);
        assert_string_equal(text, want);
        free(want);
    }
    free(text);
    unlink(log);
    free(log);
    rmdir(dir);
}

static void test_env(void **state)
{
    char *base[] = {"A=1", "HOME=/old", "USER=old", "LOGNAME=old", "B=2", NULL};
    struct osuser u;
    char **env;

    (void)state;
    memset(&u, 0, sizeof(u));
    snprintf(u.name, sizeof(u.name), "svc");
    snprintf(u.home, sizeof(u.home), "/var/lib/svc");
    env = spawn_env_new(base, &u);
    assert_string_equal(env[0], "A=1");
    assert_string_equal(env[1], "B=2");
    assert_string_equal(env[2], "HOME=/var/lib/svc");
    assert_string_equal(env[3], "USER=svc");
    assert_string_equal(env[4], "LOGNAME=svc");
    assert_null(env[5]);
    spawn_env_free(env);

    /* no user: the base unchanged */
    env = spawn_env_new(base, NULL);
    for (int i = 0; base[i]; i++)
        assert_string_equal(env[i], base[i]);
    assert_null(env[5]);
    spawn_env_free(env);
    spawn_env_free(NULL);
}

static void test_run_tool_failure(void **state)
{
    char *argv[] = {"/bin/sh", "-c", "echo a; echo b >&2; echo; exit 3", NULL};
    char *many[] = {"/bin/sh", "-c", "for i in 1 2 3 4 5 6; do echo line$i; done; kill -9 $$",
                    NULL};
    char *ok[] = {"/bin/sh", "-c", "echo fine", NULL};
    struct spawn_opts o = SPAWN_OPTS_INIT;
    struct err e = {0};

    (void)state;
    o.argv = argv;
    assert_int_equal(spawn_run_tool(&o, 10000, "sh", &e), -1);
    assert_int_equal(e.code, LIB_E_TOOL);
    assert_string_equal(e.msg, "sh exited with status 3: a; b");

    o.argv = many;
    assert_int_equal(spawn_run_tool(&o, 10000, "the loop", &e), -1);
    assert_int_equal(e.code, LIB_E_TOOL);
    assert_string_equal(e.msg,
                        "the loop was killed by signal 9 (Killed): line3; line4; line5; line6");

    o.argv = ok;
    err_clear(&e);
    assert_int_equal(spawn_run_tool(&o, 10000, "sh", &e), 0);
    assert_int_equal(e.code, 0);
    assert_no_children();
}

static void test_run_output(void **state)
{
    char dir[] = "/tmp/test_spawn.XXXXXX";
    char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; head -c 20000 /dev/zero | tr '\\0' x",
                    NULL};
    struct spawn_opts o = SPAWN_OPTS_INIT;
    struct buf out = BUF_INIT;
    struct err e = {0};
    char *log, *copy;
    int status = -1, fd;

    (void)state;
    assert_non_null(mkdtemp(dir));
    log = xasprintf("%s/tee.log", dir);
    fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    buf_puts(&out, "before:");
    o.argv = argv;
    o.out_fd = fd;
    assert_int_equal(spawn_run(&o, 10000, &out, &status, &e), 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* what was in out stays; of the output only the tail is kept */
    assert_memory_equal(out.data, "before:", 7);
    assert_int_equal(out.len, 7 + SPAWN_OUTPUT_TAIL);
    assert_int_equal(out.data[out.len - 1], 'x');
    close(fd);
    /* the copy is whole */
    copy = fileio_read(log, 1 << 20, 0, &e);
    assert_non_null(copy);
    assert_int_equal(strlen(copy), 8 + 20000);
    assert_memory_equal(copy, "out\nerr\n", 8);
    free(copy);
    buf_free(&out);
    unlink(log);
    free(log);
    rmdir(dir);
}

/* A hung tool is killed at the deadline with its whole session. */
static void test_run_deadline(void **state)
{
    char *argv[] = {"/bin/sh", "-c", "sleep 60 & echo $!; wait", NULL};
    struct spawn_opts o = SPAWN_OPTS_INIT;
    struct buf out = BUF_INIT;
    struct err e = {0};
    int64_t t0, took;
    int status = -1;
    long sleeper;

    (void)state;
    o.argv = argv;
    t0 = clock_now_ms();
    assert_int_equal(spawn_run(&o, 300, &out, &status, &e), -1);
    took = clock_now_ms() - t0;
    assert_int_equal(e.code, LIB_E_TIMEOUT);
    assert_string_equal(e.msg, "\"/bin/sh\" timed out after 300 ms");
    assert_true(took >= 300);
    assert_true(took < 5000);
    assert_no_children();
    /* the background sleep of its session is gone too (killed; a zombie counts as gone) */
    sleeper = strtol(buf_str(&out), NULL, 10);
    assert_true(sleeper > 0);
    for (int i = 0; i < 500 && proc_alive((pid_t)sleeper, 0); i++)
        clock_sleep_ms(10);
    assert_false(proc_alive((pid_t)sleeper, 0));
    buf_free(&out);

    o.argv = (char *[]){"/bin/sleep", "60", NULL};
    assert_int_equal(spawn_run_tool(&o, 200, "sleep", &e), -1);
    assert_int_equal(e.code, LIB_E_TIMEOUT);
    assert_no_children();
}

/* ---- as root: another user, and the hook ---- */

struct hook_state {
    int calls;
    bool before_exec; /* the child still ran our program when the hook ran */
    bool fail;
    char marker[128]; /* created by the hook; the program checks it is there */
};

static int hook(void *arg, pid_t pid, struct err *e)
{
    struct hook_state *h = arg;
    char self[PATH_MAX], child[PATH_MAX], path[64];
    ssize_t a, b;
    int fd;

    h->calls++;
    /* give an exec that would not wait for us the time to happen */
    clock_sleep_ms(100);
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    a = readlink("/proc/self/exe", self, sizeof(self) - 1);
    b = readlink(path, child, sizeof(child) - 1);
    h->before_exec = a > 0 && a == b && memcmp(self, child, (size_t)a) == 0;
    if (h->fail)
        return err_set(e, LIB_E_INVALID, "the hook refused process %d", (int)pid);
    fd = open(h->marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return err_set(e, LIB_E_SYSTEM, "could not create \"%s\"", h->marker);
    close(fd);
    return 0;
}

static void test_as_user_with_hook(void **state)
{
    char dir[] = "/tmp/test_spawn.XXXXXX";
    struct hook_state h = {0};
    struct spawn_opts o = SPAWN_OPTS_INIT;
    struct osuser nobody;
    struct buf out = BUF_INIT;
    struct err e = {0};
    char *script, **env, *want;
    char *argv[] = {"/bin/sh", "-c", NULL, NULL};
    int status = -1;

    (void)state;
    if (geteuid() != 0)
        skip();
    assert_int_equal(osuser_lookup("nobody", &nobody, &e), 0);
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0755), 0);
    snprintf(h.marker, sizeof(h.marker), "%s/marker", dir);
    script = xasprintf("test -e %s || echo no-marker; echo $(id -u) $(id -g) $(id -G) $HOME "
                       "$USER $LOGNAME $(pwd) $(umask) $(cat /proc/self/status | grep -c "
                       "'^CapEff:.0000000000000000$')",
                       h.marker);
    argv[2] = script;
    env = spawn_env_new(NULL, &nobody);
    o.argv = argv;
    o.envp = env;
    o.user = &nobody;
    o.workdir = "/";
    o.umask = 077;
    o.hook = hook;
    o.hook_arg = &h;
    assert_int_equal(spawn_run(&o, 10000, &out, &status, &e), 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(h.calls, 1);
    assert_true(h.before_exec);
    want = xasprintf("%u %u %u %s nobody nobody / 0077 1\n", (unsigned)nobody.uid,
                     (unsigned)nobody.gid, (unsigned)nobody.gid, nobody.home);
    assert_string_equal(buf_str(&out), want);
    free(want);
    unlink(h.marker);

    /* a failing hook cancels the start: its error, no process left */
    h.fail = true;
    assert_int_equal(spawn_run(&o, 10000, &out, &status, &e), -1);
    assert_int_equal(e.code, LIB_E_INVALID);
    assert_non_null(strstr(e.msg, "the hook refused process"));
    assert_int_equal(h.calls, 2);
    assert_no_children();

    /* a directory the user may not enter */
    {
        char *closed = xasprintf("%s/closed", dir);
        assert_int_equal(mkdir(closed, 0700), 0);
        o.hook = NULL;
        o.workdir = closed;
        assert_int_equal(spawn_run(&o, 10000, &out, &status, &e), -1);
        assert_int_equal(e.code, LIB_E_SYSTEM);
        assert_non_null(strstr(e.msg, "could not enter directory"));
        assert_non_null(strstr(e.msg, "as user \"nobody\": Permission denied"));
        assert_no_children();
        rmdir(closed);
        free(closed);
    }
    spawn_env_free(env);
    free(script);
    buf_free(&out);
    rmdir(dir);
}

/* The parent-death signal reaches the program when the process that started it dies. */
static void test_pdeath_signal(void **state)
{
    int p[2];
    pid_t mid, grandchild = 0;

    (void)state;
    assert_int_equal(pipe(p), 0);
    mid = fork();
    assert_true(mid >= 0);
    if (mid == 0) {
        char *argv[] = {"/bin/sleep", "60", NULL};
        struct spawn_opts o = SPAWN_OPTS_INIT;
        struct err e = {0};
        pid_t pid = 0;

        o.argv = argv;
        o.pdeath_signal = SIGKILL;
        if (spawn_start(&o, &pid, &e) != 0 || write(p[1], &pid, sizeof(pid)) != sizeof(pid))
            _exit(1);
        _exit(0);
    }
    close(p[1]);
    assert_int_equal(read(p[0], &grandchild, sizeof(grandchild)), sizeof(grandchild));
    close(p[0]);
    assert_int_equal(waitpid(mid, NULL, 0), mid);
    assert_true(grandchild > 0);
    for (int i = 0; i < 500 && proc_alive(grandchild, 0); i++)
        clock_sleep_ms(10);
    assert_false(proc_alive(grandchild, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_and_reap),   cmocka_unit_test(test_start_failures),
        cmocka_unit_test(test_start_settings),   cmocka_unit_test(test_env),
        cmocka_unit_test(test_run_tool_failure), cmocka_unit_test(test_run_output),
        cmocka_unit_test(test_run_deadline),     cmocka_unit_test(test_as_user_with_hook),
        cmocka_unit_test(test_pdeath_signal),    cmocka_unit_test(test_start_stdio_fds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
