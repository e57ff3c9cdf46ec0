# dbaas: control plane (dbaasd), CLI (dbaasctl) and node agent (dbaas-agent).
# make            build every program: bin/dbaasd, bin/dbaasctl, bin/dbaas-agent and the test tools
# make WERROR=1   warnings are errors (CI)
# make SANITIZE=1 ASan + UBSan build (into build-san/ and bin-san/)
# make deps       install missing Debian packages
# make run        deps + build + start dbaasd with an embedded store under ./var
# make test       deps + layout check + build + unit tests (plain and sanitized) + the fuzz targets
#                 (30 s each) + integration tests against the ASan + UBSan build
#                 (integration-test runs them against the plain one)
# make fuzz       build the libFuzzer targets (clang) and run each for FUZZ_SECONDS (default 30)

# `make` with no target builds everything, whatever rule an included module.mk defines first.
.DEFAULT_GOAL := all

CC      ?= cc
# Every library any program uses: their compile flags apply to every object. Each program links
# only its own list (XXX_PKGS in its folder's module.mk) through $(call pkg_libs,...).
PKGS    := libmicrohttpd jansson libpq libcurl libcrypto libcgroup libvirt libmariadb hiredis
WARN    := -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes \
           -Wpointer-arith -Wundef
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE $(WARN) -I. -MMD -MP -pthread
LDLIBS  += -pthread

ifeq ($(WERROR),1)
CFLAGS  += -Werror
endif

ifeq ($(FUZZ),1)
CC      := clang
CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
BUILD   := build-fuzz
BIN     := bin-fuzz
else ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
BUILD   := build-san
BIN     := bin-san
else
BUILD   := build
BIN     := bin
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS     += $(PKG_CFLAGS)
# The linker flags of a list of pkg-config names.
pkg_libs    = $(shell pkg-config --libs $(1) 2>/dev/null)

# Each module folder adds its sources and programs in its own module.mk.
LIB_SRCS   :=
PROGRAMS   :=
UNIT_TESTS :=
include lib/module.mk
include scheduler/module.mk
include ha/module.mk
include isolation/module.mk
include engines/module.mk
include agent/module.mk
include store/module.mk
include control/module.mk
include api/module.mk
include cli/module.mk
include tests/unit/module.mk
include tests/fuzz/module.mk
include bench/module.mk

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)

.PHONY: all deps run test check-layout unit-test unit-test-san integration-test integration-test-san \
        fuzz \
        bench-api bench-sched \
        clean format format-check
all: $(PROGRAMS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libdbaas.a: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

deps:
	@scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@scripts/run.sh

unit-test: $(UNIT_TESTS)
	@scripts/run-unit.sh $(UNIT_TESTS)

unit-test-san:
	@$(MAKE) --no-print-directory SANITIZE=1 unit-test

integration-test: all
	@scripts/run-integration.sh

# The integration suite against dbaasd, dbaas-agent, dbaasctl and the test tools built with
# ASan and UBSan: any sanitizer report fails it (scripts/run-integration.sh, NOTES).
integration-test-san:
	@$(MAKE) --no-print-directory SANITIZE=1 all
	@DBAAS_BIN_DIR=$(CURDIR)/bin-san DBAAS_SANITIZED=1 scripts/run-integration.sh

# The libFuzzer targets (tests/fuzz), each run for FUZZ_SECONDS (default 30) from its seed
# corpus (tests/fuzz/corpus/<target>): any crash, leak or sanitizer report fails.
FUZZ_SECONDS ?= 30
fuzz:
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/run-fuzz.sh bin-fuzz/fuzz/fuzz_*

# The include directions and file sizes of docs/architecture.md.
check-layout:
	@/usr/bin/python3 scripts/check-layout.py

test: deps
	@$(MAKE) --no-print-directory check-layout
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit-test
	@$(MAKE) --no-print-directory unit-test-san
	@$(MAKE) --no-print-directory fuzz
	@$(MAKE) --no-print-directory integration-test-san

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-san build-fuzz bin bin-san bin-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Keep intermediate objects (unit test objects are built through a pattern chain).
.SECONDARY:
