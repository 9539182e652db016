/* plan.c — a typed message written by its plan (plan.h; the plan is made
 * at compile time from nanopb's field list, troupe_pb.h). pb_encode walks
 * the descriptor for every message: it decodes each field's packed
 * description, asks the field's presence and calls a writer through a
 * stream, ~10 calls a field. A message whose fields are all static,
 * singular scalars and strings (the common small message) is written here
 * from its plan of offsets, sizes and ready-made keys, with the rules of
 * nanopb 0.4's encoder: a proto3 field at its zero
 * value is left out, a proto2 optional one by its has_ flag, a required one
 * always; signed varints sign-extended to 64 bits, sint zigzagged, fixed
 * ones little-endian, a string up to its NUL. test_typed checks the bytes
 * against pb_encode's for every kind. */
#include "plan.h"

#include <string.h>

static uint64_t read_u(const uint8_t *p, unsigned size) {
  switch (size) {
  case 1: return *p;
  case 2: {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
  }
  case 4: {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
  }
  default: {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
  }
  }
}

static int64_t read_s(const uint8_t *p, unsigned size) {
  switch (size) {
  case 1: return (int8_t)*p;
  case 2: {
    int16_t v;
    memcpy(&v, p, 2);
    return v;
  }
  case 4: {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
  }
  default: {
    int64_t v;
    memcpy(&v, p, 8);
    return v;
  }
  }
}

size_t typed_plan_encode(const tr_msgtype *t, const void *msg, uint8_t *out) {
  const uint8_t *m = msg;
  uint8_t *o = out;
  /* A proto2 message with defaults writes its fields without has_ flags
   * always (nanopb's rule: a zero must overwrite a non-zero default). */
  bool always = t->fields->default_value != NULL;
  /* Copies in locals: a store through out may alias anything (uint8_t), so
   * fields read through t or the plan would be read again after each. */
  const tr_msgtype_field *plan = t->plan, *end = plan + t->plan_len;
  for (; plan < end; plan++) {
    const tr_msgtype_field fc = *plan, *f = &fc;
    const uint8_t *p = m + f->offset;
    if (f->presence == TR_PP_HAS) {
      if (!m[f->has_offset]) continue;
    } else if (f->presence == TR_PP_NONZERO && !always) {
      if (f->kind == TR_PK_STRING ? p[0] == 0 : read_u(p, f->size) == 0)
        continue;
    }
    memcpy(o, f->key, sizeof(f->key)); /* 4 bytes; the room has them */
    o += f->key_len;
    switch (f->kind) {
    case TR_PK_BOOL: *o++ = *p != 0; break;
    case TR_PK_VARINT: o = tr_pb_varint(o, (uint64_t)read_s(p, f->size)); break;
    case TR_PK_UVARINT: o = tr_pb_varint(o, read_u(p, f->size)); break;
    case TR_PK_SVARINT:
      o = tr_pb_varint(o, tr_pb_zigzag(read_s(p, f->size)));
      break;
    case TR_PK_FIXED:
      memcpy(o, p, f->size);
      o += f->size;
      break;
    default: { /* TR_PK_STRING: up to its NUL, which must be within size */
      size_t len = strnlen((const char *)p, f->size);
      if (len == f->size) return SIZE_MAX;
      o = tr_pb_varint(o, len);
      memcpy(o, p, len);
      o += len;
      break;
    }
    }
  }
  return (size_t)(o - out);
}
