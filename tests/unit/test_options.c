/* Unit tests for agent/options: dbaas-agent's option values checked into its configuration,
 * as main.c takes them from the command line and the --config file. Numbers are whole
 * decimals in range, never read past their end nor wrapped (sscanf's %d had been used). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "agent/conf.h"
#include "agent/options.h"

/* options_apply() over one setting (key NULL: none). */
static int apply1(const char *key, const char *value, struct agent_config *cfg, struct err *e)
{
    struct options o;
    int rc;

    memset(&o, 0, sizeof(o));
    memset(cfg, 0, sizeof(*cfg));
    if (key)
        assert_int_equal(options_set(&o, key, value), 0);
    rc = options_apply(&o, cfg, e);
    options_free(&o);
    return rc;
}

static void refused(const char *key, const char *value, const char *words)
{
    struct agent_config cfg;
    struct err e;

    assert_int_equal(apply1(key, value, &cfg, &e), -1);
    if (!strstr(e.msg, words) || !strstr(e.msg, value))
        fail_msg("%s \"%s\": message \"%s\"", key, value, e.msg);
}

static void test_defaults(void **state)
{
    struct agent_config cfg;
    struct err e;

    (void)state;
    assert_int_equal(apply1(NULL, NULL, &cfg, &e), 0);
    assert_int_equal(cfg.port_min, 20000);
    assert_int_equal(cfg.port_max, 29999);
    assert_int_equal(cfg.seed_port, 30000);
    assert_int_equal(cfg.keep_deleted_s, 24 * 3600);
    assert_int_equal(cfg.isolation, ISO_CGROUP);
    assert_int_equal(cfg.heartbeat_ms, 1000);
    assert_int_equal(cfg.cpu_millis, 0);
}

static void test_ports(void **state)
{
    static const char *const bad[] = {
        "99999999999999999999-2", /* overflowed %d: undefined behaviour */
        "20000-99999999999999999999",
        "1023-2000",
        "1024-65536",
        "3000-2000",
        "20000-29999junk", /* %d-%d read no further than the second number */
        " 20000-29999",
        "+20000-29999",
        "20000--29999",
        "20000",
        "-",
        "",
        NULL};
    struct agent_config cfg;
    struct err e;

    (void)state;
    assert_int_equal(apply1("ports", "21000-21099", &cfg, &e), 0);
    assert_int_equal(cfg.port_min, 21000);
    assert_int_equal(cfg.port_max, 21099);
    assert_int_equal(cfg.seed_port, 21100); /* the port after the range */
    assert_int_equal(apply1("ports", "1024-65535", &cfg, &e), 0);
    assert_int_equal(cfg.seed_port, 0); /* no port after it: no seed server */
    assert_int_equal(apply1("ports", "00020000-020001", &cfg, &e), 0);
    assert_int_equal(cfg.port_min, 20000);
    for (int i = 0; bad[i]; i++)
        refused("ports", bad[i], "--ports must be MIN-MAX within 1024-65535");
}

static void test_seed_port(void **state)
{
    static const char *const bad[] = {"",   "1023",   "25000",  "65536",  "99999999999999999999",
                                      "-1", " 30000", "30000 ", "0x7530", NULL};
    struct options o;
    struct agent_config cfg;
    struct err e;

    (void)state;
    assert_int_equal(apply1("seed-port", "0", &cfg, &e), 0);
    assert_int_equal(cfg.seed_port, 0);
    assert_int_equal(apply1("seed-port", "30001", &cfg, &e), 0);
    assert_int_equal(cfg.seed_port, 30001);
    for (int i = 0; bad[i]; i++)
        refused("seed-port", bad[i], "--seed-port must be 0 or a port in 1024-65535 outside");
    /* outside the range given, whichever order the options came in */
    memset(&o, 0, sizeof(o));
    assert_int_equal(options_set(&o, "seed-port", "20000"), 0);
    assert_int_equal(options_set(&o, "ports", "21000-21999"), 0);
    assert_int_equal(options_apply(&o, &cfg, &e), 0);
    assert_int_equal(cfg.seed_port, 20000);
    assert_int_equal(options_set(&o, "ports", "20000-20999"), 0); /* a later setting wins */
    assert_int_equal(options_apply(&o, &cfg, &e), -1);
    options_free(&o);
}

static void test_other_values(void **state)
{
    struct agent_config cfg;
    struct err e;

    (void)state;
    assert_int_equal(apply1("isolation", "lxc", &cfg, &e), 0);
    assert_int_equal(cfg.isolation, ISO_LXC);
    assert_int_equal(apply1("isolation", "cgroupv2", &cfg, &e), -1);
    assert_non_null(strstr(e.msg, "invalid isolation backend \"cgroupv2\""));
    assert_int_equal(apply1("keep-deleted", "7d", &cfg, &e), 0);
    assert_int_equal(cfg.keep_deleted_s, 7 * 86400);
    refused("keep-deleted", "7 days", "invalid --keep-deleted duration");
    assert_int_equal(apply1("cpu", "1500m", &cfg, &e), 0);
    assert_int_equal(cfg.cpu_millis, 1500);
    assert_int_equal(apply1("memory", "2Gi", &cfg, &e), 0);
    assert_int_equal(cfg.memory_mb, 2048);
    refused("cpu", "-1", "invalid --cpu quantity");
    refused("memory", "lots", "invalid --memory quantity");
    refused("disk", "1.5.5Gi", "invalid --disk quantity");
}

/* The --config file through the same setter: '_' for '-', unknown names refused. */
static void test_config_file(void **state)
{
    static const char text[] = "server = http://127.0.0.1:8080\n"
                               "data_dir = /var/lib/dbaas\n"
                               "ports = 40000-40099 # engines\n"
                               "seed_port = 0\n";
    char msg[256];
    struct options o;
    struct agent_config cfg;
    struct err e;
    FILE *f = fmemopen((void *)text, strlen(text), "r");

    (void)state;
    memset(&o, 0, sizeof(o));
    assert_non_null(f);
    assert_int_equal(conf_load(f, "agent.conf", options_conf_set, &o, msg, sizeof(msg)), 0);
    fclose(f);
    assert_int_equal(options_apply(&o, &cfg, &e), 0);
    assert_string_equal(cfg.server, "http://127.0.0.1:8080");
    assert_string_equal(cfg.data_dir, "/var/lib/dbaas");
    assert_int_equal(cfg.port_min, 40000);
    assert_int_equal(cfg.port_max, 40099);
    assert_int_equal(cfg.seed_port, 0);
    assert_int_equal(options_set(&o, "config", "x"), -1); /* a command-line-only option */
    assert_int_equal(options_set(&o, "bogus", "x"), -1);
    options_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),    cmocka_unit_test(test_ports),
        cmocka_unit_test(test_seed_port),   cmocka_unit_test(test_other_values),
        cmocka_unit_test(test_config_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
