/* conn.c — one TCP connection carrying a link: dialing (DNS included),
 * accepting, driving the TLS handshake, the hello exchange, reading frames
 * and writing ciphertext. A connection never outlives its close callbacks;
 * what the peer sends wrong closes only this connection, with a reason. */
#include <stdlib.h>
#include <string.h>

#include "link_int.h"

static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void conn_unref(link_conn *c) {
  if (--c->refs > 0) return;
  link_mgr *m = c->mgr;
  if (c->prev)
    c->prev->next = c->next;
  else if (m->conns == c)
    m->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  tls_conn_free(c->tls);
  wire_reader_free(&c->rd);
  link_frames_free(&c->seed_frames);
  free(c->seed_addr);
  free(c->rbuf);
  free(c);
  mgr_release(m);
}

static void conn_on_handle_close(uv_handle_t *h) { conn_unref(h->data); }

/* For log lines: the peer, or the address of a seed not yet named. */
static const char *conn_peer(link_conn *c) {
  return c->lk ? c->lk->peer : c->seed_addr ? "?seed" : "?";
}

static const char *conn_addr(link_conn *c) {
  if (c->seed_addr) return c->seed_addr;
  return c->lk && c->lk->addr ? c->lk->addr : "?";
}

static void conn_on_hs_timeout(uv_timer_t *t) {
  link_conn *c = t->data;
  if (c->st == CONN_TLS) c->mgr->st.tls_fail[TLS_FAIL_TIMEOUT]++;
  conn_close(c, LINK_CLOSE_TIMEOUT);
}

static link_conn *conn_new(link_mgr *m, peer_link *lk, bool dialer) {
  link_conn *c = calloc(1, sizeof(*c));
  if (!c) return NULL;
  c->rbuf = malloc(LINK_READ_BUF);
  if (!c->rbuf) {
    free(c);
    return NULL;
  }
  c->mgr = m;
  c->lk = lk;
  c->dialer = dialer;
  wire_reader_init(&c->rd, m->cfg.max_frame);
  uv_timer_init(m->loop, &c->hs_timer);
  c->hs_timer.data = c;
  c->refs = 1; /* the timer handle */
  uv_timer_start(&c->hs_timer, conn_on_hs_timeout,
                 m->cfg.handshake_timeout_ms, 0);
  c->next = m->conns;
  if (m->conns) m->conns->prev = c;
  m->conns = c;
  m->open++;
  return c;
}

void conn_close(link_conn *c, link_close_reason reason) {
  if (c->st == CONN_CLOSED) return;
  link_mgr *m = c->mgr;
  conn_state was = c->st;
  c->st = CONN_CLOSED;
  /* Whatever ends a connection to ourselves (our own close, the EOF when
   * the other end refused our hello) is the same normal event. */
  if (c->seed_self && reason != LINK_CLOSE_LOCAL) reason = LINK_CLOSE_SELF;
  m->st.closed[reason]++;
  tr_log_level lvl = reason == LINK_CLOSE_LOCAL ||
                             reason == LINK_CLOSE_DUPLICATE ||
                             reason == LINK_CLOSE_SELF
                         ? TR_LOG_DEBUG
                         : TR_LOG_WARN;
  mgr_log(m, lvl, "conn_closed", "peer=%s addr=%s dialer=%d stage=%d reason=%s",
          conn_peer(c), conn_addr(c), c->dialer, (int)was,
          link_close_reason_name(reason));
  if (c->seed_addr) seed_on_close(c, reason);
  uv_timer_stop(&c->hs_timer);
  uv_close((uv_handle_t *)&c->hs_timer, conn_on_handle_close);
  if (was == CONN_RESOLVING) uv_cancel((uv_req_t *)&c->gai_req);
  if (c->tcp_open) {
    c->tcp_open = false;
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_close((uv_handle_t *)&c->tcp, conn_on_handle_close);
  }
  if (c->lk) link_conn_gone(c->lk, c);
}

/* ---- writing ------------------------------------------------------------ */

typedef struct conn_write {
  uv_write_t req;
  uint8_t *buf;
} conn_write;

