/* A member (one engine server of an instance) as the agent knows it: what dbaasd wants (from
 * the last heartbeat reply) and what runs, persisted in DATA_DIR/members/<id>.json (mode 0600)
 * so that a restarted agent re-adopts the running engines instead of starting second copies. */
#ifndef AGENT_MEMBER_H
#define AGENT_MEMBER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "isolation/isolation.h"
#include "lib/err.h"
#include "lib/hbproto.h"

struct member {
    int64_t id;
    /* desired, from dbaasd */
    char instance_id[40];
    char instance[64];
    char engine[16];
    char role[16];
    int port;
    bool want_running; /* desired "running" (false: "deleted") */
    int spec_version;
    struct iso_limits limits;
    int64_t disk_mb;
    char username[64];
    char *verifier; /* owned */
    /* observed */
    enum hb_state state; /* as reported to dbaasd */
    char error[512];
    pid_t pid;
    uint64_t starttime;
    bool our_child; /* started by this agent process: reap it with waitpid */
    int restarts;
    int applied_version;
    bool pending_restart;
    bool provisioned; /* reached running once: a crash is restarted, not a failed create */
    /* supervision */
    bool busy;             /* a worker thread owns the member */
    int64_t restart_at_ms; /* when a crashed engine is due for a restart; 0 = not due */
    int backoff_ms;
    int64_t running_since_ms;
    struct iso_usage usage;
    int64_t disk_used_mb;
    int64_t disk_checked_ms;
    bool disk_warned;
    struct member *next;
};

/* Whether a desired entry of the heartbeat reply can make a new member: an object with an
 * integer id and port and a string engine. 0, or -1 with e set. */
int member_desired_check(const json_t *d, struct err *e) __attribute__((warn_unused_result));
/* A new member from a desired entry of the heartbeat reply; NULL with e set when malformed. */
struct member *member_from_desired(const json_t *d, struct err *e);
/* Whether a desired entry asks for a running member (desired "running"; anything else, such
 * as "deleted", asks for none). */
bool member_desired_running(const json_t *d);
/* Update the desired fields of m from d (same id). Returns whether the limits changed. */
bool member_update_desired(struct member *m, const json_t *d);
void member_free(struct member *m);

/* Persist m under dir/members/<id>.json (atomically, 0600). 0 / -1. */
int member_save(const struct member *m, const char *dir, struct err *e)
    __attribute__((warn_unused_result));
/* Remove the persisted record. */
void member_forget(const struct member *m, const char *dir);
/* Load every persisted member of dir into a list (newest first). */
struct member *member_load_all(const char *dir);

/* The member's directory: dir/members/<id> (caller frees). */
char *member_dir(const struct member *m, const char *dir);
/* The isolation group name: "<agent tag>-m<id>". The tag (from the agent's data directory)
 * keeps the groups of several agents on one machine apart: member ids are only unique within
 * one control plane. */
void member_group(const struct member *m, const char *tag, char out[40]);

#endif
