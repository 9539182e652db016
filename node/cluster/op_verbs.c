/* op_verbs.c — the operator client's verbs (troupe_ops.h): each builds one
 * OpRequest and turns the structured replies into the caller's callbacks.
 * The connection and the call itself: op_client.c. */
#include <stdio.h>
#include <string.h>

#include "op_client.h"

static int start(op_call *k, const tr_op_target *t, const op_verb *v,
                 void *user) {
  memset(k, 0, sizeof(*k));
  k->t = t;
  k->verb = v;
  k->user = user;
  return t ? 0 : TR_EINVAL;
}

/* A request for verb with target (may be NULL); TR_EINVAL when the target
 * does not fit an id. */
static int request(troupe_OpRequest *req, troupe_OpVerb verb,
                   const char *target, tr_op_error *err) {
  *req = (troupe_OpRequest)troupe_OpRequest_init_zero;
  req->has_verb = true;
  req->verb = verb;
  if (!target) return 0;
  if (!target[0] || strlen(target) >= sizeof(req->target)) {
    if (err) {
      err->reason = TR_OP_FAIL_CONFIG;
      snprintf(err->detail, sizeof(err->detail), "'%.300s' is not a valid id",
               target);
    }
    return TR_EINVAL;
  }
  req->has_target = true;
  snprintf(req->target, sizeof(req->target), "%s", target);
  return 0;
}

/* To one member of group rather than to the target. */
static int request_group(troupe_OpRequest *req, const char *group,
                         tr_op_error *err) {
  if (!group || !group[0] || strlen(group) >= sizeof(req->group)) {
    if (err) {
      err->reason = TR_OP_FAIL_CONFIG;
      snprintf(err->detail, sizeof(err->detail),
               "'%.300s' is not a valid group", group ? group : "");
    }
    return TR_EINVAL;
  }
  req->has_group = true;
  snprintf(req->group, sizeof(req->group), "%s", group);
  return 0;
}

/* The topic (NULL or "": the default one); TR_EINVAL when too long. */
static int request_topic(troupe_OpRequest *req, const char *topic,
                         tr_op_error *err) {
  if (!topic || !topic[0]) return 0;
  if (strlen(topic) >= sizeof(req->topic)) {
    if (err) {
      err->reason = TR_OP_FAIL_CONFIG;
      snprintf(err->detail, sizeof(err->detail), "topic too long");
    }
    return TR_EINVAL;
  }
  req->has_topic = true;
  snprintf(req->topic, sizeof(req->topic), "%s", topic);
  return 0;
}

static int bad_target(tr_op_error *err) {
  if (err) {
    err->reason = TR_OP_FAIL_CONFIG;
    snprintf(err->detail, sizeof(err->detail), "no target given");
  }
  return TR_EINVAL;
}

/* ---- members ------------------------------------------------------------------ */

typedef struct members_arg {
  void (*fn)(void *, const tr_member *, int);
  void *arg;
} members_arg;

static bool members_reply(op_call *k, const troupe_OpReply *r,
                          wire_slice data) {
  (void)data;
  members_arg *a = k->user;
  for (pb_size_t i = 0; i < r->members_count; i++) {
    const troupe_OpMember *m = &r->members[i];
    tr_member out = {.epoch = m->epoch,
                     .incarnation = m->incarnation,
                     .state = (tr_member_state)m->state};
    snprintf(out.name, sizeof(out.name), "%s", m->name);
    snprintf(out.addr, sizeof(out.addr), "%s", m->addr);
    if (m->has_tags) snprintf(out.tags, sizeof(out.tags), "%s", m->tags);
    if (a->fn) a->fn(a->arg, &out, r->has_node && !strcmp(r->node, m->name));
  }
  return true;
}

static const op_verb members_verb = {.on_reply = members_reply};

int tr_op_members(const tr_op_target *t,
                  void (*fn)(void *, const tr_member *, int), void *arg,
                  tr_op_error *err) {
  op_call k;
  members_arg a = {fn, arg};
  if (start(&k, t, &members_verb, &a) != 0) return bad_target(err);
  troupe_OpRequest req;
  request(&req, troupe_OpVerb_OP_MEMBERS, NULL, err);
  return op_call_run(&k, &req, NULL, 0, err);
}

/* ---- actors --------------------------------------------------------------------- */

