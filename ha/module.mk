# ha/: the HA controller's decisions as a pure library (failover.c: no I/O, like scheduler/).
# HA_OBJS is linked into dbaasd (control/ha.c runs it) and its unit test.
HA_SRCS := ha/failover.c
HA_OBJS := $(HA_SRCS:%.c=$(BUILD)/%.o)

TEST_test_ha_OBJS := $(HA_OBJS)
