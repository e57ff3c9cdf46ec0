/* The seed protocol between a replica's agent (dbaas-agent seed-fetch) and the primary's
 * agent seed server (agent/seedsrv.c), over TCP (docs/agent.md, "Seeding a replica"):
 *
 *   server: "DBAAS-SEED 1 <nonce: 64 hex digits>\n"         (32 random bytes)
 *   client: "<primary id> <replica id> <mac: 64 hex digits>\n"
 *   server: "OK\n" and then the seed stream until the end of the connection
 *        or "ERR <reason>\n" and the end of the connection
 *
 * mac = HMAC-SHA256(key = the instance's replication secret, message = nonce (32 bytes) ||
 * primary id || replica id (each 8 bytes, big-endian)): the client proves it knows the secret
 * without sending it, for this connection (the nonce) and this pair of members only. A stream
 * that ends with a clean close is complete; a failed source resets the connection.
 *
 * NOTES: nothing logs; every read and write has a deadline; lines are read one byte at a time
 * so that nothing of the stream after "OK\n" is consumed by the handshake. */
#ifndef AGENT_SEEDPROTO_H
#define AGENT_SEEDPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define SEEDPROTO_GREETING "DBAAS-SEED 1"
#define SEEDPROTO_NONCE_LEN 32
#define SEEDPROTO_MAC_HEX 64
#define SEEDPROTO_LINE_MAX 256
#define SEEDPROTO_TIMEOUT_MS 10000 /* each step of the handshake */

/* The client's proof for (nonce, primary, replica) as lowercase hex. */
void seedproto_mac(const char *secret, const unsigned char nonce[SEEDPROTO_NONCE_LEN],
                   int64_t primary, int64_t replica, char hex[SEEDPROTO_MAC_HEX + 1]);

/* Read one line (without its "\n") into buf of n bytes, within timeout_ms for the whole line,
 * never past its "\n". 0, or -1 with e set (AGENT_E_SEED: closed, too long, timed out). */
int seedproto_read_line(int fd, char *buf, size_t n, int timeout_ms, struct err *e)
    __attribute__((warn_unused_result));
/* Write all n bytes within timeout_ms. 0 / -1 with e set. */
int seedproto_write_all(int fd, const void *buf, size_t n, int timeout_ms, struct err *e)
    __attribute__((warn_unused_result));

/* The client's side on a connected socket: read the greeting, send the proof, read the answer.
 * 0 when the server accepted (the stream follows on fd); -1 with e set (AGENT_E_DENIED with the
 * server's reason when it refused). */
int seedproto_client(int fd, const char *secret, int64_t primary, int64_t replica, int timeout_ms,
                     struct err *e) __attribute__((warn_unused_result));

/* The server's question: the replication secret of the instance whose member primary this
 * agent runs as a primary serving replica (a new string, wiped and freed by the caller), or -1
 * with e set (AGENT_E_DENIED) when it does not. */
typedef int (*seedproto_lookup_fn)(void *arg, int64_t primary, int64_t replica, char **secret,
                                   struct err *e);

/* The server's side on an accepted socket: send the greeting with a fresh nonce, read the
 * client's proof, check it in constant time against lookup's secret. 0 when authenticated
 * (*primary and *replica set; the caller answers "OK\n" or "ERR ...\n"); -1 with e set, for the
 * server's log (the client is told only "denied"). */
int seedproto_server(int fd, seedproto_lookup_fn lookup, void *arg, int timeout_ms,
                     int64_t *primary, int64_t *replica, struct err *e)
    __attribute__((warn_unused_result));

#endif
