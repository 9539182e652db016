/* link.c — the logical link to one peer: its send stream (sequence
 * numbers, queued and resend chunks, acks), its receive stream (in-order
 * delivery, duplicates after a resume dropped), the simultaneous-dial
 * tie-break, reconnect with backoff and jitter, and the resume window. */
#include <stdlib.h>
#include <string.h>

#include <pb_encode.h>

#include "link_int.h"

static void link_set_state(peer_link *lk, link_state s) {
  if (lk->state == s) return;
  lk->state = s;
  lk->st.state = s;
  link_mgr *m = lk->mgr;
  if (m->cfg.ops.on_state && !m->freeing) m->cfg.ops.on_state(m->cfg.user, lk, s);
}

static void link_on_timer_close(uv_handle_t *h) {
  peer_link *lk = h->data;
  if (--lk->refs > 0) return;
  link_mgr *m = lk->mgr;
  tls_session_free(lk->tls_sess);
  link_frames_free(&lk->ctl);
  free(lk->peer);
  free(lk->addr);
  free(lk);
  mgr_release(m);
}

uint64_t link_new_session(link_mgr *m) {
  uint64_t s = 0;
  while (s == 0) s = mgr_random(m);
  return s;
}

static void link_on_window(uv_timer_t *t);
static void link_on_retry(uv_timer_t *t);
static void link_on_ping_timer(uv_timer_t *t);

peer_link *link_create(link_mgr *m, const char *peer) {
  peer_link *lk = calloc(1, sizeof(*lk));
  if (!lk) return NULL;
  lk->peer = strdup(peer);
  if (!lk->peer) {
    free(lk);
    return NULL;
  }
  lk->mgr = m;
  lk->my_session = link_new_session(m);
  uv_timer_init(m->loop, &lk->retry_timer);
  uv_timer_init(m->loop, &lk->window_timer);
  uv_timer_init(m->loop, &lk->ping_timer);
  lk->retry_timer.data = lk->window_timer.data = lk->ping_timer.data = lk;
  lk->refs = 3;
  HASH_ADD_KEYPTR(hh, m->links, lk->peer, strlen(lk->peer), lk);
  m->open++;
  /* Until it is up, the resume window bounds how long sends may wait. */
  uv_timer_start(&lk->window_timer, link_on_window, m->cfg.resume_window_ms, 0);
  return lk;
}

static void link_schedule_dial(peer_link *lk) {
  link_mgr *m = lk->mgr;
  if (!lk->addr || lk->dialing || lk->active || lk->closing || m->freeing)
    return;
  /* Exponential backoff with full jitter in [d/2, d]. */
  uint64_t d = m->cfg.reconnect_min_ms;
  for (uint32_t i = 0; i < lk->attempts && d < m->cfg.reconnect_max_ms; i++)
    d *= 2;
  if (d > m->cfg.reconnect_max_ms) d = m->cfg.reconnect_max_ms;
  uint64_t delay = lk->attempts == 0 ? 0 : d / 2 + mgr_random(m) % (d / 2 + 1);
  lk->attempts++;
  uv_timer_start(&lk->retry_timer, link_on_retry, delay, 0);
}

static void link_on_retry(uv_timer_t *t) {
  peer_link *lk = t->data;
  if (lk->active || lk->dialing || lk->closing) return;
  if (lk->state == LINK_DOWN) link_set_state(lk, LINK_CONNECTING);
  if (conn_dial(lk) != 0) link_schedule_dial(lk);
}

int link_open(link_mgr *m, const char *peer, const char *addr, peer_link **out) {
  if (!m || !peer || !peer[0] || strlen(peer) > TR_ID_MAX ||
      strcmp(peer, m->name) == 0 || m->freeing)
    return TR_EINVAL;
  peer_link *lk = link_find(m, peer);
  bool created = !lk;
  if (!lk) {
    lk = link_create(m, peer);
    if (!lk) return TR_ENOMEM;
  }
  if (addr && (!lk->addr || strcmp(addr, lk->addr) != 0)) {
    char *a = strdup(addr);
    if (!a) return TR_ENOMEM;
    free(lk->addr);
    lk->addr = a;
  }
  if (created || (!lk->active && !lk->dialing)) {
    lk->attempts = 0;
    link_schedule_dial(lk);
  }
  if (out) *out = lk;
  return 0;
}

const char *link_peer(peer_link *lk) { return lk->peer; }
bool link_peer_client_only(peer_link *lk) { return lk->client_only; }

/* ---- the send stream ----------------------------------------------------- */

