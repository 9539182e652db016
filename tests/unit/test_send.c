/* test_send.c — node/engine/send.c: FIFO order under back-pressure, exact
 * errors (unknown target, bad ids, full mailbox, oversized payload),
 * payloads of every size on the inline and blob paths, copy-on-send, no
 * inline delivery, and the envelope's sender and node fields. */
#include "tr_test.h"

/* ---- ordering under back-pressure --------------------------------------- */

#define ORDER_MSGS 100000u

typedef struct {
  uint32_t next_to_send;
  uint32_t next_expected;
  long out_of_order, bad_len, send_errors, refills;
} order_fixture;

/* The sender sends until the receiver is full, then pokes itself to go on
 * later (its own mailbox holds only these pokes). */
static int order_sender_on_msg(tr_ctx *ctx, tt_probe *p,
                               const tr_envelope *env) {
  (void)env;
  order_fixture *f = p->user;
  while (f->next_to_send < ORDER_MSGS) {
    uint32_t msg[2] = {f->next_to_send, ~f->next_to_send};
    int rc = tr_send(ctx, "receiver", msg, sizeof(msg));
    if (rc == TR_EFULL) {
      f->refills++;
      return tr_send(ctx, tr_self(ctx), "refill", 6);
    }
    if (rc != 0) {
      f->send_errors++;
      return 0;
    }
    f->next_to_send++;
  }
  return 0;
}

static int order_receiver_on_msg(tr_ctx *ctx, tt_probe *p,
                                 const tr_envelope *env) {
  (void)ctx;
  order_fixture *f = p->user;
  uint32_t msg[2];
  if (env->len != sizeof(msg)) {
    f->bad_len++;
    return 0;
  }
  memcpy(msg, env->data, sizeof(msg));
  if (msg[0] != f->next_expected || msg[1] != ~f->next_expected)
    f->out_of_order++;
  f->next_expected = msg[0] + 1;
  return 0;
}

static void hundred_thousand_messages_arrive_in_order_under_back_pressure(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  order_fixture f = {0};
  tt_probe sender = {.on_msg = order_sender_on_msg, .user = &f};
  tt_probe receiver = {.on_msg = order_receiver_on_msg, .user = &f};
  assert_tr_ok(tt_spawn(n, "receiver", &receiver, 256));
  assert_tr_ok(tt_spawn(n, "sender", &sender, 0));
  assert_tr_ok(tt_send_str(n, "sender", "go"));
  ASSERT_RUN_UNTIL(n, receiver.received == ORDER_MSGS || f.send_errors,
                   10 * TT_ITERS, 30000);
  assert_int_equal(0, f.send_errors);
  assert_int_equal(0, f.bad_len);
  assert_int_equal(0, f.out_of_order);
  assert_int_equal(ORDER_MSGS, f.next_expected);
  assert_true(f.refills > 0); /* back-pressure really happened */
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(ORDER_MSGS, receiver.received);
  tr_actor_info info;
  assert_tr_ok(tr_actor_info_get(n, "receiver", &info));
  assert_true(info.hwm <= 256);
  tr_node_stats s = tt_stats(n);
  assert_int_equal(f.refills, s.dead[TR_DL_REJECTED_FULL]);
  tt_node_free(n);
}

/* The mailbox is a ring that grows by doubling and, once drained past its
 * kept size, is given back: bursts of every size, each sent as soon as the
 * receiver (64 a turn) has room for it, so into a ring part consumed (it
 * wraps, and grows while wrapped) or drained, arrive whole and in order. */
static const uint32_t ring_bursts[] = {5,   10, 3, 7,  9,  300,  1, 40, 700,
                                      2,   8,  17, 33, 1000, 6, 15, 1500,
                                      4,   9};
#define RING_BURSTS (sizeof(ring_bursts) / sizeof(ring_bursts[0]))

#define RING_CAPACITY 2048u /* past the 1,024 a drained ring keeps */

