/* The libvirt LXC backend: one transient domain "<root>-<name>" per instance whose init is the
 * engine, with the limits in its XML (<memtune>, <cputune>, <blkiotune>), driven through
 * libvirt's C API.
 *
 * NOTES
 * - The container shares the host's filesystem (no root <filesystem>) and, having no
 *   <interface>, the host's network namespace: engines stay reachable on the host's addresses.
 *   It gets its own PID, mount, IPC and UTS namespaces, a private /dev (libvirt's) with a tmpfs
 *   /dev/shm of our own, and read-only /sys.
 * - The init is "INIT lxc-init [--uid U --gid G] LOG -- PROGRAM argv..." (isolation/lxc_init.c;
 *   INIT is iso_options.lxc_init: the agent's own program), with PATH, LANG=C, HOME, USER,
 *   LOGNAME and the iso_exec's entries as its environment (and what libvirt adds: container,
 *   LIBVIRT_LXC_*, TERM). No shell: it sets umask 077, drops root for good (checked), opens the
 *   log and execs the engine, which keeps the pid. The log lives in a directory the engine's
 *   user owns: the init opens it only after dropping root, without following a link, so a link
 *   planted there gets no more than the user's rights (the agent creates it first, checked, and
 *   gives it to the user).
 * - The engine's host pid is the child of libvirt's controller process, whose pid is the domain
 *   ID for LXC; it is checked to be the init of its PID namespace.
 * - libvirt's default error handler prints to stderr; it is replaced by a silent one (a library
 *   does not log), and errors are taken from virGetLastErrorMessage(). */
#include "isolation/backend.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/fileio.h"
#include "lib/osuser.h"
#include "lib/proc.h"
#include "lib/xalloc.h"
#include "isolation/lxc_init.h"

#define DEFAULT_URI "lxc:///system"
#define INIT_WAIT_MS 5000

struct lxc {
    pthread_mutex_t conn_lock; /* guards conn: calls on different groups run concurrently */
    virConnectPtr conn;
    char *uri;
    char *init; /* the program that carries the lxc-init subcommand (iso_options.lxc_init) */
    uint64_t host_mem_kib;
};

/* ---- XML ---- */

static void xml_text(struct buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            buf_puts(b, "&amp;");
            break;
        case '<':
            buf_puts(b, "&lt;");
            break;
        case '>':
            buf_puts(b, "&gt;");
            break;
        case '\'':
            buf_puts(b, "&apos;");
            break;
        case '"':
            buf_puts(b, "&quot;");
            break;
        default:
            buf_append(b, s, 1);
        }
    }
}

static void xml_elem(struct buf *b, const char *indent, const char *tag, const char *text)
{
    buf_printf(b, "%s<%s>", indent, tag);
    xml_text(b, text);
    buf_printf(b, "</%s>\n", tag);
}

/* The names of struct iso_lxc_spec's sanitizer_options, in order. */
static const char *const sanitizer_vars[3] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"};

static void xml_env(struct buf *b, const char *name, const char *value)
{
    buf_printf(b, "    <initenv name='%s'>", name);
    xml_text(b, value);
    buf_puts(b, "</initenv>\n");
}

char *iso_lxc_render_xml(const struct iso_lxc_spec *spec, const struct iso_limits *lim,
                         struct err *e)
{
    struct buf b = BUF_INIT;
    uint64_t shm_kib;

