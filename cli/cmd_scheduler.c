/* dbaasctl scheduler commands (/v1/scheduler, operator only): show and change the placement
 * policy, the overcommit ratios and the host liveness timeouts. */
#include "cli/cmd_scheduler.h"

#include <stdio.h>
#include <string.h>

#include "cli/table.h"

/* Bounds the server enforces, checked here first so that junk is a usage error. */
#define SCHED_RATIO_MAX_MILLI 4000 /* ratios in (0, 4], in thousandths */
#define SCHED_HEARTBEAT_MIN_MS 1000
#define SCHED_HEARTBEAT_MAX_MS 600000
#define SCHED_GRACE_MAX_S 86400

/* A numeric field for display: integers as they are, reals with at most three decimals and no
 * trailing zeros (1.500 -> "1.5", 2.0 -> "2"); NULL when absent or not a number. The result
 * lives in out. */
static const char *sched_number(const json_t *obj, const char *key, char *out, size_t n)
{
    json_t *v = json_object_get(obj, key);
    char *dot;
    size_t len;
    int r;

    if (json_is_integer(v))
        r = snprintf(out, n, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        r = snprintf(out, n, "%.3f", json_real_value(v));
    else
        return NULL;
    if (r < 0 || (size_t)r >= n)
        return "?";
    dot = strchr(out, '.');
    if (dot) {
        len = strlen(out);
        while (len > 0 && out[len - 1] == '0')
            out[--len] = '\0';
        if (out + len - 1 == dot)
            *dot = '\0';
    }
    return out;
}

static void sched_print(const json_t *s)
{
    static const char *const numbers[] = {"cpu_ratio",           "memory_ratio",
                                          "disk_ratio",          "heartbeat_timeout_ms",
                                          "unreachable_grace_s", NULL};
    char b[64];
    int i;

    table_kv(stdout, "policy", cmd_str(s, "policy"));
    for (i = 0; numbers[i]; i++)
        table_kv(stdout, numbers[i], sched_number(s, numbers[i], b, sizeof(b)));
}

/* Print the settings the server answered (consumed). Returns CMD_OK. */
static int sched_answer(struct cmd_ctx *ctx, json_t *s)
{
    if (ctx->json)
        cmd_print_json(s);
    else
        sched_print(s);
    json_decref(s);
    return CMD_OK;
}

static int sched_show(struct cmd_ctx *ctx)
{
    json_t *s = NULL;

    if (client_call(ctx->cl, "GET", "/v1/scheduler", NULL, NULL, &s) < 0)
        return CMD_EAPI;
    return sched_answer(ctx, s);
}

/* Set body[key] to the ratio in option opt when given. Returns an exit status. */
static int sched_ratio(struct cmd_ctx *ctx, json_t *body, const char *opt, const char *key)
{
    const char *s = args_get(ctx->a, opt);
    int64_t milli;

    if (!s)
        return CMD_OK;
    if (args_parse_milli(s, 1, SCHED_RATIO_MAX_MILLI, &milli) < 0)
        return cmd_usage_error(ctx->def,
                               "invalid --%s \"%s\": expected a number greater than 0 and at "
                               "most 4, with at most 3 decimals, such as 1.5",
                               opt, s);
    json_object_set_new(body, key, json_real((double)milli / 1000.0));
    return CMD_OK;
}

/* Set body[key] to the integer in option opt, in [min, max], when given. Returns an exit
 * status. */
static int sched_int(struct cmd_ctx *ctx, json_t *body, const char *opt, const char *key,
                     int64_t min, int64_t max, const char *unit)
{
    const char *s = args_get(ctx->a, opt);
    int64_t v;

    if (!s)
        return CMD_OK;
    if (args_parse_int(s, min, max, &v) < 0)
        return cmd_usage_error(ctx->def, "invalid --%s \"%s\": expected %s from %lld to %lld", opt,
                               s, unit, (long long)min, (long long)max);
    json_object_set_new(body, key, json_integer(v));
    return CMD_OK;
}

static int sched_set(struct cmd_ctx *ctx)
{
    const char *policy = args_get(ctx->a, "policy");
    json_t *body = json_object();
    json_t *s = NULL;
    int rc = CMD_OK;

    if (policy) {
        if (strcmp(policy, "binpack") != 0 && strcmp(policy, "spread") != 0) {
            rc = cmd_usage_error(
                ctx->def, "invalid --policy \"%s\": expected \"binpack\" or \"spread\"", policy);
            goto out;
        }
        json_object_set_new(body, "policy", json_string(policy));
    }
    rc = sched_ratio(ctx, body, "cpu-ratio", "cpu_ratio");
    if (rc == CMD_OK)
        rc = sched_ratio(ctx, body, "memory-ratio", "memory_ratio");
    if (rc == CMD_OK)
        rc = sched_ratio(ctx, body, "disk-ratio", "disk_ratio");
    if (rc == CMD_OK)
        rc = sched_int(ctx, body, "heartbeat-timeout", "heartbeat_timeout_ms",
                       SCHED_HEARTBEAT_MIN_MS, SCHED_HEARTBEAT_MAX_MS, "milliseconds");
    if (rc == CMD_OK)
        rc = sched_int(ctx, body, "unreachable-grace", "unreachable_grace_s", 0, SCHED_GRACE_MAX_S,
                       "seconds");
    if (rc != CMD_OK)
        goto out;
    if (json_object_size(body) == 0) {
        rc = cmd_usage_error(ctx->def, "nothing to set: give at least one option");
        goto out;
    }
    if (client_call(ctx->cl, "PUT", "/v1/scheduler", body, NULL, &s) < 0) {
        rc = CMD_EAPI;
        goto out;
    }
    rc = sched_answer(ctx, s);

out:
    json_decref(body);
    return rc;
}

static const struct args_spec sched_set_specs[] = {
    {"policy", ARGS_VALUE, "POLICY", false,
     "binpack (fill the fullest host) or spread (the least loaded host)"},
    {"cpu-ratio", ARGS_VALUE, "X", false, "CPU overcommit ratio, in (0, 4], e.g. 1.5"},
    {"memory-ratio", ARGS_VALUE, "X", false, "memory overcommit ratio, in (0, 4]"},
    {"disk-ratio", ARGS_VALUE, "X", false, "disk overcommit ratio, in (0, 4]"},
    {"heartbeat-timeout", ARGS_VALUE, "MS", false,
     "a host without a heartbeat for MS milliseconds is unreachable (1000..600000)"},
    {"unreachable-grace", ARGS_VALUE, "S", false,
     "replace the members of a host unreachable for S seconds (0..86400)"},
    {0},
};

const struct cmd_def cmd_scheduler_defs[] = {
    {"scheduler", "show", "", 0, 0, "show the scheduler's policy, ratios and timeouts", NULL, false,
     sched_show},
    {"scheduler", "set", "[--policy binpack|spread] [OPTIONS]", 0, 0,
     "change scheduler settings; omitted ones stay as they are", sched_set_specs, false, sched_set},
    {0},
};
