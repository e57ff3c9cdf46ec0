/* PostgreSQL driver: the functions through which the tenant, which has no CREATEROLE, creates,
 * re-passwords and drops the login roles of its applications (docs/engines.md, "PostgreSQL").
 *
 * NOTES
 * - In PostgreSQL 15 a role with CREATEROLE can grant itself pg_execute_server_program and run
 *   commands as the OS user, so the tenant does not get it. Instead, as MariaDB's
 *   mysql.dbaas_* routines do, SECURITY DEFINER functions owned by the superuser act for it:
 *   dbaas.create_user(name, password), dbaas.set_password(name, password) and
 *   dbaas.drop_user(name), in the database "postgres" (the admin's: the tenant cannot drop
 *   it, alter its settings or create schemas or objects in it). EXECUTE is the tenant's only.
 * - An application role is LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
 *   and gets no role at all. The functions track their roles by the membership they grant the
 *   tenant in each one WITH ADMIN OPTION (granted by a superuser): set_password and drop_user
 *   act only on such a role with those attributes and an oid above the predefined roles', so
 *   never on the superuser, the replication role, the tenant itself or a pg_* role. The
 *   membership also lets the tenant use its roles (SET ROLE, GRANT web TO other,
 *   REASSIGN OWNED BY web, DROP OWNED BY web).
 * - Every function sets search_path = pg_catalog, pg_temp; names are quoted with format('%I')
 *   and passwords with format('%L'). A password may be given as a SCRAM-SHA-256 verifier
 *   (libpq's PQencryptPasswordConn), so that the clear text never reaches the server. The two
 *   functions that take one set log_min_error_statement = panic and re-raise a failed
 *   statement's error without the statement: no password reaches the server log.
 * - The tenant's name reaches the function bodies through the setting dbaas.tenant, captured
 *   with SET ... FROM CURRENT from a parameter of the installing transaction: no SQL is built
 *   from it in C.
 * - pg_tenant_functions() runs at every create_user on a primary (provisioning, every start, a
 *   password reset) and writes nothing when the comment on schema dbaas names PG_TENANT_VERSION
 *   and the tenant. Replicas get everything by physical replication. */
#include "engines/engine_postgres_tenant.h"

#include <stdio.h>

#include "engines/engine_postgres.h"

/* Change it with the functions or their grants: the next create_user installs them again. */
#define PG_TENANT_VERSION "dbaas 1"

/* The installing transaction, after set_config('dbaas.tenant', <tenant>, true). */
/* clang-format off */
#define PG_FN_SETTINGS \
    " SET search_path = pg_catalog, pg_temp SET dbaas.tenant FROM CURRENT AS $fn$\n"
/* The settings of a function that takes a password. */
#define PG_FN_SECRET_SETTINGS " SET log_min_error_statement = panic" PG_FN_SETTINGS
/* Re-raise the error of the statement just run without it: it holds the password. */
#define PG_FN_RERAISE \
    "  EXCEPTION WHEN OTHERS THEN\n" \
    "    RAISE EXCEPTION USING ERRCODE = SQLSTATE, MESSAGE = SQLERRM;\n"
