/* cluster_harness.c — see cluster_harness.h. Each node thread runs
 * tr_node_run; the test thread reaches a loop through a uv_async handle of
 * its own on that loop, and waits on a semaphore for the call's result. */
#include "cluster_harness.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "pki.h"
#include "tls.h"
#include "wire_client.h"

#define TN_MAX 8
#define TN_EVENTS_MAX 32768
#define TN_CALL_WAIT_MS 10000

#define TN_LOGS_MAX 64 /* distinct log events counted per node */

typedef struct tn_logged {
  char event[48];
  size_t count;
  char last[256]; /* the fields of the latest */
} tn_logged;

typedef struct tn_slot {
  tn_cluster *c;
  size_t i;
  char name[16];
  char addr[128];
  tr_node *node;
  uv_thread_t thread;
  bool running;
  uv_async_t async;
  uv_mutex_t lock; /* one call at a time */
  /* A call's end and a freeze's end, waited on (not polled). */
  uv_mutex_t wait_lock;
  uv_cond_t wait_cond;
  bool call_done, frozen;
  int (*fn)(tr_node *, void *);
  void *arg;
  int result;
  atomic_bool freeze_req;
  tn_logged logs[TN_LOGS_MAX]; /* warnings and errors; under c->ev_lock */
  size_t nlogs;
  bool print_logs;
} tn_slot;

struct tn_cluster {
  size_t count;
  char dir[64];
  test_pki pki;
  tn_slot slots[TN_MAX];
  uv_mutex_t ev_lock;
  tn_opts opts;
  tn_event events[TN_EVENTS_MAX];
  size_t nevents;
};

uint64_t tn_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- calls onto a loop ---------------------------------------------------- */

static void slot_on_async(uv_async_t *h) {
  tn_slot *s = h->data;
  if (atomic_exchange(&s->freeze_req, false)) {
    /* Hang the loop, as a stopped process would, until tn_thaw. */
    uv_mutex_lock(&s->wait_lock);
    while (s->frozen) uv_cond_wait(&s->wait_cond, &s->wait_lock);
    uv_mutex_unlock(&s->wait_lock);
    return;
  }
  if (!s->fn) return;
  int result = s->fn(s->node, s->arg);
  uv_mutex_lock(&s->wait_lock);
  s->result = result;
  s->fn = NULL;
  s->call_done = true;
  uv_cond_broadcast(&s->wait_cond);
  uv_mutex_unlock(&s->wait_lock);
}

int tn_call(tn_cluster *c, size_t i, int (*fn)(tr_node *, void *), void *arg) {
  tn_slot *s = &c->slots[i];
  if (!s->running) return TR_ESTATE;
  uv_mutex_lock(&s->lock);
  uv_mutex_lock(&s->wait_lock);
  s->arg = arg;
  s->fn = fn;
  s->call_done = false;
  uv_async_send(&s->async);
  uint64_t deadline = uv_hrtime() + (uint64_t)TN_CALL_WAIT_MS * 1000000u;
  while (!s->call_done) {
    uint64_t now = uv_hrtime();
    if (now >= deadline ||
        uv_cond_timedwait(&s->wait_cond, &s->wait_lock, deadline - now) != 0)
      break;
  }
  int rc = s->call_done ? s->result : TR_ETIMEDOUT;
  uv_mutex_unlock(&s->wait_lock);
  uv_mutex_unlock(&s->lock);
  return rc;
}

void tn_freeze(tn_cluster *c, size_t i) {
  tn_slot *s = &c->slots[i];
  uv_mutex_lock(&s->wait_lock);
  s->frozen = true;
  uv_mutex_unlock(&s->wait_lock);
  atomic_store(&s->freeze_req, true);
  uv_async_send(&s->async);
}

void tn_thaw(tn_cluster *c, size_t i) {
  tn_slot *s = &c->slots[i];
  uv_mutex_lock(&s->wait_lock);
  s->frozen = false;
  uv_cond_broadcast(&s->wait_cond);
  uv_mutex_unlock(&s->wait_lock);
}

long tn_wait(tn_cluster *c, bool (*pred)(tn_cluster *, void *), void *arg,
             uint32_t max_ms) {
  uint64_t start = tn_now_ms();
  for (uint32_t k = 0; k <= max_ms / 10; k++) {
    if (pred(c, arg)) return (long)(tn_now_ms() - start);
    usleep(10000);
  }
  return pred(c, arg) ? (long)(tn_now_ms() - start) : -1;
}

static bool all_alive(tn_cluster *c, void *arg) {
  int want = (int)(size_t)arg;
  for (size_t i = 0; i < c->count; i++)
    if (tn_members_in(c, i, TR_MEMBER_ALIVE) != want) return false;
  return true;
}

long tn_wait_alive(tn_cluster *c, int n, uint32_t max_ms) {
  return tn_wait(c, all_alive, (void *)(size_t)n, max_ms);
}

