/* inspector.c — see inspector.h and docs/inspector.md. Each API request
 * is one tr_node_inspect of the members it needs; the answers are copied
 * into a gather (rows with their own strings), and rendered as JSON when
 * every node is done (or timed out). A stream re-gathers every second. */
#include "inspector.h"

#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "ops_print.h"
#include "troupe_inspect.h"
#include "ui_assets.h"

#define INS_MAX_STREAMS 16u
#define INS_MAX_REQUESTS 64u /* API requests gathering at once */
#define INS_TICK_MS 1000u
#define INS_LIMIT_DEFAULT 50u
#define INS_LIMIT_MAX 500u
#define INS_JSON "application/json; charset=utf-8"

typedef enum { API_CLUSTER, API_ACTORS, API_ACTOR, API_TOPICS, API_GROUPS,
               API_STREAM, API_ASK, API_DEAD } api_kind;

/* An actor's detail lists at most this many monitors each way, and this
 * many recent dead letters (every node's, newest first). */
#define INS_MONITORS_MAX 50u
#define INS_DEAD_MAX 50u

/* An ask from the page must be answered before the server's 5 s. */
#define INS_ASK_DEFAULT_MS 3000u
#define INS_ASK_MAX_MS 4000u

/* ---- what came back --------------------------------------------------------- */

typedef struct g_actor {
  tr_actor_info info; /* id, type, parent: the gather's strings */
  const char *node;
} g_actor;
typedef struct g_link {
  const char *node, *peer;
  tr_peer_stats s; /* cipher: the gather's string */
} g_link;
typedef struct g_counter {
  const char *node, *name;
  uint64_t v;
} g_counter;
typedef struct g_sub {
  const char *node;
  tr_sub_info s;
} g_sub;
typedef struct g_group {
  const char *node, *group, *id;
} g_group;
typedef struct g_node {
  const char *node;
  int status;
  uint32_t total;
} g_node;
typedef struct g_monitor {
  tr_monitor_info m; /* the gather's strings */
} g_monitor;
typedef struct g_dead {
  const char *node;
  tr_dead_letter d; /* from, to: the gather's strings */
} g_dead;

#define VEC(T) struct { T *v; size_t n, cap; }

typedef struct gather {
  VEC(g_actor) actors;
  VEC(g_link) links;
  VEC(g_counter) counters;
  VEC(g_sub) subs;
  VEC(g_group) groups;
  VEC(g_node) nodes;
  VEC(g_monitor) monitors;
  VEC(g_dead) deads;
  uint64_t monitors_more; /* the nodes' left_off */
  VEC(char *) strs; /* every string above */
  bool nomem;
} gather;

static bool vec_grow(void **v, size_t *cap, size_t n, size_t size) {
  if (n < *cap) return true;
  size_t ncap = *cap ? *cap * 2 : 16;
  void *g = realloc(*v, ncap * size);
  if (!g) return false;
  *v = g;
  *cap = ncap;
  return true;
}
#define VEC_PUSH(g, vec) \
  (vec_grow((void **)&(vec).v, &(vec).cap, (vec).n, sizeof(*(vec).v)) \
       ? &(vec).v[(vec).n++] : ((g)->nomem = true, NULL))

static const char *g_str(gather *g, const char *s) {
  if (!s) return NULL;
  char **slot = VEC_PUSH(g, g->strs);
  if (!slot) return "";
  if (!(*slot = strdup(s))) {
    g->strs.n--;
    g->nomem = true;
    return "";
  }
  return *slot;
}

static void gather_reset(gather *g) {
  for (size_t i = 0; i < g->strs.n; i++) free(g->strs.v[i]);
  free(g->actors.v);
  free(g->links.v);
  free(g->counters.v);
  free(g->subs.v);
  free(g->groups.v);
  free(g->nodes.v);
  free(g->monitors.v);
  free(g->deads.v);
  free(g->strs.v);
  memset(g, 0, sizeof(*g));
}

/* ---- requests ------------------------------------------------------------------ */

typedef struct api_params {
  tr_inspect_sort sort;
  bool by_node; /* sort=node: by node, then id */
  int desc;
  char filter[TR_ID_MAX + 1], node[TR_ID_MAX + 1], id[TR_ID_MAX + 1];
  uint32_t offset, limit;
} api_params;

typedef struct api_req api_req;
struct api_req {
  inspector *ins;
  api_req *next, *prev; /* ins->reqs */
  http_conn *conn;
  api_kind kind;
  api_params p;
  uint64_t handle;
  bool gathering;
  bool asking; /* API_ASK: handle is the ask's until it answers */
  gather g;
};

struct inspector {
  tr_node *node;
  tr_log_fn log;
  void *log_user;
  log_ring *lines;
  api_req *reqs;
  uint32_t nreqs, nstreams;
  uv_timer_t tick;
  bool tick_open;
  inspector_stats st;
};

static void req_free(api_req *r) {
  inspector *ins = r->ins;
  if (r->gathering) tr_node_inspect_cancel(ins->node, r->handle);
  if (r->asking) tr_node_session_ask_cancel(ins->node, r->handle);
  if (r->prev) r->prev->next = r->next;
  else ins->reqs = r->next;
  if (r->next) r->next->prev = r->prev;
  if (r->kind == API_STREAM) ins->nstreams--;
  else ins->nreqs--;
  gather_reset(&r->g);
  free(r);
}

/* The connection closed (the client left, or http_stop). */
static void req_conn_gone(void *owner) { req_free(owner); }

/* ---- JSON -------------------------------------------------------------------------- */

static void j_str(FILE *f, const char *s) {
  if (!s) fputs("null", f);
  else ops_print_json_str(f, s, strlen(s));
}

static void j_error(inspector *ins, http_conn *c, int status,
                    const char *why) {
  ins->st.api_requests++;
  if (status >= 400 && status < 500) ins->st.bad_requests++;
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) {
    http_reply(c, 500, INS_JSON, "{\"error\":\"out of memory\"}", 25, false);
    return;
  }
  fputs("{\"error\":", f);
  j_str(f, why);
  fputs("}\n", f);
  fclose(f);
  http_reply(c, status, INS_JSON, text, len, true);
}

/* A 200 answer's JSON body being written. */
typedef struct j_out {
  FILE *f;
  char *text;
  size_t len;
} j_out;

/* Opens the body; false (500 answered) when out of memory. */
static bool j_begin(inspector *ins, http_conn *c, j_out *o) {
  o->text = NULL;
  o->len = 0;
  o->f = open_memstream(&o->text, &o->len);
  if (!o->f) j_error(ins, c, 500, "out of memory");
  return o->f != NULL;
}

