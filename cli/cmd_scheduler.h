/* dbaasctl scheduler commands. */
#ifndef CLI_CMD_SCHEDULER_H
#define CLI_CMD_SCHEDULER_H

#include "cli/cmd.h"

/* The command table, ending with an entry whose group is NULL. */
extern const struct cmd_def cmd_scheduler_defs[];

#endif
