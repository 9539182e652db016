/* bad_plugin_hang.c — an actor type `hang` whose deinit blocks for 20 s,
 * so `troupe run` on SIGTERM must give up after its 5 s bound (exit 1). */
#include <unistd.h>

#include "troupe_plugin.h"

TR_PLUGIN_DECLARE;

static int hang_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  return 0;
}

static void hang_deinit(tr_ctx *ctx, void *st) { sleep(20); }

static const tr_actor_type hang_type = {
    .name = "hang", .receive = hang_receive, .deinit = hang_deinit};

int tr_plugin_init(const tr_plugin_host *host) {
  return host->register_type(host->ctx, "hang", &hang_type);
}
