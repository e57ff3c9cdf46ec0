/* The seed-fetch and seed-source commands of the agent binary (agent/seedcmd.h). Errors go to
 * stderr (the step's log), one line each; the secret is never printed. */
#include "agent/seedcmd.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/seedproto.h"
#include "agent/seedsrv.h"
#include "lib/fileio.h"

#define CONNECT_MS 10000
#define STREAM_RECV_S 120 /* a read of the stream by PROGRAM fails after this long idle */

static volatile pid_t child_pid;

static void pass_on(int sig)
{
    if (child_pid > 0)
        kill(child_pid, sig);
}

/* Options common to both commands; pointers into argv. */
struct opts {
    const char *from, *primary, *replica, *secret_file, *status_file, *fifo;
    char **program; /* after "--" */
};

static int parse(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 1; i < argc; i++) {
        const char **slot = NULL;
        if (strcmp(argv[i], "--") == 0) {
            if (i + 1 < argc)
                o->program = &argv[i + 1];
            break;
        }
        if (strcmp(argv[i], "--from") == 0)
            slot = &o->from;
        else if (strcmp(argv[i], "--primary") == 0)
            slot = &o->primary;
        else if (strcmp(argv[i], "--replica") == 0)
            slot = &o->replica;
        else if (strcmp(argv[i], "--secret-file") == 0)
            slot = &o->secret_file;
        else if (strcmp(argv[i], "--status-file") == 0)
            slot = &o->status_file;
        else if (strcmp(argv[i], "--fifo") == 0)
            slot = &o->fifo;
        if (!slot || i + 1 >= argc) {
            fprintf(stderr, "%s: unknown or incomplete option \"%s\"\n", argv[0], argv[i]);
            return -1;
        }
        *slot = argv[++i];
    }
    if (!o->program) {
        fprintf(stderr, "%s: no program after \"--\"\n", argv[0]);
        return -1;
    }
    return 0;
}

/* Write how the program ended to path ("exit N" / "signal N"). */
static void write_status(const char *path, int status)
{
    char text[32];
    int fd, n;

    if (!path)
        return;
    n = WIFSIGNALED(status) ? snprintf(text, sizeof(text), "signal %d\n", WTERMSIG(status))
                            : snprintf(text, sizeof(text), "exit %d\n", WEXITSTATUS(status));
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, text, (size_t)n) != n)
        fprintf(stderr, "seed: could not write the status file \"%s\": %s\n", path,
                strerror(errno));
    if (fd >= 0)
        close(fd);
}

int seedcmd_status_read(const char *path)
{
    char *text = fileio_read(path, 64, FILEIO_NOFOLLOW, NULL);
    int n = -1, status = -1;

    if (text && sscanf(text, "exit %d", &n) == 1 && n >= 0 && n < 256)
        status = n << 8;
    else if (text && sscanf(text, "signal %d", &n) == 1 && n > 0 && n < 128)
        status = n;
    free(text);
    return status;
}

/* Run program with fd as its stdin (in_fd) or stdout (out_fd) (-1: unchanged), wait for it,
 * record its end. Returns the exit status for this process. */
static int run(char **program, int in_fd, int out_fd, const char *status_file)
{
    struct sigaction sa;
    int status = 0;
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "seed: could not fork: %s\n", strerror(errno));
        return 127;
    }
    if (pid == 0) {
        if ((in_fd >= 0 && dup2(in_fd, STDIN_FILENO) < 0) ||
            (out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0))
            _exit(127);
        if (in_fd > STDERR_FILENO)
            close(in_fd);
        if (out_fd > STDERR_FILENO)
            close(out_fd);
        execvp(program[0], program);
        fprintf(stderr, "seed: could not execute \"%s\": %s\n", program[0], strerror(errno));
        _exit(127);
    }
    child_pid = pid;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = pass_on;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (in_fd >= 0)
        close(in_fd);
    if (out_fd >= 0)
        close(out_fd);
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "seed: could not wait for \"%s\": %s\n", program[0], strerror(errno));
            return 127;
        }
    }
    write_status(status_file, status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

/* "HOST:PORT" or "[V6]:PORT" into host (n bytes) and *port. */
static int split_from(const char *from, char *host, size_t n, int *port)
{
    const char *colon;
    size_t len;
    char *end;
    long p;

    if (from[0] == '[') {
        const char *close_br = strchr(from, ']');
        if (!close_br || close_br[1] != ':')
            return -1;
        len = (size_t)(close_br - from - 1);
        colon = close_br + 1;
        from++;
    } else {
        colon = strrchr(from, ':');
        if (!colon)
            return -1;
        len = (size_t)(colon - from);
    }
    if (len == 0 || len >= n)
        return -1;
    memcpy(host, from, len);
    host[len] = '\0';
    p = strtol(colon + 1, &end, 10);
    if (*end || p < 1 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}

int seedcmd_fetch_main(int argc, char **argv)
{
    struct opts o;
    struct err e;
    char host[64], *secret = NULL, *end;
    int port = 0, fd = -1, rc;
    long long primary, replica;

    if (parse(argc, argv, &o) < 0)
        return 2;
    if (!o.from)
        return run(o.program, -1, -1, o.status_file);
    if (!o.primary || !o.replica || !o.secret_file ||
        split_from(o.from, host, sizeof(host), &port) < 0) {
        fprintf(stderr, "seed-fetch: --from HOST:PORT, --primary, --replica and --secret-file go "
                        "together\n");
        return 2;
    }
    primary = strtoll(o.primary, &end, 10);
    if (*end || primary <= 0)
        return 2;
    replica = strtoll(o.replica, &end, 10);
    if (*end || replica <= 0)
        return 2;
    secret = fileio_read(o.secret_file, 4096, FILEIO_NOFOLLOW, &e);
    if (!secret) {
        fprintf(stderr, "seed-fetch: %s\n", e.msg);
        write_status(o.status_file, 1 << 8);
        return 1;
    }
    secret[strcspn(secret, "\r\n")] = '\0';
    fd = seedsrv_connect(host, port, CONNECT_MS, &e);
    rc = fd < 0 ? -1
                : seedproto_client(fd, secret, (int64_t)primary, (int64_t)replica,
                                   SEEDPROTO_TIMEOUT_MS, &e);
    explicit_bzero(secret, strlen(secret));
    free(secret);
    if (rc < 0) {
        fprintf(stderr, "seed-fetch: %s\n", e.msg);
        if (fd >= 0)
            close(fd);
        write_status(o.status_file, 1 << 8);
        return 1;
    }
    {
        /* a stream that stalls makes PROGRAM's read fail instead of waiting for ever */
        struct timeval tv = {STREAM_RECV_S, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    fprintf(stderr, "seed-fetch: streaming from %s (member %lld) into %s\n", o.from, primary,
            o.program[0]);
    return run(o.program, fd, -1, o.status_file);
}

int seedcmd_source_main(int argc, char **argv)
{
    struct opts o;
    int fd;

    if (parse(argc, argv, &o) < 0)
        return 2;
    if (!o.fifo) {
        fprintf(stderr, "seed-source: --fifo is needed\n");
        return 2;
    }
    /* the agent holds the reading end open already: no reader is an error, not a wait */
    fd = open(o.fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 || fcntl(fd, F_SETFL, 0) < 0) {
        fprintf(stderr, "seed-source: could not open \"%s\": %s\n", o.fifo, strerror(errno));
        write_status(o.status_file, 1 << 8);
        return 1;
    }
    return run(o.program, -1, fd, o.status_file);
}
