/* node_inspect.c — tr_node_inspect (troupe_inspect.h): the node's own view
 * (its actors filtered, sorted and cut to the limit; its links, counters,
 * subscriptions, group memberships, monitors and recent dead letters),
 * which the cluster also gives other nodes' inspect requests and
 * operators' `troupe stats`; and the asking of
 * every member, which the cluster does (host_inspect.c); and the
 * inspectors' sessions and TLS connections, which the cluster makes
 * (host_session.c, host_tls_serve.c). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node_asm.h"
#include "troupe_inspect.h"

#define INSPECT_LIMIT_DEFAULT 100u

const char *tr_inspect_sort_name(tr_inspect_sort s) {
  static const char *const names[] = {
#define TR_INSPECT_SORT_NAME_(name, str) str,
      TR_INSPECT_SORT_MAP(TR_INSPECT_SORT_NAME_)
#undef TR_INSPECT_SORT_NAME_
  };
  return (unsigned)s < TR_INSPECT_SORT_COUNT ? names[s] : NULL;
}

/* ---- actors ----------------------------------------------------------------- */

typedef struct actor_rows {
  const tr_inspect_query *q;
  tr_actor_info *rows;
  size_t n, cap;
  int rc;
} actor_rows;

static void actors_take(void *arg, const tr_actor_info *a) {
  actor_rows *r = arg;
  const tr_inspect_query *q = r->q;
  if (r->rc != 0) return;
  if (q->actor && strcmp(a->id, q->actor) != 0 &&
      !(q->children && a->parent && strcmp(a->parent, q->actor) == 0))
    return;
  if (q->filter && q->filter[0] && !strstr(a->id, q->filter) &&
      !strstr(a->type, q->filter))
    return;
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 64;
    tr_actor_info *grown = realloc(r->rows, cap * sizeof(*grown));
    if (!grown) {
      r->rc = TR_ENOMEM;
      return;
    }
    r->rows = grown;
    r->cap = cap;
  }
  r->rows[r->n++] = *a;
}

/* The order asked for (qsort has no context argument, hence our own sort
 * below). */
typedef struct sort_key {
  tr_inspect_sort by;
  int desc;
} sort_key;

static int info_cmp(const tr_actor_info *a, const tr_actor_info *b,
                    sort_key k);

int tr_inspect_compare(const tr_actor_info *a, const tr_actor_info *b,
                       tr_inspect_sort by, int desc) {
  return info_cmp(a, b, (sort_key){by, desc});
}

static int cmp_u64(uint64_t a, uint64_t b) { return (a > b) - (a < b); }
static int cmp_dbl(double a, double b) { return (a > b) - (a < b); }

static int info_cmp(const tr_actor_info *a, const tr_actor_info *b,
                    sort_key k) {
  int c = 0;
  switch (k.by) {
  case TR_INSPECT_SORT_ID: c = strcmp(a->id, b->id); break;
  case TR_INSPECT_SORT_TYPE: c = strcmp(a->type, b->type); break;
  case TR_INSPECT_SORT_QUEUED: c = cmp_u64(a->queued, b->queued); break;
  case TR_INSPECT_SORT_CAPACITY: c = cmp_u64(a->capacity, b->capacity); break;
  case TR_INSPECT_SORT_HWM: c = cmp_u64(a->hwm, b->hwm); break;
  case TR_INSPECT_SORT_DELIVERED: c = cmp_u64(a->delivered, b->delivered); break;
  case TR_INSPECT_SORT_SENT: c = cmp_u64(a->sent, b->sent); break;
  case TR_INSPECT_SORT_IN_PER_S: c = cmp_dbl(a->in_per_s, b->in_per_s); break;
  case TR_INSPECT_SORT_OUT_PER_S: c = cmp_dbl(a->out_per_s, b->out_per_s); break;
  case TR_INSPECT_SORT_HANDLER_MEAN:
    c = cmp_u64(a->handler_mean_ns, b->handler_mean_ns);
    break;
  case TR_INSPECT_SORT_HANDLER_MAX:
    c = cmp_u64(a->handler_max_ns, b->handler_max_ns);
    break;
  case TR_INSPECT_SORT_AGE: c = cmp_u64(a->age_ms, b->age_ms); break;
  case TR_INSPECT_SORT_DEAD: c = cmp_u64(a->dead, b->dead); break;
  case TR_INSPECT_SORT_RESTARTS: c = cmp_u64(a->restarts, b->restarts); break;
  case TR_INSPECT_SORT_COUNT: break;
  }
  if (k.desc) c = -c;
  return c ? c : strcmp(a->id, b->id); /* ties: by id */
}

