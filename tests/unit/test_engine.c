/* Unit tests for the engine drivers' pure parts: the registry and minimum memory, spec and
 * verifier validation, configuration rendering from a plan (sizes, addresses, ports, sockets,
 * users), server command lines, and the extraction of an engine's own error text from its
 * log; for replication, the validation of spec->repl, rendering per role, where the secret
 * may appear, seed plans and seed_finish/seed_error, and the wrappers without a server. The
 * end-to-end check with real servers is tests/integration/test_engines.py. */
#include <errno.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engines/engine.h"
#include "engines/engine_util.h"
#include "lib/buf.h"
#include "lib/crypto.h"
#include "lib/fileio.h"

/* ---- helpers ---- */

struct fixture {
    const struct engine_ops *ops;
    char *verifier;
    struct engine_spec spec;
};

static void fixture_init(struct fixture *f, const char *engine, int64_t memory_mb)
{
    f->ops = engine_find(engine);
    assert_non_null(f->ops);
    f->verifier = f->ops->cat->verifier_new("correct-horse-battery");
    assert_non_null(f->verifier);
    memset(&f->spec, 0, sizeof(f->spec));
    f->spec.instance = "4f2a0c1e-0000-4000-8000-00000000abcd";
    f->spec.data_dir = "/var/lib/dbaas/m1";
    f->spec.listen_addr = "10.1.2.3";
    f->spec.port = 15432;
    f->spec.cpu_millis = 2000;
    f->spec.memory_mb = memory_mb;
    f->spec.disk_mb = 10240;
    f->spec.username = "app";
    f->spec.verifier = f->verifier;
}

static void fixture_free(struct fixture *f)
{
    free(f->verifier);
}

/* The spec as the wrappers hand it to a driver (defaults filled in). */
static struct engine_spec resolved(const struct fixture *f)
{
    struct engine_spec s = f->spec;

    if (!s.os_user)
        s.os_user = f->ops->cat->default_os_user;
    if (!s.run_dir)
        s.run_dir = s.data_dir;
    return s;
}

/* Render and return the named file's content (static storage of the last call). */
static const char *render_file(const struct fixture *f, const char *secret, const char *name)
{
    static char *last;
    struct engine_files files = {0};
    struct engine_spec s = resolved(f);
    struct err e = {0};

    free(last);
    last = NULL;
    assert_int_equal(f->ops->render(&s, secret, &files, &e), 0);
    for (int i = 0; i < files.n; i++)
        if (strcmp(files.f[i].name, name) == 0) {
            last = files.f[i].content;
            files.f[i].content = NULL;
        }
    engine_files_free(&files);
    if (!last)
        fail_msg("no file \"%s\" rendered", name);
    return last;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("\"%s\" not found in:\n%s", needle, hay);
}

static void assert_not_contains(const char *hay, const char *needle)
{
    if (strstr(hay, needle))
        fail_msg("\"%s\" unexpectedly found in:\n%s", needle, hay);
}

static void assert_valid(const struct fixture *f)
{
    struct err e = {0};

    if (engine_validate(f->ops, &f->spec, &e) != 0)
        fail_msg("%s: %s", f->ops->cat->name, e.msg);
}

static void assert_invalid(const struct fixture *f, int code, const char *msg_part)
{
    struct err e = {0};

    assert_int_equal(engine_validate(f->ops, &f->spec, &e), -1);
    assert_int_equal(e.code, code);
    if (msg_part)
        assert_contains(e.msg, msg_part);
}

/* ---- registry ---- */

static void test_registry(void **state)
{
    const struct engine_ops *const *all = engine_list();
    int n = 0;

    (void)state;
    for (; all[n]; n++) {
        assert_ptr_equal(engine_find(all[n]->cat->name), all[n]);
        assert_ptr_equal(catalog_find(all[n]->cat->name), all[n]->cat);
        assert_non_null(all[n]->render);
        assert_non_null(all[n]->argv);
        assert_non_null(all[n]->probe);
        assert_non_null(all[n]->create_user);
        assert_non_null(all[n]->apply_live);
        assert_non_null(all[n]->start_error);
        assert_non_null(all[n]->seed_plan);
        assert_non_null(all[n]->repl_setup);
        assert_non_null(all[n]->follow);
        assert_non_null(all[n]->health);
        assert_non_null(all[n]->promote);
        /* PostgreSQL is stopped cleanly instead; the others fence while running. */
        assert_true((all[n]->stop_writes == NULL) == (strcmp(all[n]->cat->name, "postgres") == 0));
        /* Only PostgreSQL runs steps to rejoin (pg_rewind); then writes standby.signal. */
        assert_true((all[n]->rejoin_plan == NULL) == (strcmp(all[n]->cat->name, "postgres") != 0));
        assert_true((all[n]->rejoin_finish == NULL) == (all[n]->rejoin_plan == NULL));
        assert_true(all[n]->stop_signal > 0);
    }
    assert_int_equal(n, 3);
    assert_string_equal(engine_find("postgres")->cat->default_os_user, "postgres");
    assert_string_equal(engine_find("mysql")->cat->default_os_user, "mysql");
    assert_string_equal(engine_find("redis")->cat->default_os_user, "redis");
    assert_null(engine_find("mongodb"));
    assert_null(engine_find(NULL));
    assert_null(engine_find("Postgres"));
}

/* ---- validation ---- */

static void test_validate_ok(void **state)
{
    struct fixture f;

    (void)state;
    for (const struct engine_ops *const *p = engine_list(); *p; p++) {
        fixture_init(&f, (*p)->cat->name, (*p)->cat->min_memory_mb);
        assert_valid(&f);
        f.spec.listen_addr = "::1";
        f.spec.run_dir = "/run/dbaas/m1";
        f.spec.os_user = "dbaas_pg1";
        f.spec.bin_dir = "/opt/engine-1.2/bin";
        f.spec.port = 65535;
        assert_valid(&f);
        fixture_free(&f);
    }
}

static void test_validate_bad_fields(void **state)
{
    struct fixture f;
    char long_dir[120];

    (void)state;
    memset(long_dir, 'a', sizeof(long_dir));
    long_dir[0] = '/';
    long_dir[sizeof(long_dir) - 1] = '\0';
    for (const struct engine_ops *const *p = engine_list(); *p; p++) {
        const char *bad_dirs[] = {NULL,    "",      "relative/dir", "/",    "/a/../b", "/a/./b",
                                  "/a//b", "/a/b/", "/a/..",        "/a b", "/a'b",    "/a\"b",
                                  "/a\nb", "/a#b",  "/a;b",         "/a$b"};
        const char *bad_users[] = {
            NULL,      "",       "App",         "1app",
            "_app",    "a-b",    "a'b",         "postgres",
            "root",    "mysql",  "redis",       "default",
            "pg_read", "public", "dbaas_admin", "abcdefghijklmnopqrstuvwxyz0123456"};
        const char *bad_addrs[] = {NULL, "", "localhost", "10.0.0", "10.0.0.1 ", "[::1]"};
        const char *bad_instances[] = {NULL, "", "-x", ".x", "a b", "a/b", "a'b"};

        for (size_t i = 0; i < sizeof(bad_dirs) / sizeof(bad_dirs[0]); i++) {
            fixture_init(&f, (*p)->cat->name, 512);
            f.spec.data_dir = bad_dirs[i];
            assert_invalid(&f, ENGINE_E_INVALID, "data directory");
            fixture_free(&f);
        }
        for (size_t i = 0; i < sizeof(bad_users) / sizeof(bad_users[0]); i++) {
            fixture_init(&f, (*p)->cat->name, 512);
            f.spec.username = bad_users[i];
            assert_invalid(&f, ENGINE_E_INVALID, "user name");
            fixture_free(&f);
        }
        for (size_t i = 0; i < sizeof(bad_addrs) / sizeof(bad_addrs[0]); i++) {
            fixture_init(&f, (*p)->cat->name, 512);
            f.spec.listen_addr = bad_addrs[i];
            assert_invalid(&f, ENGINE_E_INVALID, "listen address");
            fixture_free(&f);
        }
        for (size_t i = 0; i < sizeof(bad_instances) / sizeof(bad_instances[0]); i++) {
            fixture_init(&f, (*p)->cat->name, 512);
            f.spec.instance = bad_instances[i];
            assert_invalid(&f, ENGINE_E_INVALID, "instance id");
            fixture_free(&f);
        }

        fixture_init(&f, (*p)->cat->name, 512);
        f.spec.port = 0;
        assert_invalid(&f, ENGINE_E_INVALID, "port");
        f.spec.port = 65536;
        assert_invalid(&f, ENGINE_E_INVALID, "port");
        f.spec.port = 5432;
        f.spec.run_dir = "/run/../x";
        assert_invalid(&f, ENGINE_E_INVALID, "socket directory");
        f.spec.run_dir = long_dir; /* 118 characters: no room for a socket name */
        assert_invalid(&f, ENGINE_E_INVALID, "socket directory");
        f.spec.run_dir = NULL;
        f.spec.data_dir = long_dir; /* sockets would go there */
        assert_invalid(&f, ENGINE_E_INVALID, "too long to hold Unix sockets");
        f.spec.data_dir = "/var/lib/dbaas/m1";
        f.spec.os_user = "Root;";
        assert_invalid(&f, ENGINE_E_INVALID, "OS user");
        f.spec.os_user = "dbaas1";
        f.spec.username = "dbaas1"; /* the engine's own superuser name */
        assert_invalid(&f, ENGINE_E_INVALID, "reserved");
        f.spec.username = "app";
        f.spec.os_user = NULL;
        f.spec.cpu_millis = 0;
        assert_invalid(&f, ENGINE_E_INVALID, "cpu_millis");
        f.spec.cpu_millis = 1000;
        f.spec.memory_mb = (*p)->cat->min_memory_mb - 1;
        assert_invalid(&f, CATALOG_E_PLAN, "minimum");
        f.spec.memory_mb = 512;
        f.spec.verifier = NULL;
        assert_invalid(&f, ENGINE_E_INVALID, "verifier");
        assert_valid(&(struct fixture){f.ops,
                                       NULL,
                                       {.instance = "x",
                                        .data_dir = "/d",
                                        .listen_addr = "127.0.0.1",
                                        .port = 1,
                                        .cpu_millis = 1,
                                        .memory_mb = 512,
                                        .disk_mb = 1,
                                        .username = "u",
                                        .verifier = f.verifier}});
        fixture_free(&f);
    }
}

