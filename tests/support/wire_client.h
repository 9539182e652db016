/* wire_client.h — a hand-held peer for attack and protocol tests: a link
 * manager on a private loop that connects to a node with any certificate
 * and any name, sends whatever frames and envelopes a test crafts (cluster
 * messages about other nodes, operator requests, stop envelopes...), and
 * records what comes back: frames, envelopes, why a connection was refused.
 * Everything runs on the calling thread, inside wc_run. */
#ifndef TR_WIRE_CLIENT_H
#define TR_WIRE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "link.h"

typedef struct wc wc;

typedef struct wc_opts {
  const char *name;             /* the name its hello gives */
  const char *ca_file, *cert_file, *key_file;
  uint64_t incarnation;         /* its hello's epoch; 0: now in ms */
  uint32_t handshake_timeout_ms; /* [3000] */
} wc_opts;

/* A received frame (copied). */
typedef struct wc_frame {
  troupe_FrameKind kind;
  uint8_t *body;
  size_t len;
} wc_frame;

int wc_new(wc **out, const wc_opts *);
void wc_free(wc *); /* NULL ok */

/* Sends one cluster frame (kind >= 16) as a seed attempt to addr: it dials,
 * says hello, and (once the node's hello came back) sends the frame; the
 * link then exists under the node's name. 0 or link_send_seed's error. */
int wc_seed_frame(wc *, const char *addr, troupe_FrameKind kind,
                  const void *msg, const pb_msgdesc_t *fields);
/* The link to node `name` once it is up, else NULL. */
peer_link *wc_link(wc *, const char *name);
/* Runs the loop until pred(arg) holds or ms pass: true if it held. */
bool wc_run(wc *, bool (*pred)(wc *, void *), void *arg, uint32_t ms);

/* What came back. */
size_t wc_nframes(wc *);
const wc_frame *wc_frame_at(wc *, size_t i);
size_t wc_nenvelopes(wc *);
/* The last seed failure (reason LINK_CLOSE_NONE: none yet). */
const link_seed_failure *wc_seed_failure(wc *);
/* Its detail, copied (the failure's strings are gone after the callback). */
const char *wc_seed_detail(wc *);
/* Times a link went down. */
size_t wc_downs(wc *);

#endif /* TR_WIRE_CLIENT_H */
