/* ops_node.c — test helper for ops.sh, on the public API: `ops_node pki DIR
 * NODE...` writes the certificates (nodes; clients "ops" and "ops2"; a
 * client "ops" from a foreign CA); `ops_node run NAME LISTEN DIR [SEED...]` runs a cluster node
 * with an echo actor "echo.NAME" (asks: "NAME:" + data; "last" answers the
 * last data sent to it) and a publisher "pub.NAME" (every 100 ms: "tick N"
 * on the default topic and "alert N" on topic "alerts"), until SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "pki.h"
#include "troupe.h"

static int cmd_pki(int argc, char **argv) {
  test_pki pki;
  if (pki_init(&pki) != 0) return 1;
  int rc = 0;
  for (int i = 3; i < argc && rc == 0; i++)
    rc = pki_write_files(&pki, argv[2], argv[i]);
  const char *dir = argv[2];
  if (rc == 0)
    rc = pki_write_client_files(&pki, dir, "client", "ops", PKI_GOOD,
                                "operator");
  if (rc == 0)
    rc = pki_write_client_files(&pki, dir, "client2", "ops2", PKI_GOOD,
                                "operator");
  if (rc == 0)
    rc = pki_write_client_files(&pki, dir, "rogue", "ops", PKI_OTHER_CA,
                                "operator");
  pki_free(&pki);
  if (rc != 0) fprintf(stderr, "ops_node pki: failed (%d)\n", rc);
  return rc == 0 ? 0 : 1;
}

/* ---- the actors ----------------------------------------------------------- */

typedef struct echo {
  char last[256];
} echo;

static int echo_receive(tr_ctx *ctx, void *state, const tr_envelope *env) {
  echo *e = state;
  if (env->type == TR_MSG_SEND) {
    size_t n = env->len < sizeof(e->last) - 1 ? env->len : sizeof(e->last) - 1;
    memcpy(e->last, env->data, n);
    e->last[n] = '\0';
  } else if (env->type == TR_MSG_ASK) {
    char out[512];
    int n;
    if (env->len == 4 && memcmp(env->data, "last", 4) == 0)
      n = snprintf(out, sizeof(out), "%s", e->last);
    else
      n = snprintf(out, sizeof(out), "%s:%.*s", tr_node_name(tr_node_of(ctx)),
                   (int)(env->len < 256 ? env->len : 256),
                   (const char *)env->data);
    tr_reply(ctx, env, out, (size_t)n);
  }
  return 0;
}

static const tr_actor_type echo_type = {
    .name = "echo", .state_size = sizeof(echo), .receive = echo_receive};

typedef struct pub {
  unsigned n;
} pub;

static int pub_init(tr_ctx *ctx, void *state, const void *arg) {
  return tr_send_every(ctx, 100, tr_self(ctx), "t", 1, NULL);
}

static int pub_receive(tr_ctx *ctx, void *state, const tr_envelope *env) {
  pub *p = state;
  if (env->type != TR_MSG_SEND) return 0;
  char msg[64];
  p->n++;
  int n = snprintf(msg, sizeof(msg), "tick %u", p->n);
  tr_publish(ctx, msg, (size_t)n);
  n = snprintf(msg, sizeof(msg), "alert %u", p->n);
  tr_publish_topic(ctx, "alerts", msg, (size_t)n);
  return 0;
}

static const tr_actor_type pub_type = {.name = "pub",
                                       .state_size = sizeof(pub),
                                       .init = pub_init,
                                       .receive = pub_receive};

static void on_signal(uv_signal_t *s, int signum) { tr_node_stop(s->data); }

static void on_log(void *user, tr_log_level level, const char *event,
                   const char *fields) {
  fprintf(stderr, "%s %s\n", event, fields);
}

static int cmd_run(int argc, char **argv) {
  const char *name = argv[2], *dir = argv[4];
  char ca[512], cert[512], key[512], id[300];
  snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
  snprintf(cert, sizeof(cert), "%s/%s.pem", dir, name);
  snprintf(key, sizeof(key), "%s/%s.key", dir, name);
  tr_node_config cfg = {.name = name,
                        .listen = argv[3],
                        .seeds = (const char *const *)argv + 5,
                        .nseeds = (size_t)(argc - 5),
                        .ca_file = ca,
                        .cert_file = cert,
                        .key_file = key,
                        .log = on_log,
                        .log_level = TR_LOG_INFO,
                        .probe_interval_ms = 200,
                        .probe_timeout_ms = 100};
  tr_node *n;
  int rc = tr_node_new(&n, &cfg);
  if (rc != 0) {
    fprintf(stderr, "ops_node: tr_node_new: %s\n", tr_errname(rc));
    return 1;
  }
  snprintf(id, sizeof(id), "echo.%s", name);
  rc = tr_node_spawn(n, &echo_type, &(tr_spawn_opts){.id = id});
  snprintf(id, sizeof(id), "pub.%s", name);
  if (rc == 0) rc = tr_node_spawn(n, &pub_type, &(tr_spawn_opts){.id = id});
  if (rc != 0) {
    fprintf(stderr, "ops_node: spawn: %s\n", tr_errname(rc));
    tr_node_free(n);
    return 1;
  }
  uv_signal_t sigterm, sigint;
  uv_signal_init(tr_node_loop(n), &sigterm);
  uv_signal_init(tr_node_loop(n), &sigint);
  sigterm.data = sigint.data = n;
  uv_signal_start(&sigterm, on_signal, SIGTERM);
  uv_signal_start(&sigint, on_signal, SIGINT);
  printf("ready\n");
  fflush(stdout);
  tr_node_run(n);
  uv_close((uv_handle_t *)&sigterm, NULL);
  uv_close((uv_handle_t *)&sigint, NULL);
  tr_node_run_once(n); /* the close callbacks */
  tr_node_free(n);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "pki") == 0) return cmd_pki(argc, argv);
  if (argc >= 5 && strcmp(argv[1], "run") == 0) return cmd_run(argc, argv);
  fprintf(stderr, "usage: ops_node pki DIR NODE... | "
                  "ops_node run NAME LISTEN DIR [SEED...]\n");
  return 2;
}
