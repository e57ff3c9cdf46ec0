/* dbaasctl tenant, token and quota commands (operator routes under /v1/tenants). */
#include "cli/cmd_tenant.h"

#include <stdio.h>
#include <string.h>

#include "cli/table.h"
#include "lib/buf.h"

/* "used (quota: limit)" for one quota dimension; fmt formats both numbers. */
static void tenant_usage(struct buf *b, const json_t *t, const char *usage_key,
                         const char *quota_key,
                         const char *(*fmt)(const json_t *, const char *, char *, int))
{
    const json_t *usage = json_object_get(t, "usage");
    const json_t *quota = json_object_get(t, "quota");
    char used[32];
    char limit[32];

    buf_reset(b);
    if (fmt) {
        buf_puts(b, fmt(usage, usage_key, used, sizeof(used)));
        buf_printf(b, "/%s",
                   json_is_integer(json_object_get(quota, quota_key))
                       ? fmt(quota, quota_key, limit, sizeof(limit))
                       : "unlimited");
    } else {
        buf_printf(b, "%lld", (long long)cmd_int(usage, usage_key));
        if (json_is_integer(json_object_get(quota, quota_key)))
            buf_printf(b, "/%lld", (long long)cmd_int(quota, quota_key));
        else
            buf_puts(b, "/unlimited");
    }
}

static void tenant_print(const json_t *t)
{
    struct buf b = BUF_INIT;

    table_kv(stdout, "name", cmd_str(t, "name"));
    table_kv(stdout, "created_at", cmd_str(t, "created_at"));
    tenant_usage(&b, t, "instances", "max_instances", NULL);
    table_kv(stdout, "instances", buf_str(&b));
    tenant_usage(&b, t, "cpu_millis", "cpu_millis", cmd_cpu);
    table_kv(stdout, "cpu", buf_str(&b));
    tenant_usage(&b, t, "memory_mb", "memory_mb", cmd_mb);
    table_kv(stdout, "memory", buf_str(&b));
    tenant_usage(&b, t, "disk_mb", "disk_mb", cmd_mb);
    table_kv(stdout, "disk", buf_str(&b));
    buf_free(&b);
}

/* Print the answer (a tenant) of a call that returned one. */
static int tenant_answer(struct cmd_ctx *ctx, json_t *t)
{
    if (ctx->json)
        cmd_print_json(t);
    else
        tenant_print(t);
    json_decref(t);
    return CMD_OK;
}

static int tenant_create(struct cmd_ctx *ctx)
{
    json_t *body = json_pack("{s:s}", "name", ctx->a->pos[0]);
    json_t *t = NULL;
    int rc;

    rc = client_call(ctx->cl, "POST", "/v1/tenants", body, NULL, &t);
    json_decref(body);
    if (rc < 0)
        return CMD_EAPI;
    return tenant_answer(ctx, t);
}

static int tenant_list(struct cmd_ctx *ctx)
{
    static const char *const headers[] = {"name", "instances", "cpu", "memory", "disk", "created"};
    struct table *tab;
    struct buf b = BUF_INIT;
    json_t *list;
    json_t *t;
    size_t i;
    int rc;

    rc = cmd_list(ctx, "/v1/tenants", &list);
    if (rc != CMD_OK || !list)
        return rc;
    tab = table_new(6, headers);
    json_array_foreach(json_object_get(list, "items"), i, t)
    {
        table_cell(tab, cmd_str(t, "name"));
        tenant_usage(&b, t, "instances", "max_instances", NULL);
        table_cell(tab, buf_str(&b));
        tenant_usage(&b, t, "cpu_millis", "cpu_millis", cmd_cpu);
        table_cell(tab, buf_str(&b));
        tenant_usage(&b, t, "memory_mb", "memory_mb", cmd_mb);
        table_cell(tab, buf_str(&b));
        tenant_usage(&b, t, "disk_mb", "disk_mb", cmd_mb);
        table_cell(tab, buf_str(&b));
        table_cell(tab, cmd_str(t, "created_at"));
    }
    table_print(tab, stdout);
    table_free(tab);
    buf_free(&b);
    json_decref(list);
    return CMD_OK;
}

static int tenant_show(struct cmd_ctx *ctx)
{
    json_t *t = NULL;

    if (cmd_call_named(ctx, "GET", "/v1/tenants/", NULL, &t) != CMD_OK)
        return CMD_EAPI;
    return tenant_answer(ctx, t);
}

/* DELETE path; on success print "<what> deleted" (nothing with --json). */
static int tenant_delete_path(struct cmd_ctx *ctx, const char *path, const char *done)
{
    if (client_call(ctx->cl, "DELETE", path, NULL, NULL, NULL) < 0)
        return CMD_EAPI;
    if (!ctx->json)
        printf("%s\n", done);
    return CMD_OK;
}

static int tenant_delete(struct cmd_ctx *ctx)
{
    return cmd_delete_named(ctx, "/v1/tenants/", NULL, "tenant", "deleted");
}

static int token_create(struct cmd_ctx *ctx)
{
    struct buf path = BUF_INIT;
    json_t *body = json_object();
    json_t *t = NULL;
    int rc;

    cmd_path(&path, "/v1/tenants/", ctx->a->pos[0], "/tokens");
    rc = client_call(ctx->cl, "POST", buf_str(&path), body, NULL, &t);
    json_decref(body);
    buf_free(&path);
    if (rc < 0)
        return CMD_EAPI;
    if (ctx->json) {
        cmd_print_json(t);
    } else {
        table_kv(stdout, "id", cmd_str(t, "id"));
        table_kv(stdout, "token", cmd_str(t, "token"));
        printf("(shown once; store it now)\n");
    }
    json_decref(t);
    return CMD_OK;
}

