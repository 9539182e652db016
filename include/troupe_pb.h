/* troupe_pb.h — typed messages with nanopb (docs/typed.md): send, ask,
 * reply and publish a nanopb message struct, tagged with its type, and
 * decode one with its type checked. Needs nanopb's headers (Debian
 * libnanopb-dev, 0.4.7: the version libtroupe is built with); the encoding
 * itself is libtroupe's. Loop thread only, like the calls they wrap.
 * tr_msgtype is laid out by this header and read by the library without a
 * size (unlike troupe.h's growing structs): a program is built against the
 * troupe_pb.h of the libtroupe it runs with, as against nanopb's own. */
#ifndef TROUPE_PB_H
#define TROUPE_PB_H

#include <pb.h>

#include "troupe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A plan of a message's encoding, made at compile time from nanopb's
 * field list (<name>_FIELDLIST in its .pb.h) by TR_MSGTYPE and by
 * troupe_add_messages' descriptors: for a message whose fields are all
 * static, singular scalars and strings, where each is in the struct and its
 * key, so that libtroupe writes the bytes nanopb's pb_encode would without
 * walking the descriptor (node/typed/plan.c). One entry a field, read only
 * by libtroupe; the TR_PLAN_ macros below are how they are made. */
typedef struct tr_msgtype_field {
  uint16_t offset, has_offset; /* has_offset: its has_ flag (optional) */
  uint8_t kind, size, presence, key_len;
  uint8_t key[4]; /* its tag and wire type, as a varint */
} tr_msgtype_field;

/* One message type: its full protobuf name ("shop.Order"), nanopb's
 * descriptor (shop_Order_fields) and its tag, tr_msg_type_id(name). A tag
 * left 0 is computed from the name at each call: set it once (or have it
 * generated) to save that. With a plan (planned), a message of the type is
 * written by it; without, by pb_encode. */
typedef struct tr_msgtype {
  const char *name;
  const pb_msgdesc_t *fields;
  uint32_t id;
  const tr_msgtype_field *plan; /* plan_len entries */
  uint16_t plan_len, plan_bound; /* plan_bound: its longest encoding */
  uint8_t planned;
  /* The plan compiled into a function (TR_MSGTYPE_WRITER; the
   * descriptors troupe_add_messages generates have one): the same bytes,
   * straight-line code. The encoding's length, or SIZE_MAX for a message
   * pb_encode refuses; used only when planned. NULL: the plan is read. */
  size_t (*write)(const void *msg, uint8_t *out, bool always);
} tr_msgtype;

/* For descriptors a header defines (troupe_add_messages): one unused in a
 * file is no warning. */
#if defined(__GNUC__)
#define TR_MSGTYPE_UNUSED __attribute__((unused))
#else
#define TR_MSGTYPE_UNUSED
#endif

/* static tr_msgtype order_type = TR_MSGTYPE("shop.Order", shop_Order);
 * then tr_msgtype_init(&order_type) fills the tag. */
#define TR_MSGTYPE(full_name, nanopb_name)                                   \
  { (full_name), nanopb_name##_fields, 0, TR_MSGTYPE_PLAN(nanopb_name), NULL }

/* TR_MSGTYPE_WRITER(shop_Order) defines shop_Order_tr_write, the writer a
 * descriptor names in its write field (troupe_add_messages does both). */

/* ---- the plan, from nanopb's X(a, atype, htype, ltype, field, tag) ---- */

enum { TR_PK_BAD, TR_PK_BOOL, TR_PK_VARINT, TR_PK_UVARINT, TR_PK_SVARINT,
       TR_PK_FIXED, TR_PK_STRING };
enum { TR_PP_BAD, TR_PP_ALWAYS, TR_PP_HAS, TR_PP_NONZERO };

#if defined(__cplusplus)
/* No compound literals in C++: pb_encode does the work there. */
#define TR_MSGTYPE_PLAN(n) NULL, 0, 0, 0
#define TR_MSGTYPE_WRITER(n)
#define TR_MSGTYPE_WRITE(n) NULL
#else
#include <string.h> /* memcpy, memchr */
#define TR_MSGTYPE_WRITE(n) n##_tr_write
#define TR_MSGTYPE_WRITER(n)                                                 \
  TR_MSGTYPE_UNUSED static size_t n##_tr_write(const void *msg_,             \
                                               uint8_t *o, bool always) {    \
    const n *m = (const n *)msg_;                                           \
    uint8_t *const start_ = o;                                              \
    (void)m, (void)always;                                                  \
    n##_FIELDLIST(TR_W_, n) return (size_t)(o - start_);                    \
  }