/* ---- the event log -------------------------------------------------------- */

static void copy_str(char *dst, size_t cap, const char *s, size_t len) {
  if (!s) len = 0;
  if (len >= cap) len = cap - 1;
  if (len) memcpy(dst, s, len);
  dst[len] = '\0';
}

static void record(tn_cluster *c, const char *kind, const char *actor,
                   const tr_envelope *env, const char *data, int status) {
  uv_mutex_lock(&c->ev_lock);
  if (c->nevents < TN_EVENTS_MAX) {
    tn_event *e = &c->events[c->nevents++];
    memset(e, 0, sizeof(*e));
    copy_str(e->kind, sizeof(e->kind), kind, strlen(kind));
    copy_str(e->actor, sizeof(e->actor), actor, strlen(actor));
    if (env) {
      copy_str(e->from, sizeof(e->from), env->sender,
               env->sender ? strlen(env->sender) : 0);
      copy_str(e->node, sizeof(e->node), env->node,
               env->node ? strlen(env->node) : 0);
      copy_str(e->data, sizeof(e->data), env->data, env->len);
      /* A group broadcast or event: the group in topic. */
      const char *topic = env->group ? env->group : env->topic;
      copy_str(e->topic, sizeof(e->topic), topic, topic ? strlen(topic) : 0);
      /* NODE_UP/DOWN data is NUL-terminated: keep the text only. */
      e->data[strnlen(e->data, sizeof(e->data))] = '\0';
    }
    if (data) copy_str(e->data, sizeof(e->data), data, strlen(data));
    e->status = status;
    e->at_ms = tn_now_ms();
  }
  uv_mutex_unlock(&c->ev_lock);
}

bool tn_find(tn_cluster *c, const char *kind, const char *actor,
             const char *data, bool want_status, int status, tn_event *out) {
  bool found = false;
  uv_mutex_lock(&c->ev_lock);
  for (size_t i = 0; i < c->nevents && !found; i++) {
    tn_event *e = &c->events[i];
    if ((kind && strcmp(e->kind, kind) != 0) ||
        (actor && strcmp(e->actor, actor) != 0) ||
        (data && strcmp(e->data, data) != 0) ||
        (want_status && e->status != status))
      continue;
    if (out) *out = *e;
    found = true;
  }
  uv_mutex_unlock(&c->ev_lock);
  return found;
}

size_t tn_count_events(tn_cluster *c, const char *kind, const char *actor) {
  size_t n = 0;
  uv_mutex_lock(&c->ev_lock);
  for (size_t i = 0; i < c->nevents; i++)
    n += (!kind || strcmp(c->events[i].kind, kind) == 0) &&
         (!actor || strcmp(c->events[i].actor, actor) == 0);
  uv_mutex_unlock(&c->ev_lock);
  return n;
}

static void count_remote(void *arg, const tr_sub_info *si) {
  int *n = arg;
  if (!si->subscriber) (*n)++;
}

static int do_count_interest(tr_node *n, void *arg) {
  int count = 0;
  (void)arg;
  tr_node_subscriptions(n, count_remote, &count);
  return count;
}

int tn_interest(tn_cluster *c, size_t i) {
  return tn_call(c, i, do_count_interest, NULL);
}

typedef struct peer_arg {
  const char *peer;
  tr_peer_stats *out;
} peer_arg;

static int do_peer(tr_node *n, void *arg) {
  peer_arg *a = arg;
  return tr_node_peer_stats(n, a->peer, a->out);
}

int tn_peer(tn_cluster *c, size_t i, const char *peer, tr_peer_stats *out) {
  peer_arg a = {peer, out};
  return tn_call(c, i, do_peer, &a);
}

typedef struct drops_arg {
  const char *subscriber;
  uint64_t delivered, dropped;
  int found;
} drops_arg;

static void find_sub(void *arg, const tr_sub_info *si) {
  drops_arg *a = arg;
  if (si->subscriber && strcmp(si->subscriber, a->subscriber) == 0) {
    a->delivered += si->delivered;
    a->dropped += si->dropped;
    a->found++;
  }
}

static int do_drops(tr_node *n, void *arg) {
  tr_node_subscriptions(n, find_sub, arg);
  return ((drops_arg *)arg)->found;
}

int tn_sub_counts(tn_cluster *c, size_t i, const char *subscriber,
                  uint64_t *delivered, uint64_t *dropped) {
  drops_arg a = {.subscriber = subscriber};
  int rc = tn_call(c, i, do_drops, &a);
  *delivered = a.delivered;
  *dropped = a.dropped;
  return rc;
}

bool tn_nth(tn_cluster *c, const char *kind, const char *actor, size_t nth,
            tn_event *out) {
  bool found = false;
  uv_mutex_lock(&c->ev_lock);
  for (size_t i = 0; i < c->nevents && !found; i++) {
    tn_event *e = &c->events[i];
    if (strcmp(e->kind, kind) != 0 || strcmp(e->actor, actor) != 0) continue;
    if (nth-- == 0) {
      *out = *e;
      found = true;
    }
  }
  uv_mutex_unlock(&c->ev_lock);
  return found;
}

