/* dbaasctl: the command-line client of dbaasd. main() parses the global options that come before
 * the command and hands the rest to cmd_run(). */
#include <stdio.h>

#include "cli/args.h"
#include "cli/cmd.h"
#include "lib/err.h"

int main(int argc, char **argv)
{
    const struct args_spec *tables[] = {cmd_global_specs, NULL};
    struct cmd_globals g = {0};
    struct args a;
    struct err e;
    int used = 0;

    err_clear(&e);
    if (args_parse(&a, tables, argc - 1, argv + 1, true, &used, &e) < 0)
        return cmd_usage_error(NULL, "%s", e.msg);
    if (args_has(&a, "help")) {
        cmd_print_help(stdout);
        return CMD_OK;
    }
    if (args_has(&a, "version")) {
        printf("%s %s\n", CMD_PROGRAM, CMD_VERSION);
        return CMD_OK;
    }
    g.url = args_get(&a, "url");
    g.token = args_get(&a, "token");
    g.token_file = args_get(&a, "token-file");
    g.ca_file = args_get(&a, "ca-file");
    g.json = args_has(&a, "json");
    return cmd_run(&g, argc - 1 - used, argv + 1 + used);
}
