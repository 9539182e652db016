/* log_ring.c — see log_ring.h. One mutex: the node may log from another
 * thread (the thread-safe entry), the inspector reads on the loop. */
#include "log_ring.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define LOG_RING_DEFAULT 1000u

struct log_ring {
  uv_mutex_t lock;
  log_entry *lines;
  size_t cap;
  uint64_t next; /* the next seq; lines[seq % cap] */
};

int log_ring_new(log_ring **out, size_t cap) {
  *out = NULL;
  log_ring *r = calloc(1, sizeof(*r));
  if (!r) return TR_ENOMEM;
  r->cap = cap ? cap : LOG_RING_DEFAULT;
  r->lines = calloc(r->cap, sizeof(*r->lines));
  if (!r->lines || uv_mutex_init(&r->lock) != 0) {
    free(r->lines);
    free(r);
    return TR_ENOMEM;
  }
  r->next = 1;
  *out = r;
  return 0;
}

void log_ring_free(log_ring *r) {
  if (!r) return;
  uv_mutex_destroy(&r->lock);
  free(r->lines);
  free(r);
}

static uint64_t unix_ms(void) {
  uv_timeval64_t t;
  if (uv_gettimeofday(&t) != 0) return 0;
  return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_usec / 1000u;
}

void log_ring_add(log_ring *r, tr_log_level level, const char *event,
                  const char *fields) {
  if (!r) return;
  uint64_t now = unix_ms();
  uv_mutex_lock(&r->lock);
  log_entry *e = &r->lines[r->next % r->cap];
  e->seq = r->next++;
  e->time_ms = now;
  e->level = level;
  snprintf(e->event, sizeof(e->event), "%s", event ? event : "");
  snprintf(e->fields, sizeof(e->fields), "%s", fields ? fields : "");
  uv_mutex_unlock(&r->lock);
}

static bool event_in(const char *event, const char *const *events) {
  if (!events) return true;
  for (; *events; events++)
    if (strcmp(event, *events) == 0) return true;
  return false;
}

uint64_t log_ring_each(log_ring *r, uint64_t after, tr_log_level level,
                       const char *const *events, size_t limit,
                       void (*fn)(void *, const log_entry *), void *arg) {
  uv_mutex_lock(&r->lock);
  uint64_t newest = r->next - 1;
  uint64_t first = r->next > r->cap ? r->next - r->cap : 1;
  if (after >= newest) first = newest + 1; /* nothing newer (or nonsense) */
  else if (after + 1 > first) first = after + 1;
  /* Copied out under the lock, called outside it (fn may be slow). */
  size_t n = 0, cap = limit < r->cap ? limit : r->cap;
  log_entry *copy = cap ? malloc(cap * sizeof(*copy)) : NULL;
  uint64_t upto = copy ? newest : after; /* what this call went through */
  for (uint64_t s = first; copy && s <= newest; s++) {
    const log_entry *e = &r->lines[s % r->cap];
    if (e->level > level || !event_in(e->event, events)) continue;
    copy[n++] = *e;
    if (n == cap) {
      upto = s;
      break;
    }
  }
  uv_mutex_unlock(&r->lock);
  for (size_t i = 0; i < n; i++) fn(arg, &copy[i]);
  free(copy);
  return upto;
}