void tn_clear_events(tn_cluster *c) {
  uv_mutex_lock(&c->ev_lock);
  c->nevents = 0;
  uv_mutex_unlock(&c->ev_lock);
}

typedef struct count_want {
  const char *kind, *actor;
  size_t n;
} count_want;

static bool has_count(tn_cluster *c, void *arg) {
  count_want *w = arg;
  return tn_count_events(c, w->kind, w->actor) >= w->n;
}

long tn_wait_events(tn_cluster *c, const char *kind, const char *actor,
                    size_t n, uint32_t max_ms) {
  count_want w = {kind, actor, n};
  return tn_wait(c, has_count, &w, max_ms);
}

typedef struct find_want {
  const char *kind, *actor, *data;
  bool want_status;
  int status;
} find_want;

static bool has_event(tn_cluster *c, void *arg) {
  find_want *w = arg;
  return tn_find(c, w->kind, w->actor, w->data, w->want_status, w->status,
                 NULL);
}

long tn_wait_find(tn_cluster *c, const char *kind, const char *actor,
                  const char *data, bool want_status, int status,
                  uint32_t max_ms) {
  find_want w = {kind, actor, data, want_status, status};
  return tn_wait(c, has_event, &w, max_ms);
}

/* ---- probe actors --------------------------------------------------------- */

/* A flow-controlled stream ("stream" / "askstream"): sends until TR_EFULL,
 * then waits for TR_MSG_WRITABLE. */
typedef struct probe_stream {
  char to[TR_ID_MAX + 1];
  char prefix[16];
  unsigned ms;
  int next, total;
  long efull;
  bool ask, active;
} probe_stream;

/* A paced stream of group sends ("gstream"): on TR_EFULL it retries after
 * 1 ms (a group has no single target to wait on). */
typedef struct probe_gstream {
  char group[TR_GROUP_MAX + 1];
  int next, total;
  int per_tick; /* sends a turn before a 1 ms pause; 0: until TR_EFULL */
  long efull;
  bool active;
} probe_gstream;

typedef struct probe {
  tn_cluster *c;
  probe_stream st;
  probe_gstream gs;
} probe;

static int probe_init(tr_ctx *ctx, void *state, const void *arg) {
  (void)ctx;
  ((probe *)state)->c = (tn_cluster *)arg;
  return 0;
}

static const tr_actor_type probe_type;

/* Sends the stream's next messages until done (a "stream" event "done N
 * efull=K", status 0), TR_EFULL (waits for room), or an error (the event
 * with that status). */
static void stream_pump(tr_ctx *ctx, probe *p) {
  probe_stream *s = &p->st;
  int rc = 0;
  while (s->active && s->next < s->total) {
    char msg[32];
    int len = snprintf(msg, sizeof(msg), "%s%d", s->prefix, s->next);
    rc = s->ask ? tr_ask(ctx, s->to, msg, (size_t)len, s->ms, NULL)
                : tr_send(ctx, s->to, msg, (size_t)len);
    if (rc == TR_EFULL) {
      s->efull++;
      rc = tr_send_notify(ctx, s->to);
      if (rc == 0) return; /* TR_MSG_WRITABLE resumes it */
    }
    if (rc != 0) break;
    s->next++;
  }
  char done[64];
  snprintf(done, sizeof(done), "done %d efull=%ld", s->next, s->efull);
  s->active = false;
  record(p->c, "stream", tr_self(ctx), NULL, done, rc);
}

/* Sends the group stream's next messages "g0".. until done (a "gstream"
 * event "done N efull=K"), TR_EFULL (retried in 1 ms) or an error. */
static void gstream_pump(tr_ctx *ctx, probe *p) {
  probe_gstream *s = &p->gs;
  int rc = 0, turn = 0;
  while (s->active && s->next < s->total) {
    if (s->per_tick && turn++ == s->per_tick) {
      rc = tr_send_after(ctx, 1, tr_self(ctx), "gresume", 7);
      if (rc == 0) return;
      break;
    }
    char msg[32];
    int len = snprintf(msg, sizeof(msg), "g%d", s->next);
    rc = tr_group_send(ctx, s->group, msg, (size_t)len);
    if (rc == TR_EFULL) {
      s->efull++;
      rc = tr_send_after(ctx, 1, tr_self(ctx), "gresume", 7);
      if (rc == 0) return;
    }
    if (rc != 0) break;
    s->next++;
  }
  char done[64];
  snprintf(done, sizeof(done), "done %d efull=%ld", s->next, s->efull);
  s->active = false;
  record(p->c, "gstream", tr_self(ctx), NULL, done, rc);
}

