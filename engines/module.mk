# engines/: the engine drivers (docs/engines.md), one interface (engines/engine.h) and one file
# per engine. ENGINE_OBJS link into the agent, their unit test and engine_check, the end-to-end
# check of one engine that tests/integration/test_engines.py drives (a test tool, built with
# `all` so that the integration suite finds it next to the other binaries). dbaasd and dbaasctl
# never link them: they take engine facts from lib/catalog.h.
ENGINE_SRCS := $(wildcard engines/*.c)
ENGINE_OBJS := $(ENGINE_SRCS:%.c=$(BUILD)/%.o)
PROGRAMS    += $(BIN)/engine_check
# The drivers' admin clients.
ENGINE_PKGS := libpq libmariadb hiredis libcrypto

$(BIN)/engine_check: $(BUILD)/tests/engine/engine_check.o $(BUILD)/tests/engine/tenant.o \
                    $(ENGINE_OBJS) $(BUILD)/libdbaas.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pkg_libs,$(ENGINE_PKGS)) $(LDLIBS)

TEST_test_engine_OBJS  := $(ENGINE_OBJS)
TEST_test_answers_OBJS := $(BUILD)/engines/answers.o
