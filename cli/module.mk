CLI_SRCS := $(filter-out cli/main.c,$(wildcard cli/*.c))
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/%.o)
PROGRAMS += $(BIN)/dbaasctl
# dbaasctl talks only HTTP to dbaasd.
DBAASCTL_PKGS := jansson libcurl libcrypto

$(BIN)/dbaasctl: $(BUILD)/cli/main.o $(CLI_OBJS) $(BUILD)/libdbaas.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pkg_libs,$(DBAASCTL_PKGS)) $(LDLIBS)

# Unit tests of the CLI's pure modules (tests/unit/module.mk links libdbaas.a as well).
TEST_test_cliargs_OBJS := $(BUILD)/cli/args.o
TEST_test_clitable_OBJS := $(BUILD)/cli/table.o