/* "verb to rest": runs one command, returns its status. */
static int probe_run(tr_ctx *ctx, probe *p, const char *cmd) {
  char verb[16] = "", to[TR_ID_MAX + 1] = "";
  int off = 0;
  if (sscanf(cmd, "%15s %255s %n", verb, to, &off) < 2) return TR_EINVAL;
  const char *rest = cmd + off;
  if (strcmp(verb, "send") == 0) return tr_send(ctx, to, rest, strlen(rest));
  if (strcmp(verb, "ask") == 0)
    return tr_ask(ctx, to, rest, strlen(rest), 30000, NULL);
  if (strcmp(verb, "askt") == 0) { /* askt TO MS TEXT */
    unsigned ms = 0;
    int toff = 0;
    if (sscanf(rest, "%u %n", &ms, &toff) < 1) return TR_EINVAL;
    return tr_ask(ctx, to, rest + toff, strlen(rest + toff), ms, NULL);
  }
  /* Groups: "to" is the group. */
  if (strcmp(verb, "join") == 0) return tr_group_join(ctx, to);
  if (strcmp(verb, "leave") == 0) return tr_group_leave(ctx, to);
  if (strcmp(verb, "gsend") == 0) {
    char chosen[TR_ID_MAX + 1] = "";
    int rc = tr_group_send_to(ctx, to, rest, strlen(rest), chosen,
                              sizeof(chosen));
    record(p->c, "gchosen", tr_self(ctx), NULL, chosen, rc);
    return rc;
  }
  if (strcmp(verb, "gask") == 0)
    return tr_group_ask(ctx, to, rest, strlen(rest), 30000, NULL);
  if (strcmp(verb, "gall") == 0) {
    int rc = tr_group_broadcast(ctx, to, rest, strlen(rest));
    return rc < 0 ? rc : 0;
  }
  if (strcmp(verb, "gwatch") == 0) {
    char topic[TR_GROUP_MAX + 8];
    snprintf(topic, sizeof(topic), "%s%s", TR_GROUP_TOPIC_PREFIX, to);
    return tr_subscribe_topic(ctx, TR_SYSTEM_PUBLISHER, topic);
  }
  if (strcmp(verb, "gstream") == 0) {
    probe_gstream *s = &p->gs;
    if (s->active) return TR_ESTATE;
    *s = (probe_gstream){.active = true};
    snprintf(s->group, sizeof(s->group), "%s", to);
    if (sscanf(rest, "%d %d", &s->total, &s->per_tick) < 1) return TR_EINVAL;
    gstream_pump(ctx, p);
    return 0;
  }
  if (strcmp(verb, "mon") == 0) return tr_monitor(ctx, to);
  if (strcmp(verb, "demon") == 0) return tr_demonitor(ctx, to);
  if (strcmp(verb, "sub") == 0) return tr_subscribe(ctx, to);
  if (strcmp(verb, "notify") == 0) return tr_send_notify(ctx, to);
  if (strcmp(verb, "stop") == 0) return tr_stop_actor(ctx, to);
  if (strcmp(verb, "pub") == 0 || strcmp(verb, "pubn") == 0) {
    /* pub TOPIC TEXT | pubn TOPIC N ("-" is the default topic) */
    const char *topic = strcmp(to, "-") == 0 ? "" : to;
    if (verb[3] != 'n') {
      int rc = tr_publish_topic(ctx, topic, rest, strlen(rest));
      return rc < 0 ? rc : 0;
    }
    int count = atoi(rest);
    for (int k = 0; k < count; k++) {
      char msg[16];
      int len = snprintf(msg, sizeof(msg), "p%d", k);
      int rc = tr_publish_topic(ctx, topic, msg, (size_t)len);
      if (rc < 0) return rc;
    }
    return 0;
  }
  if (strcmp(verb, "subt") == 0 || strcmp(verb, "unsubt") == 0) {
    char topic[TR_ID_MAX + 1] = "";
    if (sscanf(rest, "%255s", topic) != 1) return TR_EINVAL;
    return verb[0] == 's' ? tr_subscribe_topic(ctx, to, topic)
                          : tr_unsubscribe_topic(ctx, to, topic);
  }
  if (strcmp(verb, "unsub") == 0) return tr_unsubscribe(ctx, to);
  if (strcmp(verb, "stream") == 0 || strcmp(verb, "askstream") == 0) {
    probe_stream *s = &p->st;
    if (s->active) return TR_ESTATE;
    *s = (probe_stream){.ms = 30000, .prefix = "s", .ask = verb[0] == 'a',
                        .active = true};
    snprintf(s->to, sizeof(s->to), "%s", to);
    if (sscanf(rest, "%d %15s %u", &s->total, s->prefix, &s->ms) < 1)
      return TR_EINVAL;
    stream_pump(ctx, p);
    return 0;
  }
  if (strcmp(verb, "burst") == 0 || strcmp(verb, "askburst") == 0) {
    /* N messages "b0".. (or PREFIX0..) in one turn: they leave in one
     * write and arrive in one read, faster than a small mailbox drains.
     * The first error is kept. */
    int count = 0, first = 0;
    unsigned ms = 30000;
    char prefix[16] = "b";
    if (sscanf(rest, "%d %15s %u", &count, prefix, &ms) < 1) return TR_EINVAL;
    for (int k = 0; k < count; k++) {
      char msg[32];
      int len = snprintf(msg, sizeof(msg), "%s%d", prefix, k);
      int rc = verb[0] == 'a'
                   ? tr_ask(ctx, to, msg, (size_t)len, ms, NULL)
                   : tr_send(ctx, to, msg, (size_t)len);
      if (rc != 0 && first == 0) first = rc;
    }
    return first;
  }
  if (strcmp(verb, "child") == 0) {
    /* A child probe, monitored too, in one turn: nothing can happen to it
     * between the spawn and the monitor. */
    tr_spawn_opts o = {.id = to, .arg = p->c};
    int rc = tr_spawn_child(ctx, &probe_type, &o);
    return rc != 0 ? rc : tr_monitor(ctx, to);
  }
  return TR_EINVAL;
}

