/* dbaasctl commands: finds the command in the per-group tables, parses its arguments, resolves
 * the URL and token, prints help, and holds the output helpers the command files share. */
#include "cli/cmd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd_host.h"
#include "cli/cmd_instance.h"
#include "cli/cmd_operator.h"
#include "cli/cmd_plan.h"
#include "cli/cmd_ha.h"
#include "cli/cmd_scheduler.h"
#include "cli/cmd_tenant.h"
#include "cli/table.h"
#include "lib/err.h"
#include "lib/quantity.h"
#include "lib/xalloc.h"

#define CMD_DEFAULT_URL "http://127.0.0.1:8080"

const struct args_spec cmd_global_specs[] = {
    {"url", ARGS_VALUE, "URL", false,
     "dbaasd address (default: $DBAAS_URL, else " CMD_DEFAULT_URL ")"},
    {"token", ARGS_VALUE, "TOKEN", false, "API token (default: $DBAAS_TOKEN)"},
    {"token-file", ARGS_VALUE, "PATH", false, "read the API token from a file"},
    {"ca-file", ARGS_VALUE, "PATH", false,
     "verify an https dbaasd against these PEM CAs (default: $DBAAS_CA_FILE, else the system's)"},
    {"json", ARGS_FLAG, NULL, false, "print the server's JSON instead of tables"},
    {"help", ARGS_FLAG, NULL, false, "show help and exit"},
    {"version", ARGS_FLAG, NULL, false, "show the version and exit"},
    {NULL, ARGS_FLAG, NULL, false, NULL},
};

static const struct args_spec cmd_list_specs[] = {
    {"limit", ARGS_VALUE, "N", false, "fetch one page of at most N items (1..1000)"},
    {"after", ARGS_VALUE, "CURSOR", false, "start after this cursor (a previous page's \"next\")"},
    {NULL, ARGS_FLAG, NULL, false, NULL},
};

static const struct cmd_def *const cmd_tables[] = {
    cmd_tenant_defs,   cmd_plan_defs, cmd_host_defs,     cmd_scheduler_defs,
    cmd_instance_defs, cmd_ha_defs,   cmd_operator_defs, NULL,
};

/* Synopsis of a command: "tenant create NAME". */
static void cmd_synopsis(struct buf *b, const struct cmd_def *d)
{
    buf_puts(b, d->group);
    if (d->verb)
        buf_printf(b, " %s", d->verb);
    if (d->synopsis && d->synopsis[0])
        buf_printf(b, " %s", d->synopsis);
}

/* Print "  synopsis   summary" lines for every command (and "help"), or only group's when
 * group is set. */
static void cmd_print_commands(FILE *out, const char *group)
{
    const struct cmd_def *const *t;
    const struct cmd_def *d;
    struct buf b = BUF_INIT;
    size_t width = strlen("help [COMMAND]");
    size_t max_width = 36; /* longer synopses put their summary on the next line */
    int pass;

    for (pass = 0; pass < 2; pass++) {
        for (t = cmd_tables; *t; t++) {
            for (d = *t; d->group; d++) {
                if (group && strcmp(d->group, group) != 0)
                    continue;
                buf_reset(&b);
                cmd_synopsis(&b, d);
                if (pass == 0 && b.len > width && b.len <= max_width)
                    width = b.len;
                else if (pass == 1 && b.len > width)
                    fprintf(out, "  %s\n  %-*s  %s\n", buf_str(&b), (int)width, "", d->summary);
                else if (pass == 1)
                    fprintf(out, "  %-*s  %s\n", (int)width, buf_str(&b), d->summary);
            }
        }
    }
    if (!group)
        fprintf(out, "  %-*s  %s\n", (int)width, "help [COMMAND]", "show help for a command");
    buf_free(&b);
}

static void cmd_print_options(FILE *out, const struct args_spec *specs)
{
    const struct args_spec *s;
    struct buf b = BUF_INIT;

    for (s = specs; s->name; s++) {
        buf_reset(&b);
        buf_printf(&b, "--%s", s->name);
        if (s->metavar)
            buf_printf(&b, " %s", s->metavar);
        fprintf(out, "  %-24s %s\n", buf_str(&b), s->help);
    }
    buf_free(&b);
}