    for (size_t i = 0; spec->env && spec->env[i]; i++) {
        const char *eq = strchr(spec->env[i], '=');
        size_t len = eq ? (size_t)(eq - spec->env[i]) : 0;
        if (len == 0 ||
            strspn(spec->env[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                 "0123456789_") != len ||
            isdigit((unsigned char)spec->env[i][0])) {
            err_set(e, ISO_EINVAL,
                    "cannot pass environment entry %zu to an LXC init: not NAME=VALUE", i);
            return NULL;
        }
    }
    for (size_t i = 1; spec->argv[i]; i++) {
        if (spec->argv[i][0] == '\0') {
            err_set(e, ISO_EINVAL, "cannot pass argument %zu of \"%s\" to an LXC init: it is empty",
                    i, spec->argv[0]);
            return NULL;
        }
    }
    buf_puts(&b, "<domain type='lxc'>\n");
    xml_elem(&b, "  ", "name", spec->domain);
    /* <memory> is the domain's maximum; the limit itself is memtune's hard_limit, which can be
     * raised and lowered live */
    buf_printf(&b, "  <memory unit='KiB'>%" PRIu64 "</memory>\n", spec->host_mem_kib);
    if (lim->memory_mb > 0)
        buf_printf(&b,
                   "  <memtune>\n    <hard_limit unit='KiB'>%" PRId64 "</hard_limit>\n"
                   "  </memtune>\n",
                   lim->memory_mb * 1024);
    if (lim->cpu_millis > 0)
        buf_printf(&b,
                   "  <cputune>\n    <period>%d</period>\n    <quota>%" PRId64 "</quota>\n"
                   "  </cputune>\n",
                   ISO_CPU_PERIOD_US, lim->cpu_millis * ISO_CPU_PERIOD_US / 1000);
    if (spec->blk_path && (lim->read_bps || lim->write_bps || lim->read_iops || lim->write_iops)) {
        buf_puts(&b, "  <blkiotune>\n    <device>\n");
        xml_elem(&b, "      ", "path", spec->blk_path);
        if (lim->read_bps)
            buf_printf(&b, "      <read_bytes_sec>%" PRId64 "</read_bytes_sec>\n", lim->read_bps);
        if (lim->write_bps)
            buf_printf(&b, "      <write_bytes_sec>%" PRId64 "</write_bytes_sec>\n",
                       lim->write_bps);
        if (lim->read_iops)
            buf_printf(&b, "      <read_iops_sec>%" PRId64 "</read_iops_sec>\n", lim->read_iops);
        if (lim->write_iops)
            buf_printf(&b, "      <write_iops_sec>%" PRId64 "</write_iops_sec>\n", lim->write_iops);
        buf_puts(&b, "    </device>\n  </blkiotune>\n");
    }
    buf_puts(&b, "  <os>\n    <type>exe</type>\n");
    xml_elem(&b, "    ", "init", spec->init);
    xml_elem(&b, "    ", "initarg", LXC_INIT_CMD);
    if (spec->user.set) {
        char id[16];
        xml_elem(&b, "    ", "initarg", "--uid");
        snprintf(id, sizeof(id), "%u", (unsigned int)spec->user.uid);
        xml_elem(&b, "    ", "initarg", id);
        xml_elem(&b, "    ", "initarg", "--gid");
        snprintf(id, sizeof(id), "%u", (unsigned int)spec->user.gid);
        xml_elem(&b, "    ", "initarg", id);
    }
    xml_elem(&b, "    ", "initarg", spec->log_path);
    xml_elem(&b, "    ", "initarg", "--");
    xml_elem(&b, "    ", "initarg", spec->program);
    for (size_t i = 1; spec->argv[i]; i++)
        xml_elem(&b, "    ", "initarg", spec->argv[i]);
    xml_env(&b, "PATH", spec->path_env);
    {
        bool lang = false; /* LANG=C as on the cgroup backends, unless the caller sets one */
        for (size_t i = 0; spec->env && spec->env[i]; i++)
            lang |= strncmp(spec->env[i], "LANG=", 5) == 0;
        if (!lang)
            xml_env(&b, "LANG", "C");
    }
    if (spec->user.set) {
        xml_env(&b, "HOME", spec->user.home);
        xml_env(&b, "USER", spec->user.name);
        xml_env(&b, "LOGNAME", spec->user.name);
    }
    for (size_t i = 0; spec->env && spec->env[i]; i++) {
        const char *eq = strchr(spec->env[i], '=');
        char name[128];
        snprintf(name, sizeof(name), "%.*s", (int)(eq - spec->env[i]), spec->env[i]);
        xml_env(&b, name, eq + 1);
    }
    for (size_t i = 0; i < sizeof(sanitizer_vars) / sizeof(sanitizer_vars[0]); i++)
        if (spec->sanitizer_options[i])
            xml_env(&b, sanitizer_vars[i], spec->sanitizer_options[i]);
    xml_elem(&b, "    ", "initdir", spec->workdir);
    buf_puts(&b, "  </os>\n");
    /* libvirt's /dev has no /dev/shm (PostgreSQL's dynamic shared memory needs one); its pages
     * are charged to the container's memory cgroup anyway */
    shm_kib = lim->memory_mb > 0 ? (uint64_t)lim->memory_mb * 1024 : spec->host_mem_kib / 2;
    buf_printf(&b,
               "  <devices>\n    <console type='pty'/>\n"
               "    <filesystem type='ram' accessmode='passthrough'>\n"
               "      <source usage='%" PRIu64 "' units='KiB'/>\n"
               "      <target dir='/dev/shm'/>\n    </filesystem>\n  </devices>\n",
               shm_kib);
    buf_puts(&b, "</domain>\n");
    return buf_steal(&b);
}

/* ---- libvirt plumbing ---- */

static void quiet_errors(void *data, virErrorPtr error)
{
    (void)data;
    (void)error;
}

static int virt_error(struct err *e, const char *what, const char *dom)
{
    const char *msg = virGetLastErrorMessage();
    int code = virGetLastErrorCode() == VIR_ERR_NO_DOMAIN ? ISO_ENOENT : ISO_EBACKEND;

    return err_set(e, code, "could not %s domain \"%s\": %s", what, dom,
                   msg ? msg : "unknown libvirt error");
}

static char *dom_name(const struct iso *iso, const char *name)
{
    return xasprintf("%s-%s", iso->root, name);
}

/* (Re)connect when needed, e.g. after libvirtd restarted. Caller holds p->conn_lock. */
static int ensure_conn(struct lxc *p, struct err *e)
{
    if (p->conn && virConnectIsAlive(p->conn) == 1)
        return 0;
    if (p->conn)
        virConnectClose(p->conn);
    p->conn = virConnectOpen(p->uri);
    if (!p->conn) {
        const char *msg = virGetLastErrorMessage();
        return err_set(e, ISO_EBACKEND, "could not connect to libvirt at \"%s\": %s", p->uri,
                       msg ? msg : "unknown libvirt error");
    }
    return 0;
}

/* A reference to the connection (reconnected when needed) that the caller drops with
 * virConnectClose(), or NULL. libvirt connections are thread-safe; the reference keeps this
 * one valid while another thread reconnects. */
static virConnectPtr conn_get(struct lxc *p, struct err *e)
{
    virConnectPtr c = NULL;

    pthread_mutex_lock(&p->conn_lock);
    if (ensure_conn(p, e) == 0 && virConnectRef(p->conn) == 0)
        c = p->conn;
    pthread_mutex_unlock(&p->conn_lock);
    return c;
}

/* The domain, or NULL: with ISO_ENOENT when it does not exist. */
static virDomainPtr lookup(struct iso *iso, const char *name, struct err *e)
{
    struct lxc *p = iso->priv;
    char *dn = dom_name(iso, name);
    virDomainPtr dom = NULL;
    virConnectPtr c = conn_get(p, e);

    if (c) {
        dom = virDomainLookupByName(c, dn);
        if (!dom) { /* before the next call, which resets libvirt's last error */
            if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
                err_set(e, ISO_ENOENT, "domain \"%s\" does not exist", dn);
            else
                virt_error(e, "look up", dn);
        }
        virConnectClose(c); /* the domain holds its own reference */
    }
    free(dn);
    return dom;
}

static uint64_t host_mem_kib(void)
{
    char *text = fileio_read("/proc/meminfo", SIZE_MAX, 0, NULL);
    uint64_t kib = 0;

    if (!text || !iso_line_u64(text, "MemTotal:", &kib))
        kib = 0;
    free(text);
    return kib ? kib : 1024ULL * 1024 * 1024; /* 1 TiB if /proc says nothing */
}

static int lxc_open(struct iso *iso, const struct iso_options *o, struct err *e)
{
    struct lxc *p;

    if (!o->lxc_init || o->lxc_init[0] != '/')
        return err_set(e, ISO_EINVAL,
                       "the LXC backend needs the absolute path of its container init program");
    p = xcalloc(1, sizeof(*p));
    if (virInitialize() != 0) {
        free(p);
        return err_set(e, ISO_EBACKEND, "could not initialize libvirt");
    }
    virSetErrorFunc(NULL, quiet_errors);
    p->uri = xstrdup(o->libvirt_uri ? o->libvirt_uri : DEFAULT_URI);
    p->init = xstrdup(o->lxc_init);
    p->host_mem_kib = host_mem_kib();
    pthread_mutex_init(&p->conn_lock, NULL);
    if (ensure_conn(p, e) != 0) {
        pthread_mutex_destroy(&p->conn_lock);
        free(p->uri);
        free(p->init);
        free(p);
        return -1;
    }
    iso->priv = p;
    return 0;
}

static void lxc_close(struct iso *iso)
{
    struct lxc *p = iso->priv;

    if (!p)
        return;
    if (p->conn)
        virConnectClose(p->conn);
    pthread_mutex_destroy(&p->conn_lock);
    free(p->uri);
    free(p->init);
    free(p);
    iso->priv = NULL;
}

/* ---- processes ---- */

/* Whether pid is the init of a PID namespace below ours ("NSpid: <host> ... 1"). */
static bool is_ns_init(pid_t pid)
{
    char path[64];
    char *text;
    bool ret = false;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    text = fileio_read(path, SIZE_MAX, 0, NULL);
    for (char *save = NULL, *line = text ? strtok_r(text, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "NSpid:", 6) == 0) {
            char *last = strrchr(line, '\t');
            ret = last && last != line + 6 && strcmp(last + 1, "1") == 0;
            break;
        }
    }
    free(text);
    return ret;
}