/* Each engine refuses the others' verifiers, and mangled ones; the message never quotes it. */
static void test_verifiers(void **state)
{
    char *pg = crypto_scram_verifier("pw", 4096);
    char *my = crypto_mysql_native_hash("pw");
    char *rd = crypto_redis_acl_hash("pw");
    const struct engine_ops *pgo = engine_find("postgres"), *myo = engine_find("mysql"),
                            *rdo = engine_find("redis");
    struct fixture f;
    struct err e = {0};
    char buf[400];

    (void)state;
    assert_true(pgo->cat->verifier_ok(pg));
    assert_true(myo->cat->verifier_ok(my));
    assert_true(rdo->cat->verifier_ok(rd));
    assert_false(pgo->cat->verifier_ok(my));
    assert_false(pgo->cat->verifier_ok(rd));
    assert_false(myo->cat->verifier_ok(pg));
    assert_false(myo->cat->verifier_ok(rd));
    assert_false(rdo->cat->verifier_ok(pg));
    assert_false(rdo->cat->verifier_ok(my));
    for (const struct engine_ops *const *p = engine_list(); *p; p++) {
        assert_false((*p)->cat->verifier_ok(NULL));
        assert_false((*p)->cat->verifier_ok(""));
    }

    /* PostgreSQL: structure, base64 alphabet, key lengths, iterations. */
    assert_true(pgo->cat->verifier_ok("SCRAM-SHA-256$4096:c2FsdA==$"
                                      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
                                      "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB="));
    assert_false(pgo->cat->verifier_ok("SCRAM-SHA-256$0:c2FsdA==$"
                                       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
                                       "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB="));
    assert_false(pgo->cat->verifier_ok("SCRAM-SHA-256$4096:c2FsdA==$"
                                       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'=:"
                                       "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB="));
    assert_false(pgo->cat->verifier_ok("SCRAM-SHA-256$4096:c2FsdA==$"
                                       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
                                       "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB="));
    assert_false(pgo->cat->verifier_ok("SCRAM-SHA-256$4096:$"
                                       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
                                       "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB="));
    assert_false(pgo->cat->verifier_ok("md5"
                                       "0123456789abcdef0123456789abcdef"));
    snprintf(buf, sizeof(buf), "%s'", pg);
    assert_false(pgo->cat->verifier_ok(buf));
    snprintf(buf, sizeof(buf), "%s", pg);
    buf[20] = '\'';
    assert_false(pgo->cat->verifier_ok(buf));

    /* MariaDB: '*' + 40 uppercase hex. */
    assert_false(myo->cat->verifier_ok("*60b3723a00b2a5841887329b1bbb67b861c01d48"));
    assert_false(myo->cat->verifier_ok("*60B3723A00B2A5841887329B1BBB67B861C01D4"));
    assert_false(myo->cat->verifier_ok("*60B3723A00B2A5841887329B1BBB67B861C01D48'"));
    assert_false(myo->cat->verifier_ok("60B3723A00B2A5841887329B1BBB67B861C01D480"));

    /* Redis: 64 lowercase hex. */
    snprintf(buf, sizeof(buf), "%s", rd);
    buf[0] = 'G';
    assert_false(rdo->cat->verifier_ok(buf));
    buf[0] = 'A';
    assert_false(rdo->cat->verifier_ok(buf));
    snprintf(buf, sizeof(buf), "%s0", rd);
    assert_false(rdo->cat->verifier_ok(buf));

    /* A wrong verifier is refused without being quoted in the message. */
    fixture_init(&f, "postgres", 512);
    f.spec.verifier = my;
    assert_int_equal(engine_validate(f.ops, &f.spec, &e), -1);
    assert_int_equal(e.code, ENGINE_E_INVALID);
    assert_not_contains(e.msg, my);
    fixture_free(&f);

    free(pg);
    free(my);
    free(rd);
}

/* ---- rendering ---- */