typedef struct actors_arg {
  void (*fn)(void *, const char *, const char *);
  void *arg;
} actors_arg;

static bool actors_reply(op_call *k, const troupe_OpReply *r,
                         wire_slice data) {
  (void)data;
  actors_arg *a = k->user;
  for (pb_size_t i = 0; i < r->actors_count; i++)
    if (a->fn) a->fn(a->arg, r->actors[i].id, r->actors[i].node);
  return true;
}

static const op_verb actors_verb = {.on_reply = actors_reply};

int tr_op_actors(const tr_op_target *t, const char *on,
                 void (*fn)(void *, const char *, const char *), void *arg,
                 tr_op_error *err) {
  op_call k;
  actors_arg a = {fn, arg};
  if (start(&k, t, &actors_verb, &a) != 0) return bad_target(err);
  troupe_OpRequest req;
  int rc = request(&req, troupe_OpVerb_OP_ACTORS, on && on[0] ? on : NULL,
                   err);
  return rc ? rc : op_call_run(&k, &req, NULL, 0, err);
}

/* ---- groups --------------------------------------------------------------------- */

typedef struct groups_arg {
  void (*fn)(void *, const tr_group_member *);
  void *arg;
} groups_arg;

static bool groups_reply(op_call *k, const troupe_OpReply *r,
                         wire_slice data) {
  (void)data;
  groups_arg *a = k->user;
  for (pb_size_t i = 0; i < r->actors_count; i++) {
    tr_group_member m = {r->actors[i].group, r->actors[i].id,
                         r->actors[i].node};
    if (a->fn) a->fn(a->arg, &m);
  }
  return true;
}

static const op_verb groups_verb = {.on_reply = groups_reply};

int tr_op_groups(const tr_op_target *t, const char *group,
                 void (*fn)(void *, const tr_group_member *), void *arg,
                 tr_op_error *err) {
  op_call k;
  groups_arg a = {fn, arg};
  if (start(&k, t, &groups_verb, &a) != 0) return bad_target(err);
  troupe_OpRequest req;
  int rc = request(&req, troupe_OpVerb_OP_GROUPS,
                   group && group[0] ? group : NULL, err);
  return rc ? rc : op_call_run(&k, &req, NULL, 0, err);
}

/* ---- stats and health ---------------------------------------------------------- */

typedef struct stats_arg {
  void (*fn)(void *, const char *, const char *, uint64_t);
  void *arg;
} stats_arg;

static bool stats_reply(op_call *k, const troupe_OpReply *r,
                        wire_slice data) {
  (void)data;
  stats_arg *a = k->user;
  for (pb_size_t i = 0; i < r->counters_count; i++)
    if (a->fn)
      a->fn(a->arg, r->node, r->counters[i].name, r->counters[i].value);
  return true;
}

static const op_verb stats_verb = {.on_reply = stats_reply};

int tr_op_stats(const tr_op_target *t,
                void (*fn)(void *, const char *, const char *, uint64_t),
                void *arg, tr_op_error *err) {
  op_call k;
  stats_arg a = {fn, arg};
  if (start(&k, t, &stats_verb, &a) != 0) return bad_target(err);
  troupe_OpRequest req;
  request(&req, troupe_OpVerb_OP_STATS, NULL, err);
  return op_call_run(&k, &req, NULL, 0, err);
}

static void health_take(op_call *k, const troupe_OpReply *r) {
  tr_op_health_info *h = k->user;
  if (!h) return;
  snprintf(h->node, sizeof(h->node), "%s", r->node);
  h->ready = r->has_health && r->health.ready;
  h->members_up = r->has_health ? r->health.members_up : 0;
}

static bool health_reply(op_call *k, const troupe_OpReply *r,
                         wire_slice data) {
  (void)data;
  health_take(k, r);
  return true;
}

static const op_verb health_verb = {.on_reply = health_reply,
                                    .on_error = health_take};

int tr_op_health(const tr_op_target *t, tr_op_health_info *out,
                 tr_op_error *err) {
  op_call k;
  if (out) memset(out, 0, sizeof(*out));
  if (start(&k, t, &health_verb, out) != 0) return bad_target(err);
  troupe_OpRequest req;
  request(&req, troupe_OpVerb_OP_HEALTH, NULL, err);
  return op_call_run(&k, &req, NULL, 0, err);
}

