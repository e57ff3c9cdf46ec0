/* Unit tests for isolation/: kind parsing, limit checks, what each backend renders from limits
 * (cgroup v1 values, cgroup v2 files, LXC domain XML), detection and device lookup against fake
 * /proc/mounts and /sys trees, the text and directory helpers the backends share, and the cgroup v2
 * backend run end to end against a fake root directory, reading back exactly what it wrote. Needs
 * no root and no cgroup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "isolation/backend.h"
#include "isolation/isolation.h"
#include "lib/fileio.h"
#include "lib/xalloc.h"
#include "lib/clock.h"
#include "lib/proc.h"

/* ---- fixtures ---- */

static char *mktemp_dir(void)
{
    char *d = xstrdup("/tmp/test_isolation.XXXXXX");

    assert_non_null(mkdtemp(d));
    return d;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static void put(const char *dir, const char *file, const char *text)
{
    char *path = xasprintf("%s/%s", dir, file);
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(path);
}

/* The contents of dir/file, freed by the caller (NULL when missing). */
static char *get(const char *dir, const char *file)
{
    char *path = xasprintf("%s/%s", dir, file);
    char *text = fileio_read(path, SIZE_MAX, 0, NULL);

    free(path);
    return text;
}

static void assert_file(const char *dir, const char *file, const char *want)
{
    char *got = get(dir, file);

    if (!got)
        fail_msg("missing %s/%s", dir, file);
    assert_string_equal(got, want);
    free(got);
}

static bool exists(const char *dir, const char *file)
{
    char *path = xasprintf("%s/%s", dir, file);
    struct stat st;
    bool ok = stat(path, &st) == 0;

    free(path);
    return ok;
}

static struct iso_limits limits(int64_t cpu, int64_t mem, const char *dev)
{
    struct iso_limits l = {.cpu_millis = cpu, .memory_mb = mem};

    snprintf(l.device, sizeof(l.device), "%s", dev);
    return l;
}

/* ---- kinds, names, limits ---- */

static void test_kind_parse(void **state)
{
    enum iso_kind k;
    struct err e = {0};
    const char *names[] = {"cgroup", "cgroup-v1", "cgroup-v2", "lxc"};
    const enum iso_kind kinds[] = {ISO_CGROUP, ISO_CGROUP_V1, ISO_CGROUP_V2, ISO_LXC};

    (void)state;
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(iso_kind_parse(names[i], &k, &e), 0);
        assert_int_equal(k, kinds[i]);
        assert_string_equal(iso_kind_name(k), names[i]);
    }
    assert_int_equal(iso_kind_parse("cgroupv2", &k, &e), -1);
    assert_int_equal(e.code, ISO_EINVAL);
    assert_non_null(strstr(e.msg, "invalid isolation backend \"cgroupv2\""));
    assert_int_equal(iso_kind_parse("", &k, &e), -1);
    assert_int_equal(iso_kind_parse(NULL, &k, &e), -1);
}

static void test_limits_check(void **state)
{
    struct err e = {0};
    struct iso_limits l = limits(0, 0, "");

    (void)state;
    assert_int_equal(iso_limits_check(&l, &e), 0);
    l = limits(200, 64, "254:0");
    l.write_bps = 1 << 20;
    assert_int_equal(iso_limits_check(&l, &e), 0);
    l = limits(-1, 0, "");
    assert_int_equal(iso_limits_check(&l, &e), -1);
    assert_int_equal(e.code, ISO_EINVAL);
    assert_non_null(strstr(e.msg, "cpu_millis"));
    l = limits(5, 0, "");
    assert_int_equal(iso_limits_check(&l, &e), -1);
    assert_non_null(strstr(e.msg, "minimum is 10"));
    l = limits(0, 0, "vda");
    assert_int_equal(iso_limits_check(&l, &e), -1);
    l = limits(0, 0, "8:0x");
    assert_int_equal(iso_limits_check(&l, &e), -1);
    l = limits(0, 0, "");
    l.read_iops = 100;
    assert_int_equal(iso_limits_check(&l, &e), -1);
    assert_non_null(strstr(e.msg, "need a device"));
}

/* ---- rendering ---- */

