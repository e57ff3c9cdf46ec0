/* A small HTTP client on libcurl for dbaasctl and dbaas-agent: JSON requests with a bearer token.
 *
 * NOTES: one struct httpc wraps one curl easy handle, used by one thread at a time. The handle is
 * reset before every request (curl_easy_reset keeps live connections, so keep-alive still works)
 * and every option is set again. Errors never log: they fill the caller's struct err, whose code
 * is the CURLcode. The token goes only into the Authorization header, never into a message.
 */
#include "lib/httpc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

/* A response body larger than this is refused (CURLE_WRITE_ERROR). */
#define HTTPC_MAX_RESPONSE (64u * 1024 * 1024)

struct httpc {
    CURL *curl;
    char *base_url;           /* owned; without trailing slashes */
    char *auth_header;        /* owned; "Authorization: Bearer ..." or NULL */
    char *ca_file;            /* owned; the CA bundle that https servers are verified against */
    struct curl_slist *extra; /* owned; headers for the next request only */
    char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t httpc_once = PTHREAD_ONCE_INIT;
static CURLcode httpc_global_rc = CURLE_OK;

static void httpc_global_init(void)
{
    httpc_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Returns a new client the caller frees with httpc_free(), or NULL when libcurl cannot be
 * initialized. base_url and token are copied; token may be NULL (no Authorization header). */
struct httpc *httpc_new(const char *base_url, const char *token)
{
    struct httpc *c;
    size_t len;

    pthread_once(&httpc_once, httpc_global_init);
    if (httpc_global_rc != CURLE_OK)
        return NULL;
    c = xcalloc(1, sizeof(*c));
    c->curl = curl_easy_init();
    if (!c->curl) {
        free(c);
        return NULL;
    }
    len = strlen(base_url);
    while (len > 0 && base_url[len - 1] == '/')
        len--;
    c->base_url = xstrndup(base_url, len);
    if (token)
        c->auth_header = xasprintf("Authorization: Bearer %s", token);
    return c;
}

void httpc_set_token(struct httpc *c, const char *token)
{
    char *h = token ? xasprintf("Authorization: Bearer %s", token) : NULL;

    if (h && c->auth_header && strcmp(h, c->auth_header) == 0) {
        explicit_bzero(h, strlen(h));
        free(h);
        return;
    }
    if (c->auth_header) {
        explicit_bzero(c->auth_header, strlen(c->auth_header));
        free(c->auth_header);
    }
    c->auth_header = h;
}

void httpc_free(struct httpc *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->extra);
    free(c->base_url);
    free(c->auth_header);
    free(c->ca_file);
    free(c);
}

void httpc_set_ca_file(struct httpc *c, const char *path)
{
    free(c->ca_file);
    c->ca_file = path ? xstrdup(path) : NULL;
}

/* Append h to list, aborting on out-of-memory like the x* wrappers. */
static struct curl_slist *httpc_slist_add(struct curl_slist *list, const char *h)
{
    struct curl_slist *l = curl_slist_append(list, h);

    if (!l)
        abort();
    return l;
}

void httpc_add_header(struct httpc *c, const char *header)
{
    c->extra = httpc_slist_add(c->extra, header);
}

static size_t httpc_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct buf *resp = userdata;
    size_t n = size * nmemb;

    if (n > HTTPC_MAX_RESPONSE || resp->len > HTTPC_MAX_RESPONSE - n)
        return 0; /* makes curl fail with CURLE_WRITE_ERROR */
    buf_append(resp, ptr, n);
    return n;
}

static bool httpc_is_connect_error(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
           rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_SSL_CONNECT_ERROR ||
           rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT;
}

int httpc_request(struct httpc *c, const char *method, const char *path, const char *body,
                  long timeout_ms, long *status, struct buf *resp, struct err *e)
{
    struct curl_slist *headers = NULL;
    struct curl_slist *h;
    char *url = NULL;
    CURLcode rc;
    bool sends_body;
    int ret = -1;

    buf_reset(resp);
    *status = 0;
    url = xasprintf("%s%s%s", c->base_url, path[0] == '/' ? "" : "/", path);

    curl_easy_reset(c->curl);
    c->errbuf[0] = '\0';

    headers = httpc_slist_add(headers, "Accept: application/json");
    /* No "Expect: 100-continue" round trip for larger bodies. */
    headers = httpc_slist_add(headers, "Expect:");
    if (c->auth_header)
        headers = httpc_slist_add(headers, c->auth_header);
    sends_body = body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
                 strcmp(method, "PATCH") == 0;
    if (body)
        headers = httpc_slist_add(headers, "Content-Type: application/json");
    else if (sends_body)
        headers = httpc_slist_add(headers, "Content-Type:"); /* drop curl's form default */
    for (h = c->extra; h; h = h->next)
        headers = httpc_slist_add(headers, h->data);

    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
    /* curl's defaults, said here: an https server's certificate must chain to a trusted CA
     * (ca_file, else the system's) and name the host of the URL. */
    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->ca_file)
        curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->ca_file);
    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "dbaas-httpc/1");
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, httpc_write);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, resp);
    if (timeout_ms > 0) {
        curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
        curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    }
    if (sends_body) {
        const char *data = body ? body : "";

        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(data));
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, data);
    } else {
        curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);

    rc = curl_easy_perform(c->curl);
    if (rc != CURLE_OK) {
        const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);

        if (httpc_is_connect_error(rc))
            err_set(e, (int)rc, "could not connect to %s: %s", c->base_url, detail);
        else if (rc == CURLE_OPERATION_TIMEDOUT)
            err_set(e, (int)rc, "no answer from %s within %ld ms: %s", c->base_url, timeout_ms,
                    detail);
        else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE)
            err_set(e, (int)rc, "could not verify the certificate of %s: %s", c->base_url, detail);
        else if (rc == CURLE_WRITE_ERROR)
            err_set(e, (int)rc, "response from %s is larger than %u bytes", c->base_url,
                    HTTPC_MAX_RESPONSE);
        else
            err_set(e, (int)rc, "could not complete request to %s: %s", c->base_url, detail);
        buf_reset(resp);
        goto out;
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
    ret = 0;

out:
    /* The handle must not keep pointers to memory freed here. */
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(headers);
    curl_slist_free_all(c->extra);
    c->extra = NULL;
    free(url);
    return ret;
}