/* ---- info, leave, join ------------------------------------------------------------- */

static bool info_reply(op_call *k, const troupe_OpReply *r, wire_slice data) {
  (void)data;
  tr_op_info *out = k->user;
  if (!r->has_info) return false;
  const troupe_OpInfo *in = &r->info;
  snprintf(out->version, sizeof(out->version), "%s", in->version);
  snprintf(out->name, sizeof(out->name), "%s", in->name);
  snprintf(out->addr, sizeof(out->addr), "%s", in->addr);
  out->uptime_ms = in->uptime_ms;
  out->members_alive = in->members_alive;
  out->actors = in->actors;
  out->links = in->links;
  snprintf(out->cert_cn, sizeof(out->cert_cn), "%s", in->cert_cn);
  snprintf(out->cert_role, sizeof(out->cert_role), "%s", in->cert_role);
  out->cert_not_after = in->cert_not_after;
  return false;
}

static const op_verb info_verb = {.on_reply = info_reply};

int tr_op_info_get(const tr_op_target *t, tr_op_info *out, tr_op_error *err) {
  op_call k;
  if (!out || start(&k, t, &info_verb, out) != 0) return bad_target(err);
  memset(out, 0, sizeof(*out));
  troupe_OpRequest req;
  request(&req, troupe_OpVerb_OP_INFO, NULL, err);
  return op_call_run(&k, &req, NULL, 0, err);
}

static bool status_reply(op_call *k, const troupe_OpReply *r,
                         wire_slice data) {
  (void)k, (void)r, (void)data;
  return false;
}

static const op_verb status_verb = {.on_reply = status_reply};

int tr_op_leave(const tr_op_target *t, tr_op_error *err) {
  op_call k;
  if (start(&k, t, &status_verb, NULL) != 0) return bad_target(err);
  troupe_OpRequest req;
  request(&req, troupe_OpVerb_OP_LEAVE, NULL, err);
  return op_call_run(&k, &req, NULL, 0, err);
}

int tr_op_join(const tr_op_target *t, const char *addr, tr_op_error *err) {
  op_call k;
  if (!addr || start(&k, t, &status_verb, NULL) != 0) return bad_target(err);
  troupe_OpRequest req;
  int rc = request(&req, troupe_OpVerb_OP_JOIN, addr, err);
  return rc ? rc : op_call_run(&k, &req, NULL, 0, err);
}

int tr_op_forget(const tr_op_target *t, const char *name, tr_op_error *err) {
  op_call k;
  if (!name || start(&k, t, &status_verb, NULL) != 0) return bad_target(err);
  troupe_OpRequest req;
  int rc = request(&req, troupe_OpVerb_OP_FORGET, name, err);
  return rc ? rc : op_call_run(&k, &req, NULL, 0, err);
}

/* ---- an inspector session -------------------------------------------------------- */

typedef struct session_arg {
  char *out;
  size_t cap;
  bool fits;
} session_arg;

static bool session_reply(op_call *k, const troupe_OpReply *r,
                          wire_slice data) {
  (void)r;
  session_arg *a = k->user;
  a->fits = data.len < a->cap;
  if (a->fits) {
    memcpy(a->out, data.p, data.len);
    a->out[data.len] = '\0';
  }
  return false;
}

static const op_verb session_verb = {.on_reply = session_reply};

int tr_op_session(const tr_op_target *t, char *token, size_t cap,
                  tr_op_error *err) {
  op_call k;
  session_arg a = {token, cap, false};
  if (!token || !cap || start(&k, t, &session_verb, &a) != 0)
    return bad_target(err);
  token[0] = '\0';
  troupe_OpRequest req;
  request(&req, troupe_OpVerb_OP_SESSION, NULL, err);
  int rc = op_call_run(&k, &req, NULL, 0, err);
  if (rc == 0 && !a.fits) {
    if (err) {
      err->reason = TR_OP_FAIL_PROTOCOL;
      snprintf(err->detail, sizeof(err->detail),
               "the token does not fit %zu bytes", cap);
    }
    return TR_ETOOBIG;
  }
  return rc;
}

/* ---- send, ask, sub -------------------------------------------------------------- */

static bool send_reply(op_call *k, const troupe_OpReply *r, wire_slice data) {
  (void)k, (void)r, (void)data;
  return false;
}

static const op_verb send_verb = {.on_reply = send_reply};

