/* Members as the agent knows them, and their persistence. */
#include "agent/member.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "lib/fileio.h"
#include "lib/xalloc.h"

static void copy_str(char *dst, size_t n, const json_t *v)
{
    snprintf(dst, n, "%s", json_is_string(v) ? json_string_value(v) : "");
}

/* ---- replication fields ---- */

/* The replication fields of a desired entry (or of a persisted record: same names). */
struct repl_fields {
    struct member_peer primary;
    const char *user;             /* borrowed from the JSON; "" none */
    const char *secret;           /* borrowed; "" none */
    struct member_peer *replicas; /* owned */
    int n_replicas;
    struct member_peer seed; /* id unused */
};

static const char *str_or_empty(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : "";
}

/* A peer {id, host, port} (need_id: id must be > 0). */
static bool peer_valid(const json_t *p, bool need_id)
{
    const json_t *host = json_object_get(p, HB_F_HOST), *port = json_object_get(p, HB_F_PORT);

    if (!json_is_object(p) || !json_is_string(host) || json_string_length(host) == 0 ||
        json_string_length(host) >= MEMBER_HOST_MAX || !json_is_integer(port) ||
        json_integer_value(port) < 1 || json_integer_value(port) > 65535)
        return false;
    return !need_id || (json_is_integer(json_object_get(p, HB_F_ID)) &&
                        json_integer_value(json_object_get(p, HB_F_ID)) > 0);
}

static void read_peer(struct member_peer *out, const json_t *p)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(p))
        return;
    out->id = json_integer_value(json_object_get(p, HB_F_ID));
    copy_str(out->host, sizeof(out->host), json_object_get(p, HB_F_HOST));
    out->port = (int)json_integer_value(json_object_get(p, HB_F_PORT));
}

static void read_repl(struct repl_fields *r, const json_t *d)
{
    const json_t *repl = json_object_get(d, HB_F_REPLICATION),
                 *list = json_object_get(d, HB_F_REPLICAS);
    size_t i;
    json_t *p;

    memset(r, 0, sizeof(*r));
    read_peer(&r->primary, json_object_get(d, HB_F_PRIMARY));
    r->user = str_or_empty(json_object_get(repl, HB_F_USER));
    r->secret = str_or_empty(json_object_get(repl, HB_F_SECRET));
    read_peer(&r->seed, json_object_get(d, HB_F_SEED));
    if (json_is_array(list) && json_array_size(list) > 0) {
        r->replicas = xcalloc(json_array_size(list), sizeof(*r->replicas));
        json_array_foreach(list, i, p)
        {
            if (peer_valid(p, true))
                read_peer(&r->replicas[r->n_replicas++], p);
        }
    }
}

static bool peer_equal(const struct member_peer *a, const struct member_peer *b)
{
    return a->id == b->id && a->port == b->port && strcmp(a->host, b->host) == 0;
}

/* Whether r differs from m's replication fields (the role compared by the caller). */
static bool repl_differs(const struct member *m, const struct repl_fields *r)
{
    if (!peer_equal(&m->primary, &r->primary) || strcmp(m->repl_user, r->user) != 0 ||
        strcmp(m->repl_secret ? m->repl_secret : "", r->secret) != 0 ||
        m->n_replicas != r->n_replicas || strcmp(m->seed_host, r->seed.host) != 0 ||
        m->seed_port != r->seed.port)
        return true;
    for (int i = 0; i < r->n_replicas; i++)
        if (!peer_equal(&m->replicas[i], &r->replicas[i]))
            return true;
    return false;
}

static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* Take r into m (r->replicas is stolen). */
static void take_repl(struct member *m, struct repl_fields *r)
{
    m->primary = r->primary;
    snprintf(m->repl_user, sizeof(m->repl_user), "%s", r->user);
    if (!m->repl_secret || strcmp(m->repl_secret, r->secret) != 0) {
        free_secret(m->repl_secret);
        m->repl_secret = xstrdup(r->secret);
    }
    free(m->replicas);
    m->replicas = r->replicas;
    m->n_replicas = r->n_replicas;
    r->replicas = NULL;
    snprintf(m->seed_host, sizeof(m->seed_host), "%s", r->seed.host);
    m->seed_port = r->seed.port;
}

