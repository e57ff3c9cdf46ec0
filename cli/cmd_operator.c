/* dbaasctl operator commands (/v1/operator): rotate the operator token. */
#include "cli/cmd_operator.h"

#include <stdio.h>

#include "cli/table.h"

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

const struct cmd_def cmd_operator_defs[] = {
    {"operator", "rotate-token", "", 0, 0,
     "issue a new operator token and revoke every other one (prints it once)", NULL, false,
     operator_rotate_token},
    {0},
};
