/* link.c — the link to one peer as a whole: made, found, dialed and
 * redialed with backoff and jitter, the owner of its connections (their
 * hello, the frames they bring, the simultaneous-dial tie-break), the
 * resume window, and freed. Its two streams are in stream.c. */
#include <stdlib.h>
#include <string.h>

#include "link_int.h"

bool link_is_op(const peer_link *lk) {
  return lk->role == TLS_PEER_OPERATOR || lk->role == TLS_PEER_VIEWER;
}

static void link_set_state(peer_link *lk, link_state s) {
  if (lk->state == s) return;
  if (link_is_op(lk)) {
    if (s == LINK_UP) lk->mgr->nop_up++;
    else if (lk->state == LINK_UP) lk->mgr->nop_up--;
  }
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

static const conn_ops link_conn_ops;
static void link_on_window(uv_timer_t *t);
static void link_on_retry(uv_timer_t *t);

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
  mgr_hold(m);
  /* Until it is up, the resume window bounds how long sends may wait. */
  uv_timer_start(&lk->window_timer, link_on_window, m->cfg.resume_window_ms, 0);
  return lk;
}

peer_link *link_find(link_mgr *m, const char *peer) {
  peer_link *lk = NULL;
  if (m && peer) HASH_FIND_STR(m->links, peer, lk);
  return lk;
}

void link_set_addr(peer_link *lk, char *addr) {
  free(lk->addr);
  lk->addr = addr;
  for (link_conn *c = lk->mgr->env.conns; c; c = c->next)
    if (c->owner == lk) conn_set_names(c, NULL, addr);
}

/* ---- dials, max_dials at once -------------------------------------------- */

/* lk waits, last, for a dial slot. */
static void dial_wait(peer_link *lk) {
  link_mgr *m = lk->mgr;
  if (lk->dial_waiting) return;
  lk->dial_waiting = true;
  lk->dial_next = NULL;
  if (m->dial_wait_tail)
    m->dial_wait_tail->dial_next = lk;
  else
    m->dial_wait_head = lk;
  m->dial_wait_tail = lk;
  m->st.dials_waited++;
  uint64_t hits;
  if (ratelog_hit(&m->rl_dial, uv_now(m->loop), &hits))
    mgr_log(m, TR_LOG_INFO, "dial_waiting",
            "peer=%s max_dials=%u waited=%llu", lk->peer, m->cfg.max_dials,
            (unsigned long long)hits);
}

/* lk no longer waits (it is going). */
static void dial_unwait(peer_link *lk) {
  link_mgr *m = lk->mgr;
  if (!lk->dial_waiting) return;
  peer_link **pp = &m->dial_wait_head, *prev = NULL;
  while (*pp && *pp != lk) {
    prev = *pp;
    pp = &(*pp)->dial_next;
  }
  if (*pp) *pp = lk->dial_next;
  if (m->dial_wait_tail == lk) m->dial_wait_tail = prev;
  lk->dial_waiting = false;
  lk->dial_next = NULL;
}

static int link_dial(peer_link *lk);
static void link_schedule_dial(peer_link *lk);

/* Dials the links waiting, oldest first, while slots are free. */
static void dial_next(link_mgr *m) {
  if (m->dials_starting) return; /* a dial that failed at once: the loop
                                    below goes on */
  m->dials_starting = true;
  while (m->ndialing < m->cfg.max_dials && m->dial_wait_head && !m->freeing) {
    peer_link *lk = m->dial_wait_head;
    m->dial_wait_head = lk->dial_next;
    if (!m->dial_wait_head) m->dial_wait_tail = NULL;
    lk->dial_waiting = false;
    lk->dial_next = NULL;
    if (lk->active || lk->dialing || lk->closing) continue;
    if (link_dial(lk) != 0) link_schedule_dial(lk);
  }
  m->dials_starting = false;
}

/* lk's dial is over (up, closed, or its link going): its slot goes to the
 * next link waiting. */
