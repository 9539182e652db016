/* delay_proxy.c — a TCP proxy that holds every byte for N ms in each
 * direction, standing in for netem (which this kernel lacks): each node
 * advertises its proxy, so every connection crosses exactly one of them.
 *
 * usage: delay_proxy --listen H:P --to H:P --delay MS [--max-queue BYTES]
 *
 * Each direction keeps a FIFO of chunks stamped with their release time;
 * a timer writes out the chunks that are due. Order is kept. A direction
 * holding more than max-queue bytes (queued or being written) stops
 * reading until it drains to half, so memory stays bounded and the sender
 * sees TCP back-pressure. An end-of-stream is delayed like data; an error
 * on either side closes both. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct proxy {
  uv_loop_t *loop;
  uv_tcp_t server;
  struct sockaddr_storage to;
  uint64_t delay_ms;
  size_t max_queue;
  char readbuf[65536]; /* libuv calls read_cb right after alloc_cb */
} proxy;

struct conn;

typedef struct chunk {
  struct chunk *next;
  struct direction *dir;
  uv_write_t wr;
  uint64_t due;
  size_t len; /* 0: end of stream */
  char data[];
} chunk;

typedef struct direction {
  struct conn *c;
  uv_tcp_t *from, *to;
  chunk *head, *tail;
  size_t held; /* bytes queued or being written */
  uv_timer_t timer;
  bool reading, eof;
} direction;

typedef struct conn {
  proxy *p;
  uv_tcp_t down, up; /* the accepted client; the connection to --to */
  uv_connect_t connect;
  direction dir[2];  /* 0: down -> up, 1: up -> down */
  bool connected, closing;
  int open_handles;
} conn;

static void conn_close(conn *c);

static void conn_handle_closed(conn *c) {
  if (--c->open_handles > 0) return;
  for (int i = 0; i < 2; i++) {
    chunk *k = c->dir[i].head;
    while (k) {
      chunk *next = k->next;
      free(k);
      k = next;
    }
  }
  free(c);
}

static void on_handle_closed(uv_handle_t *h) { conn_handle_closed(h->data); }

static void on_timer_closed(uv_handle_t *h) {
  direction *d = h->data;
  conn_handle_closed(d->c);
}

