/* dbaasctl instance and events commands (/v1/instances, /v1/events), including waiting for an
 * instance to become running or deleted with --wait. */
#include "cli/cmd_instance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/table.h"
#include "lib/buf.h"
#include "lib/catalog.h"
#include "lib/connuri.h"
#include "lib/xalloc.h"
#include "lib/clock.h"

/* How often --wait polls the instance. */
#define INSTANCE_POLL_MS 500
#define INSTANCE_DEFAULT_TIMEOUT_S 600
#define INSTANCE_MAX_REPLICAS 5
#define INSTANCE_MAX_LAG_BYTES (INT64_C(1) << 40)
#define INSTANCE_MAX_MEMBERS 8

/* Append "host:port" of an endpoint ({"host","port"}) to b, an IPv6 address in brackets; "-"
 * when either is missing. */
static void instance_endpoint(struct buf *b, const json_t *ep)
{
    const char *host = cmd_str(ep, "host");
    json_t *port = json_object_get(ep, "port");

    if (!host || !json_is_integer(port)) {
        buf_puts(b, "-");
        return;
    }
    if (strchr(host, ':'))
        buf_printf(b, "[%s]", host);
    else
        buf_puts(b, host);
    buf_printf(b, ":%lld", (long long)json_integer_value(port));
}

/* The member of in that is the primary and meant to run, or NULL. */
static const json_t *instance_primary(const json_t *in)
{
    json_t *m;
    size_t i;

    json_array_foreach(json_object_get(in, "members"), i, m)
    {
        const char *role = cmd_str(m, "role");
        const char *desired = cmd_str(m, "desired");

        if (role && strcmp(role, "primary") == 0 && (!desired || strcmp(desired, "running") == 0))
            return m;
    }
    return NULL;
}

/* "primary: host:port", one "replica: host:port" line per replica endpoint, and the client
 * URIs when the server gives them. */
static void instance_print_endpoints(const json_t *in)
{
    const json_t *eps = json_object_get(in, "endpoints");
    struct buf b = BUF_INIT;
    json_t *ep;
    size_t i;

    ep = json_object_get(eps, "primary");
    instance_endpoint(&b, ep);
    table_kv(stdout, "primary", buf_str(&b));
    json_array_foreach(json_object_get(eps, "replicas"), i, ep)
    {
        buf_reset(&b);
        instance_endpoint(&b, ep);
        table_kv(stdout, "replica", buf_str(&b));
    }
    if (cmd_str(eps, "uri"))
        table_kv(stdout, "uri", cmd_str(eps, "uri"));
    if (cmd_str(eps, "readonly_uri"))
        table_kv(stdout, "readonly_uri", cmd_str(eps, "readonly_uri"));
    buf_free(&b);
}

/* A member's lag as one cell: "<bytes>B/<seconds>s", "?" for a part not known; "-" for the
 * primary and when nothing is known. */
static void instance_lag_cell(struct table *tab, const json_t *m)
{
    const json_t *bytes = json_object_get(m, "lag_bytes");
    const json_t *secs = json_object_get(m, "lag_seconds");
    struct buf b = BUF_INIT;

    if (!json_is_integer(bytes) && !json_is_number(secs)) {
        table_cell(tab, NULL);
        return;
    }
    if (json_is_integer(bytes))
        buf_printf(&b, "%lldB/", (long long)json_integer_value(bytes));
    else
        buf_puts(&b, "?/");
    if (json_is_number(secs))
        buf_printf(&b, "%.1fs", json_number_value(secs));
    else
        buf_puts(&b, "?");
    table_cell(tab, buf_str(&b));
    buf_free(&b);
}

/* Where each member lives and how it replicates: a table after a blank line; nothing when there
 * is no member. */
