/* tnode.c — one cluster node process for the network-namespace tests
 * (cluster.sh, pubsub.sh, flap.sh): line commands on stdin, one timestamped event line per
 * happening on stdout. Uses the public API only (plus tests/support for the
 * `--gen-pki` mode that writes the certificates). */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "pki.h"
#include "troupe.h"

/* Commands (one per line on stdin; answers and events go to stdout):
 *   spawn ID                 an echo actor: answers asks, counts sends
 *   stop ID                  tr_node_stop_actor (on any node)
 *   send TO TEXT             from outside actors
 *   ask FROM TO TEXT         FROM (a local echo actor) asks TO -> `reply`
 *   monitor WATCHER TARGET   WATCHER monitors TARGET -> `down` when it ends
 *   members | stats | locate ID
 *   waitloc ID NODE|- MS     poll tr_node_locate every ms until it answers
 *                            NODE ("-": not found) -> `waitloc_start` (the
 *                            poll is armed), then `waitloc_ok` or
 *                            `waitloc_timeout` after MS
 *   quit                     tr_node_stop (graceful leave), then exit
 * Streams (flap.sh), one numbered message every MS through FROM's mailbox:
 *   askstream FROM TO N MS   FROM (a local echo actor) asks TO "1".."N";
 *                            one `askres FROM K status=` per answer (the
 *                            ask id maps the answer to K, so errors carry
 *                            no text), then `stream_done FROM sent=N`
 *   sendstream FROM TO N MS  FROM tr_sends "s1".."sN" to TO (seen as `recv`)
 * Pub/sub (TOPIC "-" is the default topic):
 *   publisher ID             an actor that publishes when told:
 *   pub ID TOPIC TEXT        ID publishes TEXT once -> `published`
 *   pubn ID TOPIC N          ID publishes "p0".."p<N-1>" in one turn ->
 *                            `published ... out n2=D ...`: envelopes_out
 *                            growth per peer link over exactly that turn
 *   subscriber ID PUB TOPIC [CAP] [quiet] [slow]
 *                            an actor subscribed to (PUB, TOPIC) with a
 *                            mailbox of CAP; prints `pub ID from= node=
 *                            topic= data=` per publish (quiet: counts only;
 *                            slow: spends 2 ms on each)
 *   sub ID PUB TOPIC | unsub ID PUB TOPIC   one more / one fewer (ID local)
 *   count ID                 -> `count ID n=` publishes ID received
 *   subs                     tr_node_subscriptions -> `sub ...` lines, then
 *                            `subs_end count=` (subscriber "-": another
 *                            node's interest in a local publisher)
 *   peer NAME                tr_node_peer_stats -> `peer NAME up= out= in=`
 * Every stdout line starts with the CLOCK_REALTIME time in ms, then the
 * event name, then fields; the test compares times across processes. */

#define CMD_PREFIX '\x01' /* marks a command for an echo actor, not a text */

