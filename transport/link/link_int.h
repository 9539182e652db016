/* link_int.h — internal to transport/link: the manager, the logical link
 * per peer, and the functions its files call across.
 *
 * Who calls whom by name. The arrows go one way, down; anything going up
 * is a callback handed down: conn_ops from link.c, seed.c and accept.c to
 * their connections, link_ops from the node to link.c, stream.c, seed.c.
 *
 *   mgr.c               the manager: listener, flush, pause, link_close
 *     |      \
 *   accept.c  seed.c    hold a connection until its hello names the peer
 *     |      /
 *   link.c              the link to one peer: its connections, tie-break,
 *     |      \          redial, resume window
 *   stream.c  hello.c   its two streams (seqs, acks, resend, the flush);
 *     |      /          the hello that opens every connection
 *   conn.c              socket, TLS, frames (the leaf; conn.h)
 *
 * A file may skip layers downward (mgr.c flushes links and closes
 * connections, seed.c hands its frames to a link's stream). Any file may
 * call the manager's services (mgr_svc.h: logging, the chunk pool, the
 * flush list), the enum names (names.c) and the frame buffers (frames.c);
 * none of them calls back. conn.c sees nothing of this header: the build
 * refuses it (see CMakeLists.txt). */
#ifndef TR_LINK_INT_H
#define TR_LINK_INT_H

#ifdef TR_LINK_LEAF
#error "conn.c is the leaf of transport/link: link.h, conn.h, mgr_svc.h only"
#endif

#include "conn.h"
#include "link.h"
#include "mgr_svc.h"
#include "ratelog.h"
#include "uthash.h"

#define LINK_CHUNK_SIZE CONN_RECORD_MAX /* one TLS record of plaintext */
#define LINK_FLUSH_MAX (1u << 20) /* plaintext per link per flush */
/* link_send writes at once every this many envelopes when that many are
 * unwritten (a power of two). */
#define LINK_FLUSH_FRAMES 4096u
#define LINK_CHUNK_CACHE 256u

/* Encoded envelope frames, in seq order; never mixed with control frames so
 * a chunk can be resent as it is. */
struct link_chunk {
  struct link_chunk *next;
  uint64_t last_seq; /* seq of its last envelope */
  size_t len, cap;
  uint8_t data[];
};

/* Encoded control and cluster frames waiting for a connection. */
typedef struct link_frames {
  uint8_t *p;
  size_t len, cap;
  uint32_t n; /* frames in p */
} link_frames;

typedef struct link_seed link_seed;

struct peer_link {
  UT_hash_handle hh; /* mgr->links, keyed by peer */
  link_mgr *mgr;
  char *peer;
  char *addr; /* NULL: the peer dials us */
  link_state state;
  link_conn *active;  /* the connection envelopes flow on */
  link_conn *dialing; /* our attempt in progress (it holds a dial slot) */
  peer_link *dial_next; /* in mgr->dial_wait, while dial_waiting */
  bool dial_waiting;
  bool ever_up, unreachable, closing;
  tls_peer_role role; /* what the peer's certificate is for */
  uint32_t features;  /* WIRE_FEATURE_* of the peer's last hello */
  bool refused_full;  /* a send met the queue bounds: on_room when drained */
  bool features_known; /* it has been up once */
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
  uint64_t ping_at;  /* loop ms of our last ping */
  bool pong_queued;  /* the next flush answers a ping */
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
  conn_env env;      /* every connection, and whether reads are paused */
  link_seed *seeds;  /* seed attempts in progress (seed.c) */
  link_chunk *free_chunks;
  uint32_t nfree_chunks;
  uint64_t rng;
  bool freeing;
  int open; /* handles, links and conns still closing */
  link_mgr_stats st;
  uint32_t nop_up;     /* operator and viewer links up */
  /* link_mgr_emulate (tests): the version the hellos announce, and bytes
   * appended to every envelope. */
  uint32_t wire_version;
  uint8_t *future;
  size_t future_len;
  bool memory_refused; /* a send met the memory budget: on_room below half */
  ratelog rl_pending, rl_op, rl_memory, rl_dial;
  /* Dials in their handshake (max_dials at most), and the links waiting
   * for a slot, oldest first. */
  uint32_t ndialing;
  peer_link *dial_wait_head, *dial_wait_tail;
  bool dials_starting; /* mgr_dial_next is running */
};

