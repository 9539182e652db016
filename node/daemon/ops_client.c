/* ops_client.c — one operator request over a link of its own: a private
 * loop, a link manager that never listens, the request sent as a seed frame
 * (the node's name is learned from its certificate), and the loop run until
 * the answer, a failure or the deadline. Why a connection failed is read
 * from the link's own log lines, so the message can say "down" or
 * "refused" rather than only "failed". */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include "link.h"
#include "ops_client.h"
#include "tls.h"

typedef struct ops_call {
  const ops_target *t;
  ops_reply_fn fn;
  void *user;
  uint64_t id;
  const char *name;
  uv_loop_t loop;
  uv_timer_t deadline;
  uv_signal_t sigint, sigterm;
  link_mgr *mgr;
  bool done, freed, answered, streaming;
  int rc;
  char *err;
  size_t errlen;
  /* What the link's log said about the attempt, for the message. */
  char dial_error[128];
  char refused[64], refused_detail[160];
  bool refused_by_us; /* we refused the node's certificate */
} ops_call;

static void call_fail(ops_call *k, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void call_fail(ops_call *k, int rc, const char *fmt, ...) {
  if (k->done) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(k->err, k->errlen, fmt, ap);
  va_end(ap);
  k->rc = rc;
  k->done = true;
}

/* The value of key in "k1=v1 k2=\"v 2\" ...", or "" when absent; the last
 * field's value runs to the end (uv_strerror text has spaces). */
static void field_get(const char *fields, const char *key, char *out,
                      size_t cap) {
  size_t klen = strlen(key);
  out[0] = '\0';
  for (const char *p = fields; p && *p;) {
    if ((p == fields || p[-1] == ' ') && strncmp(p, key, klen) == 0 &&
        p[klen] == '=') {
      const char *v = p + klen + 1, *end;
      if (*v == '"') {
        v++;
        end = strchr(v, '"');
      } else {
        end = strchr(v, ' ');
        if (end && !strchr(end, '=')) end = NULL;
      }
      size_t n = end ? (size_t)(end - v) : strlen(v);
      if (n >= cap) n = cap - 1;
      memcpy(out, v, n);
      out[n] = '\0';
      return;
    }
    p = strchr(p, ' ');
    if (p) p++;
  }
}

static const char *level_name(tr_log_level l) {
  return l == TR_LOG_ERROR ? "error"
         : l == TR_LOG_WARN ? "warn"
         : l == TR_LOG_INFO ? "info"
                            : "debug";
}

/* Failures of the attempt arrive as log lines (seed_dropped ends it). */
static void on_log(void *user, tr_log_level level, const char *event,
                   const char *fields) {
  ops_call *k = user;
  if (k->t->verbose)
    fprintf(stderr, "troupe: link %s %s %s\n", level_name(level), event,
            fields);
  if (level == TR_LOG_DEBUG && strcmp(event, "seed_dropped") != 0) return;
  if (strcmp(event, "dial_failed") == 0 ||
      strcmp(event, "resolve_failed") == 0) {
    field_get(fields, "error", k->dial_error, sizeof(k->dial_error));
  } else if (strcmp(event, "peer_refused") == 0) {
    field_get(fields, "reason", k->refused, sizeof(k->refused));
    field_get(fields, "detail", k->refused_detail, sizeof(k->refused_detail));
    /* A protocol failure is mostly the node's alert about our certificate;
     * the other reasons are our verdict on the node's. */
    k->refused_by_us = strcmp(k->refused, "protocol") != 0 &&
                       strcmp(k->refused, "not_tls") != 0;
    if (strcmp(k->refused, "name_mismatch") == 0)
      snprintf(k->refused_detail, sizeof(k->refused_detail),
               "its hello names a node its certificate does not");
  } else if (strcmp(event, "seed_dropped") == 0 && !k->answered) {
    char reason[32];
    const char *addr = k->t->node;
    field_get(fields, "reason", reason, sizeof(reason));
    if (k->dial_error[0])
      call_fail(k, TR_EUNREACHABLE,
                "the node at %s is down or unreachable (%s)", addr,
                k->dial_error);
    else if (k->refused[0] && k->refused_by_us)
      call_fail(k, TR_ETLS,
                "refused the certificate of the node at %s: %s (%s); is "
                "--ca the cluster CA?",
                addr, k->refused, k->refused_detail);
    else if (k->refused[0])
      call_fail(k, TR_ETLS,
                "the node at %s refused the client certificate (%s: %s); "
                "is it from the cluster CA and still valid?",
                addr, k->refused, k->refused_detail);
    else if (strcmp(reason, "timeout") == 0)
      call_fail(k, TR_ETIMEDOUT,
                "no TLS handshake with the node at %s within %u ms", addr,
                k->t->timeout_ms);
    else if (strcmp(reason, "self") == 0)
      call_fail(k, TR_EINVAL,
                "the node at %s has this client's name (%s): use a client "
                "certificate (troupe cert client NAME)",
                addr, k->name);
    else
      call_fail(k, TR_ETLS,
                "the node at %s closed the connection during the handshake "
                "(%s): it refused the client certificate or its name",
                addr, reason);
  }
}

static bool decode_bytes(pb_istream_t *s, const pb_field_t *f, void **arg) {
  (void)f;
  wire_slice *sl = *arg;
  sl->p = s->state;
  sl->len = s->bytes_left;
  return pb_read(s, NULL, s->bytes_left);
}

static bool encode_bytes(pb_ostream_t *s, const pb_field_t *f,
                         void *const *arg) {
  const wire_slice *d = *arg;
  return pb_encode_tag_for_field(s, f) && pb_encode_string(s, d->p, d->len);
}

static void on_frame(void *user, peer_link *lk, troupe_FrameKind kind,
                     const uint8_t *body, size_t len) {
  ops_call *k = user;
  if (k->done) return;
  if (kind != troupe_FrameKind_FRAME_OPERATOR_REPLY) {
    call_fail(k, TR_ECLOSED, "the node at %s sent a frame of kind %d, not "
              "an operator reply", k->t->node, (int)kind);
    return;
  }
  troupe_OpReply r = troupe_OpReply_init_zero;
  wire_slice b = {0};
  r.body.funcs.decode = decode_bytes;
  r.body.arg = &b;
  pb_istream_t in = pb_istream_from_buffer(body, len);
  bool ok = pb_decode(&in, troupe_OpReply_fields, &r);
  /* A bytes field sent with another wire type lands on nanopb's stack. */
  if (ok && b.p && (b.p < body || b.len > len || b.p > body + len - b.len))
    ok = false;
  if (!ok) {
    call_fail(k, TR_ECLOSED, "the node at %s sent a malformed reply",
              k->t->node);
    return;
  }
  if (r.id != k->id) return; /* not ours */
  k->answered = true;
  ops_reply rep = {.status = r.status,
                   .body = b.p,
                   .len = b.len,
                   .more = r.more,
                   .from = r.has_from ? r.from : "",
                   .node = r.has_node ? r.node : ""};
  if (r.more && r.status == 0 && !k->streaming) {
    k->streaming = true; /* a stream has no deadline once it has begun */
    uv_timer_stop(&k->deadline);
  }
  bool more = k->fn(k->user, &rep) && r.more && r.status == 0;
  if (!more) {
    k->rc = 0;
    k->done = true;
  }
}

static void on_state(void *user, peer_link *lk, link_state st) {
  ops_call *k = user;
  if (st == LINK_DOWN && !k->done)
    call_fail(k, TR_ECLOSED, "the node at %s closed the connection%s",
              k->t->node,
              k->streaming
                  ? " (it stopped, or another session with this client's "
                    "name took the link over)"
                  : " before answering (it refused this client, or another "
                    "session with this client's name took the link over)");
}

static void on_freed(void *user) { ((ops_call *)user)->freed = true; }

static void on_deadline(uv_timer_t *t) {
  ops_call *k = t->data;
  call_fail(k, TR_ETIMEDOUT, "no answer from the node at %s within %u ms",
            k->t->node, k->t->timeout_ms);
}

static void on_signal(uv_signal_t *s, int signum) {
  ops_call *k = s->data;
  if (k->streaming) {
    k->rc = 0;
    k->done = true;
  } else {
    call_fail(k, TR_ECLOSED, "interrupted (signal %d) before the answer",
              signum);
  }
}

/* The certificate's subject CN: the name the node will check our hello
 * against. */
static int cert_cn(const char *file, char *out, size_t cap, char *err,
                   size_t errlen) {
  mbedtls_x509_crt crt;
  mbedtls_x509_crt_init(&crt);
  int rc = TR_EINVAL;
  int mrc = mbedtls_x509_crt_parse_file(&crt, file);
  if (mrc != 0) {
    snprintf(err, errlen, "cannot read certificate %s (mbedTLS -0x%04x)",
             file, (unsigned)-mrc);
    goto out;
  }
  /* Nodes refuse operator sessions from a node's certificate (it may serve,
   * so it could pass for that node): ask for a client one up front. */
  if (!(crt.ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE) ||
      mbedtls_x509_crt_check_extended_key_usage(
          &crt, MBEDTLS_OID_SERVER_AUTH,
          MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)) == 0) {
    snprintf(err, errlen, "%s is a node certificate; operators need a client "
             "one (troupe cert client NAME)", file);
    goto out;
  }
  for (const mbedtls_x509_name *n = &crt.subject; n; n = n->next) {
    if (n->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
      if (n->val.len == 0 || n->val.len >= cap) break;
      memcpy(out, n->val.p, n->val.len);
      out[n->val.len] = '\0';
      rc = 0;
      goto out;
    }
  }
  snprintf(err, errlen, "certificate %s has no usable CN; give --name",
           file);
out:
  mbedtls_x509_crt_free(&crt);
  return rc;
}

