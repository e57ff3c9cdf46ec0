/* bench_heartbeat: how many idle hosts one dbaasd (embedded store) carries at the agents' real
 * cadence, HTTP long polls and UDP lease renewals, while the API stays responsive.
 * docs/benchmarks.md explains it. The last line is
 * `hosts=<N> renew_hz=<rate> get_p99_ms=<ms> missed_renewals=<n>`.
 *
 * NOTES: one process: it starts bin/dbaasd on a fresh data directory, registers the hosts
 * through POST /v1/hosts (each its own token), then for each tried N runs N simulated agents in
 * one epoll loop (each a keep-alive HTTP connection sending what an idle dbaas-agent sends, and
 * renewals on a few shared UDP sockets) and, on a second thread, a tenant's GET /v1/instances
 * 50 times a second. Environment: HOSTS (one N, no search), DURATION (s, default 60),
 * WARMUP (s, default 30), DBAASD (default bin/dbaasd), CHURN (changes a second, default 0: a
 * third thread creates CHURN instances a second, each placed on one of the hosts, a change
 * that dbaasd notifies). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/clock.h"
#include "lib/crypto.h"
#include "lib/lease.h"

#define MAX_HOSTS 10000
#define UDP_SOCKS 16
#define RING 16              /* renewals in flight per host */
#define GET_HZ 50            /* the measuring client's GETs per second */
#define GET_P99_MAX_MS 50.0  /* the target */
#define AGENT_WAIT_MS 1000   /* agent/heartbeat.c: wait_ms = min(interval 1000, 5000) */
#define AGENT_MIN_GAP_MS 100 /* agent/heartbeat.c: at most one poll per 100 ms */

struct host {
    char token[80];
    int64_t id;
    unsigned char key[LEASE_KEY_LEN];
    bool has_lease;
    char hash[65];
    int fd;
    char *in; /* what was read of the reply; grows with a host's members (CHURN) */
    size_t incap;
    size_t inlen;
    int64_t sent_ms;    /* the HTTP heartbeat in flight since; 0: none */
    int64_t next_hb_ms; /* when to send the next one */
    int wheel_next;     /* the next host in its wheel slot, -1: none */
    uint64_t seq;
    int64_t ring_ms[RING]; /* send time of seq % RING; 0: answered or not sent */
    uint64_t ring_seq[RING];
};