static const char *kind_of(tr_msg_type t) {
  switch (t) {
  case TR_MSG_SEND: return "send";
  case TR_MSG_ASK: return "ask";
  case TR_MSG_REPLY: return "reply";
  case TR_MSG_DOWN: return "down";
  case TR_MSG_NODE_UP: return "node_up";
  case TR_MSG_NODE_DOWN: return "node_down";
  case TR_MSG_PUBLISH: return "publish";
  case TR_MSG_CHILD_EXIT: return "child_exit";
  case TR_MSG_WRITABLE: return "writable";
  case TR_MSG_GROUP_JOIN: return "group_join";
  case TR_MSG_GROUP_LEAVE: return "group_leave";
  }
  return "?";
}

static int probe_receive(tr_ctx *ctx, void *state, const tr_envelope *env) {
  probe *p = state;
  if (env->type == TR_MSG_SEND && !env->sender && env->len > 4 &&
      memcmp(env->data, "cmd ", 4) == 0) {
    char cmd[512];
    copy_str(cmd, sizeof(cmd), (const char *)env->data + 4, env->len - 4);
    int rc = probe_run(ctx, p, cmd);
    record(p->c, "cmd", tr_self(ctx), NULL, cmd, rc);
    return 0;
  }
  if (env->type == TR_MSG_SEND && env->sender && env->len == 7 &&
      memcmp(env->data, "gresume", 7) == 0 &&
      strcmp(env->sender, tr_self(ctx)) == 0) {
    if (p->gs.active) gstream_pump(ctx, p);
    return 0;
  }
  record(p->c, kind_of(env->type), tr_self(ctx), env, NULL, env->status);
  if (env->type == TR_MSG_WRITABLE && p->st.active) {
    if (env->status == 0) {
      stream_pump(ctx, p);
    } else {
      char done[64];
      snprintf(done, sizeof(done), "done %d efull=%ld", p->st.next,
               p->st.efull);
      p->st.active = false;
      record(p->c, "stream", tr_self(ctx), NULL, done, env->status);
    }
  }
  /* Asks "mute..." are not answered; "quit..." neither, and the probe
   * stops (what is still in its mailbox is dropped). */
  if (env->type == TR_MSG_ASK && env->len >= 4 &&
      memcmp(env->data, "quit", 4) == 0) {
    tr_stop(ctx);
    return 0;
  }
  if (env->type == TR_MSG_ASK &&
      !(env->len >= 4 && memcmp(env->data, "mute", 4) == 0)) {
    char re[128];
    int len = snprintf(re, sizeof(re), "re:%.*s", (int)(env->len > 100 ? 100 : env->len),
                       (const char *)env->data);
    tr_reply(ctx, env, re, (size_t)len);
  }
  return 0;
}

static const tr_actor_type probe_type = {
    .name = "probe",
    .state_size = sizeof(probe),
    .init = probe_init,
    .receive = probe_receive,
};

typedef struct spawn_arg {
  tn_cluster *c;
  const char *id;
  uint32_t capacity;
} spawn_arg;

static int do_spawn(tr_node *n, void *arg) {
  spawn_arg *a = arg;
  tr_spawn_opts o = {.id = a->id, .arg = a->c, .capacity = a->capacity};
  return tr_node_spawn(n, &probe_type, &o);
}

int tn_probe(tn_cluster *c, size_t i, const char *id) {
  return tn_probe_cap(c, i, id, 0);
}

int tn_probe_cap(tn_cluster *c, size_t i, const char *id, uint32_t capacity) {
  spawn_arg a = {c, id, capacity};
  return tn_call(c, i, do_spawn, &a);
}