static void test_render_postgres(void **state)
{
    struct fixture f;
    const char *conf, *hba, *ident;
    struct {
        int64_t mem;
        const char *sb;
        const char *maxconn;
    } sizes[] = {
        {64, "shared_buffers = 16MB\n", "max_connections = 20\n"},
        {256, "shared_buffers = 64MB\n", "max_connections = 32\n"},
        {1024, "shared_buffers = 256MB\n", "max_connections = 128\n"},
        {16384, "shared_buffers = 4096MB\n", "max_connections = 500\n"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        fixture_init(&f, "postgres", sizes[i].mem);
        conf = render_file(&f, NULL, "postgresql.conf");
        assert_contains(conf, sizes[i].sb);
        assert_contains(conf, sizes[i].maxconn);
        fixture_free(&f);
    }

    fixture_init(&f, "postgres", 1024);
    f.spec.run_dir = "/run/dbaas/m1";
    conf = render_file(&f, NULL, "postgresql.conf");
    assert_contains(conf, "listen_addresses = '10.1.2.3'\n");
    assert_contains(conf, "port = 15432\n");
    assert_contains(conf, "unix_socket_directories = '/run/dbaas/m1'\n");
    assert_contains(conf, "unix_socket_permissions = 0700\n");
    assert_contains(conf, "temp_file_limit = 2560MB\n"); /* a quarter of the 10 GiB disk */
    assert_contains(conf, "hba_file = '/var/lib/dbaas/m1/pg_hba.conf'\n");
    assert_contains(conf, "ident_file = '/var/lib/dbaas/m1/pg_ident.conf'\n");
    assert_contains(conf, "password_encryption = scram-sha-256\n");
    assert_contains(conf, "wal_level = replica\n");
    assert_contains(conf, "wal_log_hints = on\n");
    assert_contains(conf, "effective_cache_size = 768MB\n");
    assert_contains(conf, "cluster_name = '4f2a0c1e-0000-4000-8000-00000000abcd'\n");
    assert_contains(conf, "max_parallel_workers = 2\n");
    assert_not_contains(conf, f.verifier);

    hba = render_file(&f, NULL, "pg_hba.conf");
    assert_contains(hba, "local   all       postgres             peer map=dbaas_admin\n");
    assert_contains(hba, "local   all       all            reject\n");
    assert_contains(hba, "host    all       postgres    all      reject\n");
    assert_contains(hba, "host    all       all   all      scram-sha-256\n");
    assert_not_contains(hba, "trust");
    /* The superuser lines come before the tenants' line: first match wins. */
    assert_true(strstr(hba, "postgres    all      reject") < strstr(hba, "scram-sha-256\n"));

    ident = render_file(&f, NULL, "pg_ident.conf");
    assert_contains(ident, "dbaas_admin    root         postgres\n");
    assert_contains(ident, "dbaas_admin    postgres           postgres\n");

    f.spec.os_user = "pg_m1";
    f.spec.listen_addr = "::1";
    hba = render_file(&f, NULL, "pg_hba.conf");
    assert_contains(hba, "local   all       pg_m1             peer map=dbaas_admin\n");
    conf = render_file(&f, NULL, "postgresql.conf");
    assert_contains(conf, "listen_addresses = '::1'\n");
    fixture_free(&f);
}

static void test_render_mariadb(void **state)
{
    struct fixture f;
    const char *cnf;
    char *first;

    (void)state;
    fixture_init(&f, "mysql", 128);
    cnf = render_file(&f, NULL, "my.cnf");
    assert_contains(cnf, "innodb-buffer-pool-size = 64M\n");
    assert_contains(cnf, "max-connections = 20\n");
    assert_contains(cnf, "innodb-log-file-size = 16M\n");
    fixture_free(&f);

    fixture_init(&f, "mysql", 2048);
    cnf = render_file(&f, NULL, "my.cnf");
    assert_contains(cnf, "[mariadbd]\n");
    assert_contains(cnf, "innodb-buffer-pool-size = 1024M\n");
    assert_contains(cnf, "max-connections = 256\n");
    assert_contains(cnf, "innodb-log-file-size = 256M\n");
    assert_contains(cnf, "bind-address = 10.1.2.3\n");
    assert_contains(cnf, "port = 15432\n");
    assert_contains(cnf, "socket = /var/lib/dbaas/m1/mysqld.15432.sock\n");
    assert_contains(cnf, "datadir = /var/lib/dbaas/m1/data\n");
    assert_contains(cnf, "secure-file-priv = /var/lib/dbaas/m1/data\n");
    assert_contains(cnf, "skip-name-resolve\n");
    assert_contains(cnf, "log-bin = binlog\n");
    assert_contains(cnf, "gtid-strict-mode = ON\n");
    assert_contains(cnf, "log-slave-updates = ON\n");
    assert_contains(cnf, "sync-binlog = 1\n");
    assert_contains(cnf, "server-id = ");
    assert_not_contains(cnf, "server-id = 0\n");
    assert_not_contains(cnf, f.verifier);

    /* server_id: stable for a member, different for another member of the instance. */
    first = strdup(strstr(cnf, "server-id = "));
    *strchr(first, '\n') = '\0';
    cnf = render_file(&f, NULL, "my.cnf");
    assert_contains(cnf, first);
    f.spec.port = 15433;
    cnf = render_file(&f, NULL, "my.cnf");
    assert_not_contains(cnf, first);
    f.spec.port = 15432;
    f.spec.listen_addr = "10.1.2.4";
    cnf = render_file(&f, NULL, "my.cnf");
    assert_not_contains(cnf, first);
    free(first);

    f.spec.run_dir = "/run/dbaas/m1";
    cnf = render_file(&f, NULL, "my.cnf");
    assert_contains(cnf, "socket = /run/dbaas/m1/mysqld.15432.sock\n");
    fixture_free(&f);
}

static void test_render_redis(void **state)
{
    static const char secret[] = "s3cr3t-admin-secret-0123456789";
    struct fixture f;
    const char *conf, *acl;
    char hash[65], line[200];
    struct engine_files files = {0};
    struct engine_spec s;
    struct err e = {0};

    (void)state;
    fixture_init(&f, "redis", 32);
    conf = render_file(&f, secret, "redis.conf");
    assert_contains(conf, "maxmemory 25165824\n"); /* 75% of 32 MiB */
    fixture_free(&f);

    fixture_init(&f, "redis", 1000);
    conf = render_file(&f, secret, "redis.conf");
    assert_contains(conf, "maxmemory 786432000\n");
    assert_contains(conf, "bind 10.1.2.3\n");
    assert_contains(conf, "port 15432\n");
    assert_contains(conf, "unixsocket /var/lib/dbaas/m1/redis.15432.sock\n");
    assert_contains(conf, "unixsocketperm 700\n");
    assert_contains(conf, "dir /var/lib/dbaas/m1/data\n");
    assert_contains(conf, "aclfile /var/lib/dbaas/m1/users.acl\n");
    assert_contains(conf, "appendonly yes\n");
    assert_contains(conf, "appendfsync everysec\n");
    assert_contains(conf, "repl-diskless-sync-delay 0\n");
    assert_contains(conf, "protected-mode yes\n");
    assert_contains(conf, "daemonize no\n");
    assert_contains(conf, "maxmemory-policy noeviction\n");
    assert_contains(conf, "sanitize-dump-payload clients\n");
    assert_not_contains(conf, secret);

    acl = render_file(&f, secret, "users.acl");
    crypto_sha256_hex(secret, strlen(secret), hash);
    snprintf(line, sizeof(line), "user dbaas-admin on #%s ~* &* +@all\n", hash);
    assert_contains(acl, line);
    /* MIGRATE (the server connects anywhere) and RESTORE-ASKING are not @admin. */
    snprintf(line, sizeof(line), "user app on #%s ~* &* +@all -@admin -migrate -restore-asking\n",
             f.verifier);
    assert_contains(acl, line);
    assert_contains(acl, "user default off ");
    assert_not_contains(acl, secret);

    /* No admin secret, no configuration. */
    s = resolved(&f);
    assert_int_equal(f.ops->render(&s, NULL, &files, &e), -1);
    engine_files_free(&files);
    fixture_free(&f);
}

/* Rendering never needs more than ENGINE_MAX_FILES and every file is named. */
static void test_render_files(void **state)
{
    struct fixture f;

    (void)state;
    for (const struct engine_ops *const *p = engine_list(); *p; p++) {
        struct engine_files files = {0};
        struct engine_spec s;
        struct err e = {0};

        fixture_init(&f, (*p)->cat->name, 512);
        s = resolved(&f);
        assert_int_equal((*p)->render(&s, "x-secret-of-some-length", &files, &e), 0);
        assert_true(files.n >= 1 && files.n <= ENGINE_MAX_FILES);
        for (int i = 0; i < files.n; i++) {
            assert_non_null(files.f[i].name);
            assert_null(strchr(files.f[i].name, '/'));
            assert_non_null(files.f[i].content);
            assert_string_not_equal(files.f[i].name, "server.log");
            assert_string_not_equal(files.f[i].name, "admin.secret");
        }
        engine_files_free(&files);
        fixture_free(&f);
    }
}

/* ---- command lines ---- */

static void test_argv(void **state)
{
    struct fixture f;
    struct err e = {0};
    char **argv = NULL;

    (void)state;
    fixture_init(&f, "postgres", 512);
    assert_int_equal(engine_argv(f.ops, &f.spec, &argv, &e), 0);
    assert_string_equal(argv[0], "/usr/lib/postgresql/15/bin/postgres");
    assert_string_equal(argv[1], "-D");
    assert_string_equal(argv[2], "/var/lib/dbaas/m1/data");
    assert_string_equal(argv[3], "-c");
    assert_string_equal(argv[4], "config_file=/var/lib/dbaas/m1/postgresql.conf");
    assert_null(argv[5]);
    engine_argv_free(argv);
    f.spec.bin_dir = "/opt/pg/bin";
    assert_int_equal(engine_argv(f.ops, &f.spec, &argv, &e), 0);
    assert_string_equal(argv[0], "/opt/pg/bin/postgres");
    engine_argv_free(argv);
    fixture_free(&f);

    fixture_init(&f, "mysql", 512);
    assert_int_equal(engine_argv(f.ops, &f.spec, &argv, &e), 0);
    assert_string_equal(argv[0], "/usr/sbin/mariadbd");
    assert_string_equal(argv[1], "--defaults-file=/var/lib/dbaas/m1/my.cnf");
    assert_null(argv[2]);
    engine_argv_free(argv);
    fixture_free(&f);

    fixture_init(&f, "redis", 512);
    assert_int_equal(engine_argv(f.ops, &f.spec, &argv, &e), 0);
    assert_string_equal(argv[0], "/usr/bin/redis-server");
    assert_string_equal(argv[1], "/var/lib/dbaas/m1/redis.conf");
    assert_null(argv[2]);
    engine_argv_free(argv);

    /* An invalid spec gives no command line. */
    f.spec.port = -1;
    assert_int_equal(engine_argv(f.ops, &f.spec, &argv, &e), -1);
    assert_null(argv);
    assert_int_equal(e.code, ENGINE_E_INVALID);
    fixture_free(&f);
}

static void test_stop_signals(void **state)
{
    (void)state;
    assert_int_equal(engine_find("postgres")->stop_signal, SIGINT);
    assert_int_equal(engine_find("mysql")->stop_signal, SIGTERM);
    assert_int_equal(engine_find("redis")->stop_signal, SIGTERM);
    assert_false(engine_find("postgres")->admin_secret);
    assert_false(engine_find("mysql")->admin_secret);
    assert_true(engine_find("redis")->admin_secret);
}

/* ---- replication ---- */

#define SECRET "Repl-Secret_0123456789abcdefXYZ"

/* Make f's spec a member of a replicated instance: member 1 the primary serving the given
 * replicas, member 2 a replica of member 1 at 10.1.2.4:5432. */
static void set_repl(struct fixture *f, struct engine_repl *r, enum engine_role role,
                     const struct engine_peer *replicas, int n)
{
    memset(r, 0, sizeof(*r));
    r->role = role;
    r->member_id = role == ENGINE_ROLE_PRIMARY ? 1 : 2;
    r->user = CATALOG_REPL_USER;
    r->secret = SECRET;
    r->upstream = (struct engine_peer){1, "10.1.2.4", 5432};
    r->replicas = replicas;
    r->n_replicas = n;
    f->spec.repl = r;
}

static const struct engine_peer two_replicas[] = {{2, "10.1.2.5", 5433}, {3, "::1", 5434}};

static void assert_invalid_quiet(const struct fixture *f, const char *msg_part)
{
    struct err e = {0};

    assert_int_equal(engine_validate(f->ops, &f->spec, &e), -1);
    assert_int_equal(e.code, ENGINE_E_INVALID);
    assert_contains(e.msg, msg_part);
    assert_not_contains(e.msg, SECRET);
    assert_not_contains(e.msg, "Repl-Secret");
}

static void test_validate_repl(void **state)
{
    struct engine_peer bad[9];
    struct engine_repl r;
    struct fixture f;

    (void)state;
    for (const struct engine_ops *const *p = engine_list(); *p; p++) {
        fixture_init(&f, (*p)->cat->name, 512);
        set_repl(&f, &r, ENGINE_ROLE_PRIMARY, two_replicas, 2);
        assert_valid(&f);
        r.n_replicas = 0;
        r.replicas = NULL;
        assert_valid(&f);
        set_repl(&f, &r, ENGINE_ROLE_REPLICA, NULL, 0);
        assert_valid(&f);
        r.member_id = INT64_C(4294967295); /* MariaDB's largest server_id */
        assert_valid(&f);

        r.role = (enum engine_role)7;
        assert_invalid_quiet(&f, "replication role");
        set_repl(&f, &r, ENGINE_ROLE_REPLICA, NULL, 0);
        r.member_id = 0;
        assert_invalid_quiet(&f, "member id");
        r.member_id = INT64_C(4294967296);
        assert_invalid_quiet(&f, "member id");
        r.member_id = 1; /* its own upstream */
        assert_invalid_quiet(&f, "itself");
        r.member_id = 2;
        r.user = "dbaas_admin";
        assert_invalid_quiet(&f, "replication user");
        r.user = NULL;
        assert_invalid_quiet(&f, "replication user");
        r.user = CATALOG_REPL_USER;
        {
            const char *bad_secrets[] = {NULL,
                                         "",
                                         "short",
                                         "Repl-Secret with space",
                                         "Repl-Secret'quote0123",
                                         "Repl-Secret:colon0123",
                                         "Repl-Secret#hash012345",
                                         "Repl-Secret\nnewline12"};
            for (size_t i = 0; i < sizeof(bad_secrets) / sizeof(bad_secrets[0]); i++) {
                r.secret = bad_secrets[i];
                assert_invalid_quiet(&f, "replication secret");
            }
        }
        r.secret = SECRET;
        r.upstream.host = "localhost";
        assert_invalid_quiet(&f, "address \"localhost\" of the primary");
        r.upstream.host = "10.1.2.4";
        r.upstream.port = 0;
        assert_invalid_quiet(&f, "port 0 of the primary");
        r.upstream.port = 5432;
        r.upstream.id = 0;
        assert_invalid_quiet(&f, "member id 0 of the primary");

        set_repl(&f, &r, ENGINE_ROLE_PRIMARY, two_replicas, 2);
        r.n_replicas = 9;
        for (int i = 0; i < 9; i++)
            bad[i] = (struct engine_peer){10 + i, "10.0.0.1", 1000 + i};
        r.replicas = bad;
        assert_invalid_quiet(&f, "0 to 8 are supported");
        r.n_replicas = 8;
        assert_valid(&f);
        r.n_replicas = 1;
        r.replicas = NULL;
        assert_invalid_quiet(&f, "list of replicas");
        r.replicas = bad;
        r.n_replicas = 2;
        bad[1].id = bad[0].id;
        assert_invalid_quiet(&f, "listed twice");
        bad[1].id = 1;
        assert_invalid_quiet(&f, "replica of itself");
        bad[1].id = 11;
        bad[1].host = "10.0.0";
        assert_invalid_quiet(&f, "of the replica (member 11)");
        bad[1].host = "10.0.0.1";
        bad[1].port = 70000;
        assert_invalid_quiet(&f, "port 70000 of the replica");

        /* The tenant can never be the replication user. */
        set_repl(&f, &r, ENGINE_ROLE_PRIMARY, NULL, 0);
        f.spec.username = CATALOG_REPL_USER;
        assert_invalid_quiet(&f, "reserved");
        fixture_free(&f);
    }
}

/* Which rendered file may hold the secret, per engine. */
static const char *secret_file(const char *engine)
{
    if (strcmp(engine, "postgres") == 0)
        return "repl.pgpass";
    if (strcmp(engine, "mysql") == 0)
        return "repl.secret";
    return "repl-auth.conf";
}

/* The secret is in exactly one rendered file, and nowhere in a seed step's argv or env or in
 * the seed source's argv. */
static void test_secret_only_in_its_file(void **state)
{
    struct engine_repl r;
    struct fixture f;

    (void)state;
    for (const struct engine_ops *const *p = engine_list(); *p; p++) {
        for (int role = 0; role < 2; role++) {
            struct engine_files files = {0};
            struct engine_seed_plan plan = {0};
            struct engine_spec s;
            struct err e = {0};
            char **argv = NULL;
            int found = 0;

            fixture_init(&f, (*p)->cat->name, 512);
            set_repl(&f, &r, (enum engine_role)role, two_replicas, role == 0 ? 2 : 0);
            s = resolved(&f);
            assert_int_equal((*p)->render(&s, "x-admin-secret-of-some-length", &files, &e), 0);
            for (int i = 0; i < files.n; i++) {
                bool has = strstr(files.f[i].content, SECRET) != NULL;
                if (has != (strcmp(files.f[i].name, secret_file((*p)->cat->name)) == 0))
                    fail_msg("%s: secret %s in \"%s\"", (*p)->cat->name, has ? "found" : "missing",
                             files.f[i].name);
                found += has;
            }
            assert_int_equal(found, 1);
            engine_files_free(&files);
            assert_int_equal((*p)->seed_plan(&s, "/var/lib/dbaas/m1/data.tmp", &plan, &e), 0);
            for (int i = 0; i < plan.n; i++) {
                for (char **a = plan.step[i].argv; *a; a++)
                    assert_not_contains(*a, SECRET);
                for (char **a = plan.step[i].env; a && *a; a++)
                    assert_not_contains(*a, SECRET);
            }
            engine_seed_plan_free(&plan);
            if ((*p)->seed_source) {
                assert_int_equal((*p)->seed_source(&s, &argv, &e), 0);
                for (char **a = argv; *a; a++)
                    assert_not_contains(*a, SECRET);
                engine_argv_free(argv);
            }
            fixture_free(&f);
        }
    }
}

static void test_render_repl_postgres(void **state)
{
    struct engine_repl r;
    struct fixture f;
    const char *conf, *hba;

    (void)state;
    fixture_init(&f, "postgres", 1024);
    /* Without replication: none of it. */
    hba = render_file(&f, NULL, "pg_hba.conf");
    assert_not_contains(hba, "replication");
    conf = render_file(&f, NULL, "postgresql.conf");
    assert_not_contains(conf, "primary_conninfo");
    assert_not_contains(conf, "hot_standby_feedback");

    set_repl(&f, &r, ENGINE_ROLE_PRIMARY, two_replicas, 2);
    hba = render_file(&f, NULL, "pg_hba.conf");
    assert_contains(hba, "local   replication  postgres  peer map=dbaas_admin\n");
    assert_contains(hba, "host    replication  dbaas_repl  all  scram-sha-256\n");
    assert_contains(hba, "host    replication  all         all  reject\n");
    assert_contains(hba, "host    all          dbaas_repl  all  reject\n");
    /* pg_rewind's source session: database "postgres" only, before the reject */
    assert_contains(hba, "host    postgres     dbaas_repl  all  scram-sha-256\n");
    assert_true(strstr(hba, "postgres     dbaas_repl") < strstr(hba, "all          dbaas_repl"));
    assert_true(strstr(hba, "dbaas_repl  all  reject") <
                strstr(hba, "host    all       all   all      scram-sha-256\n"));
    conf = render_file(&f, NULL, "postgresql.conf");
    assert_contains(conf, "wal_level = replica\n");
    assert_contains(conf, "wal_log_hints = on\n");
    assert_contains(conf, "max_wal_senders = 10\n");
    assert_contains(conf, "max_replication_slots = 10\n");
    assert_contains(conf, "wal_keep_size = 640MB\n"); /* a sixteenth of the 10 GiB disk */
    assert_contains(conf, "hot_standby_feedback = on\n");
    assert_contains(conf, "max_slot_wal_keep_size = 2560MB\n");
    assert_not_contains(conf, "primary_conninfo");
    assert_not_contains(conf, "primary_slot_name");
    assert_contains(conf, "synchronous_standby_names = ''\n");
    assert_contains(conf, "recovery_target_timeline = 'latest'\n");
    assert_string_equal(render_file(&f, NULL, "repl.pgpass"), "*:*:*:dbaas_repl:" SECRET "\n");
    /* Sync: any one of the replicas, by the application_name they stream with. */
    r.sync = true;
    conf = render_file(&f, NULL, "postgresql.conf");
    assert_contains(conf, "synchronous_standby_names = 'ANY 1 (dbaas_m2, dbaas_m3)'\n");
    assert_contains(conf, "synchronous_commit = on\n");
    r.n_replicas = 0; /* nobody to wait for */
    r.replicas = NULL;
    conf = render_file(&f, NULL, "postgresql.conf");
    assert_not_contains(conf, "ANY 1");
    assert_contains(conf, "synchronous_standby_names = ''");
    r.sync = false;

    set_repl(&f, &r, ENGINE_ROLE_REPLICA, NULL, 0);
    conf = render_file(&f, NULL, "postgresql.conf");
    assert_contains(conf, "primary_conninfo = 'host=10.1.2.4 port=5432 user=dbaas_repl "
                          "passfile=/var/lib/dbaas/m1/repl.pgpass application_name=dbaas_m2 "
                          "connect_timeout=5'\n");
    assert_contains(conf, "primary_slot_name = 'dbaas_m2'\n");
    assert_contains(conf, "hot_standby = on\n");
    assert_contains(conf, "hot_standby_feedback = on\n");
    assert_contains(conf, "wal_retrieve_retry_interval = 100ms\n");
    assert_contains(conf, "port = 15432\n"); /* its own, never the primary's */
    assert_not_contains(conf, SECRET);
    r.sync = true; /* a standby waits for nobody; promotion renders the primary's list */
    conf = render_file(&f, NULL, "postgresql.conf");
    assert_contains(conf, "synchronous_standby_names = ''");
    assert_not_contains(conf, "ANY 1");
    fixture_free(&f);
}

static void test_render_repl_mariadb(void **state)
{
    struct engine_repl r;
    struct fixture f;
    struct engine_files files = {0};
    struct engine_spec s;
    struct err e = {0};
    const char *cnf;

    (void)state;
    fixture_init(&f, "mysql", 512);
    s = resolved(&f);
    assert_int_equal(f.ops->render(&s, NULL, &files, &e), 0);
    assert_int_equal(files.n, 1); /* no secret file without replication */
    engine_files_free(&files);
    cnf = render_file(&f, NULL, "my.cnf");
    assert_not_contains(cnf, "read-only");
    assert_not_contains(cnf, "server-id = 1\n");

    set_repl(&f, &r, ENGINE_ROLE_PRIMARY, two_replicas, 2);
    cnf = render_file(&f, NULL, "my.cnf");
    assert_contains(cnf, "server-id = 1\n");
    assert_contains(cnf, "log-bin = binlog\n");
    assert_contains(cnf, "binlog-format = ROW\n");
    assert_contains(cnf, "log-slave-updates = ON\n");
    assert_contains(cnf, "gtid-strict-mode = ON\n");
    assert_not_contains(cnf, "read-only");
    assert_contains(cnf, "rpl-semi-sync-master-enabled = OFF\n");
    assert_contains(cnf, "rpl-semi-sync-slave-enabled = OFF\n");
    assert_string_equal(render_file(&f, NULL, "repl.secret"), SECRET "\n");
    r.sync = true;
    cnf = render_file(&f, NULL, "my.cnf");
    assert_contains(cnf, "rpl-semi-sync-master-enabled = ON\n");
    assert_contains(cnf, "rpl-semi-sync-slave-enabled = ON\n");
    assert_contains(cnf, "rpl-semi-sync-master-wait-point = AFTER_SYNC\n");
    assert_contains(cnf, "rpl-semi-sync-master-wait-no-slave = ON\n");
    assert_contains(cnf, "rpl-semi-sync-master-timeout = 18446744073709551615\n");
    assert_not_contains(cnf, "read-only");
    r.sync = false;

    set_repl(&f, &r, ENGINE_ROLE_REPLICA, NULL, 0);
    cnf = render_file(&f, NULL, "my.cnf");
    assert_contains(cnf, "server-id = 2\n");
    assert_contains(cnf, "read-only = ON\n");
    assert_contains(cnf, "log-slave-updates = ON\n");
    assert_contains(cnf, "port = 15432\n");
    assert_not_contains(cnf, SECRET);
    r.sync = true; /* a replica acknowledges; its master side stays off until promoted */
    cnf = render_file(&f, NULL, "my.cnf");
    assert_contains(cnf, "rpl-semi-sync-slave-enabled = ON\n");
    assert_contains(cnf, "rpl-semi-sync-master-enabled = OFF\n");
    fixture_free(&f);
}

/* PostgreSQL's rejoin: CHECKPOINT on the new primary, then pg_rewind from it, both with the
 * passfile (the secret in no argument or variable) and our own configuration file. */
static void test_rejoin_plan_postgres(void **state)
{
    struct engine_seed_plan plan = {0};
    struct engine_repl r;
    struct engine_spec s;
    struct fixture f;
    struct err e = {0};
    char **a;

    (void)state;
    fixture_init(&f, "postgres", 512);
    set_repl(&f, &r, ENGINE_ROLE_REPLICA, NULL, 0);
    s = resolved(&f);
    assert_int_equal(f.ops->rejoin_plan(&s, "/var/lib/dbaas/m1/data", &plan, &e), 0);
    assert_int_equal(plan.n, 2);
    a = plan.step[0].argv;
    assert_string_equal(a[0], "/usr/lib/postgresql/15/bin/psql");
    assert_string_equal(a[4], "--dbname=host=10.1.2.4 port=5432 user=dbaas_repl dbname=postgres "
                              "passfile=/var/lib/dbaas/m1/repl.pgpass "
                              "application_name=dbaas_m2_rewind connect_timeout=5");
    assert_string_equal(a[6], "--command=CHECKPOINT");
    a = plan.step[1].argv;
    assert_string_equal(a[0], "/usr/lib/postgresql/15/bin/pg_rewind");
    assert_string_equal(a[1], "--target-pgdata=/var/lib/dbaas/m1/data");
    assert_contains(a[2], "--source-server=host=10.1.2.4 port=5432 user=dbaas_repl ");
    assert_string_equal(a[3], "--config-file=/var/lib/dbaas/m1/postgresql.conf");
    assert_null(a[4]);
    for (int i = 0; i < plan.n; i++) {
        assert_false(plan.step[i].stdin_stream);
        for (char **p = plan.step[i].argv; *p; p++)
            assert_not_contains(*p, SECRET);
        for (char **p = plan.step[i].env; *p; p++)
            assert_not_contains(*p, SECRET);
    }
    engine_seed_plan_free(&plan);
    fixture_free(&f);
}

static void test_render_repl_redis(void **state)
{
    static const char admin[] = "s3cr3t-admin-secret-0123456789";
    struct engine_repl r;
    struct fixture f;
    const char *conf, *acl;
    char hash[65], line[200];

    (void)state;
    fixture_init(&f, "redis", 512);
    conf = render_file(&f, admin, "redis.conf");
    assert_not_contains(conf, "replicaof");
    assert_not_contains(conf, "include");
    assert_not_contains(render_file(&f, admin, "users.acl"), CATALOG_REPL_USER);

    crypto_sha256_hex(SECRET, strlen(SECRET), hash);
    snprintf(line, sizeof(line),
             "user dbaas_repl on #%s resetchannels -@all +psync +replconf +ping\n", hash);
    set_repl(&f, &r, ENGINE_ROLE_PRIMARY, two_replicas, 2);
    acl = render_file(&f, admin, "users.acl");
    assert_contains(acl, line);
    assert_not_contains(acl, SECRET);
    conf = render_file(&f, admin, "redis.conf");
    assert_not_contains(conf, "replicaof");
    assert_contains(conf, "include /var/lib/dbaas/m1/repl-auth.conf\n");
    assert_contains(conf, "repl-diskless-sync-delay 0\n");
    assert_contains(conf, "repl-timeout 10\n");
    assert_string_equal(render_file(&f, admin, "repl-auth.conf"),
                        "masteruser dbaas_repl\nmasterauth " SECRET "\n");
    conf = render_file(&f, admin, "redis.conf");
    assert_contains(conf, "min-replicas-to-write 0\n");
    r.sync = true;
    conf = render_file(&f, admin, "redis.conf");
    assert_contains(conf, "min-replicas-to-write 1\n");
    assert_contains(conf, "min-replicas-max-lag 1\n");
    r.sync = false;

    set_repl(&f, &r, ENGINE_ROLE_REPLICA, NULL, 0);
    conf = render_file(&f, admin, "redis.conf");
    assert_contains(conf, "replicaof 10.1.2.4 5432\n");
    assert_contains(conf, "replica-read-only yes\n");
    assert_contains(conf, "repl-timeout 10\n");
    assert_contains(conf, "repl-ping-replica-period 2\n");
    /* The include comes last: nothing after it overrides the credentials. */
    assert_contains(conf, "include /var/lib/dbaas/m1/repl-auth.conf\n");
    assert_true(strstr(conf, "include ")[strlen("include /var/lib/dbaas/m1/repl-auth.conf\n")] ==
                '\0');
    assert_not_contains(conf, SECRET);
    assert_contains(render_file(&f, admin, "users.acl"), line);
    fixture_free(&f);
}

static void assert_argv(char **argv, const char *const *want)
{
    int i = 0;

    for (; want[i]; i++) {
        assert_non_null(argv[i]);
        assert_string_equal(argv[i], want[i]);
    }
    assert_null(argv[i]);
}

static void test_seed_plans(void **state)
{
    struct engine_seed_plan plan = {0};
    struct engine_repl r;
    struct engine_spec s;
    struct fixture f;
    struct err e = {0};
    char **argv = NULL;

    (void)state;
    fixture_init(&f, "postgres", 512);
    set_repl(&f, &r, ENGINE_ROLE_REPLICA, NULL, 0);
    s = resolved(&f);
    assert_int_equal(f.ops->seed_plan(&s, "/var/lib/dbaas/m1/data.tmp", &plan, &e), 0);
    assert_int_equal(plan.n, 1);
    assert_false(plan.step[0].stdin_stream);
    assert_string_equal(plan.step[0].what, "pg_basebackup");
    assert_argv(plan.step[0].argv,
                (const char *const[]){"/usr/lib/postgresql/15/bin/pg_basebackup",
                                      "--pgdata=/var/lib/dbaas/m1/data.tmp", "--host=10.1.2.4",
                                      "--port=5432", "--username=dbaas_repl", "--no-password",
                                      "--wal-method=stream", "--slot=dbaas_m2", "--checkpoint=fast",
                                      "--no-sync", NULL});
    assert_argv(plan.step[0].env,
                (const char *const[]){"PGPASSFILE=/var/lib/dbaas/m1/repl.pgpass",
                                      "HOME=/var/lib/dbaas/m1", "PGCONNECT_TIMEOUT=10",
                                      "PGAPPNAME=dbaas_m2_seed", NULL});
    engine_seed_plan_free(&plan);
    assert_int_equal(plan.n, 0);
    assert_int_equal(engine_seed_source(f.ops, &f.spec, &argv, &e), -1);
    assert_int_equal(e.code, ENGINE_E_UNSUPPORTED);
    assert_null(argv);
    fixture_free(&f);

    fixture_init(&f, "mysql", 512);
    set_repl(&f, &r, ENGINE_ROLE_REPLICA, NULL, 0);
    s = resolved(&f);
    assert_int_equal(f.ops->seed_plan(&s, "/var/lib/dbaas/m1/data.tmp", &plan, &e), 0);
    assert_int_equal(plan.n, 2);
    assert_true(plan.step[0].stdin_stream);
    assert_string_equal(plan.step[0].what, "mbstream");
    assert_argv(plan.step[0].argv, (const char *const[]){"/usr/bin/mbstream", "-x", "-C",
                                                         "/var/lib/dbaas/m1/data.tmp", NULL});
    assert_false(plan.step[1].stdin_stream);
    assert_argv(plan.step[1].argv,
                (const char *const[]){"/usr/bin/mariadb-backup", "--no-defaults", "--prepare",
                                      "--target-dir=/var/lib/dbaas/m1/data.tmp",
                                      "--use-memory=256M", NULL});
    engine_seed_plan_free(&plan);
    set_repl(&f, &r, ENGINE_ROLE_PRIMARY, two_replicas, 2);
    f.spec.run_dir = "/run/dbaas/m1";
    assert_int_equal(engine_seed_source(f.ops, &f.spec, &argv, &e), 0);
    assert_argv(argv, (const char *const[]){
                          "/usr/bin/mariadb-backup", "--defaults-file=/var/lib/dbaas/m1/my.cnf",
                          "--backup", "--stream=xbstream",
                          "--target-dir=/var/lib/dbaas/m1/seed.tmp", "--tmpdir=/var/lib/dbaas/m1",
                          "--user=mysql", "--socket=/run/dbaas/m1/mysqld.15432.sock", NULL});
    engine_argv_free(argv);
    fixture_free(&f);

    fixture_init(&f, "redis", 512);
    set_repl(&f, &r, ENGINE_ROLE_REPLICA, NULL, 0);
    s = resolved(&f);
    assert_int_equal(f.ops->seed_plan(&s, "/var/lib/dbaas/m1/data.tmp", &plan, &e), 0);
    assert_int_equal(plan.n, 0);
    assert_int_equal(engine_seed_source(f.ops, &f.spec, &argv, &e), -1);
    assert_int_equal(e.code, ENGINE_E_UNSUPPORTED);
    fixture_free(&f);
}

/* An OS user the tests may give files to: nobody as root, else ourselves. */
static const char *test_os_user(void)
{
    static char name[64];
    struct passwd *pw = geteuid() == 0 ? NULL : getpwuid(geteuid());

    snprintf(name, sizeof(name), "%s", pw ? pw->pw_name : "nobody");
    return name;
}

/* A fresh directory that the test OS user can traverse; the caller removes it. */
static char *test_dir(void)
{
    char tmpl[] = "/tmp/test_engine.XXXXXX";

    assert_non_null(mkdtemp(tmpl));
    assert_int_equal(chmod(tmpl, 0755), 0);
    return strdup(tmpl);
}

static char *read_text(const char *dir, const char *name)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return fileio_read(path, 1 << 20, 0, NULL);
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[256];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_seed_finish_and_error(void **state)
{
    struct engine_repl r;
    struct engine_spec s;
    struct fixture f;
    struct err e = {0};
    char *dir = test_dir(), *text;

    (void)state;
    fixture_init(&f, "postgres", 512);
    set_repl(&f, &r, ENGINE_ROLE_REPLICA, NULL, 0);
    f.spec.os_user = test_os_user();
    s = resolved(&f);
    assert_int_equal(f.ops->seed_finish(&s, dir, &e), 0);
    text = read_text(dir, "standby.signal");
    assert_non_null(text);
    assert_string_equal(text, "");
    free(text);
    /* pg_basebackup before the primary's agent made the slot: clear, and worth a retry. */
    err_set(&e, LIB_E_TOOL,
            "pg_basebackup exited with status 1: pg_basebackup: error: could not send "
            "replication command \"START_REPLICATION\": ERROR:  replication slot \"dbaas_m2\" "
            "does not exist; pg_basebackup: removing contents of data directory");
    f.ops->seed_error(&s, NULL, &e);
    assert_int_equal(e.code, ENGINE_E_UNAVAILABLE);
    assert_string_equal(e.msg, "could not seed from the primary at 10.1.2.4:5432 yet: "
                               "replication slot \"dbaas_m2\" does not exist there (the "
                               "primary's agent creates it); retry later");
    err_set(&e, LIB_E_TOOL, "pg_basebackup exited with status 1: connection refused");
    f.ops->seed_error(&s, NULL, &e);
    assert_int_equal(e.code, LIB_E_TOOL);
    fixture_free(&f);

    fixture_init(&f, "mysql", 512);
    set_repl(&f, &r, ENGINE_ROLE_REPLICA, NULL, 0);
    f.spec.os_user = test_os_user();
    s = resolved(&f);
    assert_int_equal(f.ops->seed_finish(&s, dir, &e), -1); /* no position in the backup */
    assert_int_equal(e.code, ENGINE_E_ENGINE);
    write_text(dir, "xtrabackup_binlog_info", "binlog.000003\t1274\t0-1-42,1-7-3\n");
    assert_int_equal(f.ops->seed_finish(&s, dir, &e), 0);
    text = read_text(dir, "dbaas_seed.gtid");
    assert_string_equal(text, "0-1-42,1-7-3");
    free(text);
    write_text(dir, "mariadb_backup_binlog_info", "binlog.000004\t4\t0-1-43\n"); /* preferred */
    assert_int_equal(f.ops->seed_finish(&s, dir, &e), 0);
    text = read_text(dir, "dbaas_seed.gtid");
    assert_string_equal(text, "0-1-43");
    free(text);
    write_text(dir, "mariadb_backup_binlog_info", "binlog.000004\t4\t0-1-43'; DROP\n");
    assert_int_equal(f.ops->seed_finish(&s, dir, &e), -1);
    assert_contains(e.msg, "invalid GTID position");
    write_text(dir, "mariadb_backup_binlog_info", "binlog.000001\t4\n"); /* no GTID yet */
    assert_int_equal(f.ops->seed_finish(&s, dir, &e), 0);
    text = read_text(dir, "dbaas_seed.gtid");
    assert_string_equal(text, "");
    free(text);
    fixture_free(&f);
    {
        const char *names[] = {"standby.signal", "xtrabackup_binlog_info",
                               "mariadb_backup_binlog_info", "dbaas_seed.gtid"};
        char path[256];
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
            unlink(path);
        }
    }
    assert_int_equal(rmdir(dir), 0);
    free(dir);
}

