/* actor_table.c — the node's actors by id: open addressing with linear
 * probing over an array of actor pointers, each actor holding its id's hash.
 *
 * Why not uthash, as the engine's other tables: its handle is 56 bytes in
 * every actor, a seventh of an idle one, and its add and delete keep two
 * lists and a bucket count up to date, which a spawn and a stop pay for
 * every time. Here an actor costs its slot (8 bytes at a load of 3/8 to 3/4)
 * and 4 bytes of hash, a lookup compares hashes in the actors it passes and
 * the id only on a hash match, and a delete shifts the run behind it back
 * (no tombstones, so lookups stay short after many spawns and stops). */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define ATAB_MIN 64u         /* first capacity */
#define ATAB_SHRINK 4096u    /* tables this small never shrink (32 KiB) */

uint32_t atab_hash(const char *id, size_t len) {
  uint32_t h;
  HASH_SFH(id, len, h);
  return h;
}

static inline bool atab_is(const eng_actor *a, const char *id, size_t len,
                           uint32_t h) {
  return a->hashv == h && a->id->len == len && memcmp(a->id->str, id, len) == 0;
}

eng_actor *atab_find(const eng_atab *t, const char *id, size_t len,
                     uint32_t h) {
  if (!t->count) return NULL;
  for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
    eng_actor *a = t->slots[i];
    if (!a) return NULL;
    if (atab_is(a, id, len, h)) return a;
  }
}

static void atab_place(eng_actor **slots, uint32_t mask, eng_actor *a) {
  uint32_t i = a->hashv & mask;
  while (slots[i]) i = (i + 1) & mask;
  slots[i] = a;
}

static int atab_resize(eng_atab *t, uint32_t cap) {
  eng_actor **slots = calloc(cap, sizeof(*slots));
  if (!slots) return TR_ENOMEM;
  for (uint32_t i = 0; t->slots && i <= t->mask; i++)
    if (t->slots[i]) atab_place(slots, cap - 1, t->slots[i]);
  free(t->slots);
  t->slots = slots;
  t->mask = cap - 1;
  return 0;
}

int atab_add(eng_atab *t, eng_actor *a) {
  uint32_t cap = t->slots ? t->mask + 1 : 0;
  if ((uint64_t)(t->count + 1) * 4 > (uint64_t)cap * 3) {
    if (cap > UINT32_MAX / 2) return TR_ENOMEM;
    int rc = atab_resize(t, cap ? cap * 2 : ATAB_MIN);
    if (rc != 0) return rc;
  }
  atab_place(t->slots, t->mask, a);
  t->count++;
  return 0;
}

void atab_del(eng_atab *t, eng_actor *a) {
  uint32_t i = a->hashv & t->mask;
  while (t->slots[i] != a) i = (i + 1) & t->mask;
  /* Backward shift: each actor after the hole in the run moves into it
   * unless its home slot lies cyclically within (hole, its slot]. */
  for (uint32_t j = (i + 1) & t->mask; t->slots[j]; j = (j + 1) & t->mask) {
    uint32_t home = t->slots[j]->hashv & t->mask;
    if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
      t->slots[i] = t->slots[j];
      i = j;
    }
  }
  t->slots[i] = NULL;
  t->count--;
  /* A node that had many actors gives the room back (failing to is
   * harmless: the table stays as it was). Small tables keep theirs: a
   * burst of spawns stopped a turn later would resize them both ways
   * every turn. */
  uint32_t cap = t->mask + 1;
  if (cap > ATAB_SHRINK && t->count < cap / 8) (void)atab_resize(t, cap / 2);
}

eng_actor *atab_next(const eng_atab *t, uint32_t *cursor) {
  while (t->slots && *cursor <= t->mask) {
    eng_actor *a = t->slots[(*cursor)++];
    if (a) return a;
  }
  return NULL;
}

void atab_free(eng_atab *t) {
  free(t->slots);
  *t = (eng_atab){0};
}