typedef struct stats_arg {
  tr_node_stats *ns;
  tr_cluster_stats *cs;
} stats_arg;

static int do_stats(tr_node *n, void *arg) {
  stats_arg *a = arg;
  tr_node_stats_get(n, a->ns);
  return tr_node_cluster_stats(n, a->cs);
}

int tn_stats(tn_cluster *c, size_t i, tr_node_stats *ns, tr_cluster_stats *cs) {
  stats_arg a = {ns, cs};
  return tn_call(c, i, do_stats, &a);
}

typedef struct cmd_arg {
  const char *id;
  char text[512];
} cmd_arg;

static int do_cmd(tr_node *n, void *arg) {
  cmd_arg *a = arg;
  return tr_node_send(n, a->id, a->text, strlen(a->text));
}

int tn_cmd(tn_cluster *c, size_t i, const char *id, const char *cmd) {
  cmd_arg a = {.id = id};
  snprintf(a.text, sizeof(a.text), "cmd %s", cmd);
  return tn_call(c, i, do_cmd, &a);
}

int tn_ask(tn_cluster *c, size_t i, const char *asker, const char *target,
           const char *text, uint32_t max_ms) {
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "ask %s %s", target, text);
  size_t before = tn_count_events(c, "reply", asker);
  size_t cmds = tn_count_events(c, "cmd", asker);
  int rc = tn_cmd(c, i, asker, cmd);
  if (rc != 0) return rc;
  /* The ask itself may fail (no such actor): no reply comes then. */
  tn_event e;
  if (tn_wait_events(c, "cmd", asker, cmds + 1, max_ms) < 0 ||
      !tn_nth(c, "cmd", asker, cmds, &e))
    return TR_ETIMEDOUT;
  if (e.status != 0) return e.status;
  if (tn_wait_events(c, "reply", asker, before + 1, max_ms) < 0)
    return TR_ETIMEDOUT;
  return tn_nth(c, "reply", asker, before, &e) ? e.status : TR_ETIMEDOUT;
}

/* ---- views ---------------------------------------------------------------- */

typedef struct member_arg {
  tr_member_state st;
  const char *name;
  tr_member m[64];
  int n;
} member_arg;

/* Collects up to 64 members into a->m; a->n counts them all. */
static void member_collect(void *arg, const tr_member *m) {
  member_arg *a = arg;
  if (a->n < 64) a->m[a->n] = *m;
  a->n++;
}

static int do_members_in(tr_node *n, void *arg) {
  member_arg *a = arg;
  tr_node_members(n, member_collect, a);
  int k = 0;
  for (int i = 0; i < a->n && i < 64; i++) k += a->m[i].state == a->st;
  return k;
}

int tn_members_in(tn_cluster *c, size_t i, tr_member_state st) {
  member_arg *a = calloc(1, sizeof(*a));
  if (!a) return TR_ENOMEM;
  a->st = st;
  int rc = tn_call(c, i, do_members_in, a);
  free(a);
  return rc;
}

static int do_member_state(tr_node *n, void *arg) {
  member_arg *a = arg;
  tr_node_members(n, member_collect, a);
  for (int i = 0; i < a->n && i < 64; i++)
    if (strcmp(a->m[i].name, a->name) == 0) return (int)a->m[i].state;
  return -1;
}

int tn_member_state(tn_cluster *c, size_t i, const char *name) {
  member_arg *a = calloc(1, sizeof(*a));
  if (!a) return TR_ENOMEM;
  a->name = name;
  int rc = tn_call(c, i, do_member_state, a);
  free(a);
  return rc;
}

int tn_member(tn_cluster *c, size_t i, const char *name, tr_member *out) {
  member_arg *a = calloc(1, sizeof(*a));
  if (!a) return TR_ENOMEM;
  a->name = name;
  int rc = tn_call(c, i, do_member_state, a);
  for (int k = 0; rc >= 0 && k < a->n && k < 64; k++)
    if (strcmp(a->m[k].name, name) == 0) *out = a->m[k];
  free(a);
  return rc < 0 ? TR_ENOTFOUND : 0;
}

typedef struct locate_arg {
  const char *id;
  char *owner;
  size_t cap;
} locate_arg;

static int do_locate(tr_node *n, void *arg) {
  locate_arg *a = arg;
  return tr_node_locate(n, a->id, a->owner, a->cap);
}

int tn_locate(tn_cluster *c, size_t i, const char *id, char *owner,
              size_t cap) {
  locate_arg a = {id, owner, cap};
  return tn_call(c, i, do_locate, &a);
}

/* ---- nodes ---------------------------------------------------------------- */

static void slot_thread(void *arg) {
  tn_slot *s = arg;
  tr_node_run(s->node);
}

/* Warnings and errors are counted by event (tn_log_count). TN_LOG=1 (or
 * 1..4, a tr_log_level) in the environment: every node's log lines from
 * that level on stderr too, for a test being debugged. */
