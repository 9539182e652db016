/* http.c — see http.h. A connection reads one request head into a fixed
 * buffer, answers it, half-closes, and discards whatever else the client
 * sends until it closes too (or a short linger runs out): closing with
 * unread bytes would make the kernel reset the connection and the client
 * could lose the answer. Each connection holds two handles (socket and
 * timer); it is freed when both close callbacks have run, and the server
 * when its listener and every connection are gone.
 *
 * Over TLS (http_opts.tls) the same connection runs through the node's TLS
 * server connection (tr_tls_conn, sans I/O): ciphertext read is fed to it,
 * the handshake advanced, and the plaintext it gives lands in the request
 * buffer, where the plain path takes over; every answer and stream write
 * is encrypted and its ciphertext taken out and written. Input is only
 * read while the request is (as over plain HTTP), so what a client may
 * make the node buffer is bounded by the request's size plus a handshake's
 * (HTTP_TLS_MAX_HANDSHAKE). */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "metrics.h"
#include "troupe_inspect.h"

#define HTTP_MAX_CONNS 64u
#define HTTP_MAX_PER_CLIENT 16u
#define HTTP_LOG_EVERY_MS 10000u
#define HTTP_MAX_REQUEST 8192u
#define HTTP_TIMEOUT_MS 5000u
#define HTTP_LINGER_MS 1000u /* after the answer: wait for the client's FIN */
#define HTTP_BACKLOG 128
/* TLS: ciphertext read at once, and what a client may send before its
 * request, besides the request itself (its certificate chain and the
 * handshake's other messages fit well within). */
#define HTTP_TLS_READ 16384u
#define HTTP_TLS_MAX_HANDSHAKE 32768u

typedef enum {
  CONN_READING, /* collecting the request head */
  CONN_WAITING, /* a route took it and answers later (http_reply) */
  CONN_ANSWERING, /* answer being written; further input is discarded */
  CONN_LINGERING, /* answer written and FIN sent; waiting for the client's */
  CONN_STREAMING, /* a stream (http_stream_start) until either side ends */
} conn_state;

/* A stream's writes past this many bytes queued (a client not reading)
 * close it. */
#define HTTP_STREAM_MAX_QUEUED (1u << 20)

/* Every answer's security headers: no framing, no sniffing, only the
 * page's own scripts and styles, no referrer, nothing cached. */
#define HTTP_SECURITY_HEADERS                                               \
  "X-Content-Type-Options: nosniff\r\n"                                      \
  "X-Frame-Options: DENY\r\n"                                                \
  "Content-Security-Policy: default-src 'self'; frame-ancestors 'none'\r\n"  \
  "Referrer-Policy: no-referrer\r\n"                                         \
  "Cache-Control: no-store\r\n"
/* Over TLS: browsers that have seen it use HTTPS for this host (every
 * port: see docs/inspector.md) for a year. */
#define HTTP_HSTS "Strict-Transport-Security: max-age=31536000\r\n"

typedef struct http_conn http_conn;
struct http_conn {
  http_server *srv;
  http_conn *prev, *next; /* srv->conns */
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_write_t write_req;
  uv_shutdown_t shutdown_req;
  conn_state state;
  struct sockaddr_storage peer; /* zeroed when unknown */
  int open_handles; /* freed at 0 */
  bool closing;
  bool eof; /* the client half-closed: no lingering needed */
  void (*gone)(void *owner); /* once, when it closes (http_conn_set_owner) */
  void *owner;
  tr_tls_conn *tls;  /* srv->tls: freed when it starts closing */
  bool tls_ready;    /* its handshake is done */
  bool forbidden;    /* a certificate of another role: 403 to anything */
  size_t tls_in;     /* ciphertext read while reading the request */
  char *cipher;      /* srv->tls: HTTP_TLS_READ bytes after req */
  size_t req_len;
  size_t head_len; /* the request head's, once read */
  size_t need;     /* head and body (Content-Length) */
  char head[768];  /* the answer's status line and headers */
  char *body;      /* the answer's body */
  bool body_owned; /* body is malloc'd (metrics) */
  char drain[512]; /* discarded input lands here */
  char req[];      /* srv->max_request bytes */
};

