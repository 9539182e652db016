/* ticker.c — a local troupe node in one file: a ticker publishes prices on
 * one topic per instrument, subscribers print them, an aggregator answers
 * asks, a supervisor restarts a worker that fails on purpose, and a director
 * watches with monitors and stops the node after 75 ticks (~1.5 s). */
#include <stdio.h>
#include <string.h>

#include "troupe.h"

#define TICK_MS 20       /* the ticker publishes every instrument this often */
#define TICKS 75         /* then it stops itself */
#define PRINT_EVERY 25   /* subscribers print one price in this many */
#define WORKER_BUG_AT 15 /* the worker fails on its 15th tick */
#define MAX_RESTARTS 3

/* The instruments, one topic each. A constant table, not mutable state. */
static const struct instrument {
  const char *name;
  double start, step; /* first price, largest relative move per tick */
  int decimals;
} INSTRUMENTS[] = {
    {"EURUSD", 1.0842, 0.0002, 4},
    {"GBPUSD", 1.2671, 0.0002, 4},
    {"BTCUSD", 64250.0, 0.0010, 2},
};
#define NINSTR (sizeof(INSTRUMENTS) / sizeof(INSTRUMENTS[0]))

static int instrument_index(const char *name) {
  for (size_t i = 0; i < NINSTR; i++)
    if (strcmp(INSTRUMENTS[i].name, name) == 0) return (int)i;
  return -1;
}

/* Prints "[actor] INSTR price<suffix>" with the instrument's decimals. */
static void print_price(tr_ctx *ctx, const char *instr, double price,
                        const char *suffix) {
  int d = INSTRUMENTS[instrument_index(instr)].decimals;
  printf("[%s] %s %.*f%s\n", tr_self(ctx), instr, d, price, suffix);
}

/* ---- ticker: publishes a random walk on one topic per instrument -------- */

typedef struct {
  double price[NINSTR];
  unsigned ticks;
  uint32_t rng; /* xorshift32: deterministic, good enough for a demo */
} ticker_state;

static int ticker_init(tr_ctx *ctx, void *st, const void *arg) {
  ticker_state *s = st;
  for (size_t i = 0; i < NINSTR; i++) s->price[i] = INSTRUMENTS[i].start;
  s->rng = 2463534242u;
  /* A repeating timer that sends "tick" to ourselves every TICK_MS. */
  return tr_send_every(ctx, TICK_MS, tr_self(ctx), "tick", 4, NULL);
}

static int ticker_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  ticker_state *s = st;
  if (env->type != TR_MSG_SEND) return 0; /* only our timer writes to us */
  for (size_t i = 0; i < NINSTR; i++) {
    s->rng ^= s->rng << 13, s->rng ^= s->rng >> 17, s->rng ^= s->rng << 5;
    double r = (double)s->rng / 4294967295.0 - 0.5; /* -0.5 .. 0.5 */
    s->price[i] *= 1.0 + 2.0 * r * INSTRUMENTS[i].step;
    /* Payload: one double, copied by the engine once for all subscribers. */
    int rc = tr_publish_topic(ctx, INSTRUMENTS[i].name, &s->price[i],
                              sizeof(double));
    if (rc < 0) return rc; /* reached count otherwise; 0 is fine too */
  }
  if (++s->ticks == TICKS) tr_stop(ctx); /* also cancels the timer */
  return 0;
}

static const tr_actor_type ticker_type = {
    .name = "ticker",
    .state_size = sizeof(ticker_state),
    .init = ticker_init,
    .receive = ticker_receive,
};

/* ---- subscribers: print some of the prices of the topics they want ------ */

typedef struct {
  unsigned seen[NINSTR];
} sub_state;

static int sub_init(tr_ctx *ctx, void *st, const void *arg) {
  /* arg: a NULL-terminated list of instrument names. */
  for (const char *const *t = arg; *t; t++) {
    int rc = tr_subscribe_topic(ctx, "ticker", *t);
    if (rc != 0) return rc;
  }
  return 0;
}

static int sub_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  sub_state *s = st;
  if (env->type != TR_MSG_PUBLISH || env->len != sizeof(double)) return 0;
  int i = instrument_index(env->topic);
  double price;
  memcpy(&price, env->data, sizeof price); /* data may be unaligned */
  if (i >= 0 && ++s->seen[i] % PRINT_EVERY == 0)
    print_price(ctx, env->topic, price, "");
  return 0;
}

static const tr_actor_type sub_type = {
    .name = "sub",
    .state_size = sizeof(sub_state),
    .init = sub_init,
    .receive = sub_receive,
};

/* ---- aggregator: last and average price per instrument, on ask ---------- */

typedef struct {
  double last, avg;
  uint32_t n;
} quote; /* the reply payload */

typedef struct {
  double last[NINSTR], sum[NINSTR];
  uint32_t n[NINSTR];
} agg_state;

