/* test_typed_inproc.c — typed messages across cluster nodes in one process
 * (include/troupe_pb.h): an order from n0 reaches "shop" on n1 and decodes
 * field by field; a cancel, a type "shop" does not take, is accepted at the
 * call (the target is remote) and refused at n1: counted remote_badtype on
 * both sides, an ask of that type answered TR_EBADTYPE; a typed ask gets a
 * typed reply across the link; a typed publish on n1 decodes on n0. Every
 * wait is bounded. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "cluster_harness.h"
#include "shop.pb.h"
#include "troupe_pb.h"

#define JOIN_MS 15000u
#define SETTLE_MS 20000u

static tr_msgtype order_t = TR_MSGTYPE("shop.Order", shop_Order);
static tr_msgtype cancel_t = TR_MSGTYPE("shop.Cancel", shop_Cancel);
static tr_msgtype ack_t = TR_MSGTYPE("shop.Ack", shop_Ack);

/* Written on the nodes' threads, read by the test's. */
typedef struct board {
  _Atomic int orders, qty_sum, published, send_rc, ask_status, acks,
      ack_ok, bad_decodes;
} board;

static board B;

/* "shop" on n1: takes orders only, answers a typed ask with an Ack,
 * publishes an order on "feed" when told "publish". */
static int shop_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)st;
  (void)arg;
  const tr_msgtype *types[] = {&order_t};
  return tr_accept_msgtypes(ctx, types, 1);
}

static int shop_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  (void)st;
  if (env->type == TR_MSG_SEND && env->msg_type == 0) { /* "publish" */
    shop_Order o = {.id = 77, .qty = 3};
    strcpy(o.item, "fed");
    tr_publish_msg(ctx, "feed", &order_t, &o);
    return 0;
  }
  shop_Order o;
  if (tr_msg_decode(env, &order_t, &o) != 0) {
    atomic_fetch_add(&B.bad_decodes, 1);
    return 0;
  }
  atomic_fetch_add(&B.orders, 1);
  atomic_fetch_add(&B.qty_sum, (int)o.qty);
  if (env->type == TR_MSG_ASK) {
    shop_Ack a = {.id = o.id, .ok = strcmp(o.item, "teapot") == 0};
    tr_reply_msg(ctx, env, &ack_t, &a);
  }
  return 0;
}

static const tr_actor_type shop_type = {
    .name = "shop", .init = shop_init, .receive = shop_receive};

/* "client" on n0: runs a command (untagged text from outside), records
 * replies and publishes. */
static int client_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)st;
  (void)arg;
  return tr_subscribe_topic(ctx, "shop", "feed");
}

static int client_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  (void)st;
  if (env->type == TR_MSG_SEND && !env->sender) {
    shop_Order o = {.id = 5, .qty = 4};
    strcpy(o.item, "teapot");
    shop_Cancel c = {.id = 5};
    int rc = 0;
    if (env->len == 5 && memcmp(env->data, "order", 5) == 0)
      rc = tr_send_msg(ctx, "shop", &order_t, &o);
    else if (env->len == 6 && memcmp(env->data, "cancel", 6) == 0)
      rc = tr_send_msg(ctx, "shop", &cancel_t, &c);
    else if (env->len == 9 && memcmp(env->data, "ask-order", 9) == 0)
      rc = tr_ask_msg(ctx, "shop", &order_t, &o, 10000, NULL);
    else if (env->len == 10 && memcmp(env->data, "ask-cancel", 10) == 0)
      rc = tr_ask_msg(ctx, "shop", &cancel_t, &c, 10000, NULL);
    atomic_store(&B.send_rc, rc);
    return 0;
  }
  if (env->type == TR_MSG_REPLY) {
    shop_Ack a;
    if (env->status != 0) {
      atomic_store(&B.ask_status, env->status);
    } else if (tr_msg_decode(env, &ack_t, &a) == 0) {
      atomic_fetch_add(&B.acks, 1);
      if (a.ok && a.id == 5) atomic_fetch_add(&B.ack_ok, 1);
    } else {
      atomic_fetch_add(&B.bad_decodes, 1);
    }
    return 0;
  }
  if (env->type == TR_MSG_PUBLISH) {
    shop_Order o;
    if (tr_msg_decode(env, &order_t, &o) == 0 && o.id == 77 &&
        strcmp(o.item, "fed") == 0)
      atomic_fetch_add(&B.published, 1);
    else
      atomic_fetch_add(&B.bad_decodes, 1);
  }
  return 0;
}

static const tr_actor_type client_type = {
    .name = "client", .init = client_init, .receive = client_receive};