bool member_repl_differs(const struct member *m, const json_t *d)
{
    struct repl_fields r;
    char role[16];
    bool differs;

    copy_str(role, sizeof(role), json_object_get(d, HB_F_ROLE));
    read_repl(&r, d);
    differs = strcmp(role, m->role) != 0 || repl_differs(m, &r);
    free(r.replicas);
    return differs;
}

bool member_is_replica(const struct member *m)
{
    return strcmp(m->role, HB_ROLE_REPLICA) == 0;
}

int member_serves_seed(const struct member *m, int64_t replica, struct err *e)
{
    if (m->state != HB_RUNNING || !m->want_running || member_is_replica(m) || !m->repl_secret ||
        !m->repl_secret[0])
        return err_set(e, AGENT_E_DENIED, "member %lld is not a running primary of this agent",
                       (long long)m->id);
    for (int i = 0; i < m->n_replicas; i++) {
        if (m->replicas[i].id != replica)
            continue;
        if (m->sync && m->repl_dirty)
            /* Its engine does not wait for this replica yet (PostgreSQL's standby names,
             * MariaDB's master side): a write acknowledged between the copy's start and that
             * would be on no replica. The replica's agent asks again. */
            return err_set(e, AGENT_E_DENIED,
                           "member %lld has not applied its replicas' list yet (sync)",
                           (long long)m->id);
        return 0;
    }
    return err_set(e, AGENT_E_DENIED, "member %lld is not one of member %lld's replicas",
                   (long long)replica, (long long)m->id);
}

bool member_fenceable(const struct member *m)
{
    return !member_is_replica(m) && m->n_replicas > 0;
}

bool member_runs_primary(const struct member *m)
{
    return strcmp(m->run_role[0] ? m->run_role : m->role, HB_ROLE_REPLICA) != 0;
}

/* ---- limits ---- */

static void read_limits(struct member *m, const json_t *lim)
{
    m->limits.cpu_millis = json_integer_value(json_object_get(lim, HB_F_CPU_MILLIS));
    m->limits.memory_mb = json_integer_value(json_object_get(lim, HB_F_MEMORY_MB));
    m->limits.read_iops = json_integer_value(json_object_get(lim, HB_F_READ_IOPS));
    m->limits.write_iops = json_integer_value(json_object_get(lim, HB_F_WRITE_IOPS));
    m->limits.read_bps = json_integer_value(json_object_get(lim, HB_F_READ_BPS));
    m->limits.write_bps = json_integer_value(json_object_get(lim, HB_F_WRITE_BPS));
    m->disk_mb = json_integer_value(json_object_get(lim, HB_F_DISK_MB));
}

bool member_desired_running(const json_t *d)
{
    enum hb_desired want;

    return hb_desired_parse(json_string_value(json_object_get(d, HB_F_DESIRED)), &want) == 0 &&
           want == HB_WANT_RUNNING;
}

bool member_update_desired(struct member *m, const json_t *d)
{
    const json_t *cred = json_object_get(d, HB_F_CREDENTIALS);
    int version = (int)json_integer_value(json_object_get(d, HB_F_SPEC_VERSION));
    bool changed = version != m->spec_version;
    struct repl_fields r;

    if (member_repl_differs(m, d) || json_is_true(json_object_get(d, HB_F_SYNC)) != m->sync) {
        m->repl_dirty = true;
        m->repl_changes++;
    }
    m->sync = json_is_true(json_object_get(d, HB_F_SYNC));
    m->fence_wanted = json_is_true(json_object_get(d, HB_F_FENCE));
    read_repl(&r, d);
    take_repl(m, &r);
    copy_str(m->instance_id, sizeof(m->instance_id), json_object_get(d, HB_F_INSTANCE_ID));
    copy_str(m->instance, sizeof(m->instance), json_object_get(d, HB_F_INSTANCE));
    copy_str(m->engine, sizeof(m->engine), json_object_get(d, HB_F_ENGINE));
    copy_str(m->role, sizeof(m->role), json_object_get(d, HB_F_ROLE));
    m->port = (int)json_integer_value(json_object_get(d, HB_F_PORT));
    m->want_running = member_desired_running(d);
    m->spec_version = version;
    read_limits(m, json_object_get(d, HB_F_LIMITS));
    copy_str(m->username, sizeof(m->username), json_object_get(cred, HB_F_USERNAME));
    if (json_is_string(json_object_get(cred, HB_F_VERIFIER))) {
        free(m->verifier);
        m->verifier = xstrdup(json_string_value(json_object_get(cred, HB_F_VERIFIER)));
    }
    return changed;
}

