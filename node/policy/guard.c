/* guard.c — see policy_guard.h. Denials live in a uthash keyed by
 * (who, role, action, line); a key is logged when first denied and then at
 * most every POLICY_LOG_EVERY_MS, with how many were denied meanwhile. */
#include "policy_guard.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A failed allocation inside HASH_ADD leaves the table as it was. */
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (hash_oom = true)
#include "uthash.h"

typedef struct denial_key {
  char who[TR_ID_MAX + 1];
  uint32_t role, action, line;
} denial_key;

typedef struct denial {
  UT_hash_handle hh;
  denial_key key; /* zero-padded: hashed as bytes */
  uint64_t count;
  uint64_t logged_count; /* count at the last log line */
  uint64_t logged_at;    /* 0: never */
} denial;

struct policy_guard {
  policy *p;
  uint64_t gen;
  tr_log_fn log;
  void *log_user;
  tr_log_level level;
  denial *denials;
  uint32_t ndenials;
  uint64_t denied;
};

int policy_guard_new(policy_guard **out, tr_log_fn log, void *log_user,
                     tr_log_level level) {
  policy_guard *g = calloc(1, sizeof(*g));
  if (!g) return TR_ENOMEM;
  g->log = log;
  g->log_user = log_user;
  g->level = level ? level : TR_LOG_WARN;
  *out = g;
  return 0;
}

void policy_guard_free(policy_guard *g) {
  if (!g) return;
  denial *d, *tmp;
  HASH_ITER(hh, g->denials, d, tmp) {
    HASH_DEL(g->denials, d);
    free(d);
  }
  policy_free(g->p);
  free(g);
}

void policy_guard_set_log_level(policy_guard *g, tr_log_level level) {
  g->level = level;
}

void policy_guard_set(policy_guard *g, policy *p) {
  policy_free(g->p);
  g->p = p;
  g->gen++;
}

const policy *policy_guard_policy(const policy_guard *g) { return g->p; }
uint64_t policy_guard_generation(const policy_guard *g) { return g->gen; }

__attribute__((format(printf, 4, 5)))
static void guard_log(policy_guard *g, tr_log_level level, const char *event,
                      const char *fmt, ...) {
  if (!g->log || level > g->level) return;
  char fields[512];
  va_list ap;
  va_start(ap, fmt);
  tr_log_vfields(fields, sizeof(fields), fmt, ap);
  va_end(ap);
  g->log(g->log_user, level, event, fields);
}

static const char *role_name(policy_role r) {
  return r == POLICY_ROLE_NODE       ? "node"
         : r == POLICY_ROLE_OPERATOR ? "operator"
                                     : "viewer";
}

/* The entry for key, made if missing; "$other" past the cap; NULL on
 * ENOMEM. */
static denial *denial_of(policy_guard *g, denial_key *k) {
  denial *d = NULL;
  HASH_FIND(hh, g->denials, k, sizeof(*k), d);
  if (d) return d;
  if (g->ndenials >= POLICY_DENIAL_KEYS_MAX) {
    memset(k->who, 0, sizeof(k->who));
    strcpy(k->who, "$other");
    HASH_FIND(hh, g->denials, k, sizeof(*k), d);
    if (d) return d;
  }
  if (!(d = calloc(1, sizeof(*d)))) return NULL;
  d->key = *k;
  bool hash_oom = false;
  HASH_ADD(hh, g->denials, key, sizeof(d->key), d);
  if (hash_oom) {
    free(d);
    return NULL;
  }
  g->ndenials++;
  return d;
}

int policy_guard_check(policy_guard *g, const policy_subject *s,
                       policy_action a, const char *object,
                       const char *topic, uint64_t now_ms) {
  if (!g || !g->p) return 0;
  uint32_t line = 0;
  if (policy_allows(g->p, s, a, object, topic, &line)) return 0;
  g->denied++;
  denial_key k;
  memset(&k, 0, sizeof(k));
  snprintf(k.who, sizeof(k.who), "%s", s && s->name ? s->name : "?");
  k.role = s ? (uint32_t)s->role : 0;
  k.action = (uint32_t)a;
  k.line = line;
  denial *d = denial_of(g, &k);
  if (!d) return TR_EPERM; /* counted in all, not per key */
  d->count++;
  if (!d->logged_at || now_ms - d->logged_at >= POLICY_LOG_EVERY_MS) {
    guard_log(g, TR_LOG_WARN, "policy_denied",
              "who=%s role=%s action=%s object=%s topic=%s rule=%u "
              "count=%llu",
              d->key.who, role_name(s ? s->role : 0), policy_action_name(a),
              object ? object : "?",
              a == POLICY_SUBSCRIBE && topic && topic[0] ? topic : "-", line,
              (unsigned long long)(d->count - d->logged_count));
    d->logged_at = now_ms ? now_ms : 1;
    d->logged_count = d->count;
  }
  return TR_EPERM;
}

uint64_t policy_guard_denied(const policy_guard *g) { return g->denied; }

void policy_guard_each(const policy_guard *g,
                       void (*fn)(void *arg, const char *who, policy_role,
                                  policy_action, uint32_t line,
                                  uint64_t count),
                       void *arg) {
  for (const denial *d = g->denials; d; d = d->hh.next)
    fn(arg, d->key.who, (policy_role)d->key.role,
       (policy_action)d->key.action, d->key.line, d->count);
}