/* Answers 200 with the body. */
static void j_end(inspector *ins, http_conn *c, j_out *o) {
  fclose(o->f);
  ins->st.api_requests++;
  http_reply(c, 200, INS_JSON, o->text, o->len, true);
}

static const char *status_name(int status) {
  return status == 0 ? "ok" : status == TR_ETIMEDOUT ? "timeout" : "error";
}

static void j_nodes(FILE *f, const gather *g) {
  fputs("[", f);
  for (size_t i = 0; i < g->nodes.n; i++) {
    const g_node *n = &g->nodes.v[i];
    fprintf(f, "%s{\"node\":", i ? "," : "");
    j_str(f, n->node);
    fprintf(f, ",\"status\":\"%s\",\"total\":%" PRIu32, status_name(n->status),
            n->total);
    if (n->status != 0) {
      fputs(",\"detail\":", f);
      j_str(f, tr_strerror(n->status));
    }
    fputs("}", f);
  }
  fputs("]", f);
}

/* A rate as JSON: a number (another node's NaN or Inf would not be). */
static double finite_or_0(double v) { return isfinite(v) ? v : 0.0; }

static void j_actor(FILE *f, const g_actor *a) {
  const tr_actor_info *x = &a->info;
  fputs("{\"id\":", f);
  j_str(f, x->id);
  fputs(",\"type\":", f);
  j_str(f, x->type);
  fputs(",\"node\":", f);
  j_str(f, a->node);
  fprintf(f,
          ",\"queued\":%" PRIu32 ",\"capacity\":%" PRIu32 ",\"hwm\":%" PRIu32
          ",\"delivered\":%" PRIu64 ",\"sent\":%" PRIu64
          ",\"in_per_s\":%.2f,\"out_per_s\":%.2f"
          ",\"handler_mean_ns\":%" PRIu64 ",\"handler_max_ns\":%" PRIu64
          ",\"children\":%" PRIu32 ",\"dead\":%" PRIu64
          ",\"restarts\":%" PRIu32 ",\"parent\":",
          x->queued, x->capacity, x->hwm, x->delivered, x->sent,
          finite_or_0(x->in_per_s), finite_or_0(x->out_per_s),
          x->handler_mean_ns, x->handler_max_ns, x->children, x->dead,
          x->restarts);
  j_str(f, x->parent);
  fprintf(f, ",\"age_ms\":%" PRIu64 "}", x->age_ms);
}

typedef struct member_arg {
  FILE *f;
  const char *self;
  size_t n;
} member_arg;

/* A member's tags ("k=v,k=v") as an object, as `troupe members --json`. */
static void j_tags(FILE *f, const char *tags) {
  char buf[sizeof(((tr_member *)0)->tags)];
  snprintf(buf, sizeof(buf), "%s", tags);
  fputc('{', f);
  char *save = NULL;
  for (char *kv = strtok_r(buf, ",", &save); kv;
       kv = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(kv, '=');
    if (eq) *eq = '\0';
    if (kv != buf) fputc(',', f);
    j_str(f, kv);
    fputc(':', f);
    j_str(f, eq ? eq + 1 : "");
  }
  fputc('}', f);
}

static void j_member(void *arg, const tr_member *m) {
  member_arg *a = arg;
  fprintf(a->f, "%s{\"name\":", a->n++ ? "," : "");
  j_str(a->f, m->name);
  fputs(",\"addr\":", a->f);
  j_str(a->f, m->addr);
  fprintf(a->f,
          ",\"state\":\"%s\",\"epoch\":%" PRIu64 ",\"incarnation\":%" PRIu32
          ",\"self\":%s,\"tags\":",
          tr_member_state_name(m->state), m->epoch, m->incarnation,
          strcmp(m->name, a->self) == 0 ? "true" : "false");
  j_tags(a->f, m->tags);
  fputc('}', a->f);
}

static uint64_t now_ms(void) {
  uv_timeval64_t t;
  if (uv_gettimeofday(&t) != 0) return 0;
  return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_usec / 1000u;
}

static void j_cluster(FILE *f, inspector *ins, const gather *g) {
  const char *self = tr_node_name(ins->node);
  fputs("{\"node\":", f);
  j_str(f, self);
  fprintf(f, ",\"time_ms\":%" PRIu64 ",\"members\":[", now_ms());
  member_arg ma = {f, self, 0};
  tr_node_members(ins->node, j_member, &ma);
  fputs("],\"nodes\":[", f);
  for (size_t i = 0; i < g->nodes.n; i++) {
    const g_node *n = &g->nodes.v[i];
    fprintf(f, "%s{\"node\":", i ? "," : "");
    j_str(f, n->node);
    fprintf(f, ",\"status\":\"%s\",\"counters\":{", status_name(n->status));
    size_t k = 0;
    for (size_t j = 0; j < g->counters.n; j++) {
      const g_counter *c = &g->counters.v[j];
      if (c->node != n->node && strcmp(c->node, n->node) != 0) continue;
      fputs(k++ ? "," : "", f);
      j_str(f, c->name);
      fprintf(f, ":%" PRIu64, c->v);
    }
    fputs("},\"links\":[", f);
    k = 0;
    for (size_t j = 0; j < g->links.n; j++) {
      const g_link *l = &g->links.v[j];
      if (strcmp(l->node, n->node) != 0) continue;
      fprintf(f, "%s{\"peer\":", k++ ? "," : "");
      j_str(f, l->peer);
      fprintf(f,
              ",\"up\":%s,\"envelopes_out\":%" PRIu64
              ",\"envelopes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64
              ",\"bytes_in\":%" PRIu64 ",\"queued\":%" PRIu32
              ",\"rtt_us\":%" PRIu32 ",\"reconnects\":%" PRIu64
              ",\"resumes\":%" PRIu64 ",\"tls_resumes\":%" PRIu64
              ",\"cipher\":",
              l->s.up ? "true" : "false", l->s.envelopes_out,
              l->s.envelopes_in, l->s.bytes_out, l->s.bytes_in, l->s.queued,
              l->s.rtt_us, l->s.reconnects, l->s.resumes, l->s.tls_resumes);
      j_str(f, l->s.cipher);
      fputs(",\"cert_cn\":", f);
      j_str(f, l->s.cert_cn);
      fputs(",\"cert_role\":", f);
      j_str(f, l->s.cert_role);
      fputs("}", f);
    }
    fputs("]}", f);
  }
  fputs("]}", f);
}

/* Whether actor a comes before b in the page's order (p's sort; by node:
 * nodes by name, each node's actors by id). */