typedef struct {
  const order_fixture *received; /* the receiver's progress */
  uint32_t burst, next_to_send;
  long send_errors;
} ring_fixture;

/* One burst a turn when it fits; a poke to itself comes back after the
 * receiver's turn (the ready queue is FIFO). */
static int ring_sender_on_msg(tr_ctx *ctx, tt_probe *p,
                              const tr_envelope *env) {
  (void)env;
  ring_fixture *f = p->user;
  if (f->burst == RING_BURSTS) return 0;
  uint32_t queued = f->next_to_send - f->received->next_expected;
  if (queued + ring_bursts[f->burst] > RING_CAPACITY)
    return tr_send(ctx, tr_self(ctx), "wait", 4);
  for (uint32_t i = 0; i < ring_bursts[f->burst]; i++) {
    uint32_t msg[2] = {f->next_to_send, ~f->next_to_send};
    if (tr_send(ctx, "receiver", msg, sizeof(msg)) != 0) {
      f->send_errors++;
      return 0;
    }
    f->next_to_send++;
  }
  f->burst++;
  return tr_send(ctx, tr_self(ctx), "next", 4);
}

static void bursts_wrap_and_grow_the_mailbox_ring_in_order(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  order_fixture o = {0};
  ring_fixture f = {.received = &o};
  uint32_t total = 0, longest = 0;
  for (size_t i = 0; i < RING_BURSTS; i++) {
    total += ring_bursts[i];
    if (ring_bursts[i] > longest) longest = ring_bursts[i];
  }
  tt_probe sender = {.on_msg = ring_sender_on_msg, .user = &f};
  tt_probe receiver = {.on_msg = order_receiver_on_msg, .user = &o};
  assert_tr_ok(tt_spawn(n, "receiver", &receiver, RING_CAPACITY));
  assert_tr_ok(tt_spawn(n, "sender", &sender, 0));
  assert_tr_ok(tt_send_str(n, "sender", "go"));
  ASSERT_RUN_UNTIL(n, receiver.received == total || f.send_errors,
                   10 * TT_ITERS, 30000);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(0, f.send_errors);
  assert_int_equal(RING_BURSTS, f.burst);
  assert_int_equal(total, receiver.received);
  assert_int_equal(0, o.bad_len);
  assert_int_equal(0, o.out_of_order);
  assert_int_equal(total, o.next_expected);
  tr_actor_info info;
  assert_tr_ok(tr_actor_info_get(n, "receiver", &info));
  assert_true(info.hwm >= longest && info.hwm <= RING_CAPACITY);
  assert_int_equal(0, info.queued);
  tt_node_free(n);
}

/* Inline and blob payloads share one FIFO. */
static void mixed_sizes_from_one_sender_keep_their_order(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tt_probe p = {0};
  assert_tr_ok(tt_spawn(n, "mixed", &p, 0));
  static const size_t sizes[] = {1, 5000, 0, 73, 72, 300000, 2, 100};
  enum { NS = sizeof(sizes) / sizeof(sizes[0]) };
  unsigned char *buf = malloc(300000);
  assert_non_null(buf);
  for (size_t i = 0; i < NS; i++) {
    memset(buf, (int)(i + 1), sizes[i]);
    assert_tr_ok(tr_node_send(n, "mixed", buf, sizes[i]));
  }
  ASSERT_RUN_UNTIL(n, p.received == NS, TT_ITERS, TT_MS);
  for (size_t i = 0; i < NS; i++) {
    assert_int_equal(sizes[i], p.rec[i].len);
    if (sizes[i]) assert_int_equal(i + 1, p.rec[i].data[0]);
  }
  free(buf);
  tt_node_free(n);
}

/* ---- errors ------------------------------------------------------------- */

static int send_unknown_on_msg(tr_ctx *ctx, tt_probe *p,
                               const tr_envelope *env) {
  (void)env;
  *(int *)p->user = tr_send(ctx, "nobody", "x", 1);
  return 0;
}

