/* MariaDB driver: the tenant's account, a database owner that cannot reach the server's own
 * schemas or the accounts the agent and replication use (docs/engines.md, "MariaDB tenant").
 *
 * NOTES
 * - MariaDB 10.11 has no partial revokes and no SYSTEM_USER: a global privilege reaches the
 *   `mysql` schema, and CREATE USER lets its holder drop root@localhost. So the tenant holds
 *   only PROCESS and SHOW DATABASES globally; its data privileges are a database-level grant on
 *   the pattern `%` WITH GRANT OPTION (every database, including the ones it creates later).
 * - "Shadow" rows: for database privileges the server takes the first row that matches, and an
 *   exact name sorts before a pattern. A harmless row on `mysql`, `sys` and `performance_schema`
 *   (SHOW VIEW, SHOW VIEW, SELECT) therefore hides the `%` row there. Every account that can
 *   receive a `%` grant from the tenant has them: the tenant, the accounts it creates, the
 *   replication account and PUBLIC (whose rows every account also gets). performance_schema is
 *   off in our my.cnf, so SELECT there reads nothing.
 * - Application accounts: without CREATE USER the tenant makes and removes them with
 *   CALL mysql.dbaas_create_user(name, password), mysql.dbaas_set_password(name, password) and
 *   mysql.dbaas_drop_user(name), SQL SECURITY DEFINER routines owned by root@localhost (the way
 *   managed services ship mysql.rds_* routines). They touch only accounts name@'%' with no
 *   global privilege, so never the tenant, the replication account, root or mariadb.sys; the
 *   password becomes its hash inside the routine, so the binary log holds only the hash.
 * - Every start calls mdb_tenant_account() on a primary; it writes nothing when everything is in
 *   place (a write in sync mode waits for a replica's acknowledgement). MY_TENANT_VERSION in the
 *   routines' comment makes a changed set of routines or grants apply on the next start. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engines/engine_mariadb.h"
#include "lib/buf.h"

#define MY_TENANT_VERSION "dbaas 1"
#define MY_TENANT_GLOBAL "PROCESS, SHOW DATABASES"
/* Everything a database owner needs; nothing that reaches the server's files, its shutdown,
 * the read_only fence, replication or other accounts. */
#define MY_TENANT_DB                                                                               \
    "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, REFERENCES, INDEX, ALTER, "                     \
    "CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, "      \
    "ALTER ROUTINE, EVENT, TRIGGER, DELETE HISTORY"
/* The shadow rows, as database-level grants (see the NOTES): one privilege each. */
static const char *const shadow_grants[] = {
    "SHOW VIEW ON `mysql`.*",
    "SHOW VIEW ON `sys`.*",
    "SELECT ON `performance_schema`.*",
};

/* How many privileges a list such as MY_TENANT_DB names. */
static int privilege_count(const char *list)
{
    int n = 1;

    for (; *list; list++)
        n += *list == ',';
    return n;
}

/* The routines (MY_TENANT_VERSION in each comment). Names: [A-Za-z][A-Za-z0-9_]*, not root,
 * mysql, PUBLIC or dbaas*; a half-made account is dropped again. */
/* clang-format off */
#define MY_ROUTINE(name, args, what) \
    "CREATE OR REPLACE DEFINER=`root`@`localhost` PROCEDURE mysql." name "(" args ")" \
    " SQL SECURITY DEFINER COMMENT '" MY_TENANT_VERSION ": " what "'\n"