static bool merge_before(const api_params *p, const g_actor *a,
                         const g_actor *b) {
  if (p->by_node) {
    int c = strcmp(a->node, b->node);
    if (p->desc) c = -c;
    return c ? c < 0 : strcmp(a->info.id, b->info.id) < 0;
  }
  return tr_inspect_compare(&a->info, &b->info, p->sort, p->desc) < 0;
}

/* The page [offset, offset + limit) of every node's actors in order. Each
 * node's rows came sorted (one link keeps their order): a k-way merge over
 * the nodes, k being small. */
static void j_actors(FILE *f, const gather *g, const api_params *p) {
  size_t k = g->nodes.n, total = 0;
  size_t *cur = calloc(k ? k : 1, sizeof(*cur)); /* next row index per node */
  fputs("{\"total\":", f);
  for (size_t i = 0; i < k; i++)
    if (!p->node[0] || strcmp(g->nodes.v[i].node, p->node) == 0)
      total += g->nodes.v[i].total;
  fprintf(f, "%zu,\"offset\":%" PRIu32 ",\"limit\":%" PRIu32 ",\"nodes\":",
          total, p->offset, p->limit);
  j_nodes(f, g);
  fputs(",\"actors\":[", f);
  size_t out = 0, skipped = 0;
  while (cur && out < p->limit) {
    const g_actor *best = NULL;
    size_t best_node = 0;
    for (size_t i = 0; i < k; i++) {
      const char *name = g->nodes.v[i].node;
      if (p->node[0] && strcmp(name, p->node) != 0) continue;
      while (cur[i] < g->actors.n &&
             strcmp(g->actors.v[cur[i]].node, name) != 0)
        cur[i]++;
      if (cur[i] == g->actors.n) continue;
      const g_actor *a = &g->actors.v[cur[i]];
      if (!best || merge_before(p, a, best)) {
        best = a;
        best_node = i;
      }
    }
    if (!best) break;
    cur[best_node]++;
    if (skipped < p->offset) {
      skipped++;
      continue;
    }
    fputs(out++ ? "," : "", f);
    j_actor(f, best);
  }
  fputs("]}", f);
  free(cur);
}

static void j_sub(FILE *f, const g_sub *s, bool first) {
  fputs(first ? "{\"node\":" : ",{\"node\":", f);
  j_str(f, s->node);
  fputs(",\"publisher\":", f);
  j_str(f, s->s.publisher);
  fputs(",\"topic\":", f);
  j_str(f, s->s.topic ? s->s.topic : "");
  fputs(",\"subscriber\":", f);
  j_str(f, s->s.subscriber);
  fputs(",\"sub_node\":", f);
  j_str(f, s->s.node);
  fprintf(f, ",\"delivered\":%" PRIu64 ",\"dropped\":%" PRIu64 "}",
          s->s.delivered, s->s.dropped);
}

static void j_topics(FILE *f, const gather *g) {
  fputs("{\"nodes\":", f);
  j_nodes(f, g);
  fputs(",\"subscriptions\":[", f);
  for (size_t i = 0; i < g->subs.n; i++) j_sub(f, &g->subs.v[i], i == 0);
  fputs("]}", f);
}

static void j_groups(FILE *f, const gather *g) {
  fputs("{\"nodes\":", f);
  j_nodes(f, g);
  fputs(",\"groups\":[", f);
  size_t ngroups = 0;
  for (size_t i = 0; i < g->groups.n; i++) {
    const char *name = g->groups.v[i].group;
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++)
      seen = strcmp(g->groups.v[j].group, name) == 0;
    if (seen) continue; /* listed with its first member */
    fputs(ngroups++ ? ",{\"group\":" : "{\"group\":", f);
    j_str(f, name);
    fputs(",\"members\":[", f);
    size_t m = 0;
    for (size_t j = i; j < g->groups.n; j++) {
      const g_group *x = &g->groups.v[j];
      if (strcmp(x->group, name) != 0) continue;
      fputs(m++ ? ",{\"id\":" : "{\"id\":", f);
      j_str(f, x->id);
      fputs(",\"node\":", f);
      j_str(f, x->node);
      fputs("}", f);
    }
    fputs("]}", f);
  }
  fputs("]}", f);
}

/* The monitors of actor id, each way: {"by": the actors watching it,
 * "of": those it watches, "more": how many were not listed}. */
static void j_monitors(FILE *f, const gather *g, const char *id) {
  uint64_t more = g->monitors_more;
  for (int of = 0; of < 2; of++) {
    fputs(of ? ",\"of\":[" : "{\"by\":[", f);
    size_t n = 0;
    for (size_t i = 0; i < g->monitors.n; i++) {
      const tr_monitor_info *m = &g->monitors.v[i].m;
      if (strcmp(of ? m->watcher : m->target, id) != 0) continue;
      if (n == INS_MONITORS_MAX) {
        more++;
        continue;
      }
      fputs(n++ ? ",{\"id\":" : "{\"id\":", f);
      j_str(f, of ? m->target : m->watcher);
      fputs(",\"node\":", f);
      j_str(f, of ? m->target_node : m->watcher_node);
      fputs("}", f);
    }
    fputs("]", f);
  }
  fprintf(f, ",\"more\":%" PRIu64 "}", more);
}

static int dead_newest_first(const void *pa, const void *pb) {
  const g_dead *a = *(const g_dead *const *)pa, *b = *(const g_dead *const *)pb;
  if (a->d.at_ms != b->d.at_ms) return a->d.at_ms < b->d.at_ms ? 1 : -1;
  return strcmp(a->node, b->node);
}

/* Every node's dead letters gathered, newest first, at most limit. */
static void j_dead_letters(FILE *f, const gather *g, uint32_t limit) {
  const g_dead **order =
      g->deads.n ? malloc(g->deads.n * sizeof(*order)) : NULL;
  fputs("[", f);
  if (order) {
    for (size_t i = 0; i < g->deads.n; i++) order[i] = &g->deads.v[i];
    qsort(order, g->deads.n, sizeof(*order), dead_newest_first);
  }
  for (size_t i = 0; order && i < g->deads.n && i < limit; i++) {
    const g_dead *x = order[i];
    fprintf(f, "%s{\"at_ms\":%" PRIu64 ",\"reason\":", i ? "," : "",
            x->d.at_ms);
    j_str(f, tr_dead_reason_name(x->d.reason));
    fputs(",\"from\":", f);
    j_str(f, x->d.from);
    fputs(",\"to\":", f);
    j_str(f, x->d.to);
    fprintf(f, ",\"len\":%" PRIu32 ",\"node\":", x->d.len);
    j_str(f, x->node);
    fputs("}", f);
  }
  fputs("]", f);
  free(order);
}

