/* host_tls_serve.c — TLS server connections on the node's own certificate
 * for a program's own protocol (tr_tls_conn, troupe_inspect.h; the
 * daemon's inspector over HTTPS): the TLS layer's tls_conn with the
 * cluster's configuration of the moment, and the peer refused once a
 * reload's revocation list names it. */
#include <stdlib.h>

#include "host.h"

struct tr_tls_conn {
  cluster *c;
  tls_conn *tls;
  tls_config *cfg; /* the one it was made with (c->tls then) */
  bool revoked;    /* by a revocation list loaded since */
};

int cluster_tls_accept(cluster *c, tr_tls_conn **out) {
  *out = NULL;
  tr_tls_conn *t = calloc(1, sizeof(*t));
  if (!t) return TR_ENOMEM;
  int rc = tls_conn_new(&t->tls, c->tls, TLS_SERVER, NULL);
  if (rc != 0) {
    free(t);
    return rc;
  }
  t->c = c;
  t->cfg = c->tls;
  *out = t;
  return 0;
}

void tr_tls_conn_free(tr_tls_conn *t) {
  if (!t) return;
  tls_conn_free(t->tls);
  free(t);
}

/* A reload (cluster_reload_tls) replaces c->tls: the connections made
 * before it are judged by its list too, as the links are. */
static bool revoked_since(tr_tls_conn *t) {
  if (!t->revoked && t->c->tls != t->cfg &&
      tls_conn_peer_revoked(t->tls, t->c->tls))
    t->revoked = true;
  return t->revoked;
}

int tr_tls_conn_feed(tr_tls_conn *t, const void *data, size_t len) {
  return t ? tls_conn_feed(t->tls, data, len) : TR_EINVAL;
}

int tr_tls_conn_handshake(tr_tls_conn *t) {
  return t ? tls_conn_handshake(t->tls) : TR_EINVAL;
}

int tr_tls_conn_read(tr_tls_conn *t, void *buf, size_t cap) {
  if (!t) return TR_EINVAL;
  return revoked_since(t) ? TR_ETLS : tls_conn_read(t->tls, buf, cap);
}

int tr_tls_conn_write(tr_tls_conn *t, const void *data, size_t len) {
  if (!t) return TR_EINVAL;
  return revoked_since(t) ? TR_ETLS : tls_conn_write(t->tls, data, len);
}

int tr_tls_conn_close_notify(tr_tls_conn *t) {
  return t ? tls_conn_close_notify(t->tls) : TR_EINVAL;
}

int tr_tls_conn_take_out(tr_tls_conn *t, void **buf, size_t *len) {
  if (!buf || !len) return TR_EINVAL;
  *buf = NULL;
  *len = 0;
  if (!t) return TR_EINVAL;
  uint8_t *out = NULL;
  int rc = tls_conn_take_out(t->tls, &out, len);
  *buf = out;
  return rc;
}

tr_tls_peer_role tr_tls_conn_peer_role(tr_tls_conn *t) {
  switch (t ? tls_conn_peer_role(t->tls) : TLS_PEER_NONE) {
  case TLS_PEER_NODE: return TR_TLS_PEER_NODE;
  case TLS_PEER_OPERATOR: return TR_TLS_PEER_OPERATOR;
  case TLS_PEER_VIEWER: return TR_TLS_PEER_VIEWER;
  default: return TR_TLS_PEER_NONE;
  }
}

const char *tr_tls_conn_peer_name(tr_tls_conn *t) {
  return t ? tls_conn_peer_cn(t->tls) : "";
}

const char *tr_tls_conn_fail_reason(tr_tls_conn *t) {
  if (!t) return "none";
  if (t->revoked) return tls_fail_name(TLS_FAIL_REVOKED);
  return tls_fail_name(tls_conn_fail_reason(t->tls));
}

const char *tr_tls_conn_fail_detail(tr_tls_conn *t) {
  if (!t) return "";
  if (t->revoked) return "revoked by the revocation list reloaded since";
  return tls_conn_fail_detail(t->tls);
}
