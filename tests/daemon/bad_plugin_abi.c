/* bad_plugin_abi.c — a plugin built for another plugin ABI: `troupe run`
 * must refuse it before calling its entry point. */
#include "troupe_plugin.h"

const uint32_t troupe_plugin_abi = TROUPE_PLUGIN_ABI + 1000u;

int troupe_plugin_init(const troupe_plugin_host *host) { return 0; }
