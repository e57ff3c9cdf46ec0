# agent/: the node agent's own modules (loop, members, processes); it links the engine drivers
# (engines/) and isolation/.
AGENT_SRCS  := $(filter-out agent/main.c,$(wildcard agent/*.c))
AGENT_OBJS  := $(AGENT_SRCS:%.c=$(BUILD)/%.o)
PROGRAMS += $(BIN)/dbaas-agent

$(BIN)/dbaas-agent: $(BUILD)/agent/main.o $(AGENT_OBJS) $(ENGINE_OBJS) $(ISO_OBJS) $(BUILD)/libdbaas.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)
