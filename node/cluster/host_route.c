/* host_route.c — envelopes across nodes. Out: the registry names the
 * owner, its link takes the envelope (one link per peer, so per-sender
 * FIFO holds). In: the target's mailbox takes it, or the sender's node is
 * told why not (an ask gets a reply with the status, a send a FAILED
 * report, both counted on both sides). A link that gives up on envelopes
 * reports them here: asks are answered TR_EUNREACHABLE, monitors fire, the
 * rest are dead letters. Nothing is dropped without a count. */
#include <stdio.h>
#include <string.h>

#include "host.h"

static wire_slice slice(const char *s) {
  return (wire_slice){(const uint8_t *)s, s ? strlen(s) : 0};
}

static int send_env(cluster *c, host_peer *p, const wire_envelope *e) {
  if (c->left || !p->up) return TR_EUNREACHABLE;
  peer_link *lk = host_peer_link(c, p);
  if (!lk) return TR_EUNREACHABLE;
  int rc = link_send(lk, e);
  if (rc == 0)
    c->st.remote_sent++;
  else if (rc == TR_EFULL)
    c->st.link_full++;
  return rc;
}

int host_send_env(cluster *c, host_peer *p, uint32_t type,
                  const char *sender, const char *target, uint64_t ask_id,
                  int status, const void *data, size_t len) {
  wire_envelope e = {.type = type,
                     .sender = slice(sender),
                     .target = slice(target),
                     .payload = {data, len},
                     .ask_id = ask_id,
                     .status = status};
  return send_env(c, p, &e);
}

/* Publishes and interest: the publisher is both sender and target. */
int host_send_env_topic(cluster *c, host_peer *p, uint32_t type,
                        const char *publisher, const char *topic,
                        const void *data, size_t len) {
  wire_envelope e = {.type = type,
                     .sender = slice(publisher),
                     .target = slice(publisher),
                     .topic = slice(topic),
                     .payload = {data, len}};
  return send_env(c, p, &e);
}

int host_send_publish(cluster *c, host_peer *p, const char *publisher,
                      const char *topic, const void *data, size_t len,
                      uint32_t msg_type) {
  wire_envelope e = {.type = TR_MSG_PUBLISH,
                     .sender = slice(publisher),
                     .target = slice(publisher),
                     .topic = slice(topic),
                     .payload = {data, len},
                     .msg_type = msg_type};
  return send_env(c, p, &e);
}

/* The peer `to` resolves to: the last answer while the registry has not
 * changed since, else a lookup. NULL: nobody (or this node) holds it. */
static host_peer *resolve(cluster *c, const char *to, size_t to_len) {
  if (c->last_to_peer && c->last_to_gen == c->reg_gen &&
      c->last_to_len == to_len && memcmp(c->last_to, to, to_len) == 0)
    return c->last_to_peer;
  const char *owner = reg_lookup(c->reg, to);
  /* Ours in the registry but not in the engine: it is stopping. */
  if (!owner || strcmp(owner, c->name) == 0) return NULL;
  host_peer *p = host_peer_get(c, owner);
  if (!p) return NULL;
  if (to_len >= sizeof(c->last_to)) return p;
  memcpy(c->last_to, to, to_len + 1);
  c->last_to_len = to_len;
  c->last_to_peer = p;
  c->last_to_gen = c->reg_gen;
  return p;
}

int host_remote_send(void *user, const char *to, size_t to_len, uint8_t type,
                     eng_name *sender, const void *data, size_t len,
                     uint64_t ask_id, uint32_t timeout_ms, uint16_t *node,
                     uint32_t msg_type) {
  cluster *c = user;
  host_peer *p = resolve(c, to, to_len);
  if (!p) return TR_ENOTFOUND;
  /* Room at the target is promised by credit, taken here: without it the
   * send is refused now, as for a full local mailbox. */
  host_credit *cr = NULL;
  if ((type == TR_MSG_SEND || type == TR_MSG_ASK) && p->up && !c->left &&
      host_credit_peer(c, p)) {
    int rc = host_credit_take(c, p, to, to_len, &cr);
    if (rc != 0) return rc;
  }
  wire_envelope e = {.type = type,
                     .sender = sender ? (wire_slice){(const uint8_t *)sender->str,
                                                     sender->len}
                                      : (wire_slice){NULL, 0},
                     .target = {(const uint8_t *)to, to_len},
                     .payload = {data, len},
                     .ask_id = ask_id,
                     .timeout_ms = timeout_ms,
                     .msg_type = msg_type};
  int rc = send_env(c, p, &e);
  if (rc == 0 && node) *node = p->idx;
  if (rc != 0 && cr) host_credit_give_back(cr);
  return rc;
}

