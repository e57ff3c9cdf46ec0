/* Unit tests for engines/answers: the engines' and their tools' answers, parsed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "engines/answers.h"

static void test_field(void **state)
{
    static const char info[] = "# Replication\r\nrole:slave\r\nmaster_host:127.0.0.2\r\n"
                               "master_port:7001\r\nslave_repl_offset:12345\r\n"
                               "master_link_status:up\r\n";
    static const char control[] = "pg_control version number:            1300\n"
                                  "Database cluster state:               shut down\n"
                                  "Latest checkpoint location:           0/3000028\n";
    char v[16];

    (void)state;
    assert_true(answer_field(info, "role", v, sizeof(v)));
    assert_string_equal(v, "slave");
    assert_true(answer_field(info, "master_link_status", v, sizeof(v)));
    assert_string_equal(v, "up");
    assert_int_equal(answer_field_int(info, "master_port"), 7001);
    assert_int_equal(answer_field_int(info, "slave_repl_offset"), 12345);
    /* a key is a whole name at a line's start, not a prefix of one nor text inside a line */
    assert_false(answer_field(info, "master", v, sizeof(v)));
    assert_false(answer_field(info, "Replication", v, sizeof(v)));
    assert_string_equal(v, "");
    assert_int_equal(answer_field_int(info, "slave_read_repl_offset"), -1);
    assert_true(answer_field(control, "Database cluster state", v, sizeof(v)));
    assert_string_equal(v, "shut down");
    assert_false(answer_field(control, "cluster state", v, sizeof(v)));
    /* truncated to the size given */
    assert_true(answer_field(control, "Latest checkpoint location", v, 4));
    assert_string_equal(v, "0/3");
    assert_true(answer_field("k:", "k", v, sizeof(v)));
    assert_string_equal(v, "");
    assert_int_equal(answer_field_int("k:\n", "k"), -1);
}

static void test_pg_lsn(void **state)
{
    int64_t b = 0;

    (void)state;
    assert_int_equal(answer_pg_lsn("0/3000028", &b), 0);
    assert_int_equal(b, 0x3000028);
    assert_int_equal(answer_pg_lsn("1A/ff", &b), 0);
    assert_int_equal(b, ((int64_t)0x1A << 32) | 0xff);
    assert_int_equal(answer_pg_lsn("FFFFFFFF/FFFFFFFF", &b), 0);
    assert_int_equal(b, (int64_t)UINT64_C(0xFFFFFFFFFFFFFFFF));
    assert_int_equal(answer_pg_lsn("", &b), -1);
    assert_int_equal(answer_pg_lsn("0/", &b), -1);
    assert_int_equal(answer_pg_lsn("0/1 ", &b), -1);
    assert_int_equal(answer_pg_lsn(" 0/1", &b), -1);
    assert_int_equal(answer_pg_lsn("-1/1", &b), -1);
    assert_int_equal(answer_pg_lsn("0x1/1", &b), -1);
    assert_int_equal(answer_pg_lsn("100000000/0", &b), -1);
}

/* A standby against its new primary's timeline history (PostgreSQL's own rule: a standby can
 * follow a timeline that left its own at or after the point its recovery reached). */
static void test_pg_history(void **state)
{
    /* timeline 3's history: 1 ended at 0/3000000, 2 at 0/5000158 */
    static const char history[] = "1\t0/3000000\tno recovery target specified\n"
                                  "\n"
                                  "# a comment\n"
                                  "2\t0/5000158\tno recovery target specified\r\n";

    (void)state;
    /* on timeline 2 at or before the switch: follows; past it: diverged */
    assert_int_equal(answer_pg_history_diverged(history, 2, 0x5000158), 0);
    assert_int_equal(answer_pg_history_diverged(history, 2, 0x5000000), 0);
    assert_int_equal(answer_pg_history_diverged(history, 2, 0x5000159), 1);
    /* timeline 1 left at 0/3000000 */
    assert_int_equal(answer_pg_history_diverged(history, 1, 0x2FFFFFF), 0);
    assert_int_equal(answer_pg_history_diverged(history, 1, 0x4000000), 1);
    /* a timeline that is not an ancestor (a sibling): diverged */
    assert_int_equal(answer_pg_history_diverged(history, 4, 0), 1);
    assert_int_equal(answer_pg_history_diverged("1\t0/3000000\tx", 2, 0), 1);
    /* an empty history (timeline 1 has none) names no ancestor */
    assert_int_equal(answer_pg_history_diverged("", 1, 0), 1);
    /* not a history */
    assert_int_equal(answer_pg_history_diverged("1 0/30000000x\n", 1, 0), -1);
    assert_int_equal(answer_pg_history_diverged("x\t0/3000000\treason\n", 1, 0), -1);
    assert_int_equal(answer_pg_history_diverged("-1\t0/3000000\treason\n", 1, 0), -1);
    assert_int_equal(answer_pg_history_diverged("0\t0/3000000\treason\n", 1, 0), -1);
    assert_int_equal(answer_pg_history_diverged("1\t0/zz\treason\n", 1, 0), -1);
}

static void test_gtid_ahead(void **state)
{
    (void)state;
    assert_false(answer_gtid_ahead("", "0-1-5"));
    assert_false(answer_gtid_ahead("0-1-5", "0-1-5"));
    assert_false(answer_gtid_ahead("0-1-4", "0-1-5"));
    assert_true(answer_gtid_ahead("0-1-6", "0-1-5"));
    assert_true(answer_gtid_ahead("0-2-5", "0-1-5"));       /* same number, another server */
    assert_true(answer_gtid_ahead("0-1-5,1-1-1", "0-1-5")); /* a domain they lack */
    assert_false(answer_gtid_ahead("0-1-5", "1-1-9,0-1-7"));
    assert_true(answer_gtid_ahead("0-1-5,1-1-2", "1-1-1,0-1-7"));
}

