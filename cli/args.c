/* Command-line parsing for dbaasctl: long options in any position, and parsers for the values
 * people type. Everything here is pure so that tests/unit/test_cliargs.c can link it alone. */
#include "cli/args.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/quantity.h"
#include "lib/xalloc.h"

/* Largest token file we read. */
#define ARGS_TOKEN_FILE_MAX 4096

static const struct args_spec *args_find(const struct args_spec *const *tables, const char *name,
                                         size_t len)
{
    const struct args_spec *const *t;
    const struct args_spec *s;

    for (t = tables; *t; t++)
        for (s = *t; s->name; s++)
            if (strlen(s->name) == len && strncmp(s->name, name, len) == 0)
                return s;
    return NULL;
}

static void args_set(struct args *a, const char *name, const char *value)
{
    int i;

    for (i = 0; i < a->nopts; i++) {
        if (strcmp(a->opts[i].name, name) == 0) {
            a->opts[i].value = value;
            return;
        }
    }
    /* Distinct names are bounded by the spec tables, which stay well below ARGS_MAX_OPTS. */
    if (a->nopts < ARGS_MAX_OPTS) {
        a->opts[a->nopts].name = name;
        a->opts[a->nopts].value = value;
        a->nopts++;
    }
}

static int args_add_pos(struct args *a, const char *arg, struct err *e)
{
    if (a->npos >= ARGS_MAX_POS)
        return err_set(e, ARGS_E_USAGE, "too many arguments");
    a->pos[a->npos++] = arg;
    return 0;
}

int args_parse(struct args *a, const struct args_spec *const *tables, int argc, char **argv,
               bool stop_at_positional, int *consumed, struct err *e)
{
    bool options_done = false;
    int i;

    memset(a, 0, sizeof(*a));
    for (i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const struct args_spec *spec;
        const char *name;
        const char *eq;
        size_t len;

        if (options_done || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (stop_at_positional)
                break;
            if (args_add_pos(a, arg, e) < 0)
                return -1;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            options_done = true;
            if (stop_at_positional) {
                i++;
                break;
            }
            continue;
        }
        if (strcmp(arg, "-h") == 0 && args_find(tables, "help", 4)) {
            args_set(a, "help", "");
            continue;
        }
        if (arg[1] != '-')
            return err_set(e, ARGS_E_USAGE, "unknown option \"%s\"", arg);
        name = arg + 2;
        eq = strchr(name, '=');
        len = eq ? (size_t)(eq - name) : strlen(name);
        spec = args_find(tables, name, len);
        if (!spec) {
            return err_set(e, ARGS_E_USAGE, "unknown option \"--%.*s\"", len > 64 ? 64 : (int)len,
                           name);
        }
        if (spec->kind == ARGS_FLAG) {
            if (eq)
                return err_set(e, ARGS_E_USAGE, "option \"--%s\" takes no value", spec->name);
            args_set(a, spec->name, "");
        } else if (eq) {
            args_set(a, spec->name, eq + 1);
        } else {
            if (i + 1 >= argc)
                return err_set(e, ARGS_E_USAGE, "option \"--%s\" needs a value", spec->name);
            args_set(a, spec->name, argv[++i]);
        }
    }
    if (consumed)
        *consumed = i;
    return 0;
}

const char *args_get(const struct args *a, const char *name)
{
    int i;

    for (i = 0; i < a->nopts; i++)
        if (strcmp(a->opts[i].name, name) == 0)
            return a->opts[i].value;
    return NULL;
}

bool args_has(const struct args *a, const char *name)
{
    return args_get(a, name) != NULL;
}

const struct args_spec *args_missing(const struct args *a, const struct args_spec *const *tables)
{
    const struct args_spec *const *t;
    const struct args_spec *s;

    for (t = tables; *t; t++)
        for (s = *t; s->name; s++)
            if (s->required && !args_has(a, s->name))
                return s;
    return NULL;
}

