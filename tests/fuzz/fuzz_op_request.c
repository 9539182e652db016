/* fuzz_op_request.c — an operator's request as a node takes it
 * (host_op_on_frame): a cluster node "fz" (test certificates, listening
 * on a loopback port nobody dials, a policy, an actor "echo" that answers
 * asks) and, per input, a client link whose role the first byte picks;
 * the rest is the OpRequest body. The node's loop runs a few turns after
 * each request (asks, subscriptions), then the client goes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "host.h" /* first: it picks uthash's hash function */
#include "fuzz.h"
#include "link_int.h"
#include "node_asm.h"
#include "pki.h"

#define FZ_CLIENT "ops#1"

static tr_node *fz_node;
static cluster *fz_cluster;

static int echo_receive(tr_ctx *ctx, void *state, const tr_envelope *env) {
  (void)state;
  if (env->type == TR_MSG_ASK) return tr_reply(ctx, env, env->data, env->len);
  if (env->type == TR_MSG_SEND) return tr_publish(ctx, env->data, env->len);
  return 0;
}

static const tr_actor_type echo_type = {.name = "echo",
                                        .receive = echo_receive};

static void fz_turns(int n) {
  for (int i = 0; i < n; i++) uv_run(tr_node_loop(fz_node), UV_RUN_NOWAIT);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  static test_pki pki;
  static char dir[] = "/tmp/fuzz_op_request.XXXXXX";
  char ca[128], cert[128], key[128];
  if (pki_init(&pki) != 0 || !mkdtemp(dir) ||
      pki_write_files(&pki, dir, "fz") != 0)
    goto fail;
  snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
  snprintf(cert, sizeof(cert), "%s/fz.pem", dir);
  snprintf(key, sizeof(key), "%s/fz.key", dir);
  tr_node_config cfg = {.name = "fz", .listen = "127.0.0.1:0",
                        .ca_file = ca, .cert_file = cert, .key_file = key};
  if (tr_node_new(&fz_node, &cfg) != 0) goto fail;
  /* The files are read: the directory can go now. */
  unlink(ca), unlink(cert), unlink(key), rmdir(dir);
  static const char rules[] =
      "deny client:ops* send,ask secret*\n"
      "deny role:viewer subscribe * private\n"
      "default allow\n";
  if (tr_node_set_policy(fz_node, rules, NULL, 0) != 0 ||
      tr_node_spawn(fz_node, &echo_type, &(tr_spawn_opts){.id = "echo"}) != 0)
    goto fail;
  fz_cluster = node_cluster(fz_node);
  fz_turns(4);
  return 0;
fail:
  fprintf(stderr, "fuzz_op_request: setup failed\n");
  exit(1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  static const tls_peer_role roles[4] = {TLS_PEER_OPERATOR, TLS_PEER_VIEWER,
                                         TLS_PEER_NODE, TLS_PEER_OPERATOR};
  peer_link *lk = link_find(fz_cluster->links, FZ_CLIENT);
  if (!lk) lk = link_create(fz_cluster->links, FZ_CLIENT);
  if (!lk) return 0;
  lk->role = roles[data[0] & 3];
  host_op_on_frame(fz_cluster, lk, data + 1, size - 1);
  fz_turns(4);
  host_op_client_gone(fz_cluster, FZ_CLIENT);
  link_close(lk);
  fz_turns(4);
  return 0;
}
