/* inspector_int.h — shared by the inspector's files: inspector.c (the
 * routes, gathering, streams, actions), inspector_json.c (the answers as
 * JSON) and inspector_params.c (the query string). */
#ifndef TR_DAEMON_INSPECTOR_INT_H
#define TR_DAEMON_INSPECTOR_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "http.h"
#include "inspector.h"
#include "troupe_inspect.h"

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

/* ---- inspector_json.c: j_ ------------------------------------------------ */

typedef struct j_out {
  FILE *f;
  char *text;
  size_t len;
} j_out;

void j_str(FILE *f, const char *s);
void j_error(inspector *ins, http_conn *c, int status,
             const char *why);
bool j_begin(inspector *ins, http_conn *c, j_out *o);
void j_end(inspector *ins, http_conn *c, j_out *o);
void j_nodes(FILE *f, const gather *g);
void j_cluster(FILE *f, inspector *ins, const gather *g);
void j_actors(FILE *f, const gather *g, const api_params *p);
void j_topics(FILE *f, const gather *g);
void j_groups(FILE *f, const gather *g);
void j_dead_letters(FILE *f, const gather *g, uint32_t limit);
bool j_actor_detail(FILE *f, const gather *g, const api_params *p);

/* ---- inspector_params.c --------------------------------------------------- */

int ins_query_get(const http_request *req, const char *key, char *out,
                  size_t cap);
bool ins_parse_u32(const char *s, uint32_t max, uint32_t *out);
const char *ins_parse_params(const http_request *req, api_kind kind,
                             api_params *p, char *why, size_t cap);

#endif /* TR_DAEMON_INSPECTOR_INT_H */
