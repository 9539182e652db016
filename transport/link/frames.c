/* frames.c — buffers of encoded control and cluster frames, waiting for a
 * connection: a link's next flush, or a seed attempt's hello. */
#include <stdlib.h>
#include <string.h>

#include <pb_encode.h>

#include "link_int.h"

/* Frames are encoded where they wait, so a frame costs one copy. */
int link_frames_add(link_mgr *m, link_frames *fs, troupe_FrameKind kind,
                    const void *msg, const pb_msgdesc_t *fields) {
  size_t limit = m->cfg.max_frame * 2u + 4096;
  for (;;) {
    /* An empty buffer has no memory yet: NULL + 0 is undefined in C. */
    int n = fs->p ? wire_encode_msg(fs->p + fs->len, fs->cap - fs->len, kind,
                                    fields, msg)
                  : TR_EFULL;
    if (n >= 0) {
      if ((size_t)n - WIRE_HDR + 1 > m->cfg.max_frame) return TR_ETOOBIG;
      fs->len += (size_t)n;
      fs->n++;
      return 0;
    }
    if (n != TR_EFULL) return n;
    size_t cap = fs->cap ? fs->cap * 2 : 1024;
    while (cap - fs->len < 4096) cap *= 2;
    if (cap > limit) {
      /* Rare: tell a frame that can never fit from a full buffer. */
      size_t size = 0;
      if (!pb_get_encoded_size(&size, fields, msg)) return TR_EINVAL;
      return size + 1 > m->cfg.max_frame ? TR_ETOOBIG : TR_EFULL;
    }
    uint8_t *b = realloc(fs->p, cap);
    if (!b) return TR_ENOMEM;
    fs->p = b;
    fs->cap = cap;
  }
}

void link_frames_free(link_frames *fs) {
  free(fs->p);
  memset(fs, 0, sizeof(*fs));
}