struct proc_entry {
    pid_t pid, ppid;
};

/* Every process of the host with its parent. */
static struct proc_entry *scan_procs(size_t *n)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    struct proc_entry *list = NULL;
    size_t cap = 0;

    *n = 0;
    if (!d)
        return NULL;
    while ((de = readdir(d)) != NULL) {
        struct proc_stat p;
        char *end;
        long v = strtol(de->d_name, &end, 10);

        if (*end != '\0' || v <= 0 || proc_stat_read((pid_t)v, &p) != 0)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 256;
            list = xrealloc(list, cap * sizeof(*list));
        }
        list[(*n)++] = (struct proc_entry){(pid_t)v, p.ppid};
    }
    closedir(d);
    return list;
}

/* The container's init: the child of the controller (the domain ID) that inits a PID namespace. */
static pid_t find_init(virDomainPtr dom)
{
    unsigned int id = virDomainGetID(dom);
    struct proc_entry *list;
    size_t n;
    pid_t ret = 0;

    if (id == (unsigned int)-1 || id == 0)
        return 0;
    list = scan_procs(&n);
    for (size_t i = 0; i < n && ret == 0; i++)
        if (list[i].ppid == (pid_t)id && is_ns_init(list[i].pid))
            ret = list[i].pid;
    free(list);
    return ret;
}