typedef struct tnode {
  tr_node *node;
  uv_pipe_t in_pipe;
  uv_tty_t in_tty;
  uv_stream_t *in;
  char line[4096];
  size_t len;
} tnode;

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void event(const char *fmt, ...) {
  va_list ap;
  printf("%llu ", (unsigned long long)now_ms());
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

/* Node log lines go to stderr, which the test keeps as the node's log. */
static void log_line(void *user, tr_log_level level, const char *ev,
                     const char *fields) {
  static const char *names[] = {"?", "ERROR", "WARN", "INFO", "DEBUG"};
  fprintf(stderr, "%llu %s %s %s\n", (unsigned long long)now_ms(),
          names[level <= TR_LOG_DEBUG ? level : 0], ev, fields);
  fflush(stderr);
}

/* ---- the echo actor ------------------------------------------------------ */

typedef struct echo {
  uint64_t sends;
  uint64_t *ask_ids; /* askstream: ask_ids[k - 1] is the id of ask k */
  uint32_t nasks, cap;
} echo;

/* `askn TO K`: ask K of a stream; its id is kept to name the answer. */
static void echo_askn(tr_ctx *ctx, echo *s, const char *to, uint32_t k) {
  if (k > s->cap) {
    uint32_t cap = s->cap ? s->cap * 2 : 256;
    while (cap < k) cap *= 2;
    uint64_t *ids = realloc(s->ask_ids, cap * sizeof(*ids));
    if (!ids) {
      event("askres %s %u status=TR_ENOMEM ask_failed", tr_self(ctx), k);
      return;
    }
    memset(ids + s->cap, 0, (cap - s->cap) * sizeof(*ids));
    s->ask_ids = ids;
    s->cap = cap;
  }
  char text[16];
  int len = snprintf(text, sizeof(text), "%u", k);
  uint64_t id = 0;
  int rc = tr_ask(ctx, to, text, (size_t)len, 0, &id);
  if (rc != 0) {
    event("askres %s %u status=%s ask_failed", tr_self(ctx), k,
          tr_errname(rc));
    return;
  }
  s->ask_ids[k - 1] = id;
  if (k > s->nasks) s->nasks = k;
}

/* The stream number of a reply, or 0 when it answers no stream ask. */
static uint32_t echo_ask_number(const echo *s, uint64_t id) {
  for (uint32_t k = 0; k < s->nasks; k++)
    if (s->ask_ids[k] == id && id != 0) return k + 1;
  return 0;
}

/* `ask TO TEXT` or `monitor TARGET`, sent by the stdin reader. */
static void echo_command(tr_ctx *ctx, echo *s, const char *cmd) {
  char to[TR_ID_MAX + 1];
  unsigned k = 0;
  int off = 0;
  if (sscanf(cmd, "askn %255s %u", to, &k) == 2 && k > 0) {
    echo_askn(ctx, s, to, k);
    return;
  }
  if (sscanf(cmd, "sendn %255s %u", to, &k) == 2) {
    char text[16];
    int len = snprintf(text, sizeof(text), "s%u", k);
    int rc = tr_send(ctx, to, text, (size_t)len);
    if (rc != 0)
      event("sendres %s %u rc=%s", tr_self(ctx), k, tr_errname(rc));
    return;
  }
  if (sscanf(cmd, "ask %255s %n", to, &off) == 1 && off > 0) {
    const char *text = cmd + off;
    uint64_t id = 0;
    int rc = tr_ask(ctx, to, text, strlen(text), 0, &id);
    if (rc != 0)
      event("reply %s %s status=%s ask_failed", tr_self(ctx), to,
            tr_errname(rc));
    return;
  }
  if (sscanf(cmd, "monitor %255s", to) == 1) {
    int rc = tr_monitor(ctx, to);
    event("monitoring %s %s rc=%s", tr_self(ctx), to, tr_errname(rc));
    return;
  }
  event("error bad_actor_command %s", cmd);
}

static int echo_receive(tr_ctx *ctx, void *state, const tr_envelope *e) {
  echo *s = state;
  const char *data = e->data;
  int len = (int)e->len;
  const char *from = e->sender ? e->sender : "-";
  const char *node = e->node ? e->node : "-";
  switch (e->type) {
  case TR_MSG_SEND:
    if (len > 0 && data[0] == CMD_PREFIX) {
      char cmd[1024];
      snprintf(cmd, sizeof(cmd), "%.*s", len - 1, data + 1);
      echo_command(ctx, s, cmd);
      break;
    }
    s->sends++;
    event("recv %s from=%s node=%s n=%llu %.*s", tr_self(ctx), from, node,
          (unsigned long long)s->sends, len, data);
    break;
  case TR_MSG_ASK: {
    int rc = tr_reply(ctx, e, data, e->len);
    event("asked %s from=%s node=%s rc=%s %.*s", tr_self(ctx), from, node,
          tr_errname(rc), len, data);
    break;
  }
  case TR_MSG_REPLY: {
    uint32_t k = echo_ask_number(s, e->ask_id);
    if (k > 0)
      event("askres %s %u status=%s node=%s %.*s", tr_self(ctx), k,
            tr_errname(e->status), node, len, data);
    else
      event("reply %s %s status=%s node=%s %.*s", tr_self(ctx), from,
            tr_errname(e->status), node, len, data);
    break;
  }
  case TR_MSG_DOWN:
    event("down %s %s reason=%s node=%s", tr_self(ctx), from,
          tr_errname(e->status), node);
    break;
  default:
    event("other %s type=%d from=%s", tr_self(ctx), (int)e->type, from);
    break;
  }
  return 0;
}

static void echo_deinit(tr_ctx *ctx, void *state) {
  event("actor_stop %s", tr_self(ctx));
}

static void echo_free(tr_ctx *ctx, void *state) {
  echo *s = state;
  free(s->ask_ids);
  echo_deinit(ctx, state);
}

static const tr_actor_type echo_type = {.name = "echo",
                                        .state_size = sizeof(echo),
                                        .receive = echo_receive,
                                        .deinit = echo_free};

/* ---- publisher and subscriber actors -------------------------------------- */

static const char *topic_arg(const char *t) { return strcmp(t, "-") ? t : ""; }
static const char *topic_name(const char *t) { return t[0] ? t : "-"; }

/* envelopes_out of every peer link, to compare before and after a turn. */
typedef struct peer_outs {
  int n;
  char name[16][TR_ID_MAX + 1];
  uint64_t out[16];
} peer_outs;

static void peer_out_add(void *arg, const char *peer, const tr_peer_stats *ps) {
  peer_outs *po = arg;
  if (po->n == 16) return;
  snprintf(po->name[po->n], sizeof(po->name[0]), "%s", peer);
  po->out[po->n++] = ps->envelopes_out;
}

/* `pub TOPIC TEXT` or `pubn TOPIC N`, sent by the stdin reader. */
static void publisher_command(tr_ctx *ctx, const char *cmd) {
  char topic[TR_ID_MAX + 1];
  unsigned n = 0;
  int off = 0;
  if (strncmp(cmd, "pub ", 4) == 0 &&
      sscanf(cmd, "pub %255s %n", topic, &off) == 1 && off > 0) {
    const char *text = cmd + off;
    int rc = tr_publish_topic(ctx, topic_arg(topic), text, strlen(text));
    event("published %s topic=%s n=1 reached=%d", tr_self(ctx), topic, rc);
    return;
  }
  if (sscanf(cmd, "pubn %255s %u", topic, &n) == 2) {
    /* Nothing else runs on the loop during this turn, so the growth of each
     * link's envelopes_out is what these publishes queued, nothing more. */
    peer_outs before = {0}, after = {0};
    tr_node_peers(tr_node_of(ctx), peer_out_add, &before);
    int reached = 0, rc = 0;
    for (unsigned i = 0; i < n && rc >= 0; i++) {
      char msg[32];
      int len = snprintf(msg, sizeof(msg), "p%u", i);
      rc = tr_publish_topic(ctx, topic_arg(topic), msg, (size_t)len);
      if (rc > 0) reached += rc;
    }
    tr_node_peers(tr_node_of(ctx), peer_out_add, &after);
    char outs[1024];
    size_t o = 0;
    outs[0] = '\0';
    for (int a = 0; a < after.n && o < sizeof(outs); a++) {
      uint64_t b0 = 0;
      for (int b = 0; b < before.n; b++)
        if (strcmp(before.name[b], after.name[a]) == 0) b0 = before.out[b];
      o += (size_t)snprintf(outs + o, sizeof(outs) - o, " %s=%llu",
                            after.name[a],
                            (unsigned long long)(after.out[a] - b0));
    }
    event("published %s topic=%s n=%u reached=%d rc=%s out%s", tr_self(ctx),
          topic, n, reached, tr_errname(rc < 0 ? rc : 0), outs);
    return;
  }
  event("error bad_publisher_command %s", cmd);
}

static int publisher_receive(tr_ctx *ctx, void *state, const tr_envelope *e) {
  if (e->type == TR_MSG_SEND && e->len > 0 &&
      ((const char *)e->data)[0] == CMD_PREFIX) {
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%.*s", (int)e->len - 1,
             (const char *)e->data + 1);
    publisher_command(ctx, cmd);
  }
  return 0;
}

