/* swim_probe.c — the messages of swim: direct and indirect probes, the
 * relays this node runs for others' indirect probes, full-state sync, join
 * and leave, and the handling of everything received.
 *
 * A probe takes one (scaled) probe interval: PING the target; at the
 * probe timeout with no ACK, PING_REQ to k others, who PING it and relay
 * its ACK, or NACK at their own timeout; at the end of the interval with
 * no ACK from anywhere, suspect it. Lifeguard's local health moves with the
 * outcome: an ACK lowers it; a failure raises it by the NACKs that did not
 * come (a helper that cannot even say "no" hints that we are the slow one),
 * or by one when there was nobody to ask. */
#include <stdlib.h>
#include <string.h>

#include "swim_int.h"
#include "utlist.h"

static void send_raw(swim *s, const char *to_name, const char *to_addr,
                     swim_msg *msg) {
  swim_name_copy(msg->sender, s->self->u.name);
  s->st.msgs_out++;
  s->st.updates_out += msg->nupdates;
  s->ops.send(s->user, to_name, to_addr ? to_addr : "", msg);
}

/* A message with piggy-backed updates: this node's own record first (a
 * receiver always knows who talks to it, and a restart shows at once), then
 * `extra` (a probe target's own record), then the freshest news. */
static void send_gossip(swim *s, const char *to_name, const char *to_addr,
                        swim_msg_type type, uint32_t seq, const char *target,
                        swim_entry *extra) {
  swim_msg msg;
  memset(&msg, 0, sizeof(msg));
  msg.type = type;
  msg.seq = seq;
  if (target) swim_name_copy(msg.target, target);
  uint32_t n = 0;
  s->buf[n++] = s->self->u;
  swim_gq_note_sent(s, s->self);
  if (extra && extra != s->self) {
    s->buf[n++] = extra->u;
    swim_gq_note_sent(s, extra);
  }
  n += swim_gq_take(s, s->buf + n, s->max_piggyback - n, s->self, extra);
  msg.updates = s->buf;
  msg.nupdates = n;
  send_raw(s, to_name, to_addr, &msg);
}

static void send_to(swim *s, swim_entry *to, swim_msg_type type, uint32_t seq,
                    const char *target, swim_entry *extra) {
  send_gossip(s, to->u.name, to->u.addr, type, seq, target, extra);
}

/* The whole member table, this node first (it was added first). If the
 * buffer cannot grow, as much as fits goes out. */
static void send_state(swim *s, const char *to_name, const char *to_addr,
                       swim_msg_type type) {
  size_t count = HASH_COUNT(s->members);
  if (count > s->buf_cap) {
    swim_update *b = realloc(s->buf, count * sizeof(*b));
    if (b) {
      s->buf = b;
      s->buf_cap = count;
    }
  }
  swim_msg msg;
  memset(&msg, 0, sizeof(msg));
  msg.type = type;
  uint32_t n = 0;
  for (swim_entry *m = s->members; m && n < s->buf_cap; m = m->hh.next)
    s->buf[n++] = m->u;
  msg.updates = s->buf;
  msg.nupdates = n;
  send_raw(s, to_name, to_addr, &msg);
}

static const char *addr_of(swim *s, const char *name) {
  swim_entry *m = swim_find(s, name);
  return m ? m->u.addr : "";
}

/* ---- probing ------------------------------------------------------------ */

void swim_probe_start(swim *s, uint64_t now) {
  swim_entry *m = NULL;
  if (s->urgent[0]) {
    m = swim_find(s, s->urgent);
    s->urgent[0] = '\0';
    if (m && (m == s->self || !swim_is_live(m))) m = NULL;
  }
  if (!m) m = swim_next_target(s);
  uint32_t interval = swim_scaled(s, s->probe_interval);
  if (!m) {
    s->pr.stage = PROBE_IDLE;
    s->pr.next_at = now + interval;
    return;
  }
  s->pr.stage = PROBE_DIRECT;
  swim_name_copy(s->pr.target, m->u.name);
  s->pr.target_epoch = m->u.epoch;
  s->pr.seq = ++s->seq;
  s->pr.timeout_at = now + swim_scaled(s, s->probe_timeout);
  s->pr.end_at = now + interval;
  s->pr.nacks_expected = s->pr.nacks = 0;
  s->st.probes++;
  /* A suspect hears its suspicion with the probe, to refute it at once. */
  send_to(s, m, SWIM_MSG_PING, s->pr.seq, NULL,
          m->u.state == SWIM_SUSPECT ? m : NULL);
}

