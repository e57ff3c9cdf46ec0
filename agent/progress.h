/* Whether slow work on an engine still makes progress: a start that replays a large WAL or
 * AOF, a replica catching up, a seed copying data. Such work gets the time it needs while
 * something grows (the server's log, the member directory, the CPU time or IO of its group),
 * and fails only when nothing did for a whole window. Pure: the caller samples. */
#ifndef AGENT_PROGRESS_H
#define AGENT_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

/* The least CPU time of a sample over the one before that counts as work (an idle or stopped
 * engine uses next to none). */
#define PROGRESS_CPU_USEC 20000

/* What was measured at one instant; a counter the caller could not read is -1. */
struct progress_sample {
    int64_t log_bytes; /* size of the server's log */
    int64_t dir_bytes; /* space the member directory takes */
    int64_t cpu_usec;  /* CPU time of the group */
    int64_t io_bytes;  /* bytes the group read and wrote */
};

struct progress {
    struct progress_sample last;
    int64_t last_change_ms; /* when something last grew (or when the watch began) */
};

/* Begin watching at now_ms with a first sample. */
void progress_init(struct progress *p, int64_t now_ms, const struct progress_sample *s);
/* Take a sample at now_ms; true when something grew since the last one (a counter that went
 * down, such as a log rotated, does not count, and becomes the new reference). */
bool progress_note(struct progress *p, int64_t now_ms, const struct progress_sample *s);
/* Whether nothing grew for window_ms. */
bool progress_stalled(const struct progress *p, int64_t now_ms, int64_t window_ms);

#endif