/* The actor p->id: 404 (false) when no node has it. */
static bool j_actor_detail(FILE *f, const gather *g, const api_params *p) {
  const g_actor *self = NULL;
  for (size_t i = 0; i < g->actors.n && !self; i++)
    if (strcmp(g->actors.v[i].info.id, p->id) == 0) self = &g->actors.v[i];
  if (!self) return false;
  fputs("{\"actor\":", f);
  j_actor(f, self);
  fputs(",\"children\":[", f);
  size_t n = 0;
  for (size_t i = 0; i < g->actors.n; i++) {
    const tr_actor_info *x = &g->actors.v[i].info;
    if (!x->parent || strcmp(x->parent, p->id) != 0) continue;
    fputs(n++ ? "," : "", f);
    j_str(f, x->id);
  }
  /* As subscriber: its node's rows naming it. As publisher: every node's
   * rows of local subscribers (the publisher's node also holds the other
   * nodes' interest, which those nodes' own rows already show). */
  fputs("],\"subscriptions\":[", f);
  n = 0;
  for (size_t i = 0; i < g->subs.n; i++) {
    const g_sub *s = &g->subs.v[i];
    if (!s->s.subscriber || strcmp(s->s.subscriber, p->id) != 0 ||
        strcmp(s->node, self->node) != 0)
      continue;
    fputs(n++ ? ",{\"publisher\":" : "{\"publisher\":", f);
    j_str(f, s->s.publisher);
    fputs(",\"topic\":", f);
    j_str(f, s->s.topic ? s->s.topic : "");
    fprintf(f, ",\"delivered\":%" PRIu64 ",\"dropped\":%" PRIu64 "}",
            s->s.delivered, s->s.dropped);
  }
  fputs("],\"subscribers\":[", f);
  n = 0;
  for (size_t i = 0; i < g->subs.n; i++) {
    const g_sub *s = &g->subs.v[i];
    if (!s->s.subscriber || strcmp(s->s.publisher, p->id) != 0) continue;
    fputs(n++ ? ",{\"subscriber\":" : "{\"subscriber\":", f);
    j_str(f, s->s.subscriber);
    fputs(",\"topic\":", f);
    j_str(f, s->s.topic ? s->s.topic : "");
    fputs(",\"node\":", f);
    j_str(f, s->node);
    fprintf(f, ",\"delivered\":%" PRIu64 ",\"dropped\":%" PRIu64 "}",
            s->s.delivered, s->s.dropped);
  }
  fputs("],\"groups\":[", f);
  n = 0;
  for (size_t i = 0; i < g->groups.n; i++) {
    const g_group *x = &g->groups.v[i];
    if (strcmp(x->id, p->id) != 0 || strcmp(x->node, self->node) != 0)
      continue;
    fputs(n++ ? "," : "", f);
    j_str(f, x->group);
  }
  fputs("],\"monitors\":", f);
  j_monitors(f, g, p->id);
  fputs(",\"dead_letters\":", f);
  j_dead_letters(f, g, INS_DEAD_MAX);
  fputs("}", f);
  return true;
}

/* ---- gathering ---------------------------------------------------------------- */

static void on_actor(void *arg, const char *node, const tr_actor_info *x) {
  api_req *r = arg;
  gather *g = &r->g;
  g_actor *a = VEC_PUSH(g, g->actors);
  if (!a) return;
  a->info = *x;
  a->info.id = g_str(g, x->id);
  a->info.type = g_str(g, x->type);
  a->info.parent = g_str(g, x->parent);
  a->node = g_str(g, node);
}

static void on_link(void *arg, const char *node, const char *peer,
                    const tr_peer_stats *s) {
  api_req *r = arg;
  g_link *l = VEC_PUSH(&r->g, r->g.links);
  if (!l) return;
  l->node = g_str(&r->g, node);
  l->peer = g_str(&r->g, peer);
  l->s = *s;
  l->s.cipher = g_str(&r->g, s->cipher);
  l->s.cert_cn = g_str(&r->g, s->cert_cn);
  l->s.cert_role = g_str(&r->g, s->cert_role);
}

static void on_counter(void *arg, const char *node, const char *name,
                       uint64_t v) {
  api_req *r = arg;
  g_counter *c = VEC_PUSH(&r->g, r->g.counters);
  if (!c) return;
  c->node = g_str(&r->g, node);
  c->name = g_str(&r->g, name);
  c->v = v;
}

static void on_sub(void *arg, const char *node, const tr_sub_info *s) {
  api_req *r = arg;
  g_sub *x = VEC_PUSH(&r->g, r->g.subs);
  if (!x) return;
  x->node = g_str(&r->g, node);
  x->s = *s;
  x->s.publisher = g_str(&r->g, s->publisher);
  x->s.topic = g_str(&r->g, s->topic);
  x->s.subscriber = g_str(&r->g, s->subscriber);
  x->s.node = g_str(&r->g, s->node);
}

static void on_group(void *arg, const char *node, const tr_group_member *m) {
  api_req *r = arg;
  g_group *x = VEC_PUSH(&r->g, r->g.groups);
  if (!x) return;
  x->node = g_str(&r->g, node);
  x->group = g_str(&r->g, m->group);
  x->id = g_str(&r->g, m->id);
}

static bool same_str(const char *a, const char *b) {
  return a == b || (a && b && strcmp(a, b) == 0);
}

static void on_monitor(void *arg, const char *node,
                       const tr_monitor_info *m) {
  (void)node;
  api_req *r = arg;
  gather *g = &r->g;
  /* One across nodes comes from both nodes: kept once. */
  for (size_t i = 0; i < g->monitors.n; i++) {
    const tr_monitor_info *x = &g->monitors.v[i].m;
    if (strcmp(x->watcher, m->watcher) == 0 &&
        strcmp(x->target, m->target) == 0 &&
        same_str(x->watcher_node, m->watcher_node) &&
        same_str(x->target_node, m->target_node))
      return;
  }
  g_monitor *x = VEC_PUSH(g, g->monitors);
  if (!x) return;
  x->m.watcher = g_str(g, m->watcher);
  x->m.watcher_node = g_str(g, m->watcher_node);
  x->m.target = g_str(g, m->target);
  x->m.target_node = g_str(g, m->target_node);
}

static void on_dead_letter(void *arg, const char *node,
                           const tr_dead_letter *d) {
  api_req *r = arg;
  g_dead *x = VEC_PUSH(&r->g, r->g.deads);
  if (!x) return;
  x->node = g_str(&r->g, node);
  x->d = *d;
  x->d.from = g_str(&r->g, d->from);
  x->d.to = g_str(&r->g, d->to);
}

