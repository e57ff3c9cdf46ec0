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
