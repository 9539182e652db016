/* op_client.c — one operator request over a connection of its own (the
 * public calls of troupe_ops.h; the verbs are in op_verbs.c): a private
 * loop, a link manager that never listens, the request sent as a seed frame
 * (the node's name is learned from its certificate), and the loop run
 * until the answer, a failure or the deadline. Why a connection failed
 * comes from the link layer as a structured report (on_seed_failed), never
 * from its log lines. The node's side: host_operator.c. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "link.h"
#include "op_client.h"
#include "op_frame.h"
#include "tls.h"

const char *tr_op_fail_name(tr_op_fail f) {
  static const char *const names[] = {
#define TR_OP_FAIL_NAME_(name, str) str,
      TR_OP_FAIL_MAP(TR_OP_FAIL_NAME_)
#undef TR_OP_FAIL_NAME_
  };
  return (unsigned)f < TR_OP_FAIL_COUNT ? names[f] : NULL;
}

/* The TR_E* code a call returns for each reason. */
static int fail_code(tr_op_fail f) {
  switch (f) {
  case TR_OP_FAIL_NONE: return 0;
  case TR_OP_FAIL_CONFIG: return TR_EINVAL;
  case TR_OP_FAIL_UNREACHABLE: return TR_EUNREACHABLE;
  case TR_OP_FAIL_REFUSED_NODE:
  case TR_OP_FAIL_REFUSED_US: return TR_ETLS;
  case TR_OP_FAIL_SELF: return TR_EINVAL;
  case TR_OP_FAIL_HANDSHAKE_TIMEOUT:
  case TR_OP_FAIL_TIMEOUT: return TR_ETIMEDOUT;
  case TR_OP_FAIL_NOMEM: return TR_ENOMEM;
  default: return TR_ECLOSED;
  }
}

void op_call_fail(op_call *k, tr_op_fail why, const char *fmt, ...) {
  if (k->done) return;
  k->why = why;
  k->rc = fail_code(why);
  k->done = true;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(k->detail, sizeof(k->detail), fmt, ap);
  va_end(ap);
}

/* ---- link callbacks ---------------------------------------------------------- */

static void on_seed_failed(void *user, const char *addr,
                           const link_seed_failure *f) {
  op_call *k = user;
  (void)addr;
  const char *at = k->t->node;
  switch (f->reason) {
  case LINK_CLOSE_IO:
    if (f->stage <= LINK_STAGE_CONNECT)
      op_call_fail(k, TR_OP_FAIL_UNREACHABLE,
                   "the node at %s is down or unreachable (%s)", at,
                   f->uv_error_message[0] ? f->uv_error_message : "no route");
    else
      op_call_fail(k, TR_OP_FAIL_REFUSED_US,
                   "the node at %s closed the connection during the %s (%s): "
                   "it refused the client certificate or its name",
                   at, link_stage_name(f->stage), f->uv_error_message);
    return;
  case LINK_CLOSE_TLS:
    if (f->refused_by == LINK_REFUSED_BY_US)
      op_call_fail(k, TR_OP_FAIL_REFUSED_NODE,
                   "refused the certificate of the node at %s: %s (%s); is "
                   "--ca the cluster CA?",
                   at, tls_fail_name(f->tls), f->tls_detail);
    else
      op_call_fail(k, TR_OP_FAIL_REFUSED_US,
                   "the node at %s refused the client certificate (%s: %s); "
                   "is it from the cluster CA and still valid?",
                   at, tls_fail_name(f->tls), f->tls_detail);
    return;
  case LINK_CLOSE_HELLO:
    if (f->refused_by == LINK_REFUSED_BY_PEER)
      op_call_fail(k, TR_OP_FAIL_REFUSED_US,
                   "the node at %s refused this client: %s", at,
                   f->tls_detail);
    else
      op_call_fail(k, TR_OP_FAIL_REFUSED_NODE,
                   "refused the node at %s: its hello names a node its "
                   "certificate does not (%s)", at, f->tls_detail);
    return;
  case LINK_CLOSE_TIMEOUT:
    op_call_fail(k, TR_OP_FAIL_HANDSHAKE_TIMEOUT,
                 "no TLS handshake with the node at %s within %u ms (stuck "
                 "at the %s)", at, k->handshake_ms, link_stage_name(f->stage));
    return;
  case LINK_CLOSE_SELF:
    op_call_fail(k, TR_OP_FAIL_SELF,
                 "the node at %s has this client's name (%s): use a client "
                 "certificate (troupe cert client NAME)", at, k->name);
    return;
  case LINK_CLOSE_PEER:
    op_call_fail(k, TR_OP_FAIL_REFUSED_US,
                 "the node at %s closed the connection during the handshake: "
                 "it refused the client certificate or its name", at);
    return;
  default:
    op_call_fail(k, TR_OP_FAIL_CLOSED,
                 "the connection to the node at %s was closed (%s)", at,
                 link_close_reason_name(f->reason));
    return;
  }
}

