/* test_typed.c — typed messages on one node (include/troupe_pb.h over the
 * engine's tagged calls): a nanopb struct sent, decoded and checked field
 * by field; TR_EBADTYPE for a decode as another type and for an untagged
 * message; the tags an actor declares (a send of another type fails at the
 * call, counted; untagged bytes still pass); a typed publish to many
 * subscribers encoded once (one shared payload); an ask answered with a
 * typed reply; the tag's definition; a message too large for the stack
 * buffer; bad arguments; the planned encoder (node/typed/plan.c) and the
 * generated writers (TR_MSGTYPE_WRITER) writing the bytes pb_encode writes
 * for every field kind, and no plan where it cannot. */
#include <pb_encode.h>

#include "kinds.tr.h"
#include "kinds2.tr.h"
#include "plan.h" /* typed_plan_encode: node/typed's own */
#include "shop.tr.h" /* troupe_add_messages: shop.pb.h and the types */
#include "tr_test.h"

static tr_msgtype order_t = TR_MSGTYPE("shop.Order", shop_Order);
static tr_msgtype cancel_t = TR_MSGTYPE("shop.Cancel", shop_Cancel);
static tr_msgtype ack_t = TR_MSGTYPE("shop.Ack", shop_Ack);
static tr_msgtype blob_t = TR_MSGTYPE("shop.Blob", shop_Blob);

/* What a receiver decoded, for the test to look at. */
typedef struct seen {
  int orders, cancels, other, bad;
  shop_Order last_order;
  shop_Ack last_ack;
  int ack_rc;
  uintptr_t data_ptr;
} seen;

static int receiver_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  seen *s = p->user;
  if (env->type == TR_MSG_REPLY) {
    s->ack_rc = tr_msg_decode(env, &ack_t, &s->last_ack);
    return 0;
  }
  if (env->type != TR_MSG_SEND && env->type != TR_MSG_PUBLISH &&
      env->type != TR_MSG_ASK)
    return 0;
  shop_Order o;
  shop_Cancel c;
  int rc = tr_msg_decode(env, &order_t, &o);
  if (rc == 0) {
    s->orders++;
    s->last_order = o;
    s->data_ptr = (uintptr_t)env->data;
    if (env->type == TR_MSG_ASK) {
      shop_Ack a = {.id = o.id, .ok = o.qty > 0};
      tr_reply_msg(ctx, env, &ack_t, &a);
    }
  } else if (rc == TR_EBADTYPE && tr_msg_decode(env, &cancel_t, &c) == 0) {
    s->cancels++;
  } else if (rc == TR_EBADTYPE) {
    s->other++;
  } else {
    s->bad++;
  }
  return 0;
}

static tr_node *node_new(void) {
  tr_node_config cfg = tt_config();
  return tt_node_new(&cfg);
}

static void test_tag(void **state) {
  (void)state;
  /* FNV-1a 32 of the name: fixed, part of the wire format. */
  assert_int_equal(tr_msg_type_id(""), 2166136261u);
  assert_int_equal(tr_msg_type_id("a"), 0xe40c292cu);
  assert_int_equal(tr_msg_type_id("shop.Order"), tr_msgtype_init(&order_t));
  assert_int_equal(order_t.id, tr_msg_type_id("shop.Order"));
  assert_true(tr_msg_type_id("shop.Order") != tr_msg_type_id("shop.Cancel"));
  /* troupe_add_messages computed the same tags at build time. */
  assert_int_equal(shop_Order_type.id, tr_msg_type_id("shop.Order"));
  assert_int_equal(shop_Cancel_type.id, tr_msg_type_id("shop.Cancel"));
  assert_int_equal(shop_Blob_type.id, tr_msg_type_id("shop.Blob"));
  assert_string_equal(shop_Ack_type.name, "shop.Ack");
  assert_ptr_equal(shop_Ack_type.fields, shop_Ack_fields);
}