static void send_to_an_unknown_id_returns_enotfound(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  assert_tr(TR_ENOTFOUND, tt_send_str(n, "nobody", "x"));
  int rc = -100;
  tt_probe p = {.on_msg = send_unknown_on_msg, .user = &rc};
  assert_tr_ok(tt_spawn(n, "asker", &p, 0));
  assert_tr_ok(tt_send_str(n, "asker", "go"));
  ASSERT_RUN_UNTIL(n, p.received == 1, TT_ITERS, TT_MS);
  assert_tr(TR_ENOTFOUND, rc);
  tt_node_free(n);
}

/* The engine remembers its last lookup (send.c's hot path): a miss, then
 * a spawn of that id, a stop, and a respawn must each be seen at once. */
static void last_lookup_follows_spawns_and_stops(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  assert_tr(TR_ENOTFOUND, tt_send_str(n, "later", "0"));
  tt_probe a = {0}, b = {0};
  assert_tr_ok(tt_spawn(n, "later", &a, 0));
  assert_tr_ok(tt_send_str(n, "later", "1"));
  assert_tr_ok(tt_send_str(n, "later", "2"));
  ASSERT_RUN_UNTIL(n, a.received == 2, TT_ITERS, TT_MS);
  assert_tr_ok(tr_node_stop_actor(n, "later"));
  ASSERT_RUN_UNTIL(n, a.deinits == 1, TT_ITERS, TT_MS);
  assert_tr(TR_ENOTFOUND, tt_send_str(n, "later", "3"));
  assert_tr_ok(tt_spawn(n, "later", &b, 0));
  assert_tr_ok(tt_send_str(n, "later", "4"));
  ASSERT_RUN_UNTIL(n, b.received == 1, TT_ITERS, TT_MS);
  assert_int_equal(1, b.rec[0].len);
  assert_int_equal('4', b.rec[0].data[0]);
  assert_int_equal(2, a.received);
  tt_node_free(n);
}

static void spawn_with_a_taken_id_returns_eexist(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tt_probe a = {0}, b = {0};
  assert_tr_ok(tt_spawn(n, "dup", &a, 0));
  assert_tr(TR_EEXIST, tt_spawn(n, "dup", &b, 0));
  assert_int_equal(0, b.inits); /* nothing of the second one ran */
  assert_int_equal(1, tt_stats(n).actors);
  /* The first one still gets the mail. */
  assert_tr_ok(tt_send_str(n, "dup", "m"));
  ASSERT_RUN_UNTIL(n, a.received == 1, TT_ITERS, TT_MS);
  assert_int_equal(0, b.received);
  tt_node_free(n);
  assert_int_equal(1, a.deinits);
  assert_int_equal(0, b.deinits);
}

static void bad_ids_are_rejected_with_einval(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tt_probe p = {0};
  char longid[TR_ID_MAX + 2];
  memset(longid, 'x', sizeof(longid) - 1);
  longid[sizeof(longid) - 1] = '\0'; /* TR_ID_MAX + 1 bytes */

  assert_tr(TR_EINVAL, tt_spawn(n, "", &p, 0));
  assert_tr(TR_EINVAL, tt_spawn(n, longid, &p, 0));
  assert_tr(TR_EINVAL, tt_spawn(n, "$reserved", &p, 0));
  assert_tr(TR_EINVAL, tt_spawn(n, "$", &p, 0));
  assert_int_equal(0, p.inits);
  assert_int_equal(0, tt_stats(n).spawned);

  assert_tr(TR_EINVAL, tt_send_str(n, "", "x"));
  assert_tr(TR_EINVAL, tt_send_str(n, longid, "x"));
  assert_tr(TR_EINVAL, tr_node_send(n, NULL, "x", 1));

  /* TR_ID_MAX bytes is still an id; '$' inside an id is fine. */
  longid[TR_ID_MAX] = '\0';
  assert_tr_ok(tt_spawn(n, longid, &p, 0));
  assert_tr_ok(tt_send_str(n, longid, "x"));
  tt_probe q = {0};
  assert_tr_ok(tt_spawn(n, "a$b", &q, 0));
  ASSERT_RUN_UNTIL(n, p.received == 1, TT_ITERS, TT_MS);
  assert_string_equal(longid, p.id);
  tt_node_free(n);
}

