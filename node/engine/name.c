/* name.c — interned, reference-counted strings for actor ids, senders and
 * topics, so a queued message can outlive the actor that sent it. */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

eng_name *eng_name_new(const char *s, size_t len) {
  eng_name *n = malloc(sizeof(*n) + len + 1);
  if (!n) return NULL;
  n->refs = 1;
  n->len = (uint32_t)len;
  memcpy(n->str, s, len);
  n->str[len] = '\0';
  return n;
}
