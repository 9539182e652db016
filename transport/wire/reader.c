/* reader.c — splits a byte stream into frames. The announced length is
 * checked against the maximum before any of the frame is buffered, so a
 * hostile length costs nothing; a frame's bytes stay in place until the
 * next read (decoders point into them). */
#include <stdlib.h>
#include <string.h>

#include "troupe.h"
#include "wire.h"

#define READER_MIN_CAP 16384u

void wire_reader_init(wire_reader *r, uint32_t max_frame) {
  memset(r, 0, sizeof(*r));
  r->max_frame = max_frame ? max_frame : WIRE_MAX_FRAME_DEFAULT;
}

void wire_reader_free(wire_reader *r) {
  free(r->buf);
  memset(r, 0, sizeof(*r));
}

uint8_t *wire_reader_space(wire_reader *r, size_t want, size_t *avail) {
  /* Move unread bytes to the front once frames before them are done. */
  if (r->start > 0) {
    memmove(r->buf, r->buf + r->start, r->end - r->start);
    r->end -= r->start;
    r->start = 0;
  }
  if (want == 0) want = 1;
  if (r->cap - r->end < want) {
    size_t cap = r->cap ? r->cap : READER_MIN_CAP;
    while (cap - r->end < want) cap *= 2;
    uint8_t *b = realloc(r->buf, cap);
    if (!b) return NULL;
    r->buf = b;
    r->cap = cap;
  }
  *avail = r->cap - r->end;
  return r->buf + r->end;
}

void wire_reader_commit(wire_reader *r, size_t n) { r->end += n; }

void wire_reader_shrink(wire_reader *r, size_t keep) {
  if (r->start != r->end || r->cap <= keep) return;
  free(r->buf);
  r->buf = NULL;
  r->cap = r->start = r->end = 0;
}

int wire_reader_feed(wire_reader *r, const void *data, size_t len) {
  size_t avail;
  uint8_t *p = wire_reader_space(r, len, &avail);
  if (!p) return TR_ENOMEM;
  memcpy(p, data, len);
  wire_reader_commit(r, len);
  return 0;
}

int wire_reader_next(wire_reader *r, wire_frame *f) {
  size_t have = r->end - r->start;
  if (have < 4) return 0;
  const uint8_t *p = r->buf + r->start;
  uint32_t n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
               (uint32_t)p[2] << 8 | p[3];
  if (n == 0) return TR_EINVAL;
  if (n > r->max_frame) return TR_ETOOBIG;
  if (have < 4 + (size_t)n) return 0;
  f->kind = (troupe_FrameKind)p[4];
  f->body = p + WIRE_HDR;
  f->len = n - 1;
  r->start += 4 + (size_t)n;
  return 1;
}
