/* The engine catalogue (lib/catalog.h): the one table of the engines offered. */
#include "lib/catalog.h"

#include <string.h>

#include "lib/crypto.h"

/* ---- verifiers ---- */

static bool b64_ok(const char *s, size_t len, size_t min, size_t max)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t pad = 0;

    if (len < min || len > max || len % 4 != 0)
        return false;
    while (pad < 2 && s[len - 1 - pad] == '=')
        pad++;
    for (size_t i = 0; i < len - pad; i++)
        if (s[i] == '\0' || !strchr(alphabet, s[i]))
            return false;
    return true;
}

/* "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>", standard base64 with padding,
 * keys of 32 bytes (44 characters). */
static bool pg_verifier_ok(const char *v)
{
    static const char prefix[] = "SCRAM-SHA-256$";
    const char *p, *colon, *dollar, *colon2;
    size_t digits;

    if (!v || strncmp(v, prefix, sizeof(prefix) - 1) != 0 || strlen(v) > 300)
        return false;
    p = v + sizeof(prefix) - 1;
    digits = strspn(p, "0123456789");
    if (digits < 1 || digits > 7 || p[0] == '0' || p[digits] != ':')
        return false;
    colon = p + digits;
    dollar = strchr(colon + 1, '$');
    if (!dollar || !b64_ok(colon + 1, (size_t)(dollar - colon - 1), 4, 128))
        return false;
    colon2 = strchr(dollar + 1, ':');
    if (!colon2 || !b64_ok(dollar + 1, (size_t)(colon2 - dollar - 1), 44, 44))
        return false;
    return b64_ok(colon2 + 1, strlen(colon2 + 1), 44, 44);
}

static char *pg_verifier_new(const char *password)
{
    return crypto_scram_verifier(password, CRYPTO_SCRAM_ITERATIONS);
}

/* "*" and 40 uppercase hex digits. */
static bool mdb_verifier_ok(const char *v)
{
    return v && v[0] == '*' && strlen(v) == 41 && strspn(v + 1, "0123456789ABCDEF") == 40;
}

/* 64 lowercase hex digits: SHA-256 of the password, used as "#<hex>". */
static bool rd_verifier_ok(const char *v)
{
    return v && strlen(v) == 64 && strspn(v, "0123456789abcdef") == 64;
}

/* ---- the table ---- */

const struct catalog_engine catalog_postgres = {
    .name = "postgres",
    .server_name = "PostgreSQL 15",
    .version = "15",
    .server_program = "postgres",
    .default_os_user = "postgres",
    .min_memory_mb = 64,
    .verifier_new = pg_verifier_new,
    .verifier_ok = pg_verifier_ok,
    .uri_scheme = "postgresql",
    .user_database = true,
    .multi_host_uri = true,
};

const struct catalog_engine catalog_mysql = {
    .name = "mysql",
    .server_name = "MariaDB 10.11",
    .version = "10.11",
    .server_program = "mariadbd",
    .default_os_user = "mysql",
    .min_memory_mb = 128,
    .verifier_new = crypto_mysql_native_hash,
    .verifier_ok = mdb_verifier_ok,
    .uri_scheme = "mysql",
    .user_database = true,
    .multi_host_uri = false,
};

const struct catalog_engine catalog_redis = {
    .name = "redis",
    .server_name = "Redis 7",
    .version = "7",
    .server_program = "redis-server",
    .default_os_user = "redis",
    .min_memory_mb = 32,
    .verifier_new = crypto_redis_acl_hash,
    .verifier_ok = rd_verifier_ok,
    .uri_scheme = "redis",
    .user_database = false,
    .multi_host_uri = false,
};

static const struct catalog_engine *const all[] = {&catalog_postgres, &catalog_mysql,
                                                   &catalog_redis, NULL};

/* Tenant user names no engine may get: engines' own superusers and keywords, and the control
 * plane's own accounts (admin, replication). */
static const char *const reserved_users[] = {
    "root",   "postgres", "mysql",       "mariadb",    "redis",    "default",
    "public", "none",     "all",         "sameuser",   "samerole", "replication",
    "admin",  "dbaas",    "dbaas_admin", "dbaas_repl", NULL,
};

const struct catalog_engine *catalog_find(const char *name)
{
    if (!name)
        return NULL;
    for (int i = 0; all[i]; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

bool catalog_known(const char *name)
{
    return catalog_find(name) != NULL;
}

const struct catalog_engine *const *catalog_list(void)
{
    return all;
}

const char *catalog_version(const char *engine, const char *version)
{
    const struct catalog_engine *ce = catalog_find(engine);

    if (!ce)
        return NULL;
    if (!version || strcmp(version, ce->version) == 0)
        return ce->version;
    return NULL;
}

int catalog_check_plan(const struct catalog_engine *ce, int64_t memory_mb, struct err *e)
{
    if (memory_mb < ce->min_memory_mb)
        return err_set(e, CATALOG_E_PLAN,
                       "plan too small for engine \"%s\": memory_mb %lld is below the minimum "
                       "of %lld MB that %s needs",
                       ce->name, (long long)memory_mb, (long long)ce->min_memory_mb,
                       ce->server_name);
    return 0;
}

bool catalog_user_reserved(const struct catalog_engine *ce, const char *username)
{
    for (int i = 0; reserved_users[i]; i++)
        if (strcmp(username, reserved_users[i]) == 0)
            return true;
    return strncmp(username, "pg_", 3) == 0 || strcmp(username, ce->default_os_user) == 0;
}
