/* hello.c — the hello that opens every connection after TLS: ours (the
 * link's stream state, so the peer knows what to resend) and the checks on
 * the peer's, which may only speak for the node its certificate names. */
#include <stdio.h>
#include <string.h>

#include "link_int.h"

int hello_send(link_mgr *m, link_conn *c, peer_link *lk, uint64_t session) {
  troupe_Hello h = troupe_Hello_init_zero;
  h.has_version = h.has_node = h.has_incarnation = h.has_session = true;
  h.has_peer_session = h.has_recv_seq = h.has_max_frame = true;
  h.has_features = true;
  h.features = WIRE_FEATURES & ~m->cfg.features_off;
  h.version = m->wire_version;
  strncpy(h.node, m->name, sizeof(h.node) - 1);
  h.incarnation = m->cfg.incarnation;
  h.max_frame = m->cfg.max_frame;
  h.session = session;
  if (lk) {
    h.session = lk->my_session;
    h.peer_session = lk->peer_session;
    h.recv_seq = lk->recv_seq;
  }
  uint8_t buf[512];
  int n = wire_encode_control(buf, sizeof(buf), troupe_FrameKind_FRAME_HELLO,
                              &h);
  if (n < 0) {
    conn_close(c, LINK_CLOSE_LOCAL);
    return n;
  }
  int rc = conn_write_plain(c, buf, (size_t)n);
  return rc != 0 ? rc : conn_flush_out(c);
}

bool hello_version_ok(uint32_t mine, uint32_t theirs) {
  return theirs + 1 >= mine && theirs <= mine + 1 && theirs >= 1;
}

bool hello_well_formed(const troupe_Hello *h) {
  return h->version >= 1 && h->node[0];
}

/* Why h may not open c, or LINK_CLOSE_NONE; a refusal is logged and
 * counted here, with its detail in `detail`. */
static link_close_reason hello_check(link_mgr *m, link_conn *c,
                                     const char *expect, const troupe_Hello *h,
                                     tls_fail *why, char *detail, size_t cap) {
  if (!hello_well_formed(h)) {
    mgr_log(m, TR_LOG_WARN, "hello_refused", "reason=malformed "
            "version=%u node=%s", h->version, h->node);
    snprintf(detail, cap, "malformed hello: version %u, node \"%s\"",
             h->version, h->node);
    return LINK_CLOSE_HELLO;
  }
  if (!hello_version_ok(m->wire_version, h->version)) {
    mgr_log(m, TR_LOG_WARN, "hello_refused",
            "reason=wire_version node=%s version=%u speaks=%u..%u", h->node,
            h->version, m->wire_version > 1 ? m->wire_version - 1 : 1,
            m->wire_version + 1);
    snprintf(detail, cap, "node \"%s\" speaks wire version %u; this node "
             "(version %u) links with versions %u to %u", h->node,
             h->version, m->wire_version,
             m->wire_version > 1 ? m->wire_version - 1 : 1,
             m->wire_version + 1);
    return LINK_CLOSE_HELLO;
  }
  /* We dialed ourselves, through a seed address that includes this node:
   * normal (a Kubernetes service names every pod), so not a warning. */
  if (strcmp(h->node, m->name) == 0 && tls_conn_peer_is(c->tls, h->node)) {
    mgr_log(m, TR_LOG_DEBUG, "self_connection", "dialer=%d addr=%s",
            c->dialer, c->addr ? c->addr : "?");
    return LINK_CLOSE_SELF;
  }
  /* A peer can only speak for itself: its certificate must name it. */
  if (strcmp(h->node, m->name) == 0 || !tls_conn_peer_may_be(c->tls, h->node) ||
      (expect && strcmp(h->node, expect) != 0)) {
    m->st.tls_fail[TLS_FAIL_NAME_MISMATCH]++;
    tls_peer_role role = tls_conn_peer_role(c->tls);
    mgr_log(m, TR_LOG_WARN, "peer_refused",
            "reason=name_mismatch claimed=%s cert_cn=%s cert_role=%s",
            h->node, tls_conn_peer_cn(c->tls), tls_peer_role_name(role));
    *why = TLS_FAIL_NAME_MISMATCH;
    snprintf(detail, cap, "hello claims node \"%s\"%s%s%s, certificate "
             "CN \"%s\" with role %s%s", h->node, expect ? " (dialed \"" : "",
             expect ? expect : "", expect ? "\")" : "",
             tls_conn_peer_cn(c->tls), tls_peer_role_name(role),
             role == TLS_PEER_NODE ? ""
                                   : " (only a node certificate may link as "
                                     "a node)");
    return LINK_CLOSE_HELLO;
  }
  return LINK_CLOSE_NONE;
}

