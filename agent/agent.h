/* dbaas-agent's core: heartbeats to dbaasd, reconciles the desired members, supervises the
 * engines (restart with back-off, re-adoption after an agent restart), reports usage. */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

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
};

struct agent_config {
    const char *server;    /* dbaasd's URL */
    const char *token;     /* the host's agent token */
    const char *data_dir;  /* members/ and their engines' data */
    const char *advertise; /* the address engines listen on and dbaasd hands to clients */
    enum iso_kind isolation;
    int port_min, port_max;
    int64_t cpu_millis, memory_mb, disk_mb; /* capacity reported (0: from the machine) */
    int heartbeat_ms;
    const char *libvirt_uri; /* LXC: NULL = lxc:///system */
    bool stop_engines;       /* stop the engines when the agent stops (a development setup); they
                                start again, on their data, with the next agent */
};

/* Run until *stop is set (by a signal handler). Engines keep running when it returns: a new
 * agent re-adopts them. 0, or -1 with e set when the agent could not start. */
int agent_run(const struct agent_config *cfg, volatile sig_atomic_t *stop, struct err *e)
    __attribute__((warn_unused_result));

#endif
