# control/: the control loops that dbaasd's leader runs: leader election (leader.c), the
# reconcile loop (reconcile.c) and the scheduler's loop (placement.c, over the pure scheduler/
# library), the generation that wakes parked heartbeats (notify.c), and the instance status its
# members show (istatus.c, pure), the HA loop (ha.c, over the pure ha/ library) and the leases
# (lease.c: UDP server, keys, renewals; leasetab.c, the pure table). Includes store/, scheduler/,
# ha/ and lib/, never api/. CONTROL_OBJS is linked into dbaasd.
CONTROL_SRCS := $(wildcard control/*.c)
CONTROL_OBJS := $(CONTROL_SRCS:%.c=$(BUILD)/%.o)

TEST_test_istatus_OBJS := $(BUILD)/control/istatus.o
TEST_test_leasetab_OBJS := $(BUILD)/control/leasetab.o
