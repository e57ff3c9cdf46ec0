/* dbaasctl instance and events commands. */
#ifndef CLI_CMD_INSTANCE_H
#define CLI_CMD_INSTANCE_H

#include "cli/cmd.h"

/* The command table, ending with an entry whose group is NULL. */
extern const struct cmd_def cmd_instance_defs[];

#endif
