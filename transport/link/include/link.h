/* link.h — links between nodes: one logical link per peer node, carried by
 * one TLS connection at a time, which it replaces on reconnect without loss
 * or reordering (per-link sequence numbers, cumulative acks, a bounded
 * resend buffer). Knows frames and envelopes, not actors: node/cluster sits
 * between this and the engine.
 *
 * Design notes. Envelopes are encoded at link_send straight into 16 KiB
 * plaintext chunks; all chunks filled during one loop iteration go out in
 * one TLS write (records of up to 16 KiB) and one uv_write, at the end of
 * that iteration (uv_prepare/uv_check), so one small message still leaves
 * at once while a burst is batched. Sent chunks stay in the resend buffer
 * until acked. Each side's stream has a session id; after a reconnect the
 * hellos say which session and sequence number each side last received, and
 * the sender resends what followed. A link down for longer than its resume
 * window reports everything it still held as undeliverable and starts over.
 * Only the side that knows the peer's address dials; when both dial at once,
 * the connection dialed by the node with the smaller name wins everywhere. */
#ifndef TR_LINK_H
#define TR_LINK_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "tls.h"
#include "troupe.h"
#include "wire.h"

typedef struct link_mgr link_mgr;
typedef struct peer_link peer_link;

typedef enum {
  LINK_DOWN = 0,  /* no connection; resuming within the window, or idle */
  LINK_CONNECTING, /* dialing, TLS handshake or hello in progress */
  LINK_UP,        /* hello exchanged: envelopes flow */
} link_state;

const char *link_state_name(link_state);

/* Why a connection was closed or refused; counted per reason. */
typedef enum {
  LINK_CLOSE_NONE = 0,
  LINK_CLOSE_PEER,        /* the peer closed (EOF or reset) */
  LINK_CLOSE_LOCAL,       /* closed by us: shutdown, link_free */
  LINK_CLOSE_DUPLICATE,   /* lost the simultaneous-dial tie-break */
  LINK_CLOSE_TLS,         /* handshake refused; see tls_fail counters */
  LINK_CLOSE_HELLO,       /* bad hello: version, or a name its cert lacks */
  LINK_CLOSE_TIMEOUT,     /* no handshake/hello in time */
  LINK_CLOSE_TOO_BIG,     /* a frame over max_frame */
  LINK_CLOSE_MALFORMED,   /* a frame that does not decode, or empty */
  LINK_CLOSE_UNKNOWN_KIND,/* a frame kind nobody handles */
  LINK_CLOSE_SEQ_GAP,     /* an envelope sequence number out of order */
  LINK_CLOSE_IO,          /* socket error */
  LINK_CLOSE_SELF,        /* the peer is this node (a seed that is us) */
  LINK_CLOSE_REVOKED,     /* a reloaded revocation list lists the peer */
  LINK_CLOSE_LIMIT,       /* a cap: connections before their hello (the
                             oldest goes), operator connections, memory */
  LINK_CLOSE_IDLE,        /* an operator connection sent no whole frame
                             (pongs included) for op_idle_timeout_ms */
  LINK_CLOSE_COUNT
} link_close_reason;

const char *link_close_reason_name(link_close_reason);

/* Who refused a handshake. */
typedef enum {
  LINK_REFUSED_NONE = 0, /* nobody did: see the close reason */
  LINK_REFUSED_BY_US,    /* this node refused the peer's certificate/hello */
  LINK_REFUSED_BY_PEER,  /* the peer refused ours (its TLS alert), or it
                            does not speak TLS */
} link_refused_by;

/* How far a connection attempt got. */
typedef enum {
  LINK_STAGE_RESOLVE = 0, /* resolving the address */
  LINK_STAGE_CONNECT,     /* TCP connect */
  LINK_STAGE_TLS,         /* TLS handshake */
  LINK_STAGE_HELLO,       /* TLS done; hellos being exchanged */
} link_stage;

const char *link_stage_name(link_stage); /* "resolve", "connect", ... */

/* Why a seed attempt (link_send_seed) was dropped: enough to say what
 * failed without reading log lines. The strings are valid during the
 * on_seed_failed call; none is NULL ("" when there is nothing to say). */