static void probe_indirect(swim *s, uint64_t now) {
  swim_entry *helpers[SWIM_K_MAX];
  swim_entry *target = swim_find(s, s->pr.target);
  uint32_t n = swim_pick_alive(s, helpers, s->k, s->pr.target);
  s->pr.stage = PROBE_INDIRECT;
  s->pr.nacks_expected = n;
  s->pr.nacks = 0;
  /* Helpers get the rest of an interval, even when this tick came late. */
  uint64_t end = now + swim_scaled(s, s->probe_interval) -
                 swim_scaled(s, s->probe_timeout);
  if (end > s->pr.end_at) s->pr.end_at = end;
  for (uint32_t i = 0; i < n; i++) {
    s->st.probes_indirect++;
    /* The target's record rides along: a helper may not know it yet. */
    send_to(s, helpers[i], SWIM_MSG_PING_REQ, s->pr.seq, s->pr.target, target);
  }
}

static void probe_fail(swim *s, uint64_t now) {
  swim_entry *m = swim_find(s, s->pr.target);
  /* A target nothing listens for explains the missing ack, and so does
   * one suspected here already: its silence is known, and probing it
   * again says nothing new about this node's own slowness (Lifeguard's
   * health stays). Counted, a peer hung in a cluster of two raised the
   * survivor's health at every probe until the next verdicts took up to
   * nine times as long. */
  bool explained =
      m && (swim_refused_lately(m, now) || m->u.state == SWIM_SUSPECT);
  /* The suspicion is timed by the health this node had before this probe:
   * its failure is the evidence against the target, not also a reason to
   * wait longer on it. */
  if (m && m->u.epoch == s->pr.target_epoch && swim_is_live(m))
    swim_suspect(s, m, now);
  if (!explained) {
    int charge = s->pr.nacks_expected
                     ? (int)(s->pr.nacks_expected - s->pr.nacks)
                     : 1;
    swim_lhm_add(s, charge);
    if (m) m->lhm_charged += (uint32_t)charge;
  }
}

void swim_probe_deadline(swim *s, uint64_t now) {
  switch (s->pr.stage) {
    case PROBE_IDLE:
    case PROBE_ACKED:
      swim_probe_start(s, now);
      break;
    case PROBE_DIRECT:
      probe_indirect(s, now);
      break;
    case PROBE_INDIRECT:
      probe_fail(s, now);
      swim_probe_start(s, now);
      break;
  }
}

/* A closed link: the member is probed now, or next if a probe of another
 * member is under way; if it is the one being probed, its indirect probes
 * start at once. */
void swim_probe_urgent(swim *s, swim_entry *m, uint64_t now) {
  bool current = strcmp(s->pr.target, m->u.name) == 0;
  if (s->pr.stage == PROBE_DIRECT && current) {
    probe_indirect(s, now);
    return;
  }
  if (s->pr.stage == PROBE_INDIRECT && current) return;
  swim_name_copy(s->urgent, m->u.name);
  if (s->pr.stage == PROBE_IDLE || s->pr.stage == PROBE_ACKED)
    swim_probe_start(s, now);
}

static void on_ack(swim *s, const char *from, const swim_msg *msg) {
  if ((s->pr.stage == PROBE_DIRECT || s->pr.stage == PROBE_INDIRECT) &&
      msg->seq == s->pr.seq &&
      (strcmp(from, s->pr.target) == 0 ||
       strcmp(msg->target, s->pr.target) == 0)) {
    s->pr.stage = PROBE_ACKED;
    s->st.acks++;
    swim_lhm_add(s, -1);
    /* It answers in the epoch it was charged in: the charges stand. */
    swim_entry *m = swim_find(s, s->pr.target);
    if (m) m->lhm_charged = 0;
    return;
  }
  for (uint32_t i = 0; i < s->nrelays; i++) {
    swim_relay *rl = &s->relays[i];
    if (rl->my_seq != msg->seq || strcmp(from, rl->target) != 0) continue;
    send_gossip(s, rl->requester, addr_of(s, rl->requester), SWIM_MSG_ACK,
                rl->req_seq, rl->target, NULL);
    memmove(rl, rl + 1, (s->nrelays - i - 1) * sizeof(*rl));
    s->nrelays--;
    return;
  }
}

