/* dbaasctl's side of the REST API: JSON requests on lib/httpc, errors printed as
 * "dbaasctl: code: message (field: f)", and lists fetched page by page. */
#include "cli/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/table.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/httpc.h"
#include "lib/xalloc.h"

struct client {
    struct httpc *http;
    bool have_token;
    struct buf resp; /* the last answer's raw body */
};

struct client *client_new(const char *url, const char *token, const char *ca_file)
{
    struct client *c = xcalloc(1, sizeof(*c));

    c->http = httpc_new(url, token);
    if (!c->http) {
        free(c);
        return NULL;
    }
    httpc_set_ca_file(c->http, ca_file);
    c->have_token = token != NULL;
    return c;
}

void client_free(struct client *c)
{
    if (!c)
        return;
    httpc_free(c->http);
    buf_free(&c->resp);
    free(c);
}

int client_request(struct client *c, const char *method, const char *path, json_t *body,
                   const char *header, long timeout_ms, long *status, json_t **out)
{
    char *text = NULL;
    struct err e;
    int ret = -1;

    *out = NULL;
    err_clear(&e);
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        if (!text) {
            fprintf(stderr, "dbaasctl: out of memory\n");
            goto out;
        }
    }
    if (header)
        httpc_add_header(c->http, header);
    if (httpc_request(c->http, method, path, text, timeout_ms, status, &c->resp, &e) < 0) {
        fprintf(stderr, "dbaasctl: %s\n", e.msg);
        goto out;
    }
    if (c->resp.len > 0)
        *out = json_loadb(c->resp.data, c->resp.len, 0, NULL);
    ret = 0;

out:
    free(text);
    return ret;
}

/* Print the first line of the last raw body (at most 200 characters), sanitized. */
static void client_print_raw(struct client *c)
{
    struct buf line = BUF_INIT;
    struct buf safe = BUF_INIT;
    size_t n = strcspn(buf_str(&c->resp), "\r\n");

    if (n == 0)
        return;
    buf_append(&line, c->resp.data, n > 200 ? 200 : n);
    table_sanitize(&safe, buf_str(&line));
    fprintf(stderr, "dbaasctl: server said: %s\n", buf_str(&safe));
    buf_free(&line);
    buf_free(&safe);
}

void client_print_error(struct client *c, long status, json_t *body)
{
    json_t *err = json_object_get(body, "error");
    const char *code = json_string_value(json_object_get(err, "code"));
    const char *message = json_string_value(json_object_get(err, "message"));
    const char *field = json_string_value(json_object_get(err, "field"));
    struct buf b = BUF_INIT;
    struct buf safe = BUF_INIT;

    if (!code || !message) {
        fprintf(stderr, "dbaasctl: unexpected answer from server: HTTP %ld\n", status);
        client_print_raw(c);
        return;
    }
    buf_printf(&b, "%s: %s", code, message);
    if (field)
        buf_printf(&b, " (field: %s)", field);
    table_sanitize(&safe, buf_str(&b));
    fprintf(stderr, "dbaasctl: %s\n", buf_str(&safe));
    if (status == 401 && !c->have_token)
        fprintf(stderr, "dbaasctl: hint: no token given; set DBAAS_TOKEN or use --token or "
                        "--token-file\n");
    buf_free(&b);
    buf_free(&safe);
}

int client_call(struct client *c, const char *method, const char *path, json_t *body,
                const char *header, json_t **out)
{
    json_t *resp = NULL;
    long status = 0;
    int ret = -1;

    if (out)
        *out = NULL;
    if (client_request(c, method, path, body, header, CLIENT_TIMEOUT_MS, &status, &resp) < 0)
        goto out;
    if (status < 200 || status > 299) {
        client_print_error(c, status, resp);
        goto out;
    }
    if (status != 204 && !json_is_object(resp)) {
        fprintf(stderr, "dbaasctl: invalid answer from server: HTTP %ld without a JSON object\n",
                status);
        client_print_raw(c);
        goto out;
    }
    if (out) {
        *out = resp;
        resp = NULL;
    }
    ret = 0;

out:
    json_decref(resp);
    return ret;
}

/* Fetch one page: path plus limit and after query parameters. */
static int client_page(struct client *c, const char *path, int64_t limit, const char *after,
                       json_t **out)
{
    struct buf url = BUF_INIT;
    char sep = strchr(path, '?') ? '&' : '?';
    int ret = -1;

    buf_puts(&url, path);
    if (limit > 0) {
        buf_printf(&url, "%climit=%lld", sep, (long long)limit);
        sep = '&';
    }
    if (after) {
        buf_printf(&url, "%cafter=", sep);
        args_url_escape(&url, after);
    }
    if (client_call(c, "GET", buf_str(&url), NULL, NULL, out) < 0)
        goto out;
    if (!json_is_array(json_object_get(*out, "items"))) {
        fprintf(stderr, "dbaasctl: invalid answer from server: a list without \"items\"\n");
        json_decref(*out);
        *out = NULL;
        goto out;
    }
    ret = 0;

out:
    buf_free(&url);
    return ret;
}

int client_list(struct client *c, const char *path, int64_t limit, const char *after, json_t **out)
{
    json_t *all = NULL;
    json_t *page = NULL;
    char *cursor = NULL;
    int ret = -1;

    *out = NULL;
    if (limit > 0)
        return client_page(c, path, limit, after, out);
    all = json_array();
    if (after)
        cursor = xstrdup(after);
    for (;;) {
        const char *next;

        if (client_page(c, path, 0, cursor, &page) < 0)
            goto out;
        json_array_extend(all, json_object_get(page, "items"));
        next = json_string_value(json_object_get(page, "next"));
        if (!next || !*next)
            break;
        if (cursor && strcmp(next, cursor) == 0) {
            fprintf(stderr, "dbaasctl: invalid answer from server: the same list cursor twice\n");
            goto out;
        }
        free(cursor);
        cursor = xstrdup(next);
        json_decref(page);
        page = NULL;
    }
    *out = json_pack("{s:O,s:n}", "items", all, "next");
    if (!*out) {
        fprintf(stderr, "dbaasctl: out of memory\n");
        goto out;
    }
    ret = 0;

out:
    free(cursor);
    json_decref(page);
    json_decref(all);
    return ret;
}