static bool decode_bytes(pb_istream_t *s, const pb_field_t *f, void **arg) {
  (void)f;
  wire_slice *sl = *arg;
  sl->p = s->state;
  sl->len = s->bytes_left;
  return pb_read(s, NULL, s->bytes_left);
}

void op_call_on_frame(op_call *k, troupe_FrameKind kind, const uint8_t *body,
                      size_t len) {
  if (k->done) return;
  if (kind != troupe_FrameKind_FRAME_OPERATOR_REPLY) {
    op_call_fail(k, TR_OP_FAIL_PROTOCOL, "the node at %s sent a frame of "
                 "kind %d, not an operator reply", k->t->node, (int)kind);
    return;
  }
  troupe_OpReply *r = k->reply;
  *r = (troupe_OpReply)troupe_OpReply_init_zero;
  wire_slice data = {0};
  r->body.funcs.decode = decode_bytes;
  r->body.arg = &data;
  pb_istream_t in = pb_istream_from_buffer(body, len);
  bool ok = pb_decode(&in, troupe_OpReply_fields, r);
  /* A bytes field sent with another wire type lands on nanopb's stack. */
  if (ok && data.p &&
      (data.p < body || data.len > len || data.p > body + len - data.len))
    ok = false;
  if (!ok) {
    op_call_fail(k, TR_OP_FAIL_PROTOCOL, "the node at %s sent a malformed "
                 "reply", k->t->node);
    return;
  }
  if (r->id != k->id) return; /* not ours */
  k->answered = true;
  if (r->status != 0) { /* the node's verdict; health still says why */
    k->rc = r->status;
    if (k->verb->on_error) k->verb->on_error(k, r);
    k->done = true;
    return;
  }
  if (r->more && !k->streaming && k->verb->streams) {
    k->streaming = true; /* a stream has no deadline once it has begun */
    uv_timer_stop(&k->deadline);
  }
  bool more = k->verb->on_reply(k, r, data) && r->more;
  if (!more) {
    k->rc = 0;
    k->done = true;
  }
}

static void on_frame(void *user, peer_link *lk, troupe_FrameKind kind,
                     const uint8_t *body, size_t len) {
  (void)lk;
  op_call_on_frame(user, kind, body, len);
}

static void on_state(void *user, peer_link *lk, link_state st) {
  op_call *k = user;
  (void)lk;
  if (st == LINK_DOWN && !k->done)
    op_call_fail(k, TR_OP_FAIL_CLOSED, "the node at %s closed the "
                 "connection%s", k->t->node,
                 k->streaming
                     ? " (it stopped, or another session with this client's "
                       "name took the link over)"
                     : " before answering (it refused this client, or "
                       "another session with this client's name took the "
                       "link over)");
}

static void on_freed(void *user) { ((op_call *)user)->freed = true; }

static void on_deadline(uv_timer_t *t) {
  op_call *k = t->data;
  op_call_fail(k, TR_OP_FAIL_TIMEOUT, "no answer from the node at %s within "
               "%u ms", k->t->node, k->timeout_ms);
}

static void on_signal(uv_signal_t *s, int signum) {
  op_call *k = s->data;
  if (k->streaming) {
    k->rc = 0;
    k->done = true;
  } else {
    op_call_fail(k, TR_OP_FAIL_INTERRUPTED, "interrupted (signal %d) before "
                 "the answer", signum);
  }
}

/* ---- the call ------------------------------------------------------------------ */

static bool encode_bytes(pb_ostream_t *s, const pb_field_t *f,
                         void *const *arg) {
  const wire_slice *d = *arg;
  return pb_encode_tag_for_field(s, f) && pb_encode_string(s, d->p, d->len);
}

