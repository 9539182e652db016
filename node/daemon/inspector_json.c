/* inspector_json.c — the inspector's answers as JSON (docs/inspector.md):
 * what a gather holds, merged across nodes, for each endpoint, and the
 * error objects. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "inspector_int.h"
#include "ops_print.h"

void j_str(FILE *f, const char *s) {
  if (!s) fputs("null", f);
  else ops_print_json_str(f, s, strlen(s));
}

void j_error(inspector *ins, http_conn *c, int status,
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

/* Opens the body; false (500 answered) when out of memory. */
bool j_begin(inspector *ins, http_conn *c, j_out *o) {
  o->text = NULL;
  o->len = 0;
  o->f = open_memstream(&o->text, &o->len);
  if (!o->f) j_error(ins, c, 500, "out of memory");
  return o->f != NULL;
}

/* Answers 200 with the body. */
void j_end(inspector *ins, http_conn *c, j_out *o) {
  fclose(o->f);
  ins->st.api_requests++;
  http_reply(c, 200, INS_JSON, o->text, o->len, true);
}

static const char *status_name(int status) {
  return status == 0 ? "ok" : status == TR_ETIMEDOUT ? "timeout" : "error";
}

void j_nodes(FILE *f, const gather *g) {
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

void j_cluster(FILE *f, inspector *ins, const gather *g) {
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
void j_actors(FILE *f, const gather *g, const api_params *p) {
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

void j_topics(FILE *f, const gather *g) {
  fputs("{\"nodes\":", f);
  j_nodes(f, g);
  fputs(",\"subscriptions\":[", f);
  for (size_t i = 0; i < g->subs.n; i++) j_sub(f, &g->subs.v[i], i == 0);
  fputs("]}", f);
}

void j_groups(FILE *f, const gather *g) {
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
void j_dead_letters(FILE *f, const gather *g, uint32_t limit) {
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
bool j_actor_detail(FILE *f, const gather *g, const api_params *p) {
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
