/* The agent's host token (agent/token.h).
 *
 * NOTES
 * - Two threads talk to dbaasd, each with its own client (report_http, poll_http). Each calls
 *   agent_token_apply() before its exchange, so a client is only changed by its own thread;
 *   a->token and the file's identity are under a->lock, the file is read outside it.
 * - A rotation (docs/agent.md): the operator writes the new token to the file. dbaasd accepts
 *   the old and the new one until the agent first uses the new one, then only the new one. With
 *   `--immediate` the old one is refused at once: the agent's heartbeats fail until the file
 *   holds the new one, and it is read again at the next attempt. */
#include "agent/token.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/agent.h"
#include "lib/httpc.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define TOKEN_MAX 256

char *agent_token_read(const char *path)
{
    char buf[TOKEN_MAX + 2];
    FILE *f = fopen(path, "r");
    size_t n, start = 0, end;
    char *out = NULL;

    if (!f)
        return NULL;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    end = strcspn(buf, "\r\n");
    while (start < end && (buf[start] == ' ' || buf[start] == '\t'))
        start++;
    while (end > start && (buf[end - 1] == ' ' || buf[end - 1] == '\t'))
        end--;
    if (end > start && end - start <= TOKEN_MAX) {
        out = xstrndup(buf + start, end - start);
        for (const char *p = out; *p; p++)
            if (*p <= ' ' || *p > '~') {
                explicit_bzero(out, strlen(out));
                free(out);
                out = NULL;
                break;
            }
    }
    explicit_bzero(buf, sizeof(buf));
    return out;
}

/* The file's identity into a's fields (under a->lock or before any thread runs). */
static void token_remember(struct agent *a, const struct stat *st)
{
    a->token_ino = st->st_ino;
    a->token_size = st->st_size;
    a->token_mtime = st->st_mtim;
}

static bool token_changed(const struct agent *a, const struct stat *st)
{
    return st->st_ino != a->token_ino || st->st_size != a->token_size ||
           st->st_mtim.tv_sec != a->token_mtime.tv_sec ||
           st->st_mtim.tv_nsec != a->token_mtime.tv_nsec;
}

void agent_token_init(struct agent *a)
{
    struct stat st;

    a->token = xstrdup(a->cfg->token);
    if (a->cfg->token_file && stat(a->cfg->token_file, &st) == 0)
        token_remember(a, &st);
}

void agent_token_apply(struct agent *a, struct httpc *c)
{
    const char *path = a->cfg->token_file;
    struct stat st;
    char *fresh = NULL, *use;
    bool changed = false;

    if (path && stat(path, &st) == 0) {
        pthread_mutex_lock(&a->lock);
        changed = token_changed(a, &st);
        pthread_mutex_unlock(&a->lock);
    }
    if (changed) {
        fresh = agent_token_read(path);
        pthread_mutex_lock(&a->lock);
        if (token_changed(a, &st)) { /* the other thread may have read it meanwhile */
            token_remember(a, &st);
            if (!fresh) {
                log_error("event=token_file_unusable path=%s detail=\"no token in the file; "
                          "the previous token stays in use\"",
                          path);
            } else if (strcmp(fresh, a->token) != 0) {
                explicit_bzero(a->token, strlen(a->token));
                free(a->token);
                a->token = fresh;
                fresh = NULL;
                log_info("event=token_reloaded path=%s", path);
            }
        }
        pthread_mutex_unlock(&a->lock);
        if (fresh) {
            explicit_bzero(fresh, strlen(fresh));
            free(fresh);
        }
    }
    pthread_mutex_lock(&a->lock);
    use = xstrdup(a->token);
    pthread_mutex_unlock(&a->lock);
    httpc_set_token(c, use);
    explicit_bzero(use, strlen(use));
    free(use);
}
