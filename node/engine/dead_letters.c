/* dead_letters.c — counting dead letters, and the node's ring of the most
 * recent ones (TR_DEAD_LETTERS_KEPT) for inspectors: when, why, from whom,
 * to whom and how big, never the payload. Written only when a message is
 * dropped; the ring is allocated at the first drop, so a node that drops
 * nothing pays nothing for it. */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

typedef struct dead_entry {
  uint64_t at_ms;
  uint32_t len;
  uint8_t reason;
  bool has_from, has_to;
  char from[TR_ID_MAX + 1], to[TR_ID_MAX + 1];
} dead_entry;

struct eng_dead_ring {
  uint64_t written; /* entries ever written: the next goes to written % KEPT */
  dead_entry e[TR_DEAD_LETTERS_KEPT];
};

static void id_copy(char *dst, bool *has, const char *src) {
  *has = src != NULL;
  if (!src) return;
  size_t len = strnlen(src, TR_ID_MAX);
  memcpy(dst, src, len);
  dst[len] = '\0';
}

static uint64_t unix_ms(void) {
  uv_timeval64_t t;
  if (uv_gettimeofday(&t) != 0) return 0;
  return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_usec / 1000u;
}

__attribute__((cold)) void eng_dead(tr_node *n, tr_dead_reason r,
                                    const char *from, const char *to,
                                    size_t len) {
  uint64_t c = ++n->stats.dead[r];
  if ((c & (c - 1)) == 0 && n->log && n->log_level >= TR_LOG_INFO)
    eng_log(n, TR_LOG_INFO, "dead_letter", "reason=%s total=%llu",
            tr_dead_reason_name(r), (unsigned long long)c);
  if (!n->dead_ring && !(n->dead_ring = calloc(1, sizeof(*n->dead_ring))))
    return; /* counted; only the detail is lost */
  struct eng_dead_ring *ring = n->dead_ring;
  dead_entry *e = &ring->e[ring->written++ % TR_DEAD_LETTERS_KEPT];
  e->at_ms = unix_ms();
  e->len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
  e->reason = (uint8_t)r;
  id_copy(e->from, &e->has_from, from);
  id_copy(e->to, &e->has_to, to);
}

void eng_dead_ring_free(tr_node *n) {
  free(n->dead_ring);
  n->dead_ring = NULL;
}

int eng_dead_letters_each(tr_node *n, const char *actor,
                          void (*fn)(void *arg, const tr_dead_letter *),
                          void *arg) {
  struct eng_dead_ring *ring = n->dead_ring;
  if (!ring) return 0;
  uint64_t kept = ring->written < TR_DEAD_LETTERS_KEPT ? ring->written
                                                       : TR_DEAD_LETTERS_KEPT;
  int count = 0;
  for (uint64_t i = 1; i <= kept; i++) { /* newest first */
    const dead_entry *e = &ring->e[(ring->written - i) % TR_DEAD_LETTERS_KEPT];
    if (actor && !(e->has_from && strcmp(e->from, actor) == 0) &&
        !(e->has_to && strcmp(e->to, actor) == 0))
      continue;
    count++;
    if (!fn) continue;
    tr_dead_letter d = {.at_ms = e->at_ms,
                        .reason = (tr_dead_reason)e->reason,
                        .from = e->has_from ? e->from : NULL,
                        .to = e->has_to ? e->to : NULL,
                        .len = e->len};
    fn(arg, &d);
  }
  return count;
}