typedef struct link_seed_failure {
  /* LINK_CLOSE_IO: resolve, connect or socket error (uv_error says);
   * _TLS: a side refused the TLS handshake (tls and refused_by say);
   * _HELLO: we refused the peer's hello, e.g. a name its certificate lacks
   * (tls is then TLS_FAIL_NAME_MISMATCH); _TIMEOUT: not through in
   * handshake_timeout_ms (stage says where); _PEER: the peer closed during
   * the handshake; _SELF: the address reached this node itself; _LOCAL:
   * link_close of the link whose certificate the seed met, or no memory. */
  link_close_reason reason;
  link_stage stage;             /* how far it got */
  int uv_error;                 /* the libuv error (< 0) that ended it, e.g.
                                   UV_ECONNREFUSED, UV_EOF; else 0 */
  const char *uv_error_name;    /* uv_err_name(uv_error): "ECONNREFUSED" */
  const char *uv_error_message; /* uv_strerror(uv_error) */
  tls_fail tls;                 /* what was refused (TLS_FAIL_TIMEOUT: the TLS
                                   handshake timed out), or TLS_FAIL_NONE */
  const char *tls_detail;       /* the detail logged with the refusal */
  /* Who refused: this node (the peer's certificate or hello) or the peer
   * (ours). A TLS failure of kind TLS_FAIL_PROTOCOL or TLS_FAIL_NOT_TLS is
   * taken as the peer's doing (its alert about our certificate, or it does
   * not speak TLS); the other kinds are this node's verdict on the peer's
   * certificate. LINK_REFUSED_NONE when nobody refused (I/O, timeout). */
  link_refused_by refused_by;
} link_seed_failure;

typedef struct link_ops {
  /* An envelope from the peer, in order, once. Slices point into the frame
   * and are valid during the call. */
  void (*on_envelope)(void *user, peer_link *, const wire_envelope *);
  /* The link's state changed (e.g. UP after a reconnect). */
  void (*on_state)(void *user, peer_link *, link_state state);
  /* An envelope this side accepted but cannot deliver: the link stayed down
   * past its resume window, or the peer restarted and lost it. reason is
   * TR_EUNREACHABLE. Called once per envelope, in send order. */
  void (*on_undeliverable)(void *user, peer_link *, const wire_envelope *,
                           int reason);
  /* The link refused a link_send (TR_EFULL, its queue bounds) and its
   * queue has since drained below half of them: sends may go again.
   * Optional. */
  void (*on_room)(void *user, peer_link *);
  /* A frame of a kind >= 16 (cluster messages); NULL: such frames close the
   * link as unknown. */
  void (*on_frame)(void *user, peer_link *, troupe_FrameKind, const uint8_t *body,
                   size_t len);
  /* A peer connected and said hello, and no link to it existed yet: the link
   * was created (without an address; it will not redial). Optional. */
  void (*on_accept)(void *user, peer_link *);
  /* After link_mgr_free: the manager's last handle has closed and its
   * memory is gone; what it borrowed (the tls_config) may be freed now.
   * Optional. */
  void (*on_freed)(void *user);
  /* A seed attempt to addr (link_send_seed) was dropped before its hello
   * handed it to a link: called once per attempt, with why (see
   * link_seed_failure; valid during the call). Not called when
   * link_send_seed itself returns an error, nor for attempts link_mgr_free
   * drops. Optional. */
  void (*on_seed_failed)(void *user, const char *addr,
                         const link_seed_failure *why);
  /* A dial of the link found nothing listening at the peer's address
   * (ECONNREFUSED): its process is gone, or not up yet. The link dials
   * again as usual. Optional. */
  void (*on_refused)(void *user, peer_link *);
} link_ops;

typedef struct link_config {
  uv_loop_t *loop;
  tls_config *tls;           /* borrowed; outlives the manager */
  const char *node_name;     /* this node's name, as its certificate says */
  uint64_t incarnation;
  uint32_t max_frame;        /* [4 MiB] */
  size_t queue_max_bytes;    /* per link, queued + unacked [64 MiB] */
  uint32_t queue_max_frames; /* per link, queued + unacked [1 << 20] */
  uint32_t resume_window_ms; /* [10000] */
  uint32_t handshake_timeout_ms; /* TCP connect to hello done [5000] */
  uint32_t reconnect_min_ms; /* first backoff step [50] */
  uint32_t reconnect_max_ms; /* [5000] */
  /* RTT probe while up [1000]: on an operator link every interval (its
   * idle check needs the answers); on a node link with other frames only,
   * at most once an interval, so an idle link wakes nobody. */
  uint32_t ping_interval_ms;
  /* Limits (docs/cluster.md, "Limits"); 0: the default in brackets. */
  uint32_t max_pending_conns; /* accepted, hello not done [128]; at the cap
                                 a new one closes the oldest */
  uint32_t max_op_conns;      /* operator and viewer connections up [64] */
  /* Our own dials in their handshake at once [8]; past it a dial waits
   * for one to end. A node joining a cluster of N dials N - 1 peers at
   * once, each a TLS handshake of a few ECDSA operations: all at once on
   * a busy host, they share the CPU until every one runs out of
   * handshake_timeout_ms, and are dialed again, and again. */
  uint32_t max_dials;
  uint32_t op_idle_timeout_ms; /* see LINK_CLOSE_IDLE [30000] */
  /* Link queues (queued + unacked) and read buffers of every connection,
   * together [256 MiB]. A send past it is TR_EFULL (on_room when it has
   * drained to half); a read buffer that would pass it closes its
   * connection (LINK_CLOSE_LIMIT), except a node's link that is up: that
   * one is counted and read on (bounded by max_frame per member). */
  size_t memory_budget;
  /* WIRE_FEATURE_* bits the hello announces beyond these: none (a node of
   * an older version, as far as peers can tell). */
  uint32_t features_off;
  link_ops ops;
  void *user;
  tr_log_fn log;
  void *log_user;
  tr_log_level log_level;
} link_config;

