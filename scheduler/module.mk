# scheduler/: placement as a pure library. SCHED_OBJS is linked into dbaasd, its unit tests and
# bench_sched.
SCHED_SRCS :=
SCHED_OBJS := $(SCHED_SRCS:%.c=$(BUILD)/%.o)