static void chunks_free(link_mgr *m, link_chunk *c) {
  while (c) {
    link_chunk *next = c->next;
    mgr_chunk_put(m, c);
    c = next;
  }
}

/* Reports every envelope in a chunk list as undeliverable, in order. */
static void chunks_report(peer_link *lk, link_chunk *c) {
  link_mgr *m = lk->mgr;
  for (; c; c = c->next) {
    size_t off = 0;
    while (off + WIRE_HDR <= c->len) {
      const uint8_t *p = c->data + off;
      size_t n = (size_t)p[0] << 24 | (size_t)p[1] << 16 |
                 (size_t)p[2] << 8 | p[3];
      wire_envelope e;
      if (wire_decode_envelope(p + WIRE_HDR, n - 1, &e) == 0) {
        lk->st.undeliverable++;
        if (m->cfg.ops.on_undeliverable)
          m->cfg.ops.on_undeliverable(m->cfg.user, lk, &e, TR_EUNREACHABLE);
      }
      off += 4 + n;
    }
  }
}

/* Forgets our stream: whatever it still held is undeliverable. */
static void link_reset_send_stream(peer_link *lk, bool report) {
  link_mgr *m = lk->mgr;
  link_chunk *r = lk->r_head, *q = lk->q_head;
  lk->r_head = lk->r_tail = lk->q_head = lk->q_tail = NULL;
  if (report) {
    chunks_report(lk, r);
    chunks_report(lk, q);
  }
  chunks_free(m, r);
  chunks_free(m, q);
  lk->held_bytes = 0;
  lk->send_seq = lk->written_seq = lk->acked_seq = 0;
  lk->my_session = link_new_session(m);
}

int link_send(peer_link *lk, const wire_envelope *e) {
  if (!lk || !e || lk->closing) return TR_EINVAL;
  link_mgr *m = lk->mgr;
  if (lk->unreachable) return TR_EUNREACHABLE;
  size_t bound = wire_envelope_bound(e);
  if (lk->send_seq - lk->acked_seq >= m->cfg.queue_max_frames ||
      lk->held_bytes + bound > m->cfg.queue_max_bytes) {
    lk->st.rejected_full++;
    return TR_EFULL;
  }
  wire_envelope s = *e;
  s.seq = lk->send_seq + 1;
  link_chunk *c = lk->q_tail;
  if (!c || c->cap - c->len < bound) {
    c = mgr_chunk_get(m, bound);
    if (!c) return TR_ENOMEM;
    int n = wire_encode_envelope(c->data, c->cap, m->cfg.max_frame, &s);
    if (n < 0) {
      mgr_chunk_put(m, c);
      return n;
    }
    c->len = (size_t)n;
    if (lk->q_tail)
      lk->q_tail->next = c;
    else
      lk->q_head = c;
    lk->q_tail = c;
    lk->held_bytes += c->cap;
  } else {
    int n = wire_encode_envelope(c->data + c->len, c->cap - c->len,
                                 m->cfg.max_frame, &s);
    if (n < 0) return n;
    c->len += (size_t)n;
  }
  c->last_seq = s.seq;
  lk->send_seq = s.seq;
  lk->st.envelopes_out++;
  if (lk->state == LINK_UP) mgr_mark_dirty(lk);
  return 0;
}

/* Frames are encoded where they wait, so a frame costs one copy. */
int link_frames_add(link_mgr *m, link_frames *fs, troupe_FrameKind kind,
                    const void *msg, const pb_msgdesc_t *fields) {
  size_t limit = m->cfg.max_frame * 2u + 4096;
  for (;;) {
    int n = wire_encode_msg(fs->p + fs->len, fs->cap - fs->len, kind, fields,
                            msg);
    if (n >= 0) {
      if ((size_t)n - WIRE_HDR + 1 > m->cfg.max_frame) return TR_ETOOBIG;
      fs->len += (size_t)n;
      fs->n++;
      return 0;
    }
    if (n != TR_EFULL) return n;
    size_t cap = fs->cap ? fs->cap * 2 : 1024;
    while (cap - fs->len < 4096) cap *= 2;
    if (cap > limit) {
      /* Rare: tell a frame that can never fit from a full buffer. */
      size_t size = 0;
      if (!pb_get_encoded_size(&size, fields, msg)) return TR_EINVAL;
      return size + 1 > m->cfg.max_frame ? TR_ETOOBIG : TR_EFULL;
    }
    uint8_t *b = realloc(fs->p, cap);
    if (!b) return TR_ENOMEM;
    fs->p = b;
    fs->cap = cap;
  }
}

