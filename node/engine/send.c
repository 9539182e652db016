/* send.c — queueing a message into a local mailbox: the hot path. A slot
 * from the pool, the payload inline or in a shared blob, a push on the
 * mailbox's ring and a place on the ready queue; no allocation in steady
 * state. A publish queues one slot to every subscriber (pubsub.c). */
#include <string.h>

#include "engine.h"

int eng_check_id(const char *id, size_t *len_out) {
  if (!id) return TR_EINVAL;
  size_t len = strnlen(id, TR_ID_MAX + 1);
  if (len == 0 || len > TR_ID_MAX) return TR_EINVAL;
  if (len_out) *len_out = len;
  return 0;
}

bool actor_accepts(const eng_actor *a, uint32_t msg_type) {
  if (!a->x || !a->x->accepts || !msg_type) return true;
  for (uint32_t i = 0; i < a->x->naccepts; i++)
    if (a->x->accepts[i] == msg_type) return true;
  return false;
}

/* A slot filled with one message (eng_msg_new). */
static inline eng_msg *msg_new(tr_node *n, uint8_t type, eng_name *sender,
                               eng_name *topic, const void *data,
                               size_t len, eng_blob *blob, uint64_t ask_id,
                               int status, unsigned flags,
                               uint32_t msg_type) {
  eng_msg *m = pool_msg_get(&n->pool);
  if (!m) return NULL;
  if (blob) {
    blob->refs++;
    m->blob = blob;
  } else if (len <= ENG_INLINE) {
    m->blob = NULL;
    if (len) memcpy(m->inline_data, data, len);
  } else {
    eng_blob *b = pool_blob_get(&n->pool, len);
    if (!b) {
      m->sender = m->topic = NULL;
      m->blob = NULL;
      m->refs = 0;
      pool_msg_put(&n->pool, m);
      return NULL;
    }
    memcpy(b->data, data, len);
    m->blob = b;
  }
  m->sender = eng_name_ref(sender);
  m->topic = eng_name_ref(topic);
  m->refs = 1; /* its first mailbox's; a shared one counts up from 0 */
  m->ask_id = ask_id;
  m->len = (uint32_t)len;
  m->status = status;
  m->type = type;
  m->origin = (uint16_t)(flags >> 16);
  m->ctrl = m->origin || (topic && type != TR_MSG_PUBLISH) ? ENG_CTRL_DETAIL
                                                           : ENG_CTRL_NONE;
  m->msg_type = msg_type;
  return m;
}

/* send_to_actor, folded into this file's send calls (a call with eleven
 * arguments cost ~30 instructions a send). */
__attribute__((always_inline)) static inline int send_local(
    eng_actor *to, uint8_t type, eng_name *sender, eng_name *topic,
    const void *data, size_t len, eng_blob *blob, uint64_t ask_id, int status,
    unsigned flags, uint32_t msg_type) {
  tr_node *n = to->node;
  int rc = mb_admits(to, type, flags, msg_type);
  if (rc != 0) return rc;
  eng_msg *m = msg_new(n, type, sender, topic, data, len, blob, ask_id,
                       status, flags, msg_type);
  if (!m) return TR_ENOMEM;
  if ((rc = mb_enqueue(n, to, m)) != 0) {
    pool_msg_put(&n->pool, m);
    return rc;
  }
  n->backlog++;
  n->stats.sent++;
  return 0;
}

int send_to_actor(eng_actor *to, uint8_t type, eng_name *sender,
                  eng_name *topic, const void *data, size_t len,
                  eng_blob *blob, uint64_t ask_id, int status,
                  unsigned flags, uint32_t msg_type) {
  return send_local(to, type, sender, topic, data, len, blob, ask_id, status,
                    flags, msg_type);
}

eng_msg *eng_msg_new(tr_node *n, uint8_t type, eng_name *sender,
                     eng_name *topic, const void *data, size_t len,
                     eng_blob *blob, uint64_t ask_id, int status,
                     unsigned flags, uint32_t msg_type) {
  eng_msg *m = msg_new(n, type, sender, topic, data, len, blob, ask_id,
                       status, flags, msg_type);
  if (m) m->refs = 0; /* queued nowhere yet */
  return m;
}

void eng_msg_shared(tr_node *n, eng_msg *m, uint32_t reached) {
  m->refs = reached;
  n->backlog += reached;
  n->stats.sent += reached;
  if (!reached) pool_msg_put(&n->pool, m); /* nobody took it */
}

