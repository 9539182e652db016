/* conn.c — one TCP connection: dialing (DNS included) or accepting, the
 * TLS handshake, decrypting into frames, encrypting out, the handshake
 * timer. Reports only through its owner's conn_ops (see conn.h); what the
 * peer sends wrong closes only this connection, with a reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "mgr_svc.h"

#define CONN_READ_BUF 65536u      /* socket reads once up */
#define CONN_READ_BUF_HELLO 4096u /* before: a handshake needs no more */
#define CONN_FRAME_MAX_HELLO 65536u /* the largest frame before the hello */
#define CONN_READER_KEEP 262144u  /* a read buffer shrinks back under this */

static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void conn_unref(link_conn *c) {
  if (--c->refs > 0) return;
  conn_env *env = c->env;
  if (c->prev)
    c->prev->next = c->next;
  else if (env->conns == c)
    env->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  tls_conn_free(c->tls);
  env->mem_used -= c->rd_counted;
  wire_reader_free(&c->rd);
  free(c->peer);
  free(c->addr);
  free(c->rbuf);
  free(c);
  mgr_release(env->mgr);
}

static void conn_on_handle_close(uv_handle_t *h) { conn_unref(h->data); }

static const char *conn_peer(link_conn *c) { return c->peer ? c->peer : "?"; }
static const char *conn_addr(link_conn *c) { return c->addr ? c->addr : "?"; }

static void conn_on_hs_timeout(uv_timer_t *t) {
  link_conn *c = t->data;
  if (c->st == CONN_TLS) c->env->st->tls_fail[TLS_FAIL_TIMEOUT]++;
  conn_close(c, LINK_CLOSE_TIMEOUT);
}

link_conn *conn_new(conn_env *env, bool dialer, const conn_ops *ops,
                    void *owner) {
  link_conn *c = calloc(1, sizeof(*c));
  if (!c) return NULL;
  c->env = env;
  c->ops = ops;
  c->owner = owner;
  c->dialer = dialer;
  c->st = CONN_CONNECTING; /* no request out yet: nothing to cancel */
  wire_reader_init(&c->rd, env->cfg->max_frame < CONN_FRAME_MAX_HELLO
                              ? env->cfg->max_frame
                              : CONN_FRAME_MAX_HELLO);
  uv_timer_init(env->cfg->loop, &c->hs_timer);
  c->hs_timer.data = c;
  c->refs = 1; /* the timer handle */
  uv_timer_start(&c->hs_timer, conn_on_hs_timeout,
                 env->cfg->handshake_timeout_ms, 0);
  c->next = env->conns;
  if (env->conns) env->conns->prev = c;
  env->conns = c;
  mgr_hold(env->mgr);
  return c;
}

void conn_set_owner(link_conn *c, const conn_ops *ops, void *owner) {
  c->ops = ops;
  c->owner = owner;
}

static void conn_set_name(char **slot, const char *name) {
  if (!name) return;
  char *copy = strdup(name);
  if (!copy) return; /* only log lines would show it: keep the old one */
  free(*slot);
  *slot = copy;
}

void conn_set_names(link_conn *c, const char *peer, const char *addr) {
  conn_set_name(&c->peer, peer);
  conn_set_name(&c->addr, addr);
}

void conn_close_as(link_conn *c, link_close_reason reason) {
  c->close_as = reason;
}

/* The refusal behind a close, as on_closed reports it: ours after TLS
 * (conn_refuse), a handshake cut short, or what TLS recorded. */
