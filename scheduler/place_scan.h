/* The placement rules of scheduler/place.h answered by a plain scan of every host: the reference
 * that the unit tests compare place_member() with and that bench_sched measures it against.
 * Same types, same rules, same answers (host indices are assigned the same way), no index.
 * Pure: no I/O, no globals, no locks. Host names are not kept nor checked for uniqueness. */
#ifndef SCHEDULER_PLACE_SCAN_H
#define SCHEDULER_PLACE_SCAN_H

#include "scheduler/place.h"

/* A new empty host list with a copy of cfg (NULL: the defaults); NULL when cfg is invalid or
 * memory runs out. Free with place_scan_free(). */
struct place_scan *place_scan_new(const struct place_config *cfg);

/* Accepts NULL. */
void place_scan_free(struct place_scan *s);

/* As place_host_add(), place_host_update() and place_host_remove(); -1 on an invalid spec, too many
 * zones or engines, or out of memory. */
int place_scan_host_add(struct place_scan *s, const struct place_host_spec *spec)
    __attribute__((warn_unused_result));
int place_scan_host_update(struct place_scan *s, int host, const struct place_host_spec *spec)
    __attribute__((warn_unused_result));
int place_scan_host_remove(struct place_scan *s, int host) __attribute__((warn_unused_result));

/* As place_member(). */
int place_scan_member(const struct place_scan *s, const struct place_request *req,
                      struct place_result *res) __attribute__((warn_unused_result));

/* As place_commit() and place_release(), without the error message. */
int place_scan_commit(struct place_scan *s, int host, const int64_t need[PLACE_RES__COUNT])
    __attribute__((warn_unused_result));
int place_scan_release(struct place_scan *s, int host, const int64_t need[PLACE_RES__COUNT])
    __attribute__((warn_unused_result));

#endif