void cmd_print_help(FILE *out)
{
    fprintf(out,
            "%s is the command-line client of dbaasd, the database-as-a-service control "
            "plane.\n\n",
            CMD_PROGRAM);
    fprintf(out, "Usage:\n  %s [GLOBAL OPTIONS] COMMAND [ARGUMENTS] [OPTIONS]\n\n", CMD_PROGRAM);
    fprintf(out, "Commands:\n");
    cmd_print_commands(out, NULL);
    fprintf(out, "\nGlobal options (also accepted after the command):\n");
    cmd_print_options(out, cmd_global_specs);
    fprintf(out,
            "\nQuantities: CPU as 500m, 2 or 1.5; memory and disk as 512Mi, 10Gi, 1G, or a plain\n"
            "number of MiB; byte rates as 1048576, 10Mi or 5M (bytes/s).\n"
            "Exit status: 0 success, 1 error from the server or no connection, 2 usage error.\n"
            "Run \"%s COMMAND --help\" for a command's options.\n",
            CMD_PROGRAM);
}

static void cmd_print_group_help(FILE *out, const char *group)
{
    fprintf(out, "Usage: %s %s COMMAND [ARGUMENTS] [OPTIONS]\n\nCommands:\n", CMD_PROGRAM, group);
    cmd_print_commands(out, group);
    fprintf(out, "\nRun \"%s %s COMMAND --help\" for a command's options.\n", CMD_PROGRAM, group);
}

static void cmd_print_def_help(FILE *out, const struct cmd_def *d)
{
    struct buf b = BUF_INIT;

    cmd_synopsis(&b, d);
    fprintf(out, "Usage: %s %s\n\n%c%s.\n", CMD_PROGRAM, buf_str(&b),
            d->summary[0] >= 'a' && d->summary[0] <= 'z' ? d->summary[0] - 'a' + 'A'
                                                         : d->summary[0],
            d->summary + 1);
    if ((d->opts && d->opts[0].name) || d->list) {
        fprintf(out, "\nOptions:\n");
        if (d->opts)
            cmd_print_options(out, d->opts);
        if (d->list)
            cmd_print_options(out, cmd_list_specs);
    }
    fprintf(out,
            "\nGlobal options: --url URL, --token TOKEN, --token-file PATH, --ca-file PATH, --json "
            "(see \"%s --help\").\n",
            CMD_PROGRAM);
    buf_free(&b);
}

int cmd_usage_error(const struct cmd_def *def, const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    char *msg = NULL;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    fprintf(stderr, "%s: %s\n", CMD_PROGRAM, msg ? msg : "usage error");
    free(msg);
    if (def) {
        buf_puts(&b, def->group);
        if (def->verb)
            buf_printf(&b, " %s", def->verb);
        fprintf(stderr, "Try \"%s %s --help\" for more information.\n", CMD_PROGRAM, buf_str(&b));
    } else {
        fprintf(stderr, "Try \"%s --help\" for more information.\n", CMD_PROGRAM);
    }
    buf_free(&b);
    return CMD_EUSAGE;
}

static const struct cmd_def *cmd_find(const char *group, const char *verb, bool *group_found)
{
    const struct cmd_def *const *t;
    const struct cmd_def *d;

    *group_found = false;
    for (t = cmd_tables; *t; t++) {
        for (d = *t; d->group; d++) {
            if (strcmp(d->group, group) != 0)
                continue;
            *group_found = true;
            if (!d->verb || (verb && strcmp(d->verb, verb) == 0))
                return d;
        }
    }
    return NULL;
}

/* "dbaasctl help [GROUP [VERB]]" */
static int cmd_help(int argc, char **argv)
{
    const struct cmd_def *d;
    bool group_found;

    if (argc < 2) {
        cmd_print_help(stdout);
        return CMD_OK;
    }
    d = cmd_find(argv[1], argc > 2 ? argv[2] : NULL, &group_found);
    if (!group_found)
        return cmd_usage_error(NULL, "unknown command \"%s\"", argv[1]);
    if (d) {
        cmd_print_def_help(stdout, d);
    } else if (argc > 2) {
        return cmd_usage_error(NULL, "unknown command \"%s %s\"", argv[1], argv[2]);
    } else {
        cmd_print_group_help(stdout, argv[1]);
    }
    return CMD_OK;
}

static bool cmd_wants_help(int argc, char **argv)
{
    int i;

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    }
    return false;
}

/* Whether the command has its own option name (which then hides the global one). */
static bool cmd_defines(const struct cmd_def *d, const char *name)
{
    const struct args_spec *s;

    for (s = d->opts; s && s->name; s++)
        if (strcmp(s->name, name) == 0)
            return true;
    return false;
}