static void instance_print_members(const json_t *in)
{
    static const char *const headers[] = {"role",     "host", "zone",     "port", "status",
                                          "writable", "lag",  "restarts", "error"};
    const json_t *members = json_object_get(in, "members");
    struct table *tab;
    json_t *m;
    size_t i;

    if (json_array_size(members) == 0)
        return;
    tab = table_new(9, headers);
    json_array_foreach(members, i, m)
    {
        const char *status = cmd_str(m, "status");
        const char *desired = cmd_str(m, "desired");

        table_cell(tab, cmd_str(m, "role"));
        table_cell(tab, cmd_str(m, "host"));
        table_cell(tab, cmd_str(m, "zone"));
        if (json_is_integer(json_object_get(m, "port")))
            table_cellf(tab, "%lld", (long long)cmd_int(m, "port"));
        else
            table_cell(tab, NULL);
        if (status && desired && strcmp(desired, "running") != 0)
            table_cellf(tab, "%s (desired: %s)", status, desired);
        else
            table_cell(tab, status);
        if (json_is_boolean(json_object_get(m, "writable")))
            table_cell(tab, json_is_true(json_object_get(m, "writable")) ? "yes" : "no");
        else
            table_cell(tab, NULL);
        instance_lag_cell(tab, m);
        table_cellf(tab, "%lld", (long long)cmd_int(m, "restarts"));
        table_cell(tab, cmd_str(m, "error"));
    }
    fputc('\n', stdout);
    table_print(tab, stdout);
    table_free(tab);
}

static void instance_print(const json_t *in)
{
    table_kv(stdout, "id", cmd_str(in, "id"));
    table_kv(stdout, "name", cmd_str(in, "name"));
    table_kv(stdout, "tenant", cmd_str(in, "tenant"));
    table_kv(stdout, "engine", cmd_str(in, "engine"));
    table_kv(stdout, "version", cmd_str(in, "version"));
    table_kv(stdout, "plan", cmd_str(in, "plan"));
    table_kvf(stdout, "replicas", "%lld", (long long)cmd_int(in, "replicas"));
    table_kvf(stdout, "max_lag_bytes", "%lld", (long long)cmd_int(in, "max_lag_bytes"));
    table_kv(stdout, "status", cmd_str(in, "status"));
    table_kv(stdout, "status_reason", cmd_str(in, "status_reason"));
    table_kv(stdout, "host", cmd_str(in, "host"));
    instance_print_endpoints(in);
    table_kv(stdout, "created_at", cmd_str(in, "created_at"));
    table_kv(stdout, "updated_at", cmd_str(in, "updated_at"));
    instance_print_members(in);
}