/* The dead-letter row for a send call from sender to `to` that failed
 * with rc (a: the local target that refused it, or NULL). Out of line and
 * cold: the send path stays small enough for the compiler to fold into
 * each caller. */
__attribute__((noinline, cold)) static void send_rejected(
    tr_node *n, eng_actor *a, int rc, const eng_name *sender, const char *to,
    size_t len) {
  tr_dead_reason r;
  switch (rc) {
  case TR_EFULL: r = TR_DL_REJECTED_FULL; break;
  case TR_ENOTFOUND: r = TR_DL_REJECTED_NO_ACTOR; break;
  case TR_EUNREACHABLE: r = TR_DL_UNREACHABLE; break;
  case TR_EBADTYPE: r = TR_DL_REJECTED_BADTYPE; break;
  case TR_ETOOBIG: r = TR_DL_REJECTED_TOOBIG; break;
  default: return; /* refused by policy, out of memory: not a dead letter */
  }
  /* The actor's own count lives in its x; without one (ENOMEM) only the
   * node's below has it. */
  if (a && (rc == TR_EFULL || rc == TR_EBADTYPE) && actor_x(a)) a->x->dead++;
  eng_dead(n, r, eng_str(sender), to, len);
}

/* A send to an id this node does not hold: the remote layer's. Out of
 * line, so that what its failure's dead letter needs (sender, to, len)
 * does not hold registers across a call on the local path. */
__attribute__((noinline)) static int send_remote(
    tr_node *n, const char *to, size_t tolen, uint8_t type, eng_name *sender,
    const void *data, size_t len, uint64_t ask_id, uint32_t timeout_ms,
    uint16_t *remote, uint32_t msg_type) {
  uint16_t idx = 0;
  int rc = n->rops->send(n->ruser, to, tolen, type, sender, data, len, ask_id,
                         timeout_ms, &idx, msg_type);
  if (remote) *remote = idx;
  if (rc != 0) send_rejected(n, NULL, rc, sender, to, len);
  return rc;
}

/* send_by_id, folded into the public send calls. */
__attribute__((always_inline)) static inline int send_id(
    tr_node *n, const char *to, uint8_t type, eng_name *sender,
    const void *data, size_t len, uint64_t ask_id, uint32_t timeout_ms,
    eng_actor **found, uint16_t *remote, bool guarded, uint32_t msg_type) {
  size_t tolen;
  if (eng_check_id(to, &tolen) != 0 || (len && !data)) return TR_EINVAL;
  if (len > n->max_payload) {
    send_rejected(n, NULL, TR_ETOOBIG, sender, to, len);
    return TR_ETOOBIG;
  }
  int rc;
  /* No policy: one load and a branch. */
  if (n->guard && guarded && !(sender && sender->str[0] == '$') &&
      (rc = n->guard(n->guard_user,
                     type == TR_MSG_ASK ? ENG_ACT_ASK : ENG_ACT_SEND, to,
                     NULL)) != 0)
    return rc;
  eng_actor *a = actor_find_len(n, to, tolen);
  if (a) {
    if (found) *found = a;
    rc = send_local(a, type, sender, NULL, data, len, NULL, ask_id, 0, 0,
                    msg_type);
    if (rc != 0) send_rejected(n, a, rc, sender, a->id->str, len);
    return rc;
  }
  if (n->rops)
    return send_remote(n, to, tolen, type, sender, data, len, ask_id,
                       timeout_ms, remote, msg_type);
  send_rejected(n, NULL, TR_ENOTFOUND, sender, to, len);
  return TR_ENOTFOUND;
}

int send_by_id(tr_node *n, const char *to, uint8_t type, eng_name *sender,
               const void *data, size_t len, uint64_t ask_id,
               uint32_t timeout_ms, eng_actor **found, uint16_t *remote,
               bool guarded, uint32_t msg_type) {
  return send_id(n, to, type, sender, data, len, ask_id, timeout_ms, found,
                 remote, guarded, msg_type);
}

int send_accepted(tr_node *n, const char *to, size_t to_len,
                  eng_name *sender, const void *data, size_t len) {
  eng_actor *a = actor_find_len(n, to, to_len);
  if (a)
    return send_to_actor(a, TR_MSG_SEND, sender, NULL, data, len, NULL, 0, 0,
                         0, 0);
  if (!n->rops) return TR_ENOTFOUND;
  return n->rops->send(n->ruser, to, to_len, TR_MSG_SEND, sender, data, len,
                       0, 0, NULL, 0);
}

