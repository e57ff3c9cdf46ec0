/* dbaas-agent's options: kept as given, then checked into struct agent_config
 * (agent/options.h). */
#include "agent/options.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "agent/conf.h"
#include "lib/quantity.h"
#include "lib/xalloc.h"

#define PORT_LOW 1024 /* the lowest port the agent hands out or listens on */
#define PORT_HIGH 65535

int options_set(struct options *o, const char *key, const char *value)
{
    static const struct {
        const char *name;
        size_t off;
    } keys[] = {
        {"server", offsetof(struct options, server)},
        {"token", offsetof(struct options, token)},
        {"token-file", offsetof(struct options, token_file)},
        {"data-dir", offsetof(struct options, data_dir)},
        {"advertise", offsetof(struct options, advertise)},
        {"isolation", offsetof(struct options, isolation)},
        {"ports", offsetof(struct options, ports)},
        {"cpu", offsetof(struct options, cpu)},
        {"memory", offsetof(struct options, memory)},
        {"disk", offsetof(struct options, disk)},
        {"libvirt-uri", offsetof(struct options, libvirt_uri)},
        {"seed-port", offsetof(struct options, seed_port)},
        {"keep-deleted", offsetof(struct options, keep_deleted)},
        {"ca-file", offsetof(struct options, ca_file)},
    };
    size_t i;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strcmp(keys[i].name, key) == 0) {
            char **slot = (char **)(void *)((char *)o + keys[i].off);
            free(*slot);
            *slot = xstrdup(value);
            return 0;
        }
    }
    return -1;
}

int options_conf_set(void *arg, const char *key, const char *value)
{
    return options_set(arg, key, value);
}

/* The len bytes at s as a port number: digits only, at least one. A number above PORT_HIGH
 * comes out as PORT_HIGH + 1, so that the caller's range check refuses it whatever its length
 * (sscanf's %d, used before, overflowed into undefined behaviour). */
static bool port_number(const char *s, size_t len, long *out)
{
    long v = 0;
    size_t i;

    if (len == 0)
        return false;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v > PORT_HIGH ? v : v * 10 + (s[i] - '0');
    }
    *out = v > PORT_HIGH ? PORT_HIGH + 1 : v;
    return true;
}

/* --ports "MIN-MAX" into cfg. 0 / -1 with e set. */
static int apply_ports(const char *s, struct agent_config *cfg, struct err *e)
{
    const char *dash = strchr(s, '-');
    long lo, hi;

    if (!dash || !port_number(s, (size_t)(dash - s), &lo) ||
        !port_number(dash + 1, strlen(dash + 1), &hi) || lo < PORT_LOW || hi > PORT_HIGH || lo > hi)
        return err_set(e, AGENT_E_OPTION,
                       "--ports must be MIN-MAX within 1024-65535, not \"%.64s\"", s);
    cfg->port_min = (int)lo;
    cfg->port_max = (int)hi;
    return 0;
}

/* --seed-port into cfg, after the port range. 0 / -1 with e set. */
static int apply_seed_port(const char *s, struct agent_config *cfg, struct err *e)
{
    long v;

    if (!port_number(s, strlen(s), &v) || v > PORT_HIGH || (v > 0 && v < PORT_LOW) ||
        (v >= cfg->port_min && v <= cfg->port_max))
        return err_set(e, AGENT_E_OPTION,
                       "--seed-port must be 0 or a port in 1024-65535 outside --ports (%d-%d), "
                       "not \"%.64s\"",
                       cfg->port_min, cfg->port_max, s);
    cfg->seed_port = (int)v;
    return 0;
}

/* One capacity (--cpu in millis, --memory or --disk in MB) into *out when given. */
static int apply_quantity(const char *name, const char *s, bool cpu, int64_t *out, struct err *e)
{
    if (s && (cpu ? quantity_parse_cpu(s, out) : quantity_parse_mb(s, out)) < 0)
        return err_set(e, AGENT_E_OPTION, "invalid --%s quantity \"%.64s\"", name, s);
    return 0;
}

int options_apply(const struct options *o, struct agent_config *cfg, struct err *e)
{
    cfg->server = o->server;
    cfg->ca_file = o->ca_file;
    cfg->data_dir = o->data_dir;
    cfg->advertise = o->advertise;
    cfg->libvirt_uri = o->libvirt_uri;
    cfg->heartbeat_ms = 1000;
    cfg->port_min = 20000;
    cfg->port_max = 29999;
    cfg->isolation = ISO_CGROUP;
    cfg->keep_deleted_s = 24 * 3600;
    cfg->cpu_millis = cfg->memory_mb = cfg->disk_mb = 0;
    if (o->isolation && iso_kind_parse(o->isolation, &cfg->isolation, e) < 0)
        return -1;
    if (o->ports && apply_ports(o->ports, cfg, e) < 0)
        return -1;
    cfg->seed_port = cfg->port_max < PORT_HIGH ? cfg->port_max + 1 : 0;
    if (o->seed_port && apply_seed_port(o->seed_port, cfg, e) < 0)
        return -1;
    if (o->keep_deleted && conf_duration(o->keep_deleted, &cfg->keep_deleted_s) < 0)
        return err_set(e, AGENT_E_OPTION, "invalid --keep-deleted duration \"%.64s\"",
                       o->keep_deleted);
    if (apply_quantity("cpu", o->cpu, true, &cfg->cpu_millis, e) < 0 ||
        apply_quantity("memory", o->memory, false, &cfg->memory_mb, e) < 0 ||
        apply_quantity("disk", o->disk, false, &cfg->disk_mb, e) < 0)
        return -1;
    return 0;
}

void options_free(struct options *o)
{
    free(o->server);
    free(o->token);
    free(o->token_file);
    free(o->data_dir);
    free(o->advertise);
    free(o->isolation);
    free(o->ports);
    free(o->cpu);
    free(o->memory);
    free(o->disk);
    free(o->libvirt_uri);
    free(o->seed_port);
    free(o->keep_deleted);
    free(o->ca_file);
}
