/* Unit tests for api/router: pattern matching, captures, 404 versus 405 and the Allow list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/router.h"

struct entry {
    struct route_entry e;
    int tag;
};

static const struct entry table[] = {
    {{"GET", "/healthz"}, 1},
    {{"POST", "/v1/tenants"}, 2},
    {{"GET", "/v1/tenants"}, 3},
    {{"GET", "/v1/tenants/{name}"}, 4},
    {{"DELETE", "/v1/tenants/{name}"}, 5},
    {{"DELETE", "/v1/tenants/{name}/tokens/{id}"}, 6},
    {{"PATCH", "/v1/instances/{id}"}, 7},
};
#define N (sizeof(table) / sizeof(table[0]))

static enum router_result match(const char *method, const char *path, size_t *index,
                                char params[ROUTER_MAX_PARAMS][ROUTER_PARAM_MAX], char *allow)
{
    return router_match(table, N, sizeof(table[0]), method, path, index, params, allow, 64);
}

static void test_static_routes(void **state)
{
    char params[ROUTER_MAX_PARAMS][ROUTER_PARAM_MAX], allow[64];
    size_t i = 99;

    (void)state;
    assert_int_equal(match("GET", "/healthz", &i, params, allow), ROUTER_FOUND);
    assert_int_equal(table[i].tag, 1);
    assert_int_equal(match("POST", "/v1/tenants", &i, params, allow), ROUTER_FOUND);
    assert_int_equal(table[i].tag, 2);
    assert_int_equal(match("GET", "/v1/tenants", &i, params, allow), ROUTER_FOUND);
    assert_int_equal(table[i].tag, 3);
}

static void test_captures(void **state)
{
    char params[ROUTER_MAX_PARAMS][ROUTER_PARAM_MAX], allow[64];
    size_t i = 99;

    (void)state;
    assert_int_equal(match("GET", "/v1/tenants/acme", &i, params, allow), ROUTER_FOUND);
    assert_int_equal(table[i].tag, 4);
    assert_string_equal(params[0], "acme");
    assert_int_equal(match("DELETE", "/v1/tenants/acme/tokens/tok_1", &i, params, allow),
                     ROUTER_FOUND);
    assert_int_equal(table[i].tag, 6);
    assert_string_equal(params[0], "acme");
    assert_string_equal(params[1], "tok_1");
}

static void test_not_found(void **state)
{
    static const char *const paths[] = {
        "/",
        "",
        "/healthz/",
        "/healthzz",
        "/v1",
        "/v1/tenants/",
        "/v1/tenants//tokens/x",
        "/v1/tenants/acme/tokens",
        "/v1/tenants/acme/tokens/",
        "/v1/tenants/a/b/c/d",
        "/v2/tenants",
        "//v1/tenants",
    };
    char params[ROUTER_MAX_PARAMS][ROUTER_PARAM_MAX], allow[64];
    size_t i, k;

    (void)state;
    for (k = 0; k < sizeof(paths) / sizeof(paths[0]); k++)
        assert_int_equal(match("GET", paths[k], &i, params, allow), ROUTER_NOT_FOUND);
}

static void test_bad_method_lists_allowed(void **state)
{
    char params[ROUTER_MAX_PARAMS][ROUTER_PARAM_MAX], allow[64];
    size_t i;

    (void)state;
    assert_int_equal(match("PUT", "/v1/tenants", &i, params, allow), ROUTER_BAD_METHOD);
    assert_string_equal(allow, "POST, GET");
    assert_int_equal(match("POST", "/v1/tenants/acme", &i, params, allow), ROUTER_BAD_METHOD);
    assert_string_equal(allow, "GET, DELETE");
    assert_int_equal(match("GET", "/v1/instances/x", &i, params, allow), ROUTER_BAD_METHOD);
    assert_string_equal(allow, "PATCH");
    /* Method names are case-sensitive (RFC 9110). */
    assert_int_equal(match("get", "/healthz", &i, params, allow), ROUTER_BAD_METHOD);
}

static void test_long_segment_does_not_match(void **state)
{
    char params[ROUTER_MAX_PARAMS][ROUTER_PARAM_MAX], allow[64];
    char path[ROUTER_PARAM_MAX + 32];
    size_t i;

    (void)state;
    memcpy(path, "/v1/tenants/", 12);
    memset(path + 12, 'a', ROUTER_PARAM_MAX);
    path[12 + ROUTER_PARAM_MAX] = '\0';
    assert_int_equal(match("GET", path, &i, params, allow), ROUTER_NOT_FOUND);
    path[12 + ROUTER_PARAM_MAX - 1] = '\0';
    assert_int_equal(match("GET", path, &i, params, allow), ROUTER_FOUND);
    assert_int_equal(strlen(params[0]), ROUTER_PARAM_MAX - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_static_routes),
        cmocka_unit_test(test_captures),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_bad_method_lists_allowed),
        cmocka_unit_test(test_long_segment_does_not_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
