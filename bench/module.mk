# Benchmarks: programs that print their figures (see docs/benchmarks.md). Not run by `make test`.
bench-api: all
	@bench/bench-api.sh

$(BIN)/bench_sched: $(BUILD)/bench/bench_sched.o $(SCHED_OBJS) $(BUILD)/libdbaas.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lm

bench-sched: $(BIN)/bench_sched
	@$(BIN)/bench_sched

# The node agent's benchmarks: a real dbaasd + dbaas-agent (cgroup backend) stack; need root.
.PHONY: bench-isolation bench-provision
bench-isolation: all
	@PYTHONDONTWRITEBYTECODE=1 DBAAS_BIN_DIR=$(abspath $(BIN)) /usr/bin/python3 bench/bench_isolation.py

bench-provision: all
	@PYTHONDONTWRITEBYTECODE=1 DBAAS_BIN_DIR=$(abspath $(BIN)) /usr/bin/python3 bench/bench_provision.py

# HA part 1: seeding a replica beside a plain copy, and replication lag under a steady write load
# (three agents on 127.0.0.2-4; root). ENGINES, DATA_MB, RUNS, LAG_RATE, LAG_SECONDS tune it.
.PHONY: bench-replica
bench-replica: all
	@PYTHONDONTWRITEBYTECODE=1 DBAAS_BIN_DIR=$(abspath $(BIN)) /usr/bin/python3 bench/bench_replica.py

# HA part 2: time from a primary host's crash to the first write on the new primary, ours beside
# Patroni + etcd and Redis Sentinel, on a rig of three network-namespace hosts (root).
# RUNS (default 20), ONLY=patroni,sentinel,ours, DURATION (per-run bound, s); see the file.
.PHONY: bench-failover
bench-failover: all
	@PYTHONDONTWRITEBYTECODE=1 DBAAS_BIN_DIR=$(abspath $(BIN)) /usr/bin/python3 bench/bench_failover.py

# HA part 2: N idle simulated agents (HTTP long polls and UDP lease renewals at the defaults)
# against one dbaasd with its embedded store, while a tenant's GETs are timed; finds the largest
# N up to 10,000 (root: the embedded store). HOSTS=N tries one N; DURATION (s, default 60) and
# WARMUP (s, default 30) per step.
.PHONY: bench-heartbeat
$(BIN)/bench_heartbeat: $(BUILD)/bench/bench_heartbeat.o $(BUILD)/libdbaas.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pkg_libs,jansson libcrypto) $(LDLIBS)

bench-heartbeat: all $(BIN)/bench_heartbeat
	@DBAASD=$(abspath $(BIN))/dbaasd $(BIN)/bench_heartbeat
