/* troupe_pb.h — typed messages with nanopb (docs/typed.md): send, ask,
 * reply and publish a nanopb message struct, tagged with its type, and
 * decode one with its type checked. Needs nanopb's headers (Debian
 * libnanopb-dev, 0.4.7: the version libtroupe is built with); the encoding
 * itself is libtroupe's. Loop thread only, like the calls they wrap. */
#ifndef TROUPE_PB_H
#define TROUPE_PB_H

#include <pb.h>

#include "troupe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One message type: its full protobuf name ("shop.Order"), nanopb's
 * descriptor (shop_Order_fields) and its tag, tr_msg_type_id(name). A tag
 * left 0 is computed from the name at each call: set it once (or have it
 * generated) to save that. */
typedef struct tr_msgtype {
  const char *name;
  const pb_msgdesc_t *fields;
  uint32_t id;
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
  { (full_name), nanopb_name##_fields, 0 }
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
