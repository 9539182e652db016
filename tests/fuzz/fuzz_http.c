/* fuzz_http.c — requests to the daemon's HTTP endpoint (http.c): a local
 * node serving /metrics, /healthz and /readyz on a loopback port, and per
 * input one connection that sends the input, half-closes and reads the
 * answer while the node's loop runs. Only the public http.h is used, so
 * the request parser is reached exactly as a scraper reaches it. Every
 * wait is bounded by loop turns. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "fuzz.h"
#include "http.h"
#include "troupe.h"

#define FZ_TURNS 2000 /* loop turns one input may take */

static tr_node *fz_node;
static http_server *fz_http;
static struct sockaddr_in fz_addr;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  char err[256];
  /* A small head limit, so the fuzzer meets 431 with small inputs. */
  http_opts o = {.addr = "127.0.0.1:0", .max_request = 512};
  if (tr_node_new(&fz_node, NULL) != 0 ||
      http_start(&fz_http, fz_node, &o, err, sizeof(err)) != 0) {
    fprintf(stderr, "fuzz_http: setup failed: %s\n", err);
    exit(1);
  }
  fz_addr.sin_family = AF_INET;
  fz_addr.sin_port = htons((uint16_t)http_port(fz_http));
  fz_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return 0;
}

static void turn(void) { uv_run(tr_node_loop(fz_node), UV_RUN_NOWAIT); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  if (connect(fd, (struct sockaddr *)&fz_addr, sizeof(fz_addr)) != 0 ||
      fcntl(fd, F_SETFL, O_NONBLOCK) != 0)
    goto out;
  size_t sent = 0;
  bool shut = false;
  char answer[4096];
  for (int i = 0; i < FZ_TURNS; i++) {
    turn();
    if (sent < size) {
      ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
      if (n > 0) sent += (size_t)n;
      else if (n < 0 && errno != EAGAIN) break;
    } else if (!shut) {
      shutdown(fd, SHUT_WR);
      shut = true;
    }
    ssize_t n = recv(fd, answer, sizeof(answer), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN)) break; /* answered, closed */
  }
out:
  /* A reset, not a FIN: no TIME_WAIT left behind per input. */
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &(struct linger){1, 0},
             sizeof(struct linger));
  close(fd);
  for (int i = 0; i < 8; i++) turn(); /* the server side closes */
  return 0;
}
