# store/: dbaasd's metadata store without any HTTP: connections and prepared statements
# (store.c), the schema migrations (migrations.c) and the embedded PostgreSQL server
# (embedded.c). Includes only lib/. STORE_OBJS is linked into dbaasd.
STORE_SRCS := $(wildcard store/*.c)
STORE_OBJS := $(STORE_SRCS:%.c=$(BUILD)/%.o)
TEST_test_store_OBJS := $(BUILD)/store/store.o $(BUILD)/store/migrations.o
