/* The operator token (api/optoken.h).
 *
 * NOTES
 * - Several dbaasd may share a store, each with its own data directory and operator.token. A
 *   rotation writes the new token to the file of the dbaasd that served it; the others' files
 *   then hold a revoked token, which they report at their next start instead of making it valid
 *   again (api_tokens.revoked_at). Copy the new token there.
 * - The rotation answers the token even when the file could not be written (the store already
 *   holds only the new hash): the answer says so in file_error. */
#include "api/optoken.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "api/body.h"
#include "api/dbq.h"
#include "api/http.h"
#include "control/errc.h"
#include "lib/crypto.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/store.h"

static char *token_path; /* DIR/operator.token, set once at start */

/* Known (valid or revoked) or new: insert the hash unless it is there; then whether it is
 * revoked ('t'/'f'). */
static const char sql_token_ensure[] =
    "WITH i AS (INSERT INTO api_tokens (id, kind, hash) VALUES ($1, 'operator', $2)"
    "  ON CONFLICT (hash) DO NOTHING RETURNING revoked_at)"
    " SELECT revoked_at IS NOT NULL FROM i"
    " UNION ALL SELECT revoked_at IS NOT NULL FROM api_tokens WHERE hash = $2"
    " AND kind = 'operator' LIMIT 1";
/* A rotation: the new hash, every other operator token revoked, an event. */
static const char sql_token_rotate[] =
    "WITH i AS (INSERT INTO api_tokens (id, kind, hash) VALUES ($1, 'operator', $2) RETURNING id),"
    " r AS (UPDATE api_tokens SET revoked_at = now() WHERE kind = 'operator' AND hash <> $2"
    "  AND revoked_at IS NULL RETURNING id),"
    " e AS (INSERT INTO events (actor, kind, message) SELECT $3, 'operator.token_rotated',"
    "  format('operator token rotated; %s old one(s) revoked', (SELECT count(*) FROM r)))"
    " SELECT (SELECT count(*) FROM r) FROM i";

/* The token as a file's content: "TOKEN\n". */
static int write_token(const char *path, const char *token, struct err *e)
{
    char *line = xasprintf("%s\n", token);
    int rc =
        fileio_write_atomic(path, line, strlen(line), 0600, FILEIO_KEEP_UID, FILEIO_KEEP_GID, 0, e);

    explicit_bzero(line, strlen(line));
    free(line);
    return rc;
}

int optoken_init(const char *dir, struct err *e)
{
    char token[256], hash[65], id[32];
    PGresult *res = NULL;
    FILE *f = NULL;
    int rc = -1;
    size_t n;

    token_path = xasprintf("%s/operator.token", dir);
    f = fopen(token_path, "r");
    if (!f && errno != ENOENT) {
        /* never replaced silently: the operator's scripts hold the old one */
        err_set(e, API_E_SYSTEM, "could not read \"%s\": %s", token_path, strerror(errno));
        goto out;
    }
    if (f) {
        n = fread(token, 1, sizeof(token) - 1, f);
        token[n] = '\0';
        token[strcspn(token, "\r\n")] = '\0';
        if (strncmp(token, TOKEN_PREFIX_OPERATOR, strlen(TOKEN_PREFIX_OPERATOR)) != 0) {
            err_set(e, API_E_INVALID, "file \"%s\" does not hold an operator token", token_path);
            goto out;
        }
    } else {
        char *t = crypto_token_new(TOKEN_PREFIX_OPERATOR);
        if (!t) {
            err_set(e, API_E_SYSTEM, "could not generate the operator token");
            goto out;
        }
        snprintf(token, sizeof(token), "%s", t);
        explicit_bzero(t, strlen(t));
        free(t);
        if (write_token(token_path, token, e) < 0)
            goto out;
        log_info("event=operator_token_created path=%s", token_path);
    }
    crypto_sha256_hex(token, strlen(token), hash);
    snprintf(id, sizeof(id), "op_%.12s", hash);
    res = store_exec(e, sql_token_ensure, 2, (const char *const[]){id, hash});
    if (!res)
        goto out;
    if (!store_ok(res) || PQntuples(res) != 1) {
        err_set(e, API_E_STORE, "could not record the operator token: %s",
                PQresultErrorMessage(res));
        goto out;
    }
    if (PQgetvalue(res, 0, 0)[0] == 't')
        log_error("event=operator_token_revoked path=%s detail=\"this file holds an operator token "
                  "that a rotation revoked; it stays revoked: put the current token there\"",
                  token_path);
    rc = 0;
out:
    explicit_bzero(token, sizeof(token));
    PQclear(res);
    if (f)
        fclose(f);
    return rc;
}

void h_operator_token(struct req *r)
{
    char hash[65], id[32];
    char *token;
    struct err fe;
    PGresult *res;
    json_t *body;

    static const char *const keys[] = {NULL};

    if (body_parse(r, false) < 0 || body_allow(r, keys) < 0)
        return;
    if (!(token = crypto_token_new(TOKEN_PREFIX_OPERATOR))) {
        http_error(r, 500, "internal", NULL, "could not generate a token");
        return;
    }
    crypto_sha256_hex(token, strlen(token), hash);
    snprintf(id, sizeof(id), "op_%.12s", hash);
    if ((res = dbq_ok(r, sql_token_rotate, id, hash, r->who.actor)) != NULL) {
        body = json_pack("{s:s,s:s,s:I}", "token", token, "file", token_path, "revoked",
                         (json_int_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10));
        if (write_token(token_path, token, &fe) < 0) {
            log_error("event=operator_token_file_failed path=%s error=\"%s\"", token_path, fe.msg);
            json_object_set_new(body, "file_error", json_string(fe.msg));
        }
        log_info("event=operator_token_rotated path=%s revoked=%s", token_path,
                 PQgetvalue(res, 0, 0));
        http_reply_json(r, 201, body);
        PQclear(res);
    }
    explicit_bzero(token, strlen(token));
    free(token);
}
