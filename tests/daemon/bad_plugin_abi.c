/* bad_plugin_abi.c — a plugin built for another plugin ABI: `troupe run`
 * must refuse it before calling its entry point. */
#include "troupe_plugin.h"

const uint32_t tr_plugin_abi = TR_PLUGIN_ABI + 1000u;

int tr_plugin_init(const tr_plugin_host *host) { return 0; }
