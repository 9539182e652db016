/* tr_test.h — helpers shared by the engine's unit tests: exact error
 * assertions that print names, loop drivers bounded by iterations AND wall
 * clock (tests never sleep), and a "probe" actor that records what it gets
 * and hands each callback to the test through its spawn arg. */
#ifndef TR_TEST_H
#define TR_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "troupe.h"

/* ---- assertions --------------------------------------------------------- */

/* Asserts an exact TR_ code (or 0) and names both values on mismatch. */
#define assert_tr(expected, actual)                                          \
  do {                                                                       \
    int e_ = (expected), a_ = (actual);                                      \
    if (e_ != a_)                                                            \
      fail_msg("%s: expected %s (%d), got %s (%d)", #actual,                 \
               tr_errname(e_), e_, tr_errname(a_), a_);                      \
  } while (0)

#define assert_tr_ok(actual) assert_tr(0, (actual))

/* ---- time and loop drivers ---------------------------------------------- */

static inline uint64_t tt_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t tt_now_ms(void) { return tt_now_ns() / 1000000u; }

/* Default bounds of every wait: generous for ASan on a slow 2-core box. */
#define TT_ITERS 1000000L
#define TT_MS 5000L

typedef struct tt_bound {
  long iters, max_iters;
  uint64_t start_ms, max_ms;
} tt_bound;

static inline tt_bound tt_bound_start(long max_iters, long max_ms) {
  return (tt_bound){0, max_iters, tt_now_ms(), (uint64_t)max_ms};
}

/* True while the bound has room for one more iteration. */
static inline bool tt_bound_more(tt_bound *b) {
  if (b->iters >= b->max_iters) return false;
  if (tt_now_ms() - b->start_ms > b->max_ms) return false;
  b->iters++;
  return true;
}

/* Calls tr_node_run_once until *flag is non-zero; false if the bound ran
 * out first. */
static inline bool run_until(tr_node *node, const volatile int *flag,
                             long max_iters, long max_ms) {
  tt_bound b = tt_bound_start(max_iters, max_ms);
  while (!*flag) {
    if (!tt_bound_more(&b)) return false;
    tr_node_run_once(node);
  }
  return true;
}

/* The same for any condition expression; fails the test with the condition
 * text when the bound runs out. */
