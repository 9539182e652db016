/* wire_ref.c — the reference envelope codec (wire_ref.h). */
#include <pb_decode.h>
#include <pb_encode.h>
#include <string.h>

#include "troupe.h"
#include "wire_ref.h"

static bool ref_encode_slice(pb_ostream_t *s, const pb_field_t *f,
                             void *const *arg) {
  const wire_slice *sl = *arg;
  return pb_encode_tag_for_field(s, f) && pb_encode_string(s, sl->p, sl->len);
}

static bool ref_decode_slice(pb_istream_t *s, const pb_field_t *f, void **arg) {
  (void)f;
  wire_slice *sl = *arg;
  sl->p = s->state;
  sl->len = s->bytes_left;
  return pb_read(s, NULL, s->bytes_left);
}

int wire_ref_encode_envelope(uint8_t *buf, size_t cap, uint32_t max_frame,
                              const wire_envelope *e) {
  if (e->payload.len + e->target.len + e->sender.len + e->topic.len + 1 >
      max_frame)
    return TR_ETOOBIG;
  if (cap < WIRE_HDR) return TR_EFULL;
  troupe_Envelope m = troupe_Envelope_init_zero;
  m.has_type = true;
  m.type = e->type;
  if (e->sender.len) {
    m.sender.funcs.encode = ref_encode_slice;
    m.sender.arg = (void *)&e->sender;
  }
  m.target.funcs.encode = ref_encode_slice;
  m.target.arg = (void *)&e->target;
  if (e->topic.p) {
    m.topic.funcs.encode = ref_encode_slice;
    m.topic.arg = (void *)&e->topic;
  }
  if (e->payload.len) {
    m.payload.funcs.encode = ref_encode_slice;
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
  wire_put_header(buf, s.bytes_written, troupe_FrameKind_FRAME_ENVELOPE);
  return (int)(WIRE_HDR + s.bytes_written);
}

static bool ref_str_ok(const wire_slice *s, size_t min_len) {
  if (!s->p) return true;
  if (s->len < min_len || s->len > TR_ID_MAX) return false;
  return memchr(s->p, '\0', s->len) == NULL;
}

static bool ref_in_body(const wire_slice *s, const uint8_t *body, size_t len) {
  if (!s->p) return true;
  return s->p >= body && s->len <= len && s->p <= body + len - s->len;
}

int wire_ref_decode_envelope(const uint8_t *body, size_t len,
                              wire_envelope *out) {
  memset(out, 0, sizeof(*out));
  troupe_Envelope m = troupe_Envelope_init_zero;
  m.sender.funcs.decode = ref_decode_slice;
  m.sender.arg = &out->sender;
  m.target.funcs.decode = ref_decode_slice;
  m.target.arg = &out->target;
  m.topic.funcs.decode = ref_decode_slice;
  m.topic.arg = &out->topic;
  m.payload.funcs.decode = ref_decode_slice;
  m.payload.arg = &out->payload;
  pb_istream_t s = pb_istream_from_buffer(body, len);
  if (!pb_decode_ex(&s, troupe_Envelope_fields, &m, PB_DECODE_NOINIT))
    return TR_EINVAL;
  if (!ref_in_body(&out->sender, body, len) ||
      !ref_in_body(&out->target, body, len) ||
      !ref_in_body(&out->topic, body, len) ||
      !ref_in_body(&out->payload, body, len))
    return TR_EINVAL;
  if (!out->target.p || !ref_str_ok(&out->target, 1) ||
      !ref_str_ok(&out->sender, 1) || !ref_str_ok(&out->topic, 0))
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
