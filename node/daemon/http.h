/* http.h — the daemon's observability endpoint: a tiny HTTP/1.1 server on
 * the node's loop answering GET /metrics (metrics.h), /healthz and /readyz.
 * One request per connection (Connection: close); requests, connections and
 * idle time are bounded, so a scraper gone wrong cannot hurt the node.
 * Optionally HTTPS with client certificates of the cluster CA (the
 * inspector beyond loopback). */
#ifndef TR_DAEMON_HTTP_H
#define TR_DAEMON_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "troupe.h"

typedef struct http_server http_server;
typedef struct http_conn http_conn;

/* A request to a route: GET, or POST (routes only) with its body (at
 * most max_request bytes with the head; more: 413); path, query (without
 * the '?'), the Authorization header's value, none NUL-terminated, valid
 * during the route call. Over TLS (http_opts.tls), client is the client
 * certificate's name (NUL-terminated; only an operator's or a viewer's
 * reaches a route) and client_operator whether it is an operator's; over
 * plain HTTP client is NULL. */
typedef struct http_request {
  const char *path, *query, *auth, *body;
  size_t path_len, query_len, auth_len, body_len;
  bool post;
  const char *client;
  bool client_operator;
} http_request;

/* Answers a path the server does not (/metrics, /healthz, /readyz): true
 * when it took the request, which it then answers with http_reply or
 * http_stream_start, now or later; false: 404. */
typedef bool (*http_route_fn)(void *user, http_conn *, const http_request *);

#define HTTP_DEFAULT_ADDR "127.0.0.1:9464"

typedef struct http_opts {
  /* "host:port", IPv4 or "[v6]:port"; port 0 picks a free one (see
   * http_port). NULL: HTTP_DEFAULT_ADDR, loopback only: exposing the
   * endpoint beyond the host is a deliberate choice ("0.0.0.0:9464"). */
  const char *addr;
  /* /readyz: 200 while ready(ready_arg) is true, else 503. NULL ready:
   * tr_node_ready (a local node or a cluster node without seeds at once, a
   * seeded one once it has joined). Called on the loop thread for each
   * /readyz request. */
  bool (*ready)(void *ready_arg);
  void *ready_arg;
  /* Open connections [64]. At the cap a new one closes the oldest still
   * reading its request (a slow or silent client), so a probe is answered
   * whoever holds connections; no client address holds more than
   * max_per_client [16] (more are closed at once). */
  uint32_t max_conns;
  uint32_t max_per_client;
  uint32_t max_request; /* bytes of request line + headers; more: 431 [8192] */
  uint32_t timeout_ms;  /* a connection not done by then is closed [5000] */
  /* Other paths (the inspector's); NULL: 404. */
  http_route_fn route;
  void *route_user;
  /* Where the caps and the TLS refusals log (at most a line per 10 s
   * each); NULL: nowhere. */
  tr_log_fn log;
  void *log_user;
  /* HTTPS only: each connection is a TLS server connection on the node's
   * certificate (tr_node_tls_accept: a cluster node's, reloads included),
   * and the client must show a certificate of the cluster CA. One that
   * has none, or one the CA did not sign, or expired or revoked, fails the
   * handshake (closed, counted tls_failed); a CA's certificate of another
   * role than operator or viewer (a node's) is answered 403 whatever it
   * asks (tls_forbidden). The handshake is bounded by timeout_ms and by
   * what it may send. Answers carry Strict-Transport-Security. A local
   * node: http_start fails (TR_ESTATE). */
  bool tls;
} http_opts;

/* Starts listening on node's loop (tr_node_loop). opts may be NULL (all
 * defaults). On success *out owns the listener and its connections; free
 * it with http_stop. On failure *out is NULL, a one-line reason is written
 * to err (errlen bytes, may be 0) and the result is TR_EINVAL (bad
 * address), TR_ESTATE (tls on a local node), TR_ESYS (the address cannot
 * be bound or listened on) or TR_ENOMEM. Loop thread (before tr_node_run,
 * or from a callback on it). */
int http_start(http_server **out, tr_node *node, const http_opts *opts,
               char *err, size_t errlen);

/* The port the server listens on (useful after port 0). */
int http_port(const http_server *);

/* Closes the listener and every connection (their TLS state goes at
 * once); the memory goes once their close callbacks have run, at the
 * loop's next turn (tr_node_run, or the loop drain in tr_node_free). Call
 * it before tr_node_free: a node that owns its loop runs it until no
 * handle is left. Loop thread. NULL is a no-op. */
void http_stop(http_server *);

/* The answer to a request a route took: status, content type and body
 * (owned: malloc'd, freed by the server; else it outlives the write). A
 * connection gone meanwhile (see http_conn_set_owner) is not answered.
 * Every answer carries the security headers (no framing, no sniffing, a
 * content security policy of the server's own origin, no referrer; over
 * TLS, Strict-Transport-Security). */
void http_reply(http_conn *, int status, const char *type, char *body,
                size_t len, bool owned);
/* gone(owner) runs once when the connection closes (the client left, its
 * time ran out, or http_stop): after it, c must not be used. */
void http_conn_set_owner(http_conn *, void (*gone)(void *owner),
                         void *owner);
/* Answers 200 with content type `type` and no length: the connection
 * stays open, without the time limit, for http_stream_write until either
 * side closes. 0, or TR_ESTATE (already answered). */
int http_stream_start(http_conn *, const char *type);
/* Writes data (copied) to a stream. TR_ECLOSED (gone); TR_ENOMEM or
 * TR_EFULL (over 1 MiB waits unread: logged http_cap
 * reason=stream_not_read), and the connection is closed. */
int http_stream_write(http_conn *, const char *data, size_t len);

/* Counters, for tests and logs. */
typedef struct http_stats {
  uint64_t requests;  /* complete requests answered (any status) */
  uint64_t refused;   /* connections closed at accept: max_per_client from
                         that address, or max_conns all past their request */
  uint64_t evicted;   /* connections still reading closed for a new one */
  uint64_t too_large; /* requests answered 431 */
  uint64_t timed_out; /* connections closed by timeout_ms */
  uint64_t tls_failed;    /* TLS: handshakes failed (no certificate, not
                             the CA's, expired, revoked, not TLS, stalled)
                             or connections whose TLS broke later */
  uint64_t tls_forbidden; /* TLS: a CA certificate of another role (403) */
  uint32_t conns;     /* open now */
} http_stats;

void http_stats_get(const http_server *, http_stats *out);

#endif /* TR_DAEMON_HTTP_H */