void link_frames_free(link_frames *fs) {
  free(fs->p);
  memset(fs, 0, sizeof(*fs));
}

int link_ctl_append(peer_link *lk, troupe_FrameKind kind, const void *msg,
                    const pb_msgdesc_t *fields) {
  int rc = link_frames_add(lk->mgr, &lk->ctl, kind, msg, fields);
  if (rc == 0) mgr_mark_dirty(lk);
  return rc;
}

int link_ctl_take(peer_link *lk, link_frames *fs) {
  int rc = 0;
  if (fs->len && !lk->closing) {
    if (lk->ctl.cap - lk->ctl.len < fs->len) {
      uint8_t *b = realloc(lk->ctl.p, lk->ctl.len + fs->len);
      if (!b) {
        rc = TR_ENOMEM;
        goto out;
      }
      lk->ctl.p = b;
      lk->ctl.cap = lk->ctl.len + fs->len;
    }
    memcpy(lk->ctl.p + lk->ctl.len, fs->p, fs->len);
    lk->ctl.len += fs->len;
    lk->ctl.n += fs->n;
    mgr_mark_dirty(lk);
  }
out:
  link_frames_free(fs);
  return rc;
}

int link_send_frame(peer_link *lk, troupe_FrameKind kind, const void *msg,
                    const pb_msgdesc_t *fields) {
  if (!lk || (unsigned)kind < 16 || lk->closing) return TR_EINVAL;
  if (lk->state != LINK_UP) return TR_EUNREACHABLE;
  return link_ctl_append(lk, kind, msg, fields);
}

/* Writes control frames, then queued chunks (up to LINK_FLUSH_MAX), in one
 * TLS write batch and one socket write. */
void link_flush(peer_link *lk) {
  link_conn *c = lk->active;
  if (!c || lk->state != LINK_UP || c->st != CONN_UP) return;
  /* The socket is behind: let it drain before encrypting more. */
  if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > LINK_FLUSH_MAX) {
    mgr_mark_dirty(lk);
    return;
  }
  if (lk->ack_due) {
    troupe_Ack a = {.has_seq = true, .seq = lk->recv_seq};
    lk->ack_due = false;
    if (link_frames_add(lk->mgr, &lk->ctl, troupe_FrameKind_FRAME_ACK, &a,
                        troupe_Ack_fields) != 0)
      return;
  }
  /* One buffer for all the records of this flush. */
  size_t plain = lk->ctl.len;
  for (link_chunk *k = lk->q_head; k && plain < LINK_FLUSH_MAX; k = k->next)
    plain += k->len;
  if (tls_conn_reserve(c->tls, plain) != 0) return;
  if (lk->ctl.len) {
    if (conn_write_plain(c, lk->ctl.p, lk->ctl.len) != 0) return;
    lk->st.frames_out += lk->ctl.n;
    lk->ctl.len = 0;
    lk->ctl.n = 0;
  }
  size_t budget = LINK_FLUSH_MAX;
  while (lk->q_head && budget > 0) {
    link_chunk *k = lk->q_head;
    if (conn_write_plain(c, k->data, k->len) != 0) return;
    budget = k->len >= budget ? 0 : budget - k->len;
    lk->q_head = k->next;
    if (!lk->q_head) lk->q_tail = NULL;
    k->next = NULL;
    if (lk->r_tail)
      lk->r_tail->next = k;
    else
      lk->r_head = k;
    lk->r_tail = k;
    lk->st.frames_out += k->last_seq - lk->written_seq;
    lk->written_seq = k->last_seq;
  }
  conn_flush_out(c);
  if (lk->q_head) mgr_mark_dirty(lk);
}

void link_on_ack(peer_link *lk, uint64_t seq) {
  if (seq > lk->written_seq) seq = lk->written_seq; /* cannot ack the future */
  if (seq <= lk->acked_seq) return;
  lk->acked_seq = seq;
  while (lk->r_head && lk->r_head->last_seq <= seq) {
    link_chunk *k = lk->r_head;
    lk->r_head = k->next;
    if (!lk->r_head) lk->r_tail = NULL;
    lk->held_bytes -= k->cap;
    mgr_chunk_put(lk->mgr, k);
  }
}

/* ---- the receive stream -------------------------------------------------- */

