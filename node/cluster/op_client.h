/* op_client.h — internal to the operator client (op_client.c: the
 * connection and the call; op_verbs.c: the public tr_op_* verbs, each a
 * request and a way to read its replies). */
#ifndef TR_OP_CLIENT_H
#define TR_OP_CLIENT_H

#include <stdbool.h>
#include <uv.h>

#include "troupe_ops.h"
#include "wire.h"

typedef struct op_call op_call;

/* What a verb does with the replies to its request. */
typedef struct op_verb {
  /* A reply with status 0: take it; false when no more are wanted (a
   * reply without `more` ends the call anyway). */
  bool (*on_reply)(op_call *, const troupe_OpReply *, wire_slice data);
  /* A reply with an error status (optional): what it still says. */
  void (*on_error)(op_call *, const troupe_OpReply *);
  bool streams; /* a reply with `more` begins a stream without deadline */
} op_verb;

struct op_call {
  const tr_op_target *t;
  const op_verb *verb;
  void *user; /* the verb's */
  uint64_t id;
  uint32_t timeout_ms, handshake_ms;
  char name[TR_ID_MAX + 1];
  uv_loop_t loop;
  uv_timer_t deadline;
  uv_signal_t sigint, sigterm;
  struct link_mgr *mgr;
  /* Through the admin socket (op_admin.c) instead of a link. */
  uv_pipe_t pipe;
  uv_connect_t connect;
  bool piped;                /* the pipe is open */
  uint8_t *rbuf;             /* what came, up to a whole frame */
  size_t rlen, rcap;
  uint8_t *wbuf;             /* the request, written once connected */
  size_t wlen;
  troupe_OpReply *reply; /* decoded into; large, so not on the stack */
  bool done, freed, answered, streaming;
  int rc;
  tr_op_fail why;
  char detail[384];
};

/* Runs the call: connects, sends req (its id is set here) with data, and
 * reads replies until done. Fills *err (may be NULL); returns k->rc. */
int op_call_run(op_call *k, troupe_OpRequest *req, const void *data,
                size_t len, tr_op_error *err);
/* A frame from the node (kind and body as the link hands them): an
 * OpReply to k is decoded into k->reply and given to k's verb; anything
 * else fails the call (TR_OP_FAIL_PROTOCOL). Ignored once k is done. */
void op_call_on_frame(op_call *k, troupe_FrameKind kind, const uint8_t *body,
                      size_t len);
/* The verb that reads the replies to a request of kind v (op_verbs.c), or
 * NULL for none: what op_call_on_frame meets in the fuzz entry. */
const op_verb *op_verb_for(troupe_OpVerb v);
/* Ends the call with no answer, for why. */
void op_call_fail(op_call *k, tr_op_fail why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* TR_OP_CLIENT_H */
