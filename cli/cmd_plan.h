/* dbaasctl plan commands. */
#ifndef CLI_CMD_PLAN_H
#define CLI_CMD_PLAN_H

#include "cli/cmd.h"

/* The command table, ending with an entry whose group is NULL. */
extern const struct cmd_def cmd_plan_defs[];

#endif
