API_SRCS := $(filter-out api/main.c,$(wildcard api/*.c))
API_OBJS := $(API_SRCS:%.c=$(BUILD)/%.o)
PROGRAMS += $(BIN)/dbaasd
# dbaasd links no engine driver, no isolation backend and no HTTP client.
DBAASD_PKGS := libmicrohttpd jansson libpq libcrypto

$(BIN)/dbaasd: $(BUILD)/api/main.o $(API_OBJS) $(STORE_OBJS) $(CONTROL_OBJS) \
              $(SCHED_OBJS) $(HA_OBJS) $(BUILD)/libdbaas.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pkg_libs,$(DBAASD_PKGS)) $(LDLIBS)
TEST_test_router_OBJS := $(BUILD)/api/router.o
TEST_test_hbcheck_OBJS := $(BUILD)/api/hbcheck.o