static const tr_actor_type publisher_type = {.name = "publisher",
                                             .receive = publisher_receive,
                                             .deinit = echo_deinit};

typedef struct sub_arg {
  const char *pub, *topic;
  int quiet, slow;
} sub_arg;

typedef struct subscriber {
  int quiet, slow;
  uint64_t count;
} subscriber;

static int subscriber_init(tr_ctx *ctx, void *state, const void *arg) {
  const sub_arg *a = arg;
  subscriber *s = state;
  s->quiet = a->quiet;
  s->slow = a->slow;
  int rc = tr_subscribe_topic(ctx, a->pub, topic_arg(a->topic));
  if (!s->quiet || rc != 0)
    event("subscribed %s %s topic=%s rc=%s", tr_self(ctx), a->pub, a->topic,
          tr_errname(rc));
  return rc;
}

/* `sub PUB TOPIC`, `unsub PUB TOPIC` or `count`, from the stdin reader. */
static void subscriber_command(tr_ctx *ctx, subscriber *s, const char *cmd) {
  char pub[TR_ID_MAX + 1], topic[TR_ID_MAX + 1];
  if (sscanf(cmd, "sub %255s %255s", pub, topic) == 2) {
    int rc = tr_subscribe_topic(ctx, pub, topic_arg(topic));
    event("subscribed %s %s topic=%s rc=%s", tr_self(ctx), pub, topic,
          tr_errname(rc));
  } else if (sscanf(cmd, "unsub %255s %255s", pub, topic) == 2) {
    int rc = tr_unsubscribe_topic(ctx, pub, topic_arg(topic));
    event("unsubscribed %s %s topic=%s rc=%s", tr_self(ctx), pub, topic,
          tr_errname(rc));
  } else if (strcmp(cmd, "count") == 0) {
    event("count %s n=%llu", tr_self(ctx), (unsigned long long)s->count);
  } else {
    event("error bad_subscriber_command %s", cmd);
  }
}