struct http_server {
  tr_node *node;
  http_route_fn route;
  void *route_user;
  uv_tcp_t listener;
  bool listener_open, stopping;
  int port;
  http_conn *conns;
  http_stats stats;
  bool (*ready)(void *);
  void *ready_arg;
  uint32_t max_conns, max_per_client, max_request, timeout_ms;
  tr_log_fn log;
  void *log_user;
  uint64_t log_after; /* no cap line before (loop ms) */
  uint64_t unlogged;  /* caps hit since the last line */
  bool tls;           /* HTTPS (http_opts.tls) */
  uint64_t tls_log_after, tls_unlogged; /* the same for TLS refusals */
};

static void set_err(char *err, size_t errlen, const char *fmt, const char *a,
                    const char *b) {
  if (err && errlen) snprintf(err, errlen, fmt, a, b);
}

/* ---- teardown ------------------------------------------------------------- */

static void server_maybe_free(http_server *s) {
  if (s->stopping && !s->listener_open && !s->conns) free(s);
}

static void conn_on_closed(uv_handle_t *h) {
  http_conn *c = h->data;
  if (--c->open_handles > 0) return;
  http_server *s = c->srv;
  if (c->prev) c->prev->next = c->next;
  else s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  s->stats.conns--;
  if (c->body_owned) free(c->body);
  free(c);
  server_maybe_free(s);
}

static void conn_close(http_conn *c) {
  if (c->closing) return;
  c->closing = true;
  /* Now, not in the close callback: the node it was made by may be freed
   * right after http_stop. Writes still pending own their ciphertext. */
  tr_tls_conn_free(c->tls);
  c->tls = NULL;
  if (c->gone) c->gone(c->owner);
  uv_close((uv_handle_t *)&c->tcp, conn_on_closed);
  uv_close((uv_handle_t *)&c->timer, conn_on_closed);
}

static void listener_on_closed(uv_handle_t *h) {
  http_server *s = h->data;
  s->listener_open = false;
  server_maybe_free(s);
}

void http_stop(http_server *s) {
  if (!s || s->stopping) return;
  s->stopping = true;
  for (http_conn *c = s->conns; c; c = c->next) conn_close(c);
  uv_close((uv_handle_t *)&s->listener, listener_on_closed);
}

/* ---- TLS ------------------------------------------------------------------ */

/* Ciphertext on its way; done (NULL: a close on failure only) runs when it
 * is written, or failed (also UV_ECANCELED from a close). */
typedef struct tls_write {
  uv_write_t req;
  http_conn *conn;
  void (*done)(http_conn *, int status);
  void *data; /* taken out of the TLS connection: freed here */
} tls_write;

static void tls_on_written(uv_write_t *req, int status) {
  tls_write *w = (tls_write *)req;
  http_conn *c = w->conn;
  void (*done)(http_conn *, int) = w->done;
  free(w->data);
  free(w);
  if (done) done(c, status);
  else if (status < 0) conn_close(c);
}

/* Writes the ciphertext c's TLS connection holds (done at once when there
 * is none). 0; -1 when it failed and c is closing. */
static int conn_tls_flush(http_conn *c, void (*done)(http_conn *, int)) {
  void *buf = NULL;
  size_t len = 0;
  if (!c->tls || tr_tls_conn_take_out(c->tls, &buf, &len) != 0) {
    conn_close(c);
    return -1;
  }
  if (!buf) {
    if (done) done(c, 0);
    return 0;
  }
  tls_write *w = malloc(sizeof(*w));
  if (!w) {
    free(buf);
    conn_close(c);
    return -1;
  }
  w->conn = c;
  w->done = done;
  w->data = buf;
  uv_buf_t b = uv_buf_init(buf, (unsigned)len);
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, tls_on_written) != 0) {
    free(buf);
    free(w);
    conn_close(c);
    return -1;
  }
  return 0;
}

/* A TLS refusal: one line per HTTP_LOG_EVERY_MS, with how many since (its
 * own budget, so neither kind of line hides the other). */
