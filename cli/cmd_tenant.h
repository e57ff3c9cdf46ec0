/* dbaasctl tenant, token and quota commands. */
#ifndef CLI_CMD_TENANT_H
#define CLI_CMD_TENANT_H

#include "cli/cmd.h"

/* The command table, ending with an entry whose group is NULL. */
extern const struct cmd_def cmd_tenant_defs[];

#endif
