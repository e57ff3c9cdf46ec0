/* dbaasctl HA commands (docs/ha.md): `ha show` and `ha set` (/v1/ha, operator only), and
 * `instance switchover ID [--to MEMBER]` (POST /v1/instances/{id}/switchover). */
#include "cli/cmd_ha.h"

#include <stdio.h>
#include <string.h>

#include "cli/table.h"
#include "lib/buf.h"

/* The settings: option name, JSON field, and the range the server enforces (checked here first
 * so that junk is a usage error). */
static const struct {
    const char *opt, *key;
    int64_t min, max;
} settings[] = {
    {"renew-ms", "renew_ms", 50, 60000},
    {"lease-ttl-ms", "lease_ttl_ms", 100, 600000},
    {"fence-margin-ms", "fence_margin_ms", 0, 60000},
    {"grace-ms", "grace_ms", 0, 600000},
    {"failover-cooldown-ms", "failover_cooldown_ms", 0, 86400000},
    {"step-timeout-ms", "step_timeout_ms", 1000, 3600000},
};
#define N_SETTINGS ((int)(sizeof(settings) / sizeof(settings[0])))

/* Print the settings the server answered (consumed). Returns CMD_OK. */
static int ha_answer(struct cmd_ctx *ctx, json_t *s)
{
    char b[32];
    int i;

    if (ctx->json) {
        cmd_print_json(s);
    } else {
        for (i = 0; i < N_SETTINGS; i++) {
            snprintf(b, sizeof(b), "%lld", (long long)cmd_int(s, settings[i].key));
            table_kv(stdout, settings[i].key, b);
        }
    }
    json_decref(s);
    return CMD_OK;
}

static int ha_show(struct cmd_ctx *ctx)
{
    json_t *s = NULL;

    if (client_call(ctx->cl, "GET", "/v1/ha", NULL, NULL, &s) < 0)
        return CMD_EAPI;
    return ha_answer(ctx, s);
}

static int ha_set(struct cmd_ctx *ctx)
{
    json_t *body = json_object();
    json_t *s = NULL;
    int rc = CMD_OK, i;

    for (i = 0; i < N_SETTINGS; i++) {
        const char *v = args_get(ctx->a, settings[i].opt);
        int64_t n;

        if (!v)
            continue;
        if (args_parse_int(v, settings[i].min, settings[i].max, &n) < 0) {
            rc = cmd_usage_error(
                ctx->def, "invalid --%s \"%s\": expected milliseconds from %lld to %lld",
                settings[i].opt, v, (long long)settings[i].min, (long long)settings[i].max);
            goto out;
        }
        json_object_set_new(body, settings[i].key, json_integer(n));
    }
    if (json_object_size(body) == 0) {
        rc = cmd_usage_error(ctx->def, "nothing to set: give at least one option");
        goto out;
    }
    if (client_call(ctx->cl, "PUT", "/v1/ha", body, NULL, &s) < 0) {
        rc = CMD_EAPI;
        goto out;
    }
    rc = ha_answer(ctx, s);
out:
    json_decref(body);
    return rc;
}

static int instance_switchover(struct cmd_ctx *ctx)
{
    const char *to = args_get(ctx->a, "to");
    struct buf path = BUF_INIT;
    json_t *body = json_object();
    json_t *f = NULL;
    char b[32];
    int64_t n;
    int rc = CMD_OK;

    if (to) {
        if (args_parse_int(to, 1, INT64_MAX, &n) < 0) {
            rc = cmd_usage_error(ctx->def, "invalid --to \"%s\": expected a member id", to);
            goto out;
        }
        json_object_set_new(body, "to", json_integer(n));
    }
    cmd_path(&path, "/v1/instances/", ctx->a->pos[0], "/switchover");
    if (client_call(ctx->cl, "POST", buf_str(&path), body, NULL, &f) < 0) {
        rc = CMD_EAPI;
        goto out;
    }
    if (ctx->json) {
        cmd_print_json(f);
    } else {
        snprintf(b, sizeof(b), "%lld", (long long)cmd_int(f, "id"));
        table_kv(stdout, "switchover", b);
        table_kv(stdout, "state", cmd_str(f, "state"));
        snprintf(b, sizeof(b), "%lld", (long long)cmd_int(f, "from_member"));
        table_kv(stdout, "from_member", b);
        if (json_is_integer(json_object_get(f, "to_member")))
            snprintf(b, sizeof(b), "%lld", (long long)cmd_int(f, "to_member"));
        else
            snprintf(b, sizeof(b), "%s", "(the best replica)");
        table_kv(stdout, "to_member", b);
    }
out:
    json_decref(f);
    json_decref(body);
    buf_free(&path);
    return rc;
}

static const struct args_spec ha_set_specs[] = {
    {"renew-ms", ARGS_VALUE, "MS", false, "how often agents renew their lease (50..60000)"},
    {"lease-ttl-ms", ARGS_VALUE, "MS", false,
     "how long a renewal holds, >= 2 x renew (100..600000)"},
    {"fence-margin-ms", ARGS_VALUE, "MS", false, "added to the TTL on dbaasd's clock (0..60000)"},
    {"grace-ms", ARGS_VALUE, "MS", false,
     "an engine down longer than this on a live host fails over (0..600000)"},
    {"failover-cooldown-ms", ARGS_VALUE, "MS", false,
     "a demoted member is not promoted back sooner (0..86400000)"},
    {"step-timeout-ms", ARGS_VALUE, "MS", false,
     "how long a fence or a switchover's catch-up may take (1000..3600000)"},
    {0},
};

static const struct args_spec switchover_specs[] = {
    {"to", ARGS_VALUE, "MEMBER", false, "the replica to promote (default: the best one)"},
    {0},
};

const struct cmd_def cmd_ha_defs[] = {
    {"ha", "show", "", 0, 0, "show the HA settings (leases, grace, cooldown)", NULL, false,
     ha_show},
    {"ha", "set", "[--lease-ttl-ms MS] [OPTIONS]", 0, 0,
     "change HA settings; omitted ones stay as they are", ha_set_specs, false, ha_set},
    {"instance", "switchover", "ID [--to MEMBER]", 1, 1,
     "switch the primary over to a replica (recorded; the controller carries it out)",
     switchover_specs, false, instance_switchover},
    {0},
};
