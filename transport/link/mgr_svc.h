/* mgr_svc.h — the link manager's services, which every file of
 * transport/link may call by name, the leaf conn.c included: they record or
 * lend something and never call back into the caller's layer. */
#ifndef TR_LINK_MGR_SVC_H
#define TR_LINK_MGR_SVC_H

#include <stddef.h>
#include <stdint.h>

#include "link.h"

typedef struct link_chunk link_chunk;

/* One log line through the node's log callback, if level is enabled. */
void mgr_log(link_mgr *, tr_log_level, const char *event, const char *fmt,
             ...) __attribute__((format(printf, 4, 5)));
/* One more thing (a handle, a link, a connection) that calls mgr_release
 * once it has closed; the manager's memory waits for all of them. */
void mgr_hold(link_mgr *);
/* One such thing has closed; the last one after link_mgr_free frees the
 * manager and calls on_freed. */
void mgr_release(link_mgr *);
uint64_t mgr_random(link_mgr *); /* for jitter and sessions, not secrets */

/* The send-chunk pool: a chunk of at least min_cap bytes (NULL on
 * ENOMEM), and one given back. */
link_chunk *mgr_chunk_get(link_mgr *, size_t min_cap);
void mgr_chunk_put(link_mgr *, link_chunk *);

/* lk has something to write: the manager flushes it (link_flush) at the end
 * of this loop iteration. */
void mgr_mark_dirty(peer_link *lk);

#endif /* TR_LINK_MGR_SVC_H */
