/* The scheduler's refusal messages: "no host fits: 3 lack memory, 1 draining" from the counts
 * per cause of a placement that found no host. Pure, like the rest of scheduler/. */
#include "scheduler/place.h"

#include <stdio.h>
#include <string.h>

struct msg {
    char *buf;
    size_t size, len;
    bool truncated;
};

static void msg_put(struct msg *m, const char *s)
{
    size_t n = strlen(s);

    if (m->truncated)
        return;
    if (m->len + n >= m->size) {
        m->truncated = true;
        return;
    }
    memcpy(m->buf + m->len, s, n + 1);
    m->len += n;
}

void place_refusal_format(struct place_result *res, const struct place_request *req)
{
    /* Singular and plural phrases; the engine and zone names follow ENGINE and ZONE. */
    static const char *const one[PLACE_CAUSE__COUNT] = {
        "unreachable",
        "not yet reporting",
        "draining",
        "does not offer engine",
        "cannot enforce IO limits (its data directory is on no block device)",
        "outside zone",
        "already holds a member of this instance",
        "lacks memory",
        "lacks CPU",
        "lacks disk"};
    static const char *const many[PLACE_CAUSE__COUNT] = {
        "unreachable",
        "not yet reporting",
        "draining",
        "do not offer engine",
        "cannot enforce IO limits (their data directories are on no block device)",
        "outside zone",
        "already hold a member of this instance",
        "lack memory",
        "lack CPU",
        "lack disk"};
    struct msg m = {res->err.msg, sizeof(res->err.msg), 0, false};
    bool used[PLACE_CAUSE__COUNT] = {false};
    bool any = false;

    res->host = -1;
    res->zone_members = 0;
    res->err.code = PLACE_E_NOFIT;
    res->err.msg[0] = '\0';
    msg_put(&m, "no host fits:");
    for (;;) {
        int k = -1;
        char num[24];

        for (int i = 0; i < PLACE_CAUSE__COUNT; i++)
            if (!used[i] && res->counts[i] > 0 && (k < 0 || res->counts[i] > res->counts[k]))
                k = i;
        if (k < 0)
            break;
        used[k] = true;
        if (snprintf(num, sizeof(num), "%s %d ", any ? "," : "", res->counts[k]) >=
            (int)sizeof(num))
            m.truncated = true;
        msg_put(&m, num);
        msg_put(&m, res->counts[k] == 1 ? one[k] : many[k]);
        if (k == PLACE_CAUSE_ENGINE || k == PLACE_CAUSE_ZONE) {
            const char *what = k == PLACE_CAUSE_ENGINE ? req->engine : req->zone;

            msg_put(&m, " \"");
            msg_put(&m, what ? what : "");
            msg_put(&m, "\"");
        }
        any = true;
    }
    if (!any)
        msg_put(&m, " there are no hosts");
    if (m.truncated) {
        size_t at = m.len + 4 < m.size ? m.len : m.size - 4;

        memcpy(m.buf + at, "...", 4);
    }
}
