/* codec_envelope.c — the envelope frame (message Envelope of troupe.proto),
 * written and read field by field rather than through nanopb's descriptor
 * walk and callbacks: the one message on the hot path, in about a tenth of
 * the instructions, with the very bytes and verdicts of pb_encode/pb_decode. */
#include <pb_decode.h>
#include <string.h>

#include "troupe.h"
#include "wire.h"

/* Design notes.
 *
 * troupe.proto stays the schema: the field numbers below are the generated
 * troupe_Envelope_*_tag, and the wire types are those of the field types
 * (uint32/uint64/sint32: varint, string/bytes: length-delimited, fixed32:
 * 32-bit). tests/unit/test_wire.c checks both directions against nanopb's
 * generic encoder and decoder over the descriptor (troupe_Envelope_fields),
 * which the tests keep, so the two cannot drift apart unseen.
 *
 * Encoding writes what pb_encode would: fields in ascending number, `type`
 * and `target` always, the others when set (a string when its length is
 * non-zero, `topic` when its pointer is set, numbers when non-zero), then
 * the caller's `future` bytes. The exact body size is summed first, so the
 * frame buffer is written once, without bound checks, and the errors come
 * in the order the nanopb path gave them.
 *
 * Decoding is a loop over the body's fields, switching on the number,
 * strings as slices into the body. It accepts and refuses exactly what
 * pb_decode_ex did: the common shapes (one-byte keys, lengths under 2^28,
 * varints) are parsed here; what is rare takes nanopb's own primitives
 * (pb_decode_varint32 for a long or overlong key or length, pb_skip_field
 * for a field this version does not know, so a newer peer's extra fields
 * still decode). Then as before: a string or bytes field that arrived with
 * a non-string wire type leaves the envelope malformed unless a later copy
 * of the field replaces it (nanopb handed it to our callback as a copy on
 * its stack: refused by the old in_body check), a known number field with
 * the wrong wire type, a zero field number, a value past 32 bits for a
 * 32-bit field, a truncated field or a length past the body are refused,
 * and a repeated field's last copy wins. */

/* What this file writes and reads per field, checked against the field
 * list nanopb generates from troupe.proto (troupe.pb.h): a field added
 * there, or one whose number or type changes, fails the build here. */
#define ENV_FIELD(a, atype, htype, ltype, name, tag)                        \
  env_num_##name = tag, env_ltype_##name = PB_LTYPE_MAP_##ltype,
