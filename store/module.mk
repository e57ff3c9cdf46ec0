# store/: dbaasd's metadata store without any HTTP: connections and prepared statements
# (store.c), the schema migrations (migrations.c) and the embedded PostgreSQL server
# (embedded.c). Includes only lib/. STORE_OBJS is linked into dbaasd.
STORE_SRCS := $(wildcard store/*.c)
STORE_OBJS := $(STORE_SRCS:%.c=$(BUILD)/%.o)
TEST_test_store_OBJS := $(BUILD)/store/store.o $(BUILD)/store/migrations.o
# store_check: store.c against a real PostgreSQL (sessions ended inside and outside a
# transaction, statement_timeout), driven by tests/integration/test_store_faults.py; a test
# tool, built with `all` so that the integration suite finds it next to the other binaries.
PROGRAMS += $(BIN)/store_check
$(BIN)/store_check: $(BUILD)/tests/store/store_check.o $(BUILD)/store/store.o \
                   $(BUILD)/store/migrations.o $(BUILD)/libdbaas.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pkg_libs,libpq jansson libcrypto) $(LDLIBS)
