/* What this dbaasd last wrote to the store for each host's heartbeat, so that a heartbeat that
 * changes nothing writes nothing (docs/agent.md, "What dbaasd does with it"): a digest of the
 * host's agent record, and per member a digest of what it reported (without its usage and the
 * probe's age) and of its usage, with when it was written. And what it last read for the
 * host, its desired members, so that an idle heartbeat reads nothing but its token's row.
 * Thread-safe (one mutex, held only around the table). */
#ifndef API_HBMEMO_H
#define API_HBMEMO_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

/* A member's usage is written when it changed and the last write is this old (ms). */
#define HBMEMO_USAGE_MS 10000
/* The host's row (hosts.last_heartbeat, agent) is written at least this often (ms). */
#define HBMEMO_HOST_MS 60000
/* A host's desired members read from the store answer its heartbeats for at most this long
 * (ms) while no change of the host was notified. Every change notifies every dbaasd on the
 * store, and a listener that reconnects wakes everything (control/notify.h), so this only
 * bounds how long a notification lost some other way goes unseen; 15 s keeps the store's share
 * of 10,000 idle hosts' heartbeats small (docs/benchmarks.md, bench-heartbeat). */
#define HBMEMO_DESIRED_MS 15000

struct hbmemo_plan {
    bool host;        /* write the host's row */
    json_t *members;  /* the reported members to write (new reference; may be empty) */
    bool any_deleted; /* a member is reported deleted: release it */
    /* private: the digests to remember once the writes succeeded */
    unsigned char agent[16];
    size_t n;
    struct hbmemo_member {
        int64_t id;
        unsigned char key[16], usage[16];
        bool write;
    } * m; /* owned */
};

/* Decide what a heartbeat of host_id must write at now_ms: agent_text is the host's agent
 * record (canonical JSON), members the reported members (borrowed), ready whether the store
 * shows the host ready. Fills plan; release it with hbmemo_plan_free(). */
void hbmemo_plan(int64_t host_id, const char *agent_text, json_t *members, bool ready,
                 int64_t now_ms, struct hbmemo_plan *plan);
/* The writes of plan succeeded at now_ms: remember them. */
void hbmemo_done(int64_t host_id, const struct hbmemo_plan *plan, int64_t now_ms);
/* The desired members of host_id as read from the store at a notify generation seen
 * (control/notify.h) and hashed to hash, read less than HBMEMO_DESIRED_MS before now_ms, when
 * changed, the host's notify generation now, is not past seen (no change of the host was
 * notified since): a copy (it holds secrets: wipe it, then free it), or NULL. */
char *hbmemo_desired_get(int64_t host_id, uint64_t changed, const char *hash, int64_t now_ms);
/* Remember text (the desired members hashing to hash) as read at now_ms, seen being the notify
 * generation taken before the read. */
void hbmemo_desired_put(int64_t host_id, uint64_t seen, const char *hash, const char *text,
                        int64_t now_ms);
/* Forget host_id (its writes failed: the next heartbeat writes everything). */
void hbmemo_forget(int64_t host_id);
void hbmemo_plan_free(struct hbmemo_plan *plan);

#endif
