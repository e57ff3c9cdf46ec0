API_SRCS := $(filter-out api/main.c,$(wildcard api/*.c))
API_OBJS := $(API_SRCS:%.c=$(BUILD)/%.o)
PROGRAMS += $(BIN)/dbaasd

$(BIN)/dbaasd: $(BUILD)/api/main.o $(API_OBJS) $(STORE_OBJS) $(CONTROL_OBJS) \
              $(SCHED_OBJS) $(ENGINE_OBJS) $(BUILD)/libdbaas.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)
TEST_test_router_OBJS := $(BUILD)/api/router.o