/* The client's name: the target's, or its certificate's CN; an operator's
 * or a viewer's certificate is required (a node's is for being a node). */
static int call_name(op_call *k) {
  const tr_op_target *t = k->t;
  tls_cert_info info;
  char why[256];
  if (tls_cert_file_info(t->cert_file, NULL, &info, why, sizeof(why)) != 0) {
    op_call_fail(k, TR_OP_FAIL_CONFIG, "%s", why);
    return k->rc;
  }
  if (info.role != TLS_PEER_OPERATOR && info.role != TLS_PEER_VIEWER) {
    op_call_fail(k, TR_OP_FAIL_CONFIG, "%s is %s certificate; operators "
                 "need a client one with a role (troupe cert client NAME "
                 "[--role operator|viewer])", t->cert_file,
                 info.role == TLS_PEER_NODE ? "a node" : "a role-less");
    return k->rc;
  }
  snprintf(k->name, sizeof(k->name), "%s", info.cn);
  if (t->name && t->name[0]) snprintf(k->name, sizeof(k->name), "%s", t->name);
  /* A session of its own ("NAME#pid.rand"): two sessions with one
   * certificate (a health check next to a `sub`) never share a link. */
  if (!strchr(k->name, '#')) {
    size_t used = strlen(k->name);
    snprintf(k->name + used, sizeof(k->name) - used, "#%ld.%u",
             (long)getpid(), (unsigned)(uv_hrtime() & 0xffffu));
  }
  return 0;
}

static void call_close(op_call *k) {
  uv_close((uv_handle_t *)&k->deadline, NULL);
  if (k->t->stop_on_signals) {
    uv_close((uv_handle_t *)&k->sigint, NULL);
    uv_close((uv_handle_t *)&k->sigterm, NULL);
  }
  if (k->mgr) {
    link_mgr_free(k->mgr);
    /* The manager's handles close within a few iterations. */
    for (int i = 0; i < 1000 && !k->freed; i++) uv_run(&k->loop, UV_RUN_NOWAIT);
  }
  uv_run(&k->loop, UV_RUN_DEFAULT);
  uv_loop_close(&k->loop);
}

/* The request's id (echoed in every reply), and its data from *d, which
 * must live until the request is encoded. */
static void call_request(op_call *k, troupe_OpRequest *req,
                         const wire_slice *d) {
  k->id = ((uint64_t)time(NULL) << 16) ^ (uint64_t)getpid();
  req->has_id = true;
  req->id = k->id;
  if (d->len) {
    req->data.funcs.encode = encode_bytes;
    req->data.arg = (void *)d;
  }
}

/* ---- the admin socket ------------------------------------------------------------ */

/* The admin socket a target names: "unix:PATH", or a path (with a '/');
 * NULL: a host:port. */
static const char *socket_path(const char *node) {
  if (!node) return NULL;
  if (strncmp(node, "unix:", 5) == 0) return node + 5;
  return strchr(node, '/') ? node : NULL;
}

static void pipe_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  op_call *k = h->data;
  (void)hint;
  if (k->rcap - k->rlen < 16384) {
    size_t cap = k->rcap ? k->rcap * 2 : 65536;
    uint8_t *p = cap <= ((size_t)64 << 20) ? realloc(k->rbuf, cap) : NULL;
    if (!p) {
      *buf = uv_buf_init(NULL, 0);
      return;
    }
    k->rbuf = p;
    k->rcap = cap;
  }
  *buf = uv_buf_init((char *)k->rbuf + k->rlen, (unsigned)(k->rcap - k->rlen));
}

static void pipe_on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  op_call *k = st->data;
  if (n < 0) {
    if (!k->done)
      op_call_fail(k, TR_OP_FAIL_CLOSED, "the node at %s closed the admin "
                   "connection%s (%s)", k->t->node,
                   k->streaming ? "" : " before answering",
                   n == UV_EOF ? "it stopped" : uv_strerror((int)n));
    uv_read_stop(st);
    return;
  }
  k->rlen += (size_t)n;
  size_t at = 0;
  while (!k->done && k->rlen - at >= 4) {
    const uint8_t *p = k->rbuf + at;
    size_t flen = op_frame_len(p);
    if (flen > ((size_t)32 << 20)) {
      op_call_fail(k, TR_OP_FAIL_PROTOCOL, "the node at %s sent a frame of "
                   "%zu bytes", k->t->node, flen);
      break;
    }
    if (k->rlen - at - 4 < flen) break;
    op_call_on_frame(k, troupe_FrameKind_FRAME_OPERATOR_REPLY, p + 4, flen);
    at += 4 + flen;
  }
  memmove(k->rbuf, k->rbuf + at, k->rlen - at);
  k->rlen -= at;
  if (k->done) uv_read_stop(st);
}