/* The limits of a desired running member: every field, none negative, the plan's three
 * above 0. */
static int check_limits(const json_t *lim, long long id, struct err *e)
{
    static const char *const fields[] = {HB_F_CPU_MILLIS, HB_F_MEMORY_MB,  HB_F_DISK_MB,
                                         HB_F_READ_IOPS,  HB_F_WRITE_IOPS, HB_F_READ_BPS,
                                         HB_F_WRITE_BPS};

    if (!json_is_object(lim))
        return err_set(e, AGENT_E_DESIRED, "malformed desired member %lld: no limits", id);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const json_t *v = json_object_get(lim, fields[i]);
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            (i < 3 && json_integer_value(v) == 0))
            return err_set(e, AGENT_E_DESIRED,
                           "malformed desired member %lld: limit \"%s\" is missing or invalid", id,
                           fields[i]);
    }
    return 0;
}

/* The role and replication fields (the secret is never quoted). */
/* running: the member is desired running (a member on its way out needs no replication: dbaasd
 * sends none, and its primary may be gone already). */
static int check_repl(const json_t *d, long long id, bool running, struct err *e)
{
    const json_t *role = json_object_get(d, HB_F_ROLE),
                 *repl = json_object_get(d, HB_F_REPLICATION);
    const json_t *list = json_object_get(d, HB_F_REPLICAS), *seed = json_object_get(d, HB_F_SEED);
    bool replica;
    size_t i;
    json_t *p;

    if (role && !json_is_null(role) && !json_is_string(role))
        return err_set(e, AGENT_E_DESIRED, "malformed desired member %lld: invalid role", id);
    replica = json_is_string(role) && strcmp(json_string_value(role), HB_ROLE_REPLICA) == 0;
    if (json_is_string(role) && !replica && strcmp(json_string_value(role), HB_ROLE_PRIMARY) != 0)
        return err_set(e, AGENT_E_DESIRED, "malformed desired member %lld: unknown role \"%.32s\"",
                       id, json_string_value(role));
    if (repl && !json_is_null(repl) &&
        (!json_is_object(repl) || !json_is_string(json_object_get(repl, HB_F_USER)) ||
         json_string_length(json_object_get(repl, HB_F_USER)) == 0 ||
         json_string_length(json_object_get(repl, HB_F_USER)) >= 64 ||
         !json_is_string(json_object_get(repl, HB_F_SECRET)) ||
         json_string_length(json_object_get(repl, HB_F_SECRET)) == 0))
        return err_set(e, AGENT_E_DESIRED,
                       "malformed desired member %lld: replication needs a user and a secret", id);
    if (replica && running &&
        (!json_is_object(repl) || !peer_valid(json_object_get(d, HB_F_PRIMARY), true)))
        return err_set(e, AGENT_E_DESIRED,
                       "malformed desired member %lld: a replica needs its primary {id, host, "
                       "port} and replication",
                       id);
    if (seed && !json_is_null(seed) && !peer_valid(seed, false))
        return err_set(e, AGENT_E_DESIRED, "malformed desired member %lld: invalid seed", id);
    if (list && !json_is_null(list)) {
        if (!json_is_array(list))
            return err_set(e, AGENT_E_DESIRED, "malformed desired member %lld: invalid replicas",
                           id);
        json_array_foreach(list, i, p)
        {
            if (!peer_valid(p, true))
                return err_set(e, AGENT_E_DESIRED,
                               "malformed desired member %lld: invalid replica %zu", id, i);
        }
    }
    return 0;
}

