/* codec.c — encoding and decoding frames with nanopb. Envelope strings and
 * payload go through callbacks: encoding writes them straight into the
 * frame buffer, decoding points into the received frame, so a payload is
 * never copied by this layer. */
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

static void put_header(uint8_t *buf, size_t body_len, troupe_FrameKind kind) {
  uint32_t n = (uint32_t)body_len + 1;
  buf[0] = (uint8_t)(n >> 24);
  buf[1] = (uint8_t)(n >> 16);
  buf[2] = (uint8_t)(n >> 8);
  buf[3] = (uint8_t)n;
  buf[4] = (uint8_t)kind;
}

static bool encode_slice(pb_ostream_t *s, const pb_field_t *f,
                         void *const *arg) {
  const wire_slice *sl = *arg;
  return pb_encode_tag_for_field(s, f) && pb_encode_string(s, sl->p, sl->len);
}

static bool decode_slice(pb_istream_t *s, const pb_field_t *f, void **arg) {
  wire_slice *sl = *arg;
  /* A buffer stream's state is its read position: point into the frame. */
  sl->p = s->state;
  sl->len = s->bytes_left;
  return pb_read(s, NULL, s->bytes_left);
}

size_t wire_envelope_bound(const wire_envelope *e) {
  /* Per field: tag (1) + varint length (<= 10) + data; numbers <= 11. */
  return WIRE_HDR + 6 * 11 + 4 * 11 + e->sender.len + e->target.len +
         e->topic.len + e->payload.len + e->future.len;
}

int wire_encode_envelope(uint8_t *buf, size_t cap, uint32_t max_frame,
                         const wire_envelope *e) {
  /* The data alone is a lower bound of the body: reject early. */
  if (e->payload.len + e->target.len + e->sender.len + e->topic.len + 1 >
      max_frame)
    return TR_ETOOBIG;
  if (cap < WIRE_HDR) return TR_EFULL;
  troupe_Envelope m = troupe_Envelope_init_zero;
  m.has_type = true;
  m.type = e->type;
  if (e->sender.len) {
    m.sender.funcs.encode = encode_slice;
    m.sender.arg = (void *)&e->sender;
  }
  m.target.funcs.encode = encode_slice;
  m.target.arg = (void *)&e->target;
  if (e->topic.p) {
    m.topic.funcs.encode = encode_slice;
    m.topic.arg = (void *)&e->topic;
  }
  if (e->payload.len) {
    m.payload.funcs.encode = encode_slice;
    m.payload.arg = (void *)&e->payload;
  }
  m.has_ask_id = e->ask_id != 0;
  m.ask_id = e->ask_id;
  m.has_status = e->status != 0;
  m.status = e->status;
  m.has_seq = e->seq != 0;
  m.seq = e->seq;
  m.has_timeout_ms = e->timeout_ms != 0;
  m.timeout_ms = e->timeout_ms;
  m.has_msg_type = e->msg_type != 0;
  m.msg_type = e->msg_type;
  pb_ostream_t s = pb_ostream_from_buffer(buf + WIRE_HDR, cap - WIRE_HDR);
  if (!pb_encode(&s, troupe_Envelope_fields, &m)) return TR_EFULL;
  if (e->future.len) {
    if (cap - WIRE_HDR - s.bytes_written < e->future.len) return TR_EFULL;
    memcpy(buf + WIRE_HDR + s.bytes_written, e->future.p, e->future.len);
    s.bytes_written += e->future.len;
  }
  if (s.bytes_written + 1 > max_frame) return TR_ETOOBIG;
  put_header(buf, s.bytes_written, troupe_FrameKind_FRAME_ENVELOPE);
  return (int)(WIRE_HDR + s.bytes_written);
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
  put_header(buf, s.bytes_written, kind);
  return (int)(WIRE_HDR + s.bytes_written);
}

/* Ids and topics are short NUL-free strings; ids are never empty (an empty
 * topic is the default topic). Absent strings are checked by the caller. */
static bool str_ok(const wire_slice *s, size_t min_len) {
  if (!s->p) return true;
  if (s->len < min_len || s->len > TR_ID_MAX) return false;
  return memchr(s->p, '\0', s->len) == NULL;
}

/* A string or bytes field sent with another wire type reaches its callback
 * as a copy on nanopb's stack, gone after the decode: such a slice does not
 * point into the body, and the envelope is malformed. */
static bool in_body(const wire_slice *s, const uint8_t *body, size_t len) {
  if (!s->p) return true;
  return s->p >= body && s->len <= len && s->p <= body + len - s->len;
}

int wire_decode_envelope(const uint8_t *body, size_t len, wire_envelope *out) {
  memset(out, 0, sizeof(*out));
  troupe_Envelope m = troupe_Envelope_init_zero;
  m.sender.funcs.decode = decode_slice;
  m.sender.arg = &out->sender;
  m.target.funcs.decode = decode_slice;
  m.target.arg = &out->target;
  m.topic.funcs.decode = decode_slice;
  m.topic.arg = &out->topic;
  m.payload.funcs.decode = decode_slice;
  m.payload.arg = &out->payload;
  pb_istream_t s = pb_istream_from_buffer(body, len);
  /* m is initialised above (with our callbacks): skip nanopb's own pass. */
  if (!pb_decode_ex(&s, troupe_Envelope_fields, &m, PB_DECODE_NOINIT))
    return TR_EINVAL;
  if (!in_body(&out->sender, body, len) || !in_body(&out->target, body, len) ||
      !in_body(&out->topic, body, len) || !in_body(&out->payload, body, len))
    return TR_EINVAL;
  if (!out->target.p || !str_ok(&out->target, 1) ||
      !str_ok(&out->sender, 1) || !str_ok(&out->topic, 0))
    return TR_EINVAL;
  out->type = m.type;
  out->ask_id = m.ask_id;
  out->status = m.status;
  out->seq = m.seq;
  out->timeout_ms = m.timeout_ms;
  out->msg_type = m.msg_type;
  out->has_sender = out->sender.p != NULL;
  out->has_topic = out->topic.p != NULL;
  return 0;
}

int wire_decode_control(troupe_FrameKind kind, const uint8_t *body,
                        size_t len, void *out) {
  const pb_msgdesc_t *fields = control_fields(kind);
  if (!fields || !out) return TR_EINVAL;
  pb_istream_t s = pb_istream_from_buffer(body, len);
  return pb_decode(&s, fields, out) ? 0 : TR_EINVAL;
}