static void server_tls_log(http_server *s, http_conn *c, const char *reason,
                           const char *detail) {
  s->tls_unlogged++;
  uint64_t now = uv_now(s->listener.loop);
  if (!s->log || now < s->tls_log_after) return;
  char peer[64] = "-";
  if (c->peer.ss_family == AF_INET)
    uv_ip4_name((const struct sockaddr_in *)&c->peer, peer, sizeof(peer));
  else if (c->peer.ss_family == AF_INET6)
    uv_ip6_name((const struct sockaddr_in6 *)&c->peer, peer, sizeof(peer));
  const char *cn = c->tls ? tr_tls_conn_peer_name(c->tls) : "";
  char fields[512];
  tr_log_fields(fields, sizeof(fields),
                "reason=%s peer=%s cn=%s detail=%s hits=%llu", reason, peer,
                cn[0] ? cn : "-", detail[0] ? detail : "-",
                (unsigned long long)s->tls_unlogged);
  s->log(s->log_user, TR_LOG_WARN, "http_tls_refused", fields);
  s->tls_log_after = now + HTTP_LOG_EVERY_MS;
  s->tls_unlogged = 0;
}

static void conn_close_when_sent(http_conn *c, int status) {
  (void)status;
  conn_close(c);
}

/* The handshake or a record failed: counted and logged; the alert the TLS
 * connection may hold is sent, then the connection closes. */
static void conn_tls_failed(http_conn *c) {
  c->srv->stats.tls_failed++;
  server_tls_log(c->srv, c, tr_tls_conn_fail_reason(c->tls),
                 tr_tls_conn_fail_detail(c->tls));
  c->state = CONN_ANSWERING; /* what else it sends is not read */
  conn_tls_flush(c, conn_close_when_sent);
}

/* ---- answering ------------------------------------------------------------- */

static void conn_on_timeout(uv_timer_t *t) {
  http_conn *c = t->data;
  if (c->state == CONN_READING) {
    c->srv->stats.timed_out++;
    /* A handshake begun and not finished; a connection that sent nothing
     * (a browser's preconnect, a port scan) is no TLS failure. */
    if (c->tls && !c->tls_ready && c->tls_in > 0) {
      c->srv->stats.tls_failed++;
      server_tls_log(c->srv, c, "timeout", "the handshake did not finish");
    }
  }
  conn_close(c);
}

static void conn_on_shutdown(uv_shutdown_t *req, int status) {
  http_conn *c = req->data;
  if (status < 0) conn_close(c); /* also UV_ECANCELED from a close */
}

/* The answer is written: wait for the client's FIN (lingering). */
static void conn_answer_sent(http_conn *c, int status) {
  if (status < 0 || c->closing || c->eof) {
    conn_close(c);
    return;
  }
  c->state = CONN_LINGERING;
  uv_timer_start(&c->timer, conn_on_timeout, HTTP_LINGER_MS, 0);
  c->shutdown_req.data = c;
  if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp,
                  conn_on_shutdown) != 0)
    conn_close(c);
}

static void conn_on_written(uv_write_t *req, int status) {
  conn_answer_sent(req->data, status);
}

/* Writes the answer; body is either static or (owned) malloc'd. */
static void conn_answer(http_conn *c, int status, const char *reason,
                        const char *type, char *body, size_t len,
                        bool owned, const char *extra) {
  c->srv->stats.requests++;
  c->state = CONN_ANSWERING;
  c->body = body;
  c->body_owned = owned;
  int n = snprintf(c->head, sizeof(c->head),
                   "HTTP/1.1 %d %s\r\n"
                   "Content-Type: %s\r\n"
                   "Content-Length: %zu\r\n"
                   HTTP_SECURITY_HEADERS
                   "%s%s"
                   "Connection: close\r\n\r\n",
                   status, reason, type, len, c->srv->tls ? HTTP_HSTS : "",
                   extra ? extra : "");
  if (c->srv->tls) { /* the answer and a close_notify, in one write */
    if (c->closing) return;
    if (tr_tls_conn_write(c->tls, c->head, (size_t)n) != 0 ||
        (len && tr_tls_conn_write(c->tls, body, len) != 0)) {
      conn_close(c);
      return;
    }
    tr_tls_conn_close_notify(c->tls);
    conn_tls_flush(c, conn_answer_sent);
    return;
  }
  uv_buf_t bufs[2] = {uv_buf_init(c->head, (unsigned)n),
                      uv_buf_init(body, (unsigned)len)};
  c->write_req.data = c;
  if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, bufs, len ? 2 : 1,
               conn_on_written) != 0)
    conn_close(c);
}