static int token_list(struct cmd_ctx *ctx)
{
    static const char *const headers[] = {"id", "tenant", "created"};
    struct buf path = BUF_INIT;
    struct table *tab;
    json_t *list;
    json_t *t;
    size_t i;
    int rc;

    cmd_path(&path, "/v1/tenants/", ctx->a->pos[0], "/tokens");
    rc = cmd_list(ctx, buf_str(&path), &list);
    buf_free(&path);
    if (rc != CMD_OK || !list)
        return rc;
    tab = table_new(3, headers);
    json_array_foreach(json_object_get(list, "items"), i, t)
    {
        table_cell(tab, cmd_str(t, "id"));
        table_cell(tab, cmd_str(t, "tenant"));
        table_cell(tab, cmd_str(t, "created_at"));
    }
    table_print(tab, stdout);
    table_free(tab);
    json_decref(list);
    return CMD_OK;
}

static int token_revoke(struct cmd_ctx *ctx)
{
    struct buf path = BUF_INIT;
    struct buf done = BUF_INIT;
    int rc;

    cmd_path(&path, "/v1/tenants/", ctx->a->pos[0], "/tokens/");
    cmd_path(&path, "", ctx->a->pos[1], NULL);
    buf_puts(&done, "token \"");
    table_sanitize(&done, ctx->a->pos[1]);
    buf_puts(&done, "\" revoked");
    rc = tenant_delete_path(ctx, buf_str(&path), buf_str(&done));
    buf_free(&path);
    buf_free(&done);
    return rc;
}

/* Set body[key] from option opt: absent or "unlimited" -> null, else parse(). Returns an exit
 * status. */
static int quota_field(struct cmd_ctx *ctx, json_t *body, const char *opt, const char *key,
                       int (*parse)(const char *, int64_t *), const char *what)
{
    const char *s = args_get(ctx->a, opt);
    int64_t v;

    if (!s || strcmp(s, "unlimited") == 0) {
        json_object_set_new(body, key, json_null());
        return CMD_OK;
    }
    if (parse(s, &v) < 0)
        return cmd_usage_error(ctx->def, "invalid --%s \"%s\": expected %s", opt, s, what);
    json_object_set_new(body, key, json_integer(v));
    return CMD_OK;
}

static int quota_parse_count(const char *s, int64_t *v)
{
    return args_parse_int(s, 0, INT64_MAX, v);
}

static int quota_set(struct cmd_ctx *ctx)
{
    struct buf path = BUF_INIT;
    json_t *body = json_object();
    json_t *t = NULL;
    int rc;

    rc = quota_field(ctx, body, "instances", "max_instances", quota_parse_count,
                     "a count such as 10, or unlimited");
    if (rc == CMD_OK)
        rc = quota_field(ctx, body, "cpu", "cpu_millis", args_parse_cpu_limit,
                         "CPU such as 4 or 2500m, or unlimited");
    if (rc == CMD_OK)
        rc = quota_field(ctx, body, "memory", "memory_mb", args_parse_mb_limit,
                         "a size such as 16Gi, or unlimited");
    if (rc == CMD_OK)
        rc = quota_field(ctx, body, "disk", "disk_mb", args_parse_mb_limit,
                         "a size such as 500Gi, or unlimited");
    if (rc != CMD_OK)
        goto out;
    cmd_path(&path, "/v1/tenants/", ctx->a->pos[0], "/quota");
    if (client_call(ctx->cl, "PUT", buf_str(&path), body, NULL, &t) < 0) {
        rc = CMD_EAPI;
        goto out;
    }
    rc = tenant_answer(ctx, t);

out:
    json_decref(body);
    buf_free(&path);
    return rc;
}

static const struct args_spec quota_specs[] = {
    {"instances", ARGS_VALUE, "N", false, "at most N instances (default: unlimited)"},
    {"cpu", ARGS_VALUE, "Q", false, "total CPU, e.g. 8 or 2500m (default: unlimited)"},
    {"memory", ARGS_VALUE, "Q", false, "total memory, e.g. 16Gi (default: unlimited)"},
    {"disk", ARGS_VALUE, "Q", false, "total disk, e.g. 500Gi (default: unlimited)"},
    {0},
};

const struct cmd_def cmd_tenant_defs[] = {
    {"tenant", "create", "NAME", 1, 1, "create a tenant", NULL, false, tenant_create},
    {"tenant", "list", "", 0, 0, "list tenants with usage/quota", NULL, true, tenant_list},
    {"tenant", "show", "NAME", 1, 1, "show a tenant with its usage and quota", NULL, false,
     tenant_show},
    {"tenant", "delete", "NAME", 1, 1, "delete a tenant that owns no instances", NULL, false,
     tenant_delete},
    {"token", "create", "TENANT", 1, 1, "create an API token for a tenant (shown once)", NULL,
     false, token_create},
    {"token", "list", "TENANT", 1, 1, "list a tenant's API tokens", NULL, true, token_list},
    {"token", "revoke", "TENANT ID", 2, 2, "revoke an API token", NULL, false, token_revoke},
    {"quota", "set", "TENANT [--instances N] [--cpu Q] [--memory Q] [--disk Q]", 1, 1,
     "set a tenant's quota; an omitted limit is unlimited", quota_specs, false, quota_set},
    {0},
};