static void null_payload_with_a_length_returns_einval(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tt_probe p = {0};
  assert_tr_ok(tt_spawn(n, "target", &p, 0));
  assert_tr(TR_EINVAL, tr_node_send(n, "target", NULL, 4));
  assert_tr_ok(tr_node_send(n, "target", NULL, 0));
  ASSERT_RUN_UNTIL(n, p.received == 1, TT_ITERS, TT_MS);
  assert_int_equal(0, p.rec[0].len);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(1, p.received);
  tt_node_free(n);
}

static int full_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  if (tt_is(env, "fill")) {
    int *rcs = p->user;
    for (int i = 0; i < 5; i++) rcs[i] = tr_send(ctx, "small", "y", 1);
  }
  return 0;
}

static void full_mailbox_returns_efull_and_queues_nothing(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tt_probe p = {0};
  assert_tr_ok(tt_spawn(n, "small", &p, 4));
  for (uint32_t i = 0; i < 4; i++)
    assert_tr_ok(tr_node_send(n, "small", &i, sizeof(i)));
  uint32_t fifth = 4;
  assert_tr(TR_EFULL, tr_node_send(n, "small", &fifth, sizeof(fifth)));
  tr_actor_info info;
  assert_tr_ok(tr_actor_info_get(n, "small", &info));
  assert_int_equal(4, info.queued);
  assert_int_equal(4, info.capacity);

  ASSERT_RUN_UNTIL(n, p.received == 4, TT_ITERS, TT_MS);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(4, p.received); /* the fifth was never queued */
  for (uint32_t i = 0; i < 4; i++) {
    uint32_t v;
    memcpy(&v, p.rec[i].data, sizeof(v));
    assert_int_equal(i, v);
  }

  /* Drained: room again, from outside and from an actor. */
  assert_tr_ok(tr_node_send(n, "small", &fifth, sizeof(fifth)));
  ASSERT_RUN_UNTIL(n, p.received == 5, TT_ITERS, TT_MS);
  int rcs[5] = {-100, -100, -100, -100, -100};
  tt_probe filler = {.on_msg = full_on_msg, .user = rcs};
  assert_tr_ok(tt_spawn(n, "filler", &filler, 0));
  assert_tr_ok(tt_send_str(n, "filler", "fill"));
  ASSERT_RUN_UNTIL(n, filler.received == 1, TT_ITERS, TT_MS);
  for (int i = 0; i < 4; i++) assert_tr_ok(rcs[i]);
  assert_tr(TR_EFULL, rcs[4]);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(9, p.received);
  tt_node_free(n);
}

static int toobig_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  (void)env;
  static const char buf[101];
  int *rcs = p->user;
  rcs[0] = tr_send(ctx, "sink", buf, 100);
  rcs[1] = tr_send(ctx, "sink", buf, 101);
  return 0;
}