static void conn_describe(link_conn *c, conn_end *end, tls_fail refused,
                          const char *detail, bool by_peer) {
  end->detail = "";
  if (by_peer) {
    end->detail = detail ? detail : "";
    end->refused_by = LINK_REFUSED_BY_PEER;
  } else if (refused != TLS_FAIL_NONE || detail) {
    end->tls = refused;
    end->detail = detail ? detail : "";
    end->refused_by = LINK_REFUSED_BY_US;
  } else if (end->reason == LINK_CLOSE_TIMEOUT && end->stage == CONN_TLS) {
    end->tls = TLS_FAIL_TIMEOUT;
  } else if ((end->tls = tls_conn_fail_reason(c->tls)) != TLS_FAIL_NONE) {
    end->detail = tls_conn_fail_detail(c->tls);
    /* mbedTLS says "protocol" for the alert a peer sends when it refuses
     * our certificate, and "not_tls" when it answers in plaintext; every
     * other reason is our verdict on the peer's certificate. */
    end->refused_by = end->tls == TLS_FAIL_PROTOCOL ||
                              end->tls == TLS_FAIL_NOT_TLS
                          ? LINK_REFUSED_BY_PEER
                          : LINK_REFUSED_BY_US;
  }
}

static void conn_end_with(link_conn *c, link_close_reason reason,
                          tls_fail refused, const char *detail,
                          bool by_peer) {
  if (c->st == CONN_CLOSED) return;
  conn_env *env = c->env;
  conn_state was = c->st;
  c->st = CONN_CLOSED;
  if (c->pending) {
    c->pending = false;
    env->npending--;
  }
  /* A connection to ourselves ends however it ends (our own close, the EOF
   * when the other end refused our hello): the same normal event. */
  if (c->close_as != LINK_CLOSE_NONE && reason != LINK_CLOSE_LOCAL)
    reason = c->close_as;
  env->st->closed[reason]++;
  /* An operator client closing after its request is the normal end of
   * every CLI call: not worth a warning. */
  tls_peer_role role = c->tls ? tls_conn_peer_role(c->tls) : TLS_PEER_NONE;
  bool client_done = reason == LINK_CLOSE_PEER &&
                     (role == TLS_PEER_OPERATOR || role == TLS_PEER_VIEWER);
  tr_log_level lvl = reason == LINK_CLOSE_LOCAL ||
                             reason == LINK_CLOSE_DUPLICATE ||
                             reason == LINK_CLOSE_SELF || client_done
                         ? TR_LOG_DEBUG
                         : TR_LOG_WARN;
  mgr_log(env->mgr, lvl, "conn_closed",
          "peer=%s addr=%s dialer=%d stage=%d reason=%s", conn_peer(c),
          conn_addr(c), c->dialer, (int)was, link_close_reason_name(reason));
  uv_timer_stop(&c->hs_timer);
  uv_close((uv_handle_t *)&c->hs_timer, conn_on_handle_close);
  if (was == CONN_RESOLVING) uv_cancel((uv_req_t *)&c->gai_req);
  if (c->tcp_open) {
    c->tcp_open = false;
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_close((uv_handle_t *)&c->tcp, conn_on_handle_close);
  }
  /* Nobody hears of c after this. */
  const conn_ops *ops = c->ops;
  void *owner = c->owner;
  c->ops = NULL;
  c->owner = NULL;
  c->io = NULL;
  if (!ops || !ops->on_closed) return;
  conn_end end = {.reason = reason, .stage = was, .uv_error = c->uv_error};
  conn_describe(c, &end, refused, detail, by_peer);
  ops->on_closed(owner, c, &end);
}

void conn_close(link_conn *c, link_close_reason reason) {
  conn_end_with(c, reason, TLS_FAIL_NONE, NULL, false);
}

void conn_refuse(link_conn *c, link_close_reason reason, tls_fail why,
                 const char *detail) {
  conn_end_with(c, reason, why, detail ? detail : "", false);
}

void conn_refused_by_peer(link_conn *c, link_close_reason reason,
                          const char *detail) {
  conn_end_with(c, reason, TLS_FAIL_NONE, detail ? detail : "", true);
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
  if (status < 0 && status != UV_ECANCELED && c->st != CONN_CLOSED) {
    c->uv_error = status;
    conn_close(c, LINK_CLOSE_IO);
  }
  conn_unref(c);
}

/* A socket write failed with err (0: out of memory). */
static void conn_write_failed(link_conn *c, uint8_t *buf, int err) {
  free(buf);
  c->uv_error = err;
  conn_close(c, LINK_CLOSE_IO);
}