static void test_cg1_render(void **state)
{
    struct iso_setting s[ISO_SETTINGS_MAX];
    struct iso_limits l = limits(250, 512, "254:0");
    size_t n;

    (void)state;
    l.read_bps = 1048576;
    l.write_iops = 300;
    n = iso_cg1_render(&l, s);
    assert_int_equal(n, 7);
    assert_string_equal(s[0].controller, "cpu");
    assert_string_equal(s[0].file, "cpu.cfs_period_us");
    assert_string_equal(s[0].value, "100000");
    assert_string_equal(s[1].file, "cpu.cfs_quota_us");
    assert_string_equal(s[1].value, "25000");
    assert_string_equal(s[2].controller, "memory");
    assert_string_equal(s[2].file, "memory.limit_in_bytes");
    assert_string_equal(s[2].value, "536870912");
    assert_string_equal(s[3].controller, "blkio");
    assert_string_equal(s[3].file, "blkio.throttle.read_bps_device");
    assert_string_equal(s[3].value, "254:0 1048576");
    assert_string_equal(s[4].file, "blkio.throttle.write_bps_device");
    assert_string_equal(s[4].value, "254:0 0");
    assert_string_equal(s[5].file, "blkio.throttle.read_iops_device");
    assert_string_equal(s[5].value, "254:0 0");
    assert_string_equal(s[6].file, "blkio.throttle.write_iops_device");
    assert_string_equal(s[6].value, "254:0 300");

    l = limits(0, 0, "");
    n = iso_cg1_render(&l, s);
    assert_int_equal(n, 3);
    assert_string_equal(s[1].value, "-1");
    assert_string_equal(s[2].value, "-1");

    l = limits(2000, 0, "");
    n = iso_cg1_render(&l, s);
    assert_string_equal(s[1].value, "200000"); /* two CPUs */
}

static void test_cg2_render(void **state)
{
    struct iso_setting s[ISO_SETTINGS_MAX];
    struct iso_limits l = limits(200, 64, "8:16");
    size_t n;

    (void)state;
    l.read_bps = 10485760;
    l.write_iops = 200;
    n = iso_cg2_render(&l, s);
    assert_int_equal(n, 3);
    assert_null(s[0].controller);
    assert_string_equal(s[0].file, "cpu.max");
    assert_string_equal(s[0].value, "20000 100000");
    assert_string_equal(s[1].file, "memory.max");
    assert_string_equal(s[1].value, "67108864");
    assert_string_equal(s[2].file, "io.max");
    assert_string_equal(s[2].value, "8:16 rbps=10485760 wbps=max riops=max wiops=200");

    l = limits(0, 0, "");
    n = iso_cg2_render(&l, s);
    assert_int_equal(n, 2);
    assert_string_equal(s[0].value, "max 100000");
    assert_string_equal(s[1].value, "max");

    l = limits(0, 0, "254:0");
    n = iso_cg2_render(&l, s);
    assert_int_equal(n, 3);
    assert_string_equal(s[2].value, "254:0 rbps=max wbps=max riops=max wiops=max");
}

static void test_lxc_xml(void **state)
{
    char *argv[] = {"postgres", "-D", "/data/a&b", "-c", "x='<y>'", NULL};
    char *env[] = {"LANG=C", NULL};
    struct iso_lxc_spec spec = {
        .domain = "dbaas-pg1",
        .init = "/usr/sbin/dbaas-agent",
        .program = "/usr/lib/postgresql/15/bin/postgres",
        .argv = argv,
        .workdir = "/data",
        .log_path = "/var/log/dbaas/pg1.log",
        .path_env = "/usr/bin:/bin",
        .blk_path = "/dev/vda",
        .host_mem_kib = 24 * 1024 * 1024,
        .user = {true, 108, 114, "postgres", "/var/lib/postgresql"},
        .env = env,
        .sanitizer_options = {"log_path=/tmp/r/asan:detect_leaks=1", NULL, NULL},
    };
    struct iso_limits l = limits(500, 256, "254:0");
    struct err e = {0};
    char *xml;

    (void)state;
    l.write_bps = 2097152;
    l.read_iops = 1000;
    xml = iso_lxc_render_xml(&spec, &l, &e);
    assert_non_null(xml);
    assert_non_null(strstr(xml, "<domain type='lxc'>\n  <name>dbaas-pg1</name>\n"));
    assert_non_null(strstr(xml, "<memory unit='KiB'>25165824</memory>"));
    assert_non_null(strstr(xml, "<memtune>\n    <hard_limit unit='KiB'>262144</hard_limit>"));
    assert_non_null(
        strstr(xml, "<cputune>\n    <period>100000</period>\n    <quota>50000</quota>"));
    assert_non_null(strstr(xml, "<blkiotune>\n    <device>\n      <path>/dev/vda</path>\n"
                                "      <write_bytes_sec>2097152</write_bytes_sec>\n"
                                "      <read_iops_sec>1000</read_iops_sec>\n    </device>"));
    assert_null(strstr(xml, "read_bytes_sec"));
    /* our own init, no shell: it drops root, then opens the log as the engine's user */
    assert_non_null(strstr(xml, "<init>/usr/sbin/dbaas-agent</init>\n"
                                "    <initarg>lxc-init</initarg>\n"
                                "    <initarg>--uid</initarg>\n"
                                "    <initarg>108</initarg>\n"
                                "    <initarg>--gid</initarg>\n"
                                "    <initarg>114</initarg>\n"
                                "    <initarg>/var/log/dbaas/pg1.log</initarg>\n"
                                "    <initarg>--</initarg>\n"
                                "    <initarg>/usr/lib/postgresql/15/bin/postgres</initarg>\n"
                                "    <initarg>-D</initarg>\n"
                                "    <initarg>/data/a&amp;b</initarg>\n"
                                "    <initarg>-c</initarg>\n"
                                "    <initarg>x=&apos;&lt;y&gt;&apos;</initarg>\n"));
    assert_non_null(strstr(xml, "<initenv name='LANG'>C</initenv>"));
    assert_non_null(strstr(xml, "<initenv name='PATH'>/usr/bin:/bin</initenv>"));
    assert_non_null(strstr(xml, "<initenv name='HOME'>/var/lib/postgresql</initenv>"));
    assert_non_null(strstr(xml, "<initenv name='USER'>postgres</initenv>"));
    assert_non_null(strstr(xml, "<initdir>/data</initdir>"));
    /* a sanitized agent's options reach its init; the unset ones are left out */
    assert_non_null(
        strstr(xml, "<initenv name='ASAN_OPTIONS'>log_path=/tmp/r/asan:detect_leaks=1</initenv>"));
    assert_null(strstr(xml, "UBSAN_OPTIONS"));
    assert_null(strstr(xml, "LSAN_OPTIONS"));
    assert_non_null(strstr(xml, "<console type='pty'/>"));
    assert_non_null(strstr(xml, "<source usage='262144' units='KiB'/>\n"
                                "      <target dir='/dev/shm'/>"));
    /* the host network: no <interface>, no private network feature */
    assert_null(strstr(xml, "<interface"));
    assert_null(strstr(xml, "privnet"));
    free(xml);

    /* unlimited, as root, no IO limits */
    spec.user.set = false;
    l = limits(0, 0, "254:0");
    xml = iso_lxc_render_xml(&spec, &l, &e);
    assert_non_null(xml);
    assert_null(strstr(xml, "<memtune>"));
    assert_null(strstr(xml, "<cputune>"));
    assert_null(strstr(xml, "<blkiotune>"));
    assert_null(strstr(xml, "--uid"));
    assert_null(strstr(xml, "/bin/sh"));
    assert_non_null(strstr(xml, "<init>/usr/sbin/dbaas-agent</init>\n    <initarg>lxc-init</initarg>\n"
                                "    <initarg>/var/log/dbaas/pg1.log</initarg>\n"
                                "    <initarg>--</initarg>\n"
                                "    <initarg>/usr/lib/postgresql/15/bin/postgres</initarg>"));
    assert_null(strstr(xml, "HOME"));
    free(xml);

    /* libvirt rejects an empty <initarg> */
    argv[2] = "";
    xml = iso_lxc_render_xml(&spec, &l, &e);
    assert_null(xml);
    assert_int_equal(e.code, ISO_EINVAL);
    assert_non_null(strstr(e.msg, "argument 2"));
}