link_close_reason link_on_envelope(peer_link *lk, const uint8_t *body, size_t len) {
  wire_envelope e;
  if (wire_decode_envelope(body, len, &e) != 0) return LINK_CLOSE_MALFORMED;
  if (lk->recv_base_unknown) {
    if (e.seq == 0) return LINK_CLOSE_SEQ_GAP;
    lk->recv_seq = e.seq - 1;
    lk->recv_base_unknown = false;
  }
  if (e.seq <= lk->recv_seq) {
    lk->st.duplicates_dropped++; /* resent after a resume: already here */
    return LINK_CLOSE_NONE;
  }
  if (e.seq != lk->recv_seq + 1) return LINK_CLOSE_SEQ_GAP;
  lk->recv_seq = e.seq;
  lk->st.envelopes_in++;
  if (!lk->ack_due) {
    lk->ack_due = true;
    mgr_mark_dirty(lk);
  }
  link_mgr *m = lk->mgr;
  if (m->cfg.ops.on_envelope) m->cfg.ops.on_envelope(m->cfg.user, lk, &e);
  return LINK_CLOSE_NONE;
}

void link_on_ping(peer_link *lk, const troupe_Ping *p) {
  troupe_Pong pong = {.has_nonce = true, .nonce = p->nonce,
                      .has_sent_ns = true, .sent_ns = p->sent_ns};
  link_ctl_append(lk, troupe_FrameKind_FRAME_PONG, &pong, troupe_Pong_fields);
}

void link_on_pong(peer_link *lk, const troupe_Pong *p) {
  uint64_t now = uv_hrtime();
  if (p->sent_ns == 0 || p->sent_ns > now) return;
  uint32_t sample = (uint32_t)((now - p->sent_ns) / 1000);
  if (sample == 0) sample = 1;
  lk->st.rtt_us = lk->st.rtt_us ? (lk->st.rtt_us * 7 + sample) / 8 : sample;
}

static void link_send_ping(peer_link *lk) {
  troupe_Ping p = {.has_nonce = true, .nonce = ++lk->ping_nonce,
                   .has_sent_ns = true, .sent_ns = uv_hrtime()};
  link_ctl_append(lk, troupe_FrameKind_FRAME_PING, &p, troupe_Ping_fields);
}

static void link_on_ping_timer(uv_timer_t *t) {
  peer_link *lk = t->data;
  if (lk->state == LINK_UP) link_send_ping(lk);
}

/* ---- connections coming and going ---------------------------------------- */

void link_fill_hello(link_mgr *m, peer_link *lk, troupe_Hello *h) {
  h->has_version = h->has_node = h->has_incarnation = h->has_session = true;
  h->has_peer_session = h->has_recv_seq = h->has_max_frame = true;
  h->version = WIRE_VERSION;
  strncpy(h->node, m->name, sizeof(h->node) - 1);
  h->incarnation = m->cfg.incarnation;
  h->max_frame = m->cfg.max_frame;
  if (!lk) return;
  h->session = lk->my_session;
  h->peer_session = lk->peer_session;
  h->recv_seq = lk->recv_seq;
}

/* Which of two connections to the same peer survives: the one dialed by
 * the node whose name sorts first; between two dialed by the same node (a
 * reconnect racing a half-open old one), the newer. Both ends agree. */
static bool conn_wins(peer_link *lk, link_conn *newer, link_conn *older) {
  if (newer->dialer == older->dialer) return true;
  bool me_first = strcmp(lk->mgr->name, lk->peer) < 0;
  return newer->dialer == me_first;
}