/* link.c */
peer_link *link_create(link_mgr *, const char *peer);
/* An operator's or a viewer's link, not a node's. */
bool link_is_op(const peer_link *);
/* lk's address becomes addr (the link frees it), also in the log lines of
 * its connections. */
void link_set_addr(peer_link *, char *addr);
/* The link takes c over (its owner from now on; c counts into its stats)
 * while c is still in its hello. */
void link_adopt(peer_link *, link_conn *);
/* c, which lk owns, finished its hello h: the peer is up on it (or c
 * loses the tie-break and closes). */
void link_conn_ready(peer_link *, link_conn *, const troupe_Hello *h);
/* The same for a seed's connection: no client-only flag is taken. */
void link_conn_up(peer_link *, link_conn *, const troupe_Hello *h);
/* c, which carried or was dialing for lk, has closed. */
void link_conn_gone(peer_link *, link_conn *);
/* A dialer's TLS is done: keeps its session for the next dial. */
void link_save_tls_session(peer_link *, link_conn *);
/* Forgets lk and closes its connections; report: tell what it held as
 * undeliverable. */
void link_free_now(peer_link *, bool report);

/* stream.c */
uint64_t link_new_session(link_mgr *); /* never 0 */
/* Writes what lk has queued (called by the manager's flush). */
void link_flush(peer_link *);
/* Moves every frame of fs to the end of the link's control frames (fs is
 * emptied and freed even on failure). 0 or TR_ENOMEM. */
int link_ctl_take(peer_link *, link_frames *fs);
void link_send_ping(peer_link *);
/* A frame after the hello, on lk's connection: LINK_CLOSE_NONE, or why
 * the connection must close. */
link_close_reason link_on_frame(peer_link *, const wire_frame *f);
/* The peer's hello h on a new connection: continue or restart its stream,
 * resend ours from what it says it has (or report what it lost). */
void link_stream_resume(peer_link *, const troupe_Hello *h);
/* Forgets our stream, and (report) tells what it held as undeliverable. */
void link_stream_reset(peer_link *, bool report);
/* Gives up on both streams (the resume window passed). */
void link_stream_forget(peer_link *);

/* frames.c */
/* Encodes a frame into fs. TR_ETOOBIG over max_frame, TR_EFULL when fs
 * would exceed about 2 x max_frame, TR_ENOMEM. */
int link_frames_add(link_mgr *, link_frames *fs, troupe_FrameKind,
                    const void *msg, const pb_msgdesc_t *fields);
void link_frames_free(link_frames *);

/* hello.c */
/* Our hello on c: lk's stream, or (lk NULL: a seed that names no link
 * yet) a new stream `session`. 0, or an error (c is closed). */
int hello_send(link_mgr *, link_conn *, peer_link *lk, uint64_t session);
/* The peer's hello, the first frame on c: 1 with *h when it passed the
 * checks (version; its certificate names it; it is not this node; it is
 * `expect`, when not NULL); 0 when not complete yet; < 0 when c closed
 * (refusals are logged and counted here). */
int hello_read(link_mgr *, link_conn *, const char *expect, troupe_Hello *h);
/* Whether h has a wire version and names a node (what every hello must,
 * before its version and name are checked: hello_version_ok, the
 * certificate). */
bool hello_well_formed(const troupe_Hello *h);
/* Whether a node of wire version `mine` links with one of `theirs`: one
 * version apart at most (docs/transport.md, "Versions"). */
bool hello_version_ok(uint32_t mine, uint32_t theirs);

/* fuzz.c */
/* Runs arbitrary bytes through m as a peer's side of a new connection
 * after TLS: the first frame must be a well-formed hello (not naming m's
 * node), which the link to that node resumes from as after a reconnect
 * (a resend buffer of its own waits for it); every later frame goes
 * through link_on_frame until one closes the connection. The link is
 * closed (what it held reported undeliverable) before the return; run
 * m's loop afterwards to free its timers. Returns the frames taken, or a
 * negative error when the input stopped early. The fuzz entry point
 * (tests/fuzz/fuzz_link.c). */
int link_fuzz_input(link_mgr *m, const uint8_t *data, size_t len);

/* accept.c */
/* Takes the listener's pending connection. */
void accept_conn(link_mgr *);

/* seed.c */
/* lk is closing: closes the seed attempts waiting to join it. */
void seed_drop_link(link_mgr *, peer_link *lk);

#endif /* TR_LINK_INT_H */