static int subscriber_receive(tr_ctx *ctx, void *state, const tr_envelope *e) {
  subscriber *s = state;
  if (e->type == TR_MSG_SEND && e->len > 0 &&
      ((const char *)e->data)[0] == CMD_PREFIX) {
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%.*s", (int)e->len - 1,
             (const char *)e->data + 1);
    subscriber_command(ctx, s, cmd);
    return 0;
  }
  if (e->type != TR_MSG_PUBLISH) {
    event("other %s type=%d", tr_self(ctx), (int)e->type);
    return 0;
  }
  s->count++;
  if (s->slow) {
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
  }
  if (!s->quiet)
    event("pub %s from=%s node=%s topic=%s data=%.*s", tr_self(ctx),
          e->sender ? e->sender : "-", e->node ? e->node : "-",
          topic_name(e->topic ? e->topic : ""), (int)e->len,
          (const char *)e->data);
  return 0;
}

static const tr_actor_type subscriber_type = {.name = "subscriber",
                                              .state_size = sizeof(subscriber),
                                              .init = subscriber_init,
                                              .receive = subscriber_receive};

/* ---- the membership watcher ---------------------------------------------- */

static int watch_init(tr_ctx *ctx, void *state, const void *arg) {
  return tr_subscribe(ctx, TR_SYSTEM_PUBLISHER);
}

static int watch_receive(tr_ctx *ctx, void *state, const tr_envelope *e) {
  const char *name = e->len ? (const char *)e->data : "?";
  if (e->len && name[e->len - 1] != '\0') name = "(not-nul-terminated)";
  if (e->type == TR_MSG_NODE_UP)
    event("node_up %s status=%s", name, tr_errname(e->status));
  else if (e->type == TR_MSG_NODE_DOWN)
    event("node_down %s reason=%s", name, tr_errname(e->status));
  else
    event("watch_other type=%d", (int)e->type);
  return 0;
}

static const tr_actor_type watch_type = {.name = "watch",
                                         .init = watch_init,
                                         .receive = watch_receive};

/* ---- timed tasks (waitloc, streams) ---------------------------------------- */

/* A task is a calloc'd struct whose timer calls it back; the timer's data
 * is the task, freed once the timer is closed. */
static void task_closed(uv_handle_t *h) { free(h->data); }

static void task_start(tnode *t, uv_timer_t *timer, void *task, uv_timer_cb cb,
                       uint64_t repeat_ms) {
  uv_timer_init(tr_node_loop(t->node), timer);
  timer->data = task;
  uv_timer_start(timer, cb, 0, repeat_ms);
}

static void task_end(uv_timer_t *timer) {
  uv_timer_stop(timer);
  uv_close((uv_handle_t *)timer, task_closed);
}

/* ---- waitloc: poll the registry every millisecond ------------------------- */

typedef struct waitloc {
  uv_timer_t timer;
  tnode *t;
  char id[TR_ID_MAX + 1], want[TR_ID_MAX + 1];
  uint64_t start, deadline;
} waitloc;

