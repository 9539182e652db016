/* codec.c — encoding and decoding control and cluster frames with nanopb's
 * generic pb_encode / pb_decode. The envelope, the one message on the hot
 * path, has its own codec (codec_envelope.c). */
#include <pb_decode.h>
#include <pb_encode.h>
#include <string.h>

#include "troupe.h"
#include "wire.h"

static const pb_msgdesc_t *control_fields(troupe_FrameKind kind) {
  switch (kind) {
  case troupe_FrameKind_FRAME_HELLO:
    return troupe_Hello_fields;
  case troupe_FrameKind_FRAME_ACK:
    return troupe_Ack_fields;
  case troupe_FrameKind_FRAME_PING:
    return troupe_Ping_fields;
  case troupe_FrameKind_FRAME_PONG:
    return troupe_Pong_fields;
  case troupe_FrameKind_FRAME_CLOSE:
    return troupe_Close_fields;
  default:
    return NULL;
  }
}

int wire_encode_control(uint8_t *buf, size_t cap, troupe_FrameKind kind,
                        const void *msg) {
  return wire_encode_msg(buf, cap, kind, control_fields(kind), msg);
}

int wire_encode_msg(uint8_t *buf, size_t cap, troupe_FrameKind kind,
                    const pb_msgdesc_t *fields, const void *msg) {
  if (!fields || !msg || kind == troupe_FrameKind_FRAME_NONE ||
      kind == troupe_FrameKind_FRAME_ENVELOPE || (unsigned)kind > 255)
    return TR_EINVAL;
  if (cap < WIRE_HDR) return TR_EFULL;
  pb_ostream_t s = pb_ostream_from_buffer(buf + WIRE_HDR, cap - WIRE_HDR);
  if (!pb_encode(&s, fields, msg)) return TR_EFULL;
  wire_put_header(buf, s.bytes_written, kind);
  return (int)(WIRE_HDR + s.bytes_written);
}

int wire_decode_control(troupe_FrameKind kind, const uint8_t *body,
                        size_t len, void *out) {
  const pb_msgdesc_t *fields = control_fields(kind);
  if (!fields || !out) return TR_EINVAL;
  pb_istream_t s = pb_istream_from_buffer(body, len);
  return pb_decode(&s, fields, out) ? 0 : TR_EINVAL;
}