static void on_left_off(void *arg, const char *node, unsigned what,
                        uint32_t more) {
  (void)node;
  api_req *r = arg;
  if (what == TR_INSPECT_MONITORS) r->g.monitors_more += more;
}

static void on_node_done(void *arg, const char *node, int status,
                         uint32_t total) {
  api_req *r = arg;
  g_node *n = VEC_PUSH(&r->g, r->g.nodes);
  if (!n) return;
  n->node = g_str(&r->g, node);
  n->status = status;
  n->total = total;
}

static void req_render(api_req *r);

static void on_done(void *arg) {
  api_req *r = arg;
  r->gathering = false;
  req_render(r);
}

static const tr_inspect_fns ins_fns = {.actor = on_actor,
                                       .link = on_link,
                                       .counter = on_counter,
                                       .sub = on_sub,
                                       .group = on_group,
                                       .node_done = on_node_done,
                                       .done = on_done,
                                       .monitor = on_monitor,
                                       .dead_letter = on_dead_letter,
                                       .left_off = on_left_off};

/* Starts r's gathering: 0, or the error to answer with. */
static int req_gather(api_req *r) {
  const api_params *p = &r->p;
  tr_inspect_query q = {.sort = p->by_node ? TR_INSPECT_SORT_ID : p->sort,
                        .desc = p->by_node ? 0 : p->desc,
                        .filter = p->filter[0] ? p->filter : NULL,
                        .limit = p->offset + p->limit};
  switch (r->kind) {
  case API_CLUSTER:
    q.what = TR_INSPECT_LINKS | TR_INSPECT_COUNTERS;
    break;
  case API_ACTORS:
    q.what = TR_INSPECT_ACTORS;
    q.node = p->node[0] ? p->node : NULL;
    break;
  case API_STREAM: /* the cluster and a page of actors */
    q.what = TR_INSPECT_ACTORS | TR_INSPECT_LINKS | TR_INSPECT_COUNTERS;
    break;
  case API_ACTOR:
    q.what = TR_INSPECT_ACTORS | TR_INSPECT_SUBS | TR_INSPECT_GROUPS |
             TR_INSPECT_MONITORS | TR_INSPECT_DEAD_LETTERS;
    q.actor = p->id;
    q.children = 1;
    q.limit = 1000;
    break;
  case API_TOPICS:
    q.what = TR_INSPECT_SUBS;
    break;
  case API_GROUPS:
    q.what = TR_INSPECT_GROUPS;
    break;
  case API_DEAD: /* each node's newest `limit`, merged */
    q.what = TR_INSPECT_DEAD_LETTERS;
    q.node = p->node[0] ? p->node : NULL;
    q.limit = p->limit;
    break;
  case API_ASK: /* not a gathering */
    return TR_EINVAL;
  }
  gather_reset(&r->g);
  r->gathering = true;
  int rc = tr_node_inspect(r->ins->node, &q, &ins_fns, r, &r->handle);
  if (rc != 0) r->gathering = false;
  return rc;
}

static void req_render(api_req *r) {
  inspector *ins = r->ins;
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f || r->g.nomem) {
    if (f) fclose(f);
    free(text);
    if (r->kind != API_STREAM) j_error(ins, r->conn, 500, "out of memory");
    return;
  }
  bool found = true;
  if (r->kind == API_STREAM) fputs("event: update\ndata: {\"cluster\":", f);
  switch (r->kind) {
  case API_CLUSTER: j_cluster(f, ins, &r->g); break;
  case API_ACTORS: j_actors(f, &r->g, &r->p); break;
  case API_ACTOR: found = j_actor_detail(f, &r->g, &r->p); break;
  case API_TOPICS: j_topics(f, &r->g); break;
  case API_GROUPS: j_groups(f, &r->g); break;
  case API_DEAD:
    fputs("{\"nodes\":", f);
    j_nodes(f, &r->g);
    fputs(",\"dead_letters\":", f);
    j_dead_letters(f, &r->g, r->p.limit);
    fputs("}", f);
    break;
  case API_ASK: break; /* answered by ask_done */
  case API_STREAM:
    j_cluster(f, ins, &r->g);
    fputs(",\"actors\":", f);
    j_actors(f, &r->g, &r->p);
    fputs("}\n", f); /* an event ends with a blank line */
    break;
  }
  fputs("\n", f);
  fclose(f);
  if (r->kind == API_STREAM) {
    if (http_stream_write(r->conn, text, len) == 0) ins->st.updates++;
    free(text);
    return; /* a failed write closed the connection: r is gone */
  }
  if (!found) {
    free(text);
    char why[TR_ID_MAX + 64];
    snprintf(why, sizeof(why), "no actor '%s' on any node", r->p.id);
    j_error(ins, r->conn, 404, why);
    return;
  }
  ins->st.api_requests++;
  http_reply(r->conn, 200, INS_JSON, text, len, true);
  /* http_reply answered: the connection closes after the write, and
   * req_conn_gone frees r then. */
}

/* ---- streams' ticks ------------------------------------------------------------ */

static void on_tick(uv_timer_t *t) {
  inspector *ins = t->data;
  for (api_req *r = ins->reqs, *next; r; r = next) {
    next = r->next;
    if (r->kind == API_STREAM && !r->gathering && req_gather(r) != 0)
      http_stream_write(r->conn, ": gather failed\n\n", 17);
  }
}

/* ---- parameters -------------------------------------------------------------------- */

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The value of key in the query string, URL-decoded into out (cap bytes):
 * 1 found, 0 absent, -1 malformed or too long. */
static int query_get(const http_request *req, const char *key, char *out,
                     size_t cap) {
  const char *p = req->query, *end = req->query + req->query_len;
  size_t klen = strlen(key);
  while (p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *item_end = amp ? amp : end;
    const char *eq = memchr(p, '=', (size_t)(item_end - p));
    const char *kend = eq ? eq : item_end;
    if ((size_t)(kend - p) == klen && memcmp(p, key, klen) == 0) {
      size_t o = 0;
      for (const char *v = eq ? eq + 1 : item_end; v < item_end; v++) {
        int ch = (unsigned char)*v;
        if (ch == '+') {
          ch = ' ';
        } else if (ch == '%') {
          int hi = v + 2 < item_end ? hexval(v[1]) : -1;
          int lo = hi >= 0 ? hexval(v[2]) : -1;
          if (lo < 0) return -1;
          ch = hi * 16 + lo;
          v += 2;
        }
        if (ch == 0 || o + 1 >= cap) return -1;
        out[o++] = (char)ch;
      }
      out[o] = '\0';
      return 1;
    }
    p = item_end + 1;
  }
  out[0] = '\0';
  return 0;
}

