/* dbaas-agent's core: heartbeats to dbaasd, reconciles the desired members, supervises the
 * engines (restart with back-off, re-adoption after an agent restart), reports usage. */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "isolation/isolation.h"
#include "lib/err.h"

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