static void waitloc_tick(uv_timer_t *timer) {
  waitloc *w = timer->data;
  char got[TR_ID_MAX + 1];
  int rc = tr_node_locate(w->t->node, w->id, got, sizeof(got));
  if (rc != 0) snprintf(got, sizeof(got), "-");
  uint64_t now = now_ms();
  if (strcmp(got, w->want) == 0)
    event("waitloc_ok %s %s waited_ms=%llu", w->id, got,
          (unsigned long long)(now - w->start));
  else if (now >= w->deadline)
    event("waitloc_timeout %s want=%s got=%s", w->id, w->want, got);
  else
    return;
  task_end(timer);
}

static void waitloc_start(tnode *t, const char *id, const char *want,
                          unsigned ms) {
  waitloc *w = calloc(1, sizeof(*w));
  if (!w) {
    event("error waitloc_nomem");
    return;
  }
  w->t = t;
  snprintf(w->id, sizeof(w->id), "%s", id);
  snprintf(w->want, sizeof(w->want), "%s", want);
  w->start = now_ms();
  w->deadline = w->start + ms;
  task_start(t, &w->timer, w, waitloc_tick, 1);
  event("waitloc_start %s want=%s", w->id, w->want);
}

/* ---- askstream / sendstream: one numbered message every interval ---------- */

static void to_actor(tnode *t, const char *actor, const char *rest);

typedef struct stream {
  uv_timer_t timer;
  tnode *t;
  const char *verb; /* "askn" or "sendn", for the echo actor */
  char from[TR_ID_MAX + 1], to[TR_ID_MAX + 1];
  uint32_t next, n;
} stream;

static void stream_tick(uv_timer_t *timer) {
  stream *st = timer->data;
  char rest[TR_ID_MAX + 32];
  snprintf(rest, sizeof(rest), "%s %s %u", st->verb, st->to, st->next);
  to_actor(st->t, st->from, rest);
  if (st->next++ < st->n) return;
  event("stream_done %s sent=%u", st->from, st->n);
  task_end(timer);
}

static void stream_start(tnode *t, const char *verb, const char *from,
                         const char *to, unsigned n, unsigned ms) {
  stream *st = calloc(1, sizeof(*st));
  if (!st || n == 0) {
    free(st);
    event("error stream_start");
    return;
  }
  st->t = t;
  st->verb = verb;
  snprintf(st->from, sizeof(st->from), "%s", from);
  snprintf(st->to, sizeof(st->to), "%s", to);
  st->next = 1;
  st->n = n;
  task_start(t, &st->timer, st, stream_tick, ms ? ms : 1);
}

/* ---- commands -------------------------------------------------------------- */

typedef struct members_line {
  char out[8192];
  size_t off;
} members_line;

static void members_add(void *arg, const tr_member *m) {
  members_line *l = arg;
  if (l->off >= sizeof(l->out)) return;
  l->off += (size_t)snprintf(l->out + l->off, sizeof(l->out) - l->off,
                             " %s=%s/%llu/%u", m->name,
                             tr_member_state_name(m->state),
                             (unsigned long long)m->epoch, m->incarnation);
}

static void cmd_members(tnode *t) {
  members_line l = {.off = 0};
  l.out[0] = '\0';
  int n = tr_node_members(t->node, members_add, &l);
  event("members count=%d%s", n, l.out);
}

static void cmd_stats(tnode *t) {
  tr_cluster_stats c;
  int rc = tr_node_cluster_stats(t->node, &c);
  if (rc != 0) {
    event("stats rc=%s", tr_errname(rc));
    return;
  }
  tr_node_stats s;
  tr_node_stats_get(t->node, &s);
  event("stats alive=%u suspect=%u dead=%u left=%u registry_ids=%llu "
        "probes=%llu suspicions=%llu deaths=%llu refutations=%llu "
        "conflicts_lost=%llu local_health=%u remote_sent=%llu "
        "remote_received=%llu rejected=%llu stale=%llu undeliverable=%llu "
        "actors=%llu",
        c.alive, c.suspect, c.dead, c.left,
        (unsigned long long)c.registry_ids, (unsigned long long)c.probes,
        (unsigned long long)c.suspicions, (unsigned long long)c.deaths,
        (unsigned long long)c.refutations,
        (unsigned long long)c.conflicts_lost, c.local_health,
        (unsigned long long)c.remote_sent,
        (unsigned long long)c.remote_received,
        (unsigned long long)c.rejected, (unsigned long long)c.stale_updates,
        (unsigned long long)c.undeliverable,
        (unsigned long long)s.actors);
}