static void test_send_and_decode(void **state) {
  (void)state;
  tr_node *n = node_new();
  seen s = {0};
  tt_probe r = {.on_msg = receiver_msg, .user = &s};
  assert_tr_ok(tt_spawn(n, "shop", &r, 0));
  shop_Order o = {.id = 7, .qty = -3};
  strcpy(o.item, "teapot");
  assert_tr_ok(tr_node_send_msg(n, "shop", &order_t, &o));
  shop_Cancel c = {.id = 7};
  assert_tr_ok(tr_node_send_msg(n, "shop", &cancel_t, &c));
  assert_tr_ok(tt_send_str(n, "shop", "raw bytes")); /* untagged */
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(s.orders, 1);
  assert_int_equal(s.cancels, 1);
  assert_int_equal(s.other, 1); /* the raw one: tag 0 is no Order */
  assert_int_equal(s.bad, 0);
  assert_int_equal(s.last_order.id, 7);
  assert_int_equal(s.last_order.qty, -3);
  assert_string_equal(s.last_order.item, "teapot");
  assert_int_equal(r.rec[0].type, TR_MSG_SEND);
  tt_node_free(n);
}

/* A tagged message whose bytes are not that type: TR_EINVAL at decode. */
static int garbage_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  (void)ctx;
  shop_Order o;
  if (env->type == TR_MSG_SEND) *(int *)p->user = tr_msg_decode(env, &order_t, &o);
  return 0;
}

static void test_decode_errors(void **state) {
  (void)state;
  tr_node *n = node_new();
  int rc = 1;
  tt_probe r = {.on_msg = garbage_msg, .user = &rc};
  assert_tr_ok(tt_spawn(n, "r", &r, 0));
  const uint8_t junk[] = {0xff, 0xff, 0xff};
  assert_tr_ok(tr_node_send_tagged(n, "r", tr_msg_type_id("shop.Order"), junk,
                                   sizeof(junk)));
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_tr(TR_EINVAL, rc);
  shop_Order o = {0};
  assert_tr(TR_EINVAL, tr_msg_decode(NULL, &order_t, &o));
  assert_tr(TR_EINVAL, tr_node_send_msg(n, "r", NULL, &o));
  assert_tr(TR_EINVAL, tr_node_send_msg(n, "r", &order_t, NULL));
  assert_tr(TR_ENOTFOUND, tr_node_send_msg(n, "nobody", &order_t, &o));
  tt_node_free(n);
}

static int accept_orders_init(tr_ctx *ctx, tt_probe *p) {
  (void)p;
  const tr_msgtype *types[] = {&order_t};
  return tr_accept_msgtypes(ctx, types, 1);
}

static void test_accepted_types(void **state) {
  (void)state;
  tr_node *n = node_new();
  seen s = {0};
  tt_probe r = {.on_init = accept_orders_init, .on_msg = receiver_msg,
                .user = &s};
  assert_tr_ok(tt_spawn(n, "orders-only", &r, 0));
  shop_Order o = {.id = 1, .qty = 1};
  shop_Cancel c = {.id = 1};
  tr_node_stats before = tt_stats(n);
  assert_tr_ok(tr_node_send_msg(n, "orders-only", &order_t, &o));
  assert_tr(TR_EBADTYPE, tr_node_send_msg(n, "orders-only", &cancel_t, &c));
  assert_tr_ok(tt_send_str(n, "orders-only", "untagged passes"));
  tr_node_stats after = tt_stats(n);
  assert_int_equal(after.sent - before.sent, 2);
  assert_int_equal(after.dead[TR_DL_REJECTED_BADTYPE] -
                       before.dead[TR_DL_REJECTED_BADTYPE],
                   1);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(s.orders, 1);
  assert_int_equal(s.cancels, 0);
  assert_tr(TR_EINVAL, tr_accept_types(NULL, NULL, 0));
  tt_node_free(n);
}

/* A publisher that publishes one typed order on "orders" per command. */
static int publisher_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  (void)p;
  if (env->type != TR_MSG_SEND || env->msg_type) return 0;
  shop_Order o = {.id = 42, .qty = 5};
  strcpy(o.item, "kettle");
  *(int *)p->user = tr_publish_msg(ctx, "orders", &order_t, &o);
  return 0;
}

