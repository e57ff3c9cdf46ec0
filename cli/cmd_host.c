/* dbaasctl host commands (/v1/hosts): register, list, drain and remove database hosts. */
#include "cli/cmd_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/table.h"
#include "lib/buf.h"
#include "lib/catalog.h"
#include "lib/quantity.h"
#include "lib/xalloc.h"

/* "cpu/memory/disk" of obj, e.g. "4/8Gi/100Gi". */
static void host_triple(struct buf *b, const json_t *obj)
{
    char q[32];

    buf_reset(b);
    buf_puts(b, cmd_cpu(obj, "cpu_millis", q, sizeof(q)));
    buf_printf(b, "/%s", cmd_mb(obj, "memory_mb", q, sizeof(q)));
    buf_printf(b, "/%s", cmd_mb(obj, "disk_mb", q, sizeof(q)));
}

/* The engines array joined with commas. */
static void host_engines(struct buf *b, const json_t *h)
{
    json_t *e;
    size_t i;

    buf_reset(b);
    json_array_foreach(json_object_get(h, "engines"), i, e)
        buf_printf(b, "%s%s", i ? "," : "", json_string_value(e) ? json_string_value(e) : "?");
}

static void host_print(const json_t *h)
{
    const json_t *alloc = json_object_get(h, "allocated");
    struct buf b = BUF_INIT;
    char q[3][32];

    table_kv(stdout, "name", cmd_str(h, "name"));
    table_kv(stdout, "address", cmd_str(h, "address"));
    table_kv(stdout, "zone", cmd_str(h, "zone"));
    table_kv(stdout, "status", cmd_str(h, "status"));
    table_kv(stdout, "state", cmd_str(h, "state"));
    table_kv(stdout, "draining", json_is_true(json_object_get(h, "draining")) ? "yes" : "no");
    host_engines(&b, h);
    table_kv(stdout, "engines", buf_str(&b));
    table_kvf(stdout, "capacity", "cpu %s, memory %s, disk %s",
              cmd_cpu(h, "cpu_millis", q[0], sizeof(q[0])),
              cmd_mb(h, "memory_mb", q[1], sizeof(q[1])), cmd_mb(h, "disk_mb", q[2], sizeof(q[2])));
    table_kvf(stdout, "allocated", "cpu %s, memory %s, disk %s",
              cmd_cpu(alloc, "cpu_millis", q[0], sizeof(q[0])),
              cmd_mb(alloc, "memory_mb", q[1], sizeof(q[1])),
              cmd_mb(alloc, "disk_mb", q[2], sizeof(q[2])));
    table_kvf(stdout, "instances", "%lld", (long long)cmd_int(h, "instances"));
    table_kv(stdout, "last_heartbeat", cmd_str(h, "last_heartbeat"));
    table_kv(stdout, "created_at", cmd_str(h, "created_at"));
    buf_free(&b);
}

static int host_answer(struct cmd_ctx *ctx, json_t *h)
{
    if (ctx->json)
        cmd_print_json(h);
    else
        host_print(h);
    json_decref(h);
    return CMD_OK;
}

/* Split "postgres,mysql" (engines of lib/catalog.h) into a JSON array of strings; empty items are a
 * usage error. Returns a new array, or NULL after printing the usage error. */
static json_t *host_parse_engines(struct cmd_ctx *ctx, const char *s)
{
    json_t *arr = json_array();
    char *copy = xstrdup(s);
    char *item = copy;
    char *comma;

    for (;;) {
        comma = strchr(item, ',');
        if (comma)
            *comma = '\0';
        if (*item == '\0') {
            cmd_usage_error(ctx->def,
                            "invalid --engines \"%s\": expected a comma-separated list of "
                            "engines among " CATALOG_NAMES,
                            s);
            json_decref(arr);
            arr = NULL;
            break;
        }
        if (!catalog_known(item)) {
            cmd_usage_error(ctx->def,
                            "unknown engine \"%s\" in --engines: expected one of " CATALOG_NAMES,
                            item);
            json_decref(arr);
            arr = NULL;
            break;
        }
        json_array_append_new(arr, json_string(item));
        if (!comma)
            break;
        item = comma + 1;
    }
    free(copy);
    return arr;
}

static int host_add(struct cmd_ctx *ctx)
{
    const struct args *a = ctx->a;
    json_t *body = NULL;
    json_t *engines = NULL;
    json_t *h = NULL;
    int64_t cpu, mem, disk;
    int rc = CMD_EUSAGE;

    if (quantity_parse_cpu(args_get(a, "cpu"), &cpu) < 0) {
        cmd_usage_error(ctx->def, "invalid --cpu \"%s\": expected CPU such as 4 or 3500m",
                        args_get(a, "cpu"));
        goto out;
    }
    if (quantity_parse_mb(args_get(a, "memory"), &mem) < 0) {
        cmd_usage_error(ctx->def, "invalid --memory \"%s\": expected a size such as 16Gi",
                        args_get(a, "memory"));
        goto out;
    }
    if (quantity_parse_mb(args_get(a, "disk"), &disk) < 0) {
        cmd_usage_error(ctx->def, "invalid --disk \"%s\": expected a size such as 500Gi",
                        args_get(a, "disk"));
        goto out;
    }
    engines = host_parse_engines(ctx, args_get(a, "engines"));
    if (!engines)
        goto out;
    body = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:O}", "name", a->pos[0], "address",
                     args_get(a, "address"), "zone", args_get(a, "zone"), "cpu_millis",
                     (json_int_t)cpu, "memory_mb", (json_int_t)mem, "disk_mb", (json_int_t)disk,
                     "engines", engines);
    if (client_call(ctx->cl, "POST", "/v1/hosts", body, NULL, &h) < 0) {
        rc = CMD_EAPI;
        goto out;
    }
    if (ctx->json) {
        cmd_print_json(h);
    } else {
        host_print(h);
        table_kv(stdout, "token", cmd_str(h, "token"));
        printf("(agent token shown once; store it now)\n");
    }
    rc = CMD_OK;

