/* dbaasd: the control plane daemon. It wires the three parts in this order: options -> data
 * dir lock -> store/ (the embedded PostgreSQL or --db, connections, migrations) -> operator
 * token -> control/lease (keys, the UDP lease server) -> api/ (the HTTP listener) -> control/ (the
 * reconcile and placement loops, acting only while this process leads) -> "ready". Shutdown: api/
 * first (no new requests), then control/, then store/. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/audit.h"
#include "api/http.h"
#include "api/optoken.h"
#include "control/errc.h"
#include "control/ha.h"
#include "control/lease.h"
#include "control/notify.h"
#include "control/reconcile.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/embedded.h"
#include "store/store.h"

#define DBAAS_VERSION "0.1.0"

static void usage(FILE *f)
{
    fprintf(f, "Usage: dbaasd --data-dir DIR [--listen ADDR:PORT] [--lease-port PORT] [--db URL]\n"
               "              [--threads N] [--tls-cert FILE --tls-key FILE]\n"
               "              [--max-conns N] [--max-conns-per-ip N] [--request-timeout S]\n"
               "\n"
               "  --data-dir DIR      state directory: operator.token, and the embedded store\n"
               "  --listen ADDR:PORT  HTTP listen address (default 127.0.0.1:8080)\n"
               "  --lease-port PORT   UDP port for the agents' lease renewals, on the --listen\n"
               "                      address (default: the --listen port; 0: no leases)\n"
               "  --db URL            use this PostgreSQL (libpq URL or key=value string)\n"
               "                      instead of running an embedded one under DIR; blanked\n"
               "                      in ps once read (or set DBAAS_DB instead)\n"
               "  --threads N         HTTP worker threads (default 8)\n"
               "  --tls-cert FILE     serve HTTPS with this PEM certificate (chain)\n"
               "  --tls-key FILE      and this PEM private key (mode 0600)\n"
               "  --max-conns N       open HTTP connections at most: over it, a new one\n"
               "                      closes the oldest without a whole request (default:\n"
               "                      as many as descriptors allow, up to 60000)\n"
               "  --max-conns-per-ip N  from one client address at most (default 256;\n"
               "                      0: no limit, e.g. behind a load balancer)\n"
               "  --request-timeout S  a connection must send a whole request within S seconds\n"
               "                      of opening or of its previous reply, and is closed\n"
               "                      after S seconds idle (default 60)\n"
               "  --debug             log debug lines\n"
               "  --help, --version\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"db", required_argument, NULL, 'b'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"debug", no_argument, NULL, 'D'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"lease-port", required_argument, NULL, 'L'},
                                         {"tls-cert", required_argument, NULL, 'C'},
                                         {"tls-key", required_argument, NULL, 'K'},
                                         {"max-conns", required_argument, NULL, 'M'},
                                         {"max-conns-per-ip", required_argument, NULL, 'P'},
                                         {"request-timeout", required_argument, NULL, 'T'},
                                         {NULL, 0, NULL, 0}};
    const char *data_dir = NULL, *listen_addr = "127.0.0.1:8080", *db = NULL;
    struct http_options hopts = {.max_conns_ip = HTTP_MAX_CONNS_IP};
    struct embedded *embedded = NULL;
    char *conninfo = NULL, *lock_path = NULL, *db_copy = NULL;
    int threads = 8, c, lock_fd = -1, sig, status = 1, lease_udp = -1;
    char lease_addr[64];
    struct rlimit nofile;
    sigset_t sigs;
    struct err e;

    log_set_program("dbaasd");
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data_dir = optarg;
            break;
        case 'l':
            listen_addr = optarg;
            break;
        case 'b':
            /* Keep a copy and blank the argument: a password in the URL must not show in ps
             * (for longer than the start takes; DBAAS_DB avoids even that). */
            free(db_copy);
            db = db_copy = xstrdup(optarg);
            memset(optarg, 'x', strlen(optarg));
            break;
        case 't':
            threads = atoi(optarg);
            if (threads < 1 || threads > 256) {
                fprintf(stderr, "dbaasd: --threads must be from 1 to 256\n");
                return 2;
            }
            break;
        case 'D':
            log_set_level(LOG_DEBUG);
            break;
        case 'L': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end || v < 0 || v > 65535) {
                fprintf(stderr, "dbaasd: --lease-port must be from 0 to 65535\n");
                return 2;
            }
            lease_udp = (int)v;
            break;
        }
        case 'C':
            hopts.tls_cert = optarg;
            break;
        case 'K':
            hopts.tls_key = optarg;
            break;
        case 'M':
        case 'P': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end || v < 0 || v > 1000000 || (c == 'M' && v == 0)) {
                fprintf(stderr, "dbaasd: --%s must be from %d to 1000000\n",
                        c == 'M' ? "max-conns" : "max-conns-per-ip", c == 'M' ? 1 : 0);
                return 2;
            }
            if (c == 'M')
                hopts.max_conns = (unsigned)v;
            else
                hopts.max_conns_ip = (unsigned)v;
            break;
        }
        case 'T': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end || v < 1 || v > 3600) {
                fprintf(stderr, "dbaasd: --request-timeout must be from 1 to 3600 seconds\n");
                return 2;
            }
            hopts.request_timeout_s = (int)v;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("dbaasd %s\n", DBAAS_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!db && getenv("DBAAS_DB") && *getenv("DBAAS_DB"))
        db = db_copy = xstrdup(getenv("DBAAS_DB"));
    if (optind < argc || !data_dir || (hopts.tls_cert != NULL) != (hopts.tls_key != NULL)) {
        fprintf(stderr, "dbaasd: %s\n",
                optind < argc ? "unexpected argument"
                : !data_dir   ? "--data-dir is required"
                              : "--tls-cert and --tls-key go together");
        usage(stderr);
        return 2;
    }

    {
        /* The UDP lease port defaults to the API's own port number, on the same address. */
        const char *colon = strrchr(listen_addr, ':');
        if (!colon || (size_t)(colon - listen_addr) >= sizeof(lease_addr)) {
            fprintf(stderr, "dbaasd: invalid listen address \"%s\": expected ADDR:PORT\n",
                    listen_addr);
            return 2;
        }
        memcpy(lease_addr, listen_addr, (size_t)(colon - listen_addr));
        lease_addr[colon - listen_addr] = '\0';
        if (lease_udp < 0)
            lease_udp = atoi(colon + 1);
    }
    /* Every agent keeps a long poll open: one descriptor per host, as many as we may. */
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &nofile);
    }

    /* Signals are taken synchronously by the main thread; every thread inherits the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGCHLD);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (mkdir(data_dir, 0755) < 0 && errno != EEXIST) {
        log_error("event=start_failed error=\"could not create directory \\\"%s\\\": %s\"",
                  data_dir, strerror(errno));
        return 1;
    }
    lock_path = xasprintf("%s/dbaasd.lock", data_dir);
    lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
        log_error("event=start_failed error=\"could not lock \\\"%s\\\": %s (is another dbaasd "
                  "running on this data directory?)\"",
                  lock_path, strerror(errno));
        goto out;
    }

    if (db) {
        conninfo = xstrdup(db);
    } else {
        /* One store connection per worker thread, plus the controller, the leader's session, the
         * long-poll thread and psql sessions of an operator. */
        embedded = embedded_start(data_dir, threads + 20, &conninfo, &e);
        if (!embedded) {
            log_error("event=start_failed error=\"%s\"", e.msg);
            goto out;
        }
        log_info("event=store_started kind=embedded data_dir=%s", data_dir);
    }
    store_init(conninfo);
    if (store_migrate(&e) < 0) {
        log_error("event=start_failed error=\"%s\"", e.msg);
        goto out;
    }
    if (notify_start(conninfo, &e) < 0) {
        log_error("event=start_failed error=\"%s\"", e.msg);
        goto out;
    }
    if (optoken_init(data_dir, &e) < 0) {
        log_error("event=start_failed error=\"%s\"", e.msg);
        goto out;
    }
    if (audit_start(&e) < 0) {
        log_error("event=start_failed error=\"%s\"", e.msg);
        goto out;
    }
    if (lease_start(lease_addr, lease_udp, &e) < 0) {
        log_error("event=start_failed error=\"%s\"", e.msg);
        goto out;
    }
    hopts.threads = threads;
    if (http_start(listen_addr, &hopts, &e) < 0) {
        log_error("event=start_failed error=\"%s\"", e.msg);
        goto out;
    }
    if (reconcile_start(conninfo, 1000, &e) < 0) {
        log_error("event=start_failed error=\"%s\"", e.msg);
        goto out;
    }
    if (ha_start(conninfo, &e) < 0) {
        log_error("event=start_failed error=\"%s\"", e.msg);
        goto out;
    }
    log_info("event=ready listen=%s tls=%s lease_port=%d store=%s data_dir=%s version=%s",
             listen_addr, hopts.tls_cert ? "on" : "off", lease_port(),
             embedded ? "embedded" : "external", data_dir, DBAAS_VERSION);

    for (;;) {
        /* On SIGCHLD (the embedded store's server exited), and each second without a signal
         * (a start that failed is tried again): supervise the embedded store. */
        struct timespec tick = {.tv_sec = 1};

        sig = sigtimedwait(&sigs, NULL, &tick);
        if (sig < 0 || sig == SIGCHLD) {
            embedded_supervise(embedded, conninfo);
            continue;
        }
        if (sig == SIGHUP) {
            log_info("event=sighup note=\"nothing to reload: every setting is a command-line "
                     "option\"");
            continue;
        }
        log_info("event=stopping signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
        break;
    }
    status = 0;
out:
    http_stop(10000);
    audit_stop();
    ha_stop();
    reconcile_stop();
    notify_stop();
    lease_stop();
    store_shutdown();
    embedded_stop(embedded);
    if (status == 0)
        log_info("event=stopped");
    free(conninfo);
    free(db_copy);
    if (lock_fd >= 0)
        close(lock_fd);
    free(lock_path);
    return status;
}