int conn_flush_out(link_conn *c) {
  if (c->st == CONN_CLOSED || !c->tcp_open) return TR_ECLOSED;
  uint8_t *buf;
  size_t len;
  int rc = tls_conn_take_out(c->tls, &buf, &len);
  if (rc != 0) return rc;
  if (!buf) return 0;
  if (c->io) {
    c->io->bytes_out += len;
    c->io->writes++;
  }
  /* Most writes fit the socket buffer: try now, queue the rest. */
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
  if (n == (int)len) {
    free(buf);
    return 0;
  }
  if (n < 0 && n != UV_EAGAIN) {
    conn_write_failed(c, buf, n);
    return TR_ECLOSED;
  }
  size_t done = n > 0 ? (size_t)n : 0;
  conn_write *w = malloc(sizeof(*w));
  if (!w) {
    conn_write_failed(c, buf, 0);
    return TR_ENOMEM;
  }
  w->buf = buf;
  w->req.data = c;
  b = uv_buf_init((char *)buf + done, (unsigned)(len - done));
  int err = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, conn_on_write);
  if (err != 0) {
    free(w);
    conn_write_failed(c, buf, err);
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

/* ---- reading ------------------------------------------------------------ */

/* Brings the read buffer's size into the memory count; a connection whose
 * buffer passes the budget is closed, unless exempt. 0 or TR_ECLOSED. */
static int conn_count_reader(link_conn *c) {
  conn_env *env = c->env;
  if (c->rd.cap == c->rd_counted) return 0;
  env->mem_used = env->mem_used - c->rd_counted + c->rd.cap;
  c->rd_counted = c->rd.cap;
  if (c->budget_exempt || env->mem_used <= env->cfg->memory_budget) return 0;
  env->st->memory_closed++;
  mgr_log(env->mgr, TR_LOG_WARN, "memory_budget",
          "peer=%s addr=%s read_buffer=%zu used=%zu budget=%zu", conn_peer(c),
          conn_addr(c), c->rd.cap, env->mem_used, env->cfg->memory_budget);
  conn_close(c, LINK_CLOSE_LIMIT);
  return TR_ECLOSED;
}

int conn_next_frame(link_conn *c, wire_frame *f) {
  for (;;) {
    if (c->st == CONN_CLOSED) return TR_ECLOSED;
    int rc = wire_reader_next(&c->rd, f);
    if (rc == 1) {
      c->last_rx_ms = uv_now(c->env->cfg->loop);
      return 1;
    }
    if (rc < 0) {
      conn_close(c, rc == TR_ETOOBIG ? LINK_CLOSE_TOO_BIG
                                     : LINK_CLOSE_MALFORMED);
      return TR_ECLOSED;
    }
    /* Nothing complete buffered: decrypt what TLS holds, into a buffer
     * that shrinks back once a large frame is done with. */
    wire_reader_shrink(&c->rd, CONN_READER_KEEP);
    size_t avail;
    uint8_t *space = wire_reader_space(&c->rd, CONN_RECORD_MAX, &avail);
    if (!space) {
      conn_close(c, LINK_CLOSE_LOCAL);
      return TR_ECLOSED;
    }
    if (conn_count_reader(c) != 0) return TR_ECLOSED;
    int n = tls_conn_read(c->tls, space, avail);
    if (n == 0) return 0;
    if (n == TR_ECLOSED) {
      conn_close(c, LINK_CLOSE_PEER);
      return TR_ECLOSED;
    }
    if (n < 0) {
      tls_fail why = tls_conn_fail_reason(c->tls);
      c->env->st->tls_fail[why]++;
      mgr_log(c->env->mgr, TR_LOG_WARN, "tls_read_failed",
              "peer=%s reason=%s detail=%s", conn_peer(c),
              tls_fail_name(why), tls_conn_fail_detail(c->tls));
      conn_close(c, LINK_CLOSE_MALFORMED);
      return TR_ECLOSED;
    }
    wire_reader_commit(&c->rd, (size_t)n);
  }
}

/* Tells the owner that plaintext may be waiting, once per read; an owner
 * that hands c on leaves the rest to the next one. */
static void conn_hand_up(link_conn *c) {
  for (;;) {
    const conn_ops *ops = c->ops;
    void *owner = c->owner;
    if (!ops || c->st == CONN_CLOSED) return;
    ops->on_readable(owner, c);
    if (c->ops == ops && c->owner == owner) return;
  }
}

/* Drives the handshake with what arrived; true once TLS is done and c is
 * still open. */
static bool conn_handshake_step(link_conn *c) {
  int rc = tls_conn_handshake(c->tls);
  if (rc < 0) {
    tls_fail why = tls_conn_fail_reason(c->tls);
    c->env->st->tls_fail[why]++;
    mgr_log(c->env->mgr, TR_LOG_WARN, "peer_refused",
            "reason=%s dialer=%d addr=%s detail=%s", tls_fail_name(why),
            c->dialer, conn_addr(c), tls_conn_fail_detail(c->tls));
    conn_flush_out(c); /* the alert, if any */
    conn_close(c, LINK_CLOSE_TLS);
    return false;
  }
  if (conn_flush_out(c) != 0 || rc == 1) return false;
  /* A handshake begun before a reload checked the peer against the old
   * revocation list: check it against the one in force. */
  if (tls_conn_peer_revoked(c->tls, c->env->cfg->tls)) {
    c->env->st->tls_fail[TLS_FAIL_REVOKED]++;
    mgr_log(c->env->mgr, TR_LOG_WARN, "peer_refused",
            "reason=%s dialer=%d addr=%s detail=%s",
            tls_fail_name(TLS_FAIL_REVOKED), c->dialer, conn_addr(c),
            "revoked by the revocation list reloaded during the handshake");
    conn_refuse(c, LINK_CLOSE_REVOKED, TLS_FAIL_REVOKED,
                "its certificate is revoked (reloaded revocation list)");
    return false;
  }
  c->st = CONN_HELLO;
  if (c->ops && c->ops->on_tls_done) c->ops->on_tls_done(c->owner, c);
  return c->st != CONN_CLOSED;
}

/* The socket's read buffer, made on the first read: an idle connection
 * costs none, and one before its hello a small one. A failed allocation
 * gives libuv an empty buffer: the read fails (UV_ENOBUFS) and closes. */
static void conn_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  link_conn *c = h->data;
  (void)hint;
  size_t want = c->st == CONN_UP ? CONN_READ_BUF : CONN_READ_BUF_HELLO;
  if (c->rcap != want) {
    free(c->rbuf);
    c->rbuf = malloc(want);
    c->rcap = c->rbuf ? want : 0;
  }
  *buf = uv_buf_init((char *)c->rbuf, (unsigned)c->rcap);
}