static const char *const routines[] = {
    MY_ROUTINE("dbaas_app_account", "IN name VARCHAR(80)", "checks an application account")
    "BEGIN\n"
    "  IF name IS NULL OR (SELECT COUNT(*) FROM mysql.global_priv WHERE User = name AND Host = '%'"
    " AND JSON_VALUE(Priv, '$.access') = '0') <> 1 THEN\n"
    "    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'not an application account (one made by "
    "mysql.dbaas_create_user)';\n"
    "  END IF;\n"
    "END",

    MY_ROUTINE("dbaas_check_password", "IN password TEXT", "checks a password")
    "BEGIN\n"
    "  IF password IS NULL OR CHAR_LENGTH(password) < 8 THEN\n"
    "    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'the password needs at least 8 characters';\n"
    "  END IF;\n"
    "END",

    MY_ROUTINE("dbaas_create_user", "IN name VARCHAR(80), IN password TEXT",
               "creates name@''%'' with no privileges")
    "BEGIN\n"
    "  DECLARE made BOOLEAN DEFAULT FALSE;\n"
    "  DECLARE EXIT HANDLER FOR SQLEXCEPTION\n"
    "  BEGIN\n"
    "    IF made THEN\n"
    "      EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS ', QUOTE(name), '@''%''');\n"
    "    END IF;\n"
    "    RESIGNAL;\n"
    "  END;\n"
    "  IF name IS NULL OR name NOT REGEXP '^[A-Za-z][A-Za-z0-9_]{0,79}$' OR name LIKE 'dbaas%'"
    " OR name IN ('root', 'mysql', 'PUBLIC') THEN\n"
    "    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'the name must match [A-Za-z][A-Za-z0-9_]* "
    "and not be root, mysql, PUBLIC or dbaas*';\n"
    "  END IF;\n"
    "  CALL mysql.dbaas_check_password(password);\n"
    "  EXECUTE IMMEDIATE CONCAT('CREATE USER ', QUOTE(name), '@''%'' IDENTIFIED BY PASSWORD ',"
    " QUOTE(PASSWORD(password)));\n"
    "  SET made = TRUE;\n"
    "  EXECUTE IMMEDIATE CONCAT('GRANT SHOW VIEW ON `mysql`.* TO ', QUOTE(name), '@''%''');\n"
    "  EXECUTE IMMEDIATE CONCAT('GRANT SHOW VIEW ON `sys`.* TO ', QUOTE(name), '@''%''');\n"
    "  EXECUTE IMMEDIATE CONCAT('GRANT SELECT ON `performance_schema`.* TO ', QUOTE(name),"
    " '@''%''');\n"
    "END",

    MY_ROUTINE("dbaas_set_password", "IN name VARCHAR(80), IN password TEXT",
               "sets the password of an application account")
    "BEGIN\n"
    "  CALL mysql.dbaas_app_account(name);\n"
    "  CALL mysql.dbaas_check_password(password);\n"
    "  EXECUTE IMMEDIATE CONCAT('ALTER USER ', QUOTE(name), '@''%'' IDENTIFIED BY PASSWORD ',"
    " QUOTE(PASSWORD(password)));\n"
    "END",

    MY_ROUTINE("dbaas_drop_user", "IN name VARCHAR(80)", "drops an application account")
    "BEGIN\n"
    "  CALL mysql.dbaas_app_account(name);\n"
    "  EXECUTE IMMEDIATE CONCAT('DROP USER ', QUOTE(name), '@''%''');\n"
    "END",
};
/* clang-format on */
/* The routines the tenant may call. */
static const char *const tenant_routines[] = {"dbaas_create_user", "dbaas_set_password",
                                              "dbaas_drop_user"};

/* One number from a single-value query; -1 on error (e set). */
static long long mdb_count(MYSQL *m, const char *sql, struct err *e)
{
    MYSQL_RES *res;
    MYSQL_ROW row;
    long long n = -1;

    if (mysql_real_query(m, sql, strlen(sql)) != 0 || !(res = mysql_store_result(m))) {
        err_set(e, mysql_errno(m) >= 2000 ? ENGINE_E_UNAVAILABLE : ENGINE_E_ENGINE,
                "could not read the accounts' privileges: %s", mysql_error(m));
        return -1;
    }
    if ((row = mysql_fetch_row(res)) && row[0])
        n = atoll(row[0]);
    mysql_free_result(res);
    if (n < 0)
        err_set(e, ENGINE_E_ENGINE, "could not read the accounts' privileges: no answer");
    return n;
}

int mdb_shadow_rows(MYSQL *m, const char *user, struct err *e)
{
    struct buf sql = BUF_INIT;
    char grantee[2 * 80 + 8];
    long long n;
    int rc = -1;

    if (user)
        snprintf(grantee, sizeof(grantee), "'%s'@'%%'", user);
    else
        snprintf(grantee, sizeof(grantee), "PUBLIC");
    /* the view spells them 'user'@'%' and 'PUBLIC'@'' */
    buf_printf(&sql,
               "SELECT COUNT(*) FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = "
               "'''%s''@''%s''' AND TABLE_SCHEMA IN ('mysql', 'sys', 'performance_schema')",
               user ? user : "PUBLIC", user ? "%" : "");
    if ((n = mdb_count(m, buf_str(&sql), e)) < 0)
        goto out;
    if (n == (long long)(sizeof(shadow_grants) / sizeof(*shadow_grants))) {
        rc = 0;
        goto out;
    }
    for (size_t i = 0; i < sizeof(shadow_grants) / sizeof(*shadow_grants); i++) {
        buf_reset(&sql);
        buf_printf(&sql, "GRANT %s TO %s", shadow_grants[i], grantee);
        if (mdb_exec(m, "hide the system schemas from an account", buf_str(&sql), e) < 0)
            goto out;
    }
    rc = 0;
out:
    buf_free(&sql);
    return rc;
}

