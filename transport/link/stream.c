/* stream.c — the two streams of a link: ours (sequence numbers, chunks
 * queued and kept until acked, the flush into one TLS write, the resend
 * after a resume) and the peer's (in-order delivery, duplicates after a
 * resume dropped, the acks and pongs it is owed). Knows the link's active
 * connection only to write to it. */
#include <stdlib.h>
#include <string.h>

#include "link_int.h"

uint64_t link_new_session(link_mgr *m) {
  uint64_t s = 0;
  while (s == 0) s = mgr_random(m);
  return s;
}

/* ---- the send stream ---------------------------------------------------- */

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

/* The link's queue bytes, kept in the node's memory count too. */
static void held_add(peer_link *lk, size_t n) {
  lk->held_bytes += n;
  lk->mgr->env.mem_used += n;
}

static void held_sub(peer_link *lk, size_t n) {
  lk->held_bytes -= n;
  lk->mgr->env.mem_used -= n;
}

/* After memory was given back: a send the budget refused is told (on any
 * link: whoever waits on any link tries again) once half of it is free. */
static void memory_room(peer_link *lk) {
  link_mgr *m = lk->mgr;
  if (m->memory_refused && m->env.mem_used < m->cfg.memory_budget / 2) {
    m->memory_refused = false;
    if (m->cfg.ops.on_room) m->cfg.ops.on_room(m->cfg.user, lk);
  }
}

void link_stream_reset(peer_link *lk, bool report) {
  link_mgr *m = lk->mgr;
  link_chunk *r = lk->r_head, *q = lk->q_head;
  lk->r_head = lk->r_tail = lk->q_head = lk->q_tail = NULL;
  held_sub(lk, lk->held_bytes);
  if (report) {
    chunks_report(lk, r);
    chunks_report(lk, q);
  }
  chunks_free(m, r);
  chunks_free(m, q);
  lk->send_seq = lk->written_seq = lk->acked_seq = 0;
  lk->my_session = link_new_session(m);
  memory_room(lk);
}

int link_send(peer_link *lk, const wire_envelope *e) {
  if (!lk || !e || lk->closing) return TR_EINVAL;
  link_mgr *m = lk->mgr;
  if (lk->unreachable) return TR_EUNREACHABLE;
  wire_envelope s = *e;
  s.future = (wire_slice){m->future, m->future_len};
  size_t bound = wire_envelope_bound(&s);
  if (lk->send_seq - lk->acked_seq >= m->cfg.queue_max_frames ||
      lk->held_bytes + bound > m->cfg.queue_max_bytes) {
    lk->st.rejected_full++;
    lk->refused_full = true;
    return TR_EFULL;
  }
  if (m->env.mem_used + bound > m->cfg.memory_budget) {
    uint64_t hits;
    lk->st.rejected_full++;
    m->st.memory_refused++;
    m->memory_refused = true;
    if (ratelog_hit(&m->rl_memory, uv_now(m->loop), &hits))
      mgr_log(m, TR_LOG_WARN, "memory_budget",
              "peer=%s used=%zu budget=%zu refused=%llu", lk->peer,
              m->env.mem_used, m->cfg.memory_budget,
              (unsigned long long)hits);
    return TR_EFULL;
  }
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
    held_add(lk, c->cap);
  } else {
    int n = wire_encode_envelope(c->data + c->len, c->cap - c->len,
                                 m->cfg.max_frame, &s);
    if (n < 0) return n;
    c->len += (size_t)n;
  }
  c->last_seq = s.seq;
  lk->send_seq = s.seq;
  lk->st.envelopes_out++;
  if (lk->state == LINK_UP) {
    /* A long run of sends in one loop iteration (a producer refilling its
     * window) goes out as it is made, a flush's worth at a time, instead
     * of all after the run: the peer starts on it meanwhile. */
    if ((lk->send_seq & (LINK_FLUSH_FRAMES - 1)) == 0 &&
        lk->send_seq - lk->written_seq >= LINK_FLUSH_FRAMES)
      link_flush(lk); /* marks the link dirty if it could not write all */
    else
      mgr_mark_dirty(lk);
  }
  return 0;
}