void link_conn_up(peer_link *lk, link_conn *c, const troupe_Hello *h) {
  link_mgr *m = lk->mgr;
  if (lk->dialing == c) lk->dialing = NULL;
  if (lk->active && lk->active != c) {
    if (!conn_wins(lk, c, lk->active)) {
      conn_close(c, LINK_CLOSE_DUPLICATE);
      return;
    }
    link_conn *old = lk->active;
    lk->active = NULL;
    conn_close(old, LINK_CLOSE_DUPLICATE);
  }
  /* The peer's stream: same session continues, a new one starts over. */
  if (h->session != lk->peer_session) {
    lk->peer_session = h->session;
    lk->recv_seq = 0;
    lk->recv_base_unknown = true;
  }
  /* Our stream: resend what the peer has not seen, or, if it does not know
   * our session (it restarted or gave up on us), report what it may have
   * lost and carry on with the rest. */
  if (h->peer_session == lk->my_session) {
    uint64_t got = h->recv_seq < lk->written_seq ? h->recv_seq : lk->written_seq;
    link_on_ack(lk, got);
    if (lk->r_head) {
      lk->st.resumes++;
      lk->r_tail->next = lk->q_head;
      if (!lk->q_head) lk->q_tail = lk->r_tail;
      lk->q_head = lk->r_head;
      lk->r_head = lk->r_tail = NULL;
      lk->written_seq = got;
    }
  } else if (lk->r_head) {
    link_chunk *r = lk->r_head;
    lk->r_head = lk->r_tail = NULL;
    chunks_report(lk, r);
    for (link_chunk *k = r; k; k = k->next) lk->held_bytes -= k->cap;
    chunks_free(m, r);
    lk->acked_seq = lk->written_seq;
  }
  lk->active = c;
  lk->unreachable = false;
  lk->attempts = 0;
  uv_timer_stop(&lk->window_timer);
  uv_timer_stop(&lk->retry_timer);
  lk->st.connects++;
  if (lk->ever_up) lk->st.reconnects++;
  lk->ever_up = true;
  mgr_log(m, TR_LOG_INFO, "link_up", "peer=%s dialer=%d tls_resumed=%d",
          lk->peer, c->dialer, tls_conn_resumed(c->tls));
  uv_timer_start(&lk->ping_timer, link_on_ping_timer, m->cfg.ping_interval_ms,
                 m->cfg.ping_interval_ms);
  link_set_state(lk, LINK_UP);
  if (c->st != CONN_UP || lk->active != c) return;
  link_send_ping(lk); /* an RTT figure right away */
  mgr_mark_dirty(lk);
}

void link_conn_gone(peer_link *lk, link_conn *c) {
  if (lk->dialing == c) lk->dialing = NULL;
  if (lk->active != c) {
    if (!lk->active && !lk->closing) link_schedule_dial(lk);
    return;
  }
  lk->active = NULL;
  uv_timer_stop(&lk->ping_timer);
  if (lk->closing || lk->mgr->freeing) return;
  link_set_state(lk, LINK_DOWN);
  uv_timer_start(&lk->window_timer, link_on_window,
                 lk->mgr->cfg.resume_window_ms, 0);
  link_schedule_dial(lk);
}

/* Down for the whole window: give up on both streams. */
static void link_on_window(uv_timer_t *t) {
  peer_link *lk = t->data;
  if (lk->active) return;
  mgr_log(lk->mgr, TR_LOG_WARN, "link_unreachable", "peer=%s queued=%llu",
          lk->peer, (unsigned long long)(lk->send_seq - lk->acked_seq));
  lk->unreachable = true;
  link_reset_send_stream(lk, true);
  lk->peer_session = 0;
  lk->recv_seq = 0;
  lk->ctl.len = 0;
  lk->ctl.n = 0;
  lk->ack_due = false;
}

void link_free_now(peer_link *lk, bool report) {
  if (lk->closing) return;
  link_mgr *m = lk->mgr;
  lk->closing = true;
  link_reset_send_stream(lk, report);
  HASH_DEL(m->links, lk);
  if (lk->dirty) {
    peer_link **pp = &m->dirty_head;
    while (*pp && *pp != lk) pp = &(*pp)->dirty_next;
    if (*pp) *pp = lk->dirty_next;
    lk->dirty = false;
  }
  link_conn *a = lk->active, *d = lk->dialing;
  lk->active = lk->dialing = NULL;
  if (a) {
    a->lk = NULL;
    conn_close(a, LINK_CLOSE_LOCAL);
  }
  if (d) {
    d->lk = NULL;
    conn_close(d, LINK_CLOSE_LOCAL);
  }
  /* Connections still in their hello for this peer hold no pointer yet. */
  for (link_conn *c = m->conns; c; c = c->next)
    if (c->lk == lk) {
      c->lk = NULL;
      conn_close(c, LINK_CLOSE_LOCAL);
    }
  uv_close((uv_handle_t *)&lk->retry_timer, link_on_timer_close);
  uv_close((uv_handle_t *)&lk->window_timer, link_on_timer_close);
  uv_close((uv_handle_t *)&lk->ping_timer, link_on_timer_close);
}

void link_close(peer_link *lk) {
  if (lk) link_free_now(lk, true);
}

void link_fault_drop(peer_link *lk) {
  if (lk && lk->active) conn_close(lk->active, LINK_CLOSE_IO);
}

void link_get_stats(peer_link *lk, link_stats *out) {
  *out = lk->st;
  out->state = lk->state;
  out->queued = (uint32_t)(lk->send_seq - lk->written_seq);
  out->unacked = (uint32_t)(lk->written_seq - lk->acked_seq);
  out->queued_bytes = lk->held_bytes;
}
