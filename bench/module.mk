# Benchmarks: programs that print their figures (see docs/benchmarks.md). Not run by `make test`.
bench-api: all
	@bench/bench-api.sh

$(BIN)/bench_sched: $(BUILD)/bench/bench_sched.o $(SCHED_OBJS) $(BUILD)/libdbaas.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS) -lm

bench-sched: $(BIN)/bench_sched
	@$(BIN)/bench_sched
