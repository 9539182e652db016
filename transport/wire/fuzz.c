/* fuzz.c — the wire fuzz entry point: arbitrary bytes through the frame
 * reader and every decoder, exactly as a link handles what a peer sends. */
#include <string.h>

#include "troupe.h"
#include "wire.h"

static int decode_frame(const wire_frame *f) {
  if (f->kind == troupe_FrameKind_FRAME_ENVELOPE) {
    wire_envelope e;
    return wire_decode_envelope(f->body, f->len, &e);
  }
  union {
    troupe_Hello hello;
    troupe_Ack ack;
    troupe_Ping ping;
    troupe_Pong pong;
    troupe_Close close;
  } m;
  memset(&m, 0, sizeof(m));
  return wire_decode_control(f->kind, f->body, f->len, &m);
}

int wire_fuzz_input(const uint8_t *data, size_t len) {
  wire_reader r;
  wire_reader_init(&r, 64 * 1024);
  int frames = 0, rc = 0;
  /* Feed in uneven pieces so frames straddle reads. */
  size_t off = 0, step = 1;
  while (off < len && rc >= 0) {
    size_t n = len - off < step ? len - off : step;
    rc = wire_reader_feed(&r, data + off, n);
    off += n;
    step = step * 3 % 1021 + 1;
    wire_frame f;
    while (rc >= 0 && (rc = wire_reader_next(&r, &f)) == 1) {
      rc = decode_frame(&f);
      if (rc == 0) frames++;
    }
  }
  wire_reader_free(&r);
  return rc < 0 ? rc : frames;
}