/* One field of a writer: by allocation, then presence, then type; what
 * the plan cannot write returns SIZE_MAX (the message goes to pb_encode,
 * as planned is then 0 anyway). */
#define TR_W_(a, atype, htype, ltype, f, tag) TR_W_A_##atype(htype, ltype, f, tag)
#define TR_W_A_STATIC(h, l, f, tag) TR_W_H_##h(l, f, tag)
#define TR_W_A_POINTER(h, l, f, tag) return SIZE_MAX;
#define TR_W_A_CALLBACK(h, l, f, tag) return SIZE_MAX;
#define TR_W_H_REQUIRED(l, f, tag) {TR_W_FIELD(l, f, tag)}
#define TR_W_H_SINGULAR(l, f, tag)                                           \
  if (always || TR_W_NZ_##l(m->f)) {TR_W_FIELD(l, f, tag)}
#define TR_W_H_OPTIONAL(l, f, tag) if (m->has_##f) {TR_W_FIELD(l, f, tag)}
#define TR_W_H_REPEATED(l, f, tag) return SIZE_MAX;
#define TR_W_H_FIXARRAY(l, f, tag) return SIZE_MAX;
#define TR_W_H_ONEOF(l, f, tag) return SIZE_MAX;
#define TR_W_FIELD(l, f, tag)                                                \
  o = tr_pb_varint(o, TR_PLAN_KEY(tag, l));                                 \
  TR_W_PUT_##l(m->f)
/* nanopb's presence rule for a proto3 field: any byte non-zero. */
#define TR_W_NZ_BOOL(x) tr_pb_nonzero(&(x), sizeof(x))
#define TR_W_NZ_INT32(x) ((x) != 0)
#define TR_W_NZ_INT64(x) ((x) != 0)
#define TR_W_NZ_ENUM(x) ((x) != 0)
#define TR_W_NZ_UENUM(x) ((x) != 0)
#define TR_W_NZ_UINT32(x) ((x) != 0)
#define TR_W_NZ_UINT64(x) ((x) != 0)
#define TR_W_NZ_SINT32(x) ((x) != 0)
#define TR_W_NZ_SINT64(x) ((x) != 0)
#define TR_W_NZ_FIXED32(x) ((x) != 0)
#define TR_W_NZ_SFIXED32(x) ((x) != 0)
#define TR_W_NZ_FIXED64(x) ((x) != 0)
#define TR_W_NZ_SFIXED64(x) ((x) != 0)
#define TR_W_NZ_FLOAT(x) tr_pb_nonzero(&(x), sizeof(x)) /* -0.0 is not 0 */
#define TR_W_NZ_DOUBLE(x) tr_pb_nonzero(&(x), sizeof(x))
#define TR_W_NZ_STRING(x) ((x)[0] != 0)
#define TR_W_NZ_BYTES(x) 1
#define TR_W_NZ_MESSAGE(x) 1
#define TR_W_NZ_MSG_W_CB(x) 1
#define TR_W_NZ_EXTENSION(x) 1
#define TR_W_NZ_FIXED_LENGTH_BYTES(x) 1
#define TR_W_PUT_BOOL(x) *o++ = tr_pb_nonzero(&(x), sizeof(x));
#define TR_W_PUT_INT32(x) o = tr_pb_varint(o, (uint64_t)(int64_t)(x));
#define TR_W_PUT_INT64(x) o = tr_pb_varint(o, (uint64_t)(int64_t)(x));
#define TR_W_PUT_ENUM(x) o = tr_pb_varint(o, (uint64_t)(int64_t)(x));
#define TR_W_PUT_UENUM(x) o = tr_pb_varint(o, (uint64_t)(x));
#define TR_W_PUT_UINT32(x) o = tr_pb_varint(o, (uint64_t)(x));
#define TR_W_PUT_UINT64(x) o = tr_pb_varint(o, (uint64_t)(x));
#define TR_W_PUT_SINT32(x) o = tr_pb_varint(o, tr_pb_zigzag((int64_t)(x)));
#define TR_W_PUT_SINT64(x) o = tr_pb_varint(o, tr_pb_zigzag((int64_t)(x)));
#define TR_W_PUT_FIXED32(x) TR_W_FIXED(x, 4)
#define TR_W_PUT_SFIXED32(x) TR_W_FIXED(x, 4)
#define TR_W_PUT_FLOAT(x) TR_W_FIXED(x, 4)
#define TR_W_PUT_FIXED64(x) TR_W_FIXED(x, 8)
#define TR_W_PUT_SFIXED64(x) TR_W_FIXED(x, 8)
#define TR_W_PUT_DOUBLE(x) TR_W_FIXED(x, 8)
#define TR_W_FIXED(x, n)                                                     \
  if (sizeof(x) != (n)) return SIZE_MAX; /* a double kept as float */       \
  memcpy(o, &(x), (n));                                                     \
  o += (n);
#define TR_W_PUT_STRING(x)                                                   \
  {                                                                          \
    const char *z_ = (const char *)memchr((x), 0, sizeof(x));               \
    if (!z_) return SIZE_MAX; /* unterminated: pb_encode says so */         \
    size_t len_ = (size_t)(z_ - (x));                                       \
    o = tr_pb_varint(o, len_);                                              \
    memcpy(o, (x), len_);                                                   \
    o += len_;                                                              \
  }
#define TR_W_PUT_BYTES(x) return SIZE_MAX;
#define TR_W_PUT_MESSAGE(x) return SIZE_MAX;
#define TR_W_PUT_MSG_W_CB(x) return SIZE_MAX;
#define TR_W_PUT_EXTENSION(x) return SIZE_MAX;
#define TR_W_PUT_FIXED_LENGTH_BYTES(x) return SIZE_MAX;

static inline uint8_t *tr_pb_varint(uint8_t *o, uint64_t v) {
  while (v >= 0x80) {
    *o++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *o++ = (uint8_t)v;
  return o;
}
static inline uint64_t tr_pb_zigzag(int64_t v) {
  return ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0);
}
static inline uint8_t tr_pb_nonzero(const void *p, size_t n) {
  const uint8_t *b = (const uint8_t *)p;
  uint8_t any = 0;
  for (size_t i = 0; i < n; i++) any |= b[i];
  return any != 0;
}
#include <stddef.h> /* offsetof */
/* The plan's entries, their count, its longest encoding, whether usable. */
#define TR_MSGTYPE_PLAN(n)                                                   \
  (const tr_msgtype_field[]){n##_FIELDLIST(TR_PLAN_FIELD_, n){0}},           \
      (uint16_t)(sizeof((const tr_msgtype_field[]){                          \
                     n##_FIELDLIST(TR_PLAN_FIELD_, n){0}}) /                 \
                     sizeof(tr_msgtype_field) - 1),                          \
      (uint16_t)TR_PLAN_CLAMP(0 n##_FIELDLIST(TR_PLAN_LONGEST_, n)),         \
      (uint8_t)(1 n##_FIELDLIST(TR_PLAN_OK_, n))
#endif

#define TR_PLAN_CLAMP(x) ((x) > 65535u ? 65535u : (x))
#define TR_PLAN_FIELD_(a, atype, htype, ltype, f, tag)                       \
  {(uint16_t)TR_PLAN_OFF_##htype(a, f),                                      \
   (uint16_t)TR_PLAN_HAS_##atype##_##htype(a, f),                            \
   (uint8_t)(TR_PLAN_VALID(a, atype, htype, ltype, f, tag)                   \
                 ? TR_PLAN_KIND_##ltype : TR_PK_BAD),                        \
   (uint8_t)TR_PLAN_SIZE_##htype(a, f), TR_PLAN_P_##htype,                   \
   TR_PLAN_KEY_LEN(TR_PLAN_KEY(tag, ltype)),                                 \
   {TR_PLAN_KEY_B(TR_PLAN_KEY(tag, ltype), 0),                               \
    TR_PLAN_KEY_B(TR_PLAN_KEY(tag, ltype), 1),                               \
    TR_PLAN_KEY_B(TR_PLAN_KEY(tag, ltype), 2),                               \
    TR_PLAN_KEY_B(TR_PLAN_KEY(tag, ltype), 3)}},
#define TR_PLAN_OK_(a, atype, htype, ltype, f, tag)                          \
  &&TR_PLAN_VALID(a, atype, htype, ltype, f, tag)
#define TR_PLAN_LONGEST_(a, atype, htype, ltype, f, tag)                     \
  +(size_t)(4 + (TR_PLAN_KIND_##ltype == TR_PK_STRING                       \
                     ? 5 + (size_t)TR_PLAN_SIZE_##htype(a, f)                \
                 : TR_PLAN_KIND_##ltype == TR_PK_FIXED                       \
                     ? (size_t)TR_PLAN_SIZE_##htype(a, f)                    \
                     : 10))
/* A field the plan writes: static, singular or required or optional, a
 * scalar or a string of the sizes nanopb gives them, a key of 4 bytes. */
#define TR_PLAN_VALID(a, atype, htype, ltype, f, tag)                        \
  (TR_PLAN_A_##atype && TR_PLAN_P_##htype != TR_PP_BAD &&                   \
   (uint32_t)(tag) < (1u << 25) &&                                          \
   TR_PLAN_SIZE_OK(TR_PLAN_KIND_##ltype, TR_PLAN_WT_##ltype,                \
                   (size_t)TR_PLAN_SIZE_##htype(a, f)))
#define TR_PLAN_SIZE_OK(k, wt, size)                                        \
  ((k) == TR_PK_BOOL     ? (size) == 1                                      \
   : (k) == TR_PK_FIXED  ? (size) == ((wt) == 5 ? 4u : 8u)                  \
   : (k) == TR_PK_STRING ? (size) >= 1 && (size) <= 255                     \
   : (k) != TR_PK_BAD                                                       \
       ? (size) == 1 || (size) == 2 || (size) == 4 || (size) == 8           \
       : 0)
#define TR_PLAN_KEY(tag, ltype) (((uint32_t)(tag) << 3) | TR_PLAN_WT_##ltype)
#define TR_PLAN_KEY_LEN(k)                                                   \
  ((k) < 0x80u ? 1 : (k) < 0x4000u ? 2 : (k) < 0x200000u ? 3 : 4)
#define TR_PLAN_KEY_B(k, i)                                                  \
  (uint8_t)((((k) >> (7 * (i))) & 0x7Fu) |                                  \
            ((k) >> (7 * ((i) + 1)) ? 0x80u : 0u))

#define TR_PLAN_A_STATIC 1
#define TR_PLAN_A_POINTER 0
#define TR_PLAN_A_CALLBACK 0
#define TR_PLAN_P_REQUIRED TR_PP_ALWAYS
#define TR_PLAN_P_SINGULAR TR_PP_NONZERO /* or always: see plan.c */
#define TR_PLAN_P_OPTIONAL TR_PP_HAS
#define TR_PLAN_P_REPEATED TR_PP_BAD
#define TR_PLAN_P_FIXARRAY TR_PP_BAD
#define TR_PLAN_P_ONEOF TR_PP_BAD
/* A oneof's field is a (union, member, path) triple: no offset taken. */
#define TR_PLAN_OFF_REQUIRED(a, f) offsetof(a, f)
#define TR_PLAN_OFF_SINGULAR(a, f) offsetof(a, f)
#define TR_PLAN_OFF_OPTIONAL(a, f) offsetof(a, f)
#define TR_PLAN_OFF_REPEATED(a, f) 0
#define TR_PLAN_OFF_FIXARRAY(a, f) 0
#define TR_PLAN_OFF_ONEOF(a, f) 0
#define TR_PLAN_SIZE_REQUIRED(a, f) sizeof(((a *)0)->f)
#define TR_PLAN_SIZE_SINGULAR(a, f) sizeof(((a *)0)->f)
#define TR_PLAN_SIZE_OPTIONAL(a, f) sizeof(((a *)0)->f)
#define TR_PLAN_SIZE_REPEATED(a, f) 0
#define TR_PLAN_SIZE_FIXARRAY(a, f) 0
#define TR_PLAN_SIZE_ONEOF(a, f) 0
/* Only a static optional field has a has_ flag. */
#define TR_PLAN_HAS_STATIC_OPTIONAL(a, f) offsetof(a, has_##f)
#define TR_PLAN_HAS_STATIC_REQUIRED(a, f) 0
#define TR_PLAN_HAS_STATIC_SINGULAR(a, f) 0
#define TR_PLAN_HAS_STATIC_REPEATED(a, f) 0
#define TR_PLAN_HAS_STATIC_FIXARRAY(a, f) 0
#define TR_PLAN_HAS_STATIC_ONEOF(a, f) 0
#define TR_PLAN_HAS_POINTER_OPTIONAL(a, f) 0
#define TR_PLAN_HAS_POINTER_REQUIRED(a, f) 0
#define TR_PLAN_HAS_POINTER_SINGULAR(a, f) 0
#define TR_PLAN_HAS_POINTER_REPEATED(a, f) 0
#define TR_PLAN_HAS_POINTER_FIXARRAY(a, f) 0
#define TR_PLAN_HAS_POINTER_ONEOF(a, f) 0
#define TR_PLAN_HAS_CALLBACK_OPTIONAL(a, f) 0
#define TR_PLAN_HAS_CALLBACK_REQUIRED(a, f) 0
#define TR_PLAN_HAS_CALLBACK_SINGULAR(a, f) 0
#define TR_PLAN_HAS_CALLBACK_REPEATED(a, f) 0
#define TR_PLAN_HAS_CALLBACK_FIXARRAY(a, f) 0
#define TR_PLAN_HAS_CALLBACK_ONEOF(a, f) 0
/* nanopb's type names (PB_LTYPE_MAP_ in pb.h): how each is written. */
#define TR_PLAN_KIND_BOOL TR_PK_BOOL
#define TR_PLAN_KIND_INT32 TR_PK_VARINT
#define TR_PLAN_KIND_INT64 TR_PK_VARINT
#define TR_PLAN_KIND_ENUM TR_PK_VARINT
#define TR_PLAN_KIND_UENUM TR_PK_UVARINT
#define TR_PLAN_KIND_UINT32 TR_PK_UVARINT
#define TR_PLAN_KIND_UINT64 TR_PK_UVARINT
#define TR_PLAN_KIND_SINT32 TR_PK_SVARINT
#define TR_PLAN_KIND_SINT64 TR_PK_SVARINT
#define TR_PLAN_KIND_FIXED32 TR_PK_FIXED
#define TR_PLAN_KIND_SFIXED32 TR_PK_FIXED
#define TR_PLAN_KIND_FLOAT TR_PK_FIXED
#define TR_PLAN_KIND_FIXED64 TR_PK_FIXED
#define TR_PLAN_KIND_SFIXED64 TR_PK_FIXED
#define TR_PLAN_KIND_DOUBLE TR_PK_FIXED
#define TR_PLAN_KIND_STRING TR_PK_STRING
#define TR_PLAN_KIND_BYTES TR_PK_BAD
#define TR_PLAN_KIND_MESSAGE TR_PK_BAD
#define TR_PLAN_KIND_MSG_W_CB TR_PK_BAD
#define TR_PLAN_KIND_EXTENSION TR_PK_BAD
#define TR_PLAN_KIND_FIXED_LENGTH_BYTES TR_PK_BAD
#define TR_PLAN_WT_BOOL 0u
#define TR_PLAN_WT_INT32 0u
#define TR_PLAN_WT_INT64 0u
#define TR_PLAN_WT_ENUM 0u
#define TR_PLAN_WT_UENUM 0u
#define TR_PLAN_WT_UINT32 0u
#define TR_PLAN_WT_UINT64 0u
#define TR_PLAN_WT_SINT32 0u
#define TR_PLAN_WT_SINT64 0u
#define TR_PLAN_WT_FIXED32 5u
#define TR_PLAN_WT_SFIXED32 5u
#define TR_PLAN_WT_FLOAT 5u
#define TR_PLAN_WT_FIXED64 1u
#define TR_PLAN_WT_SFIXED64 1u
#define TR_PLAN_WT_DOUBLE 1u
#define TR_PLAN_WT_STRING 2u
#define TR_PLAN_WT_BYTES 2u
#define TR_PLAN_WT_MESSAGE 2u
#define TR_PLAN_WT_MSG_W_CB 2u
#define TR_PLAN_WT_EXTENSION 2u
#define TR_PLAN_WT_FIXED_LENGTH_BYTES 2u

/* Fills t->id from t->name; returns it. */
TR_API uint32_t tr_msgtype_init(tr_msgtype *t);

/* Encodes msg (a struct of type t) once and sends it tagged as t: the
 * errors of tr_send_tagged, and TR_EINVAL when msg does not encode. A
 * message of up to 1 KiB encoded is built on the stack; a larger one in a
 * buffer allocated for the call. */
TR_API int tr_send_msg(tr_ctx *, const char *to, const tr_msgtype *t,
                       const void *msg);
TR_API int tr_node_send_msg(tr_node *, const char *to, const tr_msgtype *t,
                            const void *msg);
TR_API int tr_ask_msg(tr_ctx *, const char *to, const tr_msgtype *t,
                      const void *msg, uint32_t timeout_ms, uint64_t *ask_id);
TR_API int tr_reply_msg(tr_ctx *, const tr_envelope *ask, const tr_msgtype *t,
                        const void *msg);
/* One encoding for every subscriber (topic NULL or "": the default). */
TR_API int tr_publish_msg(tr_ctx *, const char *topic, const tr_msgtype *t,
                          const void *msg);

/* Decodes the envelope's payload into out (a struct of type t, which this
 * call initializes): 0; TR_EBADTYPE when the envelope is not tagged t (out
 * untouched); TR_EINVAL when the payload does not decode as t. Fields that
 * need allocation (callbacks, pointers) follow nanopb's rules. */
TR_API int tr_msg_decode(const tr_envelope *, const tr_msgtype *t,
                         void *out);

/* tr_accept_types with the tags of these n types (at most 64; past it
 * TR_EINVAL: use tr_accept_types). */
TR_API int tr_accept_msgtypes(tr_ctx *, const tr_msgtype *const *types,
                              size_t n);

#ifdef __cplusplus
}
#endif
#endif /* TROUPE_PB_H */