/* engine_seed()'s run_step for the tests: counts the steps; fails with msg when set. */
struct fake_run {
    int steps;
    const char *fail_msg;
};

static int fake_run_step(void *ctx, const struct engine_seed_step *step, struct err *e)
{
    struct fake_run *run = ctx;

    assert_non_null(step->argv[0]);
    run->steps++;
    if (run->fail_msg)
        return err_set(e, LIB_E_TOOL, "%s exited with status 1: %s", step->what, run->fail_msg);
    return 0;
}

static void test_engine_seed(void **state)
{
    struct engine_repl r;
    struct fixture f;
    struct fake_run run = {0};
    struct err e = {0};
    char *top = test_dir(), member[128], *text;

    (void)state;
    snprintf(member, sizeof(member), "%s/member", top);
    fixture_init(&f, "postgres", 512);
    f.spec.data_dir = member;
    f.spec.os_user = test_os_user();

    /* Only a replica is seeded. */
    assert_int_equal(engine_seed(f.ops, &f.spec, fake_run_step, &run, &e), -1);
    assert_int_equal(e.code, ENGINE_E_INVALID);
    set_repl(&f, &r, ENGINE_ROLE_PRIMARY, NULL, 0);
    assert_int_equal(engine_seed(f.ops, &f.spec, fake_run_step, &run, &e), -1);
    assert_int_equal(e.code, ENGINE_E_INVALID);
    assert_int_equal(run.steps, 0);

    /* A failed step: the driver's clearer error, no data; a message never shows the secret. */
    set_repl(&f, &r, ENGINE_ROLE_REPLICA, NULL, 0);
    run.fail_msg = "ERROR:  replication slot \"dbaas_m2\" does not exist";
    assert_int_equal(engine_seed(f.ops, &f.spec, fake_run_step, &run, &e), -1);
    assert_int_equal(e.code, ENGINE_E_UNAVAILABLE);
    assert_int_equal(run.steps, 1);
    run.fail_msg = "password " SECRET " refused";
    assert_int_equal(engine_seed(f.ops, &f.spec, fake_run_step, &run, &e), -1);
    assert_not_contains(e.msg, SECRET);
    assert_contains(e.msg, "password (secret) refused");
    text = read_text(member, "data/PG_VERSION");
    assert_null(text);

    /* The configuration first (the steps read the passfile), then the data with its marker. */
    run.fail_msg = NULL;
    run.steps = 0;
    assert_int_equal(engine_seed(f.ops, &f.spec, fake_run_step, &run, &e), 0);
    assert_int_equal(run.steps, 1);
    text = read_text(member, "repl.pgpass");
    assert_non_null(text);
    free(text);
    text = read_text(member, "data/standby.signal");
    assert_non_null(text);
    free(text);
    {
        char tmp[160];
        snprintf(tmp, sizeof(tmp), "%s/data.tmp", member);
        assert_false(engine_util_is_dir(tmp));
    }
    /* Seeded already: nothing runs again. */
    assert_int_equal(engine_seed(f.ops, &f.spec, fake_run_step, &run, &e), 0);
    assert_int_equal(run.steps, 1);
    assert_int_equal(engine_remove(f.ops, &f.spec, &e), 0);
    fixture_free(&f);

    /* Redis: no steps, an empty data directory and the configuration. */
    fixture_init(&f, "redis", 512);
    f.spec.data_dir = member;
    f.spec.os_user = test_os_user();
    set_repl(&f, &r, ENGINE_ROLE_REPLICA, NULL, 0);
    run.steps = 0;
    assert_int_equal(engine_seed(f.ops, &f.spec, fake_run_step, &run, &e), 0);
    assert_int_equal(run.steps, 0);
    {
        char data[160];
        snprintf(data, sizeof(data), "%s/data", member);
        assert_true(engine_util_is_dir(data));
    }
    text = read_text(member, "repl-auth.conf");
    assert_non_null(text);
    free(text);
    assert_int_equal(engine_remove(f.ops, &f.spec, &e), 0);
    fixture_free(&f);
    assert_int_equal(rmdir(top), 0);
    free(top);
}

