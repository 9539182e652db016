/* metrics.h — the daemon's Prometheus text exposition (format 0.0.4) of one
 * node, built from the public API only, and the readiness rule /readyz
 * answers with. Loop thread only: every stats call it makes is. */
#ifndef TR_DAEMON_METRICS_H
#define TR_DAEMON_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "troupe.h"

/* Content-Type of what metrics_render writes. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Per-publisher subscription series beyond this many are summed into one
 * series with publisher="$other" ('$' ids are reserved, so it cannot clash
 * with a real actor). */
#define METRICS_MAX_PUBLISHERS 200

/* Writes the exposition of node into *out, a malloc'd NUL-terminated
 * buffer of *len bytes that the caller frees. Every series carries the
 * label node="<tr_node_name>". A local node (tr_node_cluster_stats says
 * TR_ESTATE) has only the engine families; a cluster node adds members,
 * SWIM, registry, per-peer, TLS and link-close families. Returns 0 or
 * TR_ENOMEM (then *out is NULL). Loop thread. */
/* The HTTP endpoint's own counters (http.h), when it renders. */
typedef struct metrics_http {
  uint64_t requests, refused, evicted, timed_out, too_large;
  uint32_t conns;
} metrics_http;

/* ... and, with http not NULL, the troupe_http_* families. */
int metrics_render(tr_node *node, const metrics_http *http, char **out,
                   size_t *len);

#endif /* TR_DAEMON_METRICS_H */
