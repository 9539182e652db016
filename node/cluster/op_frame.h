/* op_frame.h — the admin socket's framing (op_admin.c, op_client.c): each
 * OpRequest or OpReply is preceded by its length, 4 bytes big-endian. */
#ifndef TR_OP_FRAME_H
#define TR_OP_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define OP_FRAME_HEAD 4u

static inline size_t op_frame_len(const uint8_t *p) {
  return (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
}

static inline void op_frame_put_len(uint8_t *p, size_t len) {
  p[0] = (uint8_t)(len >> 24);
  p[1] = (uint8_t)(len >> 16);
  p[2] = (uint8_t)(len >> 8);
  p[3] = (uint8_t)len;
}

#endif /* TR_OP_FRAME_H */
