/* Progress of slow work on an engine (pure; see agent/progress.h). */
#include "agent/progress.h"

void progress_init(struct progress *p, int64_t now_ms, const struct progress_sample *s)
{
    p->last = *s;
    p->last_change_ms = now_ms;
}

/* Whether counter b grew over a by at least min (-1: unknown, never growth). */
static bool grew(int64_t a, int64_t b, int64_t min)
{
    return a >= 0 && b >= 0 && b - a >= min;
}

bool progress_note(struct progress *p, int64_t now_ms, const struct progress_sample *s)
{
    bool moved = grew(p->last.log_bytes, s->log_bytes, 1) ||
                 grew(p->last.dir_bytes, s->dir_bytes, 1) ||
                 grew(p->last.cpu_usec, s->cpu_usec, PROGRESS_CPU_USEC) ||
                 grew(p->last.io_bytes, s->io_bytes, 1);

    if (moved)
        p->last_change_ms = now_ms;
    /* CPU time below the threshold accumulates until it counts */
    if (moved || s->cpu_usec < p->last.cpu_usec || p->last.cpu_usec < 0) {
        p->last = *s;
    } else {
        int64_t cpu = p->last.cpu_usec;
        p->last = *s;
        p->last.cpu_usec = cpu;
    }
    return moved;
}

bool progress_stalled(const struct progress *p, int64_t now_ms, int64_t window_ms)
{
    return now_ms - p->last_change_ms >= window_ms;
}