static int lxc_main_pid(struct iso *iso, const char *name, pid_t *pid, struct err *e)
{
    virDomainPtr dom = lookup(iso, name, e);

    *pid = 0;
    if (!dom)
        return -1;
    if (virDomainIsActive(dom) == 1)
        *pid = find_init(dom);
    virDomainFree(dom);
    return 0;
}

static int lxc_procs(struct iso *iso, const char *name, pid_t **pids, size_t *n, struct err *e)
{
    pid_t init = 0;
    struct proc_entry *list;
    size_t np, cap;

    *pids = NULL;
    *n = 0;
    if (lxc_main_pid(iso, name, &init, e) != 0)
        return -1;
    if (init == 0)
        return 0;
    /* the init and its descendants, breadth first */
    list = scan_procs(&np);
    cap = 16;
    *pids = xmalloc(cap * sizeof(pid_t));
    (*pids)[(*n)++] = init;
    for (size_t head = 0; head < *n; head++) {
        for (size_t i = 0; i < np; i++) {
            if (list[i].ppid != (*pids)[head])
                continue;
            if (*n == cap) {
                cap *= 2;
                *pids = xrealloc(*pids, cap * sizeof(pid_t));
            }
            (*pids)[(*n)++] = list[i].pid;
        }
    }
    free(list);
    return 0;
}

