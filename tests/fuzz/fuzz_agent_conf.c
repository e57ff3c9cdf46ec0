/* libFuzzer target: dbaas-agent's --config file read from any bytes through fmemopen() as
 * agent/main.c reads it: conf_load() (agent/conf.h) storing each setting with the agent's own
 * options_conf_set(), then options_apply() (agent/options.h) checking the values into the
 * agent's configuration; each value is also taken as a duration and a quantity. A key handed
 * to the setter is never empty nor blank-edged, and holds no '_'; a configuration accepted
 * holds a port range within 1024-65535, a seed port outside it, a known isolation kind and no
 * negative duration or capacity; a refusal says why. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "agent/conf.h"
#include "agent/options.h"
#include "lib/quantity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int set(void *arg, const char *key, const char *value)
{
    size_t klen = strlen(key), vlen = strlen(value);
    int64_t v;

    if (strchr(key, '_') || (klen && (key[0] == ' ' || key[klen - 1] == ' ')) ||
        (vlen && (value[0] == ' ' || value[vlen - 1] == ' ')))
        __builtin_trap();
    (void)conf_duration(value, &v);
    (void)quantity_parse_cpu(value, &v);
    (void)quantity_parse_mb(value, &v);
    return options_conf_set(arg, key, value);
}

/* What an accepted configuration must hold. */
static void check_config(const struct options *o, const struct agent_config *c)
{
    char again[32];
    struct options p;
    struct agent_config c2;
    struct err e;

    if (c->port_min < 1024 || c->port_max > 65535 || c->port_min > c->port_max)
        __builtin_trap();
    if (c->seed_port != 0 && (c->seed_port < 1024 || c->seed_port > 65535 ||
                              (c->seed_port >= c->port_min && c->seed_port <= c->port_max)))
        __builtin_trap();
    if (strcmp(iso_kind_name(c->isolation), "unknown") == 0 || c->keep_deleted_s < 0 ||
        c->cpu_millis < 0 || c->memory_mb < 0 || c->disk_mb < 0)
        __builtin_trap();
    if (c->server != o->server || c->data_dir != o->data_dir || c->advertise != o->advertise)
        __builtin_trap();
    /* a range accepted is digits around one '-', and printed back it is accepted the same */
    if (o->ports) {
        if (strspn(o->ports, "0123456789-") != strlen(o->ports))
            __builtin_trap();
        memset(&p, 0, sizeof(p));
        snprintf(again, sizeof(again), "%d-%d", c->port_min, c->port_max);
        if (options_set(&p, "ports", again) != 0 || options_apply(&p, &c2, &e) != 0 ||
            c2.port_min != c->port_min || c2.port_max != c->port_max)
            __builtin_trap();
        options_free(&p);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[512];
    struct options o;
    struct agent_config cfg;
    struct err e;
    FILE *f;

    if (size == 0)
        return 0;
    f = fmemopen((void *)data, size, "r");
    if (!f)
        return 0;
    memset(&o, 0, sizeof(o));
    memset(&cfg, 0, sizeof(cfg));
    if (conf_load(f, "agent.conf", set, &o, msg, sizeof(msg)) < 0) {
        if (strncmp(msg, "agent.conf:", 11) != 0)
            __builtin_trap();
    } else if (options_apply(&o, &cfg, &e) == 0) {
        check_config(&o, &cfg);
    } else if (e.msg[0] == '\0' || (e.code != AGENT_E_OPTION && e.code != ISO_EINVAL)) {
        __builtin_trap();
    }
    fclose(f);
    options_free(&o);
    return 0;
}
