/* In-process request metrics for GET /metrics (Prometheus text format). Thread-safe. */
#ifndef API_METRICS_H
#define API_METRICS_H

#include "lib/buf.h"

/* Count one request: route is the index in the route table (-1 = unmatched); method is put in
 * a label only when it is one of HTTP's ("other" otherwise); seconds < 0 counts it without timing
 * it (a long poll, whose time is its wait). */
void metrics_observe(int route, const char *method, unsigned status, double seconds);

/* Append the request counters and the latency histogram to out. */
void metrics_render(struct buf *out);

#endif
