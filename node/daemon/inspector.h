/* inspector.h — the web inspector (docs/inspector.md): the embedded page
 * and its JSON endpoints and event stream, served as a route of an HTTP
 * server (http.h) on the node's loop. The data is the whole cluster's,
 * gathered with tr_node_inspect (troupe_inspect.h) for each request. */
#ifndef TR_DAEMON_INSPECTOR_H
#define TR_DAEMON_INSPECTOR_H

#include "http.h"
#include "log_ring.h"
#include "troupe.h"

typedef struct inspector inspector;

/* 0, or TR_ENOMEM. log (may be NULL) gets the caps' lines; lines (may be
 * NULL: no log tail or events) is the daemon's ring of its last lines,
 * borrowed (it outlives the inspector). */
int inspector_new(inspector **out, tr_node *node, tr_log_fn log,
                  void *log_user, log_ring *lines);
/* The route for http_opts.route, with the inspector as user. */
bool inspector_route(void *user, http_conn *, const http_request *);
/* After http_stop of the server it routes for (which ends its requests). */
void inspector_free(inspector *);

/* Counters, for tests. */
typedef struct inspector_stats {
  uint64_t api_requests; /* JSON answers (any status) */
  uint64_t bad_requests; /* of those, 4xx */
  uint64_t updates;      /* stream updates written */
  uint64_t streams_refused; /* streams past the cap (503) */
  uint32_t streams;      /* open now */
} inspector_stats;
void inspector_stats_get(const inspector *, inspector_stats *out);

#endif /* TR_DAEMON_INSPECTOR_H */
