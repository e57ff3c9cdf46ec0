/* dbaasctl commands: the table of commands, dispatch, help, and the helpers the command files
 * (cmd_tenant.c, cmd_plan.c, cmd_host.c, cmd_scheduler.c, cmd_instance.c) share. */
#ifndef CLI_CMD_H
#define CLI_CMD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/args.h"
#include "cli/client.h"
#include "lib/buf.h"

/* Exit statuses. */
enum {
    CMD_OK = 0,
    CMD_EAPI = 1,   /* the server refused, or could not be reached */
    CMD_EUSAGE = 2, /* bad or missing arguments */
};

#define CMD_PROGRAM "dbaasctl"
#define CMD_VERSION "0.1.0"

struct cmd_def;

/* What a command's run function gets. */
struct cmd_ctx {
    const struct cmd_def *def;
    struct client *cl;    /* connected to the chosen dbaasd */
    const struct args *a; /* positional arguments (a->pos) and options */
    bool json;            /* --json: print the server's JSON */
};

/* One command, e.g. group "tenant", verb "create". Tables end with group NULL. */
struct cmd_def {
    const char *group;
    const char *verb;     /* NULL when the group is the whole command ("events") */
    const char *synopsis; /* after "dbaasctl GROUP VERB ": "NAME --cpu Q [OPTIONS]" */
    int min_pos, max_pos; /* positional arguments accepted */
    const char *summary;  /* one line, lowercase, no period */
    const struct args_spec *opts;
    bool list;                       /* also accepts --limit and --after (see cmd_list) */
    int (*run)(struct cmd_ctx *ctx); /* returns an exit status */
};

/* Options accepted before the command and by every command. */
struct cmd_globals {
    const char *url;
    const char *token;
    const char *token_file;
    const char *ca_file;
    bool json;
};

/* The global option specs (--url, --token, --token-file, --json, --help, --version). */
extern const struct args_spec cmd_global_specs[];

/* Run the command in argv[0..argc) (argv[0] is the command's first word) with the globals given
 * before it. Returns the exit status. */
int cmd_run(const struct cmd_globals *g, int argc, char **argv);

/* Print the general help (no command) to out. */
void cmd_print_help(FILE *out);

/* Print "dbaasctl: <message>" and the hint to see the command's --help (the general help when
 * def is NULL) to stderr. Returns CMD_EUSAGE. */
int cmd_usage_error(const struct cmd_def *def, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Fetch the list at path (which may carry a query), all pages unless --limit was given. In
 * --json mode prints it and sets *out to NULL; otherwise *out is the {"items","next"} object
 * for the caller to print as a table (the caller releases it), and a hint about the next page
 * goes to stderr when --limit left items out. Returns an exit status. */
int cmd_list(struct cmd_ctx *ctx, const char *path, json_t **out);

/* Print a JSON value pretty (two-space indent) to stdout. */
void cmd_print_json(const json_t *v);

/* Field helpers for output. The returned strings live as long as obj or out. */
const char *cmd_str(const json_t *obj, const char *key); /* string field, or NULL */
int64_t cmd_int(const json_t *obj, const char *key);     /* integer field, or 0 */
/* CPU (millicores) / size (MiB) field formatted with quantity_format_*; "-" when null/absent. */
const char *cmd_cpu(const json_t *obj, const char *key, char *out, int n);
const char *cmd_mb(const json_t *obj, const char *key, char *out, int n);

/* Append prefix, then segment percent-encoded, then suffix (NULL: none) to path. */
void cmd_path(struct buf *path, const char *prefix, const char *segment, const char *suffix);

/* METHOD prefix + the first positional argument (escaped) + suffix, without a body; *out gets
 * the answer (caller decrefs). CMD_OK or CMD_EAPI (the error already printed). */
int cmd_call_named(struct cmd_ctx *ctx, const char *method, const char *prefix, const char *suffix,
                   json_t **out);

/* DELETE prefix + the first positional argument + suffix (may be NULL, e.g. "?force=true");
 * prints `<kind> "<name>" <verb>` unless --json. */
int cmd_delete_named(struct cmd_ctx *ctx, const char *prefix, const char *suffix, const char *kind,
                     const char *verb);

#endif