static void on_nack(swim *s, const swim_msg *msg) {
  if (s->pr.stage != PROBE_INDIRECT || msg->seq != s->pr.seq ||
      strcmp(msg->target, s->pr.target) != 0)
    return;
  s->st.nacks++;
  if (s->pr.nacks < s->pr.nacks_expected) s->pr.nacks++;
}

/* ---- relays: indirect probes for others --------------------------------- */

static void on_ping_req(swim *s, const char *from, const swim_msg *msg,
                        uint64_t now) {
  swim_entry *t = swim_find(s, msg->target);
  if (!t || t == s->self) {
    /* Nothing to probe: answer at once that we could not reach it. */
    send_gossip(s, from, addr_of(s, from), SWIM_MSG_NACK, msg->seq, msg->target,
                NULL);
    return;
  }
  /* Busy: no answer; the requester counts the missing NACK against its own
   * health, which is the honest reading of an overloaded helper. */
  if (s->nrelays == SWIM_RELAYS_MAX) return;
  swim_relay *rl = &s->relays[s->nrelays++];
  swim_name_copy(rl->requester, from);
  swim_name_copy(rl->target, t->u.name);
  rl->req_seq = msg->seq;
  rl->my_seq = ++s->seq;
  rl->deadline = now + swim_scaled(s, s->probe_timeout);
  send_to(s, t, SWIM_MSG_PING, rl->my_seq, NULL,
          t->u.state == SWIM_SUSPECT ? t : NULL);
}

void swim_relay_expire(swim *s, uint32_t index) {
  swim_relay rl = s->relays[index];
  memmove(&s->relays[index], &s->relays[index + 1],
          (s->nrelays - index - 1) * sizeof(rl));
  s->nrelays--;
  send_gossip(s, rl.requester, addr_of(s, rl.requester), SWIM_MSG_NACK,
              rl.req_seq, rl.target, NULL);
}

/* ---- sync, join, leave -------------------------------------------------- */

/* As memberlist's push-pull scale: past 32 members the exchange slows by
 * ceil(log2 N) - 4 (x3 at 100 members, x6 at 1,000), so full states of N
 * members cost a node about the same bandwidth whatever N. Unless the last
 * full state taught us something: while the cluster churns (a join storm,
 * a healed partition) anti-entropy keeps the configured pace. */
static uint32_t sync_scale(uint32_t n) {
  uint32_t lg = 0;
  while (lg < 31 && (1u << lg) < n) lg++;
  return n <= 32 ? 1 : lg - 4;
}

void swim_sync_tick(swim *s, uint64_t now) {
  swim_entry *m;
  if (swim_pick_alive(s, &m, 1, NULL) == 1) {
    s->st.syncs++;
    send_state(s, m->u.name, m->u.addr, SWIM_MSG_SYNC_REQ);
  }
  /* A member held dead may be alive behind a healed partition, where it
   * holds us dead: nobody probes the dead, so ask one (as Serf's reconnect
   * does). It refutes what we say of it, we refute what it says of us. */
  swim_entry *d = swim_pick_dead(s);
  if (d) send_state(s, d->u.name, d->u.addr, SWIM_MSG_SYNC_REQ);
  /* And once in a while a seed: a partition that outlived dead_reclaim_ms
   * left no dead member to ask, but the seeds may be across it. */
  if (s->nseeds && ++s->sync_rounds % SWIM_SEED_SYNC_EVERY == 0)
    send_state(s, NULL, s->seeds[swim_rand_below(s, (uint32_t)s->nseeds)],
               SWIM_MSG_SYNC_REQ);
  uint32_t interval =
      s->sync_interval * (s->sync_learned ? 1 : sync_scale(s->nlive));
  s->sync_learned = false;
  s->sync_at = now + 1 + interval / 2 + swim_rand_below(s, interval);
}