/* Decide the token: --token, --token-file, else $DBAAS_TOKEN (empty = none). *token is a new
 * string the caller frees, or NULL. Returns an exit status. */
static int cmd_resolve_token(const struct cmd_def *d, const char *token, const char *file,
                             char **out)
{
    struct err e;
    const char *env;

    *out = NULL;
    if (token && file)
        return cmd_usage_error(d, "--token and --token-file cannot be used together");
    if (file) {
        err_clear(&e);
        *out = args_read_token_file(file, &e);
        if (!*out)
            return cmd_usage_error(d, "%s", e.msg);
        return CMD_OK;
    }
    if (!token) {
        env = getenv("DBAAS_TOKEN");
        if (env && *env)
            token = env;
    }
    if (token) {
        if (!args_header_safe(token, 4096))
            return cmd_usage_error(d, "the token contains characters that cannot be in a token");
        *out = xstrdup(token);
    }
    return CMD_OK;
}

int cmd_run(const struct cmd_globals *g, int argc, char **argv)
{
    const struct args_spec *tables[4];
    const struct args_spec *missing;
    const struct cmd_def *d;
    struct cmd_ctx ctx;
    struct args a;
    struct err e;
    bool group_found;
    const char *url, *ca_file;
    char *token = NULL;
    int ntables = 0;
    int first;
    int rc;
    int i;

    if (argc < 1)
        return cmd_usage_error(NULL, "no command given");
    if (strcmp(argv[0], "help") == 0)
        return cmd_help(argc, argv);
    d = cmd_find(argv[0], argc > 1 ? argv[1] : NULL, &group_found);
    if (!group_found)
        return cmd_usage_error(NULL, "unknown command \"%s\"", argv[0]);
    if (!d) {
        if (argc < 2 || argv[1][0] == '-') {
            if (cmd_wants_help(argc - 1, argv + 1)) {
                cmd_print_group_help(stdout, argv[0]);
                return CMD_OK;
            }
            fprintf(stderr, "%s: missing subcommand for \"%s\"; one of:\n", CMD_PROGRAM, argv[0]);
            cmd_print_commands(stderr, argv[0]);
            return CMD_EUSAGE;
        }
        fprintf(stderr, "%s: unknown command \"%s %s\"\n", CMD_PROGRAM, argv[0], argv[1]);
        fprintf(stderr, "Try \"%s %s --help\" for more information.\n", CMD_PROGRAM, argv[0]);
        return CMD_EUSAGE;
    }
    first = d->verb ? 2 : 1;

    if (cmd_wants_help(argc - first, argv + first)) {
        cmd_print_def_help(stdout, d);
        return CMD_OK;
    }
    if (d->opts)
        tables[ntables++] = d->opts;
    if (d->list)
        tables[ntables++] = cmd_list_specs;
    tables[ntables++] = cmd_global_specs;
    tables[ntables] = NULL;
    err_clear(&e);
    if (args_parse(&a, tables, argc - first, argv + first, false, NULL, &e) < 0)
        return cmd_usage_error(d, "%s", e.msg);
    if (args_has(&a, "version") && !cmd_defines(d, "version")) {
        printf("%s %s\n", CMD_PROGRAM, CMD_VERSION);
        return CMD_OK;
    }
    if (a.npos < d->min_pos)
        return cmd_usage_error(d, "missing argument (usage: %s %s%s%s %s)", CMD_PROGRAM, d->group,
                               d->verb ? " " : "", d->verb ? d->verb : "", d->synopsis);
    if (a.npos > d->max_pos)
        return cmd_usage_error(d, "too many arguments, starting at \"%s\"", a.pos[d->max_pos]);
    for (i = 0; i < a.npos; i++)
        if (a.pos[i][0] == '\0')
            return cmd_usage_error(d, "empty argument");
    for (i = 0; i < argc; i++) {
        /* Everything may end up in a JSON string, which must be UTF-8. */
        json_t *probe = json_string(argv[i]);

        if (!probe)
            return cmd_usage_error(d, "an argument is not valid UTF-8");
        json_decref(probe);
    }
    missing = args_missing(&a, tables);
    if (missing)
        return cmd_usage_error(d, "missing required option \"--%s\"", missing->name);

    url = args_get(&a, "url");
    if (!url)
        url = g->url;
    if (!url) {
        url = getenv("DBAAS_URL");
        if (url && !*url)
            url = NULL;
    }
    if (!url)
        url = CMD_DEFAULT_URL;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return cmd_usage_error(d, "invalid URL \"%s\": expected http://HOST[:PORT]", url);

    rc = cmd_resolve_token(d, args_get(&a, "token") ? args_get(&a, "token") : g->token,
                           args_get(&a, "token-file") ? args_get(&a, "token-file") : g->token_file,
                           &token);
    if (rc != CMD_OK)
        return rc;

    ctx.def = d;
    ctx.a = &a;
    ctx.json = g->json || args_has(&a, "json");
    ca_file = args_get(&a, "ca-file") ? args_get(&a, "ca-file") : g->ca_file;
    if (!ca_file && getenv("DBAAS_CA_FILE") && *getenv("DBAAS_CA_FILE"))
        ca_file = getenv("DBAAS_CA_FILE");
    if (ca_file && access(ca_file, R_OK) < 0) {
        fprintf(stderr, "%s: cannot read the CA file \"%s\": %s\n", CMD_PROGRAM, ca_file,
                strerror(errno));
        free(token);
        return CMD_EUSAGE;
    }
    ctx.cl = client_new(url, token, ca_file);
    free(token);
    if (!ctx.cl) {
        fprintf(stderr, "%s: could not initialize libcurl\n", CMD_PROGRAM);
        return CMD_EAPI;
    }
    rc = d->run(&ctx);
    client_free(ctx.cl);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: could not write output\n", CMD_PROGRAM);
        if (rc == CMD_OK)
            rc = CMD_EAPI;
    }
    return rc;
}

