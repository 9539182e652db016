/* fuzz.c — the link's fuzz entry point: what a peer sends on a new
 * connection once TLS is up (its hello, then frames), through the same
 * checks and stream code a real connection's bytes meet. See link_int.h. */
#include <string.h>

#include "link_int.h"

/* Envelopes of our own stream, written and not yet acked: what the
 * peer's hello (recv_seq) and acks act on. */
#define FUZZ_RESEND 3

/* Gives lk a resend buffer of FUZZ_RESEND envelopes and a session the
 * input can name (1), as if they had gone out on an earlier connection. */
static void fuzz_fill_resend(peer_link *lk) {
  lk->my_session = 1;
  for (int i = 0; i < FUZZ_RESEND; i++) {
    static const char payload[] = "fuzz";
    wire_envelope e = {.type = TR_MSG_SEND,
                       .sender = {(const uint8_t *)"a", 1},
                       .target = {(const uint8_t *)"b", 1},
                       .payload = {(const uint8_t *)payload, 4}};
    if (link_send(lk, &e) != 0) break;
  }
  if (!lk->q_head) return;
  lk->r_head = lk->q_head;
  lk->r_tail = lk->q_tail;
  lk->q_head = lk->q_tail = NULL;
  lk->written_seq = lk->send_seq;
}

int link_fuzz_input(link_mgr *m, const uint8_t *data, size_t len) {
  wire_reader r;
  wire_reader_init(&r, m->cfg.max_frame);
  wire_frame f;
  int rc = wire_reader_feed(&r, data, len);
  if (rc == 0) rc = wire_reader_next(&r, &f);
  if (rc != 1) goto out;
  /* The hello, as hello_read takes it (the certificate's part aside). */
  troupe_Hello h = troupe_Hello_init_zero;
  if (f.kind != troupe_FrameKind_FRAME_HELLO ||
      wire_decode_control(f.kind, f.body, f.len, &h) != 0 ||
      !hello_well_formed(&h) || strcmp(h.node, m->name) == 0) {
    rc = TR_EINVAL;
    goto out;
  }
  peer_link *lk = link_find(m, h.node);
  if (!lk) lk = link_create(m, h.node);
  if (!lk) {
    rc = TR_ENOMEM;
    goto out;
  }
  fuzz_fill_resend(lk);
  lk->features = h.features;
  link_stream_resume(lk, &h);
  int frames = 1;
  while ((rc = wire_reader_next(&r, &f)) == 1) {
    frames++;
    if (link_on_frame(lk, &f) != LINK_CLOSE_NONE) break;
  }
  link_close(lk);
  rc = rc < 0 ? rc : frames;
out:
  wire_reader_free(&r);
  return rc;
}