static void conn_answer_text(http_conn *c, int status, const char *reason,
                             const char *text, const char *extra) {
  conn_answer(c, status, reason, "text/plain; charset=utf-8", (char *)text,
              strlen(text), false, extra);
}

/* The server's errors: text, or for a server with a route (the
 * inspector's, whose clients read JSON) {"error": text}. */
static void conn_answer_error(http_conn *c, int status, const char *reason,
                              const char *text, const char *extra) {
  if (!c->srv->route) {
    conn_answer_text(c, status, reason, text, extra);
    return;
  }
  char *json = malloc(strlen(text) + 16);
  if (!json) {
    conn_close(c);
    return;
  }
  int n = sprintf(json, "{\"error\":\"%.*s\"}\n", (int)strcspn(text, "\n"),
                  text);
  conn_answer(c, status, reason, "application/json; charset=utf-8", json,
              (size_t)n, true, extra);
}

static bool server_ready(http_server *s) {
  if (s->ready) return s->ready(s->ready_arg);
  return tr_node_ready(s->node) != 0;
}

/* The request head is complete in c->req[0..len). Only the request line
 * matters: headers are not needed for any answer. */
/* The value of header `name` (case-insensitive) in the head
 * req[0..len), trimmed: its length, or -1 when absent. */
static long header_value(const char *req, size_t len, const char *name,
                         const char **value) {
  size_t nlen = strlen(name);
  const char *p = memchr(req, '\n', len), *end = req + len;
  while (p && ++p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) break;
    if ((size_t)(eol - p) > nlen && p[nlen] == ':' &&
        strncasecmp(p, name, nlen) == 0) {
      const char *v = p + nlen + 1, *e = eol;
      while (v < e && (*v == ' ' || *v == '\t')) v++;
      while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) e--;
      *value = v;
      return (long)(e - v);
    }
    p = eol;
  }
  return -1;
}

static void conn_handle(http_conn *c, size_t len) {
  if (c->forbidden) {
    conn_answer_error(c, 403, "Forbidden",
                      "not an operator or viewer certificate: make one "
                      "with troupe cert client NAME [--role viewer]\n",
                      NULL);
    return;
  }
  const char *p = c->req, *end = c->req + len;
  const char *sp1 = memchr(p, ' ', (size_t)(end - p));
  const char *eol = memchr(p, '\n', (size_t)(end - p));
  if (!sp1 || !eol || sp1 > eol || sp1 == p) {
    conn_answer_error(c, 400, "Bad Request", "bad request\n", NULL);
    return;
  }
  const char *target = sp1 + 1;
  const char *sp2 = memchr(target, ' ', (size_t)(eol - target));
  if (!sp2 || sp2 == target || eol - (sp2 + 1) < 8 ||
      memcmp(sp2 + 1, "HTTP/1.", 7) != 0) {
    conn_answer_error(c, 400, "Bad Request", "bad request\n", NULL);
    return;
  }
  bool post = c->srv->route && (size_t)(sp1 - p) == 4 &&
              memcmp(p, "POST", 4) == 0; /* routes only */
  if (!post && ((size_t)(sp1 - p) != 3 || memcmp(p, "GET", 3) != 0)) {
    conn_answer_error(c, 405, "Method Not Allowed", "method not allowed\n",
                      c->srv->route ? "Allow: GET, POST\r\n"
                                    : "Allow: GET\r\n");
    return;
  }
  size_t tlen = (size_t)(sp2 - target);
  const char *q = memchr(target, '?', tlen);
  if (q) tlen = (size_t)(q - target);
#define PATH_IS(lit) (tlen == sizeof(lit) - 1 && memcmp(target, lit, tlen) == 0)
  if (PATH_IS("/metrics")) {
    char *text;
    size_t tl;
    const http_stats *hs = &c->srv->stats;
    metrics_http mh = {.requests = hs->requests,
                       .refused = hs->refused,
                       .evicted = hs->evicted,
                       .timed_out = hs->timed_out,
                       .too_large = hs->too_large,
                       .conns = hs->conns};
    if (metrics_render(c->srv->node, &mh, &text, &tl) != 0) {
      conn_answer_error(c, 500, "Internal Server Error", "out of memory\n",
                       NULL);
      return;
    }
    conn_answer(c, 200, "OK", METRICS_CONTENT_TYPE, text, tl, true, NULL);
  } else if (PATH_IS("/healthz")) {
    conn_answer_text(c, 200, "OK", "ok\n", NULL);
  } else if (PATH_IS("/readyz")) {
    if (server_ready(c->srv))
      conn_answer_text(c, 200, "OK", "ready\n", NULL);
    else
      conn_answer_text(c, 503, "Service Unavailable", "not ready\n", NULL);
  } else {
    http_request r = {.path = target, .path_len = tlen,
                      .query = q ? q + 1 : "",
                      .query_len = q ? (size_t)(sp2 - q - 1) : 0,
                      .post = post,
                      .body = c->req + len,
                      .body_len = c->need - len};
    if (c->srv->tls) {
      r.client = tr_tls_conn_peer_name(c->tls);
      r.client_operator =
          tr_tls_conn_peer_role(c->tls) == TR_TLS_PEER_OPERATOR;
    }
    long alen = header_value(c->req, len, "Authorization", &r.auth);
    r.auth_len = alen > 0 ? (size_t)alen : 0;
    c->state = CONN_WAITING;
    if (!c->srv->route || !c->srv->route(c->srv->route_user, c, &r)) {
      c->state = CONN_READING;
      conn_answer_error(c, 404, "Not Found", "not found\n", NULL);
    }
  }
#undef PATH_IS
}

