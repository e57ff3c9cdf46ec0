# control/: the control loops that dbaasd's leader runs: leader election (leader.c), the
# reconcile loop (reconcile.c) and the scheduler's loop (placement.c, over the pure scheduler/
# library), and the generation that wakes parked heartbeats (notify.c). Includes store/,
# scheduler/ and lib/, never api/. CONTROL_OBJS is linked into dbaasd.
CONTROL_SRCS := $(wildcard control/*.c)
CONTROL_OBJS := $(CONTROL_SRCS:%.c=$(BUILD)/%.o)
