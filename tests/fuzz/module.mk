# libFuzzer targets (clang) for the parsers of untrusted input: tests/fuzz/fuzz_<name>.c ->
# $(BIN)/fuzz/fuzz_<name>, built by `make fuzz` in a build of their own (FUZZ=1: clang with
# -fsanitize=fuzzer-no-link,address,undefined into build-fuzz/ and bin-fuzz/) and run by
# scripts/run-fuzz.sh, which fails on any crash, leak or sanitizer report. Each target links
# libdbaas.a plus the objects in FUZZ_<name>_OBJS.
FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_TARGETS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BIN)/fuzz/%)

FUZZ_fuzz_lease_OBJS       :=
FUZZ_fuzz_heartbeat_OBJS   := $(BUILD)/api/hbcheck.o $(BUILD)/api/hbmemo.o
FUZZ_fuzz_query_OBJS       := $(API_OBJS) $(STORE_OBJS) $(CONTROL_OBJS) $(SCHED_OBJS) $(HA_OBJS)
FUZZ_fuzz_body_OBJS        := $(FUZZ_fuzz_query_OBJS)
FUZZ_fuzz_agent_reply_OBJS := $(BUILD)/agent/desired.o $(BUILD)/agent/member.o \
                              $(BUILD)/agent/lessee.o
FUZZ_fuzz_fence_msg_OBJS   := $(BUILD)/agent/fence.o
FUZZ_fuzz_agent_conf_OBJS  := $(BUILD)/agent/conf.o $(BUILD)/agent/options.o $(ISO_OBJS)
FUZZ_fuzz_seedproto_OBJS   := $(BUILD)/agent/seedproto.o
FUZZ_fuzz_engine_answer_OBJS := $(BUILD)/engines/answers.o

$(BIN)/fuzz/%: $(BUILD)/tests/fuzz/%.o $$(FUZZ_$$*_OBJS) $(BUILD)/libdbaas.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_$*_OBJS) $(BUILD)/libdbaas.a $(PKG_LIBS) $(LDLIBS)

.PHONY: fuzz-build
fuzz-build: $(FUZZ_TARGETS)