static int agg_init(tr_ctx *ctx, void *st, const void *arg) {
  for (size_t i = 0; i < NINSTR; i++) {
    int rc = tr_subscribe_topic(ctx, "ticker", INSTRUMENTS[i].name);
    if (rc != 0) return rc;
  }
  return 0;
}

static int agg_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  agg_state *s = st;
  if (env->type == TR_MSG_PUBLISH && env->len == sizeof(double)) {
    int i = instrument_index(env->topic);
    if (i < 0) return 0;
    memcpy(&s->last[i], env->data, sizeof(double));
    s->sum[i] += s->last[i];
    s->n[i]++;
  } else if (env->type == TR_MSG_ASK) {
    /* The question is an instrument name, NUL included. Every ask must be
     * answered; an unknown name gets a zero quote (n == 0). */
    const char *name = env->data;
    int i =
        env->len && name[env->len - 1] == '\0' ? instrument_index(name) : -1;
    quote q = {0};
    if (i >= 0 && s->n[i])
      q = (quote){s->last[i], s->sum[i] / s->n[i], s->n[i]};
    int rc = tr_reply(ctx, env, &q, sizeof q);
    if (rc != 0) /* the asker gave up or is gone: not our failure */
      fprintf(stderr, "[aggregator] reply: %s\n", tr_errname(rc));
  }
  return 0;
}

static const tr_actor_type agg_type = {
    .name = "aggregator",
    .state_size = sizeof(agg_state),
    .init = agg_init,
    .receive = agg_receive,
};

/* Prints a TR_MSG_REPLY from the aggregator. The ask's question is not in the
 * reply, so the asker remembers it. */
static void print_quote(tr_ctx *ctx, const tr_envelope *env,
                        const char *instr) {
  quote q;
  if (env->status != 0) {
    printf("[%s] %s: no answer (%s)\n", tr_self(ctx), instr,
           tr_errname(env->status));
  } else if (env->len == sizeof q) {
    memcpy(&q, env->data, sizeof q);
    char avg[32];
    int d = INSTRUMENTS[instrument_index(instr)].decimals;
    snprintf(avg, sizeof avg, " avg %.*f over %u ticks", d, q.avg, q.n);
    print_price(ctx, instr, q.last, avg);
  }
}

/* ---- client: asks the aggregator about one instrument every 250 ms ------ */

typedef struct {
  unsigned next;  /* instrument to ask about next */
  unsigned asked; /* the instrument of the ask in flight */
} client_state;

static int client_init(tr_ctx *ctx, void *st, const void *arg) {
  return tr_send_every(ctx, 250, tr_self(ctx), "ask", 3, NULL);
}

static int client_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  client_state *s = st;
  if (env->type == TR_MSG_SEND) { /* our timer: ask, answer comes later */
    const char *name = INSTRUMENTS[s->next].name;
    int rc = tr_ask(ctx, "aggregator", name, strlen(name) + 1, 100, NULL);
    if (rc != 0) printf("[client] ask failed: %s\n", tr_errname(rc));
    s->asked = s->next;
    s->next = (s->next + 1) % NINSTR;
  } else if (env->type == TR_MSG_REPLY) {
    print_quote(ctx, env, INSTRUMENTS[s->asked].name);
  }
  return 0;
}

static const tr_actor_type client_type = {
    .name = "client",
    .state_size = sizeof(client_state),
    .init = client_init,
    .receive = client_receive,
};

/* ---- worker: a BTCUSD checker with a bug; fails with status 7 ----------- */

typedef struct {
  unsigned seen;
} worker_state;

static int worker_init(tr_ctx *ctx, void *st, const void *arg) {
  return tr_subscribe_topic(ctx, "ticker", "BTCUSD");
}

static int worker_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  worker_state *s = st;
  if (env->type == TR_MSG_PUBLISH && ++s->seen == WORKER_BUG_AT) {
    printf("[worker] tick %u: simulated bug, failing\n", s->seen);
    return 7; /* non-zero: the engine stops us and tells our parent */
  }
  return 0;
}

static const tr_actor_type worker_type = {
    .name = "worker",
    .state_size = sizeof(worker_state),
    .init = worker_init,
    .receive = worker_receive,
};

/* ---- supervisor: owns the worker and restarts it up to MAX_RESTARTS ----- */

typedef struct {
  int restarts;
} supervisor_state;

static int spawn_worker(tr_ctx *ctx) {
  /* A fixed id: after TR_MSG_CHILD_EXIT the old worker's id is free again. */
  tr_spawn_opts o = {.id = "worker"};
  return tr_spawn_child(ctx, &worker_type, &o);
}

static int supervisor_init(tr_ctx *ctx, void *st, const void *arg) {
  return spawn_worker(ctx);
}

