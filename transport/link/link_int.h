/* link_int.h — internal structures of transport/link: the manager, the
 * logical link per peer and the connections that carry it. */
#ifndef TR_LINK_INT_H
#define TR_LINK_INT_H

#include "link.h"
#include "uthash.h"

#define LINK_CHUNK_SIZE 16384u /* one TLS record of plaintext */
#define LINK_READ_BUF 65536u
#define LINK_FLUSH_MAX (1u << 20) /* plaintext per link per flush */
#define LINK_CHUNK_CACHE 256u

/* Encoded envelope frames, in seq order; never mixed with control frames so
 * a chunk can be resent as it is. */
typedef struct link_chunk {
  struct link_chunk *next;
  uint64_t last_seq; /* seq of its last envelope */
  size_t len, cap;
  uint8_t data[];
} link_chunk;

/* Encoded control and cluster frames waiting for a connection. */
typedef struct link_frames {
  uint8_t *p;
  size_t len, cap;
  uint32_t n; /* frames in p */
} link_frames;

typedef struct link_conn link_conn;

typedef enum {
  CONN_RESOLVING,
  CONN_CONNECTING,
  CONN_TLS,
  CONN_HELLO,
  CONN_UP,
  CONN_CLOSED
} conn_state;

struct link_conn {
  link_mgr *mgr;
  peer_link *lk; /* acceptor: NULL until the peer's hello names it */
  bool dialer;
  conn_state st;
  int refs; /* open handles and requests; freed at 0 */
  bool tcp_open;
  uv_tcp_t tcp;
  uv_connect_t connect_req;
  uv_getaddrinfo_t gai_req;
  uv_timer_t hs_timer;
  tls_conn *tls;
  wire_reader rd;
  uint8_t *rbuf;
  link_conn *next, *prev; /* mgr->conns */

  /* A seed attempt (link_send_seed) until its hello hands it to a link:
   * seed_addr is set only then. It stays in mgr->conns like any other
   * connection; lk is the named peer's link if one existed when TLS showed
   * the peer's certificate, else NULL. See seed.c. */
  char *seed_addr;
  link_frames seed_frames;
  uint64_t seed_session; /* our session in its hello when lk is NULL */
  bool seed_self;        /* the certificate is ours: we dialed ourselves */
};

struct peer_link {
  UT_hash_handle hh; /* mgr->links, keyed by peer */
  link_mgr *mgr;
  char *peer;
  char *addr; /* NULL: the peer dials us */
  link_state state;
  link_conn *active;  /* the connection envelopes flow on */
  link_conn *dialing; /* our attempt in progress */
  bool ever_up, unreachable, closing;
  bool client_only; /* the peer's certificate is for clients only */
  int refs; /* open timer handles; freed at 0 once closing */

  /* Our stream to the peer. */
  uint64_t my_session;
  uint64_t send_seq;    /* last assigned */
  uint64_t written_seq; /* last handed to a connection */
  uint64_t acked_seq;   /* last acked by the peer */
  link_chunk *q_head, *q_tail; /* not yet written */
  link_chunk *r_head, *r_tail; /* written, not yet acked: resend buffer */
  size_t held_bytes;           /* chunk capacity in q and r */

  /* The peer's stream to us. */
  uint64_t peer_session;
  uint64_t recv_seq;
  bool recv_base_unknown; /* new stream: its first seq sets the base */
  bool ack_due;

  /* Control frames (acks, pings, pongs, cluster frames) for the next flush. */
  link_frames ctl;

  bool dirty;
  peer_link *dirty_next;

  uv_timer_t retry_timer, window_timer, ping_timer;
  uint32_t attempts;
  uint64_t ping_nonce;
  tls_session *tls_sess;
  link_stats st;
};

struct link_mgr {
  link_config cfg;
  char *name;
  uv_loop_t *loop;
  uv_tcp_t listener;
  bool listening;
  uv_prepare_t prepare;
  uv_check_t check;
  bool flush_active;
  peer_link *links;
  peer_link *dirty_head;
  link_conn *conns;
  link_chunk *free_chunks;
  uint32_t nfree_chunks;
  uint64_t rng;
  bool freeing;
  bool reads_paused; /* link_mgr_pause_reads */
  int open; /* handles, links and conns still closing */
  link_mgr_stats st;
};

/* mgr.c */
void mgr_log(link_mgr *, tr_log_level, const char *event, const char *fmt,
             ...) __attribute__((format(printf, 4, 5)));
uint64_t mgr_random(link_mgr *);
void mgr_mark_dirty(peer_link *);
link_chunk *mgr_chunk_get(link_mgr *, size_t min_cap);
void mgr_chunk_put(link_mgr *, link_chunk *);
void mgr_release(link_mgr *); /* one closing thing finished */

/* conn.c */
int conn_dial(peer_link *);
/* A dialing connection, for lk or (lk NULL) for a seed; conn_start_dial
 * then resolves and connects addr, or closes c and returns the error. */
link_conn *conn_new_dialer(link_mgr *, peer_link *lk);
int conn_start_dial(link_conn *, const char *addr);
/* 0 if addr splits as "host:port" / "[v6]:port", else TR_EINVAL. */
int conn_check_addr(const char *addr);
void conn_accept(link_mgr *);
void conn_close(link_conn *, link_close_reason);
/* Encrypts plaintext and writes it to the socket (batched by the caller). */
int conn_write_plain(link_conn *, const uint8_t *data, size_t len);
int conn_flush_out(link_conn *);

/* link.c */
peer_link *link_create(link_mgr *, const char *peer);
/* The peer's hello arrived on c; decides the tie-break and resumes. */
void link_conn_up(peer_link *, link_conn *, const troupe_Hello *);
/* c, which carried or was dialing for lk, has closed. */
void link_conn_gone(peer_link *, link_conn *);
/* An envelope frame arrived on the active connection. 0, or a close reason. */
link_close_reason link_on_envelope(peer_link *, const uint8_t *body, size_t len);
void link_on_ack(peer_link *, uint64_t seq);
void link_on_pong(peer_link *, const troupe_Pong *);
void link_on_ping(peer_link *, const troupe_Ping *);
void link_flush(peer_link *);
/* Our hello; lk NULL (a seed that names no link yet) leaves the stream
 * fields zero for the caller. */
void link_fill_hello(link_mgr *, peer_link *lk, troupe_Hello *);
uint64_t link_new_session(link_mgr *);
/* Encodes a frame into fs. TR_ETOOBIG over max_frame, TR_EFULL when fs
 * would exceed about 2 x max_frame, TR_ENOMEM. */
int link_frames_add(link_mgr *, link_frames *fs, troupe_FrameKind,
                    const void *msg, const pb_msgdesc_t *fields);
void link_frames_free(link_frames *);
int link_ctl_append(peer_link *, troupe_FrameKind, const void *msg,
                    const pb_msgdesc_t *fields);
/* Moves every frame of fs to the end of the link's control frames (fs is
 * emptied and freed even on failure). 0 or TR_ENOMEM. */
int link_ctl_take(peer_link *, link_frames *fs);
void link_free_now(peer_link *, bool report);

/* seed.c: the steps of a seed attempt, called by conn.c. */
/* TLS is done: tells a seed that reached this node itself, or binds it to
 * the link of the node its certificate names, if there is one. */
void seed_on_tls(link_conn *);
/* The hello was checked (version, the certificate names it, not us). */
void seed_on_hello(link_conn *, const troupe_Hello *);
/* The seed is closing before its hello handed it over: count and drop. */
void seed_on_close(link_conn *, link_close_reason);

#endif /* TR_LINK_INT_H */