/* Creates the manager. Nothing listens until link_mgr_listen. */
int link_mgr_new(link_mgr **out, const link_config *cfg);
/* Listens on "host:port" (numeric host, or "*"/"0.0.0.0"); port 0 picks
 * one, readable with link_mgr_port. TR_ESYS (port in use...) / TR_EINVAL. */
int link_mgr_listen(link_mgr *, const char *hostport);
int link_mgr_port(link_mgr *);
/* For rolling-upgrade tests: from now on this node's hellos announce
 * wire_version, and `len` bytes (protobuf fields a later version might
 * add; copied) are appended to every envelope it sends. 0, TR_EINVAL,
 * TR_ENOMEM. Not for production use. */
int link_mgr_emulate(link_mgr *, uint32_t wire_version, const uint8_t *future,
                     size_t len);
/* Closes every connection and the listener; the memory goes once the loop
 * has run the close callbacks (run the loop after this). Nothing is
 * reported undeliverable. NULL ok. */
void link_mgr_free(link_mgr *);

/* The link to peer `name`, created if needed. With an address ("host:port",
 * DNS names ok) the link dials now if it is down and redials with backoff;
 * NULL keeps any address it had. */
int link_open(link_mgr *, const char *peer_name, const char *addr,
              peer_link **out);
peer_link *link_find(link_mgr *, const char *peer_name);
const char *link_peer(peer_link *);
/* What the peer's certificate is for (tls.h): a node, or an operator or a
 * viewer (whose sessions are named "CN#<session>"); the hello check let
 * nothing else up. TLS_PEER_NONE until the link first comes up. */
tls_peer_role link_peer_role(peer_link *);
/* Whether the peer speaks feature (WIRE_FEATURE_*): as its last hello
 * said; true until the link has come up once (a node of this version is
 * assumed). */
bool link_peer_speaks(peer_link *, uint32_t feature);
/* Writes what is queued for the peer now (one TLS write, one syscall)
 * rather than at the end of this loop iteration: for what must not wait
 * behind a long run of local work (flow-control credit). */
void link_flush_now(peer_link *);
/* The same for every link with envelopes or control frames queued (not
 * those owing only an ack): called between long runs of local work, so
 * replies and acks the work produced leave while it goes on. */
void link_mgr_flush_queued(link_mgr *);
/* A send met the queue bounds and the queue has not drained to half since,
 * or one met the memory budget and half of it is not free yet
 * (link_ops.on_room comes when it is so). */
bool link_full(peer_link *);

/* Queues an envelope (its seq is assigned here) and copies what it points
 * to. TR_EFULL when the link's queue bounds are reached (nothing queued),
 * TR_ETOOBIG over max_frame. Works while the link is down (it is queued
 * for the reconnect). */
int link_send(peer_link *, const wire_envelope *);
/* Queues a cluster frame (kind >= 16); not resent after a reconnect. */
int link_send_frame(peer_link *, troupe_FrameKind, const void *msg,
                    const pb_msgdesc_t *fields);