static void test_binlog_coord(void **state)
{
    (void)state;
    assert_int_equal(answer_binlog_coord("mysql-bin.000042", 4), ((int64_t)42 << 32) + 4);
    assert_true(answer_binlog_coord("b.000002", 0) > answer_binlog_coord("b.000001", 1 << 30));
    assert_int_equal(answer_binlog_coord(NULL, 4), -1);
    assert_int_equal(answer_binlog_coord("nodot", 4), -1);
    assert_int_equal(answer_binlog_coord("b.", 4), -1);
    assert_int_equal(answer_binlog_coord("b.0001x", 4), -1);
    assert_int_equal(answer_binlog_coord("b.000001", -1), -1);
    assert_int_equal(answer_binlog_coord("b.000001", INT64_C(1) << 32), -1);
    assert_int_equal(answer_binlog_coord("b.99999999999", 0), -1);
}

/* Numbers as the servers print them: whole, in range, or refused (never saturated). */
static void test_int_real(void **state)
{
    int64_t n = 7;
    double d = 7;

    (void)state;
    assert_int_equal(answer_int("42", 0, 100, &n), 0);
    assert_int_equal(n, 42);
    assert_int_equal(answer_int("-5", INT64_MIN, 0, &n), 0);
    assert_int_equal(n, -5);
    assert_int_equal(answer_int("9223372036854775807", 0, INT64_MAX, &n), 0);
    assert_int_equal(n, INT64_MAX);
    n = 7;
    assert_int_equal(answer_int("9223372036854775808", 0, INT64_MAX, &n), -1); /* overflow */
    assert_int_equal(answer_int("101", 0, 100, &n), -1);
    assert_int_equal(answer_int("", 0, 100, &n), -1);
    assert_int_equal(answer_int(NULL, 0, 100, &n), -1);
    assert_int_equal(answer_int(" 1", 0, 100, &n), -1);
    assert_int_equal(answer_int("+1", 0, 100, &n), -1);
    assert_int_equal(answer_int("1 ", 0, 100, &n), -1);
    assert_int_equal(answer_int("-", INT64_MIN, 0, &n), -1);
    assert_int_equal(n, 7); /* untouched by a refusal */

    assert_int_equal(answer_real("0.25", &d), 0);
    assert_true(d == 0.25);
    assert_int_equal(answer_real("-1.5e3", &d), 0);
    assert_true(d == -1500);
    d = 7;
    assert_int_equal(answer_real("1e999", &d), -1);
    assert_int_equal(answer_real("nan", &d), -1);
    assert_int_equal(answer_real("inf", &d), -1);
    assert_int_equal(answer_real("0x10", &d), -1);
    assert_int_equal(answer_real(" 1", &d), -1);
    assert_int_equal(answer_real("1s", &d), -1);
    assert_true(d == 7);
}

/* SHOW SLAVE STATUS's columns: texts cut to their fields, numbers in range or unknown. */
static void test_slave(void **state)
{
    struct answer_slave st;
    char longer[300];

    (void)state;
    answer_slave_init(&st);
    assert_false(st.configured);
    assert_int_equal(st.read_pos, -1);
    assert_true(st.behind == -1);
    answer_slave_column(&st, "Master_Host", "10.0.0.1");
    answer_slave_column(&st, "Master_Port", "20001");
    answer_slave_column(&st, "Slave_IO_Running", "Connecting");
    answer_slave_column(&st, "Last_IO_Errno", "1236");
    answer_slave_column(&st, "Read_Master_Log_Pos", "4711");
    answer_slave_column(&st, "Seconds_Behind_Master", "3");
    answer_slave_column(&st, "Exec_Master_Log_Pos", NULL); /* SQL NULL: ignored */
    answer_slave_column(&st, "Unknown_Column", "x");
    assert_true(st.configured);
    assert_string_equal(st.host, "10.0.0.1");
    assert_int_equal(st.port, 20001);
    assert_true(st.io_connecting);
    assert_false(st.io_yes);
    assert_int_equal(st.io_errno, 1236);
    assert_int_equal(st.read_pos, 4711);
    assert_int_equal(st.exec_pos, -1);
    assert_true(st.behind == 3);
    /* out of range or not a number: unknown, never wrapped (atoi would have) */
    answer_slave_column(&st, "Master_Port", "4294987297");
    assert_int_equal(st.port, 0);
    answer_slave_column(&st, "Last_IO_Errno", "99999999999");
    assert_int_equal(st.io_errno, 0);
    answer_slave_column(&st, "Read_Master_Log_Pos", "-4");
    assert_int_equal(st.read_pos, -1);
    answer_slave_column(&st, "Seconds_Behind_Master", "-1");
    assert_true(st.behind == -1);
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    answer_slave_column(&st, "Last_IO_Error", longer);
    assert_int_equal(strlen(st.io_error), sizeof(st.io_error) - 1);
    answer_slave_column(&st, "Master_Host", "");
    assert_false(st.configured);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field),        cmocka_unit_test(test_pg_lsn),
        cmocka_unit_test(test_pg_history),   cmocka_unit_test(test_gtid_ahead),
        cmocka_unit_test(test_binlog_coord), cmocka_unit_test(test_int_real),
        cmocka_unit_test(test_slave),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