static void conn_on_write(uv_write_t *req, int status) {
  conn_write *w = (conn_write *)req;
  link_conn *c = req->data;
  free(w->buf);
  free(w);
  if (status < 0 && status != UV_ECANCELED) conn_close(c, LINK_CLOSE_IO);
  conn_unref(c);
}

int conn_flush_out(link_conn *c) {
  if (c->st == CONN_CLOSED || !c->tcp_open) return TR_ECLOSED;
  uint8_t *buf;
  size_t len;
  int rc = tls_conn_take_out(c->tls, &buf, &len);
  if (rc != 0) return rc;
  if (!buf) return 0;
  if (c->lk) {
    c->lk->st.bytes_out += len;
    c->lk->st.writes++;
  }
  /* Most writes fit the socket buffer: try now, queue the rest. */
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
  if (n == (int)len) {
    free(buf);
    return 0;
  }
  if (n < 0 && n != UV_EAGAIN) {
    free(buf);
    conn_close(c, LINK_CLOSE_IO);
    return TR_ECLOSED;
  }
  size_t done = n > 0 ? (size_t)n : 0;
  conn_write *w = malloc(sizeof(*w));
  if (!w) {
    free(buf);
    conn_close(c, LINK_CLOSE_IO);
    return TR_ENOMEM;
  }
  w->buf = buf;
  w->req.data = c;
  b = uv_buf_init((char *)buf + done, (unsigned)(len - done));
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, conn_on_write) != 0) {
    free(buf);
    free(w);
    conn_close(c, LINK_CLOSE_IO);
    return TR_ECLOSED;
  }
  c->refs++;
  return 0;
}

int conn_write_plain(link_conn *c, const uint8_t *data, size_t len) {
  if (c->st == CONN_CLOSED) return TR_ECLOSED;
  int rc = tls_conn_write(c->tls, data, len);
  if (rc != 0) conn_close(c, LINK_CLOSE_TLS);
  return rc;
}

/* ---- the hello ---------------------------------------------------------- */

static int conn_send_hello(link_conn *c) {
  troupe_Hello h = troupe_Hello_init_zero;
  link_fill_hello(c->mgr, c->lk, &h);
  if (!c->lk) h.session = c->seed_session; /* a seed naming no link yet */
  uint8_t buf[512];
  int n = wire_encode_control(buf, sizeof(buf), troupe_FrameKind_FRAME_HELLO,
                              &h);
  if (n < 0) return n;
  int rc = conn_write_plain(c, buf, (size_t)n);
  return rc != 0 ? rc : conn_flush_out(c);
}

static void conn_on_hello(link_conn *c, const wire_frame *f) {
  link_mgr *m = c->mgr;
  troupe_Hello h = troupe_Hello_init_zero;
  if (wire_decode_control(f->kind, f->body, f->len, &h) != 0) {
    conn_close(c, LINK_CLOSE_MALFORMED);
    return;
  }
  if (h.version != WIRE_VERSION || !h.node[0]) {
    mgr_log(m, TR_LOG_WARN, "hello_refused", "reason=bad_version_or_name "
            "version=%u node=%s", h.version, h.node);
    conn_close(c, LINK_CLOSE_HELLO);
    return;
  }
  /* We dialed ourselves, through a seed address that includes this node:
   * normal (a Kubernetes service names every pod), so not a warning. */
  if (strcmp(h.node, m->name) == 0 && tls_conn_peer_is(c->tls, h.node)) {
    mgr_log(m, TR_LOG_DEBUG, "self_connection", "dialer=%d addr=%s",
            c->dialer, conn_addr(c));
    conn_close(c, LINK_CLOSE_SELF);
    return;
  }
  /* A peer can only speak for itself: its certificate must name it. */
  if (strcmp(h.node, m->name) == 0 || !tls_conn_peer_may_be(c->tls, h.node) ||
      (c->dialer && c->lk && strcmp(h.node, c->lk->peer) != 0)) {
    m->st.tls_fail[TLS_FAIL_NAME_MISMATCH]++;
    mgr_log(m, TR_LOG_WARN, "peer_refused",
            "reason=name_mismatch claimed=%s cert_cn=%s", h.node,
            tls_conn_peer_cn(c->tls));
    conn_close(c, LINK_CLOSE_HELLO);
    return;
  }
  if (c->seed_addr) {
    seed_on_hello(c, &h);
    return;
  }
  if (!c->dialer) {
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
    c->lk = lk;
    m->st.accepted++;
    if (conn_send_hello(c) != 0) return;
    if (created && m->cfg.ops.on_accept) m->cfg.ops.on_accept(m->cfg.user, lk);
    if (c->st == CONN_CLOSED) return;
  }
  uv_timer_stop(&c->hs_timer);
  c->lk->client_only = tls_conn_peer_client_only(c->tls);
  c->st = CONN_UP;
  link_conn_up(c->lk, c, &h);
}