/* ---- reading --------------------------------------------------------------- */

static void conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  http_conn *c = h->data;
  if (c->state == CONN_READING && c->cipher)
    *buf = uv_buf_init(c->cipher, HTTP_TLS_READ);
  else if (c->state == CONN_READING && c->req_len < c->srv->max_request)
    *buf = uv_buf_init(c->req + c->req_len,
                       (unsigned)(c->srv->max_request - c->req_len));
  else
    *buf = uv_buf_init(c->drain, sizeof(c->drain));
}

/* Length of the head (through the blank line) in req[0..len), or 0. A bare
 * LF line ending is accepted as well as CRLF. */
static size_t head_length(const char *req, size_t len, size_t from) {
  for (size_t i = from > 0 ? from - 1 : 0; i < len; i++) {
    if (req[i] != '\n') continue;
    if (i >= 1 && req[i - 1] == '\n') return i + 1;
    if (i >= 2 && req[i - 1] == '\r' && req[i - 2] == '\n') return i + 1;
  }
  return 0;
}

/* n more bytes of the request are in c->req at c->req_len. */
static void conn_got(http_conn *c, size_t n) {
  size_t from = c->req_len > 3 ? c->req_len - 3 : 0;
  c->req_len += n;
  size_t head = c->head_len ? c->head_len
                            : head_length(c->req, c->req_len, from);
  if (head && !c->head_len) { /* the head is in: how long is the body? */
    c->head_len = head;
    const char *v;
    long vlen = header_value(c->req, head, "Content-Length", &v);
    size_t body = 0;
    if (vlen > 0 && vlen < 8 && strspn(v, "0123456789") >= (size_t)vlen)
      body = strtoul(v, NULL, 10);
    else if (vlen >= 0)
      body = SIZE_MAX; /* not a length we take */
    if (body > c->srv->max_request - head) {
      c->srv->stats.too_large++;
      conn_answer_error(c, 413, "Content Too Large", "body too large\n",
                        NULL);
      return;
    }
    c->need = head + body;
  }
  if (head) {
    if (c->req_len >= c->need) conn_handle(c, head);
  } else if (c->req_len >= c->srv->max_request) {
    c->srv->stats.too_large++;
    conn_answer_error(c, 431, "Request Header Fields Too Large",
                     "request too large\n", NULL);
  }
}

/* Ciphertext in (TLS): the handshake, then the request's plaintext into
 * c->req for conn_got, until the request is in. */
