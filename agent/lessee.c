/* The agent's lease bookkeeping (agent/lessee.h): pure, the lease thread passes the time. */
#include "agent/lessee.h"

#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "lib/crypto.h"
#include "lib/hbproto.h"

#define TTL_MAX_MS 600000

static bool int_in(const json_t *v, int64_t lo, int64_t hi)
{
    return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

int lessee_settings_parse(const json_t *lease, struct lessee_settings *out, struct err *e)
{
    const json_t *key = json_object_get(lease, HB_F_KEY);
    const json_t *renew = json_object_get(lease, HB_F_RENEW_MS);
    unsigned char *raw = NULL;
    size_t n = 0;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(lease))
        return err_set(e, AGENT_E_LEASE, "malformed lease: not an object");
    if (!int_in(json_object_get(lease, HB_F_HOST_ID), 1, INT64_MAX) ||
        !int_in(json_object_get(lease, HB_F_PORT), 1, 65535))
        return err_set(e, AGENT_E_LEASE, "malformed lease: host_id or port missing or invalid");
    if (!int_in(renew, 1, TTL_MAX_MS / 2) ||
        !int_in(json_object_get(lease, HB_F_TTL_MS), 2 * json_integer_value(renew), TTL_MAX_MS))
        return err_set(e, AGENT_E_LEASE,
                       "malformed lease: ttl_ms and renew_ms must satisfy 1 <= 2 * renew_ms <= "
                       "ttl_ms <= %d",
                       TTL_MAX_MS);
    if (!json_is_string(key) || !(raw = crypto_base64url_decode(json_string_value(key), &n)) ||
        n != LEASE_KEY_LEN) {
        err_set(e, AGENT_E_LEASE, "malformed lease: the key is not %d bytes of base64url",
                LEASE_KEY_LEN);
        goto out;
    }
    out->host_id = json_integer_value(json_object_get(lease, HB_F_HOST_ID));
    out->port = (int)json_integer_value(json_object_get(lease, HB_F_PORT));
    out->ttl_ms = (int)json_integer_value(json_object_get(lease, HB_F_TTL_MS));
    out->renew_ms = (int)json_integer_value(renew);
    memcpy(out->key, raw, LEASE_KEY_LEN);
    rc = 0;
out:
    if (raw) {
        explicit_bzero(raw, n);
        free(raw);
    }
    return rc;
}

enum lessee_reply lessee_reply_parse(const json_t *lease, struct lessee_settings *out,
                                     struct err *e)
{
    memset(out, 0, sizeof(*out));
    if (!lease || json_is_null(lease))
        return LESSEE_REPLY_NONE;
    return lessee_settings_parse(lease, out, e) == 0 ? LESSEE_REPLY_OK : LESSEE_REPLY_BAD;
}

bool lessee_configure(struct lessee *l, const struct lessee_settings *s)
{
    bool same = l->configured && memcmp(&l->s, s, sizeof(*s)) == 0;

    if (same)
        return false;
    if (!l->configured || memcmp(l->s.key, s->key, LEASE_KEY_LEN) != 0 ||
        l->s.host_id != s->host_id)
        memset(l->sent, 0, sizeof(l->sent)); /* their grants would come under the old key */
    l->s = *s;
    l->configured = true;
    return true;
}

void lessee_unconfigure(struct lessee *l)
{
    explicit_bzero(&l->s, sizeof(l->s));
    memset(l->sent, 0, sizeof(l->sent));
    l->configured = false;
}

int lessee_renewal(struct lessee *l, int64_t now_ms, uint64_t wall_us,
                   unsigned char out[LEASE_MSG_LEN])
{
    struct lease_msg m;
    uint64_t seq;

    if (!l->configured)
        return -1;
    seq = wall_us > l->last_seq ? wall_us : l->last_seq + 1;
    l->last_seq = seq;
    l->sent[seq % LESSEE_SENT_MAX].seq = seq;
    l->sent[seq % LESSEE_SENT_MAX].sent_ms = now_ms;
    m = (struct lease_msg){LEASE_RENEW, l->s.host_id, seq, 0};
    lease_encode(&m, l->s.key, out);
    return 0;
}

bool lessee_grant(struct lessee *l, const unsigned char *buf, size_t n)
{
    struct lease_msg m;
    int64_t sent, end;

    if (!l->configured || lease_decode(buf, n, l->s.key, &m) < 0 || m.kind != LEASE_GRANT ||
        m.host_id != l->s.host_id || m.seq == 0 || l->sent[m.seq % LESSEE_SENT_MAX].seq != m.seq)
        return false;
    sent = l->sent[m.seq % LESSEE_SENT_MAX].sent_ms;
    end = sent + (int64_t)m.ttl_ms;
    if (l->end_ms <= sent)
        l->valid_since_ms = sent; /* the lease had run out (or never ran) when seq left */
    if (end > l->end_ms)
        l->end_ms = end;
    l->grants++;
    return true;
}

bool lessee_valid(const struct lessee *l, int64_t now_ms)
{
    return l->grants > 0 && now_ms < l->end_ms;
}