static bool parse_u32(const char *s, uint32_t max, uint32_t *out) {
  if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 9)
    return false;
  unsigned long v = strtoul(s, NULL, 10);
  if (v > max) return false;
  *out = (uint32_t)v;
  return true;
}

/* Fills p from the query for kind: NULL, or why it is a bad request. */
static const char *parse_params(const http_request *req, api_kind kind,
                                api_params *p, char *why, size_t cap) {
  memset(p, 0, sizeof(*p));
  p->limit = INS_LIMIT_DEFAULT;
  char v[TR_ID_MAX + 1];
  if (kind == API_ACTOR) {
    int rc = query_get(req, "id", p->id, sizeof(p->id));
    if (rc < 0) return "bad id (at most 255 bytes, URL-encoded)";
    if (rc == 0 || !p->id[0]) return "missing id (/api/actor?id=ID)";
    return NULL;
  }
  if (kind == API_DEAD) { /* ?limit=N&node=NAME */
    int rc = query_get(req, "limit", v, sizeof(v));
    if (rc < 0 || (rc > 0 && (!parse_u32(v, TR_DEAD_LETTERS_KEPT, &p->limit) ||
                              p->limit == 0)))
      return "bad limit (want 1 to 64)";
    if (query_get(req, "node", p->node, sizeof(p->node)) < 0)
      return "bad node (at most 255 bytes, URL-encoded)";
    return NULL;
  }
  if (kind != API_ACTORS && kind != API_STREAM) return NULL;
  int rc = query_get(req, "sort", v, sizeof(v));
  if (rc < 0) return "bad sort";
  if (rc > 0) {
    bool known = strcmp(v, "node") == 0;
    p->by_node = known;
    for (int s = 0; s < TR_INSPECT_SORT_COUNT && !known; s++)
      if (strcmp(v, tr_inspect_sort_name((tr_inspect_sort)s)) == 0) {
        p->sort = (tr_inspect_sort)s;
        known = true;
      }
    if (!known) {
      snprintf(why, cap, "bad sort '%.64s' (want id, type, node, queued, "
               "capacity, hwm, delivered, sent, in_per_s, out_per_s, "
               "handler_mean_ns, handler_max_ns, age_ms, dead or restarts)",
               v);
      return why;
    }
  }
  rc = query_get(req, "order", v, sizeof(v));
  if (rc < 0 || (rc > 0 && strcmp(v, "asc") != 0 && strcmp(v, "desc") != 0))
    return "bad order (want asc or desc)";
  p->desc = rc > 0 && strcmp(v, "desc") == 0;
  if (query_get(req, "filter", p->filter, sizeof(p->filter)) < 0)
    return "bad filter (at most 255 bytes, URL-encoded)";
  if (query_get(req, "node", p->node, sizeof(p->node)) < 0)
    return "bad node (at most 255 bytes, URL-encoded)";
  rc = query_get(req, "offset", v, sizeof(v));
  if (rc < 0 || (rc > 0 && !parse_u32(v, TR_INSPECT_LIMIT_MAX, &p->offset)))
    return "bad offset (want 0 to 10000)";
  rc = query_get(req, "limit", v, sizeof(v));
  if (rc < 0 ||
      (rc > 0 && (!parse_u32(v, INS_LIMIT_MAX, &p->limit) || p->limit == 0)))
    return "bad limit (want 1 to 500)";
  if (p->offset + p->limit > TR_INSPECT_LIMIT_MAX)
    return "offset + limit past 10000";
  return NULL;
}

/* ---- the route ---------------------------------------------------------------------- */

static bool path_is(const http_request *r, const char *lit) {
  return r->path_len == strlen(lit) && memcmp(r->path, lit, r->path_len) == 0;
}

/* The request's session token ("Authorization: Bearer TOKEN") into tok:
 * false when there is none. */
static bool bearer(const http_request *req, char tok[TR_SESSION_TOKEN_MAX + 1]) {
  static const char scheme[] = "Bearer ";
  size_t n = sizeof(scheme) - 1;
  if (req->auth_len <= n || req->auth_len - n > TR_SESSION_TOKEN_MAX ||
      strncasecmp(req->auth, scheme, n) != 0)
    return false;
  memcpy(tok, req->auth + n, req->auth_len - n);
  tok[req->auth_len - n] = '\0';
  return true;
}

/* The session token the request acts with, into tok: over TLS, one the
 * node issues for the client certificate (the certificate is the
 * identity: an Authorization header is not looked at); else the
 * request's bearer token. false: none. */
static bool request_token(inspector *ins, const http_request *req,
                          char tok[TR_SESSION_TOKEN_MAX + 1]) {
  if (req->client)
    return tr_node_session_issue(ins->node, req->client,
                                 req->client_operator, tok,
                                 TR_SESSION_TOKEN_MAX + 1) == 0;
  return bearer(req, tok);
}

/* Why an action was refused with TR_EPERM. */
static const char *eperm_why(const http_request *req) {
  return req->client ? "needs an operator's certificate (and the policy's "
                       "leave)"
                     : "needs an operator's session (and the policy's "
                       "leave)";
}

/* GET /api/session: who the token (over TLS: the certificate) says the
 * user is. */
static void api_session(inspector *ins, http_conn *c,
                        const http_request *req) {
  char tok[TR_SESSION_TOKEN_MAX + 1];
  tr_session s;
  if (!request_token(ins, req, tok)) {
    j_error(ins, c, req->client ? 403 : 401,
            req->client ? "this certificate's name cannot name a session"
                        : "no session: get one with `troupe ui-login URL`");
    return;
  }
  int rc = tr_node_session_check(ins->node, tok, &s);
  if (rc != 0) {
    j_error(ins, c, rc == TR_ESTATE ? 403 : 401,
            rc == TR_ESTATE ? "a local node has no sessions"
                            : "not a session of this node, or expired");
    return;
  }
  j_out o;
  if (!j_begin(ins, c, &o)) return;
  fputs("{\"name\":", o.f);
  j_str(o.f, s.name);
  fprintf(o.f, ",\"role\":\"%s\",\"expires_ms\":%" PRIu64 "}\n",
          s.operator ? "operator" : "viewer", s.expires_ms);
  j_end(ins, c, &o);
}

static api_req *req_new(inspector *ins, http_conn *c, api_kind kind);

