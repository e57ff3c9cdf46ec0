/* dbaasctl plan commands (/v1/plans). */
#include "cli/cmd_plan.h"

#include <stdio.h>

#include "cli/table.h"
#include "lib/buf.h"
#include "lib/quantity.h"

/* An IO limit for display: 0 -> none_text, rates with args_format_bps(), IOPS as integers. */
static const char *plan_io(const json_t *p, const char *key, bool rate, const char *none_text,
                           char *out, size_t n)
{
    int64_t v = cmd_int(p, key);
    int r;

    if (v == 0)
        return none_text;
    if (rate) {
        args_format_bps(v, out, n);
        return out;
    }
    r = snprintf(out, n, "%lld", (long long)v);
    if (r < 0 || (size_t)r >= n)
        return "?";
    return out;
}

static void plan_print(const json_t *p)
{
    char b[32];

    table_kv(stdout, "name", cmd_str(p, "name"));
    table_kv(stdout, "cpu", cmd_cpu(p, "cpu_millis", b, sizeof(b)));
    table_kv(stdout, "memory", cmd_mb(p, "memory_mb", b, sizeof(b)));
    table_kv(stdout, "disk", cmd_mb(p, "disk_mb", b, sizeof(b)));
    table_kv(stdout, "read_iops", plan_io(p, "read_iops", false, "unlimited", b, sizeof(b)));
    table_kv(stdout, "write_iops", plan_io(p, "write_iops", false, "unlimited", b, sizeof(b)));
    table_kv(stdout, "read_bps", plan_io(p, "read_bps", true, "unlimited", b, sizeof(b)));
    table_kv(stdout, "write_bps", plan_io(p, "write_bps", true, "unlimited", b, sizeof(b)));
    table_kv(stdout, "created_at", cmd_str(p, "created_at"));
}

static int plan_answer(struct cmd_ctx *ctx, json_t *p)
{
    if (ctx->json)
        cmd_print_json(p);
    else
        plan_print(p);
    json_decref(p);
    return CMD_OK;
}

static int plan_parse_iops(const char *s, int64_t *v)
{
    return args_parse_int(s, 0, INT64_MAX, v);
}

/* Set body[key] from option opt with parse() when given; required options are present
 * (checked by cmd_run). Returns an exit status. */
static int plan_field(struct cmd_ctx *ctx, json_t *body, const char *opt, const char *key,
                      int (*parse)(const char *, int64_t *), const char *what)
{
    const char *s = args_get(ctx->a, opt);
    int64_t v;

    if (!s)
        return CMD_OK;
    if (parse(s, &v) < 0)
        return cmd_usage_error(ctx->def, "invalid --%s \"%s\": expected %s", opt, s, what);
    json_object_set_new(body, key, json_integer(v));
    return CMD_OK;
}

static int plan_create(struct cmd_ctx *ctx)
{
    json_t *body = json_pack("{s:s}", "name", ctx->a->pos[0]);
    json_t *p = NULL;
    int rc;

    rc = plan_field(ctx, body, "cpu", "cpu_millis", quantity_parse_cpu,
                    "CPU such as 500m, 2 or 1.5");
    if (rc == CMD_OK)
        rc = plan_field(ctx, body, "memory", "memory_mb", quantity_parse_mb,
                        "a size such as 512Mi or 4Gi");
    if (rc == CMD_OK)
        rc = plan_field(ctx, body, "disk", "disk_mb", quantity_parse_mb, "a size such as 10Gi");
    if (rc == CMD_OK)
        rc = plan_field(ctx, body, "read-iops", "read_iops", plan_parse_iops,
                        "an integer >= 0 (0 = unlimited)");
    if (rc == CMD_OK)
        rc = plan_field(ctx, body, "write-iops", "write_iops", plan_parse_iops,
                        "an integer >= 0 (0 = unlimited)");
    if (rc == CMD_OK)
        rc = plan_field(ctx, body, "read-bps", "read_bps", args_parse_bps,
                        "bytes/s such as 1048576, 10Mi or 5M (0 = unlimited)");
    if (rc == CMD_OK)
        rc = plan_field(ctx, body, "write-bps", "write_bps", args_parse_bps,
                        "bytes/s such as 1048576, 10Mi or 5M (0 = unlimited)");
    if (rc != CMD_OK)
        goto out;
    if (client_call(ctx->cl, "POST", "/v1/plans", body, NULL, &p) < 0) {
        rc = CMD_EAPI;
        goto out;
    }
    rc = plan_answer(ctx, p);

out:
    json_decref(body);
    return rc;
}