static struct host *hosts;
static int nhosts_registered;
static int api_port, lease_port_no, renew_ms = 300, ttl_ms = 1000;
static char op_token[128], tenant_token[128];
static int udp[UDP_SOCKS];
/* Heartbeats due, by millisecond (WHEEL > the longest wait between two heartbeats of a host). */
#define WHEEL 4096
static int wheel[WHEEL];
static int64_t wheel_done; /* every slot up to this ms was run */
static volatile bool measuring, get_stop;
static volatile sig_atomic_t interrupted; /* SIGINT/SIGTERM: stop dbaasd and clean up */

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Counters of one step (reset at the measurement's start). */
static uint64_t c_hb, c_hb_err, c_sent, c_granted, c_missed;
static double *get_ms;
static size_t get_n, get_cap;
static uint64_t get_err;
static int churn_hz;                     /* CHURN */
static uint64_t c_changes, c_change_err; /* creates answered 202, and not, while measuring */

static void die(const char *what)
{
    fprintf(stderr, "bench_heartbeat: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int connect_api(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)api_port)};
    struct linger lg = {1, 0}; /* close with a reset: no TIME_WAIT left behind between steps */
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        die("socket");
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The length of a complete response in buf (headers + body), 0 while incomplete; *status and
 * *body are set when complete. */
static size_t response_len(const char *buf, size_t n, int *status, const char **body)
{
    const char *end = memmem(buf, n, "\r\n\r\n", 4), *cl;
    size_t head, len = 0;

    if (!end)
        return 0;
    head = (size_t)(end - buf) + 4;
    cl = memmem(buf, head, "Content-Length:", 15);
    if (!cl)
        cl = memmem(buf, head, "content-length:", 15);
    if (cl)
        len = strtoul(cl + 15, NULL, 10);
    if (n < head + len)
        return 0;
    *status = atoi(buf + 9);
    *body = buf + head;
    return head + len;
}

/* A blocking request on fd; the reply body (caller frees) or NULL; *status set. */
static char *request(int fd, const char *method, const char *path, const char *token,
                     const char *body, int *status)
{
    static __thread char buf[1 << 16];
    char head[512];
    size_t n = 0, total;
    const char *b;
    int hl = snprintf(head, sizeof(head),
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      method, path, token, body ? strlen(body) : 0);

    if (write(fd, head, (size_t)hl) != hl ||
        (body && write(fd, body, strlen(body)) != (ssize_t)strlen(body)))
        return NULL;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
        if (r <= 0)
            return NULL;
        n += (size_t)r;
        total = response_len(buf, n, status, &b);
        if (total)
            return strndup(b, total - (size_t)(b - buf));
    }
}

/* Start dbaasd on a fresh directory; its pid. */
static pid_t start_dbaasd(const char *dir)
{
    const char *bin = getenv("DBAASD") ? getenv("DBAASD") : "bin/dbaasd";
    char listen[32], path[512], log[512];
    int64_t deadline = clock_now_ms() + 60000;
    pid_t pid;
    FILE *f;

    snprintf(listen, sizeof(listen), "127.0.0.1:%d", api_port);
    snprintf(log, sizeof(log), "%s.log", dir);
    pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        /* every simulated host connects from 127.0.0.1: no per-address limit */
        execl(bin, bin, "--data-dir", dir, "--listen", listen, "--max-conns-per-ip", "0",
              (char *)NULL);
        _exit(127);
    }
    snprintf(path, sizeof(path), "%s/operator.token", dir);
    for (;;) {
        int fd = connect_api(), status = 0;
        char *r = NULL;
        if (fd >= 0 && (f = fopen(path, "r"))) {
            if (fgets(op_token, sizeof(op_token), f))
                op_token[strcspn(op_token, "\n")] = '\0';
            fclose(f);
            r = request(fd, "GET", "/healthz", op_token, NULL, &status);
        }
        if (fd >= 0)
            close(fd);
        free(r);
        if (status == 200)
            return pid;
        if (clock_now_ms() > deadline || waitpid(pid, NULL, WNOHANG) == pid) {
            fprintf(stderr, "bench_heartbeat: dbaasd did not start (log: %s)\n", log);
            exit(1);
        }
        clock_sleep_ms(100);
    }
}

/* POST /v1/hosts for hosts [from, to); tokens and ids kept. */
static void register_hosts(int to)
{
    int fd = connect_api(), i;
    char body[512], *r;
    int status;

    for (i = nhosts_registered; i < to; i++) {
        json_t *j;
        snprintf(body, sizeof(body),
                 "{\"name\":\"bh%05d\",\"address\":\"127.0.%d.%d\",\"zone\":\"z%d\","
                 "\"cpu_millis\":8000,\"memory_mb\":32768,\"disk_mb\":500000,"
                 "\"engines\":[\"postgres\",\"mysql\",\"redis\"]}",
                 i, 1 + i / 250, 1 + i % 250, i % 3);
        r = request(fd, "POST", "/v1/hosts", op_token, body, &status);
        j = r ? json_loads(r, 0, NULL) : NULL;
        if (status != 201 || !json_is_string(json_object_get(j, "token"))) {
            fprintf(stderr, "bench_heartbeat: POST /v1/hosts answered %d: %.200s\n", status,
                    r ? r : "");
            exit(1);
        }
        snprintf(hosts[i].token, sizeof(hosts[i].token), "%s",
                 json_string_value(json_object_get(j, "token")));
        json_decref(j);
        free(r);
    }
    nhosts_registered = to;
    close(fd);
}

static void tenant_setup(void)
{
    int fd = connect_api(), status;
    char *r;
    json_t *j;

    free(request(fd, "POST", "/v1/tenants", op_token, "{\"name\":\"bench\"}", &status));
    r = request(fd, "POST", "/v1/tenants/bench/tokens", op_token, "{}", &status);
    j = r ? json_loads(r, 0, NULL) : NULL;
    if (!json_is_string(json_object_get(j, "token"))) {
        fprintf(stderr, "bench_heartbeat: no tenant token: %.200s\n", r ? r : "");
        exit(1);
    }
    snprintf(tenant_token, sizeof(tenant_token), "%s",
             json_string_value(json_object_get(j, "token")));
    json_decref(j);
    free(r);
    close(fd);
}

/* What an idle dbaas-agent sends (agent/report.c): its host record, no members, the hash of the
 * last reply it applied, a long poll of wait_ms 1000. */
static void send_heartbeat(struct host *h, int64_t now)
{
    char body[640], head[512];
    struct iovec iov[2];
    int bl, hl;

    bl = snprintf(body, sizeof(body),
                  "{\"agent_version\":\"0.1.0\",\"isolation\":\"cgroup-v2\",\"capacity\":"
                  "{\"cpu_millis\":8000,\"memory_mb\":32768,\"disk_mb\":500000},"
                  "\"engines\":[\"postgres\",\"mysql\",\"redis\"],\"ports\":{\"min\":20000,"
                  "\"max\":29999},\"members\":[],\"seed_port\":30000%s%s%s,\"wait_ms\":%d}",
                  h->hash[0] ? ",\"desired_hash\":\"" : "", h->hash, h->hash[0] ? "\"" : "",
                  AGENT_WAIT_MS);
    hl = snprintf(head, sizeof(head),
                  "POST /v1/agent/heartbeat HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                  "Content-Length: %d\r\n\r\n",
                  h->token, bl);
    iov[0] = (struct iovec){head, (size_t)hl};
    iov[1] = (struct iovec){body, (size_t)bl};
    if (writev(h->fd, iov, 2) != hl + bl) {
        c_hb_err += measuring;
        h->next_hb_ms = now + AGENT_WAIT_MS;
        return;
    }
    h->sent_ms = now;
}

static bool lease_ready(struct host *h)
{
    return __atomic_load_n(&h->has_lease, __ATOMIC_ACQUIRE);
}

static const char *str_or_empty(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : "";
}

static void on_reply(struct host *h, int status, const char *body, size_t len, int64_t now)
{
    json_t *j, *lease;

    int64_t sent = h->sent_ms;

    h->sent_ms = 0;
    if (status != 200) {
        if (measuring && !c_hb_err)
            fprintf(stderr, "bench_heartbeat: a heartbeat answered %d: %.200s\n", status, body);
        c_hb_err += measuring;
        h->next_hb_ms = now + AGENT_WAIT_MS; /* the agent's pause after a failure */
        return;
    }
    c_hb += measuring;
    /* the agent polls again at once, but at most once per 100 ms */
    h->next_hb_ms = sent + AGENT_MIN_GAP_MS > now ? sent + AGENT_MIN_GAP_MS : now;
    if (lease_ready(h) && h->hash[0] && memmem(body, len, h->hash, 64))
        return; /* nothing new */
    j = json_loadb(body, len, 0, NULL);
    snprintf(h->hash, sizeof(h->hash), "%s", str_or_empty(json_object_get(j, "desired_hash")));
    lease = json_object_get(j, "lease");
    if (json_is_object(lease) && !lease_ready(h)) {
        size_t klen = 0;
        unsigned char *k =
            crypto_base64url_decode(str_or_empty(json_object_get(lease, "key")), &klen);
        if (k && klen == LEASE_KEY_LEN) {
            memcpy(h->key, k, LEASE_KEY_LEN);
            lease_port_no = (int)json_integer_value(json_object_get(lease, "port"));
            renew_ms = (int)json_integer_value(json_object_get(lease, "renew_ms"));
            ttl_ms = (int)json_integer_value(json_object_get(lease, "ttl_ms"));
            /* the renewal thread starts using the key (and the settings) after this */
            __atomic_store_n(&h->has_lease, true, __ATOMIC_RELEASE);
        }
        free(k);
    }
    json_decref(j);
}

static void renew(struct host *h, int64_t now)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)lease_port_no)};
    struct lease_msg m = {LEASE_RENEW, h->id, ++h->seq, 0};
    unsigned char buf[LEASE_MSG_LEN];
    int slot = (int)(h->seq % RING);

    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    if (h->ring_ms[slot] && measuring)
        c_missed++; /* still unanswered RING renewals later */
    lease_encode(&m, h->key, buf);
    h->ring_ms[slot] = now;
    h->ring_seq[slot] = h->seq;
    c_sent += measuring;
    (void)sendto(udp[h->id % UDP_SOCKS], buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&sin,
                 sizeof(sin));
}