static void slot_log(void *user, tr_log_level level, const char *event,
                     const char *fields) {
  tn_slot *s = user;
  if (s->print_logs)
    fprintf(stderr, "[%s] %d %s %s\n", s->name, (int)level, event, fields);
  if (level > TR_LOG_WARN) return;
  uv_mutex_lock(&s->c->ev_lock);
  tn_logged *l = NULL;
  for (size_t k = 0; k < s->nlogs && !l; k++)
    if (strcmp(s->logs[k].event, event) == 0) l = &s->logs[k];
  if (!l && s->nlogs < TN_LOGS_MAX) {
    l = &s->logs[s->nlogs++];
    snprintf(l->event, sizeof(l->event), "%s", event);
  }
  if (l) {
    l->count++;
    snprintf(l->last, sizeof(l->last), "%s", fields);
  }
  uv_mutex_unlock(&s->c->ev_lock);
}

size_t tn_log_count(tn_cluster *c, size_t i, const char *event, char *last,
                    size_t cap) {
  tn_slot *s = &c->slots[i];
  size_t n = 0;
  uv_mutex_lock(&c->ev_lock);
  for (size_t k = 0; k < s->nlogs; k++)
    if (strcmp(s->logs[k].event, event) == 0) {
      n = s->logs[k].count;
      if (last && cap) snprintf(last, cap, "%s", s->logs[k].last);
    }
  uv_mutex_unlock(&c->ev_lock);
  return n;
}

/* listen: "127.0.0.1:0", or the address a restarted node had. */
static int slot_start(tn_cluster *c, size_t i, const tn_opts *o,
                      const char *listen) {
  tn_slot *s = &c->slots[i];
  memset(s, 0, sizeof(*s));
  s->c = c;
  s->i = i;
  snprintf(s->name, sizeof(s->name), "n%zu", i);
  if (pki_write_files(&c->pki, c->dir, s->name) != 0) return TR_EINVAL;
  char ca[128], cert[128], key[128], crl[128];
  snprintf(ca, sizeof(ca), "%s/ca.pem", c->dir);
  snprintf(cert, sizeof(cert), "%s/%s.pem", c->dir, s->name);
  snprintf(key, sizeof(key), "%s/%s.key", c->dir, s->name);
  snprintf(crl, sizeof(crl), "%s/crl.pem", c->dir);
  /* n0 seeds everyone; a restarted n0 rejoins through n1. */
  const char *seeds[1] = {i > 0 ? c->slots[0].addr : c->slots[1].addr};
  bool seeded = i > 0 || (c->count > 1 && c->slots[1].running);
  tr_node_config cfg = {
      .name = s->name,
      .listen = listen,
      .seeds = seeds,
      .nseeds = seeded && !(o && o->no_join) ? 1 : 0,
      .ca_file = ca,
      .cert_file = cert,
      .key_file = key,
      .probe_interval_ms = o ? o->probe_interval_ms : 0,
      .probe_timeout_ms = o ? o->probe_timeout_ms : 0,
      .crl_file = c->opts.crl ? crl : NULL,
      .no_flow_credit = o && i < 32 && (o->no_credit_mask >> i & 1),
  };
  const char *tn_log = getenv("TN_LOG");
  cfg.log = slot_log;
  cfg.log_user = s;
  cfg.log_level = TR_LOG_WARN;
  if (tn_log && tn_log[0]) {
    int lvl = atoi(tn_log);
    s->print_logs = true;
    cfg.log_level = lvl >= 2 && lvl <= 4 ? (tr_log_level)lvl : TR_LOG_DEBUG;
  }
  int rc = tr_node_new(&s->node, &cfg);
  if (rc != 0) return rc;
  if (o && o->setup) o->setup(s->node, i, o->setup_arg);
  snprintf(s->addr, sizeof(s->addr), "%s", tr_node_address(s->node));
  uv_mutex_init(&s->lock);
  uv_mutex_init(&s->wait_lock);
  uv_cond_init(&s->wait_cond);
  atomic_init(&s->freeze_req, false);
  uv_async_init(tr_node_loop(s->node), &s->async, slot_on_async);
  s->async.data = s;
  s->running = true;
  if (uv_thread_create(&s->thread, slot_thread, s) != 0) {
    s->running = false;
    return TR_ESYS;
  }
  return 0;
}

static int do_close_async(tr_node *n, void *arg) {
  (void)n;
  (void)arg;
  return 0;
}

void tn_stop(tn_cluster *c, size_t i) {
  tn_slot *s = &c->slots[i];
  if (!s->running) return;
  tn_thaw(c, i);
  tn_call(c, i, do_close_async, NULL); /* the loop answers: not frozen */
  tr_node_stop(s->node);
  uv_thread_join(&s->thread);
  s->running = false;
  uv_close((uv_handle_t *)&s->async, NULL);
  tr_node_free(s->node);
  s->node = NULL;
  uv_mutex_destroy(&s->lock);
  uv_cond_destroy(&s->wait_cond);
  uv_mutex_destroy(&s->wait_lock);
}

