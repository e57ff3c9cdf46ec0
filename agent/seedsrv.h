/* The seed server: a TCP listener on the agent's advertise address that serves seed streams to
 * replicas, and nothing else. Each connection gets a thread: the handshake of
 * agent/seedproto.h (within SEEDPROTO_TIMEOUT_MS per step), then, once the client proved it
 * knows the instance's replication secret, the source's output relayed to it (splice), with a
 * deadline on every read and write. One stream per replica at a time; at most SEEDSRV_MAX_CONNS
 * connections at once. What a stream is made of (the members, the source program under
 * isolation) is the caller's: struct seedsrv_ops, so that a test can serve `cat FILE`. */
#ifndef AGENT_SEEDSRV_H
#define AGENT_SEEDSRV_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/seedproto.h"
#include "lib/err.h"

#define SEEDSRV_MAX_CONNS 8
#define SEEDSRV_SOURCE_IDLE_MS 120000 /* the source sent nothing for this long: abort */
#define SEEDSRV_WRITE_MS 60000        /* the replica took nothing for this long: abort */

struct seedsrv_ops {
    /* Authorisation (see seedproto_lookup_fn). */
    seedproto_lookup_fn lookup;
    /* Start the source of the stream for (primary, replica): *fd (owned by the server from
     * then on) is read until its end; *h is handed to finish. 0, or -1 with e set. */
    int (*start)(void *arg, int64_t primary, int64_t replica, int *fd, void **h, struct err *e);
    /* The relay ended: complete (the source's end reached and every byte sent) or not. Stop
     * the source, clean up h; 0 when the source succeeded (its exit status), else -1 with e. */
    int (*finish)(void *arg, void *h, bool complete, struct err *e);
    /* The source has sent nothing for a second (called again each second it stays silent):
     * a chance to release what blocks it (engine_seed_source_unblock). NULL: none. */
    void (*idle)(void *arg, void *h);
};

struct seedsrv;

/* Listen on addr:port (a numeric IPv4 or IPv6 address) and serve until seedsrv_stop(). ops and
 * arg are borrowed until then. NULL with e set when the port cannot be bound. */
struct seedsrv *seedsrv_start(const char *addr, int port, const struct seedsrv_ops *ops, void *arg,
                              struct err *e);
/* Stop listening, abort the streams in progress and wait for their threads. NULL is fine. */
void seedsrv_stop(struct seedsrv *s);

/* Connect to a seed server (host a numeric address) within timeout_ms: a connected socket,
 * or -1 with e set. */
int seedsrv_connect(const char *host, int port, int timeout_ms, struct err *e);

#endif
