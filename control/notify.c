/* Wake-ups for long-polling agents: a generation counter under a mutex and a condition
 * variable on the monotonic clock. */
#include "control/notify.h"
#include "lib/clock.h"

#include <pthread.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static uint64_t generation = 1;

static void init(void)
{
    pthread_condattr_t attr;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&cond, &attr);
    pthread_condattr_destroy(&attr);
}

uint64_t notify_generation(void)
{
    uint64_t g;

    pthread_once(&once, init);
    pthread_mutex_lock(&lock);
    g = generation;
    pthread_mutex_unlock(&lock);
    return g;
}

void notify_bump(void)
{
    pthread_once(&once, init);
    pthread_mutex_lock(&lock);
    generation++;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
}

uint64_t notify_wait(uint64_t seen, int timeout_ms)
{
    struct timespec until;
    uint64_t g;

    pthread_once(&once, init);
    clock_deadline(&until, timeout_ms);
    pthread_mutex_lock(&lock);
    while (generation == seen && pthread_cond_timedwait(&cond, &lock, &until) == 0)
        ;
    g = generation;
    pthread_mutex_unlock(&lock);
    return g;
}