/* Whether the routines of MY_TENANT_VERSION exist and the tenant (user, escaped) holds its
 * database grant and may call them: 1 yes, 0 no, -1 error. */
static int mdb_tenant_current(MYSQL *m, const char *user, struct err *e)
{
    struct buf sql = BUF_INIT;
    long long n;

    buf_printf(&sql,
               "SELECT (SELECT COUNT(*) FROM information_schema.ROUTINES"
               " WHERE ROUTINE_SCHEMA = 'mysql' AND ROUTINE_NAME LIKE 'dbaas\\_%%'"
               " AND ROUTINE_COMMENT LIKE '" MY_TENANT_VERSION ":%%') = %d"
               " AND (SELECT COUNT(*) FROM information_schema.SCHEMA_PRIVILEGES"
               " WHERE GRANTEE = '''%s''@''%%''' AND TABLE_SCHEMA = '%%'"
               " AND IS_GRANTABLE = 'YES') = %d"
               " AND (SELECT COUNT(*) FROM mysql.procs_priv WHERE Host = '%%' AND User = '%s'"
               " AND Db = 'mysql' AND Routine_name LIKE 'dbaas\\_%%') = %d",
               (int)(sizeof(routines) / sizeof(*routines)), user, privilege_count(MY_TENANT_DB),
               user, (int)(sizeof(tenant_routines) / sizeof(*tenant_routines)));
    n = mdb_count(m, buf_str(&sql), e);
    buf_free(&sql);
    return n < 0 ? -1 : n == 1;
}

/* How many global privileges the tenant (user, escaped) holds beyond MY_TENANT_GLOBAL (an
 * account made by an earlier driver held many), or -1. */
static long long mdb_tenant_extra(MYSQL *m, const char *user, struct err *e)
{
    struct buf sql = BUF_INIT;
    long long n;

    buf_printf(&sql,
               "SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES"
               " WHERE GRANTEE = '''%s''@''%%''' AND (IS_GRANTABLE = 'YES'"
               " OR PRIVILEGE_TYPE NOT IN ('PROCESS', 'SHOW DATABASES', 'USAGE'))",
               user);
    n = mdb_count(m, buf_str(&sql), e);
    buf_free(&sql);
    return n;
}

int mdb_tenant_account(MYSQL *m, const char *name, const char *native_hash, struct err *e)
{
    struct buf sql = BUF_INIT;
    char user[2 * 32 + 1];
    long long extra;
    int rc = -1, cur;

    /* name is [a-z][a-z0-9_]* (validated), escaped anyway */
    mysql_real_escape_string(m, user, name, (unsigned long)strlen(name));
    if ((extra = mdb_tenant_extra(m, user, e)) < 0)
        goto out;
    if (extra > 0) {
        buf_printf(&sql, "REVOKE ALL PRIVILEGES, GRANT OPTION FROM '%s'@'%%'", user);
        if (mdb_exec(m, "revoke the tenant's global privileges", buf_str(&sql), e) < 0)
            goto out;
    }
    if (mdb_account(m, name, native_hash, MY_TENANT_GLOBAL " ON *.*", false, e) < 0 ||
        mdb_shadow_rows(m, user, e) < 0 || mdb_shadow_rows(m, NULL, e) < 0)
        goto out;
    if ((cur = mdb_tenant_current(m, user, e)) != 0) {
        rc = cur > 0 ? 0 : -1;
        goto out;
    }
    for (size_t i = 0; i < sizeof(routines) / sizeof(*routines); i++)
        if (mdb_exec(m, "create the account routines", routines[i], e) < 0)
            goto out;
    buf_reset(&sql);
    buf_printf(&sql, "GRANT " MY_TENANT_DB " ON `%%`.* TO '%s'@'%%' WITH GRANT OPTION", user);
    if (mdb_exec(m, "grant the tenant its databases", buf_str(&sql), e) < 0)
        goto out;
    for (size_t i = 0; i < sizeof(tenant_routines) / sizeof(*tenant_routines); i++) {
        buf_reset(&sql);
        buf_printf(&sql, "GRANT EXECUTE ON PROCEDURE mysql.%s TO '%s'@'%%'", tenant_routines[i],
                   user);
        if (mdb_exec(m, "let the tenant manage its accounts", buf_str(&sql), e) < 0)
            goto out;
    }
    rc = 0;
out:
    buf_free(&sql);
    return rc;
}