/* ---- detection and devices ---- */

static void test_detect(void **state)
{
    char *dir = mktemp_dir();
    char *mounts = xasprintf("%s/mounts", dir);
    char *text;
    enum iso_kind k = ISO_LXC;
    struct err e = {0};

    (void)state;
    /* this project's machines: v1 controllers, an empty cgroup2 mount */
    text = xasprintf("%s/unified", dir);
    assert_int_equal(mkdir(text, 0755), 0);
    free(text);
    put(dir, "unified/cgroup.controllers", "hugetlb\n");
    text = xasprintf("tmpfs /sys/fs/cgroup tmpfs rw 0 0\n"
                     "cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n"
                     "cgroup /sys/fs/cgroup/cpuacct cgroup rw,relatime,cpuacct 0 0\n"
                     "cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n"
                     "cgroup2 %s/unified cgroup2 rw,relatime 0 0\n",
                     dir);
    put(dir, "mounts", text);
    free(text);
    assert_int_equal(iso_detect_at(mounts, &k, &e), 0);
    assert_int_equal(k, ISO_CGROUP_V1);

    /* cpu,cpuacct co-mounted is still cpu (not "cpuacct" matching "cpu" by prefix) */
    put(dir, "mounts",
        "cgroup /sys/fs/cgroup/cpuacct cgroup rw,cpuacct 0 0\n"
        "cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n");
    assert_int_equal(iso_detect_at(mounts, &k, &e), -1);
    assert_int_equal(e.code, ISO_ENOENT);
    put(dir, "mounts",
        "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0\n"
        "cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n");
    assert_int_equal(iso_detect_at(mounts, &k, &e), 0);
    assert_int_equal(k, ISO_CGROUP_V1);

    /* a v2-only host */
    put(dir, "unified/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
    text = xasprintf("cgroup2 %s/unified cgroup2 rw,nsdelegate 0 0\n", dir);
    put(dir, "mounts", text);
    free(text);
    assert_int_equal(iso_detect_at(mounts, &k, &e), 0);
    assert_int_equal(k, ISO_CGROUP_V2);

    put(dir, "mounts", "proc /proc proc rw 0 0\n");
    assert_int_equal(iso_detect_at(mounts, &k, &e), -1);
    free(mounts);
    rm_rf(dir);
}

static void make_link(const char *dir, const char *link, const char *target)
{
    char *path = xasprintf("%s/%s", dir, link);

    assert_int_equal(symlink(target, path), 0);
    free(path);
}

static void make_dirs(const char *dir, const char *sub)
{
    char *path = xasprintf("%s/%s", dir, sub);

    for (char *p = path + strlen(dir) + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    }
    mkdir(path, 0755);
    free(path);
}

static void test_block_device(void **state)
{
    char *sys = mktemp_dir();
    char out[ISO_DEVICE_MAX];
    char *node;
    struct err e = {0};

    (void)state;
    make_dirs(sys, "devices/pci0/virtio1/block/vdb/vdb1");
    make_dirs(sys, "dev/block");
    put(sys, "devices/pci0/virtio1/block/vdb/dev", "254:16\n");
    put(sys, "devices/pci0/virtio1/block/vdb/uevent", "MAJOR=254\nMINOR=16\nDEVNAME=vdb\n");
    put(sys, "devices/pci0/virtio1/block/vdb/vdb1/dev", "254:17\n");
    put(sys, "devices/pci0/virtio1/block/vdb/vdb1/partition", "1\n");
    make_link(sys, "dev/block/254:16", "../../devices/pci0/virtio1/block/vdb");
    make_link(sys, "dev/block/254:17", "../../devices/pci0/virtio1/block/vdb/vdb1");

    /* a partition resolves to its whole disk */
    assert_int_equal(iso_block_device_sys(sys, 254, 17, out, &e), 0);
    assert_string_equal(out, "254:16");
    assert_int_equal(iso_block_device_sys(sys, 254, 16, out, &e), 0);
    assert_string_equal(out, "254:16");
    /* an anonymous device (tmpfs, overlayfs) */
    assert_int_equal(iso_block_device_sys(sys, 0, 51, out, &e), -1);
    assert_int_equal(e.code, ISO_ENOENT);

    node = iso_device_path(sys, "254:16", &e);
    assert_non_null(node);
    assert_string_equal(node, "/dev/vdb");
    free(node);
    assert_null(iso_device_path(sys, "8:0", &e));

    /* the real thing: /proc is on no block device */
    assert_int_equal(iso_block_device("/proc", out, &e), -1);
    assert_int_equal(e.code, ISO_ENOENT);
    assert_non_null(strstr(e.msg, "cannot find the block device holding \"/proc\""));
    rm_rf(sys);
}

static void test_pids(void **state)
{
    pid_t *pids = NULL;
    size_t n = 0;
    pid_t child;
    pid_t list[2];

    (void)state;
    assert_int_equal(iso_parse_pids("12\n345\n\n7\n", &pids, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(pids[0], 12);
    assert_int_equal(pids[2], 7);
    free(pids);
    assert_int_equal(iso_parse_pids("", &pids, &n), 0);
    assert_int_equal(n, 0);
    assert_null(pids);

    /* the main process is the one whose parent is outside the group */
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        pause();
        _exit(0);
    }
    list[0] = child;
    list[1] = getpid();
    assert_int_equal(iso_pick_main(list, 2), getpid());
    assert_int_equal(iso_pick_main(list, 1), child);
    assert_true(proc_alive(child, 0));
    kill(child, SIGKILL);
    /* a zombie is not alive and never the main process */
    for (int i = 0; i < 500 && proc_alive(child, 0); i++)
        clock_sleep_ms(2);
    assert_false(proc_alive(child, 0));
    assert_int_equal(iso_pick_main(list, 1), 0);
    waitpid(child, NULL, 0);
    assert_false(proc_alive(child, 0));
}

/* ---- what the backends share (cgcommon.c) ---- */

static int collect_device(void *arg, const char *device, struct err *e)
{
    char *seen = arg;

    if (strcmp(device, "9:9") == 0)
        return err_set(e, ISO_ESYS, "refused %s", device);
    strcat(seen, device);
    strcat(seen, ",");
    return 0;
}

static void test_shared_text(void **state)
{
    int64_t oom = -1;
    uint64_t v = 0;
    char seen[64] = "";
    char *s;
    struct err e = {0};

    (void)state;
    /* the OOM-kill counter: v1 memory.oom_control, v2 memory.events, an old v1 kernel */
    iso_cg_oom_kills("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", &oom);
    assert_int_equal(oom, 3);
    oom = -1;
    iso_cg_oom_kills("low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n", &oom);
    assert_int_equal(oom, 2);
    oom = -1;
    iso_cg_oom_kills("oom_kill_disable 0\nunder_oom 0\n", &oom);
    assert_int_equal(oom, -1);

    assert_true(iso_line_u64("usage_usec 1234\nuser_usec 1000\n", "usage_usec ", &v));
    assert_int_equal(v, 1234);
    assert_true(iso_line_u64("MemTotal:       16318412 kB\nMemFree: 1 kB\n", "MemTotal:", &v));
    assert_int_equal(v, 16318412);
    assert_false(iso_line_u64("MemTotal: lots\n", "MemTotal:", &v));
    assert_false(iso_line_u64("", "MemTotal:", &v));
    s = iso_line_value("MAJOR=8\nDEVNAME=sda\nDEVTYPE=disk\n", "DEVNAME=");
    assert_string_equal(s, "sda");
    free(s);
    assert_null(iso_line_value("MAJOR=8\n", "DEVNAME="));

    assert_true(iso_word_in("cpuset cpu io memory", "cpu", " \n"));
    assert_false(iso_word_in("cpuset io memory", "cpu", " \n"));
    assert_true(iso_word_in("rw,nosuid,cpu,cpuacct", "cpu", ","));

    /* the other devices of a throttle file: v1 and v2 lines, the kept one skipped */
    assert_int_equal(iso_cg_other_devices("8:0 1048576\n8:16 2097152\n\n253:0 5\n", "8:16",
                                          collect_device, seen, &e),
                     0);
    assert_string_equal(seen, "8:0,253:0,");
    seen[0] = '\0';
    assert_int_equal(iso_cg_other_devices("8:0 rbps=max wbps=1 riops=max wiops=max\n", "8:0",
                                          collect_device, seen, &e),
                     0);
    assert_string_equal(seen, "");
    assert_int_equal(iso_cg_other_devices("8:0 1\n9:9 1\n7:7 1\n", "", collect_device, seen, &e),
                     -1);
    assert_string_equal(seen, "8:0,");
    assert_string_equal(e.msg, "refused 9:9");
}

static void test_shared_dirs(void **state)
{
    char *dir = mktemp_dir();
    char *sub = xasprintf("%s/child", dir);
    char *missing = xasprintf("%s/missing", dir);

    (void)state;
    put(dir, "cgroup.procs", "");
    assert_false(iso_dir_has_subdirs(dir));
    assert_false(iso_dir_has_subdirs(missing));
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_true(iso_dir_has_subdirs(dir));
    free(sub);
    free(missing);
    rm_rf(dir);
}

/* ---- cgroup v2 against a fake root ---- */

/* A fake io.max that behaves like the kernel's (block/blk-throttle.c): a write of
 * "MAJ:MIN key=value ..." changes only the keys it names for that device, the file shows one
 * line per device with all four keys, and a device whose four limits are all "max" has no
 * line. An ordinary file would keep only the last line written, so the code that clears an old
 * device's rule could be deleted without a failure. This write() interposes the C library's for
 * the backend linked into this binary; it handles files named io.max under fake_iomax_root and
 * passes every other write through. */
#define FAKE_FILES 8
#define FAKE_DEVS 8

static const char *const fake_iomax_keys[4] = {"rbps", "wbps", "riops", "wiops"};

struct fake_iomax {
    char path[PATH_MAX];
    size_t ndev;
    struct {
        char dev[ISO_DEVICE_MAX];
        char val[4][24];
    } devs[FAKE_DEVS];
};

static const char *fake_iomax_root; /* borrowed from the fixture; NULL = no fake */
static struct fake_iomax fake_iomax[FAKE_FILES];

static struct fake_iomax *fake_iomax_file(const char *path)
{
    for (size_t i = 0; i < FAKE_FILES; i++) {
        if (strcmp(fake_iomax[i].path, path) == 0)
            return &fake_iomax[i];
        if (fake_iomax[i].path[0] == '\0') {
            snprintf(fake_iomax[i].path, sizeof(fake_iomax[i].path), "%s", path);
            return &fake_iomax[i];
        }
    }
    abort();
}

/* Apply one written line to the kernel's table; -1 (EINVAL) for a malformed one. */
static int fake_iomax_apply(struct fake_iomax *f, const char *line)
{
    char buf[256], *save = NULL, *tok;
    size_t d;

    snprintf(buf, sizeof(buf), "%s", line);
    tok = strtok_r(buf, " \n", &save);
    if (!tok || !strchr(tok, ':'))
        return -1;
    for (d = 0; d < f->ndev && strcmp(f->devs[d].dev, tok) != 0; d++)
        ;
    if (d == f->ndev) {
        if (d == FAKE_DEVS)
            abort();
        snprintf(f->devs[d].dev, sizeof(f->devs[d].dev), "%s", tok);
        for (int k = 0; k < 4; k++)
            snprintf(f->devs[d].val[k], sizeof(f->devs[d].val[k]), "max");
        f->ndev++;
    }
    while ((tok = strtok_r(NULL, " \n", &save))) {
        char *eq = strchr(tok, '=');
        int k;
        if (!eq)
            return -1;
        *eq = '\0';
        for (k = 0; k < 4 && strcmp(fake_iomax_keys[k], tok) != 0; k++)
            ;
        if (k == 4)
            return -1;
        snprintf(f->devs[d].val[k], sizeof(f->devs[d].val[k]), "%s", eq + 1);
    }
    /* all four unlimited: the device has no rule left, no line */
    if (strcmp(f->devs[d].val[0], "max") == 0 && strcmp(f->devs[d].val[1], "max") == 0 &&
        strcmp(f->devs[d].val[2], "max") == 0 && strcmp(f->devs[d].val[3], "max") == 0) {
        memmove(&f->devs[d], &f->devs[d + 1], (f->ndev - d - 1) * sizeof(f->devs[0]));
        f->ndev--;
    }
    return 0;
}

ssize_t write(int fd, const void *data, size_t len)
{
    char link[64], path[PATH_MAX], line[256], text[FAKE_DEVS * 128];
    size_t rootlen = fake_iomax_root ? strlen(fake_iomax_root) : 0, used = 0;
    struct fake_iomax *f;
    ssize_t n;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    if (!fake_iomax_root || (n = readlink(link, path, sizeof(path) - 1)) < 0)
        return syscall(SYS_write, fd, data, len);
    path[n] = '\0';
    if (strncmp(path, fake_iomax_root, rootlen) != 0 || path[rootlen] != '/' || n < 7 ||
        strcmp(path + n - 7, "/io.max") != 0 || len >= sizeof(line))
        return syscall(SYS_write, fd, data, len);
    memcpy(line, data, len);
    line[len] = '\0';
    f = fake_iomax_file(path);
    if (fake_iomax_apply(f, line) != 0) {
        errno = EINVAL;
        return -1;
    }
    for (size_t d = 0; d < f->ndev; d++)
        used += (size_t)snprintf(text + used, sizeof(text) - used,
                                 "%s rbps=%s wbps=%s riops=%s wiops=%s\n", f->devs[d].dev,
                                 f->devs[d].val[0], f->devs[d].val[1], f->devs[d].val[2],
                                 f->devs[d].val[3]);
    if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0 ||
        syscall(SYS_write, fd, text, used) != (long)used)
        return -1;
    return (ssize_t)len;
}

/* Write one line to dir/io.max as an earlier writer (an operator, an older agent) would. */
static void iomax_write(const char *dir, const char *line)
{
    char *path = xasprintf("%s/io.max", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
    close(fd);
    free(path);
}

struct fake {
    char *root; /* the fake unified hierarchy */
    char *group;
    char *log;
    struct iso *iso;
};

static int fake_setup(void **state)
{
    struct fake *f = xcalloc(1, sizeof(*f));
    struct iso_options o = {0};
    struct err e = {0};

    f->root = mktemp_dir();
    f->group = xasprintf("%s/dbaas/i1", f->root);
    f->log = xasprintf("%s/engine.log", f->root);
    put(f->root, "cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");
    o.cgroup2_mount = f->root;
    f->iso = iso_open(ISO_CGROUP, "dbaas", &o, &e); /* a mount given means v2 */
    if (!f->iso)
        fail_msg("iso_open: %s", e.msg);
    assert_int_equal(iso_kind_of(f->iso), ISO_CGROUP_V2);
    memset(fake_iomax, 0, sizeof(fake_iomax));
    fake_iomax_root = f->root;
    *state = f;
    return 0;
}

static int fake_teardown(void **state)
{
    struct fake *f = *state;

    fake_iomax_root = NULL;
    iso_close(f->iso);
    rm_rf(f->root);
    free(f->group);
    free(f->log);
    free(f);
    return 0;
}

static void test_v2_fake_lifecycle(void **state)
{
    struct fake *f = *state;
    char *argv[] = {"sleep", "30", NULL};
    struct iso_exec ex = {argv, NULL, "/", f->log, NULL};
    struct iso_limits l = limits(250, 512, "254:0");
    struct iso_usage u;
    struct err e = {0};
    pid_t pid = 0, main_pid = 0, other = 0, *pids = NULL;
    size_t n = 0;
    char want[32];
    int status = 0;

    l.read_bps = 1048576;
    l.write_iops = 200;
    assert_false(iso_exists(f->iso, "i1"));
    if (iso_start(f->iso, "i1", &l, &ex, &pid, &e) != 0)
        fail_msg("iso_start: %s", e.msg);
    assert_true(pid > 0);
    assert_true(iso_exists(f->iso, "i1"));

    /* exactly what was written */
    assert_file(f->root, "cgroup.subtree_control", "+cpu +memory +io");
    assert_file(f->root, "dbaas/cgroup.subtree_control", "+cpu +memory +io");
    assert_file(f->group, "cpu.max", "25000 100000");
    assert_file(f->group, "memory.max", "536870912");
    assert_file(f->group, "io.max", "254:0 rbps=1048576 wbps=max riops=max wiops=200\n");
    snprintf(want, sizeof(want), "%d", (int)pid);
    assert_file(f->group, "cgroup.procs", want);
    assert_true(exists(f->root, "engine.log"));
    /* no leftover of v1 names */
    assert_false(exists(f->group, "cpu.cfs_quota_us"));

    /* a second start of the same name is refused and changes nothing */
    assert_int_equal(iso_start(f->iso, "i1", &l, &ex, &other, &e), -1);
    assert_int_equal(e.code, ISO_EEXIST);
    assert_file(f->group, "cgroup.procs", want);

    /* live update: new values, same process */
    l = limits(0, 1024, "8:0");
    l.write_bps = 2097152;
    assert_int_equal(iso_update(f->iso, "i1", &l, &e), 0);
    assert_file(f->group, "cpu.max", "max 100000");
    assert_file(f->group, "memory.max", "1073741824");
    /* the data directory moved to another disk: the old disk's rule is cleared */
    assert_file(f->group, "io.max", "8:0 rbps=max wbps=2097152 riops=max wiops=max\n");
    assert_file(f->group, "cgroup.procs", want);
    assert_int_equal(kill(pid, 0), 0);

    /* rules for two other disks, and one for ours: both others are cleared, ours is rewritten */
    iomax_write(f->group, "254:0 rbps=1048576");
    iomax_write(f->group, "253:0 wiops=100");
    assert_file(f->group, "io.max",
                "8:0 rbps=max wbps=2097152 riops=max wiops=max\n"
                "254:0 rbps=1048576 wbps=max riops=max wiops=max\n"
                "253:0 rbps=max wbps=max riops=max wiops=100\n");
    l.write_bps = 3145728;
    assert_int_equal(iso_update(f->iso, "i1", &l, &e), 0);
    assert_file(f->group, "io.max", "8:0 rbps=max wbps=3145728 riops=max wiops=max\n");
    /* no disk any more (tmpfs): every rule is cleared */
    iomax_write(f->group, "254:0 riops=7");
    l.device[0] = '\0';
    l.write_bps = 0;
    assert_int_equal(iso_update(f->iso, "i1", &l, &e), 0);
    assert_file(f->group, "io.max", "");

    /* usage from the group's own files */
    put(f->group, "cpu.stat", "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n");
    put(f->group, "memory.current", "4194304\n");
    put(f->group, "memory.events", "low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\n");
    put(f->group, "io.stat",
        "254:0 rbytes=1000 wbytes=2000 rios=1 wios=2 dbytes=0 dios=0\n"
        "8:0 rbytes=10 wbytes=20 rios=1 wios=1 dbytes=0 dios=0\n");
    assert_int_equal(iso_usage(f->iso, "i1", &u, &e), 0);
    assert_int_equal(u.cpu_usec, 1500000);
    assert_int_equal(u.memory_bytes, 4194304);
    assert_int_equal(u.io_read_bytes, 1010);
    assert_int_equal(u.io_write_bytes, 2020);
    assert_int_equal(u.oom_kills, 2);

    /* re-adoption: the engine is found from the group alone */
    assert_int_equal(iso_main_pid(f->iso, "i1", &main_pid, &e), 0);
    assert_int_equal(main_pid, pid);
    assert_int_equal(iso_pids(f->iso, "i1", &pids, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_int_equal(pids[0], pid);
    free(pids);

    /* destroy refuses while the engine runs */
    assert_int_equal(iso_destroy(f->iso, "i1", &e), -1);
    assert_int_equal(e.code, ISO_EBUSY);
    assert_true(iso_exists(f->iso, "i1"));

    /* stop: sleep dies of SIGTERM well before the deadline; we reap our child */
    assert_int_equal(iso_stop(f->iso, "i1", SIGTERM, 5000, &e), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGTERM);

    assert_int_equal(iso_destroy(f->iso, "i1", &e), 0);
    assert_false(iso_exists(f->iso, "i1"));
    assert_false(exists(f->root, "dbaas/i1"));
    /* idempotent */
    assert_int_equal(iso_destroy(f->iso, "i1", &e), 0);
    assert_int_equal(iso_stop(f->iso, "i1", SIGTERM, 100, &e), 0);
    assert_int_equal(iso_main_pid(f->iso, "i1", &main_pid, &e), -1);
    assert_int_equal(e.code, ISO_ENOENT);
    assert_int_equal(iso_update(f->iso, "i1", &l, &e), -1);
    assert_int_equal(e.code, ISO_ENOENT);

    assert_int_equal(iso_remove_root(f->iso, &e), 0);
    assert_false(exists(f->root, "dbaas"));
}

static void test_v2_fake_stop_escalates(void **state)
{
    struct fake *f = *state;
    char *argv[] = {"/bin/sh", "-c", "trap '' TERM; while :; do sleep 0.01; done", NULL};
    struct iso_exec ex = {argv, NULL, NULL, NULL, NULL};
    struct iso_limits l = limits(0, 0, "");
    struct err e = {0};
    pid_t pid = 0;
    int64_t t0, took;
    int status = 0;

    if (iso_start(f->iso, "i2", &l, &ex, &pid, &e) != 0)
        fail_msg("iso_start: %s", e.msg);
    /* let the shell install its trap */
    clock_sleep_ms(100);
    t0 = clock_now_ms();
    assert_int_equal(iso_stop(f->iso, "i2", SIGTERM, 200, &e), 0);
    took = clock_now_ms() - t0;
    assert_true(took >= 200);
    assert_true(took < 5000);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_int_equal(iso_destroy(f->iso, "i2", &e), 0);
    assert_int_equal(iso_remove_root(f->iso, &e), 0);
}

static void test_v2_fake_failed_start(void **state)
{
    struct fake *f = *state;
    struct iso_limits l = limits(100, 64, "");
    struct err e = {0};
    pid_t pid = 0;

    {
        char *argv[] = {"/nonexistent/engine", NULL};
        struct iso_exec ex = {argv, NULL, NULL, f->log, NULL};
        assert_int_equal(iso_start(f->iso, "bad", &l, &ex, &pid, &e), -1);
        assert_int_equal(e.code, ISO_EINVAL);
        assert_false(iso_exists(f->iso, "bad"));
    }
    {
        char *argv[] = {"no-such-program-anywhere", NULL};
        struct iso_exec ex = {argv, NULL, NULL, f->log, NULL};
        assert_int_equal(iso_start(f->iso, "bad", &l, &ex, &pid, &e), -1);
        assert_non_null(strstr(e.msg, "cannot find program \"no-such-program-anywhere\""));
        assert_false(iso_exists(f->iso, "bad"));
    }
    {
        char *argv[] = {"true", NULL};
        struct iso_exec ex = {argv, NULL, "/nonexistent-dir", f->log, NULL};
        assert_int_equal(iso_start(f->iso, "bad", &l, &ex, &pid, &e), -1);
        assert_non_null(strstr(e.msg, "/nonexistent-dir"));
        assert_false(iso_exists(f->iso, "bad"));
    }
    {
        char *argv[] = {"true", NULL};
        struct iso_exec ex = {argv, "no-such-user-here", NULL, f->log, NULL};
        assert_int_equal(iso_start(f->iso, "bad", &l, &ex, &pid, &e), -1);
        assert_non_null(strstr(e.msg, "no-such-user-here"));
        assert_false(iso_exists(f->iso, "bad"));
    }
    {
        /* a failure in the child after it joined the group: exec of a non-executable file */
        char *argv[] = {f->log, NULL};
        struct iso_exec ex = {argv, NULL, NULL, f->log, NULL};
        put(f->root, "engine.log", "#!/bin/sh\n");
        chmod(f->log, 0755);
        if (geteuid() == 0) {
            /* root may execute anything with an x bit; use a directory instead */
            argv[0] = f->root;
        }
        assert_int_equal(iso_start(f->iso, "bad", &l, &ex, &pid, &e), -1);
        assert_false(iso_exists(f->iso, "bad"));
    }
    /* bad names never touch the file system */
    {
        char *argv[] = {"true", NULL};
        struct iso_exec ex = {argv, NULL, NULL, NULL, NULL};
        assert_int_equal(iso_start(f->iso, "../escape", &l, &ex, &pid, &e), -1);
        assert_int_equal(e.code, ISO_EINVAL);
        assert_int_equal(iso_start(f->iso, "", &l, &ex, &pid, &e), -1);
        assert_int_equal(iso_start(f->iso, ".hidden", &l, &ex, &pid, &e), -1);
        assert_false(iso_exists(f->iso, "../escape"));
    }
    /* nor do bad limits */
    {
        char *argv[] = {"true", NULL};
        struct iso_exec ex = {argv, NULL, NULL, NULL, NULL};
        struct iso_limits bad = limits(0, -5, "");
        assert_int_equal(iso_start(f->iso, "bad", &bad, &ex, &pid, &e), -1);
        assert_int_equal(e.code, ISO_EINVAL);
    }
    assert_int_equal(iso_remove_root(f->iso, &e), 0);
}

static void test_v2_open_checks_controllers(void **state)
{
    char *dir = mktemp_dir();
    struct iso_options o = {.cgroup2_mount = dir};
    struct err e = {0};
    struct iso *iso;

    (void)state;
    /* the cgroup2 mount of this project's machines: no cpu/memory/io */
    put(dir, "cgroup.controllers", "hugetlb\n");
    iso = iso_open(ISO_CGROUP_V2, "dbaas", &o, &e);
    assert_null(iso);
    assert_int_equal(e.code, ISO_EBACKEND);
    assert_non_null(strstr(e.msg, "controller \"cpu\" is not available"));
    put(dir, "cgroup.controllers", "cpu memory pids\n");
    iso = iso_open(ISO_CGROUP_V2, "dbaas", &o, &e);
    assert_null(iso);
    assert_non_null(strstr(e.msg, "controller \"io\" is not available"));
    iso = iso_open(ISO_CGROUP_V2, "bad/root", &o, &e);
    assert_null(iso);
    assert_int_equal(e.code, ISO_EINVAL);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_parse),
        cmocka_unit_test(test_limits_check),
        cmocka_unit_test(test_cg1_render),
        cmocka_unit_test(test_cg2_render),
        cmocka_unit_test(test_lxc_xml),
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_block_device),
        cmocka_unit_test(test_pids),
        cmocka_unit_test(test_shared_text),
        cmocka_unit_test(test_shared_dirs),
        cmocka_unit_test_setup_teardown(test_v2_fake_lifecycle, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_v2_fake_stop_escalates, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_v2_fake_failed_start, fake_setup, fake_teardown),
        cmocka_unit_test(test_v2_open_checks_controllers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