static int subscribe_init(tr_ctx *ctx, tt_probe *p) {
  (void)p;
  return tr_subscribe_topic(ctx, "pub", "orders");
}

static void test_publish_one_encoding(void **state) {
  (void)state;
  tr_node *n = node_new();
  int reached = 0;
  tt_probe pub = {.on_msg = publisher_msg, .user = &reached};
  assert_tr_ok(tt_spawn(n, "pub", &pub, 0));
  seen s[5] = {0};
  tt_probe subs[5];
  for (int i = 0; i < 5; i++) {
    char id[8];
    snprintf(id, sizeof(id), "sub%d", i);
    subs[i] = (tt_probe){.on_init = subscribe_init, .on_msg = receiver_msg,
                         .user = &s[i]};
    assert_tr_ok(tt_spawn(n, id, &subs[i], 0));
  }
  assert_tr_ok(tt_send_str(n, "pub", "go"));
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(reached, 5);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(s[i].orders, 1);
    assert_string_equal(s[i].last_order.item, "kettle");
    assert_true(s[i].data_ptr == s[0].data_ptr); /* one shared encoding */
  }
  tt_node_free(n);
}

/* An asker that asks "shop" for an order and keeps the typed reply. */
static int asker_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  seen *s = p->user;
  if (env->type == TR_MSG_SEND && !env->sender) {
    shop_Order o = {.id = 9, .qty = 2};
    return tr_ask_msg(ctx, "shop", &order_t, &o, 5000, NULL);
  }
  if (env->type == TR_MSG_REPLY) {
    s->ack_rc = tr_msg_decode(env, &ack_t, &s->last_ack);
    /* The reply is an Ack, not an Order. */
    shop_Order wrong;
    if (tr_msg_decode(env, &order_t, &wrong) != TR_EBADTYPE) s->bad++;
  }
  return 0;
}

static void test_ask_typed_reply(void **state) {
  (void)state;
  tr_node *n = node_new();
  seen shop = {0}, asker = {.ack_rc = 99};
  tt_probe r = {.on_msg = receiver_msg, .user = &shop};
  tt_probe a = {.on_msg = asker_msg, .user = &asker};
  assert_tr_ok(tt_spawn(n, "shop", &r, 0));
  assert_tr_ok(tt_spawn(n, "asker", &a, 0));
  assert_tr_ok(tt_send_str(n, "asker", "go"));
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(shop.orders, 1);
  assert_tr_ok(asker.ack_rc);
  assert_int_equal(asker.last_ack.id, 9);
  assert_true(asker.last_ack.ok);
  assert_int_equal(asker.bad, 0);
  tt_node_free(n);
}

/* A message over the 1 KiB stack buffer: built in an allocated one, and
 * decoded whole. */
static int blob_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  (void)ctx;
  static shop_Blob b;
  if (env->type != TR_MSG_SEND) return 0;
  int rc = tr_msg_decode(env, &blob_t, &b);
  *(int *)p->user = rc == 0 ? (int)b.data.size : rc;
  for (size_t i = 0; rc == 0 && i < b.data.size; i++)
    if (b.data.bytes[i] != (uint8_t)(i * 7)) *(int *)p->user = -1000;
  return 0;
}

static void test_large_message(void **state) {
  (void)state;
  tr_node *n = node_new();
  int got = 0;
  tt_probe r = {.on_msg = blob_msg, .user = &got};
  assert_tr_ok(tt_spawn(n, "r", &r, 0));
  static shop_Blob b;
  b.data.size = 3000;
  for (size_t i = 0; i < b.data.size; i++) b.data.bytes[i] = (uint8_t)(i * 7);
  assert_tr_ok(tr_node_send_msg(n, "r", &blob_t, &b));
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(got, 3000);
  tt_node_free(n);
}

/* ---- the plan against pb_encode ------------------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rnd(void) { /* xorshift64*: the same values every run */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1Du;
}

