/* dbaas-agent's options (agent/main.c's usage, docs/agent.md): the values of its long options
 * and of its --config file's settings, kept as given, then checked and turned into the agent's
 * configuration. Pure (no I/O, no logging): main.c reads the command line, the file and the
 * token; tests/fuzz/fuzz_agent_conf.c runs the same code on any config file. */
#ifndef AGENT_OPTIONS_H
#define AGENT_OPTIONS_H

#include "agent/agent.h"
#include "lib/err.h"

/* The settings by long option name, each owned, NULL when not given. */
struct options {
    char *server, *token, *token_file, *data_dir, *advertise, *isolation, *ports;
    char *cpu, *memory, *disk, *libvirt_uri, *seed_port, *keep_deleted, *ca_file;
};

/* Set the option named key (its long name: "data-dir") to a copy of value; a later setting
 * wins. 0, or -1 when no option has that name. */
int options_set(struct options *o, const char *key, const char *value);
/* options_set() as agent/conf.h's conf_set_fn (arg: the struct options). */
int options_conf_set(void *arg, const char *key, const char *value);

/* Check o's values and fill cfg: the borrowed strings (server, ca_file, data_dir, advertise,
 * libvirt_uri: o must outlive cfg), the isolation kind, the port range (MIN-MAX, decimal,
 * 1024 <= MIN <= MAX <= 65535), the seed port (0, or 1024..65535 outside the range; default
 * the port after it, 0 when there is none), --keep-deleted (a duration, default 24 h), the
 * capacities (quantities, 0: the machine's) and the first heartbeat interval. The token, the
 * token file and stop_engines are left to the caller, as is the check that the required
 * options are there. 0, or -1 with e set (AGENT_E_OPTION or ISO_EINVAL: the message names the
 * option and quotes the value, ready for "dbaas-agent: %s"). */
int options_apply(const struct options *o, struct agent_config *cfg, struct err *e)
    __attribute__((warn_unused_result));

/* Free o's strings (o itself is the caller's). */
void options_free(struct options *o);

#endif
