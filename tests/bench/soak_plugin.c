/* soak_plugin.c — the actors of the soak benchmark (tests/bench/soak.sh),
 * each checking what the runtime promises by sequence numbers:
 *   producer ARG "SINK,SINK...:PER_TICK"  every 10 ms sends PER_TICK
 *            numbered messages to each sink (waiting on TR_MSG_WRITABLE
 *            after TR_EFULL, skipping a sink that is unreachable), asks
 *            one sink (the reply must echo the question) and publishes a
 *            numbered message on topic "soak";
 *   sink     checks each producer's stream (one per producer start): no
 *            duplicate, nothing out of order, no gap;
 *   listener ARG "PRODUCER,PRODUCER..." subscribes to their "soak" topic:
 *            no duplicate, nothing out of order (a publish may be missed
 *            when a mailbox or link is full: counted, not a fault);
 *   churner  spawns a short-lived actor every 20 ms and stops the oldest,
 *            ten alive at a time (registry churn across the cluster).
 * Each prints its cumulative counters once a second:
 *   soak sink sink-n1 received=... dup=0 gap=0 reorder=0 streams=...
 * A stream starts where the sink first hears it: a sink that restarts,
 * or a producer that restarts (a new start stamp), begins a new stream,
 * so a killed node's messages in flight are not counted as gaps. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "troupe_plugin.h"

TR_PLUGIN_DECLARE;

#define SOAK_MAX_PEERS 8
#define SOAK_STREAMS 64
#define SOAK_TICK_MS 10

typedef struct soak_msg {
  uint64_t start; /* the producer's start stamp: one per process run */
  uint64_t seq;   /* from 1, per (producer, destination) */
  char from[64];  /* the producer's id */
} soak_msg;

static uint64_t start_stamp(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Splits "a,b,c" into up to SOAK_MAX_PEERS ids. */
static int split_ids(const char *s, size_t len, char ids[][64]) {
  int n = 0;
  const char *end = s + len;
  while (s < end && n < SOAK_MAX_PEERS) {
    const char *c = memchr(s, ',', (size_t)(end - s));
    size_t l = (size_t)((c ? c : end) - s);
    if (l && l < 64) {
      memcpy(ids[n], s, l);
      ids[n++][l] = '\0';
    }
    s = c ? c + 1 : end;
  }
  return n;
}

/* ---- producer ---------------------------------------------------------------- */

typedef struct {
  char sinks[SOAK_MAX_PEERS][64];
  uint64_t next[SOAK_MAX_PEERS]; /* seq of the next message to each sink */
  int waiting[SOAK_MAX_PEERS];   /* a TR_EFULL: until TR_MSG_WRITABLE */
  int nsinks;
  uint32_t per_tick;
  uint64_t start, pub_seq, ask_seq;
  uint64_t sent, full, unreachable, asks, asks_ok, asks_failed, bad_replies;
  uint64_t published;
} producer_state;

static int producer_init(tr_ctx *ctx, void *st, const void *arg) {
  producer_state *s = st;
  const char *a = arg ? arg : "";
  const char *colon = strrchr(a, ':');
  s->nsinks = split_ids(a, colon ? (size_t)(colon - a) : strlen(a), s->sinks);
  s->per_tick = colon ? (uint32_t)strtoul(colon + 1, NULL, 10) : 10;
  if (!s->nsinks || !s->per_tick || s->per_tick > 10000) {
    fprintf(stderr, "producer: want ARG SINK,SINK...:PER_TICK\n");
    return TR_EINVAL;
  }
  s->start = start_stamp();
  for (int i = 0; i < s->nsinks; i++) s->next[i] = 1;
  int rc = tr_send_every(ctx, SOAK_TICK_MS, tr_self(ctx), "t", 1, NULL);
  if (rc == 0) rc = tr_send_every(ctx, 1000, tr_self(ctx), "r", 1, NULL);
  return rc;
}

static void producer_fill(tr_ctx *ctx, producer_state *s, int i) {
  soak_msg m = {.start = s->start};
  snprintf(m.from, sizeof(m.from), "%s", tr_self(ctx));
  for (uint32_t k = 0; k < s->per_tick && !s->waiting[i]; k++) {
    m.seq = s->next[i];
    int rc = tr_send(ctx, s->sinks[i], &m, sizeof(m));
    if (rc == 0) {
      s->next[i]++;
      s->sent++;
    } else if (rc == TR_EFULL) {
      s->full++;
      s->waiting[i] = tr_send_notify(ctx, s->sinks[i]) == 0;
    } else { /* its node is down, or it is not there (yet): next tick */
      s->unreachable++;
      return;
    }
  }
}

static void producer_tick(tr_ctx *ctx, producer_state *s) {
  for (int i = 0; i < s->nsinks; i++) producer_fill(ctx, s, i);
  /* One ask a tick, to the sinks in turn; the reply must echo it. */
  int i = (int)(s->ask_seq % (uint64_t)s->nsinks);
  uint64_t q = ++s->ask_seq;
  s->asks++;
  if (tr_ask(ctx, s->sinks[i], &q, sizeof(q), 2000, NULL) != 0)
    s->asks_failed++;
  soak_msg p = {.start = s->start, .seq = ++s->pub_seq};
  snprintf(p.from, sizeof(p.from), "%s", tr_self(ctx));
  if (tr_publish_topic(ctx, "soak", &p, sizeof(p)) >= 0) s->published++;
}

static int producer_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  producer_state *s = st;
  switch (env->type) {
  case TR_MSG_SEND:
    if (env->len == 1 && ((const char *)env->data)[0] == 't') {
      producer_tick(ctx, s);
    } else if (env->len == 1) {
      printf("soak producer %s sent=%" PRIu64 " full=%" PRIu64
             " unreachable=%" PRIu64 " asks=%" PRIu64 " asks_ok=%" PRIu64
             " asks_failed=%" PRIu64 " bad_replies=%" PRIu64
             " published=%" PRIu64 "\n",
             tr_self(ctx), s->sent, s->full, s->unreachable, s->asks,
             s->asks_ok, s->asks_failed, s->bad_replies, s->published);
      fflush(stdout);
    }
    return 0;
  case TR_MSG_WRITABLE:
    for (int i = 0; i < s->nsinks; i++)
      if (env->sender && strcmp(env->sender, s->sinks[i]) == 0) {
        s->waiting[i] = 0;
        if (env->status == 0) producer_fill(ctx, s, i);
      }
    return 0;
  case TR_MSG_REPLY:
    if (env->status != 0) {
      s->asks_failed++; /* its node died, or it was not there: allowed */
    } else if (env->len != sizeof(uint64_t)) {
      s->bad_replies++;
    } else {
      s->asks_ok++;
    }
    return 0;
  default:
    return 0;
  }
}