static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  link_conn *c = s->data;
  if (nread == 0 || c->st == CONN_CLOSED) return;
  if (nread < 0) {
    c->uv_error = (int)nread;
    conn_close(c, nread == UV_EOF || nread == UV_ECONNRESET ? LINK_CLOSE_PEER
                                                            : LINK_CLOSE_IO);
    return;
  }
  if (c->io) c->io->bytes_in += (uint64_t)nread;
  if (tls_conn_feed(c->tls, buf->base, (size_t)nread) != 0) {
    conn_close(c, LINK_CLOSE_LOCAL);
    return;
  }
  if (c->st == CONN_TLS && !conn_handshake_step(c)) return;
  conn_hand_up(c);
  /* Paused meanwhile (by what these frames delivered), or up while paused. */
  if (c->env->reads_paused && c->st == CONN_UP)
    uv_read_stop((uv_stream_t *)&c->tcp);
}

void conn_set_up(link_conn *c) {
  uv_timer_stop(&c->hs_timer);
  c->st = CONN_UP;
  c->rd.max_frame = c->env->cfg->max_frame;
  c->last_rx_ms = uv_now(c->env->cfg->loop);
  if (c->pending) {
    c->pending = false;
    c->env->npending--;
  }
}

bool conn_close_oldest_pending(conn_env *env) {
  link_conn *oldest = NULL;
  for (link_conn *c = env->conns; c; c = c->next) /* newest first */
    if (c->pending) oldest = c;
  if (!oldest) return false;
  conn_close(oldest, LINK_CLOSE_LIMIT);
  return true;
}

