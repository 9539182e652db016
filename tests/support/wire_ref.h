/* wire_ref.h — the envelope codec as it was before
 * transport/wire/codec_envelope.c: pb_encode and pb_decode_ex over the
 * generated descriptor, strings and payload through callbacks. Kept, in
 * behaviour verbatim, as the reference the field-by-field codec must match
 * byte for byte and verdict for verdict (tests/unit/test_wire.c,
 * tests/fuzz/fuzz_wire.c). Same contracts as wire_encode_envelope and
 * wire_decode_envelope. */
#ifndef TR_WIRE_REF_H
#define TR_WIRE_REF_H

#include "wire.h"

int wire_ref_encode_envelope(uint8_t *buf, size_t cap, uint32_t max_frame,
                             const wire_envelope *e);
int wire_ref_decode_envelope(const uint8_t *body, size_t len,
                             wire_envelope *out);

#endif
