/* libFuzzer target: dbaas-agent's --config file (agent/conf.h) read from any bytes through
 * fmemopen(), with the agent's own setting names, then each value taken as a duration (what
 * --keep-deleted takes) and as a quantity (--cpu, --memory, --disk). A key handed to the
 * setter is never empty nor blank-edged, and holds no '_'. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "agent/conf.h"
#include "lib/quantity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int set(void *arg, const char *key, const char *value)
{
    static const char *const names[] = {
        "server", "token",  "token-file", "data-dir",    "advertise", "isolation",   "ports",
        "cpu",    "memory", "disk",       "libvirt-uri", "seed-port", "keep-deleted"};
    size_t klen = strlen(key), vlen = strlen(value);
    int64_t v;

    (void)arg;
    if (strchr(key, '_') || (klen && (key[0] == ' ' || key[klen - 1] == ' ')) ||
        (vlen && (value[0] == ' ' || value[vlen - 1] == ' ')))
        __builtin_trap();
    (void)conf_duration(value, &v);
    (void)quantity_parse_cpu(value, &v);
    (void)quantity_parse_mb(value, &v);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(key, names[i]) == 0)
            return 0;
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[512];
    FILE *f;

    if (size == 0)
        return 0;
    f = fmemopen((void *)data, size, "r");
    if (!f)
        return 0;
    if (conf_load(f, "agent.conf", set, NULL, msg, sizeof(msg)) < 0 &&
        strncmp(msg, "agent.conf:", 11) != 0)
        __builtin_trap();
    fclose(f);
    return 0;
}
