/* In-process request metrics: requests by route, method and status, and a latency histogram. */
#include "api/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "api/http.h"
#include "api/routes.h"
#include "control/lease.h"

#define SLOTS 512

static const double bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define NBOUNDS (sizeof(bounds) / sizeof(bounds[0]))

struct counter {
    int used;
    int route;
    char method[8];
    unsigned status;
    unsigned long long count;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct counter counters[SLOTS];
static unsigned long long buckets[NBOUNDS + 1];
static unsigned long long total;
static double sum;

/* The method as a label: one of HTTP's, or "other" (a client must not be able to fill the
 * table, or a label, with names of its own). */
static const char *method_label(const char *m)
{
    static const char *const known[] = {"GET",    "HEAD",    "POST",  "PUT",    "PATCH",
                                        "DELETE", "OPTIONS", "TRACE", "CONNECT"};

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(m, known[i]) == 0)
            return known[i];
    return "other";
}

void metrics_observe(int route, const char *method, unsigned status, double seconds)
{
    unsigned h;
    size_t i, b;

    method = method_label(method);
    h = (unsigned)(route + 1) * 31u + status * 7u + (unsigned)method[0];

    pthread_mutex_lock(&lock);
    for (i = 0; i < SLOTS; i++) {
        struct counter *c = &counters[(h + i) % SLOTS];
        if (!c->used) {
            c->used = 1;
            c->route = route;
            snprintf(c->method, sizeof(c->method), "%s", method);
            c->status = status;
        }
        if (c->route == route && c->status == status &&
            strncmp(c->method, method, sizeof(c->method) - 1) == 0) {
            c->count++;
            break;
        }
    }
    if (seconds >= 0) {
        for (b = 0; b < NBOUNDS && seconds > bounds[b]; b++)
            ;
        buckets[b]++;
        total++;
        sum += seconds;
    }
    pthread_mutex_unlock(&lock);
}

void metrics_render(struct buf *out)
{
    unsigned long long cumulative = 0;
    size_t i;

    pthread_mutex_lock(&lock);
    buf_puts(out, "# HELP dbaas_http_requests_total HTTP requests by route, method and status.\n"
                  "# TYPE dbaas_http_requests_total counter\n");
    for (i = 0; i < SLOTS; i++) {
        const struct counter *c = &counters[i];
        if (!c->used)
            continue;
        buf_printf(out,
                   "dbaas_http_requests_total{route=\"%s\",method=\"%s\",status=\"%u\"} %llu\n",
                   c->route >= 0 ? routes[c->route].entry.pattern : "unmatched", c->method,
                   c->status, c->count);
    }
    buf_puts(out, "# HELP dbaas_http_request_duration_seconds HTTP request latency.\n"
                  "# TYPE dbaas_http_request_duration_seconds histogram\n");
    for (i = 0; i < NBOUNDS; i++) {
        cumulative += buckets[i];
        buf_printf(out, "dbaas_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n", bounds[i],
                   cumulative);
    }
    buf_printf(out, "dbaas_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", total);
    buf_printf(out, "dbaas_http_request_duration_seconds_sum %.6f\n", sum);
    buf_printf(out, "dbaas_http_request_duration_seconds_count %llu\n", total);
    pthread_mutex_unlock(&lock);
    buf_printf(out,
               "# HELP dbaas_parked_requests Long polls (agents' heartbeats) parked now.\n"
               "# TYPE dbaas_parked_requests gauge\n"
               "dbaas_parked_requests %d\n",
               http_parked_count());
    buf_printf(out,
               "# HELP dbaas_long_poll_wakeups_total Parked long polls woken early by a change "
               "that concerned them (their host's, or any for a create's answer).\n"
               "# TYPE dbaas_long_poll_wakeups_total counter\n"
               "dbaas_long_poll_wakeups_total %llu\n",
               http_long_poll_wakeups());
    buf_printf(out,
               "# HELP dbaas_http_request_timeouts_total Connections closed because a whole "
               "request did not come within the request timeout.\n"
               "# TYPE dbaas_http_request_timeouts_total counter\n"
               "dbaas_http_request_timeouts_total %llu\n",
               http_request_timeouts());
    buf_printf(out,
               "# HELP dbaas_http_connections_evicted_total Connections closed to make room at "
               "the connection limit (the oldest without a whole request).\n"
               "# TYPE dbaas_http_connections_evicted_total counter\n"
               "dbaas_http_connections_evicted_total %llu\n",
               http_evictions());
    lease_metrics(out);
}