static void payload_over_max_payload_returns_etoobig_and_queues_nothing(
    void **st) {
  (void)st;
  tr_node_config cfg = tt_config();
  cfg.max_payload = 100;
  tr_node *n = tt_node_new(&cfg);
  tt_probe sink = {0};
  assert_tr_ok(tt_spawn(n, "sink", &sink, 0));
  char buf[101] = {0};
  assert_tr(TR_ETOOBIG, tr_node_send(n, "sink", buf, 101));
  assert_tr_ok(tr_node_send(n, "sink", buf, 100));
  tr_actor_info info;
  assert_tr_ok(tr_actor_info_get(n, "sink", &info));
  assert_int_equal(1, info.queued);

  int rcs[2] = {-100, -100};
  tt_probe big = {.on_msg = toobig_on_msg, .user = rcs};
  assert_tr_ok(tt_spawn(n, "big", &big, 0));
  assert_tr_ok(tt_send_str(n, "big", "go"));
  ASSERT_RUN_UNTIL(n, big.received == 1, TT_ITERS, TT_MS);
  assert_tr_ok(rcs[0]);
  assert_tr(TR_ETOOBIG, rcs[1]);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(2, sink.received);
  assert_int_equal(100, sink.rec[0].len);
  assert_int_equal(100, sink.rec[1].len);
  tt_node_free(n);
}

/* ---- payloads ----------------------------------------------------------- */

static unsigned char pattern(size_t i, size_t len) {
  return (unsigned char)(i * 131u + len * 7u + 1u);
}

typedef struct {
  size_t expect_len[16];
  long intact, broken;
} size_fixture;

static int size_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  (void)ctx;
  size_fixture *f = p->user;
  size_t k = (size_t)p->received - 1;
  bool ok = k < 16 && env->len == f->expect_len[k] &&
            (env->len == 0 || env->data != NULL);
  for (size_t i = 0; ok && i < env->len; i++)
    ok = ((const unsigned char *)env->data)[i] == pattern(i, env->len);
  if (ok)
    f->intact++;
  else
    f->broken++;
  return 0;
}

static void payloads_of_every_size_arrive_intact(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL); /* max_payload: 1 MiB */
  static const size_t sizes[] = {0,    1,      72,     73,      255,
                                 256,  4096,   100000, 262144,  262145,
                                 1u << 20};
  enum { NS = sizeof(sizes) / sizeof(sizes[0]) };
  size_fixture f = {0};
  tt_probe p = {.on_msg = size_on_msg, .user = &f};
  assert_tr_ok(tt_spawn(n, "sizes", &p, 0));
  unsigned char *buf = malloc(1u << 20);
  assert_non_null(buf);
  for (size_t k = 0; k < NS; k++) {
    f.expect_len[k] = sizes[k];
    for (size_t i = 0; i < sizes[k]; i++) buf[i] = pattern(i, sizes[k]);
    assert_tr_ok(tr_node_send(n, "sizes", buf, sizes[k]));
  }
  assert_tr(TR_ETOOBIG, tr_node_send(n, "sizes", buf, (1u << 20) + 1));
  ASSERT_RUN_UNTIL(n, p.received == NS, TT_ITERS, TT_MS);
  assert_int_equal(0, f.broken);
  assert_int_equal(NS, f.intact);

  /* The same again, now that the pool has blobs to reuse. */
  f = (size_fixture){0};
  p.received = 0;
  for (size_t k = 0; k < NS; k++) {
    f.expect_len[k] = sizes[k];
    for (size_t i = 0; i < sizes[k]; i++) buf[i] = pattern(i, sizes[k]);
    assert_tr_ok(tr_node_send(n, "sizes", buf, sizes[k]));
  }
  ASSERT_RUN_UNTIL(n, p.received == NS, TT_ITERS, TT_MS);
  assert_int_equal(0, f.broken);
  assert_int_equal(NS, f.intact);
  free(buf);
  tt_node_free(n);
}

static void payload_is_copied_so_the_caller_may_reuse_its_buffer(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  size_fixture f = {.expect_len = {1, 72, 73, 4096, 100000}};
  tt_probe p = {.on_msg = size_on_msg, .user = &f};
  assert_tr_ok(tt_spawn(n, "copy", &p, 0));
  unsigned char *buf = malloc(100000);
  assert_non_null(buf);
  for (size_t k = 0; k < 5; k++) {
    size_t len = f.expect_len[k];
    for (size_t i = 0; i < len; i++) buf[i] = pattern(i, len);
    assert_tr_ok(tr_node_send(n, "copy", buf, len));
    memset(buf, 0xee, len); /* scribble over it before delivery */
  }
  free(buf); /* even gone entirely */
  ASSERT_RUN_UNTIL(n, p.received == 5, TT_ITERS, TT_MS);
  assert_int_equal(0, f.broken);
  assert_int_equal(5, f.intact);
  tt_node_free(n);
}