static void print_sub(void *arg, const tr_sub_info *si) {
  event("sub pub=%s topic=%s subscriber=%s node=%s delivered=%llu "
        "dropped=%llu",
        si->publisher, topic_name(si->topic),
        si->subscriber ? si->subscriber : "-", si->node,
        (unsigned long long)si->delivered, (unsigned long long)si->dropped);
}

static void cmd_peer(tnode *t, const char *peer) {
  tr_peer_stats ps;
  int rc = tr_node_peer_stats(t->node, peer, &ps);
  if (rc != 0) {
    event("peer %s rc=%s", peer, tr_errname(rc));
    return;
  }
  event("peer %s up=%d out=%llu in=%llu queued=%u", peer, ps.up,
        (unsigned long long)ps.envelopes_out,
        (unsigned long long)ps.envelopes_in, ps.queued);
}

/* `subscriber ID PUB TOPIC [CAP] [quiet] [slow]` */
static void cmd_subscriber(tnode *t, const char *args) {
  char id[TR_ID_MAX + 1], pub[TR_ID_MAX + 1], topic[TR_ID_MAX + 1];
  int off = 0;
  if (sscanf(args, "%255s %255s %255s%n", id, pub, topic, &off) != 3) {
    event("error usage subscriber ID PUB TOPIC [CAP] [quiet] [slow]");
    return;
  }
  sub_arg a = {.pub = pub, .topic = topic};
  tr_spawn_opts o = {.id = id, .arg = &a};
  char rest[256];
  snprintf(rest, sizeof(rest), "%s", args + off);
  for (char *w = strtok(rest, " "); w; w = strtok(NULL, " ")) {
    if (strcmp(w, "quiet") == 0) a.quiet = 1;
    else if (strcmp(w, "slow") == 0) a.slow = 1;
    else o.capacity = (uint32_t)strtoul(w, NULL, 10);
  }
  int rc = tr_node_spawn(t->node, &subscriber_type, &o);
  event("spawned %s rc=%s", id, tr_errname(rc));
}

/* Hands `CMD_PREFIX rest` to the local actor `actor` (echo, publisher or
 * subscriber). */
static void to_actor(tnode *t, const char *actor, const char *rest) {
  char msg[1100];
  int n = snprintf(msg, sizeof(msg), "%c%s", CMD_PREFIX, rest);
  int rc = tr_node_send(t->node, actor, msg, (size_t)n);
  if (rc != 0) event("error to_actor %s rc=%s", actor, tr_errname(rc));
}