int member_desired_check(const json_t *d, struct err *e)
{
    long long id;

    if (!json_is_object(d) || !json_is_integer(json_object_get(d, HB_F_ID)) ||
        !json_is_string(json_object_get(d, HB_F_ENGINE)) ||
        !json_is_integer(json_object_get(d, HB_F_PORT)))
        return err_set(e, AGENT_E_DESIRED, "malformed desired member");
    id = (long long)json_integer_value(json_object_get(d, HB_F_ID));
    if (member_desired_running(d) && check_limits(json_object_get(d, HB_F_LIMITS), id, e) < 0)
        return -1;
    return check_repl(d, id, member_desired_running(d), e);
}

struct member *member_from_desired(const json_t *d, struct err *e)
{
    struct member *m;

    if (member_desired_check(d, e) < 0)
        return NULL;
    m = xcalloc(1, sizeof(*m));
    m->id = json_integer_value(json_object_get(d, HB_F_ID));
    m->state = HB_PENDING;
    member_update_desired(m, d);
    return m;
}

void member_free(struct member *m)
{
    if (!m)
        return;
    free_secret(m->verifier);
    free_secret(m->applied_verifier);
    free_secret(m->repl_secret);
    free(m->replicas);
    free(m);
}

struct member_spec *member_spec_new(const struct member *m, const char *data_dir,
                                    const char *listen_addr)
{
    struct member_spec *ms = xcalloc(1, sizeof(*ms));

    ms->dir = member_dir(m, data_dir);
    ms->instance_id = xstrdup(m->instance_id);
    ms->username = xstrdup(m->username);
    ms->verifier = xstrdup(m->verifier ? m->verifier : "");
    ms->listen_addr = xstrdup(listen_addr);
    ms->spec.instance = ms->instance_id;
    ms->spec.data_dir = ms->dir;
    ms->spec.listen_addr = ms->listen_addr;
    ms->spec.port = m->port;
    ms->spec.cpu_millis = m->limits.cpu_millis;
    ms->spec.memory_mb = m->limits.memory_mb;
    ms->spec.disk_mb = m->disk_mb;
    ms->spec.username = ms->username;
    ms->spec.verifier = ms->verifier;
    if (!m->repl_user[0])
        return ms;
    ms->repl_user = xstrdup(m->repl_user);
    ms->repl_secret = xstrdup(m->repl_secret ? m->repl_secret : "");
    ms->upstream_host = xstrdup(m->primary.host);
    ms->repl.role = member_is_replica(m) ? ENGINE_ROLE_REPLICA : ENGINE_ROLE_PRIMARY;
    ms->repl.member_id = m->id;
    ms->repl.user = ms->repl_user;
    ms->repl.secret = ms->repl_secret;
    ms->repl.upstream = (struct engine_peer){m->primary.id, ms->upstream_host, m->primary.port};
    if (m->n_replicas > 0) {
        ms->replicas = xcalloc((size_t)m->n_replicas, sizeof(*ms->replicas));
        for (int i = 0; i < m->n_replicas; i++)
            ms->replicas[i] = (struct engine_peer){m->replicas[i].id, xstrdup(m->replicas[i].host),
                                                   m->replicas[i].port};
    }
    ms->n_replicas = m->n_replicas;
    ms->repl.replicas = ms->replicas;
    ms->repl.sync = m->sync;
    ms->repl.n_replicas = ms->n_replicas;
    ms->spec.repl = &ms->repl;
    return ms;
}

void member_spec_free(struct member_spec *ms)
{
    if (!ms)
        return;
    free(ms->dir);
    free(ms->instance_id);
    free(ms->username);
    free_secret(ms->verifier);
    free(ms->listen_addr);
    free(ms->repl_user);
    free_secret(ms->repl_secret);
    free(ms->upstream_host);
    for (int i = 0; i < ms->n_replicas; i++)
        free((char *)ms->replicas[i].host);
    free(ms->replicas);
    free(ms);
}