int cmd_list(struct cmd_ctx *ctx, const char *path, json_t **out)
{
    const char *limit_s = args_get(ctx->a, "limit");
    int64_t limit = 0;
    json_t *list = NULL;
    const char *next;

    *out = NULL;
    if (limit_s && args_parse_int(limit_s, 1, 1000, &limit) < 0)
        return cmd_usage_error(ctx->def, "invalid --limit \"%s\": expected an integer 1..1000",
                               limit_s);
    if (client_list(ctx->cl, path, limit, args_get(ctx->a, "after"), &list) < 0)
        return CMD_EAPI;
    if (ctx->json) {
        cmd_print_json(list);
        json_decref(list);
        return CMD_OK;
    }
    next = cmd_str(list, "next");
    if (limit > 0 && next) {
        struct buf b = BUF_INIT;

        table_sanitize(&b, next);
        fprintf(stderr, "%s: more items: add --after %s\n", CMD_PROGRAM, buf_str(&b));
        buf_free(&b);
    }
    *out = list;
    return CMD_OK;
}

void cmd_print_json(const json_t *v)
{
    json_dumpf(v, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
}

const char *cmd_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

int64_t cmd_int(const json_t *obj, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(obj, key));
}

const char *cmd_cpu(const json_t *obj, const char *key, char *out, int n)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_integer(v))
        return "-";
    quantity_format_cpu((int64_t)json_integer_value(v), out, n);
    return out;
}

const char *cmd_mb(const json_t *obj, const char *key, char *out, int n)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_integer(v))
        return "-";
    quantity_format_mb((int64_t)json_integer_value(v), out, n);
    return out;
}

void cmd_path(struct buf *path, const char *prefix, const char *segment, const char *suffix)
{
    buf_puts(path, prefix);
    args_url_escape(path, segment);
    if (suffix)
        buf_puts(path, suffix);
}

int cmd_call_named(struct cmd_ctx *ctx, const char *method, const char *prefix, const char *suffix,
                   json_t **out)
{
    struct buf path = BUF_INIT;
    int rc;

    cmd_path(&path, prefix, ctx->a->pos[0], suffix);
    rc = client_call(ctx->cl, method, buf_str(&path), NULL, NULL, out);
    buf_free(&path);
    return rc < 0 ? CMD_EAPI : CMD_OK;
}

int cmd_delete_named(struct cmd_ctx *ctx, const char *prefix, const char *suffix, const char *kind,
                     const char *verb)
{
    struct buf done = BUF_INIT;
    int rc = cmd_call_named(ctx, "DELETE", prefix, suffix, NULL);

    if (rc == CMD_OK && !ctx->json) {
        buf_printf(&done, "%s \"", kind);
        table_sanitize(&done, ctx->a->pos[0]);
        buf_printf(&done, "\" %s", verb);
        printf("%s\n", buf_str(&done));
    }
    buf_free(&done);
    return rc;
}
