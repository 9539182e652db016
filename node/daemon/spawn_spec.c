/* spawn_spec.c — see spawn_spec.h. */
#include "spawn_spec.h"

#include <string.h>

#include "troupe.h"

int spawn_spec_parse(spawn_spec *out, const char *spec) {
  if (strlen(spec) >= sizeof(out->buf)) return TR_ETOOBIG;
  strcpy(out->buf, spec);
  out->type = out->buf;
  out->id = out->arg = NULL;
  char *colon = strchr(out->buf, ':');
  if (!colon) return 0;
  *colon = '\0';
  char *id = colon + 1;
  colon = strchr(id, ':');
  if (colon) {
    *colon = '\0';
    out->arg = colon + 1;
  }
  out->id = *id ? id : NULL;
  return 0;
}
