/* In-process request metrics for GET /metrics (Prometheus text format). Thread-safe. */
#ifndef API_METRICS_H
#define API_METRICS_H

#include "lib/buf.h"

/* Count one request: route is the index in the route table (-1 = unmatched). */
void metrics_observe(int route, const char *method, unsigned status, double seconds);

/* Append the request counters and the latency histogram to out. */
void metrics_render(struct buf *out);

#endif