static void run_command(tnode *t, char *line) {
  char a[TR_ID_MAX + 1], b[TR_ID_MAX + 1];
  unsigned ms = 0, n = 0;
  int off = 0;
  if (line[0] == '\0' || line[0] == '#') return;
  if (sscanf(line, "askstream %255s %255s %u %u", a, b, &n, &ms) == 4) {
    /* before "ask" and "send": their patterns match these lines too */
    stream_start(t, "askn", a, b, n, ms);
  } else if (sscanf(line, "sendstream %255s %255s %u %u", a, b, &n, &ms) ==
             4) {
    stream_start(t, "sendn", a, b, n, ms);
  } else if (sscanf(line, "spawn %255s", a) == 1) {
    tr_spawn_opts o = {.id = a};
    int rc = tr_node_spawn(t->node, &echo_type, &o);
    event("spawned %s rc=%s", a, tr_errname(rc));
  } else if (sscanf(line, "stop %255s", a) == 1) {
    event("stopping %s rc=%s", a,
          tr_errname(tr_node_stop_actor(t->node, a)));
  } else if (sscanf(line, "send %255s %n", a, &off) == 1 && off > 0) {
    int rc = tr_node_send(t->node, a, line + off, strlen(line + off));
    event("sent %s rc=%s", a, tr_errname(rc));
  } else if (sscanf(line, "ask %255s %n", a, &off) == 1 && off > 0) {
    char rest[1024];
    snprintf(rest, sizeof(rest), "ask %s", line + off); /* "TO TEXT" */
    to_actor(t, a, rest);
  } else if (sscanf(line, "monitor %255s %255s", a, b) == 2) {
    char rest[TR_ID_MAX + 16];
    snprintf(rest, sizeof(rest), "monitor %s", b);
    to_actor(t, a, rest);
  } else if (strcmp(line, "members") == 0) {
    cmd_members(t);
  } else if (strcmp(line, "stats") == 0) {
    cmd_stats(t);
  } else if (sscanf(line, "locate %255s", a) == 1) {
    char node[TR_ID_MAX + 1];
    int rc = tr_node_locate(t->node, a, node, sizeof(node));
    event("locate %s %s rc=%s", a, rc == 0 ? node : "-", tr_errname(rc));
  } else if (sscanf(line, "waitloc %255s %255s %u", a, b, &ms) == 3) {
    waitloc_start(t, a, b, ms);
  } else if (sscanf(line, "publisher %255s", a) == 1) { /* before "pub" */
    tr_spawn_opts o = {.id = a};
    event("spawned %s rc=%s", a,
          tr_errname(tr_node_spawn(t->node, &publisher_type, &o)));
  } else if (strncmp(line, "subscriber ", 11) == 0) { /* before "sub" */
    cmd_subscriber(t, line + 11);
  } else if (sscanf(line, "pubn %255s %n", a, &off) == 1 && off > 0) {
    char rest[1100];
    snprintf(rest, sizeof(rest), "pubn %s", line + off); /* "TOPIC N" */
    to_actor(t, a, rest);
  } else if (sscanf(line, "pub %255s %n", a, &off) == 1 && off > 0) {
    char rest[1100];
    snprintf(rest, sizeof(rest), "pub %s", line + off); /* "TOPIC TEXT" */
    to_actor(t, a, rest);
  } else if (strcmp(line, "subs") == 0) {
    event("subs_end count=%d",
          tr_node_subscriptions(t->node, print_sub, NULL));
  } else if (sscanf(line, "sub %255s %n", a, &off) == 1 && off > 0) {
    char rest[1100];
    snprintf(rest, sizeof(rest), "sub %s", line + off); /* "PUB TOPIC" */
    to_actor(t, a, rest);
  } else if (sscanf(line, "unsub %255s %n", a, &off) == 1 && off > 0) {
    char rest[1100];
    snprintf(rest, sizeof(rest), "unsub %s", line + off);
    to_actor(t, a, rest);
  } else if (sscanf(line, "count %255s", a) == 1) {
    to_actor(t, a, "count");
  } else if (sscanf(line, "peer %255s", a) == 1) {
    cmd_peer(t, a);
  } else if (strcmp(line, "quit") == 0) {
    event("quitting");
    tr_node_stop(t->node);
  } else {
    event("error unknown_command %s", line);
  }
}

/* ---- stdin through the node's loop ----------------------------------------- */

static void in_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  tnode *t = h->data;
  buf->base = t->line + t->len;
  buf->len = sizeof(t->line) - 1 - t->len;
}

static void in_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  tnode *t = s->data;
  if (nread < 0) {
    /* EOF: keep running; the test ends the process with quit or a signal. */
    event("stdin_closed %s", uv_err_name((int)nread));
    uv_read_stop(s);
    return;
  }
  t->len += (size_t)nread;
  size_t start = 0;
  for (size_t i = 0; i < t->len; i++) {
    if (t->line[i] != '\n') continue;
    t->line[i] = '\0';
    if (i > start && t->line[i - 1] == '\r') t->line[i - 1] = '\0';
    run_command(t, t->line + start);
    start = i + 1;
  }
  memmove(t->line, t->line + start, t->len - start);
  t->len -= start;
  if (t->len == sizeof(t->line) - 1) t->len = 0; /* an overlong line: drop */
}

static int stdin_open(tnode *t) {
  uv_loop_t *loop = tr_node_loop(t->node);
  int rc;
  if (uv_guess_handle(0) == UV_TTY) {
    rc = uv_tty_init(loop, &t->in_tty, 0, 1);
    if (rc == 0) t->in = (uv_stream_t *)&t->in_tty;
  } else {
    rc = uv_pipe_init(loop, &t->in_pipe, 0);
    if (rc == 0) t->in = (uv_stream_t *)&t->in_pipe;
    if (rc == 0) rc = uv_pipe_open(&t->in_pipe, 0);
  }
  if (rc != 0) return rc;
  t->in->data = t;
  return uv_read_start(t->in, in_alloc, in_read);
}

