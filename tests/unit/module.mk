# One cmocka binary per module: tests/unit/test_<module>.c -> $(BIN)/tests/test_<module>.
# Each links libdbaas.a (lib/ modules) plus the module objects it lists in TEST_<module>_OBJS.
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_TESTS := $(UNIT_SRCS:tests/unit/%.c=$(BIN)/tests/%)

$(BIN)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libdbaas.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(TEST_$*_OBJS) $(BUILD)/libdbaas.a $(PKG_LIBS) -lcmocka $(LDLIBS)

.SECONDEXPANSION:
$(UNIT_TESTS): $$(TEST_$$(notdir $$@)_OBJS)