/* Wait until the domain is no longer running (libvirt tears it down once its init died). */
static void wait_inactive(virDomainPtr dom, int ms)
{
    int64_t deadline = clock_now_ms() + ms;

    while (virDomainIsActive(dom) == 1 && clock_now_ms() < deadline)
        clock_sleep_ms(10);
}

/* ---- actions ---- */

static int lxc_exists(struct iso *iso, const char *name, struct err *e)
{
    virDomainPtr dom = lookup(iso, name, e);

    if (!dom) {
        if (e->code != ISO_ENOENT)
            return -1;
        err_clear(e);
        return 0;
    }
    virDomainFree(dom);
    return 1;
}

static int lxc_start(struct iso *iso, const char *name, const struct iso_limits *lim,
                     const struct iso_exec *ex, pid_t *pid, struct err *e)
{
    struct lxc *p = iso->priv;
    struct osuser user;
    struct iso_lxc_spec spec = {0};
    char *dn = dom_name(iso, name);
    char *program = NULL, *blk = NULL, *xml = NULL;
    const char *path_env = getenv("PATH");
    const char *workdir = ex->workdir ? ex->workdir : "/";
    virDomainPtr dom = NULL;
    virConnectPtr conn = NULL;
    int64_t deadline;
    int logfd = -1, rc, ret = -1;

    rc = lxc_exists(iso, name, e);
    if (rc != 0) {
        if (rc == 1)
            err_set(e, ISO_EEXIST, "domain \"%s\" already exists", dn);
        goto out;
    }
    /* check here what the container would only find out after it started */
    program = iso_resolve_program(ex->argv[0], e);
    if (!program || iso_check_workdir(workdir, e) != 0 ||
        (ex->user && osuser_lookup(ex->user, &user, e) != 0))
        goto out;
    /* Created and checked here; the init opens it again, as the user (see NOTES). */
    logfd = iso_open_log(ex->log_path, e);
    if (logfd < 0)
        goto out;
    if (ex->user && ex->log_path && fchown(logfd, user.uid, user.gid) != 0) {
        err_set(e, ISO_ESYS, "could not give log file \"%s\" to user \"%s\": %s", ex->log_path,
                ex->user, strerror(errno));
        goto out;
    }
    if (lim->device[0] != '\0') {
        blk = iso_device_path("/sys", lim->device, e);
        if (!blk)
            goto out;
    }
    spec.domain = dn;
    spec.init = p->init;
    spec.program = program;
    spec.argv = ex->argv;
    spec.workdir = workdir;
    spec.log_path = ex->log_path ? ex->log_path : "/dev/null";
    spec.path_env = path_env && path_env[0] ? path_env : "/usr/local/bin:/usr/bin:/bin";
    spec.blk_path = blk;
    spec.host_mem_kib = p->host_mem_kib;
    spec.env = ex->env;
    for (size_t i = 0; i < sizeof(sanitizer_vars) / sizeof(sanitizer_vars[0]); i++)
        spec.sanitizer_options[i] = getenv(sanitizer_vars[i]);
    if (ex->user)
        spec.user = (struct iso_lxc_user){true, user.uid, user.gid, user.name, user.home};
    xml = iso_lxc_render_xml(&spec, lim, e);
    if (!xml)
        goto out;
    conn = conn_get(p, e);
    if (!conn)
        goto out;
    dom = virDomainCreateXML(conn, xml, 0);
    if (!dom) {
        virt_error(e, "start", dn);
        goto out;
    }
    /* the controller forks the init before virDomainCreateXML returns; allow for a slow host */
    deadline = clock_now_ms() + INIT_WAIT_MS;
    while ((*pid = find_init(dom)) == 0 && clock_now_ms() < deadline && virDomainIsActive(dom) == 1)
        clock_sleep_ms(10);
    if (*pid == 0) {
        err_set(e, ISO_EBACKEND, "could not find the init process of domain \"%s\"", dn);
        goto out;
    }
    ret = 0;
out:
    if (dom) {
        if (ret != 0 && virDomainIsActive(dom) == 1) {
            virDomainDestroy(dom);
            wait_inactive(dom, INIT_WAIT_MS);
        }
        virDomainFree(dom);
    }
    if (conn)
        virConnectClose(conn);
    if (logfd >= 0)
        close(logfd);
    free(program);
    free(blk);
    free(xml);
    free(dn);
    return ret;
}

