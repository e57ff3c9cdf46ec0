/* Leases in dbaasd: the UDP renewal server, the keys, the leader's view of renewals and the
 * HA settings cache (lease.h). docs/ha.md, "Failure model", describes the protocol; lib/lease.h
 * the datagrams.
 *
 * NOTES: the receiver thread owns the socket and never touches the store; the keeper thread
 * runs every statement (its own thread-local store connection), except lease_host_key(), which
 * runs on the calling HTTP worker. `lock` guards the table, the settings and the counters'
 * consistency with them; it is never held across a system call or a statement. */
#include "control/lease.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control/errc.h"
#include "control/leader.h"
#include "control/leasetab.h"
#include "lib/clock.h"
#include "lib/crypto.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/store.h"

#define BATCH 64           /* datagrams per recvmmsg/sendmmsg */
#define TICK_MS 100        /* the keeper's period */
#define FLUSH_RENEW_MS 200 /* a non-leader hands its renewals to the store */
#define POLL_RENEW_MS 100  /* the leader reads them (every tick) */
#define FLUSH_SEEN_MS 1000 /* heartbeat arrival times to host_seen; settings refresh */
#define RELOAD_KEYS_MS 30000
#define FLUSH_MAX 4096 /* rows per flush statement */

static const char sql_key_get[] =
    "WITH i AS (INSERT INTO host_lease_keys (host_id, key)"
    "  SELECT $1::bigint, decode($2, 'hex') WHERE EXISTS (SELECT 1 FROM hosts WHERE id = "
    "$1::bigint)"
    "  ON CONFLICT (host_id) DO NOTHING RETURNING key)"
    " SELECT encode(key, 'hex') FROM i"
    " UNION ALL SELECT encode(key, 'hex') FROM host_lease_keys WHERE host_id = $1::bigint";
static const char sql_keys_all[] = "SELECT host_id, encode(key, 'hex') FROM host_lease_keys";
static const char sql_settings_exist[] = "SELECT to_regclass('ha_settings') IS NOT NULL";
static const char sql_settings[] =
    "SELECT renew_ms, lease_ttl_ms, fence_margin_ms, grace_ms, failover_cooldown_ms"
    " FROM ha_settings LIMIT 1";
/* Arrival times as ages in ms at the statement's now(): the two clocks never mix. */
static const char sql_seen_flush[] =
    "INSERT INTO host_seen (host_id, at)"
    " SELECT u.h, now() - make_interval(secs => u.a / 1000.0)"
    " FROM unnest($1::bigint[], $2::bigint[]) AS u(h, a)"
    " ON CONFLICT (host_id) DO UPDATE SET at = greatest(host_seen.at, excluded.at)";
/* A non-leader adds the renewals it granted; v (one value per flush) lets the leader read only
 * the rows that moved. */
static const char sql_renew_flush[] =
    "WITH s AS (SELECT nextval('host_renewals_v') AS v)"
    " INSERT INTO host_renewals (host_id, renewals, v)"
    " SELECT u.h, u.c, s.v FROM s, unnest($1::bigint[], $2::bigint[]) AS u(h, c)"
    " ON CONFLICT (host_id) DO UPDATE SET renewals = host_renewals.renewals + excluded.renewals,"
    " v = excluded.v";
/* Rows that moved since the last poll; a window of 64 flushes back covers flushes that
 * committed out of order (a counter read twice is counted once). */
static const char sql_renew_poll[] =
    "SELECT host_id, renewals, v FROM host_renewals WHERE v > $1::bigint - 64";

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct leasetab *tab;
static unsigned key_mark = 1;
static struct ha_settings settings = {LEASE_DEFAULT_RENEW_MS, LEASE_DEFAULT_TTL_MS,
                                      LEASE_DEFAULT_FENCE_MARGIN_MS, LEASE_DEFAULT_GRACE_MS,
                                      LEASE_DEFAULT_COOLDOWN_MS};

