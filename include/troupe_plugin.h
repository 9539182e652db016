/* troupe_plugin.h — actor types in a shared object, loaded by the `troupe`
 * daemon (`troupe run --plugin path.so`). A plugin is built against this
 * header and troupe.h, links nothing of troupe (the daemon provides the
 * symbols), and exports exactly two things:
 *
 *   TR_PLUGIN_DECLARE;                      // the ABI it was built for
 *   int tr_plugin_init(const tr_plugin_host *host) {
 *     return host->register_type(host->ctx, "counter", &counter_type);
 *   }
 *
 * The daemon refuses a plugin whose ABI differs from its own, or that lacks
 * either symbol, with a message naming the file. Registered types are
 * spawned with `troupe run --spawn TYPE[:ID[:ARG]]`; ARG reaches the type's
 * init as a NUL-terminated string (or NULL). Types and their names must
 * stay valid while the daemon runs (static storage). */
#ifndef TROUPE_PLUGIN_H
#define TROUPE_PLUGIN_H

#include <stdint.h>

#include "troupe.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever this header or troupe.h changes incompatibly. 2: the
 * tr_ prefix (ABI 1 named these troupe_plugin_*). */
#define TR_PLUGIN_ABI 2u

typedef struct tr_plugin_host {
  uint32_t abi; /* the daemon's TR_PLUGIN_ABI */
  void *ctx;    /* pass back to register_type */
  /* Makes `type` spawnable as `name`. TR_EEXIST if a type of that name is
   * registered already, TR_EINVAL for a bad name (empty, over TR_ID_MAX,
   * or with ':') or a type without receive. */
  int (*register_type)(void *ctx, const char *name,
                       const tr_actor_type *type);
  tr_node *node; /* the node the daemon runs, for plugins that spawn */
} tr_plugin_host;

#define TR_PLUGIN_DECLARE \
  TR_API const uint32_t tr_plugin_abi = TR_PLUGIN_ABI

/* The entry point: non-zero fails the load (the daemon exits 2). */
TR_API int tr_plugin_init(const tr_plugin_host *host);

#ifdef __cplusplus
}
#endif
#endif /* TROUPE_PLUGIN_H */
