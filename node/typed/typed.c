/* typed.c — typed messages with nanopb (include/troupe_pb.h): each call
 * encodes the struct once (by its type's plan, plan.c, when it has one,
 * else by pb_encode), into a buffer on the stack (up to 1 KiB) or one
 * allocated for the call, and hands the bytes to the matching tagged call
 * of the engine (tr_send_tagged...), which copies them into the message's
 * pooled slot or blob as for any payload. A layer over the public API and
 * nanopb only: the engine knows tags, not nanopb. */
#include <pb_decode.h>
#include <pb_encode.h>
#include <stdlib.h>

#include "plan.h"
#include "troupe_pb.h"

#define STACK_MAX 1024

uint32_t tr_msgtype_init(tr_msgtype *t) {
  if (!t || !t->name) return 0;
  t->id = tr_msg_type_id(t->name);
  return t->id;
}

static uint32_t tag_of(const tr_msgtype *t) {
  return t->id ? t->id : tr_msg_type_id(t->name);
}

/* The encoded message: in stack (STACK_MAX bytes) or in *heap (the
 * caller frees it). 0 with *out and *len; TR_EINVAL; TR_ENOMEM. */
static int encode(const tr_msgtype *t, const void *msg, uint8_t *stack,
                  uint8_t **heap, const uint8_t **out, size_t *len) {
  *heap = NULL;
  if (!t || !t->fields || !t->name || !msg) return TR_EINVAL;
  if (t->planned && t->plan && t->plan_bound <= STACK_MAX) {
    size_t n = t->write
                   ? t->write(msg, stack, t->fields->default_value != NULL)
                   : typed_plan_encode(t, msg, stack);
    if (n != SIZE_MAX) {
      *out = stack;
      *len = n;
      return 0;
    } /* else pb_encode finds what is wrong with it */
  }
  pb_ostream_t s = pb_ostream_from_buffer(stack, STACK_MAX);
  if (pb_encode(&s, t->fields, msg)) {
    *out = stack;
    *len = s.bytes_written;
    return 0;
  }
  size_t size = 0;
  if (!pb_get_encoded_size(&size, t->fields, msg) || size <= STACK_MAX)
    return TR_EINVAL; /* it did not fit for another reason: it is bad */
  *heap = malloc(size);
  if (!*heap) return TR_ENOMEM;
  s = pb_ostream_from_buffer(*heap, size);
  if (!pb_encode(&s, t->fields, msg)) {
    free(*heap);
    *heap = NULL;
    return TR_EINVAL;
  }
  *out = *heap;
  *len = s.bytes_written;
  return 0;
}

/* The five calls differ only in where the bytes go. */
typedef enum { TO_SEND, TO_NODE_SEND, TO_ASK, TO_REPLY, TO_PUBLISH } dest;

typedef struct call {
  dest d;
  tr_ctx *ctx;
  tr_node *node;
  const char *to; /* id, or the topic */
  const tr_envelope *ask;
  uint32_t timeout_ms;
  uint64_t *ask_id;
} call;

/* Folded into each call, its destination known there. */
__attribute__((always_inline)) static inline int typed(const call *c,
                                                       const tr_msgtype *t,
                                                       const void *msg) {
  uint8_t stack[STACK_MAX], *heap;
  const uint8_t *data;
  size_t len;
  int rc = encode(t, msg, stack, &heap, &data, &len);
  if (rc != 0) return rc;
  uint32_t tag = tag_of(t);
  switch (c->d) {
  case TO_SEND: rc = tr_send_tagged(c->ctx, c->to, tag, data, len); break;
  case TO_NODE_SEND:
    rc = tr_node_send_tagged(c->node, c->to, tag, data, len);
    break;
  case TO_ASK:
    rc = tr_ask_tagged(c->ctx, c->to, tag, data, len, c->timeout_ms,
                       c->ask_id);
    break;
  case TO_REPLY: rc = tr_reply_tagged(c->ctx, c->ask, tag, data, len); break;
  default: rc = tr_publish_tagged(c->ctx, c->to, tag, data, len); break;
  }
  if (heap) free(heap);
  return rc;
}

int tr_send_msg(tr_ctx *ctx, const char *to, const tr_msgtype *t,
                const void *msg) {
  call c = {.d = TO_SEND, .ctx = ctx, .to = to};
  return ctx ? typed(&c, t, msg) : TR_EINVAL;
}

int tr_node_send_msg(tr_node *n, const char *to, const tr_msgtype *t,
                     const void *msg) {
  call c = {.d = TO_NODE_SEND, .node = n, .to = to};
  return n ? typed(&c, t, msg) : TR_EINVAL;
}

int tr_ask_msg(tr_ctx *ctx, const char *to, const tr_msgtype *t,
               const void *msg, uint32_t timeout_ms, uint64_t *ask_id) {
  call c = {.d = TO_ASK, .ctx = ctx, .to = to, .timeout_ms = timeout_ms,
            .ask_id = ask_id};
  return ctx ? typed(&c, t, msg) : TR_EINVAL;
}

int tr_reply_msg(tr_ctx *ctx, const tr_envelope *ask, const tr_msgtype *t,
                 const void *msg) {
  call c = {.d = TO_REPLY, .ctx = ctx, .ask = ask};
  return ctx && ask ? typed(&c, t, msg) : TR_EINVAL;
}

int tr_publish_msg(tr_ctx *ctx, const char *topic, const tr_msgtype *t,
                   const void *msg) {
  call c = {.d = TO_PUBLISH, .ctx = ctx, .to = topic};
  int rc = ctx ? typed(&c, t, msg) : TR_EINVAL;
  return rc;
}

int tr_msg_decode(const tr_envelope *env, const tr_msgtype *t, void *out) {
  if (!env || !t || !t->fields || !t->name || !out) return TR_EINVAL;
  if (env->msg_type != tag_of(t)) return TR_EBADTYPE;
  pb_istream_t s = pb_istream_from_buffer(env->data, env->len);
  return pb_decode(&s, t->fields, out) ? 0 : TR_EINVAL;
}

int tr_accept_msgtypes(tr_ctx *ctx, const tr_msgtype *const *types,
                       size_t n) {
  uint32_t tags[64];
  if (!ctx || (n && !types) || n > sizeof(tags) / sizeof(tags[0]))
    return TR_EINVAL;
  for (size_t i = 0; i < n; i++) {
    if (!types[i] || !types[i]->name) return TR_EINVAL;
    tags[i] = tag_of(types[i]);
  }
  return tr_accept_types(ctx, tags, n);
}
