/* fuzz_link.c — a peer's side of a new link connection after TLS: its
 * hello, then frames through the link's stream (link_fuzz_input), on a
 * link manager of a node "fz" that never listens. */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "fuzz.h"
#include "link_int.h"
#include "pki.h"

static uv_loop_t fz_loop;
static link_mgr *fz_mgr;

/* What a link hands up is read whole, so ASan sees any slice that points
 * past its frame. */
static volatile uint8_t fz_sink;

static void touch(wire_slice s) {
  for (size_t i = 0; i < s.len; i++) fz_sink ^= s.p[i];
}

static void touch_env(const wire_envelope *e) {
  touch(e->sender);
  touch(e->target);
  touch(e->topic);
  touch(e->payload);
}

static void on_envelope(void *user, peer_link *lk, const wire_envelope *e) {
  touch_env(e);
}

static void on_undeliverable(void *user, peer_link *lk,
                             const wire_envelope *e, int reason) {
  touch_env(e);
}

static void on_frame(void *user, peer_link *lk, troupe_FrameKind kind,
                     const uint8_t *body, size_t len) {
  touch((wire_slice){body, len});
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  static test_pki pki;
  tls_config *tls;
  if (uv_loop_init(&fz_loop) != 0 || pki_init(&pki) != 0 ||
      !(tls = pki_tls(&pki, "fz", PKI_GOOD))) {
    fprintf(stderr, "fuzz_link: setup failed\n");
    exit(1);
  }
  link_config c = {.loop = &fz_loop,
                   .tls = tls,
                   .node_name = "fz",
                   .incarnation = 1,
                   .max_frame = 1u << 16,
                   .ops = {.on_envelope = on_envelope,
                           .on_undeliverable = on_undeliverable,
                           .on_frame = on_frame}};
  if (link_mgr_new(&fz_mgr, &c) != 0) exit(1);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  (void)link_fuzz_input(fz_mgr, data, size);
  /* The closed link's timers, then its memory. */
  for (int i = 0; i < 4 && uv_run(&fz_loop, UV_RUN_NOWAIT) != 0; i++) {
  }
  return 0;
}
