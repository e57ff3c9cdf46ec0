/* dbaasctl operator commands: the operator token. */
#ifndef CLI_CMD_OPERATOR_H
#define CLI_CMD_OPERATOR_H

#include "cli/cmd.h"

/* The command table, ending with an entry whose group is NULL. */
extern const struct cmd_def cmd_operator_defs[];

#endif
