/* test_op_limits.c — what one operator connection may hold on a node
 * (issue 16, finding 2: 50,000 subscriptions on one connection made 50,000
 * internal actors): at most max_op_subs asks and subscriptions at once;
 * past it a request is answered TR_EFULL and counted (op_subs_refused);
 * when the connection goes, so does its count. Requests go in as
 * host_op_on_frame takes them from an operator link (a link made here,
 * as the fuzz target does), on a real cluster node with test certificates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pb_encode.h>
#include <uv.h>

#include "host.h" /* first: it picks uthash's hash function */
#include "link_int.h"
#include "node_asm.h"
#include "pki.h"

#define CLIENT "ops#7"

static int echo_receive(tr_ctx *ctx, void *state, const tr_envelope *env) {
  (void)state;
  if (env->type == TR_MSG_ASK) return tr_reply(ctx, env, env->data, env->len);
  return 0;
}

static const tr_actor_type echo_type = {.name = "echo",
                                        .receive = echo_receive};

static void turns(tr_node *n, int k) {
  for (int i = 0; i < k; i++) uv_run(tr_node_loop(n), UV_RUN_NOWAIT);
}

/* One OP_SUB request for (publisher "echo", topic t), id `id`. */
static void sub(cluster *c, peer_link *lk, uint64_t id, const char *t) {
  troupe_OpRequest r = troupe_OpRequest_init_zero;
  r.has_verb = r.has_id = r.has_target = r.has_topic = true;
  r.verb = troupe_OpVerb_OP_SUB;
  r.id = id;
  snprintf(r.target, sizeof(r.target), "echo");
  snprintf(r.topic, sizeof(r.topic), "%s", t);
  uint8_t buf[1024];
  pb_ostream_t s = pb_ostream_from_buffer(buf, sizeof(buf));
  assert_true(pb_encode(&s, troupe_OpRequest_fields, &r));
  host_op_on_frame(c, lk, buf, s.bytes_written);
}

static uint64_t refused(tr_node *n) {
  tr_cluster_stats st;
  assert_int_equal(tr_node_cluster_stats(n, &st), 0);
  return st.op_subs_refused;
}

static void a_connection_holds_at_most_max_op_subs(void **state) {
  (void)state;
  test_pki pki;
  char dir[] = "/tmp/test_op_limits.XXXXXX", ca[128], cert[128], key[128];
  assert_int_equal(pki_init(&pki), 0);
  assert_non_null(mkdtemp(dir));
  assert_int_equal(pki_write_files(&pki, dir, "n1"), 0);
  snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
  snprintf(cert, sizeof(cert), "%s/n1.pem", dir);
  snprintf(key, sizeof(key), "%s/n1.key", dir);
  tr_node *n;
  tr_node_config cfg = {.name = "n1", .listen = "127.0.0.1:0",
                        .ca_file = ca, .cert_file = cert, .key_file = key,
                        .max_op_subs = 3};
  assert_int_equal(tr_node_new(&n, &cfg), 0);
  unlink(ca), unlink(cert), unlink(key), rmdir(dir);
  assert_int_equal(
      tr_node_spawn(n, &echo_type, &(tr_spawn_opts){.id = "echo"}), 0);
  cluster *c = node_cluster(n);
  peer_link *lk = link_create(c->links, CLIENT);
  assert_non_null(lk);
  lk->role = TLS_PEER_OPERATOR;

  /* 3 subscriptions run; the 4th and 5th are refused. */
  for (uint64_t id = 1; id <= 5; id++) {
    char topic[16];
    snprintf(topic, sizeof(topic), "t%llu", (unsigned long long)id);
    sub(c, lk, id, topic);
    turns(n, 2);
  }
  assert_int_equal(refused(n), 2);
  /* Another client is not held to this one's count. */
  peer_link *other = link_create(c->links, "ops#8");
  assert_non_null(other);
  other->role = TLS_PEER_OPERATOR;
  sub(c, other, 1, "t1");
  turns(n, 2);
  assert_int_equal(refused(n), 2);

  /* The connection goes: its subscriptions end and its count with them. */
  host_op_client_gone(c, CLIENT);
  turns(n, 4);
  for (uint64_t id = 6; id <= 8; id++) {
    sub(c, lk, id, "again");
    turns(n, 2);
  }
  assert_int_equal(refused(n), 2);
  sub(c, lk, 9, "one-more");
  turns(n, 2);
  assert_int_equal(refused(n), 3);

  host_op_client_gone(c, CLIENT);
  host_op_client_gone(c, "ops#8");
  link_close(lk);
  link_close(other);
  turns(n, 4);
  tr_node_free(n);
  pki_free(&pki);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_connection_holds_at_most_max_op_subs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
