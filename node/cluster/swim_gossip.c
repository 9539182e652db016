/* swim_gossip.c — the dissemination queue of swim: one entry per member
 * whose latest news is still spreading, each sent piggy-backed on up to
 * retransmit_mult * ceil(log10(N + 1)) messages, fewest-sent first.
 *
 * The queue holds members, not messages: newer news about a member replaces
 * the older (it is that member's current record that is sent) and starts
 * its count again. Entries live in buckets by how often they went out, so
 * picking the freshest is a walk from bucket 0 and costs nothing per
 * member that is not picked. Within a bucket the newest entry goes first.
 */
#include <stdlib.h>

#include "swim_int.h"
#include "utlist.h"

uint32_t swim_gq_limit(const swim *s) {
  /* ceil(log10(n + 1)) is the number of decimal digits of n (n >= 1). */
  uint32_t digits = 0;
  for (uint32_t n = s->nlive ? s->nlive : 1; n; n /= 10) digits++;
  uint32_t limit = s->retransmit_mult * digits;
  return limit ? limit : 1;
}

static bool gq_reserve(swim *s, uint32_t nbuckets) {
  if (nbuckets <= s->gq_nbuckets) return true;
  swim_entry **b = realloc(s->gq_buckets, nbuckets * sizeof(*b));
  if (!b) return false;
  for (uint32_t i = s->gq_nbuckets; i < nbuckets; i++) b[i] = NULL;
  s->gq_buckets = b;
  s->gq_nbuckets = nbuckets;
  return true;
}

void swim_gq_remove(swim *s, swim_entry *m) {
  if (!m->gq_queued) return;
  DL_DELETE2(s->gq_buckets[m->gq_sent], m, gq_prev, gq_next);
  m->gq_queued = false;
}

void swim_gq_enqueue(swim *s, swim_entry *m) {
  swim_gq_remove(s, m);
  /* Out of memory: the news is not gossiped; the periodic sync repairs. */
  if (!gq_reserve(s, 1)) return;
  m->gq_sent = 0;
  DL_PREPEND2(s->gq_buckets[0], m, gq_prev, gq_next);
  m->gq_queued = true;
}

/* One more transmission: to the next bucket, or out at the limit. */
void swim_gq_note_sent(swim *s, swim_entry *m) {
  if (!m->gq_queued) return;
  uint32_t sent = m->gq_sent + 1;
  swim_gq_remove(s, m);
  if (sent >= swim_gq_limit(s) || !gq_reserve(s, sent + 1)) return;
  m->gq_sent = sent;
  DL_APPEND2(s->gq_buckets[sent], m, gq_prev, gq_next);
  m->gq_queued = true;
}

uint32_t swim_gq_take(swim *s, swim_update *out, uint32_t max,
                      const swim_entry *skip1, const swim_entry *skip2) {
  uint32_t n = 0, limit = swim_gq_limit(s);
  if (max > s->max_piggyback) max = s->max_piggyback;
  for (uint32_t b = 0; b < s->gq_nbuckets && n < max; b++) {
    swim_entry *m = s->gq_buckets[b], *next;
    for (; m && n < max; m = next) {
      next = m->gq_next;
      if (b >= limit) { /* the cluster shrank: sent often enough */
        swim_gq_remove(s, m);
        continue;
      }
      if (m == skip1 || m == skip2) continue;
      s->gq_pick[n] = m;
      out[n++] = m->u;
    }
  }
  /* Counted after the walk, so an entry moved to the next bucket is not
   * picked twice for one message. */
  for (uint32_t i = 0; i < n; i++) swim_gq_note_sent(s, s->gq_pick[i]);
  return n;
}
