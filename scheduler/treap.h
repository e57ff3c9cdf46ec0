/* The scheduler's index of ready hosts (scheduler/treap.c). Internal to scheduler/. */
#ifndef SCHEDULER_TREAP_H
#define SCHEDULER_TREAP_H

#include <stdbool.h>
#include <stdint.h>

#include "scheduler/place_int.h"

/* The treap priority of host slot idx (a hash: the same for a slot every time). */
uint32_t treap_prio(int idx);
/* Whether h is among the n entries of list. */
bool treap_in_list(int h, const int *list, int n);
/* The first host in rank order of treap t where need fits and that is not among excl, or -1. */
int treap_first(const struct host *hs, int t, const int64_t need[], const int *excl, int n_excl);
/* Put host idx into its group's treap / take it out (it must be in). */
void treap_index_host(struct place_cluster *c, int idx);
void treap_unindex_host(struct place_cluster *c, int idx);

#endif
