/* Health probes: every second, each running engine is probed (engine_health(), a hard
 * deadline of PROBE_TIMEOUT_MS) on a thread of its own, so that a hung engine (SIGSTOP, a full
 * disk) never delays the other members' probes, supervision or the heartbeat. A member whose
 * previous probe is still in flight is skipped. The last result per member is reported in the
 * heartbeat (agent/report.c, "health"), and a change of what HA decides on (alive, role,
 * writable, upstream) is reported at once. */
#ifndef AGENT_PROBE_H
#define AGENT_PROBE_H

#include "agent/agent.h"
#include "engines/engine.h"
#include "lib/err.h"

#define PROBE_PERIOD_MS 1000
#define PROBE_TIMEOUT_MS 800

/* One probe of a member's engine (engine_health() for the engine named engine); the same
 * contract. A test passes its own. */
typedef int (*probe_fn)(const char *engine, const struct engine_spec *spec, int timeout_ms,
                        struct engine_health *out, struct err *e);

/* The real probe: engine_health() of the engine's driver. */
int probe_engine(const char *engine, const struct engine_spec *spec, int timeout_ms,
                 struct engine_health *out, struct err *e);

/* One round: a detached probe thread (counted in a->helpers) for every running member (state
 * running, desired running) whose last probe is not in flight. Takes a->lock briefly; the
 * probes record their result in m->health under it. Returns how many probes started. */
int probe_round(struct agent *a, probe_fn fn, int timeout_ms);

/* The prober thread (arg: the struct agent): probe_round() with probe_engine() every
 * PROBE_PERIOD_MS until *a->stopping. */
void *probe_main(void *arg);

#endif