static int link_ctl_append(peer_link *lk, troupe_FrameKind kind,
                           const void *msg, const pb_msgdesc_t *fields) {
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

/* A node link's RTT sample rides on frames it writes anyway, at most once
 * a ping interval; not on a flush that answers the peer's ping (the
 * peer's pong would then go out alone, a write and a wake-up on each side
 * for nothing). */
static void link_ping_with_traffic(peer_link *lk) {
  bool answering = lk->pong_queued;
  lk->pong_queued = false;
  if (link_is_op(lk) || answering || (!lk->ctl.len && !lk->q_head)) return;
  uint64_t now = uv_now(lk->mgr->loop);
  if (now - lk->ping_at < lk->mgr->cfg.ping_interval_ms) return;
  troupe_Ping p = {.has_nonce = true, .nonce = ++lk->ping_nonce,
                   .has_sent_ns = true, .sent_ns = uv_hrtime()};
  if (link_frames_add(lk->mgr, &lk->ctl, troupe_FrameKind_FRAME_PING, &p,
                      troupe_Ping_fields) == 0)
    lk->ping_at = now;
}

/* Writes control frames, then queued chunks (up to LINK_FLUSH_MAX), in one
 * TLS write batch and one socket write. */
void link_flush(peer_link *lk) {
  link_conn *c = lk->active;
  if (!c || lk->state != LINK_UP || c->st != CONN_UP) return;
  /* The socket is behind: let it drain before encrypting more. */
  if (conn_write_backlog(c) > LINK_FLUSH_MAX) {
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
  link_ping_with_traffic(lk);
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

static void link_on_ack(peer_link *lk, uint64_t seq) {
  if (seq > lk->written_seq) seq = lk->written_seq; /* cannot ack the future */
  if (seq <= lk->acked_seq) return;
  lk->acked_seq = seq;
  while (lk->r_head && lk->r_head->last_seq <= seq) {
    link_chunk *k = lk->r_head;
    lk->r_head = k->next;
    if (!lk->r_head) lk->r_tail = NULL;
    held_sub(lk, k->cap);
    mgr_chunk_put(lk->mgr, k);
  }
  link_mgr *m = lk->mgr;
  if (lk->refused_full &&
      lk->send_seq - lk->acked_seq < m->cfg.queue_max_frames / 2 &&
      lk->held_bytes < m->cfg.queue_max_bytes / 2) {
    lk->refused_full = false;
    if (m->cfg.ops.on_room) m->cfg.ops.on_room(m->cfg.user, lk);
  }
  memory_room(lk);
}

/* ---- the receive stream ------------------------------------------------- */

static link_close_reason link_on_envelope(peer_link *lk, const uint8_t *body,
                                           size_t len) {
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

static void link_on_ping(peer_link *lk, const troupe_Ping *p) {
  troupe_Pong pong = {.has_nonce = true, .nonce = p->nonce,
                      .has_sent_ns = true, .sent_ns = p->sent_ns};
  if (link_ctl_append(lk, troupe_FrameKind_FRAME_PONG, &pong,
                      troupe_Pong_fields) == 0)
    lk->pong_queued = true;
}

static void link_on_pong(peer_link *lk, const troupe_Pong *p) {
  uint64_t now = uv_hrtime();
  if (p->sent_ns == 0 || p->sent_ns > now) return;
  uint32_t sample = (uint32_t)((now - p->sent_ns) / 1000);
  if (sample == 0) sample = 1;
  lk->st.rtt_us = lk->st.rtt_us ? (lk->st.rtt_us * 7 + sample) / 8 : sample;
}

void link_send_ping(peer_link *lk) {
  troupe_Ping p = {.has_nonce = true, .nonce = ++lk->ping_nonce,
                   .has_sent_ns = true, .sent_ns = uv_hrtime()};
  if (link_ctl_append(lk, troupe_FrameKind_FRAME_PING, &p,
                      troupe_Ping_fields) == 0)
    lk->ping_at = uv_now(lk->mgr->loop);
}

link_close_reason link_on_frame(peer_link *lk, const wire_frame *f) {
  lk->st.frames_in++;
  switch (f->kind) {
  case troupe_FrameKind_FRAME_ENVELOPE:
    return link_on_envelope(lk, f->body, f->len);
  case troupe_FrameKind_FRAME_ACK: {
    troupe_Ack a = troupe_Ack_init_zero;
    if (wire_decode_control(f->kind, f->body, f->len, &a) != 0) break;
    link_on_ack(lk, a.seq);
    return LINK_CLOSE_NONE;
  }
  case troupe_FrameKind_FRAME_PING: {
    troupe_Ping p = troupe_Ping_init_zero;
    if (wire_decode_control(f->kind, f->body, f->len, &p) != 0) break;
    link_on_ping(lk, &p);
    return LINK_CLOSE_NONE;
  }
  case troupe_FrameKind_FRAME_PONG: {
    troupe_Pong p = troupe_Pong_init_zero;
    if (wire_decode_control(f->kind, f->body, f->len, &p) != 0) break;
    link_on_pong(lk, &p);
    return LINK_CLOSE_NONE;
  }
  case troupe_FrameKind_FRAME_CLOSE:
    return LINK_CLOSE_PEER;
  case troupe_FrameKind_FRAME_HELLO:
    break; /* a second hello is a protocol error */
  default: {
    link_mgr *m = lk->mgr;
    if ((unsigned)f->kind < 16 || !m->cfg.ops.on_frame)
      return LINK_CLOSE_UNKNOWN_KIND;
    m->cfg.ops.on_frame(m->cfg.user, lk, f->kind, f->body, f->len);
    return LINK_CLOSE_NONE;
  }
  }
  return LINK_CLOSE_MALFORMED;
}

/* ---- after a reconnect -------------------------------------------------- */

void link_stream_resume(peer_link *lk, const troupe_Hello *h) {
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
    for (link_chunk *k = r; k; k = k->next) held_sub(lk, k->cap);
    chunks_free(lk->mgr, r);
    lk->acked_seq = lk->written_seq;
  }
}

void link_stream_forget(peer_link *lk) {
  link_stream_reset(lk, true);
  lk->peer_session = 0;
  lk->recv_seq = 0;
  lk->ctl.len = 0;
  lk->ctl.n = 0;
  lk->ack_due = false;
}
