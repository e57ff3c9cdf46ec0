/* dbaasctl operator commands: rotate the operator token (/v1/operator/token), list the audit
 * log (/v1/audit). */
#include "cli/cmd_operator.h"

#include <stdio.h>

#include "cli/table.h"
#include "lib/buf.h"

/* A new operator token: every other one (the one this command used included) stops working at
 * once; the dbaasd that answered wrote it to its DATA/operator.token. */
static int operator_rotate_token(struct cmd_ctx *ctx)
{
    json_t *h = NULL;

    if (client_call(ctx->cl, "POST", "/v1/operator/token", NULL, NULL, &h) < 0)
        return CMD_EAPI;
    if (ctx->json) {
        cmd_print_json(h);
    } else {
        table_kv(stdout, "token", cmd_str(h, "token"));
        table_kv(stdout, "file", cmd_str(h, "file"));
        if (json_object_get(h, "file_error"))
            table_kv(stdout, "file_error", cmd_str(h, "file_error"));
        printf("(shown once; every other operator token, the one this command used included, "
               "no longer works: update DBAAS_TOKEN or your --token-file)\n");
    }
    json_decref(h);
    return CMD_OK;
}

static int audit_list(struct cmd_ctx *ctx)
{
    static const char *const headers[] = {"id",     "at",     "actor", "tenant", "action",
                                          "target", "status", "error", "created"};
    const char *tenant = args_get(ctx->a, "tenant");
    struct buf path = BUF_INIT;
    struct table *tab;
    json_t *list, *rec;
    size_t i;
    int rc;

    buf_puts(&path, "/v1/audit");
    if (tenant)
        cmd_path(&path, "?tenant=", tenant, NULL);
    rc = cmd_list(ctx, buf_str(&path), &list);
    buf_free(&path);
    if (rc != CMD_OK || !list)
        return rc;
    tab = table_new(9, headers);
    json_array_foreach(json_object_get(list, "items"), i, rec)
    {
        table_cellf(tab, "%lld", (long long)cmd_int(rec, "id"));
        table_cell(tab, cmd_str(rec, "at"));
        table_cell(tab, cmd_str(rec, "actor"));
        table_cell(tab, cmd_str(rec, "tenant"));
        table_cell(tab, cmd_str(rec, "action"));
        table_cell(tab, cmd_str(rec, "target"));
        table_cellf(tab, "%lld", (long long)cmd_int(rec, "status"));
        table_cell(tab, cmd_str(rec, "error"));
        table_cell(tab, cmd_str(rec, "created"));
    }
    table_print(tab, stdout);
    table_free(tab);
    json_decref(list);
    return CMD_OK;
}

static const struct args_spec audit_specs[] = {
    {"tenant", ARGS_VALUE, "TENANT", false, "only the calls on this tenant"},
    {0},
};

const struct cmd_def cmd_operator_defs[] = {
    {"operator", "rotate-token", "", 0, 0,
     "issue a new operator token and revoke every other one (prints it once)", NULL, false,
     operator_rotate_token},
    {"audit", NULL, "[--tenant TENANT] [--limit N]", 0, 0,
     "list the audit log: every mutating call of an operator or a tenant", audit_specs, true,
     audit_list},
    {0},
};
