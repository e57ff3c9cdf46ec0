# scheduler/: placement as a pure library. SCHED_OBJS is linked into dbaasd, its unit tests and
# bench_sched. place.c is the indexed scheduler; place_scan.c the full-scan reference that the
# tests and the benchmark compare it with.
SCHED_SRCS := scheduler/place.c scheduler/treap.c scheduler/place_refusal.c scheduler/place_scan.c
SCHED_OBJS := $(SCHED_SRCS:%.c=$(BUILD)/%.o)

TEST_test_place_OBJS := $(SCHED_OBJS)