static struct host *host_by_id(int64_t id, int n)
{
    int i = (int)(id - hosts[0].id);

    return i >= 0 && i < n && hosts[i].id == id ? &hosts[i] : NULL;
}

static void on_grant(int fd, int n, int64_t now)
{
    unsigned char buf[128];
    ssize_t r;

    while ((r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
        struct lease_msg m;
        struct host *h;
        int slot;
        if (lease_peek(buf, (size_t)r, &m) < 0 || m.kind != LEASE_GRANT ||
            !(h = host_by_id(m.host_id, n)) || lease_decode(buf, (size_t)r, h->key, &m) < 0)
            continue;
        slot = (int)(m.seq % RING);
        if (h->ring_seq[slot] != m.seq || !h->ring_ms[slot])
            continue;
        if (now <= h->ring_ms[slot] + ttl_ms)
            c_granted += measuring;
        else
            c_missed += measuring; /* arrived after the lease it granted had run out */
        h->ring_ms[slot] = 0;
    }
}

/* Renewals sent more than ttl_ms ago without a grant count as missed (once). */
static void expire_renewals(struct host *h, int64_t now)
{
    int s;

    for (s = 0; s < RING; s++) {
        if (h->ring_ms[s] && now > h->ring_ms[s] + ttl_ms) {
            c_missed += measuring;
            h->ring_ms[s] = 0;
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* The measuring client: GET /v1/instances as a tenant, GET_HZ per second, each latency kept. */
static void *get_main(void *arg)
{
    int fd = connect_api();
    int64_t next = clock_now_ms();

    (void)arg;
    while (!get_stop) {
        int64_t t0 = clock_now_ns();
        int status = 0;
        char *r = request(fd, "GET", "/v1/instances?limit=20", tenant_token, NULL, &status);
        double ms = (double)(clock_now_ns() - t0) / 1e6;
        if (!r || status != 200) {
            get_err += measuring;
            close(fd);
            fd = connect_api();
        } else if (measuring) {
            if (get_n == get_cap) {
                get_cap = get_cap ? get_cap * 2 : 4096;
                get_ms = realloc(get_ms, get_cap * sizeof(*get_ms));
            }
            get_ms[get_n++] = ms;
        }
        free(r);
        next += 1000 / GET_HZ;
        clock_sleep_ms(next - clock_now_ms());
    }
    close(fd);
    return NULL;
}

/* The churn: churn_hz new instances a second (the tenant's, redis, 100 millicpu, 64 MB), each
 * placed by dbaasd on one of the hosts: a change that dbaasd notifies. They stay provisioning
 * (the simulated agents run nothing). */
static void *churn_main(void *arg)
{
    static int k;
    int fd = connect_api(), status = 0;
    int64_t next;

    (void)arg;
    if (k == 0)
        free(request(fd, "POST", "/v1/plans", op_token,
                     "{\"name\":\"churn\",\"cpu_millis\":100,\"memory_mb\":64,\"disk_mb\":64}",
                     &status));
    next = clock_now_ms();
    while (!get_stop) {
        char body[128], *r;

        snprintf(body, sizeof(body),
                 "{\"name\":\"churn%d\",\"engine\":\"redis\",\"plan\":\"churn\"}", ++k);
        r = request(fd, "POST", "/v1/instances", tenant_token, body, &status);
        if (!r || status != 202) {
            if (measuring && !c_change_err)
                fprintf(stderr, "bench_heartbeat: POST /v1/instances answered %d: %.200s\n", status,
                        r ? r : "");
            c_change_err += measuring;
            close(fd);
            fd = connect_api();
        } else {
            c_changes += measuring;
        }
        free(r);
        next += 1000 / churn_hz;
        clock_sleep_ms(next - clock_now_ms());
    }
    close(fd);
    return NULL;
}

/* Busy and total jiffies of the machine. */
static void cpu_jiffies(unsigned long long *busy, unsigned long long *total)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");

    *busy = *total = 0;
    if (!f)
        return;
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
               &v[5], &v[6], &v[7]) == 8) {
        *total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
        *busy = *total - v[3] - v[4];
    }
    fclose(f);
}

struct result {
    int n;
    double hb_per_s, renew_hz, get_p50, get_p99;
    uint64_t missed, sent, granted, hb_err, get_err;
    double cpu_busy;
    bool ok;
};

static void schedule(int i, int64_t at)
{
    int slot;

    if (at <= wheel_done)
        at = wheel_done + 1;
    hosts[i].next_hb_ms = at;
    slot = (int)(at % WHEEL);
    hosts[i].wheel_next = wheel[slot];
    wheel[slot] = i;
}

/* The renewal thread: every host with a lease renews at its phase of renew_ms; grants are read
 * from the shared UDP sockets; unanswered renewals expire after ttl_ms. */
static volatile bool udp_stop;
static int udp_n;

static void *udp_main(void *arg)
{
    struct epoll_event ev, evs[UDP_SOCKS];
    int64_t mark = clock_now_ms(), last_expire = 0;
    int ep = epoll_create1(EPOLL_CLOEXEC), i, n = udp_n;

    (void)arg;
    for (i = 0; i < UDP_SOCKS; i++) {
        ev.events = EPOLLIN;
        ev.data.u32 = (uint32_t)i;
        epoll_ctl(ep, EPOLL_CTL_ADD, udp[i], &ev);
    }
    while (!udp_stop) {
        int64_t now = clock_now_ms();
        int k, ne;
        for (; mark < now; mark++) {
            int64_t phase = mark % renew_ms;
            /* hosts whose phase is this millisecond: i with i * renew_ms / n == phase */
            int lo = (int)((phase * n + renew_ms - 1) / renew_ms);
            int hi = (int)(((phase + 1) * n + renew_ms - 1) / renew_ms);
            for (i = lo; i < hi && i < n; i++)
                if (lease_ready(&hosts[i]))
                    renew(&hosts[i], mark);
        }
        if (now - last_expire >= 50) {
            for (i = 0; i < n; i++)
                expire_renewals(&hosts[i], now);
            last_expire = now;
        }
        ne = epoll_wait(ep, evs, UDP_SOCKS, 1);
        now = clock_now_ms();
        for (k = 0; k < ne; k++)
            on_grant(udp[evs[k].data.u32], n, now);
    }
    close(ep);
    return NULL;
}

/* Run n agents: WARMUP s to connect and get their leases, then DURATION s measured. */
static struct result run(int n, int warmup_s, int duration_s)
{
    struct epoll_event ev, evs[512];
    struct result res = {.n = n};
    unsigned long long b0 = 0, t0 = 0, b1, t1;
    pthread_t getter, renewer, churner;
    int64_t start = clock_now_ms(), measure_at = start + warmup_s * 1000LL, end;
    int ep = epoll_create1(EPOLL_CLOEXEC), i;

    for (i = 0; i < WHEEL; i++)
        wheel[i] = -1;
    wheel_done = start - 1;
    for (i = 0; i < n; i++) {
        struct host *h = &hosts[i];
        h->fd = -1;
        h->inlen = 0;
        h->sent_ms = 0;
        h->has_lease = false;
        memset(h->ring_ms, 0, sizeof(h->ring_ms));
        /* agents start spread over the warm-up's first half */
        schedule(i, start + (int64_t)i * (warmup_s * 500LL) / n);
    }
    c_hb = c_hb_err = c_sent = c_granted = c_missed = 0;
    get_n = 0;
    get_err = 0;
    c_changes = c_change_err = 0;
    measuring = false;
    get_stop = udp_stop = false;
    udp_n = n;
    pthread_create(&getter, NULL, get_main, NULL);
    pthread_create(&renewer, NULL, udp_main, NULL);
    if (churn_hz > 0)
        pthread_create(&churner, NULL, churn_main, NULL);
    end = measure_at + duration_s * 1000LL;
    for (;;) {
        int64_t now = clock_now_ms();
        int k, ne;
        if (!measuring && now >= measure_at) {
            cpu_jiffies(&b0, &t0);
            measuring = true;
        }
        if (now >= end || interrupted)
            break;
        /* the heartbeats due */
        for (; wheel_done < now; wheel_done++) {
            int slot = (int)((wheel_done + 1) % WHEEL), next;
            for (i = wheel[slot], wheel[slot] = -1; i >= 0; i = next) {
                struct host *h = &hosts[i];
                next = h->wheel_next;
                if (h->next_hb_ms > wheel_done + 1) {
                    schedule(i, h->next_hb_ms); /* a later turn of the wheel */
                    continue;
                }
                if (h->fd < 0) {
                    h->fd = connect_api();
                    if (h->fd < 0) {
                        c_hb_err += measuring;
                        schedule(i, now + AGENT_WAIT_MS);
                        continue;
                    }
                    fcntl(h->fd, F_SETFL, O_NONBLOCK);
                    ev.events = EPOLLIN;
                    ev.data.u64 = (uint64_t)i;
                    epoll_ctl(ep, EPOLL_CTL_ADD, h->fd, &ev);
                }
                send_heartbeat(h, now);
                if (!h->sent_ms)
                    schedule(i, h->next_hb_ms);
            }
        }
        ne = epoll_wait(ep, evs, 512, 1);
        now = clock_now_ms();
        for (k = 0; k < ne; k++) {
            struct host *h = &hosts[evs[k].data.u64];
            int hi = (int)evs[k].data.u64;
            ssize_t r;
            if (h->incap - h->inlen < 4096) {
                h->incap = h->incap ? h->incap * 2 : 8192;
                if (!(h->in = realloc(h->in, h->incap)))
                    die("realloc");
            }
            r = read(h->fd, h->in + h->inlen, h->incap - 1 - h->inlen);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN)
                    continue;
                epoll_ctl(ep, EPOLL_CTL_DEL, h->fd, NULL);
                close(h->fd);
                h->fd = -1;
                h->inlen = 0;
                if (h->sent_ms) {
                    h->sent_ms = 0;
                    schedule(hi, now + AGENT_WAIT_MS);
                }
                c_hb_err += measuring;
                continue;
            }
            h->inlen += (size_t)r;
            for (;;) {
                int status;
                const char *body;
                size_t len = response_len(h->in, h->inlen, &status, &body);
                if (!len)
                    break;
                on_reply(h, status, body, len - (size_t)(body - h->in), now);
                schedule(hi, h->next_hb_ms);
                memmove(h->in, h->in + len, h->inlen - len);
                h->inlen -= len;
            }
        }
    }
    cpu_jiffies(&b1, &t1);
    measuring = false;
    get_stop = udp_stop = true;
    pthread_join(getter, NULL);
    pthread_join(renewer, NULL);
    if (churn_hz > 0)
        pthread_join(churner, NULL);
    for (i = 0; i < n; i++) {
        if (hosts[i].fd >= 0)
            close(hosts[i].fd);
        hosts[i].fd = -1;
    }
    close(ep);
    qsort(get_ms, get_n, sizeof(*get_ms), cmp_double);
    res.hb_per_s = (double)c_hb / duration_s;
    res.renew_hz = (double)c_sent / duration_s;
    res.get_p50 = get_n ? get_ms[get_n / 2] : 0;
    res.get_p99 = get_n ? get_ms[(get_n * 99 + 99) / 100 - 1] : 1e9;
    res.missed = c_missed;
    res.sent = c_sent;
    res.granted = c_granted;
    res.hb_err = c_hb_err;
    res.get_err = get_err;
    res.cpu_busy = t1 > t0 ? 100.0 * (double)(b1 - b0) / (double)(t1 - t0) : 0;
    res.ok = res.missed == 0 && res.get_p99 < GET_P99_MAX_MS && res.hb_err == 0 &&
             res.get_err == 0 && res.sent > 0 && c_change_err == 0;
    printf("step hosts=%d heartbeats_per_s=%.0f renewals_sent=%llu granted=%llu missed=%llu "
           "get_p50_ms=%.2f get_p99_ms=%.2f gets=%zu errors=%llu cpu_busy=%.0f%% %s\n",
           n, res.hb_per_s, (unsigned long long)res.sent, (unsigned long long)res.granted,
           (unsigned long long)res.missed, res.get_p50, res.get_p99, get_n,
           (unsigned long long)(res.hb_err + res.get_err), res.cpu_busy, res.ok ? "ok" : "FAIL");
    if (churn_hz > 0)
        printf("churn changes=%llu errors=%llu per_s=%.1f\n", (unsigned long long)c_changes,
               (unsigned long long)c_change_err, (double)c_changes / duration_s);
    fflush(stdout);
    return res;
}