static void dial_over(peer_link *lk) {
  if (!lk->dialing) return;
  lk->dialing = NULL;
  link_mgr *m = lk->mgr;
  m->ndialing--;
  dial_next(m);
}

/* A new connection to lk's address, or a place in the queue when
 * max_dials are in their handshake; on failure it is closed already. */
static int link_dial(peer_link *lk) {
  if (!lk->addr || conn_check_addr(lk->addr) != 0) return TR_EINVAL;
  link_mgr *m = lk->mgr;
  if (m->ndialing >= m->cfg.max_dials) {
    dial_wait(lk);
    return 0;
  }
  link_conn *c = conn_new(&m->env, true, &link_conn_ops, lk);
  if (!c) return TR_ENOMEM;
  conn_set_names(c, lk->peer, lk->addr);
  c->io = &lk->st;
  lk->dialing = c;
  m->ndialing++;
  return conn_dial(c, lk->addr);
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
  if (link_dial(lk) != 0) link_schedule_dial(lk);
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
    link_set_addr(lk, a);
  }
  if (created || (!lk->active && !lk->dialing)) {
    lk->attempts = 0;
    link_schedule_dial(lk);
  }
  if (out) *out = lk;
  return 0;
}

const char *link_peer(peer_link *lk) { return lk->peer; }

const char *link_cert_cn(peer_link *lk) {
  return lk->active && lk->active->tls ? tls_conn_peer_cn(lk->active->tls)
                                       : NULL;
}

const char *link_cipher(peer_link *lk) {
  return lk->active && lk->active->tls ? tls_conn_ciphersuite(lk->active->tls)
                                       : NULL;
}
tls_peer_role link_peer_role(peer_link *lk) { return lk->role; }
bool link_full(peer_link *lk) {
  return lk->refused_full || lk->mgr->memory_refused;
}
void link_flush_now(peer_link *lk) {
  if (lk) link_flush(lk);
}
bool link_peer_speaks(peer_link *lk, uint32_t feature) {
  return !lk->features_known || (lk->features & feature) == feature;
}

/* ---- the connections it owns -------------------------------------------- */

static const tls_session *link_conn_resume(void *owner) {
  return ((peer_link *)owner)->tls_sess;
}

void link_save_tls_session(peer_link *lk, link_conn *c) {
  tls_session *s = NULL;
  if (tls_conn_save_session(c->tls, &s) != 0) return;
  if (tls_conn_resumed(c->tls)) lk->st.tls_resumes++;
  tls_session_free(lk->tls_sess);
  lk->tls_sess = s;
}

/* Only its own dials are the link's at TLS time: the dialer speaks first. */
static void link_conn_tls_done(void *owner, link_conn *c) {
  peer_link *lk = owner;
  link_save_tls_session(lk, c);
  hello_send(lk->mgr, c, lk, 0);
}

static void link_conn_readable(void *owner, link_conn *c) {
  peer_link *lk = owner;
  if (c->st == CONN_HELLO) {
    troupe_Hello h;
    if (hello_read(lk->mgr, c, lk->peer, &h) != 1) return;
    link_conn_ready(lk, c, &h);
  }
  wire_frame f;
  while (conn_next_frame(c, &f) == 1) {
    link_close_reason r = link_on_frame(lk, &f);
    if (r != LINK_CLOSE_NONE) {
      conn_close(c, r);
      return;
    }
  }
}

static void link_conn_closed(void *owner, link_conn *c, const conn_end *end) {
  link_conn_gone(owner, c);
}

static const conn_ops link_conn_ops = {
    .tls_resume = link_conn_resume,
    .on_tls_done = link_conn_tls_done,
    .on_readable = link_conn_readable,
    .on_closed = link_conn_closed,
};

void link_adopt(peer_link *lk, link_conn *c) {
  conn_set_owner(c, &link_conn_ops, lk);
  conn_set_names(c, lk->peer, lk->addr);
  c->io = &lk->st;
}

void link_conn_ready(peer_link *lk, link_conn *c, const troupe_Hello *h) {
  conn_set_up(c);
  link_conn_up(lk, c, h);
}

