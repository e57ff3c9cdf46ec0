/* dbaasctl HA commands: the HA settings (ha show, ha set) and an instance's switchover. */
#ifndef CLI_CMD_HA_H
#define CLI_CMD_HA_H

#include "cli/cmd.h"

/* The command table, ending with an entry whose group is NULL. */
extern const struct cmd_def cmd_ha_defs[];

#endif