char *member_dir(const struct member *m, const char *dir)
{
    return xasprintf("%s/members/%lld", dir, (long long)m->id);
}

void member_group(const struct member *m, const char *tag, char out[40])
{
    snprintf(out, 40, "%s-m%lld", tag, (long long)m->id);
}

int member_save(const struct member *m, const char *dir, struct err *e)
{
    char *path = xasprintf("%s/members/%lld.json", dir, (long long)m->id);
    json_t *j;
    char *text = NULL;
    int rc = -1;

    j = json_pack("{s:I,s:s,s:s,s:s,s:s,s:i,s:b,s:i,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I},s:s,s:s,"
                  "s:s,s:i,s:I,s:i,s:i,s:b,s:b,s:s}",
                  "id", (json_int_t)m->id, "instance_id", m->instance_id, "instance", m->instance,
                  "engine", m->engine, "role", m->role, "port", m->port, "want_running",
                  m->want_running, "spec_version", m->spec_version, "limits", "cpu_millis",
                  (json_int_t)m->limits.cpu_millis, "memory_mb", (json_int_t)m->limits.memory_mb,
                  "disk_mb", (json_int_t)m->disk_mb, "read_iops", (json_int_t)m->limits.read_iops,
                  "write_iops", (json_int_t)m->limits.write_iops, "read_bps",
                  (json_int_t)m->limits.read_bps, "write_bps", (json_int_t)m->limits.write_bps,
                  "username", m->username, "verifier", m->verifier ? m->verifier : "", "state",
                  hb_state_name(m->state), "pid", (int)m->pid, "starttime",
                  (json_int_t)m->starttime, "restarts", m->restarts, "applied_version",
                  m->applied_version, "pending_restart", m->pending_restart, "provisioned",
                  m->provisioned, "error", m->error);
    if (j) {
        /* replication, in the desired entry's shape (read back by read_repl()); the secret
         * only in this root-only 0600 record */
        json_t *list = json_array();
        for (int i = 0; i < m->n_replicas; i++)
            json_array_append_new(
                list, json_pack("{s:I,s:s,s:i}", HB_F_ID, (json_int_t)m->replicas[i].id, HB_F_HOST,
                                m->replicas[i].host, HB_F_PORT, m->replicas[i].port));
        json_object_set_new(j, HB_F_REPLICAS, list);
        json_object_set_new(j, "applied_memory_mb", json_integer(m->applied_memory_mb));
        json_object_set_new(j, "resize_failed_version", json_integer(m->resize_failed_version));
        json_object_set_new(j, "resize_error", json_string(m->resize_error));
        json_object_set_new(j, HB_F_SYNC, json_boolean(m->sync));
        json_object_set_new(j, HB_F_FENCE, json_boolean(m->fence_wanted));
        json_object_set_new(j, HB_F_FENCED, json_boolean(m->fenced));
        json_object_set_new(j, "fenced_stopped", json_boolean(m->fenced_stopped));
        json_object_set_new(j, "run_role", json_string(m->run_role));
        if (m->primary.id > 0)
            json_object_set_new(j, HB_F_PRIMARY,
                                json_pack("{s:I,s:s,s:i}", HB_F_ID, (json_int_t)m->primary.id,
                                          HB_F_HOST, m->primary.host, HB_F_PORT, m->primary.port));
        if (m->repl_user[0])
            json_object_set_new(j, HB_F_REPLICATION,
                                json_pack("{s:s,s:s}", HB_F_USER, m->repl_user, HB_F_SECRET,
                                          m->repl_secret ? m->repl_secret : ""));
        if (m->seed_host[0])
            json_object_set_new(
                j, HB_F_SEED,
                json_pack("{s:s,s:i}", HB_F_HOST, m->seed_host, HB_F_PORT, m->seed_port));
    }
    text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) {
        err_set(e, AGENT_E_ENCODE, "could not encode member %lld", (long long)m->id);
        goto out;
    }
    if (fileio_write_atomic(path, text, strlen(text), 0600, FILEIO_KEEP_UID, FILEIO_KEEP_GID, 0,
                            e) < 0)
        goto out;
    rc = 0;