static void pipe_on_written(uv_write_t *w, int status) {
  op_call *k = w->data;
  free(w);
  if (status < 0 && !k->done)
    op_call_fail(k, TR_OP_FAIL_CLOSED, "the node at %s closed the admin "
                 "connection (%s)", k->t->node, uv_strerror(status));
}

static void pipe_on_connect(uv_connect_t *c, int status) {
  op_call *k = c->data;
  if (status < 0) {
    op_call_fail(k, TR_OP_FAIL_UNREACHABLE, "no node answers on the admin "
                 "socket %s (%s)%s", k->t->node, uv_strerror(status),
                 status == UV_EACCES ? ": it is its owner's alone"
                 : status == UV_ENOENT || status == UV_ECONNREFUSED
                     ? ": is the node running? troupe run prints its admin "
                       "socket"
                     : "");
    return;
  }
  uv_write_t *w = malloc(sizeof(*w));
  uv_buf_t b = uv_buf_init((char *)k->wbuf, (unsigned)k->wlen);
  if (!w) {
    op_call_fail(k, TR_OP_FAIL_NOMEM, "out of memory");
    return;
  }
  w->data = k;
  if (uv_write(w, (uv_stream_t *)&k->pipe, &b, 1, pipe_on_written) != 0) {
    free(w);
    op_call_fail(k, TR_OP_FAIL_CLOSED, "cannot write to the admin socket %s",
                 k->t->node);
    return;
  }
  uv_read_start((uv_stream_t *)&k->pipe, pipe_alloc, pipe_on_read);
}

/* The request as one frame (a 4-byte big-endian length first). */
static int frame_request(op_call *k, const troupe_OpRequest *req) {
  size_t len;
  if (!pb_get_encoded_size(&len, troupe_OpRequest_fields, req) ||
      len > ((size_t)32 << 20))
    return TR_ETOOBIG;
  if (!(k->wbuf = malloc(4 + len))) return TR_ENOMEM;
  op_frame_put_len(k->wbuf, len);
  pb_ostream_t out = pb_ostream_from_buffer(k->wbuf + 4, len);
  if (!pb_encode(&out, troupe_OpRequest_fields, req)) return TR_EINVAL;
  k->wlen = 4 + len;
  return 0;
}

/* The deadline (not started) and, when asked, the signals: on k's loop. */
static void call_timers(op_call *k) {
  uv_timer_init(&k->loop, &k->deadline);
  k->deadline.data = k;
  if (k->t->stop_on_signals) {
    uv_signal_init(&k->loop, &k->sigint);
    uv_signal_init(&k->loop, &k->sigterm);
    k->sigint.data = k->sigterm.data = k;
    uv_signal_start(&k->sigint, on_signal, SIGINT);
    uv_signal_start(&k->sigterm, on_signal, SIGTERM);
  }
}

/* op_call_run through the admin socket at path: no certificate. */
static int admin_run(op_call *k, troupe_OpRequest *req, const void *data,
                     size_t len, const char *path) {
  snprintf(k->name, sizeof(k->name), "admin");
  k->reply = malloc(sizeof(*k->reply));
  if (!k->reply || uv_loop_init(&k->loop) != 0) {
    op_call_fail(k, TR_OP_FAIL_NOMEM, "out of memory");
    return k->rc;
  }
  wire_slice d = {data, len};
  call_request(k, req, &d);
  int rc = frame_request(k, req);
  call_timers(k);
  uv_timer_start(&k->deadline, on_deadline, k->timeout_ms, 0);
  if (rc != 0) {
    op_call_fail(k, rc == TR_ENOMEM ? TR_OP_FAIL_NOMEM : TR_OP_FAIL_CONFIG,
                 "cannot encode the request: %s", tr_strerror(rc));
  } else {
    uv_pipe_init(&k->loop, &k->pipe, 0);
    k->pipe.data = k->connect.data = k;
    k->piped = true;
    uv_pipe_connect(&k->connect, &k->pipe, path, pipe_on_connect);
    while (!k->done) uv_run(&k->loop, UV_RUN_ONCE);
  }
  if (k->piped) uv_close((uv_handle_t *)&k->pipe, NULL);
  call_close(k);
  free(k->rbuf);
  free(k->wbuf);
  k->rbuf = k->wbuf = NULL;
  return k->rc;
}