int tr_op_send(const tr_op_target *t, const char *to, const void *data,
               size_t len, tr_op_error *err) {
  op_call k;
  if (!to || start(&k, t, &send_verb, NULL) != 0) return bad_target(err);
  troupe_OpRequest req;
  int rc = request(&req, troupe_OpVerb_OP_SEND, to, err);
  return rc ? rc : op_call_run(&k, &req, data, len, err);
}

int tr_op_group_send(const tr_op_target *t, const char *group,
                     const void *data, size_t len, tr_op_error *err) {
  op_call k;
  if (start(&k, t, &send_verb, NULL) != 0) return bad_target(err);
  troupe_OpRequest req;
  request(&req, troupe_OpVerb_OP_SEND, NULL, err);
  int rc = request_group(&req, group, err);
  return rc ? rc : op_call_run(&k, &req, data, len, err);
}

typedef struct message_arg {
  void (*ask_fn)(void *, const tr_op_message *);
  void (*started)(void *);
  int (*sub_fn)(void *, const tr_op_message *);
  void *arg;
} message_arg;

static tr_op_message message_of(const troupe_OpReply *r, wire_slice data) {
  return (tr_op_message){.from = r->has_from ? r->from : "",
                         .node = r->has_node ? r->node : "",
                         .data = data.p ? (const void *)data.p : "",
                         .len = data.len};
}

static bool ask_reply(op_call *k, const troupe_OpReply *r, wire_slice data) {
  message_arg *a = k->user;
  tr_op_message m = message_of(r, data);
  if (a->ask_fn) a->ask_fn(a->arg, &m);
  return false;
}

static const op_verb ask_verb = {.on_reply = ask_reply};

int tr_op_ask(const tr_op_target *t, const char *to, const void *data,
              size_t len, uint32_t timeout_ms,
              void (*fn)(void *, const tr_op_message *), void *arg,
              tr_op_error *err) {
  op_call k;
  message_arg a = {.ask_fn = fn, .arg = arg};
  if (!to || start(&k, t, &ask_verb, &a) != 0) return bad_target(err);
  troupe_OpRequest req;
  int rc = request(&req, troupe_OpVerb_OP_ASK, to, err);
  if (rc) return rc;
  req.has_timeout_ms = timeout_ms != 0;
  req.timeout_ms = timeout_ms;
  return op_call_run(&k, &req, data, len, err);
}

int tr_op_group_ask(const tr_op_target *t, const char *group,
                    const void *data, size_t len, uint32_t timeout_ms,
                    void (*fn)(void *, const tr_op_message *), void *arg,
                    tr_op_error *err) {
  op_call k;
  message_arg a = {.ask_fn = fn, .arg = arg};
  if (start(&k, t, &ask_verb, &a) != 0) return bad_target(err);
  troupe_OpRequest req;
  request(&req, troupe_OpVerb_OP_ASK, NULL, err);
  int rc = request_group(&req, group, err);
  if (rc) return rc;
  req.has_timeout_ms = timeout_ms != 0;
  req.timeout_ms = timeout_ms;
  return op_call_run(&k, &req, data, len, err);
}

static bool sub_reply(op_call *k, const troupe_OpReply *r, wire_slice data) {
  message_arg *a = k->user;
  if (r->more && !data.len && !r->has_from) { /* the stream has begun */
    if (a->started) a->started(a->arg);
    return true;
  }
  tr_op_message m = message_of(r, data);
  return !(a->sub_fn && a->sub_fn(a->arg, &m) != 0);
}

static const op_verb sub_verb = {.on_reply = sub_reply, .streams = true};

int tr_op_sub(const tr_op_target *t, const char *publisher,
              const char *topic, void (*started)(void *),
              int (*fn)(void *, const tr_op_message *), void *arg,
              tr_op_error *err) {
  op_call k;
  message_arg a = {.started = started, .sub_fn = fn, .arg = arg};
  if (!publisher || start(&k, t, &sub_verb, &a) != 0) return bad_target(err);
  troupe_OpRequest req;
  int rc = request(&req, troupe_OpVerb_OP_SUB, publisher, err);
  if (rc) return rc;
  if ((rc = request_topic(&req, topic, err)) != 0) return rc;
  return op_call_run(&k, &req, NULL, 0, err);
}

/* ---- pub, monitor ---------------------------------------------------------------- */