/* Sorts rows[0..n) by k (tmp: room for n rows): a merge sort, insertion
 * below 32 rows. A heap of the first `limit` would do less work for a
 * small page of many actors, but a full sort of a node's actors (10,000:
 * about a millisecond) keeps this simple. */
static void rows_sort(tr_actor_info *rows, tr_actor_info *tmp, size_t n,
                      sort_key k) {
  if (n < 32) {
    for (size_t i = 1; i < n; i++) {
      tr_actor_info x = rows[i];
      size_t j = i;
      for (; j > 0 && info_cmp(&rows[j - 1], &x, k) > 0; j--)
        rows[j] = rows[j - 1];
      rows[j] = x;
    }
    return;
  }
  size_t half = n / 2;
  rows_sort(rows, tmp, half, k);
  rows_sort(rows + half, tmp, n - half, k);
  size_t i = 0, j = half, o = 0;
  while (i < half && j < n)
    tmp[o++] = info_cmp(&rows[j], &rows[i], k) < 0 ? rows[j++] : rows[i++];
  while (i < half) tmp[o++] = rows[i++];
  while (j < n) tmp[o++] = rows[j++];
  memcpy(rows, tmp, n * sizeof(*tmp));
}

static int local_actors(tr_node *n, const tr_inspect_query *q,
                        const tr_inspect_fns *fns, void *arg,
                        uint32_t *total) {
  actor_rows r = {.q = q};
  tr_node_actors(n, actors_take, &r);
  tr_actor_info *tmp = r.n ? malloc(r.n * sizeof(*tmp)) : NULL;
  if (r.rc != 0 || (r.n && !tmp)) {
    free(r.rows);
    free(tmp);
    return TR_ENOMEM;
  }
  rows_sort(r.rows, tmp, r.n, (sort_key){q->sort, q->desc});
  free(tmp);
  uint32_t limit = q->limit ? q->limit : INSPECT_LIMIT_DEFAULT;
  const char *self = tr_node_name(n);
  for (size_t i = 0; i < r.n && i < limit; i++)
    if (fns->actor) fns->actor(arg, self, &r.rows[i]);
  *total = (uint32_t)r.n;
  free(r.rows);
  return 0;
}

/* ---- the rest of the node's view ------------------------------------------------ */

typedef struct emit_arg {
  const tr_inspect_fns *fns;
  void *arg;
  const char *self;
} emit_arg;

static void emit_link(void *arg, const char *peer, const tr_peer_stats *s) {
  emit_arg *e = arg;
  e->fns->link(e->arg, e->self, peer, s);
}

static void emit_sub(void *arg, const tr_sub_info *s) {
  emit_arg *e = arg;
  e->fns->sub(e->arg, e->self, s);
}

static void emit_group(void *arg, const tr_group_member *m) {
  emit_arg *e = arg;
  e->fns->group(e->arg, e->self, m);
}

/* The counters `troupe stats` prints, by name, in a stable order. */
static void local_counters(tr_node *n, const tr_inspect_fns *fns, void *arg) {
  tr_node_stats ns;
  tr_cluster_stats cs;
  memset(&cs, 0, sizeof(cs));
  tr_node_stats_get(n, &ns);
  cluster *c = node_cluster(n);
  if (c) cluster_stats(c, &cs);
  else cs.alive = 1;
  const char *self = tr_node_name(n);
  struct {
    const char *name;
    uint64_t v;
  } rows[] = {{"actors", ns.actors},
              {"spawned", ns.spawned},
              {"stopped", ns.stopped},
              {"failed", ns.failed},
              {"sent", ns.sent},
              {"delivered", ns.delivered},
              {"published", ns.published},
              {"mailbox_hwm", ns.mailbox_hwm},
              {"members_alive", cs.alive},
              {"members_suspect", cs.suspect},
              {"members_dead", cs.dead},
              {"registry_ids", cs.registry_ids},
              {"group_members", ns.group_members},
              {"group_keys", cs.group_keys},
              {"group_broadcasts", ns.group_broadcasts},
              {"remote_sent", cs.remote_sent},
              {"remote_received", cs.remote_received},
              {"remote_failed", cs.remote_failed},
              {"undeliverable", cs.undeliverable},
              {"rejected", cs.rejected},
              {"local_health", cs.local_health}};
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
    fns->counter(arg, self, rows[i].name, rows[i].v);
  for (int d = 0; d < TR_DL_COUNT; d++) {
    char name[48];
    snprintf(name, sizeof(name), "dead_%s",
             tr_dead_reason_name((tr_dead_reason)d));
    fns->counter(arg, self, name, ns.dead[d]);
  }
}

