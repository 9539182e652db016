/* accept.c — connections that dialed this node: the manager holds them from
 * accept through TLS until the peer's hello names it, then hands each to
 * that peer's link (made if new), which answers the hello and judges the
 * tie-break. Operators beyond max_op_conns and accepted connections beyond
 * max_pending_conns (the oldest) are closed here. */
#include "link_int.h"

static void accept_readable(void *owner, link_conn *c) {
  link_mgr *m = owner;
  troupe_Hello h;
  if (hello_read(m, c, NULL, &h) != 1) return;
  tls_peer_role role = tls_conn_peer_role(c->tls);
  if ((role == TLS_PEER_OPERATOR || role == TLS_PEER_VIEWER) &&
      m->nop_up >= m->cfg.max_op_conns) {
    uint64_t hits;
    m->st.op_refused++;
    if (ratelog_hit(&m->rl_op, uv_now(m->loop), &hits))
      mgr_log(m, TR_LOG_WARN, "operator_cap",
              "client=%s max_op_conns=%u refused=%llu", h.node,
              m->cfg.max_op_conns, (unsigned long long)hits);
    conn_close(c, LINK_CLOSE_LIMIT);
    return;
  }
  peer_link *lk = link_find(m, h.node);
  bool created = false;
  if (!lk) {
    lk = link_create(m, h.node);
    if (!lk) {
      conn_close(c, LINK_CLOSE_LOCAL);
      return;
    }
    created = true;
  }
  link_adopt(lk, c);
  m->st.accepted++;
  /* Our hello carries the link's stream, so it goes once the link is known. */
  if (hello_send(m, c, lk, 0) != 0) return;
  if (created && m->cfg.ops.on_accept) m->cfg.ops.on_accept(m->cfg.user, lk);
  if (c->st == CONN_CLOSED) return; /* on_accept closed the link */
  link_conn_ready(lk, c, &h);
}

/* Until the hello, nothing but the connection itself needs to know. */
static const conn_ops accept_conn_ops = {.on_readable = accept_readable};

void accept_conn(link_mgr *m) {
  /* At the cap the oldest waiting goes: a slow or silent client cannot
   * keep a new one (a real peer's reconnect) out. */
  if (m->env.npending >= m->cfg.max_pending_conns &&
      conn_close_oldest_pending(&m->env)) {
    uint64_t hits;
    m->st.pending_dropped++;
    if (ratelog_hit(&m->rl_pending, uv_now(m->loop), &hits))
      mgr_log(m, TR_LOG_WARN, "pending_cap",
              "max_pending_conns=%u dropped=%llu", m->cfg.max_pending_conns,
              (unsigned long long)hits);
  }
  link_conn *c = conn_new(&m->env, false, &accept_conn_ops, m);
  if (c) conn_accept(c, (uv_stream_t *)&m->listener);
}