#define ENV_COUNT(a, atype, htype, ltype, name, tag) +1
enum {
  troupe_Envelope_FIELDLIST(ENV_FIELD, 0)
  env_nfields = 0 troupe_Envelope_FIELDLIST(ENV_COUNT, 0)
};
#define ENV_WIDTH(name) sizeof(((troupe_Envelope *)0)->name)
#define ENV_IS(name, num, ltype) \
  (env_num_##name == (num) && env_ltype_##name == PB_LTYPE_##ltype)
_Static_assert(env_nfields == 10 &&
                   ENV_IS(type, 1, UVARINT) && ENV_WIDTH(type) == 4 &&
                   ENV_IS(sender, 2, STRING) && ENV_IS(target, 3, STRING) &&
                   ENV_IS(topic, 4, STRING) && ENV_IS(payload, 5, BYTES) &&
                   ENV_IS(ask_id, 6, UVARINT) && ENV_WIDTH(ask_id) == 8 &&
                   ENV_IS(status, 7, SVARINT) && ENV_WIDTH(status) == 4 &&
                   ENV_IS(seq, 8, UVARINT) && ENV_WIDTH(seq) == 8 &&
                   ENV_IS(timeout_ms, 9, UVARINT) &&
                   ENV_WIDTH(timeout_ms) == 4 &&
                   ENV_IS(msg_type, 10, FIXED32),
               "troupe.proto's Envelope changed: update codec_envelope.c");

/* A field's key: number and wire type, one byte for numbers up to 15. */
#define KEY(field, wt) ((uint8_t)((troupe_Envelope_##field##_tag << 3) | (wt)))

static inline size_t varint_size(uint64_t v) {
  return v < 0x80 ? 1 : (size_t)(64 - __builtin_clzll(v) + 6) / 7;
}

static inline uint8_t *put_varint(uint8_t *p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

static inline uint8_t *put_bytes(uint8_t *p, uint8_t key, const wire_slice *s) {
  *p++ = key;
  p = put_varint(p, s->len);
  if (s->len) memcpy(p, s->p, s->len);
  return p + s->len;
}

/* sint32 as nanopb writes it (pb_encode_svarint of the value widened). */
static inline uint64_t zigzag(int32_t v) {
  return (uint64_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
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
  size_t n = 1 + varint_size(e->type);
  n += 1 + varint_size(e->target.len) + e->target.len;
  if (e->sender.len) n += 1 + varint_size(e->sender.len) + e->sender.len;
  if (e->topic.p) n += 1 + varint_size(e->topic.len) + e->topic.len;
  if (e->payload.len) n += 1 + varint_size(e->payload.len) + e->payload.len;
  if (e->ask_id) n += 1 + varint_size(e->ask_id);
  if (e->status) n += 1 + varint_size(zigzag(e->status));
  if (e->seq) n += 1 + varint_size(e->seq);
  if (e->timeout_ms) n += 1 + varint_size(e->timeout_ms);
  if (e->msg_type) n += 1 + 4;
  n += e->future.len;
  if (n > cap - WIRE_HDR) return TR_EFULL;
  if (n + 1 > max_frame) return TR_ETOOBIG;

  wire_put_header(buf, n, troupe_FrameKind_FRAME_ENVELOPE);
  uint8_t *p = buf + WIRE_HDR;
  *p++ = KEY(type, PB_WT_VARINT);
  p = put_varint(p, e->type);
  if (e->sender.len) p = put_bytes(p, KEY(sender, PB_WT_STRING), &e->sender);
  p = put_bytes(p, KEY(target, PB_WT_STRING), &e->target);
  if (e->topic.p) p = put_bytes(p, KEY(topic, PB_WT_STRING), &e->topic);
  if (e->payload.len)
    p = put_bytes(p, KEY(payload, PB_WT_STRING), &e->payload);
  if (e->ask_id) {
    *p++ = KEY(ask_id, PB_WT_VARINT);
    p = put_varint(p, e->ask_id);
  }
  if (e->status) {
    *p++ = KEY(status, PB_WT_VARINT);
    p = put_varint(p, zigzag(e->status));
  }
  if (e->seq) {
    *p++ = KEY(seq, PB_WT_VARINT);
    p = put_varint(p, e->seq);
  }
  if (e->timeout_ms) {
    *p++ = KEY(timeout_ms, PB_WT_VARINT);
    p = put_varint(p, e->timeout_ms);
  }
  if (e->msg_type) {
    *p++ = KEY(msg_type, PB_WT_32BIT);
    p[0] = (uint8_t)e->msg_type;
    p[1] = (uint8_t)(e->msg_type >> 8);
    p[2] = (uint8_t)(e->msg_type >> 16);
    p[3] = (uint8_t)(e->msg_type >> 24);
    p += 4;
  }
  /* Fields a later version may add, as they are (link_mgr_emulate). */
  if (e->future.len) memcpy(p, e->future.p, e->future.len);
  return (int)(WIRE_HDR + n);
}

/* ---- decoding ----------------------------------------------------------- */

/* A key or a length: pb_decode_varint32's rules. Up to four bytes carry no
 * check; from the fifth on (overlong forms, values of 2^28 and up) nanopb
 * decides. Returns the byte after it, or NULL when nanopb refuses it. */
static const uint8_t *varint32_slow(const uint8_t *p, const uint8_t *end,
                                    uint32_t *v) {
  pb_istream_t s = pb_istream_from_buffer(p, (size_t)(end - p));
  if (!pb_decode_varint32(&s, v)) return NULL;
  return end - s.bytes_left;
}

static inline const uint8_t *get_varint32(const uint8_t *p, const uint8_t *end,
                                          uint32_t *v) {
  const uint8_t *start = p;
  uint32_t r = 0;
  for (unsigned shift = 0; shift < 28 && p < end; shift += 7) {
    uint8_t b = *p++;
    r |= (uint32_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return p;
    }
  }
  return varint32_slow(start, end, v);
}

/* A number field: pb_decode_varint's rules (at most ten bytes, the tenth
 * 0 or 1; overlong forms accepted). NULL when truncated or too long. */
static inline const uint8_t *get_varint(const uint8_t *p, const uint8_t *end,
                                        uint64_t *v) {
  uint64_t r = 0;
  for (unsigned shift = 0;; shift += 7) {
    if (p == end) return NULL;
    uint8_t b = *p++;
    if (shift >= 63 && (b & 0xfe)) return NULL;
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  *v = r;
  return p;
}

/* A string or bytes field that came with another wire type: what nanopb
 * read before handing it to the callback (read_raw_value: a varint of at
 * most ten bytes, 8 or 4 bytes; other wire types are refused). */
static const uint8_t *skip_raw_value(const uint8_t *p, const uint8_t *end,
                                     unsigned wt) {
  switch (wt) {
  case PB_WT_VARINT:
    for (int i = 0; i < 10; i++) {
      if (p == end) return NULL;
      if (!(*p++ & 0x80)) return p;
    }
    return NULL;
  case PB_WT_64BIT:
    return end - p >= 8 ? p + 8 : NULL;
  case PB_WT_32BIT:
    return end - p >= 4 ? p + 4 : NULL;
  default:
    return NULL;
  }
}

/* A field this version does not know: skipped as pb_decode skips it. */
static const uint8_t *skip_unknown(const uint8_t *p, const uint8_t *end,
                                   unsigned wt) {
  pb_istream_t s = pb_istream_from_buffer(p, (size_t)(end - p));
  if (!pb_skip_field(&s, (pb_wire_type_t)wt)) return NULL;
  return end - s.bytes_left;
}

/* Ids and topics are short NUL-free strings; ids are never empty (an empty
 * topic is the default topic). Absent strings are checked by the caller. */
static bool str_ok(const wire_slice *s, size_t min_len) {
  if (!s->p) return true;
  if (s->len < min_len || s->len > TR_ID_MAX) return false;
  return memchr(s->p, '\0', s->len) == NULL;
}

int wire_decode_envelope(const uint8_t *body, size_t len, wire_envelope *out) {
  memset(out, 0, sizeof(*out));
  if (!len) return TR_EINVAL; /* no target */
  const uint8_t *p = body, *end = body + len;
  unsigned foreign = 0; /* string fields last seen with a non-string type */
  while (p < end) {
    uint32_t key;
    if (*p < 0x80)
      key = *p++;
    else if (!(p = get_varint32(p, end, &key)))
      return TR_EINVAL;
    uint32_t field = key >> 3;
    unsigned wt = key & 7;
    uint64_t v;
    wire_slice *s;
    switch (field) {
    case troupe_Envelope_sender_tag:
      s = &out->sender;
      goto string;
    case troupe_Envelope_target_tag:
      s = &out->target;
      goto string;
    case troupe_Envelope_topic_tag:
      s = &out->topic;
      goto string;
    case troupe_Envelope_payload_tag:
      s = &out->payload;
    string:
      if (wt != PB_WT_STRING) {
        if (!(p = skip_raw_value(p, end, wt))) return TR_EINVAL;
        foreign |= 1u << field;
        break;
      }
      uint32_t n;
      if (p < end && *p < 0x80)
        n = *p++;
      else if (!(p = get_varint32(p, end, &n)))
        return TR_EINVAL;
      if (n > (size_t)(end - p)) return TR_EINVAL;
      s->p = p;
      s->len = n;
      p += n;
      foreign &= ~(1u << field);
      break;
    case troupe_Envelope_msg_type_tag:
      if (wt != PB_WT_32BIT || end - p < 4) return TR_EINVAL;
      out->msg_type = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
                      (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
      p += 4;
      break;
    case troupe_Envelope_type_tag:
    case troupe_Envelope_ask_id_tag:
    case troupe_Envelope_status_tag:
    case troupe_Envelope_seq_tag:
    case troupe_Envelope_timeout_ms_tag:
      if (wt != PB_WT_VARINT) return TR_EINVAL;
      if (p < end && *p < 0x80)
        v = *p++;
      else if (!(p = get_varint(p, end, &v)))
        return TR_EINVAL;
      if (field == troupe_Envelope_ask_id_tag) {
        out->ask_id = v;
      } else if (field == troupe_Envelope_seq_tag) {
        out->seq = v;
      } else if (field == troupe_Envelope_status_tag) {
        int64_t sv = (v & 1) ? (int64_t)~(v >> 1) : (int64_t)(v >> 1);
        if (sv < INT32_MIN || sv > INT32_MAX) return TR_EINVAL;
        out->status = (int32_t)sv;
      } else {
        if (v > UINT32_MAX) return TR_EINVAL;
        if (field == troupe_Envelope_type_tag)
          out->type = (uint32_t)v;
        else
          out->timeout_ms = (uint32_t)v;
      }
      break;
    case 0:
      return TR_EINVAL;
    default:
      if (!(p = skip_unknown(p, end, wt))) return TR_EINVAL;
      break;
    }
  }
  if (foreign) return TR_EINVAL;
  if (!out->target.p || !str_ok(&out->target, 1) ||
      !str_ok(&out->sender, 1) || !str_ok(&out->topic, 0))
    return TR_EINVAL;
  out->has_sender = out->sender.p != NULL;
  out->has_topic = out->topic.p != NULL;
  return 0;
}