typedef struct spawn_arg {
  const tr_actor_type *type;
  const char *id;
} spawn_arg;

static int do_spawn(tr_node *n, void *a) {
  spawn_arg *s = a;
  tr_spawn_opts o = {.id = s->id};
  return tr_node_spawn(n, s->type, &o);
}

static int do_cmd(tr_node *n, void *a) {
  const char *to = ((const char **)a)[0], *cmd = ((const char **)a)[1];
  return tr_node_send(n, to, cmd, strlen(cmd));
}

static void cmd(tn_cluster *c, size_t i, const char *to, const char *text) {
  const char *a[2] = {to, text};
  assert_int_equal(tn_call(c, i, do_cmd, a), 0);
}

typedef struct want {
  _Atomic int *v;
  int n;
} want;

static bool reached(tn_cluster *c, void *arg) {
  (void)c;
  want *w = arg;
  return atomic_load(w->v) >= w->n;
}

static void wait_for(tn_cluster *c, _Atomic int *v, int n, const char *what) {
  want w = {v, n};
  if (tn_wait(c, reached, &w, SETTLE_MS) < 0)
    fail_msg("%s: %d, want %d", what, atomic_load(v), n);
}

typedef struct stats_want {
  size_t node;
  int dead_badtype, remote_badtype;
} stats_want;

static bool counted(tn_cluster *c, void *arg) {
  stats_want *w = arg;
  tr_node_stats ns;
  tr_cluster_stats cs;
  if (tn_stats(c, w->node, &ns, &cs) != 0) return false;
  return (int)ns.dead[TR_DL_REMOTE_BADTYPE] >= w->dead_badtype &&
         (int)cs.remote_badtype >= w->remote_badtype;
}

static bool ask_refused(tn_cluster *c, void *arg) {
  (void)c;
  (void)arg;
  return atomic_load(&B.ask_status) == TR_EBADTYPE;
}

static int do_locate(tr_node *n, void *a) {
  char owner[TR_ID_MAX + 1];
  return tr_node_locate(n, (const char *)a, owner, sizeof(owner));
}

static bool located(tn_cluster *c, void *arg) {
  return tn_call(c, 0, do_locate, arg) == 0;
}

static void test_typed_across_nodes(void **state) {
  (void)state;
  memset(&B, 0, sizeof(B));
  tn_cluster *c = NULL;
  assert_int_equal(tn_new_joined(&c, 2, NULL, JOIN_MS), 0);
  spawn_arg shop = {&shop_type, "shop"}, client = {&client_type, "client"};
  assert_int_equal(tn_call(c, 1, do_spawn, &shop), 0);
  assert_true(tn_wait(c, located, "shop", SETTLE_MS) >= 0);
  assert_int_equal(tn_call(c, 0, do_spawn, &client), 0);

  cmd(c, 0, "client", "order");
  wait_for(c, &B.orders, 1, "orders at shop");
  assert_int_equal(atomic_load(&B.qty_sum), 4);
  assert_int_equal(atomic_load(&B.send_rc), 0);

  /* A type shop does not take: accepted here, refused there, reported. */
  cmd(c, 0, "client", "cancel");
  stats_want at_n0 = {0, 1, 0}, at_n1 = {1, 0, 1};
  if (tn_wait(c, counted, &at_n0, SETTLE_MS) < 0)
    fail_msg("n0 did not count the cancel as remote_badtype");
  if (tn_wait(c, counted, &at_n1, SETTLE_MS) < 0)
    fail_msg("n1 did not count the cancel it refused");
  cmd(c, 0, "client", "ask-cancel");
  if (tn_wait(c, ask_refused, NULL, SETTLE_MS) < 0)
    fail_msg("the ask of a type shop does not take got status %d",
             atomic_load(&B.ask_status));

  /* A typed ask, a typed reply. */
  cmd(c, 0, "client", "ask-order");
  wait_for(c, &B.ack_ok, 1, "typed acks");
  assert_int_equal(atomic_load(&B.orders), 2);

  /* A typed publish on n1 reaches the subscriber on n0. */
  for (int k = 0; k < 200 && atomic_load(&B.published) == 0; k++) {
    cmd(c, 1, "shop", "publish");
    tn_wait(c, reached, &(want){&B.published, 1}, 50);
  }
  wait_for(c, &B.published, 1, "typed publishes at the client");
  assert_int_equal(atomic_load(&B.bad_decodes), 0);
  tn_free(c);
}

int main(void) {
  tr_msgtype_init(&order_t);
  tr_msgtype_init(&cancel_t);
  tr_msgtype_init(&ack_t);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_typed_across_nodes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