void conn_pause_reads(link_conn *c, bool pause) {
  if (c->st != CONN_UP) return;
  if (pause)
    uv_read_stop((uv_stream_t *)&c->tcp);
  else if (uv_read_start((uv_stream_t *)&c->tcp, conn_on_alloc,
                         conn_on_read) != 0)
    conn_close(c, LINK_CLOSE_IO);
}

static int conn_start_tls(link_conn *c) {
  tls_role role = c->dialer ? TLS_CLIENT : TLS_SERVER;
  const tls_session *resume = NULL;
  if (c->dialer && c->ops && c->ops->tls_resume)
    resume = c->ops->tls_resume(c->owner);
  if (tls_conn_new(&c->tls, c->env->cfg->tls, role, resume) != 0)
    return TR_ETLS;
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
      c->uv_error = status;
      mgr_log(c->env->mgr, TR_LOG_INFO, "dial_failed",
              "peer=%s addr=%s error=%s", conn_peer(c), conn_addr(c),
              uv_strerror(status));
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
    c->uv_error = status;
    mgr_log(c->env->mgr, TR_LOG_INFO, "resolve_failed",
            "peer=%s addr=%s error=%s", conn_peer(c), conn_addr(c),
            uv_strerror(status));
    conn_close(c, LINK_CLOSE_IO);
  }
  if (c->st != CONN_CLOSED) {
    c->st = CONN_CONNECTING;
    uv_tcp_init(c->env->cfg->loop, &c->tcp);
    c->tcp.data = c;
    c->tcp_open = true;
    c->refs++;
    c->connect_req.data = c;
    int err = uv_tcp_connect(&c->connect_req, &c->tcp, res->ai_addr,
                             conn_on_connect);
    if (err == 0) {
      c->refs++;
    } else {
      c->uv_error = err;
      conn_close(c, LINK_CLOSE_IO);
    }
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

int conn_dial(link_conn *c, const char *addr) {
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
  int err = uv_getaddrinfo(c->env->cfg->loop, &c->gai_req, conn_on_resolved,
                           host, port, &hints);
  if (err != 0) {
    c->uv_error = err;
    mgr_log(c->env->mgr, TR_LOG_WARN, "resolve_failed",
            "peer=%s addr=%s error=%s", conn_peer(c), addr, uv_strerror(err));
    conn_close(c, LINK_CLOSE_IO);
    return TR_ESYS;
  }
  c->st = CONN_RESOLVING;
  c->refs++;
  return 0;
}

void conn_accept(link_conn *c, uv_stream_t *listener) {
  uv_tcp_init(c->env->cfg->loop, &c->tcp);
  c->tcp.data = c;
  c->tcp_open = true;
  c->refs++;
  int err = uv_accept(listener, (uv_stream_t *)&c->tcp);
  if (err != 0) c->uv_error = err;
  /* Where it came from, for every line about it (a refusal above all). */
  struct sockaddr_storage ss;
  int sl = sizeof(ss);
  char ip[64], addr[80];
  if (err == 0 &&
      uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
    bool v6 = ss.ss_family == AF_INET6;
    int ok = v6 ? uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip))
                : uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
    int port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                        : ((struct sockaddr_in *)&ss)->sin_port);
    if (ok == 0) {
      snprintf(addr, sizeof(addr), v6 ? "[%s]:%d" : "%s:%d", ip, port);
      conn_set_name(&c->addr, addr);
    }
  }
  c->pending = true;
  c->env->npending++;
  if (err != 0 || conn_start_tls(c) != 0) conn_close(c, LINK_CLOSE_IO);
}
