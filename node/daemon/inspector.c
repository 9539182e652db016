/* inspector.c — see inspector.h and docs/inspector.md. Each API request
 * is one tr_node_inspect of the members it needs; the answers are copied
 * into a gather (rows with their own strings), and rendered as JSON
 * (inspector_json.c) when every node is done (or timed out). A stream
 * re-gathers every second. The query string: inspector_params.c. */
#include "inspector_int.h"

#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "ops_print.h"
#include "troupe_inspect.h"
#include "ui_assets.h"

/* ---- what came back --------------------------------------------------------- */

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
  int q = ins_query_get(req, "timeout_ms", v, sizeof(v));
  if (q < 0 || (q > 0 && (!ins_parse_u32(v, INS_ASK_MAX_MS, &ms) || ms == 0))) {
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
  int q = ins_query_get(req, "id", id, sizeof(id));
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
  int rc = ins_query_get(req, "level", v, sizeof(v));
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
  rc = ins_query_get(req, "after", v, sizeof(v));
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
  rc = ins_query_get(req, "limit", v, sizeof(v));
  if (rc < 0 || (rc > 0 && (!ins_parse_u32(v, 1000, &limit) || limit == 0))) {
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
  const char *bad = ins_parse_params(req, kind, &p, why, sizeof(why));
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
