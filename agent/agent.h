/* dbaas-agent's core: heartbeats to dbaasd, reconciles the desired members, supervises the
 * engines (restart with back-off, re-adoption after an agent restart), reports usage.
 * agent_run() is the whole agent for main(); struct agent is the context the core's modules
 * share (agent/jobs.c, agent/heartbeat.c), passed to every function instead of globals. */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "agent/lessee.h"
#include "isolation/isolation.h"
#include "lib/err.h"

/* Error codes of agent/ (lib/err.h): the agent's own failures; its isolation and engine
 * calls report theirs in their ranges. */
enum agent_errc {
    AGENT_E_SYSTEM = ERR_BASE_AGENT + 1, /* an OS call failed (directories, files, threads) */
    AGENT_E_CLIENT,                      /* the HTTP client to dbaasd could not be set up */
    AGENT_E_NO_ENGINE,                   /* a member's engine is not offered by this agent */
    AGENT_E_DESIRED,                     /* a malformed desired member in dbaasd's reply */
    AGENT_E_ENCODE,                      /* a member's record could not be encoded */
    AGENT_E_SEED,   /* the seed protocol: a peer broke it, timed out, or the source failed */
    AGENT_E_DENIED, /* the seed server refused: unknown member, not a replica of it, wrong proof
                       of the secret, or a stream for that replica already runs */
    AGENT_E_LEASE,  /* a malformed lease in dbaasd's reply */
    AGENT_E_FENCED, /* a primary may not start: no valid lease, or fenced (docs/agent.md) */
    AGENT_E_OPTION, /* a malformed option or config file setting (agent/options.h) */
};

struct agent_config {
    const char *server;     /* dbaasd's URL */
    const char *ca_file;    /* the CA bundle an https server is verified against (NULL: the
                               system's) */
    const char *token;      /* the host's agent token (at start: see token) */
    const char *token_file; /* where it came from, read again when it changes; NULL: --token */
    const char *data_dir;   /* members/ and their engines' data */
    const char *advertise;  /* the address engines listen on and dbaasd hands to clients */
    enum iso_kind isolation;
    int port_min, port_max;
    int64_t cpu_millis, memory_mb, disk_mb; /* capacity reported (0: from the machine) */
    int heartbeat_ms;        /* until dbaasd's reply says otherwise (heartbeat_interval_ms) */
    const char *libvirt_uri; /* LXC: NULL = lxc:///system */
    int seed_port;           /* the seed server's TCP port on advertise; 0: none */
    int64_t keep_deleted_s;  /* how long a deleted member's data stays in quarantine */
    bool stop_engines;       /* stop the engines when the agent stops (a development setup); they
                                start again, on their data, with the next agent */
};

struct httpc;
struct member;

/* The agent's context: created by agent_run() and shared with its worker threads.
 * - lock guards members (the list and every member's fields), workers, report_now and
 *   desired_hash. It is never held across a slow call (an engine's stop, a probe, a walk of
 *   a directory, an exchange with dbaasd). iso is thread-safe (isolation/isolation.h): calls
 *   on different groups do not wait for each other.
 * - Everything else is set at startup and only read afterwards. */
struct agent {
    const struct agent_config *cfg;  /* borrowed from the caller of agent_run() */
    volatile sig_atomic_t *stopping; /* borrowed: set by a signal handler */
    pthread_mutex_t lock;
    pthread_cond_t wake;         /* the main loop: a member changed state (CLOCK_MONOTONIC) */
    struct iso *iso;             /* owned */
    struct member *members;      /* owned list */
    char device[ISO_DEVICE_MAX]; /* the data directory's block device for IO limits ("": none) */
    char tag[16];          /* "a" + 8 hex digits of the data directory's hash: see member_group() */
    int workers;           /* running worker threads (agent/jobs.c) */
    bool report_now;       /* a member changed state: report at once */
    char desired_hash[65]; /* of the desired members last applied ("": none yet) */
    int64_t generation;    /* of the newest reply applied (desired_reply_current()) */
    int heartbeat_ms;      /* the interval dbaasd asks for (cfg->heartbeat_ms until then) */
    pthread_cond_t report_wake; /* the reporter thread: report_now was set (CLOCK_MONOTONIC) */
    int helpers;                /* running detached helper threads: probes, seed streams */
    int seed_port;              /* the seed server's port, 0 when it does not run */
    bool seed_port_refused;     /* dbaasd refused that field (older than HA part 1): not sent */
    char *self_exe;             /* owned: this program, run as the seed steps' wrapper */
    struct httpc *report_http;  /* owned: the main thread's reports */
    struct httpc *poll_http;    /* owned: the heartbeat thread's long polls */
    /* the lease and the fence guard (agent/leasing.c): under lock, but guard_fd, guard_pid and
       old_guard_* which only startup and then the lease thread use */
    int lease_mode;           /* enum leasing_mode */
    struct lessee lessee;     /* its key is a secret: never logged */
    int64_t lease_arm_ms;     /* the guard's deadline before the first grant (0: none) */
    int lease_saved_ttl_ms;   /* from DATA/lease.json (0: none) */
    bool lease_bad_logged;    /* a malformed lease was logged (once) */
    bool guard_dirty;         /* a primary started: feed the guard now, not at the next period */
    int guard_fd;             /* the fence guard's pipe (-1: none) */
    pid_t guard_pid;          /* the fence guard, this agent's child */
    pid_t old_guard_pid;      /* the previous agent's guard (0: none), killed once a lease of */
    uint64_t old_guard_start; /* ... this agent's own is fed to the new one */
    /* the host token in use and its file's identity (agent/token.c): under lock */
    char *token; /* owned; a secret: never logged */
    ino_t token_ino;
    off_t token_size;
    struct timespec token_mtime;
};

/* Run until *stop is set (by a signal handler). Engines keep running when it returns: a new
 * agent re-adopts them. 0, or -1 with e set when the agent could not start. */
int agent_run(const struct agent_config *cfg, volatile sig_atomic_t *stop, struct err *e)
    __attribute__((warn_unused_result));

#endif
