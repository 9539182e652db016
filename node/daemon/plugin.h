/* plugin.h — the daemon's plugin loader: dlopens shared objects built
 * against troupe_plugin.h, checks their ABI, runs their entry point and
 * keeps the actor types they register, by name, for `--spawn TYPE`. */
#ifndef TR_DAEMON_PLUGIN_H
#define TR_DAEMON_PLUGIN_H

#include <stddef.h>

#include "troupe.h"

typedef struct plugin_set plugin_set;

/* An empty set for plugins of node (handed to each plugin's init). *out
 * is freed with plugin_set_free. TR_ENOMEM. */
int plugin_set_new(plugin_set **out, tr_node *node);
/* Loads one plugin: dlopen(RTLD_NOW | RTLD_LOCAL), tr_plugin_abi must
 * equal TR_PLUGIN_ABI, tr_plugin_init must return 0. On failure
 * returns TR_EINVAL (or TR_ENOMEM) with one line naming the file in err;
 * types the plugin registered before failing stay registered. */
int plugin_load(plugin_set *, const char *path, char *err, size_t errlen);
/* The type registered as name, or NULL. */
const tr_actor_type *plugin_type(const plugin_set *, const char *name);
/* Every registered type name, comma separated, for messages ("" if none). */
void plugin_type_names(const plugin_set *, char *buf, size_t len);
/* Unloads the plugins. Their code runs the actors' callbacks, so the node
 * must be freed first. NULL is a no-op. */
void plugin_set_free(plugin_set *);

#endif /* TR_DAEMON_PLUGIN_H */