/* A value that is often zero, often small, sometimes anything. */
static uint64_t pick(void) {
  switch (rnd() % 4) {
  case 0: return 0;
  case 1: return rnd() % 300;
  case 2: return (uint64_t)-(int64_t)(rnd() % 300); /* small negatives */
  default: return rnd();
  }
}

static void pick_string(char *s, size_t cap) {
  size_t len = rnd() % 3 == 0 ? 0 : rnd() % cap; /* below cap: terminated */
  for (size_t i = 0; i < len; i++) s[i] = (char)('a' + rnd() % 26);
  s[len] = '\0';
}

/* The plan's bytes, its writer's and pb_encode's for msg of type t (one of
 * troupe_add_messages' descriptors): equal. */
static void assert_same_bytes(const tr_msgtype *t, const void *msg) {
  uint8_t planned[1024], written[1024], nano[1024];
  assert_true(t->planned);
  assert_non_null(t->write);
  assert_true(t->plan_bound <= sizeof(planned));
  size_t n = typed_plan_encode(t, msg, planned);
  size_t w = t->write(msg, written, t->fields->default_value != NULL);
  pb_ostream_t s = pb_ostream_from_buffer(nano, sizeof(nano));
  assert_true(pb_encode(&s, t->fields, msg));
  assert_int_equal(s.bytes_written, n);
  assert_memory_equal(nano, planned, n);
  assert_int_equal(s.bytes_written, w);
  assert_memory_equal(nano, written, w);
}

static void test_plan_writes_what_pb_encode_writes(void **st) {
  (void)st;
  for (int k = 0; k < 20000; k++) {
    kinds_Scalars m = kinds_Scalars_init_zero;
    m.i32 = (int32_t)pick();
    m.i64 = (int64_t)pick();
    m.u32 = (uint32_t)pick();
    m.u64 = pick();
    m.s32 = (int32_t)pick();
    m.s64 = (int64_t)pick();
    m.b = rnd() % 2;
    m.f32 = (uint32_t)pick();
    m.f64 = pick();
    m.sf32 = (int32_t)pick();
    m.sf64 = (int64_t)pick();
    uint32_t fb = (uint32_t)pick();
    memcpy(&m.fl, &fb, sizeof(fb)); /* any bits: -0.0, NaNs */
    uint64_t db = pick();
    memcpy(&m.db, &db, sizeof(db));
    static const kinds_Color colors[] = {kinds_Color_RED, kinds_Color_GREEN,
                                         kinds_Color_NEG};
    m.color = colors[rnd() % 3];
    pick_string(m.name, sizeof(m.name));
    m.has_opt = rnd() % 2;
    m.opt = (uint32_t)pick(); /* written only with has_opt, even if 0 */
    m.has_opt_s = rnd() % 2;
    pick_string(m.opt_s, sizeof(m.opt_s));
    m.far_tag = (uint32_t)pick();
    assert_same_bytes(&kinds_Scalars_type, &m);

    kinds_Small sm = {(uint8_t)pick(), (int16_t)pick(), (int8_t)pick()};
    assert_same_bytes(&kinds_Small_type, &sm);

    kinds2_Legacy lg = kinds2_Legacy_init_default;
    lg.id = (uint32_t)pick();
    lg.has_level = rnd() % 2;
    lg.level = (int32_t)pick();
    lg.has_tag = rnd() % 2;
    pick_string(lg.tag, sizeof(lg.tag));
    lg.has_on = rnd() % 2;
    lg.on = rnd() % 2;
    assert_same_bytes(&kinds2_Legacy_type, &lg);
  }
  kinds_Empty e = kinds_Empty_init_zero;
  assert_same_bytes(&kinds_Empty_type, &e);
  /* The edges: -0.0 (non-zero bytes: written), the extremes, a string of
   * its longest. */
  kinds_Scalars x = kinds_Scalars_init_zero;
  x.fl = -0.0f;
  x.db = -0.0;
  assert_same_bytes(&kinds_Scalars_type, &x);
  x.i32 = INT32_MIN;
  x.i64 = INT64_MIN;
  x.u32 = UINT32_MAX;
  x.u64 = UINT64_MAX;
  x.s32 = INT32_MIN;
  x.s64 = INT64_MIN;
  x.sf32 = INT32_MIN;
  x.sf64 = INT64_MIN;
  x.color = kinds_Color_NEG;
  memset(x.name, 'z', sizeof(x.name) - 1);
  x.name[sizeof(x.name) - 1] = '\0';
  assert_same_bytes(&kinds_Scalars_type, &x);
  x.s32 = INT32_MAX;
  x.s64 = INT64_MAX;
  assert_same_bytes(&kinds_Scalars_type, &x);
  kinds_Small sx = {UINT8_MAX, INT16_MIN, INT8_MIN};
  assert_same_bytes(&kinds_Small_type, &sx);
}

