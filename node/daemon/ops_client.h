/* ops_client.h — one operator request to a node, as the troupe CLI makes
 * it: a TLS link to the node's port with a client certificate, without
 * joining the cluster; an OpRequest frame out, OpReply frames back. */
#ifndef TR_OPS_CLIENT_H
#define TR_OPS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

typedef struct ops_target {
  const char *node;      /* "host:port" of any node */
  const char *ca, *cert, *key; /* PEM files: cluster CA, client cert + key */
  const char *name;      /* the client's name; NULL: the certificate's CN */
  uint32_t timeout_ms;   /* connect + answer (sub: until the stream starts) */
  bool verbose;          /* link log lines to stderr */
} ops_target;

/* One OpReply; body, from and node point into the frame, valid during the
 * callback. */
typedef struct ops_reply {
  int status;
  const uint8_t *body;
  size_t len;
  bool more;
  const char *from, *node; /* "" when absent */
} ops_reply;

/* Return false to stop waiting (a stream the caller has had enough of). */
typedef bool (*ops_reply_fn)(void *user, const ops_reply *);

/* Sends req (its id is set here) with data as its data field, and calls fn
 * for each reply until one without `more`, a stop signal (SIGINT/SIGTERM:
 * only once a stream has begun it counts as success), or a failure.
 * Returns 0 when the replies came (whatever their status, which fn sees);
 * TR_EINVAL for a configuration problem (files, name: exit 2); otherwise
 * why no answer came: TR_EUNREACHABLE (the node is down), TR_ETLS (a
 * certificate was refused, either way), TR_ETIMEDOUT, TR_ECLOSED (the node
 * dropped the link). err gets a one-line explanation in every failure. */
int ops_request(const ops_target *, troupe_OpRequest *req, const void *data,
                size_t len, ops_reply_fn fn, void *user, char *err,
                size_t errlen);

#endif /* TR_OPS_CLIENT_H */