/* Renewals granted before this time (monotonic ms) are counted by the leader, or will be: now
 * while this dbaasd leads validly (its own grants are in its memory, and a new leader, which
 * takes over only after this one stopped being valid, counts every host as renewed then);
 * otherwise when the counts of its last flush to the store that succeeded were taken. A grant
 * ends by this time + ttl + margin (lease_grant_ttl()): a non-leader cut off from the store
 * grants shorter and shorter leases, then none, instead of leases the leader never counts.
 * Atomic. */
static int64_t recorded_ms;

static void note_recorded(int64_t t)
{
    int64_t cur = __atomic_load_n(&recorded_ms, __ATOMIC_ACQUIRE);

    while (t > cur &&
           !__atomic_compare_exchange_n(&recorded_ms, &cur, t, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
        ;
}

static int sock = -1;
static int bound_port;
static pthread_t rx_thread, keeper_thread;
static bool rx_running, keeper_running;
static volatile bool stopping;

/* Counters (atomic adds). */
static uint64_t n_granted, n_malformed, n_unknown, n_bad_mac, n_replay, n_send_failed,
    n_unrecorded;

static void count(uint64_t *c, uint64_t n)
{
    __atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

static uint64_t counter(uint64_t *c)
{
    return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* Decode 64 hex digits into key. 0 / -1. */
static int key_from_hex(const char *hex, unsigned char key[LEASE_KEY_LEN])
{
    int i;

    if (strlen(hex) != 2 * LEASE_KEY_LEN)
        return -1;
    for (i = 0; i < LEASE_KEY_LEN; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        key[i] = (unsigned char)v;
    }
    return 0;
}

static void key_to_hex(const unsigned char key[LEASE_KEY_LEN], char hex[2 * LEASE_KEY_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    int i;

    for (i = 0; i < LEASE_KEY_LEN; i++) {
        hex[2 * i] = digits[key[i] >> 4];
        hex[2 * i + 1] = digits[key[i] & 15];
    }
    hex[2 * LEASE_KEY_LEN] = '\0';
}

int lease_host_key(int64_t host_id, unsigned char key[LEASE_KEY_LEN], struct err *e)
{
    unsigned char fresh[LEASE_KEY_LEN];
    char hex[2 * LEASE_KEY_LEN + 1], id[24];
    PGresult *res = NULL;
    bool known;
    int rc = -1;

    pthread_mutex_lock(&lock);
    known = tab && leasetab_get_key(tab, host_id, key);
    pthread_mutex_unlock(&lock);
    if (known)
        return 0;
    if (crypto_random(fresh, sizeof(fresh)) < 0)
        return err_set(e, API_E_SYSTEM, "could not generate a lease key");
    key_to_hex(fresh, hex);
    snprintf(id, sizeof(id), "%lld", (long long)host_id);
    /* Twice: when another request made the key meanwhile, the insert waits for it and does
     * nothing, and the statement's snapshot may not show it yet; the next one does. */
    for (int attempt = 0; attempt < 2; attempt++) {
        PQclear(res);
        res = store_exec(e, sql_key_get, 2, (const char *const[]){id, hex});
        if (!res)
            goto out;
        if (!store_ok(res) || PQntuples(res) > 0)
            break;
    }
    if (!store_ok(res) || PQntuples(res) < 1 || key_from_hex(PQgetvalue(res, 0, 0), key) < 0) {
        /* Never the store's message: it may quote the key. */
        err_set(e, API_E_STORE, "could not read the lease key of host %lld (sqlstate %s)",
                (long long)host_id, store_sqlstate(res));
        goto out;
    }
    pthread_mutex_lock(&lock);
    if (tab)
        leasetab_set_key(tab, host_id, key, key_mark);
    pthread_mutex_unlock(&lock);
    rc = 0;
out:
    explicit_bzero(fresh, sizeof(fresh));
    explicit_bzero(hex, sizeof(hex));
    PQclear(res);
    return rc;
}

void lease_note_heartbeat(int64_t host_id)
{
    int64_t now = clock_now_ms();

    pthread_mutex_lock(&lock);
    if (tab)
        leasetab_note_heartbeat(tab, host_id, now);
    pthread_mutex_unlock(&lock);
}

int64_t lease_last_renewal_ms(int64_t host_id)
{
    int64_t ms;

    pthread_mutex_lock(&lock);
    ms = tab ? leasetab_last_renewal(tab, host_id) : -1;
    pthread_mutex_unlock(&lock);
    return ms;
}

void lease_note_takeover(void)
{
    int64_t now = clock_now_ms();

    pthread_mutex_lock(&lock);
    if (tab)
        leasetab_touch_all(tab, now);
    pthread_mutex_unlock(&lock);
    log_info("event=lease_takeover note=\"every known host counts as renewed now\"");
}

void lease_settings(struct ha_settings *out)
{
    pthread_mutex_lock(&lock);
    *out = settings;
    pthread_mutex_unlock(&lock);
}

int lease_port(void)
{
    return bound_port;
}

void lease_metrics(struct buf *out)
{
    buf_printf(out,
               "# HELP dbaas_lease_datagrams_total Lease datagrams received, by outcome.\n"
               "# TYPE dbaas_lease_datagrams_total counter\n"
               "dbaas_lease_datagrams_total{outcome=\"granted\"} %llu\n"
               "dbaas_lease_datagrams_total{outcome=\"malformed\"} %llu\n"
               "dbaas_lease_datagrams_total{outcome=\"unknown_host\"} %llu\n"
               "dbaas_lease_datagrams_total{outcome=\"bad_mac\"} %llu\n"
               "dbaas_lease_datagrams_total{outcome=\"replayed\"} %llu\n"
               "dbaas_lease_datagrams_total{outcome=\"unrecorded\"} %llu\n"
               "# HELP dbaas_lease_grants_unsent_total Grants the socket did not take.\n"
               "# TYPE dbaas_lease_grants_unsent_total counter\n"
               "dbaas_lease_grants_unsent_total %llu\n",
               (unsigned long long)counter(&n_granted), (unsigned long long)counter(&n_malformed),
               (unsigned long long)counter(&n_unknown), (unsigned long long)counter(&n_bad_mac),
               (unsigned long long)counter(&n_replay), (unsigned long long)counter(&n_unrecorded),
               (unsigned long long)counter(&n_send_failed));
}

/* The receiver: batches of renewals in, batches of grants out. */
static void *rx_main(void *arg)
{
    static unsigned char in[BATCH][128], out[BATCH][LEASE_MSG_LEN];
    struct mmsghdr msgs[BATCH], replies[BATCH];
    struct sockaddr_in from[BATCH];
    struct iovec iov[BATCH], riov[BATCH];
    unsigned char key[LEASE_KEY_LEN];
    int i;

    (void)arg;
    memset(msgs, 0, sizeof(msgs));
    for (i = 0; i < BATCH; i++) {
        iov[i].iov_base = in[i];
        iov[i].iov_len = sizeof(in[i]);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &from[i];
    }
    while (!stopping) {
        int n, nout = 0;
        int64_t now;
        uint32_t ttl;
        uint64_t granted = 0, malformed = 0, unknown = 0, bad = 0, replay = 0, unrecorded = 0;

        for (i = 0; i < BATCH; i++)
            msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
        n = recvmmsg(sock, msgs, BATCH, MSG_WAITFORONE, NULL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_warn("event=lease_recv_failed error=\"%s\"", strerror(errno));
            continue;
        }
        now = clock_now_ms();
        if (leader_valid())
            note_recorded(now);
        pthread_mutex_lock(&lock);
        ttl = lease_grant_ttl((uint32_t)settings.lease_ttl_ms, (uint32_t)settings.fence_margin_ms,
                              now - __atomic_load_n(&recorded_ms, __ATOMIC_ACQUIRE));
        for (i = 0; i < n; i++) {
            struct lease_msg m;
            enum leasetab_verdict v = leasetab_renew(tab, in[i], msgs[i].msg_len, now, &m, key);
            if (v != LEASETAB_GRANTED) {
                malformed += v == LEASETAB_MALFORMED;
                unknown += v == LEASETAB_UNKNOWN;
                bad += v == LEASETAB_BAD_MAC;
                replay += v == LEASETAB_REPLAY;
                continue;
            }
            if (ttl == 0) {
                /* counted in the table (flushed when the store is back: the leader then
                 * counts a renewal the agent never got, which only delays its verdict) */
                unrecorded++;
                continue;
            }
            m.kind = LEASE_GRANT;
            m.ttl_ms = ttl;
            lease_encode(&m, key, out[nout]);
            memset(&replies[nout], 0, sizeof(replies[nout]));
            riov[nout].iov_base = out[nout];
            riov[nout].iov_len = LEASE_MSG_LEN;
            replies[nout].msg_hdr.msg_iov = &riov[nout];
            replies[nout].msg_hdr.msg_iovlen = 1;
            replies[nout].msg_hdr.msg_name = &from[i];
            replies[nout].msg_hdr.msg_namelen = msgs[i].msg_hdr.msg_namelen;
            nout++;
            granted++;
        }
        pthread_mutex_unlock(&lock);
        explicit_bzero(key, sizeof(key));
        count(&n_granted, granted);
        count(&n_malformed, malformed);
        count(&n_unknown, unknown);
        count(&n_bad_mac, bad);
        count(&n_replay, replay);
        count(&n_unrecorded, unrecorded);
        for (i = 0; i < nout;) {
            int sent = sendmmsg(sock, replies + i, (unsigned)(nout - i), 0);
            if (sent <= 0) {
                /* a full socket buffer or an unreachable peer: that grant is lost, as on a
                 * lossy network; the agent renews again */
                count(&n_send_failed, 1);
                i++;
                continue;
            }
            i += sent;
        }
    }
    return NULL;
}

/* Run a statement on the keeper's connection; false (logged once per kind) when it failed. */
static PGresult *keeper_exec(const char *sql, const char *what, int n, const char *const *params)
{
    struct err e;
    PGresult *res = store_exec(&e, sql, n, params);

    if (!res) {
        log_warn("event=lease_store_failed what=\"%s\" error=\"%s\"", what, e.msg);
        return NULL;
    }
    if (!store_ok(res)) {
        log_warn("event=lease_store_failed what=\"%s\" sqlstate=%s", what, store_sqlstate(res));
        PQclear(res);
        return NULL;
    }
    return res;
}

/* Reload every key from the store; hosts whose key is gone leave the table. */
static void reload_keys(void)
{
    PGresult *res = keeper_exec(sql_keys_all, "load lease keys", 0, NULL);
    unsigned char key[LEASE_KEY_LEN];
    unsigned mark;
    int i;

    if (!res)
        return;
    pthread_mutex_lock(&lock);
    mark = ++key_mark;
    pthread_mutex_unlock(&lock);
    /* Rows read before the mark moved may miss a key a worker adds now: that worker sets it
     * with the new mark after its commit, so the sweep keeps it. */
    for (i = 0; i < PQntuples(res); i++) {
        if (key_from_hex(PQgetvalue(res, i, 1), key) < 0)
            continue;
        pthread_mutex_lock(&lock);
        leasetab_set_key(tab, strtoll(PQgetvalue(res, i, 0), NULL, 10), key, mark);
        pthread_mutex_unlock(&lock);
    }
    explicit_bzero(key, sizeof(key));
    PQclear(res);
    pthread_mutex_lock(&lock);
    leasetab_sweep(tab, mark);
    pthread_mutex_unlock(&lock);
}

static int setting(const PGresult *res, int col, int fallback)
{
    long v = PQgetisnull(res, 0, col) ? fallback : strtol(PQgetvalue(res, 0, col), NULL, 10);

    return v > 0 && v <= 3600000 ? (int)v : fallback;
}

static void reload_settings(void)
{
    struct ha_settings s = {LEASE_DEFAULT_RENEW_MS, LEASE_DEFAULT_TTL_MS,
                            LEASE_DEFAULT_FENCE_MARGIN_MS, LEASE_DEFAULT_GRACE_MS,
                            LEASE_DEFAULT_COOLDOWN_MS};
    PGresult *res = keeper_exec(sql_settings_exist, "check ha_settings", 0, NULL);
    bool exists = res && PQgetvalue(res, 0, 0)[0] == 't';

    PQclear(res);
    if (!res)
        return;
    if (exists) {
        res = keeper_exec(sql_settings, "read ha_settings", 0, NULL);
        if (!res)
            return;
        if (PQntuples(res) == 1) {
            s.renew_ms = setting(res, 0, s.renew_ms);
            s.lease_ttl_ms = setting(res, 1, s.lease_ttl_ms);
            s.fence_margin_ms = setting(res, 2, s.fence_margin_ms);
            s.grace_ms = setting(res, 3, s.grace_ms);
            s.failover_cooldown_ms = setting(res, 4, s.failover_cooldown_ms);
        }
        PQclear(res);
    }
    pthread_mutex_lock(&lock);
    settings = s;
    pthread_mutex_unlock(&lock);
}

/* Two int64 arrays as PostgreSQL array literals. */
static void arrays(const int64_t *a, const int64_t *b, size_t n, struct buf *ta, struct buf *tb)
{
    size_t i;

    buf_reset(ta);
    buf_reset(tb);
    buf_puts(ta, "{");
    buf_puts(tb, "{");
    for (i = 0; i < n; i++) {
        buf_printf(ta, "%s%lld", i ? "," : "", (long long)a[i]);
        buf_printf(tb, "%s%lld", i ? "," : "", (long long)b[i]);
    }
    buf_puts(ta, "}");
    buf_puts(tb, "}");
}

static void flush_seen(int64_t *ids, int64_t *vals, struct buf *ta, struct buf *tb)
{
    for (;;) {
        size_t n;
        PGresult *res;

        pthread_mutex_lock(&lock);
        n = leasetab_take_heartbeats(tab, clock_now_ms(), ids, vals, FLUSH_MAX);
        pthread_mutex_unlock(&lock);
        if (n == 0)
            return;
        arrays(ids, vals, n, ta, tb);
        res = keeper_exec(sql_seen_flush, "record heartbeats", 2,
                          (const char *const[]){buf_str(ta), buf_str(tb)});
        PQclear(res);
        if (n < FLUSH_MAX)
            return;
    }
}

/* Hand the renewals granted since the last flush to the store; when every statement went
 * through (with nothing to hand, when the store answers), the grants made before the counts
 * were taken are recorded. */
static void flush_renewals(int64_t *ids, int64_t *vals, struct buf *ta, struct buf *tb)
{
    int64_t taken = clock_now_ms();

    for (;;) {
        size_t n;
        PGresult *res;

        pthread_mutex_lock(&lock);
        n = leasetab_take_renewals(tab, ids, vals, FLUSH_MAX);
        pthread_mutex_unlock(&lock);
        if (n == 0) {
            res = keeper_exec("SELECT 1", "reach the store", 0, NULL);
        } else {
            arrays(ids, vals, n, ta, tb);
            /* On failure these counts are lost: the next renewals advance the counter again. */
            res = keeper_exec(sql_renew_flush, "record renewals", 2,
                              (const char *const[]){buf_str(ta), buf_str(tb)});
        }
        if (!res)
            return;
        PQclear(res);
        if (n < FLUSH_MAX) {
            note_recorded(taken);
            return;
        }
    }
}

static void poll_renewals(int64_t *max_v)
{
    char after[24];
    PGresult *res;
    int64_t now;
    int i;

    snprintf(after, sizeof(after), "%lld", (long long)*max_v);
    res = keeper_exec(sql_renew_poll, "read renewals", 1, (const char *const[]){after});
    if (!res)
        return;
    now = clock_now_ms();
    pthread_mutex_lock(&lock);
    for (i = 0; i < PQntuples(res); i++) {
        int64_t v = strtoll(PQgetvalue(res, i, 2), NULL, 10);
        leasetab_note_remote(tab, strtoll(PQgetvalue(res, i, 0), NULL, 10),
                             strtoll(PQgetvalue(res, i, 1), NULL, 10), now);
        if (v > *max_v)
            *max_v = v;
    }
    pthread_mutex_unlock(&lock);
    PQclear(res);
}

static void *keeper_main(void *arg)
{
    int64_t *ids = xcalloc(FLUSH_MAX, sizeof(*ids)), *vals = xcalloc(FLUSH_MAX, sizeof(*vals));
    int64_t last_seen = 0, last_flush = 0, last_keys = clock_now_ms(), max_v = 0;
    uint64_t unknown_seen = counter(&n_unknown);
    struct buf ta = BUF_INIT, tb = BUF_INIT;

    (void)arg;
    while (!stopping) {
        int64_t now = clock_now_ms();
        bool leading = leader_leading();

        if (leading) {
            /* The leader has the renewals it granted in memory (dropped here, so that a later
             * loss of leadership does not flush old ones); other dbaasd's from the store. */
            pthread_mutex_lock(&lock);
            while (leasetab_take_renewals(tab, ids, vals, FLUSH_MAX) == FLUSH_MAX)
                ;
            pthread_mutex_unlock(&lock);
            poll_renewals(&max_v);
        } else if (now - last_flush >= FLUSH_RENEW_MS) {
            flush_renewals(ids, vals, &ta, &tb);
            last_flush = now;
        }
        if (now - last_seen >= FLUSH_SEEN_MS) {
            flush_seen(ids, vals, &ta, &tb);
            reload_settings();
            last_seen = now;
        }
        /* A renewal from a host whose key another dbaasd made: load it (at most every second). */
        if (now - last_keys >= RELOAD_KEYS_MS ||
            (counter(&n_unknown) != unknown_seen && now - last_keys >= 1000)) {
            unknown_seen = counter(&n_unknown);
            reload_keys();
            last_keys = now;
        }
        clock_sleep_ms(TICK_MS - (clock_now_ms() - now));
    }
    flush_seen(ids, vals, &ta, &tb);
    buf_free(&ta);
    buf_free(&tb);
    free(ids);
    free(vals);
    return NULL;
}

static int start_thread(pthread_t *t, void *(*fn)(void *), struct err *e)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(t, NULL, fn, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return err_set(e, API_E_SYSTEM, "could not start a lease thread: error %d", rc);
    return 0;
}

/* Bind the UDP socket on addr:port. 0 / -1 with e set. */
static int open_socket(const char *addr, int port, struct err *e)
{
    struct sockaddr_in sin;
    struct timeval tv = {0, 200000};
    int size = 4 << 20;
    socklen_t len = sizeof(sin);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
        return err_set(e, API_E_INVALID, "invalid IPv4 address \"%s\" for the lease port", addr);
    sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return err_set(e, API_E_SYSTEM, "could not create the lease socket: %s", strerror(errno));
    /* Bursts of 10,000 hosts renewing: room for a few hundred ms of them, beyond
     * net.core.rmem_max/wmem_max when we may (CAP_NET_ADMIN). */
    if (setsockopt(sock, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
        (void)setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    if (setsockopt(sock, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
        (void)setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    (void)setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (bind(sock, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        getsockname(sock, (struct sockaddr *)&sin, &len) < 0) {
        err_set(e, API_E_SYSTEM, "could not listen for leases on udp %s:%d: %s", addr, port,
                strerror(errno));
        close(sock);
        sock = -1;
        return -1;
    }
    bound_port = ntohs(sin.sin_port);
    return 0;
}

int lease_start(const char *addr, int port, struct err *e)
{
    pthread_mutex_lock(&lock);
    if (!tab)
        tab = leasetab_new();
    pthread_mutex_unlock(&lock);
    stopping = false;
    reload_keys();
    reload_settings();
    if (port > 0 && open_socket(addr, port, e) < 0)
        return -1;
    if (sock >= 0) {
        if (start_thread(&rx_thread, rx_main, e) < 0)
            return -1;
        rx_running = true;
    }
    if (start_thread(&keeper_thread, keeper_main, e) < 0)
        return -1;
    keeper_running = true;
    return 0;
}

void lease_stop(void)
{
    stopping = true;
    if (rx_running)
        pthread_join(rx_thread, NULL);
    if (keeper_running)
        pthread_join(keeper_thread, NULL);
    rx_running = keeper_running = false;
    if (sock >= 0)
        close(sock);
    sock = -1;
    bound_port = 0;
    pthread_mutex_lock(&lock);
    leasetab_free(tab);
    tab = NULL;
    pthread_mutex_unlock(&lock);
}
