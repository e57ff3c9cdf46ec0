/* Deleted members' data kept aside for a while: a delete moves the member directory into
 * DATA_DIR/quarantine/ (root's, mode 0700: the engine's user can no longer reach it) instead of
 * removing it, and a background pass removes what has been kept longer than the keep time
 * (dbaas-agent --keep-deleted, 24 h by default), so that a wrong delete can still be undone by
 * an operator. Entries are named "<member id>-<unix time of the delete>[-n]": the time is the
 * wall clock, since the keep time spans agent restarts. */
#ifndef AGENT_QUARANTINE_H
#define AGENT_QUARANTINE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "lib/err.h"

/* Move member directory src (of member id) into data_dir/quarantine/, named with now (wall
 * clock seconds). A missing src is not an error (*moved false). 0 / -1 with e set; src is
 * unchanged on failure. */
int quarantine_move(const char *data_dir, const char *src, int64_t id, time_t now, bool *moved,
                    struct err *e) __attribute__((warn_unused_result));

/* The delete time of a quarantine entry's name; false when the name is not an entry's. */
bool quarantine_entry_time(const char *name, time_t *when);

/* Remove every entry of data_dir/quarantine/ deleted at least keep_s seconds before now
 * (as root, `rm -rf --one-file-system`, which never follows a link: the directory is root's
 * and no engine can reach it any more). Returns how many were removed; a failure to remove
 * one is put in e (the last one) and the pass goes on. */
int quarantine_sweep(const char *data_dir, time_t now, int64_t keep_s, struct err *e);

#endif