/* Tells the peer why its hello was refused (a Close frame, in the clear of
 * this TLS session) before the connection closes, so a refused joiner can
 * say why; best effort: the socket write is attempted at once. */
static void hello_send_refusal(link_conn *c, const char *detail) {
  troupe_Close cl = troupe_Close_init_zero;
  cl.has_reason = cl.has_detail = true;
  cl.reason = TR_ETLS;
  snprintf(cl.detail, sizeof(cl.detail), "%s", detail);
  uint8_t buf[256];
  int n = wire_encode_control(buf, sizeof(buf), troupe_FrameKind_FRAME_CLOSE,
                              &cl);
  if (n > 0 && conn_write_plain(c, buf, (size_t)n) == 0) conn_flush_out(c);
}

/* The peer refused our hello and said why (a Close frame in its place). */
static void hello_refused_by_peer(link_mgr *m, link_conn *c,
                                  const wire_frame *f) {
  troupe_Close cl = troupe_Close_init_zero;
  char detail[sizeof(cl.detail) + 32];
  if (wire_decode_control(f->kind, f->body, f->len, &cl) != 0) cl.detail[0] = 0;
  snprintf(detail, sizeof(detail), "the peer refused our hello: %s",
           cl.detail[0] ? cl.detail : "no reason given");
  mgr_log(m, TR_LOG_WARN, "hello_refused_by_peer", "addr=%s detail=%s",
          c->addr ? c->addr : "?", cl.detail);
  conn_refused_by_peer(c, LINK_CLOSE_HELLO, detail);
}

int hello_read(link_mgr *m, link_conn *c, const char *expect,
               troupe_Hello *h) {
  wire_frame f;
  int rc = conn_next_frame(c, &f);
  if (rc != 1) return rc;
  char detail[128 + 3 * sizeof(h->node)];
  if (f.kind == troupe_FrameKind_FRAME_CLOSE) {
    hello_refused_by_peer(m, c, &f);
    return TR_ECLOSED;
  }
  if (f.kind != troupe_FrameKind_FRAME_HELLO) {
    snprintf(detail, sizeof(detail), "first frame of kind %d, not a hello",
             (int)f.kind);
    conn_refuse(c, LINK_CLOSE_HELLO, TLS_FAIL_NONE, detail);
    return TR_ECLOSED;
  }
  *h = (troupe_Hello)troupe_Hello_init_zero;
  if (wire_decode_control(f.kind, f.body, f.len, h) != 0) {
    conn_close(c, LINK_CLOSE_MALFORMED);
    return TR_ECLOSED;
  }
  tls_fail why = TLS_FAIL_NONE;
  detail[0] = '\0';
  link_close_reason r =
      hello_check(m, c, expect, h, &why, detail, sizeof(detail));
  if (r == LINK_CLOSE_SELF) {
    conn_close(c, r);
  } else if (r != LINK_CLOSE_NONE) {
    hello_send_refusal(c, detail);
    conn_refuse(c, r, why, detail);
  }
  return r == LINK_CLOSE_NONE ? 1 : TR_ECLOSED;
}