/* Parse the leading digits of s into *out (at most max), setting *end after them. */
static int args_digits(const char *s, int64_t max, int64_t *out, const char **end)
{
    int64_t v = 0;
    const char *p = s;

    if (!isdigit((unsigned char)*p))
        return -1;
    for (; isdigit((unsigned char)*p); p++) {
        int d = *p - '0';

        if (v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    *end = p;
    return 0;
}

int args_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    const char *end;
    int64_t v;

    if (args_digits(s, INT64_MAX, &v, &end) < 0 || *end != '\0')
        return -1;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int args_parse_milli(const char *s, int64_t min, int64_t max, int64_t *out)
{
    const char *end;
    int64_t whole;
    int64_t frac = 0;
    int digits = 0;
    int64_t v;

    if (args_digits(s, INT64_MAX / 1000 - 1, &whole, &end) < 0)
        return -1;
    if (*end == '.') {
        for (end++; isdigit((unsigned char)*end); end++, digits++) {
            if (digits < 3)
                frac = frac * 10 + (*end - '0');
            else if (*end != '0')
                return -1;
        }
        if (digits == 0)
            return -1; /* "1." */
    }
    if (*end != '\0')
        return -1;
    for (; digits < 3; digits++)
        frac *= 10;
    v = whole * 1000 + frac;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static const struct {
    const char *suffix;
    int64_t factor;
} args_rate_units[] = {
    {"Ti", 1024LL * 1024 * 1024 * 1024},
    {"Gi", 1024LL * 1024 * 1024},
    {"Mi", 1024LL * 1024},
    {"Ki", 1024LL},
    {"T", 1000LL * 1000 * 1000 * 1000},
    {"G", 1000LL * 1000 * 1000},
    {"M", 1000LL * 1000},
    {"K", 1000LL},
};

#define ARGS_NUNITS (sizeof(args_rate_units) / sizeof(args_rate_units[0]))

int args_parse_bps(const char *s, int64_t *out)
{
    const char *end;
    int64_t v;
    size_t i;

    if (args_digits(s, INT64_MAX, &v, &end) < 0)
        return -1;
    if (*end == '\0') {
        *out = v;
        return 0;
    }
    for (i = 0; i < ARGS_NUNITS; i++) {
        if (strcmp(end, args_rate_units[i].suffix) == 0) {
            if (v > INT64_MAX / args_rate_units[i].factor)
                return -1;
            *out = v * args_rate_units[i].factor;
            return 0;
        }
    }
    return -1;
}

void args_format_bps(int64_t bps, char *out, size_t n)
{
    size_t i;
    int r;

    if (n == 0)
        return;
    for (i = 0; bps > 0 && i < ARGS_NUNITS; i++) {
        if (bps % args_rate_units[i].factor == 0) {
            r = snprintf(out, n, "%lld%s", (long long)(bps / args_rate_units[i].factor),
                         args_rate_units[i].suffix);
            goto out;
        }
    }
    r = snprintf(out, n, "%lld", (long long)bps);
out:
    if (r < 0 || (size_t)r >= n)
        out[n - 1] = '\0'; /* truncated: still a valid string */
}

/* Whether s spells zero: "0", "0.0", "00", optionally followed by a unit suffix. */
static bool args_is_zero(const char *s)
{
    static const char *const suffixes[] = {"", "m", "Ki", "Mi", "Gi", "Ti", "K", "M", "G", "T"};
    size_t n = strspn(s, "0");
    size_t i;

    if (n == 0)
        return false;
    if (s[n] == '.') {
        n++;
        n += strspn(s + n, "0");
    }
    for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
        if (strcmp(s + n, suffixes[i]) == 0)
            return true;
    return false;
}

int args_parse_cpu_limit(const char *s, int64_t *millis)
{
    if (args_is_zero(s)) {
        *millis = 0;
        return 0;
    }
    return quantity_parse_cpu(s, millis);
}

int args_parse_mb_limit(const char *s, int64_t *mb)
{
    if (args_is_zero(s)) {
        *mb = 0;
        return 0;
    }
    return quantity_parse_mb(s, mb);
}

bool args_header_safe(const char *s, size_t max)
{
    size_t n = 0;

    for (; *s; s++, n++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || n >= max)
            return false;
    return n > 0;
}

char *args_read_token_file(const char *path, struct err *e)
{
    char data[ARGS_TOKEN_FILE_MAX + 1];
    char *token = NULL;
    size_t len = 0;
    size_t start;
    ssize_t r;
    int fd = -1;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err_set(e, ARGS_E_TOKEN_FILE, "could not open token file \"%s\": %s", path,
                strerror(errno));
        goto out;
    }
    for (;;) {
        r = read(fd, data + len, sizeof(data) - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err_set(e, ARGS_E_TOKEN_FILE, "could not read token file \"%s\": %s", path,
                    strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len == sizeof(data)) {
            err_set(e, ARGS_E_TOKEN_FILE, "token file \"%s\" is larger than %d bytes", path,
                    ARGS_TOKEN_FILE_MAX);
            goto out;
        }
    }
    data[len] = '\0';
    while (len > 0 && isspace((unsigned char)data[len - 1]))
        data[--len] = '\0';
    for (start = 0; start < len && isspace((unsigned char)data[start]); start++)
        ;
    if (start == len) {
        err_set(e, ARGS_E_TOKEN_FILE, "token file \"%s\" is empty", path);
        goto out;
    }
    if (!args_header_safe(data + start, ARGS_TOKEN_FILE_MAX)) {
        err_set(e, ARGS_E_TOKEN_FILE,
                "token file \"%s\" contains characters that cannot be in a token", path);
        goto out;
    }
    token = xstrdup(data + start);

out:
    if (fd >= 0)
        close(fd);
    return token;
}

void args_url_escape(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p;

    for (p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '_' || *p == '-') {
            buf_append(b, p, 1);
        } else {
            char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};

            buf_append(b, enc, 3);
        }
    }
}