int main(void)
{
    const char *env_hosts = getenv("HOSTS"), *env_dur = getenv("DURATION");
    int duration = env_dur ? atoi(env_dur) : 60;
    int warmup = getenv("WARMUP") ? atoi(getenv("WARMUP")) : 30;
    const char *env_churn = getenv("CHURN");
    int lo = 0, hi = MAX_HOSTS, n, i;
    struct result best = {0}, last = {0};
    struct rlimit nofile;
    char dir[] = "/tmp/bench-hb-XXXXXX";
    pid_t pid;
    int status;

    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    if (!mkdtemp(dir))
        die("mkdtemp");
    chmod(dir, 0755);
    api_port = 18000 + (int)(getpid() % 2000);
    hosts = calloc(MAX_HOSTS, sizeof(*hosts));
    pid = start_dbaasd(dir);
    for (i = 0; i < UDP_SOCKS; i++) {
        int size = 4 << 20;
        udp[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (udp[i] < 0)
            die("socket");
        /* beyond net.core.rmem_max when root: grants must not be lost in our own buffers */
        if (setsockopt(udp[i], SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
            (void)setsockopt(udp[i], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
    tenant_setup();
    churn_hz = env_churn ? atoi(env_churn) : 0;
    if (churn_hz < 0 || churn_hz > 100) {
        fprintf(stderr, "bench_heartbeat: CHURN must be from 0 to 100\n");
        return 2;
    }
    n = env_hosts ? atoi(env_hosts) : MAX_HOSTS;
    if (n < 1 || n > MAX_HOSTS) {
        fprintf(stderr, "bench_heartbeat: HOSTS must be from 1 to %d\n", MAX_HOSTS);
        return 2;
    }
    printf("bench_heartbeat: dbaasd pid %d on 127.0.0.1:%d, data %s; %d s warm-up, %d s "
           "measured per step\n",
           (int)pid, api_port, dir, warmup, duration);
    fflush(stdout);
    for (;;) {
        struct result r;
        if (n > nhosts_registered) {
            int64_t t = clock_now_ms();
            register_hosts(n);
            printf("registered %d hosts in %.1f s\n", n, (double)(clock_now_ms() - t) / 1000);
            fflush(stdout);
            /* ids are consecutive from the first host's (bigserial, fresh store) */
            for (i = 0; i < n; i++)
                hosts[i].id = i + 1;
        }
        r = run(n, warmup, duration);
        last = r;
        if (r.ok) {
            best = r;
            lo = n;
        } else {
            hi = n;
        }
        /* one N asked for, or the largest N found within 5% (at least 100 hosts) */
        if (env_hosts || interrupted || hi - lo <= (hi / 20 > 100 ? hi / 20 : 100))
            break;
        n = lo + (hi - lo) / 2;
        if (lo == 0 && hi == MAX_HOSTS)
            n = MAX_HOSTS / 2;
    }
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    if (fork() == 0) {
        execlp("rm", "rm", "-rf", dir, (char *)NULL);
        _exit(127);
    }
    wait(NULL);
    if (!best.ok) {
        best = last;
        best.n = 0;
    }
    printf("hosts=%d renew_hz=%.0f get_p99_ms=%.1f missed_renewals=%llu\n", best.n, best.renew_hz,
           best.get_p99, (unsigned long long)best.missed);
    return 0;
}