int host_remote_reply(void *user, const char *node, const char *asker,
                      eng_name *sender, const void *data, size_t len,
                      uint64_t ask_id, uint32_t msg_type) {
  cluster *c = user;
  host_peer *p = host_peer_find(c, node);
  if (!p || !asker) return TR_EINVAL;
  host_rask_done(c, p->idx, ask_id);
  wire_envelope e = {.type = TR_MSG_REPLY,
                     .sender = slice(sender->str),
                     .target = slice(asker),
                     .payload = {data, len},
                     .ask_id = ask_id,
                     .msg_type = msg_type};
  int rc = send_env(c, p, &e);
  if (rc == TR_EUNREACHABLE)
    eng_count_dead(c->node, TR_DL_UNREACHABLE, sender->str, asker, len);
  if (rc == TR_EFULL)
    eng_count_dead(c->node, TR_DL_REJECTED_FULL, sender->str, asker, len);
  return rc;
}

int host_remote_stop(void *user, const char *id) {
  cluster *c = user;
  const char *owner = reg_lookup(c->reg, id);
  if (!owner || strcmp(owner, c->name) == 0) return TR_ENOTFOUND;
  host_peer *p = host_peer_get(c, owner);
  if (!p) return TR_ENOMEM;
  return host_send_env(c, p, HOST_ENV_STOP, NULL, id, 0, 0, NULL, 0);
}

/* ---- incoming ------------------------------------------------------------- */

/* The sender's interned name: one-entry cache per peer, so a stream from
 * one actor costs no allocation. NULL with *bad set on ENOMEM. */
static eng_name *peer_sender(host_peer *p, const wire_envelope *e, bool *bad) {
  *bad = false;
  if (!e->has_sender) return NULL;
  eng_name *s = p->last_sender;
  if (s && s->len == e->sender.len && memcmp(s->str, e->sender.p, s->len) == 0)
    return s;
  s = eng_name_new((const char *)e->sender.p, e->sender.len);
  if (!s) {
    *bad = true;
    return NULL;
  }
  eng_name_unref(p->last_sender);
  p->last_sender = s;
  return s;
}

/* A SEND or ASK from p for a local actor. The hot path looks the target up
 * by its bytes in the frame; only a failure needs it as a string. */
static void route_deliver(cluster *c, host_peer *p, const wire_envelope *e,
                          eng_name *sender) {
  const char *to = (const char *)e->target.p;
  int rc;
  if (c->guard && policy_guard_policy(c->guard)) {
    char target[TR_ID_MAX + 1];
    host_id_copy(target, e->target);
    rc = host_policy_check(c, p->name, POLICY_ROLE_NODE,
                           e->type == TR_MSG_ASK ? POLICY_ASK : POLICY_SEND,
                           target, NULL);
    if (rc != 0) {
      c->st.policy_denied++;
      if (!sender) { /* from outside actors: nobody to tell */
        host_credit_refund(c, p, to, e->target.len);
        return;
      }
      if (e->type == TR_MSG_ASK)
        host_send_env(c, p, TR_MSG_REPLY, target, sender->str, e->ask_id, rc,
                      NULL, 0);
      else
        host_send_env(c, p, HOST_ENV_FAILED, sender->str, target, 0, rc,
                      NULL, 0);
      return;
    }
  }
  rc = eng_deliver(c->node, to, e->target.len, (uint8_t)e->type, sender,
                   e->payload.p, e->payload.len, e->ask_id, p->idx,
                   host_credit_peer(c, p), e->msg_type);
  if (rc == 0) {
    if (e->type == TR_MSG_ASK && sender)
      host_rask_add(c, to, e->target.len, p, sender, e->ask_id,
                    e->timeout_ms);
    return;
  }
  char target[TR_ID_MAX + 1];
  host_id_copy(target, e->target);
  if (rc == TR_EBADTYPE)
    c->st.remote_badtype++; /* the sender's node counts the dead letter */
  else
    eng_count_dead(c->node,
                   rc == TR_EFULL ? TR_DL_MAILBOX_FULL : TR_DL_NO_ACTOR,
                   sender ? sender->str : NULL, target, e->payload.len);
  if (!sender) { /* from outside actors: nobody to tell */
    if (rc != TR_ENOTFOUND) host_credit_refund(c, p, to, e->target.len);
    return;
  }
  if (e->type == TR_MSG_ASK)
    host_send_env(c, p, TR_MSG_REPLY, target, sender->str, e->ask_id, rc,
                  NULL, 0);
  else
    host_send_env(c, p, HOST_ENV_FAILED, sender->str, target, 0, rc, NULL, 0);
}