/* The HTTP status for an action the node refused with rc. */
static int action_status(int rc) {
  switch (rc) {
  case TR_EPERM: case TR_ESTATE: return 403;
  case TR_ENOTFOUND: return 404;
  case TR_ETOOBIG: return 413;
  case TR_EFULL: return 503;
  case TR_EUNREACHABLE: return 502;
  case TR_ENOMEM: return 500;
  default: return 400;
  }
}

/* The ask's outcome: the request's answer. */
static void ask_done(void *arg, int status, const char *from,
                     const char *node, const void *data, size_t len) {
  api_req *r = arg;
  r->asking = false;
  if (status != 0) {
    char why[160];
    snprintf(why, sizeof(why), "the ask failed: %s: %s", tr_errname(status),
             tr_strerror(status));
    j_error(r->ins, r->conn,
            status == TR_ETIMEDOUT ? 504 : status == TR_ENOTFOUND ? 404 : 502,
            why);
    return;
  }
  j_out o;
  if (!j_begin(r->ins, r->conn, &o)) return;
  fputs("{\"status\":\"ok\",\"from\":", o.f);
  j_str(o.f, from);
  fputs(",\"node\":", o.f);
  j_str(o.f, node);
  fputs(",\"reply\":", o.f);
  ops_print_json_str(o.f, data, len);
  fputs("}\n", o.f);
  j_end(r->ins, r->conn, &o);
}

/* POST /api/actor/ask?id=ID[&timeout_ms=MS] (the body is the data). */
static void api_ask(inspector *ins, http_conn *c, const http_request *req,
                    const char *tok, const char *id) {
  char v[16];
  uint32_t ms = INS_ASK_DEFAULT_MS;
  int q = query_get(req, "timeout_ms", v, sizeof(v));
  if (q < 0 || (q > 0 && (!parse_u32(v, INS_ASK_MAX_MS, &ms) || ms == 0))) {
    j_error(ins, c, 400, "bad timeout_ms (want 1 to 4000)");
    return;
  }
  if (ins->nreqs >= INS_MAX_REQUESTS) {
    j_error(ins, c, 503, "too many inspector requests at once");
    return;
  }
  api_req *r = req_new(ins, c, API_ASK);
  if (!r) {
    j_error(ins, c, 500, "out of memory");
    return;
  }
  int rc = tr_node_session_ask(ins->node, tok, id, req->body, req->body_len,
                               ms, ask_done, r, &r->handle);
  if (rc == 0) {
    r->asking = true;
    return;
  }
  char why[160];
  snprintf(why, sizeof(why), "%s: %s",
           rc == TR_EPERM ? eperm_why(req) : tr_errname(rc),
           tr_strerror(rc));
  j_error(ins, c, action_status(rc), why);
}

/* POST /api/actor/stop?id=ID, /api/actor/send?id=ID (the body is the
 * data), /api/actor/ask: as the session's operator (over TLS, the
 * certificate's). */
static void api_action(inspector *ins, http_conn *c, const http_request *req,
                       const char *verb) {
  bool stop = strcmp(verb, "stop") == 0;
  char tok[TR_SESSION_TOKEN_MAX + 1], id[TR_ID_MAX + 1];
  if (!req->post) {
    j_error(ins, c, 405, "POST only");
    return;
  }
  int q = query_get(req, "id", id, sizeof(id));
  if (q <= 0 || !id[0]) {
    j_error(ins, c, 400, q < 0 ? "bad id" : "missing id (?id=ID)");
    return;
  }
  tr_session who;
  if (!request_token(ins, req, tok) ||
      tr_node_session_check(ins->node, tok, &who) != 0) {
    j_error(ins, c, 401, "no session of this node (expired, or none): get "
                         "one with `troupe ui-login URL`");
    return;
  }
  if (strcmp(verb, "ask") == 0) {
    api_ask(ins, c, req, tok, id);
    return;
  }
  int rc = stop ? tr_node_session_stop(ins->node, tok, id)
                : tr_node_session_send(ins->node, tok, id, req->body,
                                       req->body_len);
  if (rc == 0) {
    ins->st.api_requests++;
    http_reply(c, 200, INS_JSON, "{\"status\":\"ok\"}\n", 16, false);
    return;
  }
  int status = action_status(rc);
  char why[160];
  snprintf(why, sizeof(why), "%s: %s",
           rc == TR_EPERM ? eperm_why(req) : tr_errname(rc),
           tr_strerror(rc));
  j_error(ins, c, status, why);
}

/* ---- the log tail and events ---------------------------------------------------- */

/* The events view: membership, conflicts, trust and policy refusals, and
 * the node's own turns (the log lines of those names). */
static const char *const EVENT_NAMES[] = {
    "member", "id_conflict", "id_conflict_lost", "policy_denied",
    "op_request_denied", "inspector_action", "inspector_session",
    "certificate_refused", "swim_proof_refused", "registry_proof_refused",
    "group_members_unbelieved", "link_up", "link_unreachable", "member_cap",
    "peer_cap", "cluster_started", "cluster_left", "tls_reloaded",
    "run_started", "run_stopping", "run_reloaded", NULL};

typedef struct lines_arg {
  FILE *f;
  size_t n;
} lines_arg;

static void j_line(void *arg, const log_entry *e) {
  lines_arg *a = arg;
  FILE *f = a->f;
  fprintf(f, "%s{\"seq\":%" PRIu64 ",\"time_ms\":%" PRIu64
          ",\"level\":\"%s\",\"event\":", a->n++ ? "," : "", e->seq,
          e->time_ms, run_log_level_name(e->level));
  j_str(f, e->event);
  fputs(",\"fields\":", f);
  j_str(f, e->fields);
  fputs("}", f);
}