/* ---- reading ------------------------------------------------------------ */

static void conn_on_frame(link_conn *c, const wire_frame *f) {
  peer_link *lk = c->lk;
  if (c->st == CONN_HELLO) {
    if (f->kind != troupe_FrameKind_FRAME_HELLO) {
      conn_close(c, LINK_CLOSE_HELLO);
      return;
    }
    conn_on_hello(c, f);
    return;
  }
  lk->st.frames_in++;
  switch (f->kind) {
  case troupe_FrameKind_FRAME_ENVELOPE: {
    link_close_reason r = link_on_envelope(lk, f->body, f->len);
    if (r != LINK_CLOSE_NONE) conn_close(c, r);
    return;
  }
  case troupe_FrameKind_FRAME_ACK: {
    troupe_Ack a = troupe_Ack_init_zero;
    if (wire_decode_control(f->kind, f->body, f->len, &a) != 0) break;
    link_on_ack(lk, a.seq);
    return;
  }
  case troupe_FrameKind_FRAME_PING: {
    troupe_Ping p = troupe_Ping_init_zero;
    if (wire_decode_control(f->kind, f->body, f->len, &p) != 0) break;
    link_on_ping(lk, &p);
    return;
  }
  case troupe_FrameKind_FRAME_PONG: {
    troupe_Pong p = troupe_Pong_init_zero;
    if (wire_decode_control(f->kind, f->body, f->len, &p) != 0) break;
    link_on_pong(lk, &p);
    return;
  }
  case troupe_FrameKind_FRAME_CLOSE:
    conn_close(c, LINK_CLOSE_PEER);
    return;
  case troupe_FrameKind_FRAME_HELLO:
    break; /* a second hello is a protocol error */
  default:
    if ((unsigned)f->kind >= 16 && c->mgr->cfg.ops.on_frame) {
      c->mgr->cfg.ops.on_frame(c->mgr->cfg.user, lk, f->kind, f->body, f->len);
      return;
    }
    conn_close(c, LINK_CLOSE_UNKNOWN_KIND);
    return;
  }
  conn_close(c, LINK_CLOSE_MALFORMED);
}

/* Decrypts what TLS holds into the frame reader and handles every complete
 * frame; stops as soon as the connection closes. */
static void conn_read_frames(link_conn *c) {
  for (;;) {
    size_t avail;
    uint8_t *space = wire_reader_space(&c->rd, LINK_CHUNK_SIZE, &avail);
    if (!space) {
      conn_close(c, LINK_CLOSE_LOCAL);
      return;
    }
    int n = tls_conn_read(c->tls, space, avail);
    if (n == 0) break;
    if (n == TR_ECLOSED) {
      conn_close(c, LINK_CLOSE_PEER);
      return;
    }
    if (n < 0) {
      c->mgr->st.tls_fail[tls_conn_fail_reason(c->tls)]++;
      mgr_log(c->mgr, TR_LOG_WARN, "tls_read_failed", "peer=%s reason=%s detail=\"%s\"",
              conn_peer(c),
              tls_fail_name(tls_conn_fail_reason(c->tls)),
              tls_conn_fail_detail(c->tls));
      conn_close(c, LINK_CLOSE_MALFORMED);
      return;
    }
    wire_reader_commit(&c->rd, (size_t)n);
    wire_frame f;
    int rc;
    while ((rc = wire_reader_next(&c->rd, &f)) == 1) {
      conn_on_frame(c, &f);
      if (c->st == CONN_CLOSED) return;
    }
    if (rc < 0) {
      conn_close(c, rc == TR_ETOOBIG ? LINK_CLOSE_TOO_BIG
                                     : LINK_CLOSE_MALFORMED);
      return;
    }
  }
}

