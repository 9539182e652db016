/* log.h — the daemon's log sink: a tr_log_fn writing one event per line
 * (logfmt or JSON) to stderr, with a rate limit per event name so a flood
 * (refused peers, say) cannot fill the disk. */
#ifndef TR_DAEMON_LOG_H
#define TR_DAEMON_LOG_H

#include <stdint.h>
#include <stdio.h>

#include "troupe.h"

typedef enum {
  LOG_FORMAT_LOGFMT, /* ts=2024-05-01T12:00:00.123Z level=warn event=x k=v */
  LOG_FORMAT_JSON,   /* {"ts":"...","level":"warn","event":"x","k":"v"} */
} log_format;

typedef struct log_opts {
  log_format format;
  FILE *out;          /* NULL: stderr. Not closed by the sink. */
  uint32_t burst;     /* lines per event name per window [20] */
  uint32_t window_ms; /* [10000] */
  /* Monotonic milliseconds for the rate limit; NULL: uv_hrtime. Tests. */
  uint64_t (*now_ms)(void *now_arg);
  void *now_arg;
} log_opts;

typedef struct log_sink log_sink;

/* opts may be NULL (logfmt to stderr, defaults). TR_ENOMEM. Free with
 * log_sink_free. */
int log_sink_new(log_sink **out, const log_opts *opts);
/* Writes pending summaries (log_sink_flush with every window closed) and
 * frees. NULL is a no-op. */
void log_sink_free(log_sink *);

/* The tr_log_fn: set tr_node_config.log = log_sink_write, .log_user = the
 * sink. Any thread (lines are written whole, under a lock). Per event
 * name, the first `burst` lines of each window are written; the rest are
 * counted, and when that event next logs after the window (or at
 * log_sink_flush) one line "... event=NAME suppressed=N window_s=W" at the
 * level of the last suppressed line says how many were dropped. The fields
 * string ("key=value ...", values with spaces double-quoted) is written as
 * is in logfmt; in JSON each key becomes a member (numbers as numbers,
 * a bare word as true; keys ts/level/event get a "field_" prefix). Control
 * characters are escaped in both, so a peer-chosen name cannot forge a
 * line. Up to 64 distinct event names are limited separately; beyond that
 * they share one limit, reported as event=log_overflow. */
void log_sink_write(void *sink, tr_log_level level, const char *event,
                    const char *fields);

/* Writes the summary line of every event whose window has ended with lines
 * suppressed. Call it now and then (a timer) so a flood that stopped is
 * still reported. Any thread. */
void log_sink_flush(log_sink *);

/* "error", "warn", "info", "debug" (as written in lines) <-> level.
 * log_level_parse returns 0 or TR_EINVAL. */
const char *log_level_name(tr_log_level);
int log_level_parse(const char *name, tr_log_level *out);
/* "logfmt" or "json"; 0 or TR_EINVAL. */
int log_format_parse(const char *name, log_format *out);

#endif /* TR_DAEMON_LOG_H */