int ops_request(const ops_target *t, troupe_OpRequest *req, const void *data,
                size_t len, ops_reply_fn fn, void *user, char *err,
                size_t errlen) {
  ops_call k = {.t = t, .fn = fn, .user = user, .err = err, .errlen = errlen};
  char name[TR_ID_MAX + 1];
  tls_config *tls = NULL;
  bool loop_open = false;
  int rc;
  err[0] = '\0';
  if (t->name && t->name[0]) {
    snprintf(name, sizeof(name), "%s", t->name);
  } else if ((rc = cert_cn(t->cert, name, sizeof(name), err, errlen)) != 0) {
    return rc;
  }
  /* A session of its own ("CN#pid.rand"): the node accepts it from a
   * client-only certificate, and two sessions with one certificate (a
   * health check next to a `sub`) then never share a link. */
  if (!strchr(name, '#')) {
    size_t used = strlen(name);
    snprintf(name + used, sizeof(name) - used, "#%ld.%u", (long)getpid(),
             (unsigned)(uv_hrtime() & 0xffffu));
  }
  k.name = name;
  tls_config_opts to = {.ca_file = t->ca, .cert_file = t->cert,
                        .key_file = t->key};
  if ((rc = tls_config_new(&tls, &to, err, errlen)) != 0) {
    if (!err[0]) snprintf(err, errlen, "cannot load the TLS files");
    return TR_EINVAL;
  }
  if (uv_loop_init(&k.loop) != 0) {
    snprintf(err, errlen, "cannot create an event loop");
    rc = TR_ESYS;
    goto out;
  }
  loop_open = true;
  uv_timer_init(&k.loop, &k.deadline);
  k.deadline.data = &k;
  uv_signal_init(&k.loop, &k.sigint);
  uv_signal_init(&k.loop, &k.sigterm);
  k.sigint.data = k.sigterm.data = &k;
  uv_signal_start(&k.sigint, on_signal, SIGINT);
  uv_signal_start(&k.sigterm, on_signal, SIGTERM);

  uint32_t hs = t->timeout_ms < 5000 ? t->timeout_ms : 5000;
  link_config lc = {.loop = &k.loop,
                    .tls = tls,
                    .node_name = name,
                    .incarnation = ((uint64_t)time(NULL) << 20) ^
                                   (uint64_t)getpid(),
                    .handshake_timeout_ms = hs ? hs : 1,
                    .ops = {.on_frame = on_frame,
                            .on_state = on_state,
                            .on_freed = on_freed},
                    .user = &k,
                    .log = on_log,
                    .log_user = &k,
                    /* DEBUG: seed_dropped of a self connection. */
                    .log_level = TR_LOG_DEBUG};
  if ((rc = link_mgr_new(&k.mgr, &lc)) != 0) {
    snprintf(err, errlen, "cannot create the link manager: %s",
             tr_strerror(rc));
    goto out;
  }
  k.id = ((uint64_t)time(NULL) << 16) ^ (uint64_t)getpid();
  req->has_id = true;
  req->id = k.id;
  wire_slice d = {data, len};
  if (len) { /* encoded by link_send_seed, while d lives */
    req->data.funcs.encode = encode_bytes;
    req->data.arg = &d;
  }
  uv_timer_start(&k.deadline, on_deadline, t->timeout_ms, 0);
  rc = link_send_seed(k.mgr, t->node, troupe_FrameKind_FRAME_OPERATOR, req,
                      troupe_OpRequest_fields);
  if (rc != 0) {
    if (rc == TR_EINVAL)
      snprintf(err, errlen, "bad node address '%s' (want host:port)",
               t->node);
    else if (k.dial_error[0])
      snprintf(err, errlen, "the node at %s is down or unreachable (%s)",
               t->node, k.dial_error);
    else
      snprintf(err, errlen, "cannot send to %s: %s", t->node,
               tr_strerror(rc));
    goto out;
  }
  while (!k.done) uv_run(&k.loop, UV_RUN_ONCE);
  rc = k.rc;
out:
  if (loop_open) {
    uv_close((uv_handle_t *)&k.deadline, NULL);
    uv_close((uv_handle_t *)&k.sigint, NULL);
    uv_close((uv_handle_t *)&k.sigterm, NULL);
    if (k.mgr) {
      link_mgr_free(k.mgr);
      /* The manager's handles close within a few iterations. */
      for (int i = 0; i < 1000 && !k.freed; i++)
        uv_run(&k.loop, UV_RUN_NOWAIT);
    }
    uv_run(&k.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&k.loop) != 0 && t->verbose)
      fprintf(stderr, "troupe: event loop still busy at exit\n");
  }
  if (!k.mgr || k.freed) tls_config_free(tls);
  return rc;
}