/* ---- monitors and dead letters, at most `limit` of each ------------------- */

typedef struct capped {
  const tr_inspect_fns *fns;
  void *arg;
  const char *self;
  uint32_t limit, given, more;
} capped;

static bool cap_take(capped *k) {
  if (k->given == k->limit) {
    k->more++;
    return false;
  }
  k->given++;
  return true;
}

static void cap_monitor(void *arg, const tr_monitor_info *m) {
  capped *k = arg;
  if (cap_take(k) && k->fns->monitor) k->fns->monitor(k->arg, k->self, m);
}

static void cap_dead_letter(void *arg, const tr_dead_letter *d) {
  capped *k = arg;
  if (cap_take(k) && k->fns->dead_letter)
    k->fns->dead_letter(k->arg, k->self, d);
}

/* The monitors between local actors (the engine's) and those across nodes
 * (the cluster's), the first `limit` given and the rest counted. */
static void local_monitors(tr_node *n, const tr_inspect_query *q,
                           const tr_inspect_fns *fns, void *arg) {
  capped k = {fns, arg, tr_node_name(n),
              q->limit ? q->limit : INSPECT_LIMIT_DEFAULT, 0, 0};
  eng_monitors_each(n, q->actor, cap_monitor, &k);
  cluster *c = node_cluster(n);
  if (c) cluster_monitors_each(c, q->actor, cap_monitor, &k);
  if (k.more && fns->left_off)
    fns->left_off(arg, k.self, TR_INSPECT_MONITORS, k.more);
}

static void local_dead_letters(tr_node *n, const tr_inspect_query *q,
                               const tr_inspect_fns *fns, void *arg) {
  capped k = {fns, arg, tr_node_name(n),
              q->limit ? q->limit : INSPECT_LIMIT_DEFAULT, 0, 0};
  eng_dead_letters_each(n, q->actor, cap_dead_letter, &k);
  if (k.more && fns->left_off)
    fns->left_off(arg, k.self, TR_INSPECT_DEAD_LETTERS, k.more);
}

int node_inspect_local(tr_node *n, const tr_inspect_query *q,
                       const tr_inspect_fns *fns, void *arg,
                       uint32_t *total) {
  *total = 0;
  emit_arg e = {fns, arg, tr_node_name(n)};
  if ((q->what & TR_INSPECT_ACTORS)) {
    int rc = local_actors(n, q, fns, arg, total);
    if (rc != 0) return rc;
  }
  if ((q->what & TR_INSPECT_LINKS) && fns->link)
    tr_node_peers(n, emit_link, &e);
  if ((q->what & TR_INSPECT_COUNTERS) && fns->counter)
    local_counters(n, fns, arg);
  if ((q->what & TR_INSPECT_SUBS) && fns->sub)
    tr_node_subscriptions(n, emit_sub, &e);
  if ((q->what & TR_INSPECT_GROUPS) && fns->group)
    tr_group_members(n, NULL, 1, emit_group, &e);
  if (q->what & TR_INSPECT_MONITORS) local_monitors(n, q, fns, arg);
  if (q->what & TR_INSPECT_DEAD_LETTERS) local_dead_letters(n, q, fns, arg);
  return 0;
}

/* ---- the public call ----------------------------------------------------------- */

static bool bad_id(const char *s) {
  if (!s) return false;
  size_t len = strnlen(s, TR_ID_MAX + 1);
  return len == 0 || len > TR_ID_MAX;
}