/* The wrappers without a server: promote needs a primary's settings, repl_setup and follow are
 * no-ops where they do not apply, health of a member that does not run says so at once. */
static void test_ha_wrappers(void **state)
{
    struct engine_health h;
    struct engine_repl r;
    struct fixture f;
    struct err e = {0};

    (void)state;
    for (const struct engine_ops *const *p = engine_list(); *p; p++) {
        fixture_init(&f, (*p)->cat->name, 512);
        f.spec.data_dir = "/nonexistent/dbaas/m1";
        assert_int_equal(engine_promote(f.ops, &f.spec, &e), -1);
        assert_int_equal(e.code, ENGINE_E_INVALID); /* no replication settings */
        assert_contains(e.msg, "must name it the primary");
        assert_int_equal(engine_follow(f.ops, &f.spec, &e), 0);
        assert_int_equal(engine_repl_setup(f.ops, &f.spec, &e), 0);
        set_repl(&f, &r, ENGINE_ROLE_PRIMARY, two_replicas, 2);
        assert_int_equal(engine_follow(f.ops, &f.spec, &e), 0);
        set_repl(&f, &r, ENGINE_ROLE_REPLICA, NULL, 0);
        assert_int_equal(engine_repl_setup(f.ops, &f.spec, &e), 0);
        assert_int_equal(engine_health(f.ops, &f.spec, 200, &h, &e), -1);
        assert_int_equal(e.code, ENGINE_E_UNAVAILABLE);
        assert_false(h.alive);
        assert_false(h.writable);
        assert_string_equal(h.position, "");
        assert_int_equal(h.position_bytes, -1);
        assert_int_equal(h.upstream_up, -1);
        assert_int_equal(h.lag_bytes, -1);
        assert_true(h.lag_seconds < 0);
        /* An invalid spec: nothing is tried. */
        r.secret = "short";
        assert_int_equal(engine_follow(f.ops, &f.spec, &e), -1);
        assert_int_equal(e.code, ENGINE_E_INVALID);
        fixture_free(&f);
    }
}