static int lxc_update(struct iso *iso, const char *name, const struct iso_limits *lim,
                      struct err *e)
{
    virDomainPtr dom = lookup(iso, name, e);
    virTypedParameterPtr params = NULL;
    int n = 0, max = 0, ret = -1;
    char *dn = dom_name(iso, name), *blk = NULL;

    if (!dom)
        goto out;
    if (virTypedParamsAddULLong(&params, &n, &max, VIR_DOMAIN_SCHEDULER_VCPU_PERIOD,
                                ISO_CPU_PERIOD_US) < 0 ||
        virTypedParamsAddLLong(&params, &n, &max, VIR_DOMAIN_SCHEDULER_VCPU_QUOTA,
                               lim->cpu_millis > 0 ? lim->cpu_millis * ISO_CPU_PERIOD_US / 1000
                                                   : -1) < 0 ||
        virDomainSetSchedulerParametersFlags(dom, params, n, VIR_DOMAIN_AFFECT_LIVE) < 0) {
        virt_error(e, "set the CPU limit of", dn);
        goto out;
    }
    virTypedParamsFree(params, n);
    params = NULL;
    n = max = 0;
    if (virTypedParamsAddULLong(&params, &n, &max, VIR_DOMAIN_MEMORY_HARD_LIMIT,
                                lim->memory_mb > 0 ? (unsigned long long)lim->memory_mb * 1024
                                                   : VIR_DOMAIN_MEMORY_PARAM_UNLIMITED) < 0 ||
        virDomainSetMemoryParameters(dom, params, n, VIR_DOMAIN_AFFECT_LIVE) < 0) {
        virt_error(e, "set the memory limit of", dn);
        goto out;
    }
    virTypedParamsFree(params, n);
    params = NULL;
    n = max = 0;
    if (lim->device[0] != '\0') {
        const char *names[] = {VIR_DOMAIN_BLKIO_DEVICE_READ_BPS, VIR_DOMAIN_BLKIO_DEVICE_WRITE_BPS,
                               VIR_DOMAIN_BLKIO_DEVICE_READ_IOPS,
                               VIR_DOMAIN_BLKIO_DEVICE_WRITE_IOPS};
        const int64_t vals[] = {lim->read_bps, lim->write_bps, lim->read_iops, lim->write_iops};

        blk = iso_device_path("/sys", lim->device, e);
        if (!blk)
            goto out;
        for (size_t i = 0; i < 4; i++) {
            char v[256];
            snprintf(v, sizeof(v), "%s,%" PRId64, blk, vals[i]);
            if (virTypedParamsAddString(&params, &n, &max, names[i], v) < 0) {
                virt_error(e, "set the IO limits of", dn);
                goto out;
            }
        }
        if (virDomainSetBlkioParameters(dom, params, n, VIR_DOMAIN_AFFECT_LIVE) < 0) {
            virt_error(e, "set the IO limits of", dn);
            goto out;
        }
    }
    ret = 0;
out:
    if (params)
        virTypedParamsFree(params, n);
    if (dom)
        virDomainFree(dom);
    free(blk);
    free(dn);
    return ret;
}