/* Sends a cluster frame (kind >= 16) to whatever node answers at addr
 * ("host:port", DNS names ok), e.g. a SWIM seed whose name is not known
 * yet: dials addr unless a seed attempt to addr is already in progress (the
 * frame then joins it) and queues the frame for after the hello. The msg is
 * encoded here; the caller's struct is free at return.
 *
 * The peer's certificate must name the node its hello claims. When the
 * hello names a peer with no link yet, the attempt becomes that peer's link
 * (addr becomes its address, so it redials; on_accept is called). When a
 * link to that peer exists, the frames move to it (it also learns addr if
 * it had none) and the connection is judged by the same simultaneous-dial
 * tie-break as any other dial from this node, so both ends keep the same
 * one connection: it replaces the link's connection if it wins, and closes
 * as a duplicate otherwise. A seed that answers as this node itself
 * (normal when a seed DNS name includes this node), or that fails to
 * resolve, connect, handshake or hello within handshake_timeout_ms, is
 * dropped with its frames, counted (link_mgr_stats seed_self /
 * seed_failed) and reported to on_seed_failed; it is never redialed: the
 * caller retries.
 *
 * Returns 0, TR_EINVAL (bad addr, kind < 16, no fields, manager freeing),
 * TR_ETOOBIG (the frame exceeds max_frame), TR_EFULL (the attempt already
 * holds about 2 x max_frame of frames), TR_ENOMEM or TR_ESYS (the dial
 * could not start; the attempt is dropped and counted seed_failed). On
 * failure this frame is not queued. Loop thread only. */
int link_send_seed(link_mgr *, const char *addr, troupe_FrameKind kind,
                   const void *msg, const pb_msgdesc_t *fields);

/* Closes the link's connection and forgets the link: queued and unacked
 * envelopes are reported undeliverable first. */
void link_close(peer_link *);

/* Test hook: drops the current TCP connection abruptly, as a network fault
 * would (no close_notify); the link resumes as after any drop. */
void link_fault_drop(peer_link *);

/* Connections made from now on use tls (borrowed like the first one; the
 * caller keeps the old one alive for the connections still using it).
 * Connections already up whose peer tls's revocation list lists are closed
 * at once (LINK_CLOSE_REVOKED, logged); returns how many. */
uint32_t link_mgr_set_tls(link_mgr *, tls_config *tls);
void link_mgr_set_log_level(link_mgr *, tr_log_level);

/* Stops (true) or resumes reading every connection that is up: the owner
 * has more than it can handle; TCP then pushes back on the peers. Handshakes
 * and hellos still read. */
void link_mgr_pause_reads(link_mgr *, bool pause);

typedef struct link_stats {
  link_state state;
  uint64_t bytes_in, bytes_out;   /* TLS bytes on the socket */
  uint64_t frames_in, frames_out; /* frames of any kind */
  uint64_t envelopes_in, envelopes_out;
  uint64_t writes;                /* uv_write calls */
  uint32_t queued;                /* envelopes not yet written */
  uint32_t unacked;               /* written, not yet acked */
  uint64_t queued_bytes;          /* queued + unacked, against the bound */
  uint64_t connects, reconnects, resumes, tls_resumes;
  uint64_t duplicates_dropped;    /* resent envelopes already received */
  uint64_t undeliverable;
  uint64_t rejected_full;
  uint32_t rtt_us;                /* smoothed ping round trip; 0 unknown */
} link_stats;

void link_get_stats(peer_link *, link_stats *out);
/* The TLS ciphersuite of the connection envelopes flow on ("TLS-ECDHE-..."),
 * or NULL when there is none; static. */
const char *link_cipher(peer_link *);
/* The subject CN of the peer's certificate on that connection, or NULL;
 * valid until the loop runs. */
const char *link_cert_cn(peer_link *);

typedef struct link_mgr_stats {
  uint64_t accepted;
  uint64_t tls_fail[TLS_FAIL_COUNT];
  uint64_t closed[LINK_CLOSE_COUNT];
  uint64_t seed_failed; /* seed attempts dropped: no answer, TLS, hello */
  uint64_t seed_self;   /* seed attempts that reached this node itself */
  uint32_t links, conns; /* conns includes seed attempts in progress */
  uint64_t pending_dropped; /* closed at max_pending_conns (the oldest) */
  uint64_t op_refused;      /* operator connections refused: max_op_conns */
  uint64_t memory_refused;  /* sends refused TR_EFULL: memory_budget */
  uint64_t memory_closed;   /* connections closed: read buffer past it */
  size_t memory_used;       /* link queues + read buffers now */
  size_t memory_budget;     /* the budget in force */
  uint32_t pending, op_conns; /* now: before their hello; operators up */
  uint64_t dials_waited; /* dials that waited for a slot: max_dials */
  uint32_t dialing, dials_waiting; /* now: in their handshake; waiting */
} link_mgr_stats;

void link_mgr_get_stats(link_mgr *, link_mgr_stats *out);

#endif /* TR_LINK_H */