/* ---- sink and listener: streams by (producer, start) -------------------------- */

typedef struct stream {
  char from[64];
  uint64_t start, last;
} stream;

typedef struct {
  stream streams[SOAK_STREAMS];
  int nstreams;
  uint64_t received, dup, gap, reorder, missed;
  bool listener;
} checker_state;

static stream *stream_of(checker_state *s, const soak_msg *m) {
  for (int i = 0; i < s->nstreams; i++)
    if (s->streams[i].start == m->start &&
        strncmp(s->streams[i].from, m->from, sizeof(m->from)) == 0)
      return &s->streams[i];
  /* A new start of that producer replaces its old stream. */
  stream *t = NULL;
  for (int i = 0; i < s->nstreams && !t; i++)
    if (strncmp(s->streams[i].from, m->from, sizeof(m->from)) == 0)
      t = &s->streams[i];
  if (!t) t = &s->streams[s->nstreams < SOAK_STREAMS ? s->nstreams++ : 0];
  memcpy(t->from, m->from, sizeof(t->from));
  t->from[sizeof(t->from) - 1] = '\0';
  t->start = m->start;
  t->last = m->seq - 1; /* it begins where this sink first hears it */
  return t;
}

static void check(checker_state *s, const soak_msg *m) {
  stream *t = stream_of(s, m);
  s->received++;
  if (m->seq == t->last + 1) {
    t->last = m->seq;
  } else if (m->seq == t->last) {
    s->dup++;
  } else if (m->seq < t->last) {
    s->reorder++; /* from before the last one (or a duplicate of it) */
  } else if (s->listener) {
    s->missed += m->seq - t->last - 1; /* publishes may be missed */
    t->last = m->seq;
  } else {
    s->gap++;
    t->last = m->seq;
  }
}