void swim_join_tick(swim *s, uint64_t now) {
  for (size_t i = 0; i < s->nseeds; i++)
    send_state(s, NULL, s->seeds[i], SWIM_MSG_SYNC_REQ);
  s->join_at = now + s->join_backoff;
  uint32_t cap = s->join_retry * 8;
  s->join_backoff = s->join_backoff * 2 > cap ? cap : s->join_backoff * 2;
}

/* To every live member in a cluster of up to SWIM_LEAVE_ALL (k + 1
 * others beyond, the rest by gossip): a member that hears of the leave
 * only when its link closes and its dials are refused would take it for a
 * death (swim_refused). */
void swim_leave_send(swim *s) {
  swim_entry *to[SWIM_LEAVE_ALL];
  uint32_t want = s->nlive <= SWIM_LEAVE_ALL ? SWIM_LEAVE_ALL : s->k + 1;
  uint32_t n = swim_pick_alive(s, to, want, NULL);
  for (uint32_t i = 0; i < n; i++)
    send_to(s, to[i], SWIM_MSG_LEAVE, 0, NULL, NULL);
}

/* ---- receiving ---------------------------------------------------------- */

/* Seeds are asked again only if this node ends up alone, at the longest
 * backoff. */
static void mark_joined(swim *s) {
  if (s->joined) return;
  s->joined = true;
  s->join_backoff = s->join_retry * 8;
}

void swim_msg_receive(swim *s, const char *from, const swim_msg *msg,
                      uint64_t now) {
  if (!msg) return;
  if (!from || !memchr(msg->sender, 0, sizeof(msg->sender)) ||
      strcmp(msg->sender, from) != 0 || strcmp(from, s->self->u.name) == 0) {
    s->st.rejected_sender++;
    return;
  }
  if ((msg->nupdates && !msg->updates) ||
      !memchr(msg->target, 0, sizeof(msg->target)))
    return;
  if (s->left) { /* still say so to whoever probes */
    if (msg->type == SWIM_MSG_PING)
      send_gossip(s, from, addr_of(s, from), SWIM_MSG_ACK, msg->seq,
                  s->self->u.name, NULL);
    return;
  }
  swim_origin origin = ORIGIN_GOSSIP;
  if (msg->type == SWIM_MSG_SYNC_REQ) origin = ORIGIN_SYNC;
  if (msg->type == SWIM_MSG_SYNC)
    origin = s->joined ? ORIGIN_SYNC : ORIGIN_JOIN;
  for (uint32_t i = 0; i < msg->nupdates; i++)
    swim_apply(s, &msg->updates[i], from, origin, now);
  if (s->sync_learned && s->started) { /* churn: the next sync comes soon */
    uint64_t soon =
        now + 1 + s->sync_interval / 2 + swim_rand_below(s, s->sync_interval);
    if (soon < s->sync_at) s->sync_at = soon;
  }

  switch (msg->type) {
    case SWIM_MSG_PING:
      /* Updates first: a refutation they caused is in this ACK's record. */
      send_gossip(s, from, addr_of(s, from), SWIM_MSG_ACK, msg->seq,
                  s->self->u.name, NULL);
      break;
    case SWIM_MSG_PING_REQ:
      on_ping_req(s, from, msg, now);
      break;
    case SWIM_MSG_ACK:
      on_ack(s, from, msg);
      break;
    case SWIM_MSG_NACK:
      on_nack(s, msg);
      break;
    case SWIM_MSG_SYNC_REQ:
      /* Someone's cluster now knows us: joined as much as through a seed. */
      mark_joined(s);
      s->st.syncs++;
      send_state(s, from, addr_of(s, from), SWIM_MSG_SYNC);
      break;
    case SWIM_MSG_SYNC:
      mark_joined(s);
      break;
    case SWIM_MSG_LEAVE: {
      /* The sender's own record said so; this covers a LEAVE without it. */
      swim_entry *m = swim_find(s, from);
      if (m && swim_is_live(m)) {
        swim_update v = m->u;
        v.state = SWIM_LEFT;
        swim_apply(s, &v, from, ORIGIN_GOSSIP, now);
      }
      break;
    }
  }
}