int tn_restart(tn_cluster *c, size_t i) {
  char addr[128];
  snprintf(addr, sizeof(addr), "%s", c->slots[i].addr);
  tn_stop(c, i);
  return slot_start(c, i, &c->opts, addr); /* same port, as a real restart */
}

int tn_new(tn_cluster **out, size_t count, const tn_opts *o) {
  if (count == 0 || count > TN_MAX) return TR_EINVAL;
  tn_cluster *c = calloc(1, sizeof(*c));
  if (!c) return TR_ENOMEM;
  c->count = count;
  if (o) c->opts = *o;
  uv_mutex_init(&c->ev_lock);
  snprintf(c->dir, sizeof(c->dir), "/tmp/troupe-tn-XXXXXX");
  int rc = TR_ESYS;
  if (!mkdtemp(c->dir) || pki_init(&c->pki) != 0) goto fail;
  if (c->opts.crl && pki_write_crl(&c->pki, c->dir, NULL, 0) != 0) goto fail;
  for (size_t i = 0; i < count; i++) {
    rc = slot_start(c, i, o, "127.0.0.1:0");
    if (rc != 0) goto fail;
  }
  *out = c;
  return 0;
fail:
  tn_free(c);
  return rc;
}

int tn_new_joined(tn_cluster **out, size_t count, const tn_opts *o,
                  uint32_t max_ms) {
  tn_cluster *c = NULL;
  int rc = tn_new(&c, count, o);
  if (rc != 0) return rc;
  if (tn_wait_alive(c, (int)count, max_ms) < 0) {
    tn_free(c);
    return TR_ETIMEDOUT;
  }
  *out = c;
  return 0;
}

void tn_free(tn_cluster *c) {
  if (!c) return;
  for (size_t i = c->count; i-- > 0;) tn_stop(c, i);
  pki_free(&c->pki);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
  if (c->dir[0] && system(cmd) != 0) fprintf(stderr, "tn: rm failed\n");
  uv_mutex_destroy(&c->ev_lock);
  free(c);
}

const char *tn_dir(tn_cluster *c) { return c->dir; }

int tn_write_client(tn_cluster *c, const char *name, int other_ca,
                    const char *role) {
  return pki_write_client_files(&c->pki, c->dir, name, name,
                                other_ca ? PKI_OTHER_CA : PKI_GOOD, role);
}

int tn_write_node_cert(tn_cluster *c, const char *name, int no_role) {
  return pki_write_node_files(&c->pki, c->dir, name,
                              no_role ? PKI_NO_ROLE : PKI_GOOD);
}

int tn_attacker(tn_cluster *c, const char *name, wc **out, tls_config **key) {
  int rc = tn_write_node_cert(c, name, 0);
  if (rc != 0) return rc;
  char ca[300], cert[300], keyf[300], err[256];
  snprintf(ca, sizeof(ca), "%s/ca.pem", c->dir);
  snprintf(cert, sizeof(cert), "%s/%s.pem", c->dir, name);
  snprintf(keyf, sizeof(keyf), "%s/%s.key", c->dir, name);
  wc_opts o = {.name = name, .ca_file = ca, .cert_file = cert,
               .key_file = keyf};
  if ((rc = wc_new(out, &o)) != 0) return rc;
  if (!key) return 0;
  tls_config_opts to = {.ca_file = ca, .cert_file = cert, .key_file = keyf};
  if ((rc = tls_config_new(key, &to, err, sizeof(err))) != 0) {
    wc_free(*out);
    *out = NULL;
  }
  return rc;
}

int tn_revoke(tn_cluster *c, const char *const *names, size_t n) {
  return pki_write_crl(&c->pki, c->dir, names, n);
}

static int do_reload_tls(tr_node *node, void *arg) {
  (void)arg;
  return tr_node_reload_tls(node);
}

int tn_reload_tls(tn_cluster *c, size_t i) {
  return tn_call(c, i, do_reload_tls, NULL);
}

typedef struct policy_arg {
  const char *text;
  char *err;
  size_t errlen;
} policy_arg;

static int do_set_policy(tr_node *node, void *arg) {
  policy_arg *a = arg;
  return tr_node_set_policy(node, a->text, a->err, a->errlen);
}

int tn_set_policy(tn_cluster *c, size_t i, const char *text, char *err,
                  size_t errlen) {
  policy_arg a = {text, err, errlen};
  return tn_call(c, i, do_set_policy, &a);
}

size_t tn_count(tn_cluster *c) { return c->count; }
const char *tn_name(tn_cluster *c, size_t i) { return c->slots[i].name; }
const char *tn_addr(tn_cluster *c, size_t i) { return c->slots[i].addr; }