static void conn_tls_in(http_conn *c, const char *data, size_t len) {
  http_server *s = c->srv;
  c->tls_in += len;
  if (c->tls_in > (size_t)s->max_request + HTTP_TLS_MAX_HANDSHAKE) {
    s->stats.tls_failed++;
    server_tls_log(s, c, "too_large", "more sent than a handshake and a "
                   "request take");
    conn_close(c);
    return;
  }
  if (tr_tls_conn_feed(c->tls, data, len) != 0) {
    conn_tls_failed(c);
    return;
  }
  if (!c->tls_ready) {
    int rc = tr_tls_conn_handshake(c->tls);
    if (rc < 0) {
      conn_tls_failed(c);
      return;
    }
    if (conn_tls_flush(c, NULL) != 0 || rc == 1) return;
    c->tls_ready = true;
    tr_tls_peer_role role = tr_tls_conn_peer_role(c->tls);
    if (role != TR_TLS_PEER_OPERATOR && role != TR_TLS_PEER_VIEWER) {
      /* The CA's, but not for this: answered 403 once it asks. */
      c->forbidden = true;
      s->stats.tls_forbidden++;
      server_tls_log(s, c, role == TR_TLS_PEER_NODE ? "node_certificate"
                                                    : "no_role",
                     "not an operator or viewer certificate");
    }
  }
  while (c->state == CONN_READING && !c->closing &&
         c->req_len < s->max_request) {
    int n = tr_tls_conn_read(c->tls, c->req + c->req_len,
                             s->max_request - c->req_len);
    if (n == 0) return;
    if (n == TR_ECLOSED) { /* close_notify before a whole request */
      conn_close(c);
      return;
    }
    if (n < 0) {
      conn_tls_failed(c);
      return;
    }
    conn_got(c, (size_t)n);
  }
}

static void conn_on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  http_conn *c = st->data;
  if (nread == UV_EOF &&
      (c->state == CONN_ANSWERING || c->state == CONN_WAITING)) {
    /* The client half-closed after its request: finish the answer (closing
     * now would cancel the part of it not yet written). */
    c->eof = true;
    uv_read_stop(st);
    return;
  }
  if (nread < 0) { /* EOF or error: nothing more to do either way */
    conn_close(c);
    return;
  }
  if (c->state != CONN_READING || nread == 0) return; /* discarded */
  if (c->tls) conn_tls_in(c, buf->base, (size_t)nread);
  else conn_got(c, (size_t)nread);
}

static void free_handle(uv_handle_t *h) { free(h); }

/* A cap was hit: one line per HTTP_LOG_EVERY_MS, with how many since. */
static void server_cap_log(http_server *s, const char *why) {
  s->unlogged++;
  uint64_t now = uv_now(s->listener.loop);
  if (!s->log || now < s->log_after) return;
  char fields[160];
  tr_log_fields(fields, sizeof(fields),
                "reason=%s max_conns=%u max_per_client=%u hits=%llu", why,
                s->max_conns, s->max_per_client,
                (unsigned long long)s->unlogged);
  s->log(s->log_user, TR_LOG_WARN, "http_cap", fields);
  s->log_after = now + HTTP_LOG_EVERY_MS;
  s->unlogged = 0;
}

static bool same_host(const struct sockaddr_storage *a,
                      const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family) return false;
  if (a->ss_family == AF_INET)
    return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
                  &((const struct sockaddr_in *)b)->sin_addr,
                  sizeof(struct in_addr)) == 0;
  if (a->ss_family == AF_INET6)
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                  &((const struct sockaddr_in6 *)b)->sin6_addr,
                  sizeof(struct in6_addr)) == 0;
  return false;
}

/* Whether c may stay: within its address's share, and (at max_conns) a
 * connection still reading its request made room. */
static bool server_admit(http_server *s, http_conn *c) {
  uint32_t same = 0;
  http_conn *oldest_reading = NULL;
  for (http_conn *o = s->conns; o; o = o->next) { /* newest first */
    if (o == c || o->closing) continue;
    if (c->peer.ss_family && same_host(&o->peer, &c->peer)) same++;
    if (o->state == CONN_READING) oldest_reading = o;
  }
  if (same >= s->max_per_client) {
    s->stats.refused++;
    server_cap_log(s, "per_client");
    return false;
  }
  if (s->stats.conns <= s->max_conns) return true; /* c counted already */
  if (!oldest_reading) {
    s->stats.refused++;
    server_cap_log(s, "max_conns");
    return false;
  }
  s->stats.evicted++;
  server_cap_log(s, "evicted_slow");
  conn_close(oldest_reading);
  return true;
}

