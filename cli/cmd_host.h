/* dbaasctl host commands. */
#ifndef CLI_CMD_HOST_H
#define CLI_CMD_HOST_H

#include "cli/cmd.h"

/* The command table, ending with an entry whose group is NULL. */
extern const struct cmd_def cmd_host_defs[];

#endif