static void conn_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  link_conn *c = h->data;
  *buf = uv_buf_init((char *)c->rbuf, LINK_READ_BUF);
}

static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  link_conn *c = s->data;
  if (nread == 0 || c->st == CONN_CLOSED) return;
  if (nread < 0) {
    conn_close(c, nread == UV_EOF || nread == UV_ECONNRESET ? LINK_CLOSE_PEER
                                                            : LINK_CLOSE_IO);
    return;
  }
  if (c->lk) c->lk->st.bytes_in += (uint64_t)nread;
  if (tls_conn_feed(c->tls, buf->base, (size_t)nread) != 0) {
    conn_close(c, LINK_CLOSE_LOCAL);
    return;
  }
  if (c->st == CONN_TLS) {
    int rc = tls_conn_handshake(c->tls);
    if (rc < 0) {
      tls_fail why = tls_conn_fail_reason(c->tls);
      c->mgr->st.tls_fail[why]++;
      mgr_log(c->mgr, TR_LOG_WARN, "peer_refused",
              "reason=%s dialer=%d addr=%s detail=\"%s\"", tls_fail_name(why),
              c->dialer, conn_addr(c), tls_conn_fail_detail(c->tls));
      conn_flush_out(c); /* the alert, if any */
      conn_close(c, LINK_CLOSE_TLS);
      return;
    }
    if (conn_flush_out(c) != 0) return;
    if (rc == 1) return;
    c->st = CONN_HELLO;
    if (c->dialer) {
      if (c->seed_addr) seed_on_tls(c);
      tls_session *s2 = NULL;
      if (c->lk && tls_conn_save_session(c->tls, &s2) == 0) {
        if (tls_conn_resumed(c->tls)) c->lk->st.tls_resumes++;
        tls_session_free(c->lk->tls_sess);
        c->lk->tls_sess = s2;
      }
      if (conn_send_hello(c) != 0) return;
    }
  }
  conn_read_frames(c);
  /* Paused meanwhile (by what these frames delivered), or up while paused. */
  if (c->mgr->reads_paused && c->st == CONN_UP)
    uv_read_stop((uv_stream_t *)&c->tcp);
}

void link_mgr_pause_reads(link_mgr *m, bool pause) {
  if (m->reads_paused == pause) return;
  m->reads_paused = pause;
  for (link_conn *c = m->conns; c; c = c->next) {
    if (c->st != CONN_UP) continue;
    if (pause)
      uv_read_stop((uv_stream_t *)&c->tcp);
    else if (uv_read_start((uv_stream_t *)&c->tcp, conn_on_alloc,
                           conn_on_read) != 0)
      conn_close(c, LINK_CLOSE_IO);
  }
}

static int conn_start_tls(link_conn *c) {
  tls_role role = c->dialer ? TLS_CLIENT : TLS_SERVER;
  const tls_session *resume = c->dialer && c->lk ? c->lk->tls_sess : NULL;
  if (tls_conn_new(&c->tls, c->mgr->cfg.tls, role, resume) != 0) return TR_ETLS;
  c->st = CONN_TLS;
  uv_tcp_nodelay(&c->tcp, 1);
  c->tcp.data = c;
  if (uv_read_start((uv_stream_t *)&c->tcp, conn_on_alloc, conn_on_read) != 0)
    return TR_ESYS;
  if (c->dialer) {
    int rc = tls_conn_handshake(c->tls); /* ClientHello */
    if (rc < 0) return rc;
    return conn_flush_out(c);
  }
  return 0;
}

/* ---- dialing and accepting ---------------------------------------------- */

