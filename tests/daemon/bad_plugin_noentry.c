/* bad_plugin_noentry.c — a plugin that declares its ABI but has no
 * troupe_plugin_init: `troupe run` must refuse it, naming the file. */
#include "troupe_plugin.h"

TROUPE_PLUGIN_DECLARE;
