/* conn.h — one TCP connection: dialing (DNS included) or accepting, the TLS
 * pump, the frame reader and the handshake timer. The leaf of transport/link:
 * it knows no link, seed or manager table, and reports to whoever owns it
 * through the conn_ops it was handed.
 *
 * Design notes. A connection changes owner as it goes: a seed attempt or
 * the acceptor holds it until the peer's hello names the node, then that
 * node's link does (conn_set_owner). Reads are handed up once per socket
 * read (on_readable), and the owner pulls the frames with conn_next_frame,
 * so no indirect call is made per frame. Writes go the other way: the owner
 * encrypts plaintext with conn_write_plain and sends it with conn_flush_out,
 * both direct calls. A closed connection calls nobody again; its memory
 * goes when its handles have closed. */
#ifndef TR_LINK_CONN_H
#define TR_LINK_CONN_H

#include <stdbool.h>

#include "link.h"

typedef struct link_conn link_conn;

#define CONN_RECORD_MAX 16384u /* plaintext of one TLS record */

typedef enum {
  CONN_RESOLVING,
  CONN_CONNECTING,
  CONN_TLS,
  CONN_HELLO,
  CONN_UP,
  CONN_CLOSED
} conn_state;

/* What the connections of one manager share. The manager embeds it, keeps
 * cfg and reads_paused current and walks conns; each connection adds itself
 * to conns when made and removes itself when freed. */
typedef struct conn_env {
  link_mgr *mgr;          /* for the services of mgr_svc.h (log, release) */
  const link_config *cfg; /* loop, tls, max_frame, handshake_timeout_ms */
  link_mgr_stats *st;     /* closes and TLS failures are counted here */
  link_conn *conns;       /* every connection until it is freed */
  bool reads_paused;      /* connections that are up do not read */
  uint32_t npending;      /* accepted connections before their hello */
  /* Against cfg->memory_budget: the read buffers of every connection, and
   * what the links above add for their queues. */
  size_t mem_used;
} conn_env;

/* How a connection ended, for its owner's on_closed. */
typedef struct conn_end {
  link_close_reason reason;
  conn_state stage;     /* the state it was in when it closed */
  int uv_error;         /* the libuv error that ended it, else 0 */
  tls_fail tls;         /* what TLS (or the hello) refused, TLS_FAIL_TIMEOUT
                           for a handshake cut short, else TLS_FAIL_NONE */
  const char *detail;   /* the detail logged with that refusal, or "" */
  link_refused_by refused_by;
} conn_end;

/* Called with the owner pointer given to conn_set_owner. A connection
 * without an owner (ops NULL) tells nobody. */
typedef struct conn_ops {
  /* A dialer's TCP connection is up: the TLS session to offer, or NULL
   * (the owner keeps it; it may be freed after this returns). Optional. */
  const tls_session *(*tls_resume)(void *owner);
  /* TLS is done (CONN_HELLO); a dialer sends its hello now. Optional. */
  void (*on_tls_done)(void *owner, link_conn *);
  /* Plaintext arrived: take frames with conn_next_frame until it returns 0
   * or fails, or hand the connection on with conn_set_owner (the new owner
   * is then called in turn for what is left). */
  void (*on_readable)(void *owner, link_conn *);
  /* The connection closed (once; not for closes the owner asked for after
   * disowning it). end and what it points to live during the call. */
  void (*on_closed)(void *owner, link_conn *, const conn_end *end);
} conn_ops;

struct link_conn {
  conn_env *env;
  const conn_ops *ops;
  void *owner;
  link_stats *io; /* bytes and writes are counted here, if set */
  bool dialer;
  conn_state st;
  /* Set: every close but a local one is recorded with this reason. */
  link_close_reason close_as;
  int uv_error; /* see conn_end */
  int refs;     /* open handles and requests; freed at 0 */
  bool tcp_open;
  uv_tcp_t tcp;
  uv_connect_t connect_req;
  uv_getaddrinfo_t gai_req;
  uv_timer_t hs_timer;
  tls_conn *tls;
  wire_reader rd;
  size_t rd_counted; /* rd's capacity as counted in env->mem_used */
  uint8_t *rbuf;     /* the socket's read buffer, made on demand */
  size_t rcap;
  bool pending;      /* accepted, counted in env->npending until up */
  /* A node's link that is up: its read buffer is counted but never closes
   * it for the memory budget (see link_config.memory_budget). */
  bool budget_exempt;
  uint64_t last_rx_ms; /* when the last whole frame arrived (loop time) */
  char *peer, *addr;      /* for log lines; NULL shows as "?" */
  link_conn *next, *prev; /* env->conns */
};

/* A new connection, owned by (ops, owner) from the start; the handshake
 * timer runs from now. A dialer then needs conn_dial; an acceptor
 * conn_accept. NULL on ENOMEM. */
link_conn *conn_new(conn_env *, bool dialer, const conn_ops *ops,
                    void *owner);
/* Resolves and connects addr ("host:port", "[v6]:port"). On failure c is
 * closed (its owner told) and TR_EINVAL or TR_ESYS returned. */
int conn_dial(link_conn *, const char *addr);
/* Accepts the listener's pending connection into c and starts TLS; on
 * failure c is closed. */
void conn_accept(link_conn *, uv_stream_t *listener);
/* 0 if addr splits as "host:port" / "[v6]:port", else TR_EINVAL. */
int conn_check_addr(const char *addr);

void conn_set_owner(link_conn *, const conn_ops *ops, void *owner);
/* Copies the names log lines show for c; NULL leaves one as it is. */
void conn_set_names(link_conn *, const char *peer, const char *addr);
/* See close_as: a connection to ourselves ends that way, however. */
void conn_close_as(link_conn *, link_close_reason);
/* The hello exchange is done: stops the handshake timer, frames up to
 * max_frame are read (64 KiB before), and reads pause with the manager's
 * from now on. */
void conn_set_up(link_conn *);
/* Closes the oldest accepted connection still before its hello
 * (LINK_CLOSE_LIMIT), for a new one at max_pending_conns; false if none. */
bool conn_close_oldest_pending(conn_env *);
/* Stops or resumes reading a connection that is up; one still in its
 * handshake or hello ignores it (those always read). */
void conn_pause_reads(link_conn *, bool pause);

/* The next frame received: 1 and *f (valid until the next call); 0 when
 * nothing complete is left; TR_ECLOSED when c is closed, by this call too
 * (a bad frame, a TLS error, the peer's close). */
int conn_next_frame(link_conn *, wire_frame *f);

/* Encrypts plaintext into c's pending output (batched by the caller). */
int conn_write_plain(link_conn *, const uint8_t *data, size_t len);
/* Writes the pending output to the socket. */
int conn_flush_out(link_conn *);
/* Bytes handed to the socket and not yet written. */
static inline size_t conn_write_backlog(link_conn *c) {
  return uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
}

/* Closes c: the owner's on_closed runs before this returns; the memory
 * goes once the handles have closed. No-op when already closed. */
void conn_close(link_conn *, link_close_reason);
/* Closes c because this side refused the peer after TLS (its hello): why
 * and detail reach on_closed as our refusal. */
void conn_refuse(link_conn *, link_close_reason, tls_fail why,
                 const char *detail);
/* Closes c because the peer refused us after TLS and said why (detail). */
void conn_refused_by_peer(link_conn *, link_close_reason,
                          const char *detail);

#endif /* TR_LINK_CONN_H */
