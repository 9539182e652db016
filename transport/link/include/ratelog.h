/* ratelog.h — one log line per interval for a limit being hit: each cap
 * counts every hit in its metric and logs at most once per
 * RATELOG_INTERVAL_MS, saying how many hits the line stands for. */
#ifndef TR_RATELOG_H
#define TR_RATELOG_H

#include <stdbool.h>
#include <stdint.h>

#define RATELOG_INTERVAL_MS 10000u

typedef struct ratelog {
  uint64_t next_ms; /* no line before */
  uint64_t hits;    /* since the last line */
} ratelog;

/* Counts one hit at now_ms (a monotonic clock); true when a line is due,
 * then *hits is how many hits it stands for (this one included). */
static inline bool ratelog_hit(ratelog *r, uint64_t now_ms, uint64_t *hits) {
  r->hits++;
  if (now_ms < r->next_ms) return false;
  r->next_ms = now_ms + RATELOG_INTERVAL_MS;
  *hits = r->hits;
  r->hits = 0;
  return true;
}

#endif /* TR_RATELOG_H */