static void stdin_close(tnode *t) {
  if (t->in && !uv_is_closing((uv_handle_t *)t->in))
    uv_close((uv_handle_t *)t->in, NULL);
}

/* ---- main ------------------------------------------------------------------ */

static int gen_pki(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: tnode --gen-pki DIR NAME...\n");
    return 2;
  }
  test_pki pki;
  int rc = pki_init(&pki);
  for (int i = 3; rc == 0 && i < argc; i++)
    rc = pki_write_files(&pki, argv[2], argv[i]);
  pki_free(&pki);
  if (rc != 0) fprintf(stderr, "tnode: writing certificates failed\n");
  return rc == 0 ? 0 : 1;
}

static void usage(void) {
  fprintf(stderr,
          "usage: tnode --name N --listen H:P [--advertise H:P] [--seeds "
          "H:P,H:P] --ca F --cert F --key F\n"
          "             [--probe-interval MS] [--probe-timeout MS] "
          "[--suspicion-mult K] [--log-level 1-4]\n"
          "       tnode --gen-pki DIR NAME...\n");
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "--gen-pki") == 0) return gen_pki(argc, argv);
  /* libuv writes to sockets with write(2): a peer that vanished would kill
   * the process with SIGPIPE instead of failing the write. */
  signal(SIGPIPE, SIG_IGN);
  tr_node_config cfg = {.log = log_line, .log_level = TR_LOG_WARN};
  const char *seeds[16];
  char *seed_list = NULL;
  for (int i = 1; i < argc; i++) {
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      usage();
      return 2;
    }
    i++;
    if (strcmp(k, "--name") == 0) cfg.name = v;
    else if (strcmp(k, "--listen") == 0) cfg.listen = v;
    else if (strcmp(k, "--advertise") == 0) cfg.advertise = v;
    else if (strcmp(k, "--ca") == 0) cfg.ca_file = v;
    else if (strcmp(k, "--cert") == 0) cfg.cert_file = v;
    else if (strcmp(k, "--key") == 0) cfg.key_file = v;
    else if (strcmp(k, "--probe-interval") == 0) cfg.probe_interval_ms = (uint32_t)atoi(v);
    else if (strcmp(k, "--probe-timeout") == 0) cfg.probe_timeout_ms = (uint32_t)atoi(v);
    else if (strcmp(k, "--suspicion-mult") == 0) cfg.suspicion_mult = (uint32_t)atoi(v);
    else if (strcmp(k, "--log-level") == 0) cfg.log_level = (tr_log_level)atoi(v);
    else if (strcmp(k, "--seeds") == 0) {
      free(seed_list);
      seed_list = strdup(v);
      cfg.nseeds = 0;
      for (char *s = strtok(seed_list, ","); s && cfg.nseeds < 16;
           s = strtok(NULL, ","))
        seeds[cfg.nseeds++] = s;
      cfg.seeds = seeds;
    } else {
      usage();
      free(seed_list);
      return 2;
    }
  }

  tnode t = {0};
  int rc = tr_node_new(&t.node, &cfg);
  if (rc != 0) {
    event("error node_new rc=%s", tr_errname(rc));
    free(seed_list);
    return 1;
  }
  /* The watcher's id must be unique in the cluster: one per node name. */
  char watch_id[TR_ID_MAX + 1];
  snprintf(watch_id, sizeof(watch_id), "watch@%s", tr_node_name(t.node));
  tr_spawn_opts wo = {.id = watch_id};
  rc = tr_node_spawn(t.node, &watch_type, &wo);
  if (rc == 0) rc = stdin_open(&t);
  if (rc != 0) {
    event("error start rc=%d", rc);
    stdin_close(&t);
    tr_node_free(t.node);
    free(seed_list);
    return 1;
  }
  event("ready %s listen=%s advertise=%s", tr_node_name(t.node),
        cfg.listen ? cfg.listen : "-", cfg.advertise ? cfg.advertise : "-");
  rc = tr_node_run(t.node);
  stdin_close(&t);
  tr_node_free(t.node);
  event("bye rc=%s", tr_errname(rc));
  free(seed_list);
  return 0;
}