static void conn_close(conn *c) {
  if (c->closing) return;
  c->closing = true;
  uv_close((uv_handle_t *)&c->down, on_handle_closed);
  uv_close((uv_handle_t *)&c->up, on_handle_closed);
  uv_close((uv_handle_t *)&c->dir[0].timer, on_timer_closed);
  uv_close((uv_handle_t *)&c->dir[1].timer, on_timer_closed);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  conn *c = h->data;
  buf->base = c->p->readbuf;
  buf->len = sizeof(c->p->readbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void dir_arm(direction *d);

static void dir_resume(direction *d) {
  if (d->reading || d->eof || d->c->closing) return;
  if (uv_read_start((uv_stream_t *)d->from, on_alloc, on_read) == 0)
    d->reading = true;
}

static void on_written(uv_write_t *wr, int status) {
  chunk *k = wr->data;
  direction *d = k->dir;
  d->held -= k->len;
  free(k);
  if (status < 0) {
    conn_close(d->c);
    return;
  }
  if (d->held <= d->c->p->max_queue / 2) dir_resume(d);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  conn *c = req->data;
  free(req);
  if (status < 0) conn_close(c);
  else if (c->dir[0].eof && c->dir[1].eof && !c->dir[0].head &&
           !c->dir[1].head)
    conn_close(c);
}

/* Writes out every chunk that is due, then re-arms for the next one. */
static void on_due(uv_timer_t *t) {
  direction *d = t->data;
  conn *c = d->c;
  uint64_t now = uv_now(c->p->loop);
  while (d->head && d->head->due <= now && !c->closing) {
    chunk *k = d->head;
    d->head = k->next;
    if (!d->head) d->tail = NULL;
    if (k->len == 0) { /* end of stream: half-close the other side */
      free(k);
      uv_shutdown_t *req = malloc(sizeof(*req));
      if (!req) {
        conn_close(c);
        return;
      }
      req->data = c;
      if (uv_shutdown(req, (uv_stream_t *)d->to, on_shutdown) != 0) {
        free(req);
        conn_close(c);
        return;
      }
      continue;
    }
    k->wr.data = k;
    uv_buf_t b = uv_buf_init(k->data, (unsigned)k->len);
    if (uv_write(&k->wr, (uv_stream_t *)d->to, &b, 1, on_written) != 0) {
      d->held -= k->len;
      free(k);
      conn_close(c);
      return;
    }
  }
  dir_arm(d);
}

static void dir_arm(direction *d) {
  if (!d->head || !d->c->connected || d->c->closing) return;
  uint64_t now = uv_now(d->c->p->loop);
  uint64_t wait = d->head->due > now ? d->head->due - now : 0;
  uv_timer_start(&d->timer, on_due, wait, 0);
}

static void dir_push(direction *d, const char *data, size_t len) {
  chunk *k = malloc(sizeof(*k) + len);
  if (!k) {
    conn_close(d->c);
    return;
  }
  k->next = NULL;
  k->dir = d;
  k->len = len;
  k->due = uv_now(d->c->p->loop) + d->c->p->delay_ms;
  if (len) memcpy(k->data, data, len);
  bool was_empty = !d->head;
  if (d->tail) d->tail->next = k;
  else d->head = k;
  d->tail = k;
  d->held += len;
  if (was_empty) dir_arm(d);
  if (d->held > d->c->p->max_queue && d->reading) {
    uv_read_stop((uv_stream_t *)d->from);
    d->reading = false;
  }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  conn *c = s->data;
  direction *d = (uv_tcp_t *)s == &c->down ? &c->dir[0] : &c->dir[1];
  if (nread == 0) return;
  if (nread == UV_EOF) {
    uv_read_stop(s);
    d->reading = false;
    d->eof = true;
    dir_push(d, NULL, 0);
    return;
  }
  if (nread < 0) {
    conn_close(c);
    return;
  }
  dir_push(d, buf->base, (size_t)nread);
}

static void on_connected(uv_connect_t *req, int status) {
  conn *c = req->data;
  if (c->closing) return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  c->connected = true;
  dir_resume(&c->dir[1]);
  dir_arm(&c->dir[0]); /* bytes the client sent while we connected */
}

static void on_accept(uv_stream_t *server, int status) {
  proxy *p = server->data;
  if (status < 0) return;
  conn *c = calloc(1, sizeof(*c));
  if (!c) return;
  c->p = p;
  uv_tcp_init(p->loop, &c->down);
  uv_tcp_init(p->loop, &c->up);
  c->down.data = c->up.data = c;
  c->open_handles = 4;
  for (int i = 0; i < 2; i++) {
    direction *d = &c->dir[i];
    d->c = c;
    d->from = i == 0 ? &c->down : &c->up;
    d->to = i == 0 ? &c->up : &c->down;
    uv_timer_init(p->loop, &d->timer);
    d->timer.data = d;
  }
  if (uv_accept(server, (uv_stream_t *)&c->down) != 0) {
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->down, 1);
  uv_tcp_nodelay(&c->up, 1);
  c->connect.data = c;
  if (uv_tcp_connect(&c->connect, &c->up, (struct sockaddr *)&p->to,
                     on_connected) != 0) {
    conn_close(c);
    return;
  }
  dir_resume(&c->dir[0]);
}

static int parse_addr(const char *s, struct sockaddr_storage *out) {
  char host[128];
  const char *colon = strrchr(s, ':');
  if (!colon || (size_t)(colon - s) >= sizeof(host)) return -1;
  memcpy(host, s, (size_t)(colon - s));
  host[colon - s] = '\0';
  int port = atoi(colon + 1);
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)out) == 0) return 0;
  return uv_ip6_addr(host, port, (struct sockaddr_in6 *)out) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  static proxy p;
  const char *listen = NULL, *to = NULL;
  p.max_queue = 4u << 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--listen") == 0) listen = argv[i + 1];
    else if (strcmp(argv[i], "--to") == 0) to = argv[i + 1];
    else if (strcmp(argv[i], "--delay") == 0) p.delay_ms = strtoull(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--max-queue") == 0) p.max_queue = strtoull(argv[i + 1], NULL, 10);
  }
  struct sockaddr_storage la;
  if (!listen || !to || parse_addr(listen, &la) != 0 ||
      parse_addr(to, &p.to) != 0) {
    fprintf(stderr, "usage: delay_proxy --listen H:P --to H:P --delay MS "
                    "[--max-queue BYTES]\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN); /* a write to a closed peer is an error, not death */
  p.loop = uv_default_loop();
  uv_tcp_init(p.loop, &p.server);
  p.server.data = &p;
  int rc = uv_tcp_bind(&p.server, (struct sockaddr *)&la, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&p.server, 128, on_accept);
  if (rc != 0) {
    fprintf(stderr, "delay_proxy: listen %s: %s\n", listen, uv_strerror(rc));
    return 1;
  }
  fprintf(stderr, "delay_proxy: %s -> %s, %llu ms each way\n", listen, to,
          (unsigned long long)p.delay_ms);
  return uv_run(p.loop, UV_RUN_DEFAULT);
}