static const char *const install_sql[] = {
    "SET LOCAL search_path = pg_catalog, pg_temp",
    "CREATE SCHEMA IF NOT EXISTS dbaas",
    "REVOKE ALL ON SCHEMA dbaas FROM PUBLIC",

    "CREATE OR REPLACE FUNCTION dbaas.app_role(role_name text) RETURNS void LANGUAGE plpgsql"
    PG_FN_SETTINGS
    "BEGIN\n"
    "  IF NOT EXISTS (SELECT FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid\n"
    "      JOIN pg_roles t ON t.oid = m.member JOIN pg_roles g ON g.oid = m.grantor\n"
    "      WHERE r.rolname = role_name AND t.rolname = current_setting('dbaas.tenant')\n"
    "        AND m.admin_option AND g.rolsuper AND r.oid >= 16384 AND r.rolcanlogin\n"
    "        AND NOT (r.rolsuper OR r.rolcreatedb OR r.rolcreaterole OR r.rolreplication\n"
    "                 OR r.rolbypassrls)) THEN\n"
    "    RAISE EXCEPTION 'role \"%\" is not an application role', role_name\n"
    "      USING ERRCODE = 'insufficient_privilege', HINT = 'dbaas.set_password() and '\n"
    "        'dbaas.drop_user() act only on the roles that dbaas.create_user() made.';\n"
    "  END IF;\n"
    "END\n"
    "$fn$",

    "CREATE OR REPLACE FUNCTION dbaas.check_password(password text) RETURNS void"
    " LANGUAGE plpgsql"
    PG_FN_SETTINGS
    "BEGIN\n"
    "  IF password IS NULL OR length(password) < 8 THEN\n"
    "    RAISE EXCEPTION 'the password needs at least 8 characters'\n"
    "      USING ERRCODE = 'invalid_parameter_value';\n"
    "  END IF;\n"
    "  IF password ~ '^md5[0-9a-f]{32}$' THEN\n"
    "    RAISE EXCEPTION 'an MD5 hash cannot log in here' USING ERRCODE ="
    " 'invalid_parameter_value',\n"
    "      HINT = 'Give the password or its SCRAM-SHA-256 verifier.';\n"
    "  END IF;\n"
    "END\n"
    "$fn$",

    "CREATE OR REPLACE FUNCTION dbaas.create_user(role_name text, password text) RETURNS void"
    " LANGUAGE plpgsql SECURITY DEFINER"
    PG_FN_SECRET_SETTINGS
    "BEGIN\n"
    "  IF role_name IS NULL OR role_name !~ '^[a-z][a-z0-9_]{0,62}$'"
    " OR role_name ~ '^(pg_|dbaas)' THEN\n"
    "    RAISE EXCEPTION 'invalid role name \"%\"', role_name USING ERRCODE = 'invalid_name',\n"
    "      HINT = 'A name has 1 to 63 characters [a-z0-9_], starts with a letter, and not '\n"
    "        'with pg_ or dbaas.';\n"
    "  END IF;\n"
    "  PERFORM dbaas.check_password(password);\n"
    "  BEGIN\n"
    "    EXECUTE format('CREATE ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE '\n"
    "      'NOREPLICATION NOBYPASSRLS INHERIT PASSWORD %L', role_name, password);\n"
    PG_FN_RERAISE
    "  END;\n"
    "  EXECUTE format('GRANT %I TO %I WITH ADMIN OPTION', role_name,"
    " current_setting('dbaas.tenant'));\n"
    "END\n"
    "$fn$",

    "CREATE OR REPLACE FUNCTION dbaas.set_password(role_name text, password text) RETURNS void"
    " LANGUAGE plpgsql SECURITY DEFINER"
    PG_FN_SECRET_SETTINGS
    "BEGIN\n"
    "  PERFORM dbaas.app_role(role_name);\n"
    "  PERFORM dbaas.check_password(password);\n"
    "  BEGIN\n"
    "    EXECUTE format('ALTER ROLE %I WITH PASSWORD %L', role_name, password);\n"
    PG_FN_RERAISE
    "  END;\n"
    "END\n"
    "$fn$",

    "CREATE OR REPLACE FUNCTION dbaas.drop_user(role_name text) RETURNS void"
    " LANGUAGE plpgsql SECURITY DEFINER"
    PG_FN_SETTINGS
    "BEGIN\n"
    "  PERFORM dbaas.app_role(role_name);\n"
    "  EXECUTE format('DROP ROLE %I', role_name);\n"
    "END\n"
    "$fn$",

    "REVOKE ALL ON FUNCTION dbaas.app_role(text), dbaas.check_password(text),"
    " dbaas.create_user(text, text), dbaas.set_password(text, text), dbaas.drop_user(text)"
    " FROM PUBLIC",
    "COMMENT ON FUNCTION dbaas.create_user(text, text) IS 'creates a login role for an"
    " application, with no privileges, that the tenant administers'",
    "COMMENT ON FUNCTION dbaas.set_password(text, text) IS 'sets the password of a role made"
    " by dbaas.create_user()'",
    "COMMENT ON FUNCTION dbaas.drop_user(text) IS 'drops a role made by dbaas.create_user()'",

    "DO $do$\n"
    "DECLARE\n"
    "  tenant text := current_setting('dbaas.tenant');\n"
    "BEGIN\n"
    "  EXECUTE format('GRANT USAGE ON SCHEMA dbaas TO %I', tenant);\n"
    "  EXECUTE format('GRANT EXECUTE ON FUNCTION dbaas.create_user(text, text),'\n"
    "    ' dbaas.set_password(text, text), dbaas.drop_user(text) TO %I', tenant);\n"
    "  EXECUTE format('COMMENT ON SCHEMA dbaas IS %L', '" PG_TENANT_VERSION " for ' || tenant);\n"
    "END\n"
    "$do$",
};
/* clang-format on */

int pg_tenant_functions(PGconn *c, int64_t deadline, const char *tenant, struct err *e)
{
    const char *const what = "install the tenant's role functions";
    char version[128];
    struct err ignored;
    int current, rc = -1;

    if (snprintf(version, sizeof(version), PG_TENANT_VERSION " for %s", tenant) >=
        (int)sizeof(version))
        return err_set(e, ENGINE_E_INVALID, "invalid user name \"%s\": too long", tenant);
    current = pg_exists(c, deadline, "look up the tenant's role functions",
                        "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'dbaas'"
                        " AND pg_catalog.obj_description(oid, 'pg_namespace') = $1",
                        version, e);
    if (current != 0)
        return current > 0 ? 0 : -1;
    if (pg_run(c, deadline, what, "BEGIN", 0, NULL, e) < 0)
        return -1;
    if (pg_run(c, deadline, what, "SELECT pg_catalog.set_config('dbaas.tenant', $1, true)", 1,
               &tenant, e) < 0)
        goto out;
    for (size_t i = 0; i < sizeof(install_sql) / sizeof(*install_sql); i++)
        if (pg_run(c, deadline, what, install_sql[i], 0, NULL, e) < 0)
            goto out;
    if (pg_run(c, deadline, what, "COMMIT", 0, NULL, e) < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0)
        (void)pg_run(c, deadline, "roll back", "ROLLBACK", 0, NULL, &ignored);
    return rc;
}
