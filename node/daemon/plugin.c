/* plugin.c — loading plugins (troupe_plugin.h) and the registry of the
 * actor types they register. A handful of types at most: a plain array. */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin.h"
#include "troupe_plugin.h"

typedef struct plugin_type_entry {
  const char *name; /* static storage of the plugin */
  const tr_actor_type *type;
} plugin_type_entry;

struct plugin_set {
  tr_node *node;
  void **handles;
  size_t nhandles;
  plugin_type_entry *types;
  size_t ntypes;
};

static void errf(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

int plugin_set_new(plugin_set **out, tr_node *node) {
  *out = calloc(1, sizeof(**out));
  if (!*out) return TR_ENOMEM;
  (*out)->node = node;
  return 0;
}

static int plugin_register(void *ctx, const char *name,
                           const tr_actor_type *type) {
  plugin_set *s = ctx;
  if (!name || !*name || strlen(name) > TR_ID_MAX || strchr(name, ':') ||
      !type || !type->receive)
    return TR_EINVAL;
  if (plugin_type(s, name)) return TR_EEXIST;
  plugin_type_entry *grown =
      realloc(s->types, (s->ntypes + 1) * sizeof(*grown));
  if (!grown) return TR_ENOMEM;
  s->types = grown;
  s->types[s->ntypes++] = (plugin_type_entry){name, type};
  return 0;
}

int plugin_load(plugin_set *s, const char *path, char *err, size_t errlen) {
  if (access(path, R_OK) != 0) {
    errf(err, errlen, "plugin %s: %s", path, strerror(errno));
    return TR_EINVAL;
  }
  /* dlopen searches the library path for a name without '/'; a plugin
   * named on the command line is a file. */
  char local[4096];
  const char *open_path = path;
  if (!strchr(path, '/')) {
    snprintf(local, sizeof(local), "./%s", path);
    open_path = local;
  }
  void *h = dlopen(open_path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *why = dlerror();
    errf(err, errlen, "plugin %s: cannot load: %s", path,
         why ? why : "unknown reason");
    return TR_EINVAL;
  }
  /* Handles are kept from here on, so the types of a plugin that fails
   * half-way stay callable until plugin_set_free. */
  void **grown = realloc(s->handles, (s->nhandles + 1) * sizeof(*grown));
  if (!grown) {
    dlclose(h);
    errf(err, errlen, "plugin %s: out of memory", path);
    return TR_ENOMEM;
  }
  s->handles = grown;
  s->handles[s->nhandles++] = h;

  const uint32_t *abi = dlsym(h, "tr_plugin_abi");
  if (!abi && dlsym(h, "troupe_plugin_abi")) {
    errf(err, errlen,
         "plugin %s: built against an older troupe_plugin.h (ABI 1, "
         "troupe_plugin_*); rebuild it against this one (ABI %u, tr_plugin_*)",
         path, (unsigned)TR_PLUGIN_ABI);
    return TR_EINVAL;
  }
  if (!abi) {
    errf(err, errlen,
         "plugin %s: no tr_plugin_abi symbol (not built with "
         "TR_PLUGIN_DECLARE)", path);
    return TR_EINVAL;
  }
  if (*abi != TR_PLUGIN_ABI) {
    errf(err, errlen, "plugin %s: built for plugin ABI %u, this troupe has %u",
         path, (unsigned)*abi, (unsigned)TR_PLUGIN_ABI);
    return TR_EINVAL;
  }
  int (*init)(const tr_plugin_host *);
  /* POSIX: a function pointer from dlsym goes through an object pointer. */
  *(void **)(&init) = dlsym(h, "tr_plugin_init");
  if (!init) {
    errf(err, errlen, "plugin %s: no entry point tr_plugin_init", path);
    return TR_EINVAL;
  }
  tr_plugin_host host = {.abi = TR_PLUGIN_ABI,
                             .ctx = s,
                             .register_type = plugin_register,
                             .node = s->node};
  int rc = init(&host);
  if (rc != 0) {
    errf(err, errlen, "plugin %s: tr_plugin_init failed: %s (%d)", path,
         rc < 0 ? tr_errname(rc) : "non-zero", rc);
    return TR_EINVAL;
  }
  return 0;
}

const tr_actor_type *plugin_type(const plugin_set *s, const char *name) {
  for (size_t i = 0; i < s->ntypes; i++)
    if (strcmp(s->types[i].name, name) == 0) return s->types[i].type;
  return NULL;
}

void plugin_type_names(const plugin_set *s, char *buf, size_t len) {
  if (!len) return;
  buf[0] = '\0';
  size_t o = 0;
  for (size_t i = 0; i < s->ntypes && o < len; i++) {
    int w = snprintf(buf + o, len - o, "%s%s", i ? "," : "", s->types[i].name);
    if (w < 0) break;
    o += (size_t)w;
  }
}

void plugin_set_free(plugin_set *s) {
  if (!s) return;
  for (size_t i = s->nhandles; i > 0; i--) dlclose(s->handles[i - 1]);
  free(s->handles);
  free(s->types);
  free(s);
}