void send_notice(tr_node *n, eng_actor *to, uint8_t type, eng_name *sender,
                 uint64_t ask_id, int status) {
  int rc = send_to_actor(to, type, sender, NULL, NULL, 0, NULL, ask_id,
                         status, ENG_BYPASS_CAPACITY, 0);
  if (rc == TR_ENOMEM)
    eng_log(n, TR_LOG_ERROR, "notice_lost", "to=%s type=%d reason=enomem",
            to->id->str, (int)type);
}

/* ---- the remote layer's way in (eng_remote.h) ---------------------------- */

int eng_deliver(tr_node *n, const char *to, size_t to_len, uint8_t type,
                eng_name *sender, const void *data, size_t len,
                uint64_t ask_id, uint16_t origin, bool credited,
                uint32_t msg_type) {
  eng_actor *a = actor_find_len(n, to, to_len);
  if (!a) return TR_ENOTFOUND;
  int rc = send_local(a, type, sender, NULL, data, len, NULL, ask_id, 0,
                      ENG_ORIGIN(origin) | (credited ? ENG_BYPASS_CAPACITY : 0),
                      msg_type);
  if (rc == 0) eng_backlog_check(n);
  return rc;
}

void eng_backlog_check(tr_node *n) {
  /* Back-pressure on reading is decided here and in the scheduler only. */
  if (n->backlog > ENG_BACKLOG_HIGH && !n->remote_paused && n->rops) {
    n->remote_paused = true;
    n->rops->pause(n->ruser, true);
  }
}

void eng_notice(tr_node *n, const char *to, uint8_t type, const char *sender,
                int status, uint16_t origin) {
  eng_actor *a = actor_find(n, to);
  if (!a || a->stopping) return;
  eng_name *s = sender ? eng_name_new(sender, strlen(sender)) : NULL;
  if (sender && !s) {
    eng_log(n, TR_LOG_ERROR, "notice_lost", "to=%s type=%d reason=enomem", to,
            (int)type);
    return;
  }
  int rc = send_to_actor(a, type, s, NULL, NULL, 0, NULL, 0, status,
                         ENG_BYPASS_CAPACITY | ENG_ORIGIN(origin), 0);
  if (rc == TR_ENOMEM)
    eng_log(n, TR_LOG_ERROR, "notice_lost", "to=%s type=%d reason=enomem", to,
            (int)type);
  eng_name_unref(s);
}

void eng_count_dead(tr_node *n, tr_dead_reason r, const char *from,
                    const char *to, size_t len) {
  eng_dead(n, r, from, to, len);
}

uint32_t eng_ask_timeout_ms(tr_node *n) { return n->ask_timeout_ms; }

/* ---- public calls ------------------------------------------------------------ */

int tr_send(tr_ctx *ctx, const char *to, const void *data, size_t len) {
  if (!ctx) return TR_EINVAL;
  int rc = send_id(ctx->node, to, TR_MSG_SEND, ctx->id, data, len, 0, 0, NULL,
                   NULL, true, 0);
  if (rc == 0) ctx->sent++;
  return rc;
}

int tr_node_send(tr_node *n, const char *to, const void *data, size_t len) {
  if (!n) return TR_EINVAL;
  return send_id(n, to, TR_MSG_SEND, NULL, data, len, 0, 0, NULL, NULL, true,
                 0);
}

int eng_send_judged(tr_node *n, const char *to, const void *data,
                    size_t len) {
  return send_by_id(n, to, TR_MSG_SEND, NULL, data, len, 0, 0, NULL, NULL,
                    false, 0);
}

int tr_send_tagged(tr_ctx *ctx, const char *to, uint32_t msg_type,
                   const void *data, size_t len) {
  if (!ctx) return TR_EINVAL;
  int rc = send_id(ctx->node, to, TR_MSG_SEND, ctx->id, data, len, 0, 0, NULL,
                   NULL, true, msg_type);
  if (rc == 0) ctx->sent++;
  return rc;
}

int tr_node_send_tagged(tr_node *n, const char *to, uint32_t msg_type,
                        const void *data, size_t len) {
  if (!n) return TR_EINVAL;
  return send_by_id(n, to, TR_MSG_SEND, NULL, data, len, 0, 0, NULL, NULL,
                    true, msg_type);
}
