/* log_tap.c — where the node's log lines go: the user's callback (up to
 * its level) and the taps of operators watching the node (`troupe
 * monitor`, each up to its own level). Every layer of the node logs
 * through eng_log_line, so one place sees every line; the levels the
 * layers build lines at follow the most verbose listener (level_hook). A
 * tap's callback may log (a reply that could not go): that line reaches
 * the user's callback only, never a tap again. */
#include <stdlib.h>

#include "engine.h"
#include "eng_remote.h"

struct eng_log_tap {
  eng_log_tap *next;
  tr_log_level level;
  eng_log_tap_fn fn; /* NULL: removed while lines were going out */
  void *user;
};

/* The sink and the level every layer builds lines at, from who listens. */
void eng_log_levels(tr_node *n) {
  tr_log_level level = n->user_level;
  for (eng_log_tap *t = n->taps; t; t = t->next)
    if (t->fn && t->level > level) level = t->level;
  bool changed = level != n->log_level;
  n->log_level = level;
  n->log = n->user_log || n->taps ? eng_log_line : NULL;
  n->log_user = n;
  if (changed && n->level_hook) n->level_hook(n->level_hook_user, level);
}

void eng_log_line(void *node, tr_log_level level, const char *event,
                  const char *fields) {
  tr_node *n = node;
  if (n->user_log && level <= n->user_level)
    n->user_log(n->user_log_user, level, event, fields);
  if (n->in_tap || !n->taps) return;
  n->in_tap = true;
  for (eng_log_tap *t = n->taps; t; t = t->next)
    if (t->fn && level <= t->level) t->fn(t->user, level, event, fields);
  n->in_tap = false;
  if (!n->taps_dirty) return;
  n->taps_dirty = false;
  for (eng_log_tap **pp = &n->taps; *pp;) {
    eng_log_tap *t = *pp;
    if (t->fn) {
      pp = &t->next;
      continue;
    }
    *pp = t->next;
    free(t);
  }
  eng_log_levels(n);
}

eng_log_tap *eng_log_tap_add(tr_node *n, tr_log_level level,
                             eng_log_tap_fn fn, void *user) {
  if (!fn || level < TR_LOG_ERROR || level > TR_LOG_DEBUG) return NULL;
  eng_log_tap *t = calloc(1, sizeof(*t));
  if (!t) return NULL;
  t->level = level;
  t->fn = fn;
  t->user = user;
  t->next = n->taps;
  n->taps = t;
  eng_log_levels(n);
  return t;
}

void eng_log_tap_remove(tr_node *n, eng_log_tap *t) {
  if (!t) return;
  if (n->in_tap) { /* lines are going out through the list: later */
    t->fn = NULL;
    n->taps_dirty = true;
    return;
  }
  for (eng_log_tap **pp = &n->taps; *pp; pp = &(*pp)->next) {
    if (*pp != t) continue;
    *pp = t->next;
    free(t);
    break;
  }
  eng_log_levels(n);
}

void eng_log_taps_free(tr_node *n) {
  while (n->taps) {
    eng_log_tap *t = n->taps;
    n->taps = t->next;
    free(t);
  }
  n->level_hook = NULL;
  eng_log_levels(n);
}

void eng_set_log_level(tr_node *n, tr_log_level level) {
  n->user_level = level;
  eng_log_levels(n);
}

void eng_set_log_hook(tr_node *n, void (*fn)(void *user, tr_log_level),
                      void *user) {
  n->level_hook = fn;
  n->level_hook_user = user;
}

tr_log_level eng_log_level(tr_node *n) { return n->log_level; }