/* ---- start errors ---- */

static void start_error_text(const char *engine, const char *log, struct buf *out)
{
    buf_reset(out);
    engine_find(engine)->start_error(log, out);
}

static void test_start_error_text(void **state)
{
    struct buf out = BUF_INIT;

    (void)state;
    start_error_text(
        "postgres",
        "2026-11-22 04:28:06.257 UTC [9408] LOG:  starting PostgreSQL 15.20\n"
        "2026-11-22 04:28:06.257 UTC [9408] LOG:  could not bind IPv4 address \"127.0.0.1\": "
        "Address already in use\n"
        "2026-11-22 04:28:06.257 UTC [9408] HINT:  Is another postmaster already running?\n"
        "2026-11-22 04:28:06.257 UTC [9408] WARNING:  could not create listen socket for "
        "\"127.0.0.1\"\n"
        "2026-11-22 04:28:06.257 UTC [9408] FATAL:  could not create any TCP/IP sockets\n"
        "2026-11-22 04:28:06.258 UTC [9408] LOG:  database system is shut down\n",
        &out);
    assert_string_equal(buf_str(&out),
                        "LOG:  could not bind IPv4 address \"127.0.0.1\": Address already in "
                        "use; WARNING:  could not create listen socket for \"127.0.0.1\"; "
                        "FATAL:  could not create any TCP/IP sockets");

    start_error_text("postgres",
                     "2026-11-22 04:28:06.257 UTC [1] LOG:  invalid value for parameter "
                     "\"shared_buffers\": \"x\"\n"
                     "2026-11-22 04:28:06.257 UTC [1] FATAL:  configuration file "
                     "\"/d/postgresql.conf\" contains errors\n",
                     &out);
    assert_string_equal(buf_str(&out), "LOG:  invalid value for parameter \"shared_buffers\": "
                                       "\"x\"; FATAL:  configuration file "
                                       "\"/d/postgresql.conf\" contains errors");

    start_error_text(
        "mysql",
        "2026-11-22  4:28:24 0 [Note] Starting MariaDB 10.11.19\n"
        "2026-11-22  4:28:24 0 [ERROR] Can't start server: Bind on TCP/IP port. Got error: 98: "
        "Address already in use\n"
        "2026-11-22  4:28:24 0 [ERROR] Do you already have another server running on port: "
        "23306 ?\n"
        "2026-11-22  4:28:24 0 [ERROR] Aborting\n",
        &out);
    assert_string_equal(buf_str(&out),
                        "Can't start server: Bind on TCP/IP port. Got error: 98: Address "
                        "already in use; Do you already have another server running on port: "
                        "23306 ?");

    start_error_text("redis",
                     "9:C 22 Nov 2026 04:29:11.033 # oO0OoO0OoO0Oo Redis is starting "
                     "oO0OoO0OoO0Oo\n"
                     "9:C 22 Nov 2026 04:29:11.033 # Redis version=7.0.15, bits=64\n"
                     "9:C 22 Nov 2026 04:29:11.033 # Configuration loaded\n"
                     "9:M 22 Nov 2026 04:29:11.034 * Running mode=standalone, port=6379.\n"
                     "9:M 22 Nov 2026 04:29:11.034 # Warning: Could not create server TCP "
                     "listening socket 127.0.0.1:6379: bind: Address already in use\n"
                     "9:M 22 Nov 2026 04:29:11.034 # Failed listening on port 6379 (TCP), "
                     "aborting.\n",
                     &out);
    assert_string_equal(buf_str(&out), "Warning: Could not create server TCP listening socket "
                                       "127.0.0.1:6379: bind: Address already in use; Failed "
                                       "listening on port 6379 (TCP), aborting.");

    start_error_text("redis",
                     "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n"
                     "Reading the configuration file, at line 22\n"
                     ">>> 'maxmemory abc'\n"
                     "argument must be a memory value\n",
                     &out);
    assert_string_equal(buf_str(&out), "Reading the configuration file, at line 22; >>> "
                                       "'maxmemory abc'; argument must be a memory value");

    /* Nothing recognisable: nothing (the wrapper then falls back to the last lines). */
    start_error_text("postgres", "could not execute \"/x/postgres\": No such file\n", &out);
    assert_string_equal(buf_str(&out), "");
    buf_free(&out);
}