static int lxc_usage(struct iso *iso, const char *name, struct iso_usage *u, struct err *e)
{
    virDomainPtr dom = lookup(iso, name, e);
    virDomainInfo info;
    virDomainBlockStatsStruct bs;
    char *dn = dom_name(iso, name);
    int ret = -1;

    if (!dom)
        goto out;
    if (virDomainGetInfo(dom, &info) < 0) {
        virt_error(e, "read the usage of", dn);
        goto out;
    }
    u->cpu_usec = info.cpuTime / 1000;
    u->memory_bytes = (uint64_t)info.memory * 1024;
    /* an empty path asks the LXC driver for the whole domain's blkio counters */
    if (virDomainBlockStats(dom, "", &bs, sizeof(bs)) < 0) {
        virt_error(e, "read the IO counters of", dn);
        goto out;
    }
    u->io_read_bytes = bs.rd_bytes > 0 ? (uint64_t)bs.rd_bytes : 0;
    u->io_write_bytes = bs.wr_bytes > 0 ? (uint64_t)bs.wr_bytes : 0;
    u->oom_kills = -1;
    ret = 0;
out:
    if (dom)
        virDomainFree(dom);
    free(dn);
    return ret;
}

static int lxc_kill_all(struct iso *iso, const char *name, struct err *e)
{
    virDomainPtr dom = lookup(iso, name, e);
    char *dn = dom_name(iso, name);
    pid_t init;
    int ret = 0;

    if (!dom) {
        ret = e->code == ISO_ENOENT ? (err_clear(e), 0) : -1;
        goto out;
    }
    /* SIGKILL to the init of a PID namespace kills everything in it at once; libvirt's own
     * destroy sends SIGTERM first and waits, so it is only the fallback */
    init = virDomainIsActive(dom) == 1 ? find_init(dom) : 0;
    if (init > 0 && proc_alive(init, 0)) {
        kill(init, SIGKILL);
    } else if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0 &&
               virDomainIsActive(dom) == 1) {
        ret = virt_error(e, "destroy", dn);
    }
    virDomainFree(dom);
out:
    free(dn);
    return ret;
}

static int lxc_destroy(struct iso *iso, const char *name, struct err *e)
{
    virDomainPtr dom = lookup(iso, name, e);
    char *dn = dom_name(iso, name);
    int ret = -1;

    if (!dom) {
        ret = e->code == ISO_ENOENT ? (err_clear(e), 0) : -1;
        goto out;
    }
    if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0) {
        /* it may have been stopping by itself (its init died) */
        wait_inactive(dom, INIT_WAIT_MS);
        if (virDomainIsActive(dom) == 1) {
            virt_error(e, "destroy", dn);
            goto out;
        }
    }
    if (virDomainIsPersistent(dom) == 1 && virDomainUndefine(dom) < 0) {
        virt_error(e, "undefine", dn);
        goto out;
    }
    ret = 0;
out:
    if (dom)
        virDomainFree(dom);
    free(dn);
    return ret;
}

static int lxc_remove_root(struct iso *iso, struct err *e)
{
    (void)iso;
    (void)e;
    return 0;
}

const struct iso_ops iso_lxc_ops = {
    .serial = false,
    .open = lxc_open,
    .close = lxc_close,
    .start = lxc_start,
    .update = lxc_update,
    .usage = lxc_usage,
    .exists = lxc_exists,
    .procs = lxc_procs,
    .main_pid = lxc_main_pid,
    .kill_all = lxc_kill_all,
    .destroy = lxc_destroy,
    .remove_root = lxc_remove_root,
};
