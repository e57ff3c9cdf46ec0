# agent/: the node agent's modules. The engine drivers (docs/engines.md) are ENGINE_OBJS: they
# link into the agent, their unit test and engine_check, the end-to-end check of one engine
# that tests/integration/test_engines.py drives (a test tool, built with `all` so that the
# integration suite finds it next to the other binaries).
AGENT_SRCS  := $(filter-out agent/main.c,$(wildcard agent/*.c))
AGENT_OBJS  := $(AGENT_SRCS:%.c=$(BUILD)/%.o)
ENGINE_SRCS := agent/engine.c agent/engine_util.c agent/engine_postgres.c \
               agent/engine_mariadb.c agent/engine_redis.c
ENGINE_OBJS := $(ENGINE_SRCS:%.c=$(BUILD)/%.o)
PROGRAMS    += $(BIN)/engine_check

$(BIN)/engine_check: $(BUILD)/tests/engine/engine_check.o $(ENGINE_OBJS) $(BUILD)/libdbaas.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

TEST_test_engine_OBJS := $(ENGINE_OBJS)

# dbaas-agent: the agent's own modules (loop, members, processes) with the engines and isolation.
PROGRAMS += $(BIN)/dbaas-agent

$(BIN)/dbaas-agent: $(BUILD)/agent/main.o $(AGENT_OBJS) $(ISO_OBJS) $(BUILD)/libdbaas.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

# The agent core's pure parts: the reconcile decision (with the member records it reads) and
# the heartbeat report.
TEST_test_desired_OBJS := $(BUILD)/agent/desired.o $(BUILD)/agent/member.o
TEST_test_report_OBJS  := $(BUILD)/agent/report.o