static int plan_list(struct cmd_ctx *ctx)
{
    static const char *const headers[] = {"name",      "cpu",        "memory",   "disk",
                                          "read_iops", "write_iops", "read_bps", "write_bps"};
    struct table *tab;
    json_t *list;
    json_t *p;
    size_t i;
    char b[32];
    int rc;

    rc = cmd_list(ctx, "/v1/plans", &list);
    if (rc != CMD_OK || !list)
        return rc;
    tab = table_new(8, headers);
    json_array_foreach(json_object_get(list, "items"), i, p)
    {
        table_cell(tab, cmd_str(p, "name"));
        table_cell(tab, cmd_cpu(p, "cpu_millis", b, sizeof(b)));
        table_cell(tab, cmd_mb(p, "memory_mb", b, sizeof(b)));
        table_cell(tab, cmd_mb(p, "disk_mb", b, sizeof(b)));
        table_cell(tab, plan_io(p, "read_iops", false, "-", b, sizeof(b)));
        table_cell(tab, plan_io(p, "write_iops", false, "-", b, sizeof(b)));
        table_cell(tab, plan_io(p, "read_bps", true, "-", b, sizeof(b)));
        table_cell(tab, plan_io(p, "write_bps", true, "-", b, sizeof(b)));
    }
    table_print(tab, stdout);
    table_free(tab);
    json_decref(list);
    return CMD_OK;
}

static int plan_show(struct cmd_ctx *ctx)
{
    json_t *p = NULL;

    if (cmd_call_named(ctx, "GET", "/v1/plans/", NULL, &p) != CMD_OK)
        return CMD_EAPI;
    return plan_answer(ctx, p);
}

static int plan_delete(struct cmd_ctx *ctx)
{
    return cmd_delete_named(ctx, "/v1/plans/", NULL, "plan", "deleted");
}

static const struct args_spec plan_create_specs[] = {
    {"cpu", ARGS_VALUE, "Q", true, "CPU per member, e.g. 500m, 2 or 1.5"},
    {"memory", ARGS_VALUE, "Q", true, "memory per member, e.g. 512Mi or 4Gi"},
    {"disk", ARGS_VALUE, "Q", true, "disk per member, e.g. 10Gi"},
    {"read-iops", ARGS_VALUE, "N", false, "read operations/s limit (default 0 = unlimited)"},
    {"write-iops", ARGS_VALUE, "N", false, "write operations/s limit (default 0 = unlimited)"},
    {"read-bps", ARGS_VALUE, "RATE", false,
     "read bytes/s limit, e.g. 50Mi (default 0 = unlimited)"},
    {"write-bps", ARGS_VALUE, "RATE", false,
     "write bytes/s limit, e.g. 50Mi (default 0 = unlimited)"},
    {0},
};

const struct cmd_def cmd_plan_defs[] = {
    {"plan", "create", "NAME --cpu Q --memory Q --disk Q [OPTIONS]", 1, 1, "create a plan",
     plan_create_specs, false, plan_create},
    {"plan", "list", "", 0, 0, "list plans", NULL, true, plan_list},
    {"plan", "show", "NAME", 1, 1, "show a plan", NULL, false, plan_show},
    {"plan", "delete", "NAME", 1, 1, "delete a plan no instance uses", NULL, false, plan_delete},
    {0},
};