/* Submessages, repeated fields, bytes and oneofs are pb_encode's; a string
 * without its NUL is refused as pb_encode refuses it. */
static void test_plan_only_where_it_can(void **st) {
  (void)st;
  assert_true(kinds_Scalars_type.planned);
  assert_int_equal(kinds_Scalars_type.plan_len, 18);
  assert_true(order_t.planned); /* TR_MSGTYPE makes the plan too */
  assert_false(kinds_Nested_type.planned);
  assert_false(kinds_Listed_type.planned);
  assert_false(kinds_Raw_type.planned);
  assert_false(kinds_Choice_type.planned);
  assert_false(blob_t.planned);

  kinds_Scalars m = kinds_Scalars_init_zero;
  memset(m.name, 'x', sizeof(m.name)); /* no NUL */
  uint8_t out[1024];
  assert_int_equal(SIZE_MAX, typed_plan_encode(&kinds_Scalars_type, &m, out));
  assert_int_equal(SIZE_MAX, kinds_Scalars_type.write(&m, out, false));
  assert_null(order_t.write); /* TR_MSGTYPE: the plan, read */
  tr_node *n = tt_node_new(NULL);
  tt_probe r = {0};
  assert_tr_ok(tt_spawn(n, "r", &r, 0));
  assert_int_equal(TR_EINVAL,
                   tr_node_send_msg(n, "r", &kinds_Scalars_type, &m));
  /* Through the API, the planned bytes arrive as pb_encode writes them. */
  kinds_Small sm = {200, -300, -5};
  assert_tr_ok(tr_node_send_msg(n, "r", &kinds_Small_type, &sm));
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(1, r.received);
  uint8_t nano[64];
  pb_ostream_t os = pb_ostream_from_buffer(nano, sizeof(nano));
  assert_true(pb_encode(&os, kinds_Small_fields, &sm));
  assert_int_equal(os.bytes_written, r.rec[0].len);
  assert_memory_equal(nano, r.rec[0].data, os.bytes_written);
  tr_envelope env = {.type = TR_MSG_SEND, .data = r.rec[0].data,
                     .len = r.rec[0].len, .msg_type = kinds_Small_type.id};
  kinds_Small back;
  assert_tr_ok(tr_msg_decode(&env, &kinds_Small_type, &back));
  assert_int_equal(200, back.u8);
  assert_int_equal(-300, back.i16);
  assert_int_equal(-5, back.s8);
  tt_node_free(n);
}

int main(void) {
  tr_msgtype_init(&order_t);
  tr_msgtype_init(&cancel_t);
  tr_msgtype_init(&ack_t);
  tr_msgtype_init(&blob_t);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tag),
      cmocka_unit_test(test_send_and_decode),
      cmocka_unit_test(test_decode_errors),
      cmocka_unit_test(test_accepted_types),
      cmocka_unit_test(test_publish_one_encoding),
      cmocka_unit_test(test_ask_typed_reply),
      cmocka_unit_test(test_large_message),
      cmocka_unit_test(test_plan_writes_what_pb_encode_writes),
      cmocka_unit_test(test_plan_only_where_it_can),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