typedef struct pub_arg {
  tr_op_published *out;
} pub_arg;

static bool pub_reply(op_call *k, const troupe_OpReply *r, wire_slice data) {
  (void)data;
  pub_arg *a = k->user;
  if (!a->out) return false;
  memset(a->out, 0, sizeof(*a->out));
  snprintf(a->out->publisher, sizeof(a->out->publisher), "%s",
           r->has_from ? r->from : "");
  snprintf(a->out->node, sizeof(a->out->node), "%s",
           r->has_node ? r->node : "");
  a->out->reached = r->has_reached ? r->reached : 0;
  return false;
}

static const op_verb pub_verb = {.on_reply = pub_reply};

int tr_op_pub(const tr_op_target *t, const char *publisher, const char *topic,
              const void *data, size_t len, tr_op_published *out,
              tr_op_error *err) {
  op_call k;
  pub_arg a = {out};
  if (start(&k, t, &pub_verb, &a) != 0) return bad_target(err);
  troupe_OpRequest req;
  int rc = request(&req, troupe_OpVerb_OP_PUB,
                   publisher && publisher[0] ? publisher : NULL, err);
  if (rc) return rc;
  if ((rc = request_topic(&req, topic, err)) != 0) return rc;
  return op_call_run(&k, &req, data, len, err);
}

typedef struct monitor_arg {
  void (*started)(void *);
  int (*fn)(void *, const tr_op_monitor_line *);
  void *arg;
} monitor_arg;

static bool monitor_reply(op_call *k, const troupe_OpReply *r,
                          wire_slice data) {
  monitor_arg *a = k->user;
  if (r->more && !data.len && !r->has_from && !r->has_log_level) {
    if (a->started) a->started(a->arg); /* the stream has begun */
    return true;
  }
  tr_op_monitor_line l = {
      .level = r->has_log_level ? (tr_log_level)r->log_level : 0,
      .event = r->has_event ? r->event : "",
      .text = data.p ? (const char *)data.p : "",
      .len = data.len,
      .node = r->has_node ? r->node : ""};
  return !(a->fn && a->fn(a->arg, &l) != 0);
}

static const op_verb monitor_verb = {.on_reply = monitor_reply,
                                     .streams = true};

int tr_op_monitor(const tr_op_target *t, tr_log_level level,
                  void (*started)(void *arg),
                  int (*fn)(void *arg, const tr_op_monitor_line *),
                  void *arg, tr_op_error *err) {
  op_call k;
  monitor_arg a = {.started = started, .fn = fn, .arg = arg};
  if (start(&k, t, &monitor_verb, &a) != 0) return bad_target(err);
  if (level < TR_LOG_ERROR || level > TR_LOG_DEBUG) {
    if (err) {
      err->reason = TR_OP_FAIL_CONFIG;
      snprintf(err->detail, sizeof(err->detail), "no such log level");
    }
    return TR_EINVAL;
  }
  troupe_OpRequest req;
  request(&req, troupe_OpVerb_OP_MONITOR, NULL, err);
  req.has_level = true;
  req.level = level;
  return op_call_run(&k, &req, NULL, 0, err);
}

const op_verb *op_verb_for(troupe_OpVerb v) {
  switch (v) {
  case troupe_OpVerb_OP_MEMBERS: return &members_verb;
  case troupe_OpVerb_OP_ACTORS: return &actors_verb;
  case troupe_OpVerb_OP_STATS: return &stats_verb;
  case troupe_OpVerb_OP_HEALTH: return &health_verb;
  case troupe_OpVerb_OP_SEND: return &send_verb;
  case troupe_OpVerb_OP_ASK: return &ask_verb;
  case troupe_OpVerb_OP_SUB: return &sub_verb;
  case troupe_OpVerb_OP_PUB: return &pub_verb;
  case troupe_OpVerb_OP_MONITOR: return &monitor_verb;
  case troupe_OpVerb_OP_GROUPS: return &groups_verb;
  case troupe_OpVerb_OP_SESSION: return &session_verb;
  case troupe_OpVerb_OP_INFO: return &info_verb;
  case troupe_OpVerb_OP_LEAVE:
  case troupe_OpVerb_OP_JOIN:
  case troupe_OpVerb_OP_FORGET: return &status_verb;
  default: return NULL;
  }
}