out:
    json_decref(h);
    json_decref(body);
    json_decref(engines);
    return rc;
}

static int host_list(struct cmd_ctx *ctx)
{
    static const char *const headers[] = {"name",     "address",   "zone",     "status",
                                          "capacity", "allocated", "instances"};
    struct buf b = BUF_INIT;
    struct table *tab;
    json_t *list;
    json_t *h;
    size_t i;
    int rc;

    rc = cmd_list(ctx, "/v1/hosts", &list);
    if (rc != CMD_OK || !list)
        return rc;
    tab = table_new(7, headers);
    json_array_foreach(json_object_get(list, "items"), i, h)
    {
        table_cell(tab, cmd_str(h, "name"));
        table_cell(tab, cmd_str(h, "address"));
        table_cell(tab, cmd_str(h, "zone"));
        table_cell(tab, cmd_str(h, "status"));
        host_triple(&b, h);
        table_cell(tab, buf_str(&b));
        host_triple(&b, json_object_get(h, "allocated"));
        table_cell(tab, buf_str(&b));
        table_cellf(tab, "%lld", (long long)cmd_int(h, "instances"));
    }
    table_print(tab, stdout);
    table_free(tab);
    buf_free(&b);
    json_decref(list);
    return CMD_OK;
}

/* method /v1/hosts/NAME[suffix] and print the host it answers. */
static int host_simple(struct cmd_ctx *ctx, const char *method, const char *suffix)
{
    json_t *h = NULL;

    if (cmd_call_named(ctx, method, "/v1/hosts/", suffix, &h) != CMD_OK)
        return CMD_EAPI;
    return host_answer(ctx, h);
}

static int host_show(struct cmd_ctx *ctx)
{
    return host_simple(ctx, "GET", NULL);
}

static int host_drain(struct cmd_ctx *ctx)
{
    return host_simple(ctx, "POST", "/drain");
}

static int host_undrain(struct cmd_ctx *ctx)
{
    return host_simple(ctx, "POST", "/undrain");
}

static int host_remove(struct cmd_ctx *ctx)
{
    bool force = args_has(ctx->a, "force");

    return cmd_delete_named(ctx, "/v1/hosts/", force ? "?force=true" : NULL, "host",
                            force ? "removed by force" : "removed");
}

/* A new agent token for a host: by default its next one (the current one works until the
 * agent uses it), with --immediate the current one at once. */
static int host_rotate_token(struct cmd_ctx *ctx)
{
    bool immediate = args_has(ctx->a, "immediate");
    json_t *body = json_pack("{s:b}", "immediate", immediate), *h = NULL;
    struct buf path = BUF_INIT;
    int rc = CMD_EAPI;

    cmd_path(&path, "/v1/hosts/", ctx->a->pos[0], "/token");
    if (client_call(ctx->cl, "POST", buf_str(&path), body, NULL, &h) < 0)
        goto out;
    if (ctx->json) {
        cmd_print_json(h);
    } else {
        table_kv(stdout, "token", cmd_str(h, "token"));
        printf("(agent token shown once; write it to the agent's --token-file, which the agent "
               "reads again when it changes)\n");
        printf(immediate ? "the old token no longer works\n"
                         : "the old token works until the agent first uses this one\n");
    }
    rc = CMD_OK;
out:
    json_decref(h);
    json_decref(body);
    buf_free(&path);
    return rc;
}

static const struct args_spec host_add_specs[] = {
    {"address", ARGS_VALUE, "A", true, "hostname or IP address of the host"},
    {"zone", ARGS_VALUE, "Z", true, "availability zone"},
    {"cpu", ARGS_VALUE, "Q", true, "CPU capacity, e.g. 16 or 15500m"},
    {"memory", ARGS_VALUE, "Q", true, "memory capacity, e.g. 64Gi"},
    {"disk", ARGS_VALUE, "Q", true, "disk capacity, e.g. 2Ti"},
    {"engines", ARGS_VALUE, "LIST", true, "engines it runs, comma-separated, among " CATALOG_NAMES},
    {0},
};

static const struct args_spec host_token_specs[] = {
    {"immediate", ARGS_FLAG, NULL, false,
     "revoke the current token at once (a leaked token); the agent is refused until it has the "
     "new one"},
    {0},
};

static const struct args_spec host_remove_specs[] = {
    {"force", ARGS_FLAG, NULL, false,
     "the host is down and will not return: finish the deletes that waited for it and move its "
     "replicas (refused while it is ready or holds a primary that did not fail over)"},
    {0},
};

const struct cmd_def cmd_host_defs[] = {
    {"host", "add", "NAME --address A --zone Z --cpu Q --memory Q --disk Q --engines LIST", 1, 1,
     "register a host (prints its agent token once)", host_add_specs, false, host_add},
    {"host", "list", "", 0, 0, "list hosts with capacity and allocation", NULL, true, host_list},
    {"host", "show", "NAME", 1, 1, "show a host", NULL, false, host_show},
    {"host", "drain", "NAME", 1, 1, "stop placing instances on a host", NULL, false, host_drain},
    {"host", "undrain", "NAME", 1, 1, "place instances on a host again", NULL, false, host_undrain},
    {"host", "rotate-token", "NAME [--immediate]", 1, 1,
     "issue a new agent token (prints it once)", host_token_specs, false, host_rotate_token},
    {"host", "remove", "NAME [--force]", 1, 1,
     "remove a host that runs no instances (--force: one that is down for good)", host_remove_specs,
     false, host_remove},
    {0},
};
