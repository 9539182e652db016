/* bad_plugin_noentry.c — a plugin that declares its ABI but has no
 * tr_plugin_init: `troupe run` must refuse it, naming the file. */
#include "troupe_plugin.h"

TR_PLUGIN_DECLARE;