static void conn_on_connect(uv_connect_t *req, int status) {
  link_conn *c = req->data;
  if (c->st != CONN_CLOSED) {
    if (status < 0) {
      mgr_log(c->mgr, TR_LOG_INFO, "dial_failed", "peer=%s addr=%s error=%s",
              conn_peer(c), conn_addr(c), uv_strerror(status));
      conn_close(c, LINK_CLOSE_IO);
    } else if (conn_start_tls(c) != 0) {
      conn_close(c, LINK_CLOSE_TLS);
    }
  }
  conn_unref(c); /* the request */
}

static void conn_on_resolved(uv_getaddrinfo_t *req, int status,
                             struct addrinfo *res) {
  link_conn *c = req->data;
  if (c->st != CONN_CLOSED && status < 0) {
    mgr_log(c->mgr, TR_LOG_INFO, "resolve_failed", "peer=%s addr=%s error=%s",
            conn_peer(c), conn_addr(c), uv_strerror(status));
    conn_close(c, LINK_CLOSE_IO);
  }
  if (c->st != CONN_CLOSED) {
    c->st = CONN_CONNECTING;
    uv_tcp_init(c->mgr->loop, &c->tcp);
    c->tcp.data = c;
    c->tcp_open = true;
    c->refs++;
    c->connect_req.data = c;
    if (uv_tcp_connect(&c->connect_req, &c->tcp, res->ai_addr,
                       conn_on_connect) == 0)
      c->refs++;
    else
      conn_close(c, LINK_CLOSE_IO);
  }
  if (res) uv_freeaddrinfo(res);
  conn_unref(c); /* the request */
}

/* Splits "host:port" / "[v6]:port". */
static int split_addr(const char *addr, char *host, size_t hcap, char *port,
                      size_t pcap) {
  const char *colon = strrchr(addr, ':');
  if (!colon || !colon[1] || (size_t)(colon - addr) >= hcap ||
      strlen(colon + 1) >= pcap)
    return TR_EINVAL;
  const char *h = addr;
  size_t hl = (size_t)(colon - addr);
  if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
    h++;
    hl -= 2;
  }
  memcpy(host, h, hl);
  host[hl] = '\0';
  strcpy(port, colon + 1);
  return hl ? 0 : TR_EINVAL;
}

int conn_check_addr(const char *addr) {
  char host[256], port[16];
  return split_addr(addr, host, sizeof(host), port, sizeof(port));
}

link_conn *conn_new_dialer(link_mgr *m, peer_link *lk) {
  link_conn *c = conn_new(m, lk, true);
  if (c) c->st = CONN_CONNECTING; /* no request out yet: nothing to cancel */
  return c;
}

int conn_start_dial(link_conn *c, const char *addr) {
  char host[256], port[16];
  if (split_addr(addr, host, sizeof(host), port, sizeof(port)) != 0) {
    conn_close(c, LINK_CLOSE_LOCAL);
    return TR_EINVAL;
  }
  c->gai_req.data = c;
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int err = uv_getaddrinfo(c->mgr->loop, &c->gai_req, conn_on_resolved, host,
                           port, &hints);
  if (err != 0) {
    mgr_log(c->mgr, TR_LOG_WARN, "resolve_failed", "peer=%s addr=%s error=%s",
            conn_peer(c), addr, uv_strerror(err));
    conn_close(c, LINK_CLOSE_IO);
    return TR_ESYS;
  }
  c->st = CONN_RESOLVING;
  c->refs++;
  return 0;
}

int conn_dial(peer_link *lk) {
  if (!lk->addr || conn_check_addr(lk->addr) != 0) return TR_EINVAL;
  link_conn *c = conn_new_dialer(lk->mgr, lk);
  if (!c) return TR_ENOMEM;
  lk->dialing = c;
  return conn_start_dial(c, lk->addr);
}

void conn_accept(link_mgr *m) {
  link_conn *c = conn_new(m, NULL, false);
  if (!c) return;
  uv_tcp_init(m->loop, &c->tcp);
  c->tcp.data = c;
  c->tcp_open = true;
  c->refs++;
  if (uv_accept((uv_stream_t *)&m->listener, (uv_stream_t *)&c->tcp) != 0 ||
      conn_start_tls(c) != 0)
    conn_close(c, LINK_CLOSE_IO);
}
