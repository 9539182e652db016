/* metrics_serve.c — a 2-node cluster (tests/support/cluster_harness) with
 * some traffic, whose node n1 serves /metrics, for the promtool and
 * Prometheus checks of tests/daemon. `--once` prints one exposition and
 * exits; `--serve` prints "port=N" and serves until stdin closes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_harness.h"
#include "http.h"
#include "metrics.h"

typedef struct serve {
  http_server *srv;
  char *text;
  size_t len;
} serve;

static int do_start(tr_node *n, void *arg) {
  serve *s = arg;
  char err[128];
  http_opts o = {.addr = "127.0.0.1:0"};
  int rc = http_start(&s->srv, n, &o, err, sizeof(err));
  if (rc != 0) fprintf(stderr, "metrics_serve: %s\n", err);
  return rc;
}

static int do_stop(tr_node *n, void *arg) {
  http_stop(((serve *)arg)->srv);
  return 0;
}

static int do_render(tr_node *n, void *arg) {
  serve *s = arg;
  return metrics_render(n, NULL, &s->text, &s->len);
}

static bool both_alive(tn_cluster *c, void *arg) {
  return tn_members_in(c, 0, TR_MEMBER_ALIVE) == 2 &&
         tn_members_in(c, 1, TR_MEMBER_ALIVE) == 2;
}

static bool published(tn_cluster *c, void *arg) {
  return tn_find(c, "publish", "p1", NULL, false, 0, NULL);
}

int main(int argc, char **argv) {
  bool once = argc == 2 && strcmp(argv[1], "--once") == 0;
  if (!once && !(argc == 2 && strcmp(argv[1], "--serve") == 0)) {
    fprintf(stderr, "usage: metrics_serve --once|--serve\n");
    return 2;
  }
  tn_cluster *c;
  int rc = tn_new(&c, 2, NULL);
  if (rc != 0) {
    fprintf(stderr, "metrics_serve: cluster: %s\n", tr_strerror(rc));
    return 1;
  }
  int status = 1;
  serve s = {0};
  if (tn_wait(c, both_alive, NULL, 20000) < 0) {
    fprintf(stderr, "metrics_serve: the nodes did not meet\n");
    goto out;
  }
  /* Traffic, so the per-peer and per-publisher series have values. */
  tn_probe(c, 0, "p0");
  tn_probe(c, 1, "p1");
  tn_cmd(c, 1, "p1", "sub p0");
  tn_cmd(c, 1, "p1", "send p0 hi");
  for (int t = 0; t < 50; t++) {
    tn_cmd(c, 0, "p0", "pub - hello");
    if (tn_wait(c, published, NULL, 200) >= 0) break;
  }
  if (once) {
    if (tn_call(c, 1, do_render, &s) != 0) goto out;
    fwrite(s.text, 1, s.len, stdout);
    free(s.text);
    status = 0;
    goto out;
  }
  if (tn_call(c, 1, do_start, &s) != 0) goto out;
  printf("port=%d\n", http_port(s.srv));
  fflush(stdout);
  char buf[256];
  while (fgets(buf, sizeof(buf), stdin)) {
  }
  tn_call(c, 1, do_stop, &s);
  status = 0;
out:
  tn_free(c);
  return status;
}
