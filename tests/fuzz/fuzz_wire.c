/* fuzz_wire.c — the frame reader and every decoder of transport/wire:
 * arbitrary bytes as a link's stream (wire_fuzz_input), and a differential
 * check of the envelope decoder (codec_envelope.c) against nanopb's generic
 * decoder over the descriptor, the path it replaced: on the input taken as
 * an envelope body, and on every envelope frame the reader finds in it,
 * both must accept or refuse alike and, when they accept, agree on every
 * field. */
#include <string.h>

#include "fuzz.h"
#include "troupe.h"
#include "wire.h"
#include "wire_ref.h"

static bool same_slice(wire_slice a, wire_slice b) {
  return a.p == b.p && a.len == b.len;
}

static void decoders_agree(const uint8_t *body, size_t len) {
  wire_envelope a, b;
  int ra = wire_decode_envelope(body, len, &a);
  int rb = wire_ref_decode_envelope(body, len, &b);
  FUZZ_REQUIRE(ra == rb);
  if (ra) return;
  FUZZ_REQUIRE(a.type == b.type && a.ask_id == b.ask_id &&
               a.status == b.status && a.seq == b.seq &&
               a.timeout_ms == b.timeout_ms && a.msg_type == b.msg_type &&
               a.has_sender == b.has_sender && a.has_topic == b.has_topic);
  FUZZ_REQUIRE(same_slice(a.sender, b.sender) &&
               same_slice(a.target, b.target) &&
               same_slice(a.topic, b.topic) &&
               same_slice(a.payload, b.payload));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  (void)wire_fuzz_input(data, size);
  decoders_agree(data, size);
  wire_reader r;
  wire_reader_init(&r, 64 * 1024);
  wire_frame f;
  if (wire_reader_feed(&r, data, size) == 0)
    while (wire_reader_next(&r, &f) == 1)
      if (f.kind == troupe_FrameKind_FRAME_ENVELOPE)
        decoders_agree(f.body, f.len);
  wire_reader_free(&r);
  return 0;
}
