/* wire_client.c — see wire_client.h. */
#include "wire_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "tls.h"

struct wc {
  uv_loop_t loop;
  uv_timer_t tick; /* bounds each turn of wc_run */
  tls_config *tls;
  link_mgr *mgr;
  bool freed;
  wc_frame *frames;
  size_t nframes, cap;
  size_t nenvelopes, downs;
  link_seed_failure fail;
  char detail[512];
};

static void on_frame(void *user, peer_link *lk, troupe_FrameKind kind,
                     const uint8_t *body, size_t len) {
  wc *w = user;
  (void)lk;
  if (w->nframes == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 16;
    wc_frame *f = realloc(w->frames, cap * sizeof(*f));
    if (!f) return;
    w->frames = f;
    w->cap = cap;
  }
  wc_frame *f = &w->frames[w->nframes];
  f->body = malloc(len ? len : 1);
  if (!f->body) return;
  memcpy(f->body, body, len);
  f->len = len;
  f->kind = kind;
  w->nframes++;
}

static void on_envelope(void *user, peer_link *lk, const wire_envelope *e) {
  (void)lk, (void)e;
  ((wc *)user)->nenvelopes++;
}

static void on_state(void *user, peer_link *lk, link_state st) {
  (void)lk;
  if (st == LINK_DOWN) ((wc *)user)->downs++;
}

static void on_seed_failed(void *user, const char *addr,
                           const link_seed_failure *f) {
  wc *w = user;
  (void)addr;
  w->fail = *f;
  snprintf(w->detail, sizeof(w->detail), "%s", f->tls_detail);
  w->fail.tls_detail = w->detail;
  w->fail.uv_error_name = w->fail.uv_error_message = "";
}

static void on_freed(void *user) { ((wc *)user)->freed = true; }

int wc_new(wc **out, const wc_opts *o) {
  wc *w = calloc(1, sizeof(*w));
  if (!w) return TR_ENOMEM;
  char err[256];
  tls_config_opts to = {.ca_file = o->ca_file, .cert_file = o->cert_file,
                        .key_file = o->key_file};
  int rc = tls_config_new(&w->tls, &to, err, sizeof(err));
  if (rc != 0) {
    fprintf(stderr, "wc_new: %s\n", err);
    free(w);
    return rc;
  }
  uv_loop_init(&w->loop);
  uv_timer_init(&w->loop, &w->tick);
  struct timeval tv;
  gettimeofday(&tv, NULL);
  link_config lc = {
      .loop = &w->loop,
      .tls = w->tls,
      .node_name = o->name,
      .incarnation = o->incarnation ? o->incarnation
                                    : (uint64_t)tv.tv_sec * 1000 +
                                          (uint64_t)tv.tv_usec / 1000,
      .handshake_timeout_ms = o->handshake_timeout_ms
                                  ? o->handshake_timeout_ms
                                  : 3000,
      .ops = {.on_envelope = on_envelope,
              .on_state = on_state,
              .on_frame = on_frame,
              .on_freed = on_freed,
              .on_seed_failed = on_seed_failed},
      .user = w,
  };
  rc = link_mgr_new(&w->mgr, &lc);
  if (rc != 0) {
    uv_close((uv_handle_t *)&w->tick, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    tls_config_free(w->tls);
    free(w);
    return rc;
  }
  *out = w;
  return 0;
}

void wc_free(wc *w) {
  if (!w) return;
  link_mgr_free(w->mgr);
  uv_close((uv_handle_t *)&w->tick, NULL);
  for (int i = 0; i < 1000 && !w->freed; i++) uv_run(&w->loop, UV_RUN_NOWAIT);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  uv_loop_close(&w->loop);
  tls_config_free(w->tls);
  for (size_t i = 0; i < w->nframes; i++) free(w->frames[i].body);
  free(w->frames);
  free(w);
}

int wc_seed_frame(wc *w, const char *addr, troupe_FrameKind kind,
                  const void *msg, const pb_msgdesc_t *fields) {
  return link_send_seed(w->mgr, addr, kind, msg, fields);
}

peer_link *wc_link(wc *w, const char *name) {
  peer_link *lk = link_find(w->mgr, name);
  if (!lk) return NULL;
  link_stats st;
  link_get_stats(lk, &st);
  return st.state == LINK_UP ? lk : NULL;
}

static void on_tick(uv_timer_t *t) { (void)t; }

bool wc_run(wc *w, bool (*pred)(wc *, void *), void *arg, uint32_t ms) {
  uint64_t end = uv_hrtime() / 1000000u + ms;
  /* A 5 ms timer bounds each turn, so the deadline is read again. */
  uv_timer_start(&w->tick, on_tick, 5, 5);
  bool held;
  while (!(held = pred(w, arg)) && uv_hrtime() / 1000000u < end)
    uv_run(&w->loop, UV_RUN_ONCE);
  uv_timer_stop(&w->tick);
  return held;
}

size_t wc_nframes(wc *w) { return w->nframes; }
const wc_frame *wc_frame_at(wc *w, size_t i) {
  return i < w->nframes ? &w->frames[i] : NULL;
}
size_t wc_nenvelopes(wc *w) { return w->nenvelopes; }
const link_seed_failure *wc_seed_failure(wc *w) { return &w->fail; }
const char *wc_seed_detail(wc *w) { return w->detail; }
size_t wc_downs(wc *w) { return w->downs; }