/* One progress line: "2026-11-22T04:00:02Z  provisioning[: reason]". */
static void instance_progress(FILE *out, const char *status, const char *reason)
{
    struct buf b = BUF_INIT;
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    if (strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        stamp[0] = '\0';
    fputs(stamp, out);
    fputs("  ", out);
    table_sanitize(&b, status);
    if (reason) {
        buf_puts(&b, ": ");
        table_sanitize(&b, reason);
    }
    fprintf(out, "%s\n", buf_str(&b));
    fflush(out);
    buf_free(&b);
}

/* The --timeout option in seconds (default 600). Returns an exit status. */
static int instance_timeout(struct cmd_ctx *ctx, int64_t *seconds)
{
    const char *s = args_get(ctx->a, "timeout");

    *seconds = INSTANCE_DEFAULT_TIMEOUT_S;
    if (s && args_parse_int(s, 1, 86400 * 365, seconds) < 0)
        return cmd_usage_error(ctx->def, "invalid --timeout \"%s\": expected seconds (1 or more)",
                               s);
    return CMD_OK;
}

/* Poll instance id until it is running (for_delete false) or deleted (true), printing each
 * status change. first is the instance as last seen. Returns an exit status: CMD_OK when the
 * goal is reached, CMD_EAPI on failure, error or timeout (all printed). With last, *last gets the
 * instance as last seen (the caller decrefs). */
static int instance_wait(struct cmd_ctx *ctx, const json_t *first, bool for_delete,
                         int64_t timeout_s, json_t **last_seen)
{
    FILE *out = ctx->json ? stderr : stdout;
    const char *goal = for_delete ? "deleted" : "running";
    const char *id = cmd_str(first, "id");
    struct buf path = BUF_INIT;
    struct buf name = BUF_INIT;
    int64_t deadline = clock_now_ms() + timeout_s * 1000;
    char *last = NULL;
    json_t *cur = NULL;
    int rc = CMD_EAPI;

    if (!id) {
        fprintf(stderr, "%s: invalid answer from server: an instance without \"id\"\n",
                CMD_PROGRAM);
        goto out;
    }
    table_sanitize(&name, cmd_str(first, "name") ? cmd_str(first, "name") : id);
    cmd_path(&path, "/v1/instances/", id, NULL);
    cur = json_deep_copy(first);
    for (;;) {
        const char *status = cmd_str(cur, "status");
        const char *reason = cmd_str(cur, "status_reason");
        int64_t left;
        long http_status = 0;
        json_t *next = NULL;

        if (!status) {
            fprintf(stderr, "%s: invalid answer from server: an instance without \"status\"\n",
                    CMD_PROGRAM);
            goto out;
        }
        if (!last || strcmp(last, status) != 0) {
            instance_progress(out, status, reason);
            free(last);
            last = xstrdup(status);
        }
        if (strcmp(status, goal) == 0) {
            rc = CMD_OK;
            goto out;
        }
        if (!for_delete && strcmp(status, "failed") == 0) {
            fprintf(stderr, "%s: instance \"%s\" failed%s", CMD_PROGRAM, buf_str(&name),
                    reason ? ": " : "\n");
            if (reason) {
                struct buf r = BUF_INIT;

                table_sanitize(&r, reason);
                fprintf(stderr, "%s\n", buf_str(&r));
                buf_free(&r);
            }
            goto out;
        }
        if (!for_delete && (strcmp(status, "deleting") == 0 || strcmp(status, "deleted") == 0)) {
            fprintf(stderr, "%s: instance \"%s\" is being deleted\n", CMD_PROGRAM, buf_str(&name));
            goto out;
        }
        left = deadline - clock_now_ms();
        if (left <= 0) {
            fprintf(stderr,
                    "%s: timed out after %lld s waiting for instance \"%s\" to be %s "
                    "(status: %s)\n",
                    CMD_PROGRAM, (long long)timeout_s, buf_str(&name), goal, last);
            goto out;
        }
        clock_sleep_ms(left < INSTANCE_POLL_MS ? left : INSTANCE_POLL_MS);
        left = deadline - clock_now_ms();
        if (left < 1000)
            left = 1000;
        if (client_request(ctx->cl, "GET", buf_str(&path), NULL, NULL,
                           left < CLIENT_TIMEOUT_MS ? (long)left : CLIENT_TIMEOUT_MS, &http_status,
                           &next) < 0)
            goto out;
        if (for_delete && http_status == 404) {
            /* Gone from the API: deleted. */
            json_decref(next);
            json_object_set_new(cur, "status", json_string("deleted"));
            json_object_set_new(cur, "status_reason", json_null());
            continue;
        }
        if (http_status < 200 || http_status > 299 || !json_is_object(next)) {
            client_print_error(ctx->cl, http_status, next);
            json_decref(next);
            goto out;
        }
        json_decref(cur);
        cur = next;
    }

out:
    free(last);
    if (last_seen)
        *last_seen = cur;
    else
        json_decref(cur);
    buf_free(&path);
    buf_free(&name);
    return rc;
}

/* The --replicas and --max-lag-bytes options into body. Returns an exit status. */
static int instance_replica_opts(struct cmd_ctx *ctx, json_t *body)
{
    const char *s = args_get(ctx->a, "replicas");
    int64_t v;

    if (s) {
        if (args_parse_int(s, 0, INSTANCE_MAX_REPLICAS, &v) < 0)
            return cmd_usage_error(ctx->def, "invalid --replicas \"%s\": expected an integer 0..5",
                                   s);
        json_object_set_new(body, "replicas", json_integer(v));
    }
    s = args_get(ctx->a, "max-lag-bytes");
    if (s) {
        if (args_parse_int(s, 0, INSTANCE_MAX_LAG_BYTES, &v) < 0)
            return cmd_usage_error(
                ctx->def, "invalid --max-lag-bytes \"%s\": expected an integer 0..2^40", s);
        json_object_set_new(body, "max_lag_bytes", json_integer(v));
    }
    return CMD_OK;
}

/* Print "uri: ..." for instance in with password, over its endpoints (after --wait: the create's
 * answer may have come before placement). */
static void instance_print_uri(const json_t *in, const char *user, const char *password)
{
    const struct catalog_engine *ce = catalog_find(cmd_str(in, "engine"));
    const json_t *eps = json_object_get(in, "endpoints");
    struct connuri_host hosts[INSTANCE_MAX_MEMBERS];
    const json_t *ep = json_object_get(eps, "primary");
    struct buf b = BUF_INIT;
    int n = 0;
    size_t i;
    json_t *r;

    if (!ce || !ep || !user || !password)
        return;
    hosts[n].host = cmd_str(ep, "host");
    hosts[n++].port = (int)cmd_int(ep, "port");
    json_array_foreach(json_object_get(eps, "replicas"), i, r)
    {
        if (n == INSTANCE_MAX_MEMBERS)
            break;
        hosts[n].host = cmd_str(r, "host");
        hosts[n++].port = (int)cmd_int(r, "port");
    }
    connuri_build(&b, ce, user, password, hosts, n, CONNURI_READ_WRITE);
    table_kv(stdout, "uri", buf_str(&b));
    explicit_bzero(b.data, b.len);
    buf_free(&b);
}

/* POST /v1/instances/{id}/reset-password: the new password, printed once. */
static int instance_reset_password(struct cmd_ctx *ctx)
{
    struct buf path = BUF_INIT;
    json_t *in = NULL, *cred;
    int rc = CMD_EAPI;

    cmd_path(&path, "/v1/instances/", ctx->a->pos[0], "/reset-password");
    if (client_call(ctx->cl, "POST", buf_str(&path), NULL, NULL, &in) < 0)
        goto out;
    rc = CMD_OK;
    if (ctx->json) {
        cmd_print_json(in);
        goto out;
    }
    cred = json_object_get(in, "credentials");
    table_kv(stdout, "id", cmd_str(in, "id"));
    table_kv(stdout, "username", cmd_str(cred, "username"));
    table_kv(stdout, "password", cmd_str(cred, "password"));
    if (json_object_get(json_object_get(in, "endpoints"), "primary"))
        table_kv(stdout, "uri", cmd_str(cred, "uri"));
    table_kv(stdout, "applied",
             json_is_true(json_object_get(in, "password_applied"))
                 ? "yes"
                 : "not yet by every member (the old password works there until then)");
    printf("(the password is shown once; store it now)\n");
out:
    json_decref(in);
    buf_free(&path);
    return rc;
}

static int instance_create(struct cmd_ctx *ctx)
{
    const struct args *a = ctx->a;
    const char *key = args_get(a, "idempotency-key");
    const char *s;
    struct buf header = BUF_INIT;
    json_t *body = NULL;
    json_t *in = NULL;
    json_t *last = NULL;
    json_t *cred;
    int64_t timeout_s = 0;
    int rc;

    rc = instance_timeout(ctx, &timeout_s);
    if (rc != CMD_OK)
        goto out;
    body = json_pack("{s:s,s:s,s:s}", "name", a->pos[0], "engine", args_get(a, "engine"), "plan",
                     args_get(a, "plan"));
    rc = instance_replica_opts(ctx, body);
    if (rc != CMD_OK)
        goto out;
    s = args_get(a, "version");
    if (s)
        json_object_set_new(body, "version", json_string(s));
    s = args_get(a, "tenant");
    if (s)
        json_object_set_new(body, "tenant", json_string(s));
    if (key) {
        if (!args_header_safe(key, 255)) {
            rc = cmd_usage_error(ctx->def,
                                 "invalid --idempotency-key: expected 1..255 printable ASCII "
                                 "characters");
            goto out;
        }
        buf_printf(&header, "Idempotency-Key: %s", key);
    }
    if (client_call(ctx->cl, "POST", "/v1/instances", body, key ? buf_str(&header) : NULL, &in) <
        0) {
        rc = CMD_EAPI;
        goto out;
    }
    cred = json_object_get(in, "credentials");
    if (ctx->json) {
        cmd_print_json(in);
    } else {
        table_kv(stdout, "id", cmd_str(in, "id"));
        table_kv(stdout, "name", cmd_str(in, "name"));
        table_kv(stdout, "status", cmd_str(in, "status"));
        if (cred) {
            table_kv(stdout, "username", cmd_str(cred, "username"));
            table_kv(stdout, "password", cmd_str(cred, "password"));
            if (cmd_str(cred, "database"))
                table_kv(stdout, "database", cmd_str(cred, "database"));
            if (json_object_get(json_object_get(in, "endpoints"), "primary"))
                table_kv(stdout, "uri", cmd_str(cred, "uri"));
            printf("(credentials shown once; store them now)\n");
        } else {
            printf("(a repeated request: the credentials were shown only by the first one)\n");
        }
    }
    fflush(stdout);
    rc = CMD_OK;
    if (args_has(a, "wait")) {
        rc = instance_wait(ctx, in, false, timeout_s, &last);
        /* Placed now: the URI with every member's address. */
        if (rc == CMD_OK && cred && !ctx->json &&
            !json_object_get(json_object_get(in, "endpoints"), "primary"))
            instance_print_uri(last, cmd_str(cred, "username"), cmd_str(cred, "password"));
    }

out:
    json_decref(last);
    json_decref(in);
    json_decref(body);
    buf_free(&header);
    return rc;
}

static int instance_list(struct cmd_ctx *ctx)
{
    static const char *const headers[] = {"id",   "name",     "engine", "version",
                                          "plan", "replicas", "status", "host"};
    const char *tenant = args_get(ctx->a, "tenant");
    const json_t *primary;
    struct buf path = BUF_INIT;
    struct table *tab;
    json_t *list;
    json_t *in;
    size_t i;
    int rc;

    buf_puts(&path, "/v1/instances");
    if (tenant)
        cmd_path(&path, "?tenant=", tenant, NULL);
    rc = cmd_list(ctx, buf_str(&path), &list);
    buf_free(&path);
    if (rc != CMD_OK || !list)
        return rc;
    tab = table_new(8, headers);
    json_array_foreach(json_object_get(list, "items"), i, in)
    {
        table_cell(tab, cmd_str(in, "id"));
        table_cell(tab, cmd_str(in, "name"));
        table_cell(tab, cmd_str(in, "engine"));
        table_cell(tab, cmd_str(in, "version"));
        table_cell(tab, cmd_str(in, "plan"));
        table_cellf(tab, "%lld", (long long)cmd_int(in, "replicas"));
        table_cell(tab, cmd_str(in, "status"));
        primary = instance_primary(in);
        table_cell(tab, primary && cmd_str(primary, "host") ? cmd_str(primary, "host")
                                                            : cmd_str(in, "host"));
    }
    table_print(tab, stdout);
    table_free(tab);
    json_decref(list);
    return CMD_OK;
}

static int instance_show(struct cmd_ctx *ctx)
{
    json_t *in = NULL;

    if (cmd_call_named(ctx, "GET", "/v1/instances/", NULL, &in) != CMD_OK)
        return CMD_EAPI;
    if (ctx->json)
        cmd_print_json(in);
    else
        instance_print(in);
    json_decref(in);
    return CMD_OK;
}

static int instance_resize(struct cmd_ctx *ctx)
{
    struct buf path = BUF_INIT;
    json_t *body = json_object();
    json_t *in = NULL;
    int rc;

    if (args_get(ctx->a, "plan"))
        json_object_set_new(body, "plan", json_string(args_get(ctx->a, "plan")));
    rc = instance_replica_opts(ctx, body);
    if (rc != CMD_OK)
        goto out;
    if (json_object_size(body) == 0) {
        rc = cmd_usage_error(ctx->def, "give at least one of --plan, --replicas, --max-lag-bytes");
        goto out;
    }
    cmd_path(&path, "/v1/instances/", ctx->a->pos[0], NULL);
    if (client_call(ctx->cl, "PATCH", buf_str(&path), body, NULL, &in) < 0) {
        rc = CMD_EAPI;
        goto out;
    }
    if (ctx->json)
        cmd_print_json(in);
    else
        instance_print(in);

out:
    json_decref(in);
    json_decref(body);
    buf_free(&path);
    return rc;
}

static int instance_delete(struct cmd_ctx *ctx)
{
    struct buf path = BUF_INIT;
    json_t *in = NULL;
    int64_t timeout_s = 0;
    int rc;

    rc = instance_timeout(ctx, &timeout_s);
    if (rc != CMD_OK)
        goto out;
    cmd_path(&path, "/v1/instances/", ctx->a->pos[0], NULL);
    if (client_call(ctx->cl, "DELETE", buf_str(&path), NULL, NULL, &in) < 0) {
        rc = CMD_EAPI;
        goto out;
    }
    if (ctx->json) {
        cmd_print_json(in);
    } else {
        table_kv(stdout, "id", cmd_str(in, "id"));
        table_kv(stdout, "name", cmd_str(in, "name"));
        table_kv(stdout, "status", cmd_str(in, "status"));
    }
    fflush(stdout);
    if (args_has(ctx->a, "wait"))
        rc = instance_wait(ctx, in, true, timeout_s, NULL);

out:
    json_decref(in);
    buf_free(&path);
    return rc;
}

static int events_list(struct cmd_ctx *ctx)
{
    static const char *const headers[] = {"id",    "at",   "tenant", "instance",
                                          "actor", "kind", "message"};
    const char *tenant = args_get(ctx->a, "tenant");
    const char *instance = args_get(ctx->a, "instance");
    struct buf path = BUF_INIT;
    struct table *tab;
    json_t *list;
    json_t *ev;
    size_t i;
    int rc;

    buf_puts(&path, "/v1/events");
    if (tenant)
        cmd_path(&path, "?tenant=", tenant, NULL);
    if (instance)
        cmd_path(&path, tenant ? "&instance=" : "?instance=", instance, NULL);
    rc = cmd_list(ctx, buf_str(&path), &list);
    buf_free(&path);
    if (rc != CMD_OK || !list)
        return rc;
    tab = table_new(7, headers);
    json_array_foreach(json_object_get(list, "items"), i, ev)
    {
        table_cellf(tab, "%lld", (long long)cmd_int(ev, "id"));
        table_cell(tab, cmd_str(ev, "at"));
        table_cell(tab, cmd_str(ev, "tenant"));
        table_cell(tab, cmd_str(ev, "instance_id"));
        table_cell(tab, cmd_str(ev, "actor"));
        table_cell(tab, cmd_str(ev, "kind"));
        table_cell(tab, cmd_str(ev, "message"));
    }
    table_print(tab, stdout);
    table_free(tab);
    json_decref(list);
    return CMD_OK;
}

static const struct args_spec instance_create_specs[] = {
    {"engine", ARGS_VALUE, "ENGINE", true, "one of " CATALOG_NAMES},
    {"plan", ARGS_VALUE, "PLAN", true, "plan name"},
    {"replicas", ARGS_VALUE, "N", false, "number of replicas, 0..5 (default 0)"},
    {"max-lag-bytes", ARGS_VALUE, "N", false,
     "replica lag that makes the instance degraded (default 16777216)"},
    {"version", ARGS_VALUE, "V", false, "engine version (default: the engine's default)"},
    {"tenant", ARGS_VALUE, "TENANT", false, "owner tenant (operator token only)"},
    {"idempotency-key", ARGS_VALUE, "KEY", false, "retry-safe key: a repeat creates nothing"},
    {"wait", ARGS_FLAG, NULL, false, "wait until the instance is running or failed"},
    {"timeout", ARGS_VALUE, "SECONDS", false, "give up waiting after SECONDS (default 600)"},
    {0},
};

static const struct args_spec instance_list_specs[] = {
    {"tenant", ARGS_VALUE, "TENANT", false, "only this tenant's instances (operator token)"},
    {0},
};

static const struct args_spec instance_resize_specs[] = {
    {"plan", ARGS_VALUE, "PLAN", false, "the new plan"},
    {"replicas", ARGS_VALUE, "N", false, "the number of replicas, 0..5"},
    {"max-lag-bytes", ARGS_VALUE, "N", false, "replica lag that makes the instance degraded"},
    {0},
};

static const struct args_spec instance_delete_specs[] = {
    {"wait", ARGS_FLAG, NULL, false, "wait until the instance is deleted"},
    {"timeout", ARGS_VALUE, "SECONDS", false, "give up waiting after SECONDS (default 600)"},
    {0},
};

static const struct args_spec events_specs[] = {
    {"tenant", ARGS_VALUE, "TENANT", false, "only this tenant's events (operator token)"},
    {"instance", ARGS_VALUE, "ID", false, "only this instance's events"},
    {0},
};

const struct cmd_def cmd_instance_defs[] = {
    {"instance", "create", "NAME --engine ENGINE --plan PLAN [OPTIONS]", 1, 1,
     "create a database instance (prints its credentials once)", instance_create_specs, false,
     instance_create},
    {"instance", "list", "[--tenant TENANT]", 0, 0, "list instances", instance_list_specs, true,
     instance_list},
    {"instance", "show", "ID", 1, 1, "show an instance", NULL, false, instance_show},
    {"instance", "resize", "ID [--plan PLAN] [--replicas N] [--max-lag-bytes N]", 1, 1,
     "change an instance's plan, number of replicas or max lag", instance_resize_specs, false,
     instance_resize},
    {"instance", "delete", "ID [--wait] [--timeout SECONDS]", 1, 1, "delete an instance",
     instance_delete_specs, false, instance_delete},
    {"instance", "reset-password", "ID", 1, 1,
     "give the instance's application user a new password (prints it once)", NULL, false,
     instance_reset_password},
    {"events", NULL, "[--tenant TENANT] [--instance ID] [--limit N]", 0, 0,
     "list events, oldest first", events_specs, true, events_list},
    {0},
};