static int supervisor_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  supervisor_state *s = st;
  if (env->type != TR_MSG_CHILD_EXIT) return 0;
  if (env->status == 0) return 0; /* a normal stop, not a failure */
  if (s->restarts == MAX_RESTARTS) {
    printf("[supervisor] %s failed (status %d), giving up after %d restarts\n",
           env->sender, env->status, s->restarts);
    return 0;
  }
  s->restarts++;
  printf("[supervisor] %s failed (status %d), restart %d/%d\n", env->sender,
         env->status, s->restarts, MAX_RESTARTS);
  return spawn_worker(ctx); /* if even that fails, we fail too */
}

static const tr_actor_type supervisor_type = {
    .name = "supervisor",
    .state_size = sizeof(supervisor_state),
    .init = supervisor_init,
    .receive = supervisor_receive,
};

/* ---- director: monitors, a final ask, the summary, and the stop --------- */

typedef struct {
  int *finished; /* main's flag, handed over as the spawn arg */
} director_state;

static int director_init(tr_ctx *ctx, void *st, const void *arg) {
  director_state *s = st;
  s->finished = (int *)arg;
  /* TR_MSG_DOWN arrives when the target stops (this worker incarnation only:
   * a monitor watches one actor, not an id). */
  int rc = tr_monitor(ctx, "worker");
  return rc != 0 ? rc : tr_monitor(ctx, "ticker");
}

static int director_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  director_state *s = st;
  if (env->type == TR_MSG_DOWN) {
    printf("[director] %s is down (status %d)\n", env->sender, env->status);
    if (strcmp(env->sender, "ticker") != 0) return 0;
    /* The last prices are queued at the aggregator before this ask. */
    return tr_ask(ctx, "aggregator", "BTCUSD", 7, 0, NULL);
  }
  if (env->type != TR_MSG_REPLY) return 0;
  print_quote(ctx, env, "BTCUSD");

  tr_node_stats stats;
  tr_node_stats_get(tr_node_of(ctx), &stats);
  uint64_t dead = 0;
  for (int r = 0; r < TR_DL_COUNT; r++) dead += stats.dead[r];
  printf("summary: delivered=%llu published=%llu dead_letters=%llu "
         "failed=%llu\n",
         (unsigned long long)stats.delivered,
         (unsigned long long)stats.published, (unsigned long long)dead,
         (unsigned long long)stats.failed);
  *s->finished = 1;
  tr_node_stop(tr_node_of(ctx)); /* tr_node_run returns soon */
  return 0;
}

static const tr_actor_type director_type = {
    .name = "director",
    .state_size = sizeof(director_state),
    .init = director_init,
    .receive = director_receive,
};

/* ---- main ---------------------------------------------------------------- */

static void log_line(void *user, tr_log_level level, const char *event,
                     const char *fields) {
  static const char *const names[] = {"error", "warn", "info", "debug"};
  fprintf(stderr, "[log] %s %s %s\n", names[level], event, fields);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0); /* keep lines in order when piped */

  tr_node_config cfg = {.name = "ticker-demo", /* no listen: local node */
                        .log = log_line,
                        .log_level = TR_LOG_INFO};
  tr_node *node;
  int rc = tr_node_new(&node, &cfg);
  if (rc != 0) {
    fprintf(stderr, "ticker: error: tr_node_new: %s\n", tr_strerror(rc));
    return 1;
  }

  static const char *const fx[] = {"EURUSD", "GBPUSD", NULL};
  static const char *const crypto[] = {"BTCUSD", NULL};
  int finished = 0;
  /* Subscribers first, the ticker after them; subscribing to an id that
   * does not exist yet would work too. The director monitors the ticker and
   * the worker, so it comes last. */
  struct {
    const tr_actor_type *type;
    tr_spawn_opts opts;
  } plan[] = {
      {&agg_type, {.id = "aggregator"}},
      {&sub_type, {.id = "sub-fx", .arg = fx}},
      {&sub_type, {.id = "sub-crypto", .arg = crypto}},
      {&supervisor_type, {.id = "supervisor"}},
      {&client_type, {.id = "client"}},
      {&ticker_type, {.id = "ticker"}},
      {&director_type, {.id = "director", .arg = &finished}},
  };
  for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++) {
    rc = tr_node_spawn(node, plan[i].type, &plan[i].opts);
    if (rc != 0) {
      fprintf(stderr, "ticker: error: spawn %s: %s\n", plan[i].opts.id,
              tr_errname(rc));
      goto out;
    }
  }

  rc = tr_node_run(node); /* until the director calls tr_node_stop */
  if (rc != 0)
    fprintf(stderr, "ticker: error: tr_node_run: %s\n", tr_errname(rc));
  else if (!finished)
    fprintf(stderr, "ticker: error: the node stopped before the summary\n");

out:
  tr_node_free(node); /* stops every actor, children first, runs deinit */
  return rc == 0 && finished ? 0 : 1;
}
