/* log_ring.h — the daemon's last log lines, for the web inspector's log
 * tail and events (docs/inspector.md): a fixed ring of the newest lines,
 * each numbered, copied as the node logs them (any thread). */
#ifndef TR_DAEMON_LOG_RING_H
#define TR_DAEMON_LOG_RING_H

#include <stddef.h>
#include <stdint.h>

#include "troupe.h"

typedef struct log_ring log_ring;

typedef struct log_entry {
  uint64_t seq;     /* 1, 2, ... in the order logged */
  uint64_t time_ms; /* unix time */
  tr_log_level level;
  char event[48];
  char fields[464]; /* cut there (rarely: lines are short) */
} log_entry;

/* A ring of cap lines (0: 1000). 0 or TR_ENOMEM. */
int log_ring_new(log_ring **out, size_t cap);
void log_ring_free(log_ring *); /* NULL ok */
/* Keeps one line, pushing out the oldest when full. Any thread. */
void log_ring_add(log_ring *, tr_log_level, const char *event,
                  const char *fields);
/* Calls fn for each kept line after seq `after`, at `level` or more severe,
 * whose event is one of `events` (NULL-terminated; NULL: any), oldest
 * first, at most `limit`; returns the seq this call went through (the
 * newest kept, or the last given when the limit cut it short): the next
 * call's `after`. The entry is a copy, valid during the call. Any
 * thread. */
uint64_t log_ring_each(log_ring *, uint64_t after, tr_log_level level,
                       const char *const *events, size_t limit,
                       void (*fn)(void *arg, const log_entry *), void *arg);

#endif /* TR_DAEMON_LOG_RING_H */