static int checker_init(tr_ctx *ctx, void *st, bool listener,
                        const void *arg) {
  checker_state *s = st;
  s->listener = listener;
  if (listener) {
    const char *a = arg ? arg : "";
    char peers[SOAK_MAX_PEERS][64];
    int n = split_ids(a, strlen(a), peers);
    for (int i = 0; i < n; i++) {
      int rc = tr_subscribe_topic(ctx, peers[i], "soak");
      if (rc != 0) return rc;
    }
  }
  return tr_send_every(ctx, 1000, tr_self(ctx), "r", 1, NULL);
}

static int sink_init(tr_ctx *ctx, void *st, const void *arg) {
  return checker_init(ctx, st, false, arg);
}

static int listener_init(tr_ctx *ctx, void *st, const void *arg) {
  return checker_init(ctx, st, true, arg);
}

static int checker_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  checker_state *s = st;
  if (env->type == TR_MSG_ASK) {
    tr_reply(ctx, env, env->data, env->len);
  } else if ((env->type == TR_MSG_SEND || env->type == TR_MSG_PUBLISH) &&
             env->len == sizeof(soak_msg)) {
    soak_msg m;
    memcpy(&m, env->data, sizeof(m));
    m.from[sizeof(m.from) - 1] = '\0';
    check(s, &m);
  } else if (env->type == TR_MSG_SEND && env->len == 1) {
    printf("soak %s %s received=%" PRIu64 " dup=%" PRIu64 " gap=%" PRIu64
           " reorder=%" PRIu64 " missed=%" PRIu64 " streams=%d\n",
           s->listener ? "listener" : "sink", tr_self(ctx), s->received,
           s->dup, s->gap, s->reorder, s->missed, s->nstreams);
    fflush(stdout);
  }
  return 0;
}

/* ---- churner ------------------------------------------------------------------ */

typedef struct {
  uint64_t made, stopped, failed;
  char live[10][64];
  int nlive, head;
} churner_state;

static int tmp_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  (void)ctx;
  (void)st;
  (void)env;
  return 0;
}

static const tr_actor_type tmp_type = {.name = "soak_tmp",
                                       .receive = tmp_receive};

static int churner_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)st;
  (void)arg;
  int rc = tr_send_every(ctx, 20, tr_self(ctx), "t", 1, NULL);
  if (rc == 0) rc = tr_send_every(ctx, 1000, tr_self(ctx), "r", 1, NULL);
  return rc;
}

static void churn(tr_ctx *ctx, churner_state *s) {
  if (s->nlive == 10) {
    if (tr_stop_actor(ctx, s->live[s->head]) == 0) s->stopped++;
    s->nlive--;
  }
  int slot = (s->head + s->nlive) % 10;
  snprintf(s->live[slot], sizeof(s->live[slot]), "%s.%" PRIu64, tr_self(ctx),
           s->made);
  if (tr_spawn(ctx, &tmp_type, &(tr_spawn_opts){.id = s->live[slot]}) == 0) {
    s->made++;
    s->nlive++;
  } else {
    s->failed++;
  }
  if (s->nlive == 10) s->head = (s->head + 1) % 10;
}

static int churner_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  churner_state *s = st;
  if (env->type != TR_MSG_SEND || env->len != 1) return 0;
  if (((const char *)env->data)[0] == 't') {
    churn(ctx, s);
  } else {
    printf("soak churner %s spawned=%" PRIu64 " stopped=%" PRIu64
           " failed=%" PRIu64 "\n",
           tr_self(ctx), s->made, s->stopped, s->failed);
    fflush(stdout);
  }
  return 0;
}

/* ---- types -------------------------------------------------------------------- */

static const tr_actor_type types[] = {
    {.name = "producer", .state_size = sizeof(producer_state),
     .init = producer_init, .receive = producer_receive},
    {.name = "sink", .state_size = sizeof(checker_state), .init = sink_init,
     .receive = checker_receive},
    {.name = "listener", .state_size = sizeof(checker_state),
     .init = listener_init, .receive = checker_receive},
    {.name = "churner", .state_size = sizeof(churner_state),
     .init = churner_init, .receive = churner_receive},
};

int tr_plugin_init(const tr_plugin_host *host) {
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
    int rc = host->register_type(host->ctx, types[i].name, &types[i]);
    if (rc != 0) return rc;
  }
  return 0;
}
