/* dbaas-agent: the node agent. Runs the engines of the members dbaasd places on this host under
 * per-instance isolation, and reports them. Startup: options (and an optional config file) ->
 * data directory -> isolation backend -> seed server -> re-adopt running engines -> "ready" ->
 * heartbeat loop. SIGTERM/SIGINT stop the agent but not the engines. `dbaas-agent seed-fetch`
 * and `dbaas-agent seed-source` are the helper commands that seeding runs under isolation
 * (agent/seedcmd.h). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/conf.h"
#include "agent/fence.h"
#include "agent/options.h"
#include "agent/seedcmd.h"
#include "agent/token.h"
#include "isolation/lxc_init.h"
#include "lib/log.h"
#include "lib/xalloc.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* `dbaas-agent fence-guard --data-dir DIR`: the fence guard (agent/fence.h), started by the
 * agent with a pipe as its stdin. It ignores the signals that stop the agent: when the agent
 * stops, its lease is no longer renewed and the guard must still fire. */
static int fence_guard_cmd(int argc, char **argv)
{
    struct sigaction sa;

    if (argc != 3 || strcmp(argv[1], "--data-dir") != 0) {
        fprintf(stderr, "dbaas-agent: usage: dbaas-agent fence-guard --data-dir DIR (run by the "
                        "agent itself)\n");
        return 2;
    }
    log_set_program("dbaas-fence-guard");
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGPIPE, &sa, NULL);
    return fence_guard_main(0, argv[2]);
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: dbaas-agent --server URL --token TOKEN --data-dir DIR --advertise ADDR\n"
            "                   [--isolation cgroup|cgroup-v1|cgroup-v2|lxc] [--ports MIN-MAX]\n"
            "                   [--cpu Q] [--memory Q] [--disk Q] [--seed-port PORT]\n"
            "                   [--keep-deleted DURATION] [--ca-file FILE] [--config FILE]\n"
            "       dbaas-agent seed-fetch|seed-source|fence-guard|lxc-init ... (run by the agent\n"
            "       itself)\n"
            "\n"
            "  --server URL       dbaasd's URL (e.g. http://127.0.0.1:8080, or https://)\n"
            "  --ca-file FILE     verify an https server against these PEM CAs\n"
            "                     (default: the system's)\n"
            "  --token TOKEN      the host's agent token (from `dbaasctl host add`);\n"
            "  --token-file FILE  or read it from a file\n"
            "  --data-dir DIR     where members' data and the agent's records live\n"
            "  --advertise ADDR   the address engines listen on (an IP of this host)\n"
            "  --isolation KIND   cgroup (v1 or v2, detected; default) or lxc\n"
            "  --ports MIN-MAX    the port range for engines (default 20000-29999)\n"
            "  --cpu/--memory/--disk  capacity to report (default: the machine's)\n"
            "  --libvirt-uri URI  with --isolation lxc (default lxc:///system)\n"
            "  --seed-port PORT   the seed server's port on ADDR, streams for replicas\n"
            "                     (default: the port after the --ports range; 0: none)\n"
            "  --keep-deleted D   how long a deleted member's data is kept aside before\n"
            "                     it is removed: 90s, 30m, 24h, 7d (default 24h; 0: at once)\n"
            "  --config FILE      key = value lines with the same names\n"
            "  --stop-engines-on-exit  stop the engines when the agent stops (they start\n"
            "                     again with the next agent; for development setups)\n"
            "  --help, --version\n");
}

/* The --config file's settings into o. 0 / -1 (message printed). */
static int load_config(struct options *o, const char *path)
{
    char msg[512];
    FILE *f = fopen(path, "r");
    int rc;

    if (!f) {
        fprintf(stderr, "dbaas-agent: could not open \"%s\": %s\n", path, strerror(errno));
        return -1;
    }
    rc = conf_load(f, path, options_conf_set, o, msg, sizeof(msg));
    fclose(f);
    if (rc < 0)
        fprintf(stderr, "dbaas-agent: %s\n", msg);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"server", required_argument, NULL, 0},
                                             {"token", required_argument, NULL, 0},
                                             {"token-file", required_argument, NULL, 0},
                                             {"data-dir", required_argument, NULL, 0},
                                             {"advertise", required_argument, NULL, 0},
                                             {"isolation", required_argument, NULL, 0},
                                             {"ports", required_argument, NULL, 0},
                                             {"cpu", required_argument, NULL, 0},
                                             {"memory", required_argument, NULL, 0},
                                             {"disk", required_argument, NULL, 0},
                                             {"config", required_argument, NULL, 'c'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"stop-engines-on-exit", no_argument, NULL, 'S'},
                                             {"libvirt-uri", required_argument, NULL, 0},
                                             {"seed-port", required_argument, NULL, 0},
                                             {"keep-deleted", required_argument, NULL, 0},
                                             {"ca-file", required_argument, NULL, 0},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
    struct options o;
    struct agent_config cfg;
    struct sigaction sa;
    struct err e;
    int c, idx, status = 2;
    char *token = NULL;

    if (argc > 1 && strcmp(argv[1], "seed-fetch") == 0)
        return seedcmd_fetch_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "seed-source") == 0)
        return seedcmd_source_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "fence-guard") == 0)
        return fence_guard_cmd(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], LXC_INIT_CMD) == 0)
        return lxc_init_main(argc - 1, argv + 1);
    memset(&o, 0, sizeof(o));
    memset(&cfg, 0, sizeof(cfg));
    log_set_program("dbaas-agent");
    while ((c = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
        switch (c) {
        case 0:
            options_set(&o, longopts[idx].name, optarg); /* every name of longopts is one */
            break;
        case 'S':
            cfg.stop_engines = true;
            break;
        case 'c':
            if (load_config(&o, optarg) < 0)
                goto out;
            break;
        case 'h':
            usage(stdout);
            status = 0;
            goto out;
        case 'V':
            printf("dbaas-agent 0.1.0\n");
            status = 0;
            goto out;
        default:
            usage(stderr);
            goto out;
        }
    }
    if (optind < argc || !o.server || (!o.token && !o.token_file) || !o.data_dir || !o.advertise) {
        fprintf(stderr, "dbaas-agent: --server, --token (or --token-file), --data-dir and "
                        "--advertise are required\n");
        usage(stderr);
        goto out;
    }
    token = o.token ? xstrdup(o.token) : agent_token_read(o.token_file);
    if (!token || !*token) {
        fprintf(stderr, "dbaas-agent: could not read a token from \"%s\"\n", o.token_file);
        goto out;
    }
    if (o.ca_file && access(o.ca_file, R_OK) < 0) {
        fprintf(stderr, "dbaas-agent: cannot read --ca-file \"%s\": %s\n", o.ca_file,
                strerror(errno));
        goto out;
    }
    if (options_apply(&o, &cfg, &e) < 0) {
        fprintf(stderr, "dbaas-agent: %s\n", e.msg);
        goto out;
    }
    cfg.token = token;
    cfg.token_file = o.token ? NULL : o.token_file;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    status = 1;
    if (agent_run(&cfg, &stop, &e) < 0) {
        log_error("event=start_failed error=\"%s\"", e.msg);
        goto out;
    }
    log_info("event=stopped engines=%s", cfg.stop_engines ? "stopped" : "still running");
    status = 0;
out:
    if (token) {
        explicit_bzero(token, strlen(token));
        free(token);
    }
    options_free(&o);
    return status;
}