/* The call's outcome into *err (may be NULL); its code. */
static int call_end(op_call *k, tr_op_error *err) {
  free(k->reply);
  k->reply = NULL;
  if (err) {
    err->reason = k->why;
    snprintf(err->detail, sizeof(err->detail), "%s", k->detail);
  }
  return k->rc;
}

int op_call_run(op_call *k, troupe_OpRequest *req, const void *data,
                size_t len, tr_op_error *err) {
  const tr_op_target *t = k->t;
  const char *path = socket_path(t->node);
  if (path) {
    k->timeout_ms = t->timeout_ms ? t->timeout_ms : 5000;
    admin_run(k, req, data, len, path);
    return call_end(k, err);
  }
  tls_config *tls = NULL;
  k->reply = NULL;
  k->timeout_ms = t->timeout_ms ? t->timeout_ms : 5000;
  k->handshake_ms = k->timeout_ms < 5000 ? k->timeout_ms : 5000;
  if (!t->node || !t->node[0] || !t->ca_file || !t->cert_file ||
      !t->key_file) {
    op_call_fail(k, TR_OP_FAIL_CONFIG, "the target needs a node address, a "
                 "CA, a certificate and a key");
    goto out;
  }
  if (call_name(k) != 0) goto out;
  k->reply = malloc(sizeof(*k->reply));
  if (!k->reply) {
    op_call_fail(k, TR_OP_FAIL_NOMEM, "out of memory");
    goto out;
  }
  char why[256] = "";
  tls_config_opts to = {.ca_file = t->ca_file, .cert_file = t->cert_file,
                        .key_file = t->key_file};
  if (tls_config_new(&tls, &to, why, sizeof(why)) != 0) {
    op_call_fail(k, TR_OP_FAIL_CONFIG, "%s", why[0] ? why
                 : "cannot load the TLS files");
    goto out;
  }
  if (uv_loop_init(&k->loop) != 0) {
    op_call_fail(k, TR_OP_FAIL_NOMEM, "cannot create an event loop");
    goto out;
  }
  call_timers(k);
  link_config lc = {.loop = &k->loop,
                    .tls = tls,
                    .node_name = k->name,
                    .incarnation = ((uint64_t)time(NULL) << 20) ^
                                   (uint64_t)getpid(),
                    .handshake_timeout_ms = k->handshake_ms,
                    .ops = {.on_frame = on_frame,
                            .on_state = on_state,
                            .on_freed = on_freed,
                            .on_seed_failed = on_seed_failed},
                    .user = k,
                    .log = t->log,
                    .log_user = t->log_user,
                    .log_level = t->log ? t->log_level : TR_LOG_ERROR};
  int rc = link_mgr_new(&k->mgr, &lc);
  if (rc != 0) {
    op_call_fail(k, rc == TR_ENOMEM ? TR_OP_FAIL_NOMEM : TR_OP_FAIL_CONFIG,
                 "cannot create the link manager: %s", tr_strerror(rc));
  } else {
    wire_slice d = {data, len}; /* encoded by link_send_seed */
    call_request(k, req, &d);
    uv_timer_start(&k->deadline, on_deadline, k->timeout_ms, 0);
    rc = link_send_seed(k->mgr, t->node, troupe_FrameKind_FRAME_OPERATOR, req,
                        troupe_OpRequest_fields);
    if (rc == TR_EINVAL)
      op_call_fail(k, TR_OP_FAIL_CONFIG, "bad node address '%s' (want "
                   "host:port)", t->node);
    else if (rc != 0)
      op_call_fail(k, TR_OP_FAIL_UNREACHABLE, "cannot connect to %s: %s",
                   t->node, tr_strerror(rc));
    while (!k->done) uv_run(&k->loop, UV_RUN_ONCE);
  }
  call_close(k);
  if (!k->mgr || k->freed) tls_config_free(tls);
  tls = NULL;
out:
  tls_config_free(tls);
  return call_end(k, err);
}