#define ASSERT_RUN_UNTIL(node, cond, max_iters, max_ms)                      \
  do {                                                                       \
    tt_bound b_ = tt_bound_start((max_iters), (max_ms));                     \
    while (!(cond)) {                                                        \
      if (!tt_bound_more(&b_))                                               \
        fail_msg("condition `%s` not reached after %ld iterations / %ld ms", \
                 #cond, b_.iters, (long)(tt_now_ms() - b_.start_ms));        \
      tr_node_run_once(node);                                                \
    }                                                                        \
  } while (0)

/* Runs until tr_node_run_once reports the node idle (0); false if the bound
 * ran out first (work kept remaining). */
static inline bool run_until_idle(tr_node *node, long max_iters, long max_ms) {
  tt_bound b = tt_bound_start(max_iters, max_ms);
  while (tt_bound_more(&b))
    if (tr_node_run_once(node) == 0) return true;
  return false;
}

#define ASSERT_RUN_UNTIL_IDLE(node)                                          \
  do {                                                                       \
    if (!run_until_idle((node), TT_ITERS, TT_MS))                            \
      fail_msg("node not idle after %ld ms", TT_MS);                         \
  } while (0)

/* tr_node_run with a watchdog thread that calls tr_node_stop after max_ms,
 * so a test whose stop condition never comes still ends. Returns true if
 * the run ended by itself (not by the watchdog). */
typedef struct tt_watchdog {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool done, fired;
  tr_node *node;
  long max_ms;
} tt_watchdog;

static inline void *tt_watchdog_main(void *arg) {
  tt_watchdog *w = arg;
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += w->max_ms / 1000;
  until.tv_nsec += (w->max_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&w->lock);
  while (!w->done) {
    if (pthread_cond_timedwait(&w->cond, &w->lock, &until) != 0) break;
  }
  if (!w->done) {
    w->fired = true;
    tr_node_stop(w->node);
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

static inline bool run_with_watchdog(tr_node *node, long max_ms, int *rc_out) {
  tt_watchdog w = {.node = node, .max_ms = max_ms};
  pthread_mutex_init(&w.lock, NULL);
  pthread_cond_init(&w.cond, NULL);
  pthread_t th;
  assert_int_equal(0, pthread_create(&th, NULL, tt_watchdog_main, &w));
  int rc = tr_node_run(node);
  pthread_mutex_lock(&w.lock);
  w.done = true;
  pthread_cond_signal(&w.cond);
  pthread_mutex_unlock(&w.lock);
  pthread_join(th, NULL);
  pthread_cond_destroy(&w.cond);
  pthread_mutex_destroy(&w.lock);
  if (rc_out) *rc_out = rc;
  return !w.fired;
}

/* ---- node helpers ------------------------------------------------------- */

/* The engine's tests (TT_ENGINE_ONLY) link the engine alone and make its
 * nodes with the engine's own lifecycle calls; the others make whole
 * nodes. */
#ifdef TT_ENGINE_ONLY
#include "eng_node.h"
static inline int tt_node_create(tr_node **out, const tr_node_config *cfg) {
  return eng_node_new(out, cfg);
}
static inline void tt_node_free(tr_node *n) { eng_node_free(n); }
#else
static inline int tt_node_create(tr_node **out, const tr_node_config *cfg) {
  return tr_node_new(out, cfg);
}
static inline void tt_node_free(tr_node *n) { tr_node_free(n); }
#endif

static inline tr_node *tt_node_new(const tr_node_config *cfg) {
  tr_node *n = NULL;
  assert_tr_ok(tt_node_create(&n, cfg));
  assert_non_null(n);
  return n;
}

/* A config with a fixed name and the given knobs (0: default). */
static inline tr_node_config tt_config(void) {
  return (tr_node_config){.name = "test-node", .log_level = TR_LOG_ERROR};
}

static inline tr_node_stats tt_stats(tr_node *n) {
  tr_node_stats s;
  memset(&s, 0xab, sizeof(s));
  tr_node_stats_get(n, &s);
  return s;
}

/* ---- the probe actor ---------------------------------------------------- */

/* What one envelope looked like, copied out while it was valid. */
#define TT_REC_DATA 256
typedef struct tt_rec {
  tr_msg_type type;
  bool has_sender, has_topic;
  char sender[TR_ID_MAX + 1];
  char topic[TR_ID_MAX + 1];
  char node[TR_ID_MAX + 1];
  size_t len;
  unsigned char data[TT_REC_DATA]; /* the first TT_REC_DATA bytes */
  uintptr_t data_ptr;              /* only compared, never dereferenced */
  uint64_t ask_id;
  int status;
} tt_rec;

#define TT_REC_MAX 32

typedef struct tt_probe tt_probe;
struct tt_probe {
  /* Set by the test; each may be NULL. on_msg's result is receive's. */
  int (*on_init)(tr_ctx *, tt_probe *);
  int (*on_msg)(tr_ctx *, tt_probe *, const tr_envelope *);
  void (*on_deinit)(tr_ctx *, tt_probe *);
  void *user;     /* anything the test wants to reach from the callbacks */
  int init_rc;    /* returned by init when on_init is NULL */

  /* Filled by the probe. */
  char id[TR_ID_MAX + 1]; /* tr_self, learned in init */
  int inits, deinits;
  long received;          /* receive calls */
  long by_type[16];       /* receive calls per tr_msg_type */
  tt_rec rec[TT_REC_MAX]; /* the first TT_REC_MAX envelopes */

  /* Optional shared order log: deinit appends `tag`. */
  int *log;
  int *nlog;
  int tag;
};

static inline void tt_record(tt_rec *r, const tr_envelope *env) {
  memset(r, 0, sizeof(*r));
  r->type = env->type;
  r->has_sender = env->sender != NULL;
  if (env->sender) snprintf(r->sender, sizeof(r->sender), "%s", env->sender);
  r->has_topic = env->topic != NULL;
  if (env->topic) snprintf(r->topic, sizeof(r->topic), "%s", env->topic);
  if (env->node) snprintf(r->node, sizeof(r->node), "%s", env->node);
  r->len = env->len;
  if (env->len)
    memcpy(r->data, env->data, env->len < TT_REC_DATA ? env->len : TT_REC_DATA);
  r->data_ptr = (uintptr_t)env->data;
  r->ask_id = env->ask_id;
  r->status = env->status;
}

static inline int tt_probe_init(tr_ctx *ctx, void *state, const void *arg) {
  tt_probe *p = (tt_probe *)arg;
  *(tt_probe **)state = p;
  p->inits++;
  snprintf(p->id, sizeof(p->id), "%s", tr_self(ctx));
  return p->on_init ? p->on_init(ctx, p) : p->init_rc;
}

static inline int tt_probe_receive(tr_ctx *ctx, void *state,
                                   const tr_envelope *env) {
  tt_probe *p = *(tt_probe **)state;
  if (p->received < TT_REC_MAX) tt_record(&p->rec[p->received], env);
  p->received++;
  if ((unsigned)env->type < 16) p->by_type[env->type]++;
  return p->on_msg ? p->on_msg(ctx, p, env) : 0;
}

static inline void tt_probe_deinit(tr_ctx *ctx, void *state) {
  tt_probe *p = *(tt_probe **)state;
  p->deinits++;
  if (p->log && p->nlog) p->log[(*p->nlog)++] = p->tag;
  if (p->on_deinit) p->on_deinit(ctx, p);
}

static inline const tr_actor_type *tt_probe_type(void) {
  static const tr_actor_type t = {
      .name = "probe",
      .state_size = sizeof(tt_probe *),
      .init = tt_probe_init,
      .receive = tt_probe_receive,
      .deinit = tt_probe_deinit,
  };
  return &t;
}

/* Spawns a root probe with this id (NULL: generated) and capacity. */
static inline int tt_spawn(tr_node *n, const char *id, tt_probe *p,
                           uint32_t capacity) {
  tr_spawn_opts o = {.id = id, .capacity = capacity, .arg = p};
  return tr_node_spawn(n, tt_probe_type(), &o);
}

static inline int tt_spawn_child(tr_ctx *ctx, const char *id, tt_probe *p,
                                 uint32_t capacity) {
  tr_spawn_opts o = {.id = id, .capacity = capacity, .arg = p};
  return tr_spawn_child(ctx, tt_probe_type(), &o);
}

/* True if the envelope is a plain send whose payload is the string s. */
static inline bool tt_is(const tr_envelope *env, const char *s) {
  size_t n = strlen(s);
  return env->type == TR_MSG_SEND && env->len == n &&
         memcmp(env->data, s, n) == 0;
}

/* Sends the string s (without NUL) from outside actors. */
static inline int tt_send_str(tr_node *n, const char *to, const char *s) {
  return tr_node_send(n, to, s, strlen(s));
}

#endif /* TR_TEST_H */