static void link_on_ping_timer(uv_timer_t *t) {
  peer_link *lk = t->data;
  if (lk->state != LINK_UP) return;
  /* An operator answers every ping: one that sent no whole frame for this
   * long is stalled (or stalls on purpose, half a large frame held). */
  link_conn *c = lk->active;
  link_mgr *m = lk->mgr;
  if (c && link_is_op(lk) &&
      uv_now(m->loop) - c->last_rx_ms >= m->cfg.op_idle_timeout_ms) {
    mgr_log(m, TR_LOG_WARN, "operator_idle", "client=%s idle_ms=%llu",
            lk->peer, (unsigned long long)(uv_now(m->loop) - c->last_rx_ms));
    conn_close(c, LINK_CLOSE_IDLE);
    return;
  }
  link_send_ping(lk);
}

/* ---- connections coming up and going ------------------------------------ */

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
  /* Every way up (dialed, accepted, a seed handed over) passes here; the
   * hello check let only a certificate with a role through. */
  lk->role = tls_conn_peer_role(c->tls);
  c->budget_exempt = lk->role == TLS_PEER_NODE;
  lk->features = h->features;
  lk->features_known = true;
  if (lk->dialing == c) dial_over(lk);
  if (lk->active && lk->active != c) {
    if (!conn_wins(lk, c, lk->active)) {
      conn_close(c, LINK_CLOSE_DUPLICATE);
      return;
    }
    link_conn *old = lk->active;
    lk->active = NULL;
    conn_close(old, LINK_CLOSE_DUPLICATE);
  }
  link_stream_resume(lk, h);
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
  /* Only an operator's link pings on a timer: its idle check needs the
   * answers. A node's link pings with its other frames (link_flush): a
   * timer per link woke an idle node 2 x (N - 1) times a second in a full
   * mesh, to refresh a figure nobody reads in between. Membership does
   * not rely on it: swim probes every member. */
  if (link_is_op(lk))
    uv_timer_start(&lk->ping_timer, link_on_ping_timer,
                   m->cfg.ping_interval_ms, m->cfg.ping_interval_ms);
  link_set_state(lk, LINK_UP);
  if (c->st != CONN_UP || lk->active != c) return;
  link_send_ping(lk); /* an RTT figure right away */
  mgr_mark_dirty(lk);
}

void link_conn_gone(peer_link *lk, link_conn *c) {
  if (lk->dialing == c) {
    dial_over(lk);
    link_mgr *m = lk->mgr;
    if (c->uv_error == UV_ECONNREFUSED && !lk->closing && !m->freeing &&
        m->cfg.ops.on_refused)
      m->cfg.ops.on_refused(m->cfg.user, lk);
  }
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
  link_stream_forget(lk);
}

void link_free_now(peer_link *lk, bool report) {
  if (lk->closing) return;
  link_mgr *m = lk->mgr;
  lk->closing = true;
  if (lk->state == LINK_UP && link_is_op(lk)) m->nop_up--;
  link_stream_reset(lk, report);
  HASH_DEL(m->links, lk);
  if (lk->dirty) {
    peer_link **pp = &m->dirty_head;
    while (*pp && *pp != lk) pp = &(*pp)->dirty_next;
    if (*pp) *pp = lk->dirty_next;
    lk->dirty = false;
  }
  dial_unwait(lk);
  lk->active = NULL;
  dial_over(lk); /* its slot to another; the dial itself is closed below */
  /* Its active connection, its dial, and one accepted between its hello
   * and the tie-break: closed without telling the link, which is going. */
  for (link_conn *c = m->env.conns; c; c = c->next)
    if (c->owner == lk) {
      conn_set_owner(c, NULL, NULL);
      conn_close(c, LINK_CLOSE_LOCAL);
    }
  uv_close((uv_handle_t *)&lk->retry_timer, link_on_timer_close);
  uv_close((uv_handle_t *)&lk->window_timer, link_on_timer_close);
  uv_close((uv_handle_t *)&lk->ping_timer, link_on_timer_close);
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