/* engine_start_error() reads the log from the offset of this start only, and falls back to
 * the last lines when the driver recognises nothing. */
static void test_start_error_log(void **state)
{
    char dir[] = "/tmp/test_engine.XXXXXX", path[128];
    struct fixture f;
    struct err e = {0};
    FILE *fp;
    long first;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/server.log", dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("9:M 22 Nov 2026 04:29:11.034 # Failed listening on port 1 (TCP), aborting.\n", fp);
    first = ftell(fp);
    fputs("9:M 22 Nov 2026 04:29:12.034 # Failed listening on port 2 (TCP), aborting.\n", fp);
    fclose(fp);

    fixture_init(&f, "redis", 64);
    f.spec.data_dir = dir;
    assert_int_equal(engine_start_error(f.ops, &f.spec, 1 << 8, first, &e), -1);
    assert_int_equal(e.code, ENGINE_E_START);
    assert_string_equal(e.msg, "Redis 7 exited with status 1 at start: Failed listening on port "
                               "2 (TCP), aborting.");
    assert_int_equal(engine_start_error(f.ops, &f.spec, 1 << 8, 0, &e), -1);
    assert_contains(e.msg, "port 1 (TCP)");
    assert_contains(e.msg, "port 2 (TCP)");
    assert_int_equal(engine_start_error(f.ops, &f.spec, -1, first, &e), -1);
    assert_contains(e.msg, "Redis 7 did not become ready: ");

    fp = fopen(path, "a");
    assert_non_null(fp);
    first = ftell(fp);
    fputs("could not execute \"/usr/bin/redis-server\": No such file or directory\n", fp);
    fclose(fp);
    assert_int_equal(engine_start_error(f.ops, &f.spec, 127 << 8, first, &e), -1);
    assert_string_equal(e.msg, "Redis 7 exited with status 127 at start: could not execute "
                               "\"/usr/bin/redis-server\": No such file or directory");
    fixture_free(&f);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_validate_ok),
        cmocka_unit_test(test_validate_bad_fields),
        cmocka_unit_test(test_verifiers),
        cmocka_unit_test(test_render_postgres),
        cmocka_unit_test(test_render_mariadb),
        cmocka_unit_test(test_render_redis),
        cmocka_unit_test(test_render_files),
        cmocka_unit_test(test_argv),
        cmocka_unit_test(test_stop_signals),
        cmocka_unit_test(test_validate_repl),
        cmocka_unit_test(test_secret_only_in_its_file),
        cmocka_unit_test(test_render_repl_postgres),
        cmocka_unit_test(test_render_repl_mariadb),
        cmocka_unit_test(test_render_repl_redis),
        cmocka_unit_test(test_rejoin_plan_postgres),
        cmocka_unit_test(test_seed_plans),
        cmocka_unit_test(test_seed_finish_and_error),
        cmocka_unit_test(test_engine_seed),
        cmocka_unit_test(test_ha_wrappers),
        cmocka_unit_test(test_start_error_text),
        cmocka_unit_test(test_start_error_log),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
