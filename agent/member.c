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

int member_desired_check(const json_t *d, struct err *e)
{
    if (!json_is_object(d) || !json_is_integer(json_object_get(d, HB_F_ID)) ||
        !json_is_string(json_object_get(d, HB_F_ENGINE)) ||
        !json_is_integer(json_object_get(d, HB_F_PORT)))
        return err_set(e, AGENT_E_DESIRED, "malformed desired member");
    return 0;
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
    if (m->verifier) {
        explicit_bzero(m->verifier, strlen(m->verifier));
        free(m->verifier);
    }
    free(m);
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
    free(text);
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