/* ---- delivery and envelope ---------------------------------------------- */

typedef struct {
  tt_probe *other;
  long self_before, self_after, other_before, other_after;
  int rc_other, rc_self;
} inline_fixture;

static int inline_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  inline_fixture *f = p->user;
  if (!tt_is(env, "go")) return 0;
  f->self_before = p->received;
  f->other_before = f->other->received;
  f->rc_other = tr_send(ctx, "other", "hi", 2);
  f->rc_self = tr_send(ctx, tr_self(ctx), "me", 2);
  f->self_after = p->received;
  f->other_after = f->other->received;
  return 0;
}

static void delivery_is_never_inline_inside_send(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tt_probe other = {0};
  inline_fixture f = {.other = &other};
  tt_probe me = {.on_msg = inline_on_msg, .user = &f};
  assert_tr_ok(tt_spawn(n, "other", &other, 0));
  assert_tr_ok(tt_spawn(n, "me", &me, 0));
  assert_tr_ok(tt_send_str(n, "other", "outside"));
  assert_int_equal(0, other.received); /* not inside tr_node_send either */
  assert_tr_ok(tt_send_str(n, "me", "go"));
  assert_int_equal(0, me.received);
  ASSERT_RUN_UNTIL(n, me.received == 2 && other.received == 2, TT_ITERS,
                   TT_MS);
  assert_tr_ok(f.rc_other);
  assert_tr_ok(f.rc_self);
  assert_int_equal(f.self_before, f.self_after);
  assert_int_equal(f.other_before, f.other_after);
  tt_node_free(n);
}

static int alice_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  (void)p;
  if (tt_is(env, "go")) return tr_send(ctx, "bob", "from alice", 10);
  return 0;
}

static void envelope_names_the_sender_and_the_node(void **st) {
  (void)st;
  tr_node_config cfg = tt_config();
  cfg.name = "envnode";
  tr_node *n = tt_node_new(&cfg);
  tt_probe alice = {.on_msg = alice_on_msg}, bob = {0};
  assert_tr_ok(tt_spawn(n, "alice", &alice, 0));
  assert_tr_ok(tt_spawn(n, "bob", &bob, 0));
  assert_tr_ok(tt_send_str(n, "bob", "from outside"));
  assert_tr_ok(tt_send_str(n, "alice", "go"));
  ASSERT_RUN_UNTIL(n, bob.received == 2, TT_ITERS, TT_MS);

  tt_rec *r = &bob.rec[0];
  assert_int_equal(TR_MSG_SEND, r->type);
  assert_false(r->has_sender);
  assert_string_equal("envnode", r->node);
  assert_int_equal(12, r->len);
  assert_memory_equal("from outside", r->data, 12);
  assert_int_equal(0, r->status);
  assert_int_equal(0, r->ask_id);

  r = &bob.rec[1];
  assert_int_equal(TR_MSG_SEND, r->type);
  assert_true(r->has_sender);
  assert_string_equal("alice", r->sender);
  assert_string_equal("envnode", r->node);
  assert_int_equal(10, r->len);
  assert_memory_equal("from alice", r->data, 10);
  assert_int_equal(0, r->status);
  assert_int_equal(0, r->ask_id);
  tt_node_free(n);
}

/* The sender id stays valid in a message even if the sender has stopped. */
static int send_and_stop_on_msg(tr_ctx *ctx, tt_probe *p,
                                const tr_envelope *env) {
  (void)p;
  (void)env;
  int rc = tr_send(ctx, "bob", "bye", 3);
  tr_stop(ctx);
  return rc;
}

