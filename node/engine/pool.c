/* pool.c — the node's message slots and payload blobs. Slots come from
 * chunks, free ones kept on a stack of pointers (engine.h takes and puts
 * them inline); blobs from per-size-class free lists. In steady state
 * neither touches malloc. */
#include <stdlib.h>

#include "engine.h"

#define SLOTS_PER_CHUNK 256
/* A class keeps at most this many bytes of free blobs for reuse. */
#define BLOB_CACHE_BYTES (4u << 20)
/* And of free mailbox rings. */
#define RING_CACHE_BYTES (1u << 20)

static const size_t blob_class_size[ENG_BLOB_CLASSES] = {
    256, 1024, 4096, 16384, 65536, 262144};

int pool_grow(eng_pool *p) {
  if (p->nchunks == p->chunks_cap) {
    size_t cap = p->chunks_cap ? p->chunks_cap * 2 : 8;
    void **c = realloc(p->chunks, cap * sizeof(*c));
    if (!c) return TR_ENOMEM;
    p->chunks = c;
    p->chunks_cap = cap;
  }
  /* The stack holds every slot, so a put never needs room. */
  eng_msg **stack =
      realloc(p->free_msgs, (p->nslots + SLOTS_PER_CHUNK) * sizeof(*stack));
  if (!stack) return TR_ENOMEM;
  p->free_msgs = stack;
  eng_msg *chunk = malloc(SLOTS_PER_CHUNK * sizeof(*chunk));
  if (!chunk) return TR_ENOMEM;
  p->chunks[p->nchunks++] = chunk;
  p->nslots += SLOTS_PER_CHUNK;
  /* Taken from the top: the chunk's first slot first. */
  for (size_t i = SLOTS_PER_CHUNK; i-- > 0;) p->free_msgs[p->nfree++] = &chunk[i];
  return 0;
}

eng_blob *pool_blob_get(eng_pool *p, size_t len) {
  uint32_t cls = ENG_BLOB_HUGE;
  for (uint32_t c = 0; c < ENG_BLOB_CLASSES; c++) {
    if (len <= blob_class_size[c]) {
      cls = c;
      break;
    }
  }
  eng_blob *b;
  if (cls != ENG_BLOB_HUGE && p->free_blobs[cls]) {
    b = p->free_blobs[cls];
    p->free_blobs[cls] = b->free_next;
    p->nfree_blobs[cls]--;
  } else {
    size_t cap = cls == ENG_BLOB_HUGE ? len : blob_class_size[cls];
    b = malloc(sizeof(*b) + cap);
    if (!b) return NULL;
  }
  b->refs = 1;
  b->cls = cls;
  b->len = len;
  b->free_next = NULL;
  return b;
}

void pool_blob_unref(eng_pool *p, eng_blob *b) {
  if (--b->refs > 0) return;
  uint32_t cls = b->cls;
  if (cls == ENG_BLOB_HUGE ||
      (size_t)p->nfree_blobs[cls] * blob_class_size[cls] >= BLOB_CACHE_BYTES) {
    free(b);
    return;
  }
  b->free_next = p->free_blobs[cls];
  p->free_blobs[cls] = b;
  p->nfree_blobs[cls]++;
}

/* The class of a ring of size pointers; ENG_RING_CLASSES past the kept
 * sizes. */
static uint32_t ring_class(uint32_t size) {
  uint32_t c = 0;
  while (c < ENG_RING_CLASSES && (8u << c) < size) c++;
  return c;
}

eng_msg **pool_ring_get(eng_pool *p, uint32_t size) {
  uint32_t c = ring_class(size);
  if (c < ENG_RING_CLASSES && p->free_rings[c]) {
    void **r = p->free_rings[c];
    p->free_rings[c] = *r;
    p->nfree_rings[c]--;
    return (eng_msg **)r;
  }
  return malloc((size_t)size * sizeof(eng_msg *));
}

void pool_ring_put(eng_pool *p, eng_msg **ring, uint32_t size) {
  uint32_t c = ring_class(size);
  if (c >= ENG_RING_CLASSES ||
      (size_t)p->nfree_rings[c] * size * sizeof(*ring) >= RING_CACHE_BYTES) {
    free(ring);
    return;
  }
  *(void **)ring = p->free_rings[c];
  p->free_rings[c] = ring;
  p->nfree_rings[c]++;
}

void pool_free(eng_pool *p) {
  for (uint32_t c = 0; c < ENG_RING_CLASSES; c++) {
    while (p->free_rings[c]) {
      void **r = p->free_rings[c];
      p->free_rings[c] = *r;
      free(r);
    }
    p->nfree_rings[c] = 0;
  }
  for (uint32_t c = 0; c < ENG_BLOB_CLASSES; c++) {
    while (p->free_blobs[c]) {
      eng_blob *b = p->free_blobs[c];
      p->free_blobs[c] = b->free_next;
      free(b);
    }
    p->nfree_blobs[c] = 0;
  }
  for (size_t i = 0; i < p->nchunks; i++) free(p->chunks[i]);
  free(p->chunks);
  p->chunks = NULL;
  p->nchunks = p->chunks_cap = 0;
  free(p->free_msgs);
  p->free_msgs = NULL;
  p->nfree = p->nslots = 0;
}
