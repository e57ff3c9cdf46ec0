# agent/: the node agent's own modules (loop, members, processes); it links the engine drivers
# (engines/) and isolation/.
AGENT_SRCS  := $(filter-out agent/main.c,$(wildcard agent/*.c))
AGENT_OBJS  := $(AGENT_SRCS:%.c=$(BUILD)/%.o)
PROGRAMS += $(BIN)/dbaas-agent
AGENT_PKGS := jansson libcurl libcrypto $(ENGINE_PKGS) $(ISO_PKGS)

$(BIN)/dbaas-agent: $(BUILD)/agent/main.o $(AGENT_OBJS) $(ENGINE_OBJS) $(ISO_OBJS) $(BUILD)/libdbaas.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pkg_libs,$(AGENT_PKGS)) $(LDLIBS)

# The agent core's pure parts: the reconcile decision (with the member records it reads) and
# the heartbeat report.
TEST_test_desired_OBJS := $(BUILD)/agent/desired.o $(BUILD)/agent/member.o
TEST_test_report_OBJS  := $(BUILD)/agent/report.o
# The seed protocol, server and commands; the quarantine; progress checks.
TEST_test_seed_OBJS := $(BUILD)/agent/seedproto.o $(BUILD)/agent/seedsrv.o $(BUILD)/agent/seedcmd.o
TEST_test_quarantine_OBJS := $(BUILD)/agent/quarantine.o $(BUILD)/agent/progress.o
TEST_test_probe_OBJS := $(BUILD)/agent/probe.o $(BUILD)/agent/member.o $(ENGINE_OBJS)
# The fence guard: its frames, deadline, group kill and the guard loop itself.
TEST_test_fence_OBJS := $(BUILD)/agent/fence.o
# The lease's bookkeeping (settings, renewals, grants).
TEST_test_lessee_OBJS := $(BUILD)/agent/lessee.o
# When a reply may clear the guard's fence, and when a member that needs a lease may start.
TEST_test_leasing_OBJS := $(BUILD)/agent/leasing.o $(BUILD)/agent/lessee.o $(BUILD)/agent/fence.o \
	$(BUILD)/agent/member.o $(BUILD)/agent/desired.o
# The options and config file settings checked into the agent's configuration.
TEST_test_options_OBJS := $(BUILD)/agent/options.o $(BUILD)/agent/conf.o $(ISO_OBJS)
