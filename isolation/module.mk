# isolation/: per-instance CPU, memory and IO limits for the node agent, one interface
# (isolation/isolation.h) with three backends chosen at run time: cgroup v1 (libcgroup),
# cgroup v2 and libvirt LXC. ISO_OBJS is linked into the agent, the unit tests and iso_check.
ISO_SRCS := isolation/isolation.c isolation/host.c isolation/cgcommon.c isolation/cgroup1.c \
            isolation/cgroup2.c isolation/lxc.c isolation/lxc_init.c
ISO_OBJS := $(ISO_SRCS:%.c=$(BUILD)/%.o)
ISO_PKGS := libcgroup libvirt

TEST_test_isolation_OBJS := $(ISO_OBJS)

# iso_check: the measured test of a real backend (run as root by tests/integration/test_isolation.py).
PROGRAMS += $(BIN)/iso_check

$(BIN)/iso_check: $(BUILD)/tests/isolation/iso_check.o $(ISO_OBJS) $(BUILD)/libdbaas.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pkg_libs,$(ISO_PKGS) libcrypto) $(LDLIBS)