static void message_from_a_stopped_sender_still_names_it(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tt_probe bob = {0};
  tt_probe carol = {.on_msg = send_and_stop_on_msg};
  assert_tr_ok(tt_spawn(n, "bob", &bob, 0));
  assert_tr_ok(tt_spawn(n, "carol", &carol, 0));
  assert_tr_ok(tt_send_str(n, "carol", "go"));
  ASSERT_RUN_UNTIL(n, carol.deinits == 1, TT_ITERS, TT_MS);
  ASSERT_RUN_UNTIL(n, bob.received == 1, TT_ITERS, TT_MS);
  assert_string_equal("carol", bob.rec[0].sender);
  tt_node_free(n);
}


/* ---- fairness ----------------------------------------------------------- */

typedef struct {
  char log[64];
  int nlog;
} turn_log;

static int log_turn_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  (void)env;
  turn_log *t = p->user;
  if (t->nlog < (int)sizeof(t->log)) t->log[t->nlog++] = tr_self(ctx)[0];
  return 0;
}

static void an_actor_handles_at_most_batch_messages_per_turn(void **st) {
  (void)st;
  tr_node_config cfg = tt_config();
  cfg.batch = 4;
  tr_node *n = tt_node_new(&cfg);
  turn_log t = {0};
  tt_probe a = {.on_msg = log_turn_on_msg, .user = &t};
  tt_probe b = {.on_msg = log_turn_on_msg, .user = &t};
  assert_tr_ok(tt_spawn(n, "a", &a, 0));
  assert_tr_ok(tt_spawn(n, "b", &b, 0));
  for (int i = 0; i < 20; i++) assert_tr_ok(tt_send_str(n, "a", "m"));
  for (int i = 0; i < 20; i++) assert_tr_ok(tt_send_str(n, "b", "m"));
  ASSERT_RUN_UNTIL(n, t.nlog == 40, TT_ITERS, TT_MS);
  /* While both have mail, neither runs more than 4 in a row. */
  int run = 1, longest = 1, a_seen = 0, b_seen = 0;
  for (int i = 0; i < 40; i++) {
    a_seen += t.log[i] == 'a';
    b_seen += t.log[i] == 'b';
    if (a_seen == 20 || b_seen == 20) break;
    if (i > 0 && t.log[i] == t.log[i - 1]) {
      if (++run > longest) longest = run;
    } else {
      run = 1;
    }
  }
  if (longest > 4) fail_msg("a run of %d turns in: %.40s", longest, t.log);
  tt_node_free(n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(
          hundred_thousand_messages_arrive_in_order_under_back_pressure),
      cmocka_unit_test(bursts_wrap_and_grow_the_mailbox_ring_in_order),
      cmocka_unit_test(mixed_sizes_from_one_sender_keep_their_order),
      cmocka_unit_test(send_to_an_unknown_id_returns_enotfound),
      cmocka_unit_test(last_lookup_follows_spawns_and_stops),
      cmocka_unit_test(spawn_with_a_taken_id_returns_eexist),
      cmocka_unit_test(bad_ids_are_rejected_with_einval),
      cmocka_unit_test(null_payload_with_a_length_returns_einval),
      cmocka_unit_test(full_mailbox_returns_efull_and_queues_nothing),
      cmocka_unit_test(
          payload_over_max_payload_returns_etoobig_and_queues_nothing),
      cmocka_unit_test(payloads_of_every_size_arrive_intact),
      cmocka_unit_test(payload_is_copied_so_the_caller_may_reuse_its_buffer),
      cmocka_unit_test(delivery_is_never_inline_inside_send),
      cmocka_unit_test(envelope_names_the_sender_and_the_node),
      cmocka_unit_test(message_from_a_stopped_sender_still_names_it),
      cmocka_unit_test(an_actor_handles_at_most_batch_messages_per_turn),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