out:
    if (text)
        free_secret(text);
    free(path);
    return rc;
}

void member_forget(const struct member *m, const char *dir)
{
    char *path = xasprintf("%s/members/%lld.json", dir, (long long)m->id);

    unlink(path);
    free(path);
}

static enum hb_state parse_state(const char *s)
{
    enum hb_state st;

    return hb_state_parse(s, &st) == 0 ? st : HB_PENDING;
}

struct member *member_load_all(const char *dir)
{
    char *mdir = xasprintf("%s/members", dir);
    struct member *head = NULL;
    struct dirent *de;
    DIR *d = opendir(mdir);

    while (d && (de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        char *path;
        json_t *j, *lim;
        struct member *m;

        if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
            continue;
        path = xasprintf("%s/%s", mdir, de->d_name);
        j = json_load_file(path, 0, NULL);
        free(path);
        if (!j)
            continue;
        m = xcalloc(1, sizeof(*m));
        m->id = json_integer_value(json_object_get(j, "id"));
        copy_str(m->instance_id, sizeof(m->instance_id), json_object_get(j, "instance_id"));
        copy_str(m->instance, sizeof(m->instance), json_object_get(j, "instance"));
        copy_str(m->engine, sizeof(m->engine), json_object_get(j, "engine"));
        copy_str(m->role, sizeof(m->role), json_object_get(j, "role"));
        copy_str(m->username, sizeof(m->username), json_object_get(j, "username"));
        copy_str(m->error, sizeof(m->error), json_object_get(j, "error"));
        m->verifier = xstrdup(json_string_value(json_object_get(j, "verifier"))
                                  ? json_string_value(json_object_get(j, "verifier"))
                                  : "");
        m->port = (int)json_integer_value(json_object_get(j, "port"));
        m->want_running = json_is_true(json_object_get(j, "want_running"));
        m->spec_version = (int)json_integer_value(json_object_get(j, "spec_version"));
        lim = json_object_get(j, "limits");
        read_limits(m, lim);
        m->state = parse_state(json_string_value(json_object_get(j, "state")));
        m->pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
        m->starttime = (uint64_t)json_integer_value(json_object_get(j, "starttime"));
        m->restarts = (int)json_integer_value(json_object_get(j, "restarts"));
        m->applied_version = (int)json_integer_value(json_object_get(j, "applied_version"));
        m->pending_restart = json_is_true(json_object_get(j, "pending_restart"));
        m->provisioned = json_is_true(json_object_get(j, "provisioned"));
        m->applied_memory_mb = json_integer_value(json_object_get(j, "applied_memory_mb"));
        m->resize_failed_version =
            (int)json_integer_value(json_object_get(j, "resize_failed_version"));
        copy_str(m->resize_error, sizeof(m->resize_error), json_object_get(j, "resize_error"));
        m->sync = json_is_true(json_object_get(j, HB_F_SYNC));
        m->fence_wanted = json_is_true(json_object_get(j, HB_F_FENCE));
        m->fenced = json_is_true(json_object_get(j, HB_F_FENCED));
        m->fenced_stopped = json_is_true(json_object_get(j, "fenced_stopped"));
        copy_str(m->run_role, sizeof(m->run_role), json_object_get(j, "run_role"));
        if (m->applied_memory_mb == 0 && m->applied_version == m->spec_version)
            m->applied_memory_mb = m->limits.memory_mb; /* a record of an older agent */
        {
            struct repl_fields r;
            read_repl(&r, j);
            take_repl(m, &r);
        }
        m->repl_dirty = m->repl_user[0] != '\0'; /* applied again after the adoption */
        json_decref(j);
        if (m->id <= 0 || !m->engine[0]) {
            member_free(m);
            continue;
        }
        m->next = head;
        head = m;
    }
    if (d)
        closedir(d);
    free(mdir);
    return head;
}