/* GET /api/log?level=L&after=SEQ&limit=N, /api/events?after=SEQ&limit=N. */
static void api_lines(inspector *ins, http_conn *c, const http_request *req,
                      bool events) {
  char v[32];
  uint32_t limit = 200;
  uint64_t after = 0;
  tr_log_level level = TR_LOG_DEBUG;
  int rc = query_get(req, "level", v, sizeof(v));
  if (rc > 0) {
    int l = TR_LOG_ERROR;
    while (l <= TR_LOG_DEBUG && strcmp(v, run_log_level_name(l)) != 0) l++;
    if (l > TR_LOG_DEBUG) {
      j_error(ins, c, 400, "bad level (want error, warn, info or debug)");
      return;
    }
    level = (tr_log_level)l;
  } else if (rc < 0) {
    j_error(ins, c, 400, "bad level (want error, warn, info or debug)");
    return;
  }
  rc = query_get(req, "after", v, sizeof(v));
  if (rc > 0) {
    char *end;
    unsigned long long a = strtoull(v, &end, 10);
    if (*end || !v[0] || v[0] == '-') rc = -1;
    after = a;
  }
  if (rc < 0) {
    j_error(ins, c, 400, "bad after (want a seq from an earlier answer)");
    return;
  }
  rc = query_get(req, "limit", v, sizeof(v));
  if (rc < 0 || (rc > 0 && (!parse_u32(v, 1000, &limit) || limit == 0))) {
    j_error(ins, c, 400, "bad limit (want 1 to 1000)");
    return;
  }
  if (!ins->lines) {
    j_error(ins, c, 404, "this inspector keeps no log lines");
    return;
  }
  j_out o;
  if (!j_begin(ins, c, &o)) return;
  fputs("{\"lines\":[", o.f);
  lines_arg la = {o.f, 0};
  uint64_t upto = log_ring_each(ins->lines, after, level,
                                events ? EVENT_NAMES : NULL, limit, j_line,
                                &la);
  fprintf(o.f, "],\"last\":%" PRIu64 "}\n", upto);
  j_end(ins, c, &o);
}

bool inspector_route(void *user, http_conn *c, const http_request *req) {
  inspector *ins = user;
  if (!req->post && (path_is(req, "/api/log") || path_is(req, "/api/events"))) {
    api_lines(ins, c, req, path_is(req, "/api/events"));
    return true;
  }
  if (path_is(req, "/api/session")) {
    api_session(ins, c, req);
    return true;
  }
  static const char *const verbs[] = {"stop", "send", "ask"};
  for (size_t i = 0; i < 3; i++) {
    char path[32];
    snprintf(path, sizeof(path), "/api/actor/%s", verbs[i]);
    if (path_is(req, path)) {
      api_action(ins, c, req, verbs[i]);
      return true;
    }
  }
  if (req->post) {
    j_error(ins, c, 405,
            "GET only (POST: /api/actor/stop, /api/actor/send, /api/actor/ask)");
    return true;
  }
  if (path_is(req, "/favicon.ico")) { /* browsers ask; there is none */
    http_reply(c, 204, "image/x-icon", NULL, 0, false);
    return true;
  }
  const ui_asset *a = ui_asset_find(req->path, req->path_len);
  if (a) {
    http_reply(c, 200, a->type, (char *)a->data, a->len, false);
    return true;
  }
  static const struct {
    const char *path;
    api_kind kind;
  } apis[] = {{"/api/cluster", API_CLUSTER}, {"/api/actors", API_ACTORS},
              {"/api/actor", API_ACTOR},     {"/api/topics", API_TOPICS},
              {"/api/groups", API_GROUPS},   {"/api/stream", API_STREAM},
              {"/api/deadletters", API_DEAD}};
  size_t i = 0;
  while (i < sizeof(apis) / sizeof(apis[0]) && !path_is(req, apis[i].path))
    i++;
  if (i == sizeof(apis) / sizeof(apis[0])) {
    if (req->path_len < 5 || memcmp(req->path, "/api/", 5) != 0)
      return false; /* the server's 404 */
    j_error(ins, c, 404, "no such endpoint (see docs/inspector.md)");
    return true;
  }
  api_kind kind = apis[i].kind;
  api_params p;
  char why[320];
  const char *bad = parse_params(req, kind, &p, why, sizeof(why));
  if (bad) {
    j_error(ins, c, 400, bad);
    return true;
  }
  if (kind == API_STREAM ? ins->nstreams >= INS_MAX_STREAMS
                         : ins->nreqs >= INS_MAX_REQUESTS) {
    if (kind == API_STREAM) ins->st.streams_refused++;
    if (ins->log) {
      char fields[96];
      tr_log_fields(fields, sizeof(fields), "kind=%s max=%u",
                    kind == API_STREAM ? "stream" : "request",
                    kind == API_STREAM ? INS_MAX_STREAMS : INS_MAX_REQUESTS);
      ins->log(ins->log_user, TR_LOG_WARN, "inspector_cap", fields);
    }
    j_error(ins, c, 503, "too many inspector requests at once");
    return true;
  }
  api_req *r = req_new(ins, c, kind);
  if (!r) {
    j_error(ins, c, 500, "out of memory");
    return true;
  }
  r->p = p;
  if (kind == API_STREAM) {
    if (http_stream_start(c, "text/event-stream; charset=utf-8") != 0)
      return true; /* it closed the connection: req_conn_gone freed r */
    if (!ins->tick_open || uv_is_active((uv_handle_t *)&ins->tick) == 0)
      uv_timer_start(&ins->tick, on_tick, INS_TICK_MS, INS_TICK_MS);
  }
  int rc = req_gather(r);
  if (rc != 0 && kind != API_STREAM) {
    if (rc == TR_ENOTFOUND) {
      snprintf(why, sizeof(why), "no member '%s'", p.node);
      j_error(ins, c, 404, why);
    } else {
      j_error(ins, c, 500, tr_strerror(rc));
    }
  }
  return true;
}

/* A request for c, listed, freed when c closes; NULL: out of memory. */
static api_req *req_new(inspector *ins, http_conn *c, api_kind kind) {
  api_req *r = calloc(1, sizeof(*r));
  if (!r) return NULL;
  r->ins = ins;
  r->conn = c;
  r->kind = kind;
  r->next = ins->reqs;
  if (r->next) r->next->prev = r;
  ins->reqs = r;
  if (kind == API_STREAM) ins->nstreams++;
  else ins->nreqs++;
  http_conn_set_owner(c, req_conn_gone, r);
  return r;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

int inspector_new(inspector **out, tr_node *node, tr_log_fn log,
                  void *log_user, log_ring *lines) {
  inspector *ins = calloc(1, sizeof(*ins));
  if (!ins) return TR_ENOMEM;
  ins->node = node;
  ins->lines = lines;
  ins->log = log;
  ins->log_user = log_user;
  uv_timer_init(tr_node_loop(node), &ins->tick);
  uv_unref((uv_handle_t *)&ins->tick); /* the node's life is not ours */
  ins->tick.data = ins;
  ins->tick_open = true;
  *out = ins;
  return 0;
}

static void tick_closed(uv_handle_t *h) { free(h->data); }

void inspector_free(inspector *ins) {
  if (!ins) return;
  while (ins->reqs) req_free(ins->reqs); /* none after http_stop */
  uv_close((uv_handle_t *)&ins->tick, tick_closed);
}

void inspector_stats_get(const inspector *ins, inspector_stats *out) {
  memset(out, 0, sizeof(*out));
  if (!ins) return;
  *out = ins->st;
  out->streams = ins->nstreams;
}