static void server_on_connection(uv_stream_t *l, int status) {
  http_server *s = l->data;
  if (status < 0 || s->stopping) return;
  http_conn *c =
      calloc(1, sizeof(*c) + s->max_request + (s->tls ? HTTP_TLS_READ : 0));
  if (!c) {
    /* Take it off the backlog and close it, so it is not left waiting. */
    uv_tcp_t *t = malloc(sizeof(*t));
    if (!t) return;
    uv_tcp_init(l->loop, t);
    if (uv_accept(l, (uv_stream_t *)t) == 0) s->stats.refused++;
    uv_close((uv_handle_t *)t, free_handle);
    return;
  }
  c->srv = s;
  uv_tcp_init(l->loop, &c->tcp);
  uv_timer_init(l->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->open_handles = 2;
  c->next = s->conns;
  if (s->conns) s->conns->prev = c;
  s->conns = c;
  s->stats.conns++;
  if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  int plen = sizeof(c->peer);
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &plen) != 0)
    memset(&c->peer, 0, sizeof(c->peer));
  if (s->tls) {
    c->cipher = c->req + s->max_request;
    if (tr_node_tls_accept(s->node, &c->tls) != 0) {
      conn_close(c);
      return;
    }
  }
  if (!server_admit(s, c) ||
      uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_on_read) != 0 ||
      uv_timer_start(&c->timer, conn_on_timeout, s->timeout_ms, 0) != 0)
    conn_close(c);
}

/* ---- start ------------------------------------------------------------------ */

/* "host:port" or "[v6]:port" into a socket address. */
static int parse_addr(const char *addr, struct sockaddr_storage *ss) {
  char host[128];
  const char *port;
  bool v6 = addr[0] == '[';
  if (v6) {
    const char *close = strchr(addr, ']');
    if (!close || close[1] != ':' || (size_t)(close - addr - 1) >= sizeof(host))
      return TR_EINVAL;
    memcpy(host, addr + 1, (size_t)(close - addr - 1));
    host[close - addr - 1] = '\0';
    port = close + 2;
  } else {
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof(host)) return TR_EINVAL;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    port = colon + 1;
  }
  if (!*port || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port))
    return TR_EINVAL;
  long pn = strtol(port, NULL, 10);
  if (pn > 65535) return TR_EINVAL;
  if (v6) return uv_ip6_addr(host, (int)pn, (struct sockaddr_in6 *)ss) == 0
                     ? 0 : TR_EINVAL;
  return uv_ip4_addr(host, (int)pn, (struct sockaddr_in *)ss) == 0
             ? 0 : TR_EINVAL;
}

int http_start(http_server **out, tr_node *node, const http_opts *opts,
               char *err, size_t errlen) {
  *out = NULL;
  http_opts o = {0};
  if (opts) o = *opts;
  const char *addr = o.addr ? o.addr : HTTP_DEFAULT_ADDR;
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  if (!node || parse_addr(addr, &ss) != 0) {
    set_err(err, errlen, "bad address '%s'%s (want host:port)", addr, "");
    return TR_EINVAL;
  }
  http_server *s = calloc(1, sizeof(*s));
  if (!s) {
    set_err(err, errlen, "%s%s", "out of memory", "");
    return TR_ENOMEM;
  }
  s->node = node;
  s->route = o.route;
  s->route_user = o.route_user;
  s->ready = o.ready;
  s->ready_arg = o.ready_arg;
  s->max_conns = o.max_conns ? o.max_conns : HTTP_MAX_CONNS;
  s->max_per_client = o.max_per_client ? o.max_per_client : HTTP_MAX_PER_CLIENT;
  s->log = o.log;
  s->log_user = o.log_user;
  s->max_request = o.max_request ? o.max_request : HTTP_MAX_REQUEST;
  s->timeout_ms = o.timeout_ms ? o.timeout_ms : HTTP_TIMEOUT_MS;
  s->tls = o.tls;
  if (s->tls) { /* a local node has no certificates to serve with */
    tr_tls_conn *probe = NULL;
    int trc = tr_node_tls_accept(node, &probe);
    tr_tls_conn_free(probe);
    if (trc != 0) {
      free(s);
      set_err(err, errlen, "%s: %s", addr,
              trc == TR_ESTATE ? "TLS needs a cluster node's certificates "
                                 "(a local node has none)"
                               : tr_strerror(trc));
      return trc;
    }
  }
  uv_loop_t *loop = tr_node_loop(node);
  int rc = uv_tcp_init(loop, &s->listener);
  if (rc != 0) {
    free(s);
    set_err(err, errlen, "%s: %s", addr, uv_strerror(rc));
    return TR_ESYS;
  }
  s->listener.data = s;
  s->listener_open = true;
  rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&ss, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&s->listener, HTTP_BACKLOG,
                   server_on_connection);
  if (rc == 0) {
    struct sockaddr_storage bound;
    int blen = sizeof(bound);
    rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &blen);
    if (rc == 0)
      s->port = ntohs(bound.ss_family == AF_INET6
                          ? ((struct sockaddr_in6 *)&bound)->sin6_port
                          : ((struct sockaddr_in *)&bound)->sin_port);
  }
  if (rc != 0) {
    set_err(err, errlen, "%s: %s", addr, uv_strerror(rc));
    http_stop(s); /* freed once the listener's close callback has run */
    return TR_ESYS;
  }
  *out = s;
  return 0;
}