void host_on_envelope(void *user, peer_link *lk, const wire_envelope *e) {
  cluster *c = user;
  tr_node *n = c->node;
  /* Operators send through requests; only nodes send envelopes (and only
   * they get an entry in the peer table). */
  if (link_peer_role(lk) != TLS_PEER_NODE) {
    c->st.rejected++;
    return;
  }
  host_peer *p = c->last_rx_link == lk ? c->last_rx_peer
                                       : host_peer_get(c, link_peer(lk));
  c->last_rx_link = lk;
  c->last_rx_peer = p;
  bool bad = e->target.len == 0 || e->target.len > TR_ID_MAX || !p;
  eng_name *sender = bad ? NULL : peer_sender(p, e, &bad);
  if (bad) {
    c->st.rejected++;
    return;
  }
  c->st.remote_received++;
  if (e->type == TR_MSG_SEND || e->type == TR_MSG_ASK) {
    route_deliver(c, p, e, sender);
    return;
  }
  char target[TR_ID_MAX + 1];
  size_t tlen = host_id_copy(target, e->target);
  switch (e->type) {
  case TR_MSG_REPLY:
    /* Refused by its policy or memory, the ask never took room there. */
    if ((e->status == TR_EPERM || e->status == TR_ENOMEM ||
         e->status == TR_EBADTYPE) &&
        sender)
      host_credit_unused(c, p, sender->str, sender->len);
    eng_ask_complete(n, e->ask_id, sender, e->payload.p, e->payload.len,
                     e->status, p->idx, e->msg_type);
    return;
  case TR_MSG_DOWN:
  case HOST_ENV_MONITOR:
  case HOST_ENV_DEMONITOR:
    host_mon_on_env(c, p, e);
    return;
  case HOST_ENV_STOP:
    if (host_policy_check(c, p->name, POLICY_ROLE_NODE, POLICY_STOP, target,
                          NULL) != 0)
      c->st.policy_denied++; /* counted and logged by the guard too */
    else if (eng_actor_live(n, target))
      eng_stop_actor(n, target);
    else
      eng_count_dead(n, TR_DL_NO_ACTOR, sender ? sender->str : NULL, target,
                     0);
    return;
  case TR_MSG_PUBLISH:
  case HOST_ENV_SUB:
  case HOST_ENV_UNSUB:
    host_pubsub_on_env(c, p, e, target, sender);
    return;
  case HOST_ENV_CREDIT:
    host_credit_on_env(c, p, e);
    return;
  case HOST_ENV_GROUP:
    host_group_on_env(c, p, e, target, tlen, sender);
    return;
  case HOST_ENV_FAILED:
    /* Not delivered: it never took room there. */
    host_credit_unused(c, p, target, tlen);
    c->st.remote_failed++;
    if (e->status == TR_EPERM) /* its policy refused ours: not a drop */
      c->st.remote_denied++;
    else
      eng_count_dead(n, e->status == TR_EFULL       ? TR_DL_REMOTE_FULL
                        : e->status == TR_EBADTYPE ? TR_DL_REMOTE_BADTYPE
                                                   : TR_DL_REMOTE_NO_ACTOR,
                     sender ? sender->str : NULL, target, 0);
    host_log(c, TR_LOG_DEBUG, "remote_send_failed",
             "peer=%s target=%s status=%s", p->name, target,
             tr_errname(e->status));
    return;
  default:
    c->st.rejected++;
    host_log(c, TR_LOG_WARN, "envelope_rejected", "peer=%s type=%u",
             p->name, e->type);
    return;
  }
}

void host_on_link_room(void *user, peer_link *lk) {
  cluster *c = user;
  (void)lk;
  /* Rare (64 MiB queued to one peer): whoever waits on any remote target
   * tries again; those still without credit wait on. */
  eng_room_open(c->node, NULL, 0, 0);
  host_credit_retry(c);
}

void host_on_undeliverable(void *user, peer_link *lk, const wire_envelope *e,
                           int reason) {
  cluster *c = user;
  tr_node *n = c->node;
  host_peer *p = host_peer_find(c, link_peer(lk));
  c->st.undeliverable++;
  char target[TR_ID_MAX + 1], sender[TR_ID_MAX + 1];
  size_t tlen = host_id_copy(target, e->target);
  host_id_copy(sender, e->sender);
  /* Credit: what the link lost took no room there, and credit it lost is
   * still owed. Neither is a message. */
  if ((e->type == TR_MSG_SEND || e->type == TR_MSG_ASK) && p)
    host_credit_unused(c, p, target, tlen);
  if (e->type == HOST_ENV_CREDIT) {
    if (p) host_credit_unreturned(c, p, target, tlen, e->ask_id);
    return;
  }
  if (e->type == TR_MSG_ASK && p) {
    eng_name *t = eng_name_new(target, tlen);
    if (t) {
      eng_ask_complete(n, e->ask_id, t, NULL, 0, reason, p->idx, 0);
      eng_name_unref(t);
      return;
    }
  }
  if (e->type == HOST_ENV_MONITOR && p) {
    host_mon_unreachable(c, p, sender, target);
    return;
  }

  eng_count_dead(n, TR_DL_UNREACHABLE, sender[0] ? sender : NULL, target,
                 e->payload.len);
}