int tr_node_inspect(tr_node *n, const tr_inspect_query *q,
                    const tr_inspect_fns *given, void *arg,
                    uint64_t *handle) {
  if (handle) *handle = 0;
  if (!n || !q || !given || !q->what ||
      (q->what & ~(TR_INSPECT_ACTORS | TR_INSPECT_LINKS | TR_INSPECT_COUNTERS |
                   TR_INSPECT_SUBS | TR_INSPECT_GROUPS | TR_INSPECT_MONITORS |
                   TR_INSPECT_DEAD_LETTERS)) ||
      q->limit > TR_INSPECT_LIMIT_MAX ||
      (unsigned)q->sort >= TR_INSPECT_SORT_COUNT || bad_id(q->node) ||
      bad_id(q->actor) ||
      (q->filter && strnlen(q->filter, TR_ID_MAX + 1) > TR_ID_MAX))
    return TR_EINVAL;
  /* The callbacks added later are read only when the query asks for
   * them: a caller's older, shorter struct need not hold them. */
  tr_inspect_fns all;
  memcpy(&all, given, offsetof(tr_inspect_fns, monitor));
  unsigned later = TR_INSPECT_MONITORS | TR_INSPECT_DEAD_LETTERS;
  all.monitor = q->what & TR_INSPECT_MONITORS ? given->monitor : NULL;
  all.dead_letter =
      q->what & TR_INSPECT_DEAD_LETTERS ? given->dead_letter : NULL;
  all.left_off = q->what & later ? given->left_off : NULL;
  const tr_inspect_fns *fns = &all;
  cluster *c = node_cluster(n);
  if (c) return cluster_inspect(c, q, fns, arg, handle);
  const char *self = tr_node_name(n);
  if (q->node && strcmp(q->node, self) != 0) return TR_ENOTFOUND;
  uint32_t total = 0;
  int rc = node_inspect_local(n, q, fns, arg, &total);
  if (fns->node_done) fns->node_done(arg, self, rc, total);
  if (fns->done) fns->done(arg);
  return 0;
}

void tr_node_inspect_cancel(tr_node *n, uint64_t handle) {
  cluster *c = n ? node_cluster(n) : NULL;
  if (c) cluster_inspect_cancel(c, handle);
}

/* ---- sessions (the cluster makes and checks them) -------------------------------- */

int tr_node_session_check(tr_node *n, const char *token, tr_session *out) {
  if (!n || !token || !out) return TR_EINVAL;
  cluster *c = node_cluster(n);
  return c ? cluster_session_check(c, token, out) : TR_ESTATE;
}

int tr_node_session_stop(tr_node *n, const char *token, const char *id) {
  if (!n || !token || !id) return TR_EINVAL;
  cluster *c = node_cluster(n);
  return c ? cluster_session_stop(c, token, id) : TR_ESTATE;
}

int tr_node_session_ask(tr_node *n, const char *token, const char *to,
                        const void *data, size_t len, uint32_t timeout_ms,
                        tr_session_reply_fn fn, void *arg, uint64_t *handle) {
  if (handle) *handle = 0;
  if (!n || !token || !to || !fn || (!data && len)) return TR_EINVAL;
  cluster *c = node_cluster(n);
  return c ? cluster_session_ask(c, token, to, data, len, timeout_ms, fn, arg,
                                 handle)
           : TR_ESTATE;
}

void tr_node_session_ask_cancel(tr_node *n, uint64_t handle) {
  cluster *c = n ? node_cluster(n) : NULL;
  if (c) cluster_session_ask_cancel(c, handle);
}

int tr_node_session_send(tr_node *n, const char *token, const char *to,
                         const void *data, size_t len) {
  if (!n || !token || !to || (!data && len)) return TR_EINVAL;
  cluster *c = node_cluster(n);
  return c ? cluster_session_send(c, token, to, data, len) : TR_ESTATE;
}

int tr_node_session_issue(tr_node *n, const char *name, int operator,
                          char *token, size_t cap) {
  if (!n || !name || !token) return TR_EINVAL;
  cluster *c = node_cluster(n);
  return c ? cluster_session_issue(c, name, operator != 0, token, cap)
           : TR_ESTATE;
}

/* ---- TLS for inspectors (the cluster holds the certificates) ---------------------- */

int tr_node_tls_accept(tr_node *n, tr_tls_conn **out) {
  if (!out) return TR_EINVAL;
  *out = NULL;
  if (!n) return TR_EINVAL;
  cluster *c = node_cluster(n);
  return c ? cluster_tls_accept(c, out) : TR_ESTATE;
}