int http_port(const http_server *s) { return s ? s->port : 0; }

void http_stats_get(const http_server *s, http_stats *out) {
  memset(out, 0, sizeof(*out));
  if (s) *out = s->stats;
}

/* ---- answers from routes ----------------------------------------------------- */

static const char *status_reason(int status) {
  switch (status) {
  case 200: return "OK";
  case 204: return "No Content";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 413: return "Content Too Large";
  case 500: return "Internal Server Error";
  case 502: return "Bad Gateway";
  case 504: return "Gateway Timeout";
  case 503: return "Service Unavailable";
  default: return "Error";
  }
}

void http_reply(http_conn *c, int status, const char *type, char *body,
                size_t len, bool owned) {
  if (c->closing || c->state != CONN_WAITING) {
    if (owned) free(body);
    return;
  }
  conn_answer(c, status, status_reason(status), type, body, len, owned, NULL);
}

void http_conn_set_owner(http_conn *c, void (*gone)(void *), void *owner) {
  c->gone = gone;
  c->owner = owner;
}

int http_stream_start(http_conn *c, const char *type) {
  if (c->closing || c->state != CONN_WAITING) return TR_ESTATE;
  /* From here on any failure closes the connection (the caller's gone
   * callback runs). */
  c->srv->stats.requests++;
  c->state = CONN_STREAMING;
  uv_timer_stop(&c->timer); /* it lasts as long as both sides want */
  int n = snprintf(c->head, sizeof(c->head),
                   "HTTP/1.1 200 OK\r\n"
                   "Content-Type: %s\r\n"
                   HTTP_SECURITY_HEADERS
                   "%s"
                   "Connection: close\r\n\r\n",
                   type, c->srv->tls ? HTTP_HSTS : "");
  int rc = http_stream_write(c, c->head, (size_t)n);
  if (rc != 0) conn_close(c);
  return rc;
}

typedef struct stream_write {
  uv_write_t req;
  http_conn *conn;
  char data[];
} stream_write;

static void stream_on_written(uv_write_t *req, int status) {
  stream_write *w = (stream_write *)req;
  http_conn *c = w->conn;
  free(w);
  if (status < 0) conn_close(c); /* also UV_ECANCELED from a close */
}

int http_stream_write(http_conn *c, const char *data, size_t len) {
  if (c->closing || c->state != CONN_STREAMING) return TR_ECLOSED;
  if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) + len >
      HTTP_STREAM_MAX_QUEUED) {
    server_cap_log(c->srv, "stream_not_read");
    conn_close(c);
    return TR_EFULL;
  }
  if (c->srv->tls) { /* encrypted into the connection, then written */
    if (tr_tls_conn_write(c->tls, data, len) != 0) {
      conn_close(c);
      return TR_ECLOSED;
    }
    return conn_tls_flush(c, NULL) == 0 ? 0 : TR_ECLOSED;
  }
  stream_write *w = malloc(sizeof(*w) + len);
  if (!w) { /* a stream with a hole is worse than none */
    conn_close(c);
    return TR_ENOMEM;
  }
  w->conn = c;
  memcpy(w->data, data, len);
  uv_buf_t buf = uv_buf_init(w->data, (unsigned)len);
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1,
               stream_on_written) != 0) {
    free(w);
    conn_close(c);
    return TR_ECLOSED;
  }
  return 0;
}
