/* bad_plugin_old_abi.c — a plugin built against the ABI 1 header, which
 * named its symbols troupe_plugin_*: the daemon must say to rebuild it. */
#include <stdint.h>

const uint32_t troupe_plugin_abi = 1u;
int troupe_plugin_init(const void *host);
int troupe_plugin_init(const void *host) { return host ? 0 : 1; }
