/* Monotonic time for deadlines, timeouts and latency: never the wall clock. */
#ifndef LIB_CLOCK_H
#define LIB_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds and nanoseconds on CLOCK_MONOTONIC. */
int64_t clock_now_ms(void);
int64_t clock_now_ns(void);

/* Sleep ms milliseconds (resumed after signals); nothing for ms <= 0. */
void clock_sleep_ms(int64_t ms);

/* The CLOCK_MONOTONIC instant ms milliseconds from now, for pthread_cond_timedwait on a
 * condition variable set to that clock. */
void clock_deadline(struct timespec *ts, int64_t ms);

#endif
