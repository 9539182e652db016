/* test_node.c — node/engine/node.c: creating and freeing the engine of a
 * node (eng_node.h, no cluster linked), its config, run / run_once / stop
 * from inside an actor and from another thread, several independent nodes
 * in one process, and freeing with live actors (deinit for each, children
 * first, nothing leaked). The public tr_node_new / tr_node_free and the
 * cluster calls of a local node: test_assembly.c. */
#include <sched.h>
#include <stdatomic.h>
#include <uv.h>

#include <sys/resource.h>

#include "tr_test.h"

/* ---- config ------------------------------------------------------------- */

static void null_config_gives_a_local_node_named_after_the_host(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  const char *name = tr_node_name(n);
  assert_non_null(name);
  assert_true(name[0] != '\0');
  assert_non_null(tr_node_loop(n));
  tt_node_free(n);
}

static void configured_name_is_the_node_name(void **st) {
  (void)st;
  tr_node_config cfg = tt_config();
  cfg.name = "alpha";
  tr_node *n = tt_node_new(&cfg);
  assert_string_equal("alpha", tr_node_name(n));
  tt_node_free(n);
}

static void invalid_engine_config_is_rejected_with_einval(void **st) {
  (void)st;
  tr_node *n = (tr_node *)&n; /* garbage the call must not keep */
  assert_tr(TR_EINVAL, tt_node_create(NULL, NULL));

  tr_node_config cfg = tt_config();
  cfg.name = "";
  assert_tr(TR_EINVAL, tt_node_create(&n, &cfg));

  char longname[TR_ID_MAX + 2];
  memset(longname, 'n', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  cfg = tt_config();
  cfg.name = longname;
  assert_tr(TR_EINVAL, tt_node_create(&n, &cfg));

  cfg = tt_config();
  cfg.log_level = (tr_log_level)(TR_LOG_DEBUG + 7);
  assert_tr(TR_EINVAL, tt_node_create(&n, &cfg));

  /* The longest allowed name is fine. */
  longname[TR_ID_MAX] = '\0';
  cfg = tt_config();
  cfg.name = longname;
  n = NULL;
  assert_tr_ok(tt_node_create(&n, &cfg));
  assert_string_equal(longname, tr_node_name(n));
  tt_node_free(n);
}

static void free_of_null_is_a_noop(void **st) {
  (void)st;
  tt_node_free(NULL);
}

/* ---- run_once ----------------------------------------------------------- */

static void run_once_returns_zero_when_idle(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  assert_int_equal(0, tr_node_run_once(n));
  tt_probe p = {0};
  assert_tr_ok(tt_spawn(n, "idle", &p, 0));
  assert_int_equal(0, tr_node_run_once(n));
  assert_int_equal(0, tr_node_run_once(n));
  assert_int_equal(0, p.received);
  tt_node_free(n);
}

/* Keeps sending itself a message until the test clears user. */
static int busy_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  (void)env;
  if (*(volatile int *)p->user) return tr_send(ctx, tr_self(ctx), "again", 5);
  return 0;
}

static void run_once_returns_one_while_an_actor_has_mail(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  int keep_busy = 1;
  tt_probe p = {.on_msg = busy_on_msg, .user = &keep_busy};
  assert_tr_ok(tt_spawn(n, "busy", &p, 0));
  assert_tr_ok(tt_send_str(n, "busy", "go"));
  for (int i = 0; i < 5; i++) assert_int_equal(1, tr_node_run_once(n));
  assert_true(p.received >= 5);
  keep_busy = 0;
  ASSERT_RUN_UNTIL_IDLE(n);
  long seen = p.received;
  assert_int_equal(0, tr_node_run_once(n));
  assert_int_equal(seen, p.received);
  tt_node_free(n);
}

static int set_flag_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  (void)ctx;
  (void)env;
  *(int *)p->user = 1;
  return 0;
}

static void send_before_run_waits_in_the_mailbox(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  int got = 0;
  tt_probe p = {.on_msg = set_flag_on_msg, .user = &got};
  assert_tr_ok(tt_spawn(n, "patient", &p, 0));
  assert_tr_ok(tt_send_str(n, "patient", "early"));
  assert_int_equal(0, p.received);
  tr_actor_info info;
  assert_tr_ok(tr_actor_info_get(n, "patient", &info));
  assert_int_equal(1, info.queued);

  assert_true(run_until(n, &got, TT_ITERS, TT_MS));
  assert_int_equal(1, p.received);
  assert_int_equal(TR_MSG_SEND, p.rec[0].type);
  assert_int_equal(5, p.rec[0].len);
  assert_memory_equal("early", p.rec[0].data, 5);
  assert_tr_ok(tr_actor_info_get(n, "patient", &info));
  assert_int_equal(0, info.queued);
  tt_node_free(n);
}

/* ---- run and stop ------------------------------------------------------- */

/* "stop" stops the node; "run" records what a nested tr_node_run says. */
static int stopper_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  if (tt_is(env, "stop")) tr_node_stop(tr_node_of(ctx));
  if (tt_is(env, "run")) {
    *(int *)p->user = tr_node_run(tr_node_of(ctx));
    tr_node_stop(tr_node_of(ctx));
  }
  return 0;
}

static void run_returns_after_stop_from_inside_an_actor(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tt_probe p = {.on_msg = stopper_on_msg};
  assert_tr_ok(tt_spawn(n, "stopper", &p, 0));
  assert_tr_ok(tt_send_str(n, "stopper", "stop"));
  int rc = -100;
  assert_true(run_with_watchdog(n, TT_MS, &rc));
  assert_tr_ok(rc);
  assert_int_equal(1, p.received);

  /* The node may be run again after run returned. */
  assert_tr_ok(tt_send_str(n, "stopper", "hello"));
  assert_tr_ok(tt_send_str(n, "stopper", "stop"));
  rc = -100;
  assert_true(run_with_watchdog(n, TT_MS, &rc));
  assert_tr_ok(rc);
  assert_int_equal(3, p.received);
  tt_node_free(n);
}

static void run_called_from_inside_an_actor_returns_estate(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  int nested_rc = -100;
  tt_probe p = {.on_msg = stopper_on_msg, .user = &nested_rc};
  assert_tr_ok(tt_spawn(n, "nester", &p, 0));
  assert_tr_ok(tt_send_str(n, "nester", "run"));
  int rc = -100;
  assert_true(run_with_watchdog(n, TT_MS, &rc));
  assert_tr_ok(rc);
  assert_tr(TR_ESTATE, nested_rc);
  tt_node_free(n);
}

typedef struct {
  tr_node *node;
  atomic_int actor_ran;
  atomic_int stop_sent;
} remote_stop;

static int flag_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  (void)ctx;
  (void)env;
  remote_stop *r = p->user;
  atomic_store(&r->actor_ran, 1);
  return 0;
}

static void *stop_when_flagged(void *arg) {
  remote_stop *r = arg;
  uint64_t until = tt_now_ms() + TT_MS;
  while (!atomic_load(&r->actor_ran) && tt_now_ms() < until) sched_yield();
  tr_node_stop(r->node);
  atomic_store(&r->stop_sent, 1);
  return NULL;
}

static void run_returns_after_stop_from_another_thread(void **st) {
  (void)st;
  remote_stop r = {.node = tt_node_new(NULL)};
  tt_probe p = {.on_msg = flag_on_msg, .user = &r};
  assert_tr_ok(tt_spawn(r.node, "flagger", &p, 0));
  assert_tr_ok(tt_send_str(r.node, "flagger", "hello"));
  pthread_t th;
  assert_int_equal(0, pthread_create(&th, NULL, stop_when_flagged, &r));
  int rc = -100;
  bool by_itself = run_with_watchdog(r.node, 2 * TT_MS, &rc);
  pthread_join(th, NULL);
  assert_true(by_itself);
  assert_tr_ok(rc);
  assert_int_equal(1, atomic_load(&r.actor_ran));
  assert_int_equal(1, p.received);
  tt_node_free(r.node);
}

static void stop_before_run_makes_run_return_at_once(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tr_node_stop(n);
  int rc = -100;
  assert_true(run_with_watchdog(n, TT_MS, &rc));
  assert_tr_ok(rc);
  tt_node_free(n);
}


/* tr_node_stop neither stops actors nor drops mail: what is still queued
 * when run returns is handled by the next run. */
static int stop_and_keep_busy(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  (void)p;
  if (!tt_is(env, "stop")) return 0;
  tr_node_stop(tr_node_of(ctx));
  for (int i = 0; i < 3; i++)
    if (tr_send(ctx, tr_self(ctx), "more", 4) != 0) return 1;
  return 0;
}

static void mail_queued_when_run_returns_is_kept_for_the_next_run(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tt_probe p = {.on_msg = stop_and_keep_busy};
  assert_tr_ok(tt_spawn(n, "busy", &p, 0));
  assert_tr_ok(tt_send_str(n, "busy", "stop"));
  int rc = -100;
  assert_true(run_with_watchdog(n, TT_MS, &rc));
  assert_tr_ok(rc);
  ASSERT_RUN_UNTIL(n, p.received == 4, TT_ITERS, TT_MS);
  assert_int_equal(0, p.deinits);
  tr_node_stats s = tt_stats(n);
  for (int r = 0; r < TR_DL_COUNT; r++) assert_int_equal(0, s.dead[r]);
  tt_node_free(n);
}

/* ---- two nodes, two threads --------------------------------------------- */

#define TWO_NODES_MSGS 2000

typedef struct {
  const char *name;
  tr_node *node;
  tt_probe echo; /* counts; stops the node at TWO_NODES_MSGS */
  tt_probe driver;
  int rc_new, rc_spawn, rc_run, errors;
  long sent;
  bool ended_by_itself;
  void *loop;
  char env_node[TR_ID_MAX + 1];
} node_thread;

/* The driver sends in chunks of 100, then pokes itself to go on. */
static int driver_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  (void)env;
  node_thread *t = p->user;
  for (int i = 0; i < 100 && t->sent < TWO_NODES_MSGS; i++) {
    uint32_t seq = (uint32_t)t->sent;
    int rc = tr_send(ctx, "echo", &seq, sizeof(seq));
    if (rc == TR_EFULL) break;
    if (rc != 0) {
      t->errors++;
      return 0;
    }
    t->sent++;
  }
  if (t->sent < TWO_NODES_MSGS) return tr_send(ctx, tr_self(ctx), "more", 4);
  return 0;
}

static int echo_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  node_thread *t = p->user;
  uint32_t seq;
  if (env->len != sizeof(seq)) {
    t->errors++;
    return 0;
  }
  memcpy(&seq, env->data, sizeof(seq));
  if (seq != (uint32_t)(p->received - 1)) t->errors++;
  if (p->received == 1)
    snprintf(t->env_node, sizeof(t->env_node), "%s", env->node);
  if (p->received == TWO_NODES_MSGS) tr_node_stop(tr_node_of(ctx));
  return 0;
}

static void *node_thread_main(void *arg) {
  node_thread *t = arg;
  tr_node_config cfg = tt_config();
  cfg.name = t->name;
  cfg.default_capacity = 64;
  t->rc_new = tt_node_create(&t->node, &cfg);
  if (t->rc_new != 0) return NULL;
  t->loop = tr_node_loop(t->node);
  t->echo = (tt_probe){.on_msg = echo_on_msg, .user = t};
  t->driver = (tt_probe){.on_msg = driver_on_msg, .user = t};
  t->rc_spawn = tt_spawn(t->node, "echo", &t->echo, 0);
  if (t->rc_spawn == 0) t->rc_spawn = tt_spawn(t->node, "driver", &t->driver, 0);
  if (t->rc_spawn == 0) t->rc_spawn = tt_send_str(t->node, "driver", "go");
  if (t->rc_spawn == 0) {
    /* The watchdog helper asserts; do its job by hand off the main thread. */
    tt_watchdog w = {.node = t->node, .max_ms = 2 * TT_MS};
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    pthread_t wd;
    if (pthread_create(&wd, NULL, tt_watchdog_main, &w) == 0) {
      t->rc_run = tr_node_run(t->node);
      pthread_mutex_lock(&w.lock);
      w.done = true;
      pthread_cond_signal(&w.cond);
      pthread_mutex_unlock(&w.lock);
      pthread_join(wd, NULL);
      t->ended_by_itself = !w.fired;
    }
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.lock);
  }
  return NULL;
}

static void two_nodes_on_two_threads_are_independent(void **st) {
  (void)st;
  node_thread t[2] = {{.name = "left"}, {.name = "right"}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    assert_int_equal(0, pthread_create(&th[i], NULL, node_thread_main, &t[i]));
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < 2; i++) {
    assert_tr_ok(t[i].rc_new);
    assert_tr_ok(t[i].rc_spawn); /* the same ids on both nodes */
    assert_tr_ok(t[i].rc_run);
    assert_true(t[i].ended_by_itself);
    assert_int_equal(0, t[i].errors);
    assert_int_equal(TWO_NODES_MSGS, t[i].echo.received);
    assert_string_equal(t[i].name, t[i].env_node);
    assert_string_equal(t[i].name, tr_node_name(t[i].node));
    tr_node_stats s = tt_stats(t[i].node);
    assert_int_equal(2, s.actors);
    assert_int_equal(2, s.spawned);
  }
  assert_ptr_not_equal(t[0].loop, t[1].loop);
  for (int i = 0; i < 2; i++) tt_node_free(t[i].node);
}

/* ---- tr_node_free with live actors -------------------------------------- */

enum { T_ROOT, T_KID1, T_KID2, T_GRANDKID, T_OTHER, T_N };

typedef struct {
  tt_probe p[T_N];
  int log[T_N * 2];
  int nlog;
  int errors;
} family;

static int kid1_init(tr_ctx *ctx, tt_probe *p) {
  family *f = p->user;
  if (tt_spawn_child(ctx, "grandkid", &f->p[T_GRANDKID], 0) != 0) f->errors++;
  return 0;
}

/* The root holds a bit of everything that must be released at free: a child
 * tree, a repeating timer, a pending ask, a subscription and a monitor. */
static int root_init(tr_ctx *ctx, tt_probe *p) {
  family *f = p->user;
  if (tt_spawn_child(ctx, "kid1", &f->p[T_KID1], 0) != 0) f->errors++;
  if (tt_spawn_child(ctx, "kid2", &f->p[T_KID2], 0) != 0) f->errors++;
  if (tr_send_every(ctx, 1000, tr_self(ctx), "tick", 4, NULL) != 0)
    f->errors++;
  if (tr_send_after(ctx, 1000, "other", "later", 5) != 0) f->errors++;
  if (tr_ask(ctx, "other", "q", 1, 10000, NULL) != 0) f->errors++;
  if (tr_subscribe_topic(ctx, "other", "news") != 0) f->errors++;
  if (tr_monitor(ctx, "other") != 0) f->errors++;
  if (tr_send(ctx, "kid2", "pending", 7) != 0) f->errors++;
  return 0;
}

static void free_with_live_actors_runs_deinit_children_before_parents(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  family *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  for (int i = 0; i < T_N; i++)
    f->p[i] = (tt_probe){.user = f, .log = f->log, .nlog = &f->nlog, .tag = i};
  f->p[T_ROOT].on_init = root_init;
  f->p[T_KID1].on_init = kid1_init;
  assert_tr_ok(tt_spawn(n, "other", &f->p[T_OTHER], 0));
  assert_tr_ok(tt_spawn(n, "root", &f->p[T_ROOT], 0));
  assert_int_equal(0, f->errors);
  assert_int_equal(T_N, tt_stats(n).actors);
  /* The ask reaches "other", which never answers. */
  ASSERT_RUN_UNTIL(n, f->p[T_OTHER].by_type[TR_MSG_ASK] == 1, TT_ITERS, TT_MS);
  assert_tr_ok(tt_send_str(n, "grandkid", "queued"));
  assert_tr_ok(tt_send_str(n, "other", "queued"));

  tt_node_free(n);
  assert_int_equal(T_N, f->nlog);
  int pos[T_N];
  for (int i = 0; i < T_N; i++) pos[i] = -1;
  for (int i = 0; i < f->nlog; i++) {
    assert_int_equal(-1, pos[f->log[i]]); /* each deinit once */
    pos[f->log[i]] = i;
  }
  for (int i = 0; i < T_N; i++) assert_int_equal(1, f->p[i].deinits);
  assert_true(pos[T_GRANDKID] < pos[T_KID1]);
  assert_true(pos[T_KID1] < pos[T_ROOT]);
  assert_true(pos[T_KID2] < pos[T_ROOT]);
  free(f);
}

/* Deinit may still use its node while tr_node_free runs it. */
static void count_deinit(tr_ctx *ctx, tt_probe *p) {
  tr_actor_info info;
  if (tr_actor_info_get(tr_node_of(ctx), tr_self(ctx), &info) == 0 &&
      info.queued == 2)
    *(int *)p->user += 1;
}

static void free_with_many_root_actors_and_queued_mail_leaks_nothing(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  enum { N = 50 };
  tt_probe *p = calloc(N, sizeof(*p));
  assert_non_null(p);
  int deinits = 0;
  for (int i = 0; i < N; i++) {
    p[i] = (tt_probe){.on_deinit = count_deinit, .user = &deinits};
    char id[32];
    snprintf(id, sizeof(id), "a%d", i);
    assert_tr_ok(tt_spawn(n, id, &p[i], 0));
    char big[300];
    memset(big, i, sizeof(big));
    assert_tr_ok(tr_node_send(n, id, big, sizeof(big))); /* a blob */
    assert_tr_ok(tt_send_str(n, id, "small"));
  }
  tt_node_free(n);
  assert_int_equal(N, deinits); /* each saw its two messages still queued */
  for (int i = 0; i < N; i++) assert_int_equal(0, p[i].received);
  free(p);
}

/* ---- an existing loop --------------------------------------------------- */

static void node_on_an_existing_loop_runs_from_uv_run_and_closes_its_handles(
    void **st) {
  (void)st;
  uv_loop_t loop;
  assert_int_equal(0, uv_loop_init(&loop));
  tr_node_config cfg = tt_config();
  cfg.loop = &loop;
  tr_node *n = tt_node_new(&cfg);
  assert_ptr_equal(&loop, tr_node_loop(n));
  tt_probe p = {0};
  assert_tr_ok(tt_spawn(n, "guest", &p, 0));
  assert_tr_ok(tt_send_str(n, "guest", "hi"));
  tt_bound b = tt_bound_start(TT_ITERS, TT_MS);
  while (p.received < 1 && tt_bound_more(&b)) uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(1, p.received);
  tt_node_free(n);
  assert_int_equal(1, p.deinits);
  /* Every handle of the node is closed: the loop closes cleanly. */
  assert_int_equal(0, uv_loop_close(&loop));
}


/* ---- logging ------------------------------------------------------------ */

typedef struct {
  int lines, warns, above_level;
  tr_log_level max_level;
  char event[64];
  char fields[256];
} log_sink;

static void collect_log(void *user, tr_log_level level, const char *event,
                        const char *fields) {
  log_sink *s = user;
  s->lines++;
  if (level == TR_LOG_WARN) s->warns++;
  if (level > s->max_level) s->above_level++;
  if (s->event[0] == '\0') {
    snprintf(s->event, sizeof(s->event), "%s", event ? event : "");
    snprintf(s->fields, sizeof(s->fields), "%s", fields ? fields : "");
  }
}

static int fail_always(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  (void)ctx;
  (void)p;
  (void)env;
  return 7;
}

static void failing_actor_is_logged_through_the_callback_at_warn(void **st) {
  (void)st;
  /* log_level 0: the default, WARN. */
  log_sink sink = {.max_level = TR_LOG_WARN};
  tr_node_config cfg = {.name = "logger", .log = collect_log,
                        .log_user = &sink};
  tr_node *n = tt_node_new(&cfg);
  tt_probe p = {.on_msg = fail_always};
  assert_tr_ok(tt_spawn(n, "crasher", &p, 0));
  assert_tr_ok(tt_send_str(n, "crasher", "x"));
  ASSERT_RUN_UNTIL(n, p.deinits == 1, TT_ITERS, TT_MS);
  assert_true(sink.warns >= 1);
  assert_int_equal(0, sink.above_level);
  assert_string_equal("actor_failed", sink.event);
  assert_non_null(strstr(sink.fields, "id=crasher"));
  tt_node_free(n);

  /* ERROR only: the failure's WARN line is not even built. */
  log_sink quiet = {.max_level = TR_LOG_ERROR};
  cfg = (tr_node_config){.name = "quiet", .log = collect_log,
                         .log_user = &quiet, .log_level = TR_LOG_ERROR};
  n = tt_node_new(&cfg);
  p = (tt_probe){.on_msg = fail_always};
  assert_tr_ok(tt_spawn(n, "crasher", &p, 0));
  assert_tr_ok(tt_send_str(n, "crasher", "x"));
  ASSERT_RUN_UNTIL(n, p.deinits == 1, TT_ITERS, TT_MS);
  assert_int_equal(0, quiet.warns);
  assert_int_equal(0, quiet.above_level);
  tt_node_free(n);
}

/* An idle node blocks in the kernel: while only a 300 ms timer is pending,
 * tr_node_run uses almost no CPU (a node that polled would burn the whole
 * 300 ms). The bound is for correctness, not speed. */
static int sleeper_init(tr_ctx *ctx, void *st, const void *arg) {
  return tr_send_after(ctx, 300, tr_self(ctx), "wake", 4);
}

static int sleeper_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  tr_node_stop(tr_node_of(ctx));
  return 0;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void idle_node_blocks_in_the_kernel_without_using_cpu(void **st) {
  static const tr_actor_type sleeper = {.name = "sleeper",
                                        .init = sleeper_init,
                                        .receive = sleeper_receive};
  tr_node *n;
  assert_tr_ok(tt_node_create(&n, NULL));
  assert_tr_ok(tr_node_spawn(n, &sleeper, NULL));
  uint64_t t0 = tt_now_ms();
  double c0 = cpu_seconds();
  assert_tr_ok(tr_node_run(n));
  double cpu = cpu_seconds() - c0;
  uint64_t wall = tt_now_ms() - t0;
  assert_true(wall >= 250);
  if (cpu > 0.05)
    fail_msg("idle node used %.3f s of CPU over %llu ms", cpu,
             (unsigned long long)wall);
  tt_node_free(n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(null_config_gives_a_local_node_named_after_the_host),
      cmocka_unit_test(idle_node_blocks_in_the_kernel_without_using_cpu),
      cmocka_unit_test(configured_name_is_the_node_name),
      cmocka_unit_test(invalid_engine_config_is_rejected_with_einval),
      cmocka_unit_test(free_of_null_is_a_noop),
      cmocka_unit_test(run_once_returns_zero_when_idle),
      cmocka_unit_test(run_once_returns_one_while_an_actor_has_mail),
      cmocka_unit_test(send_before_run_waits_in_the_mailbox),
      cmocka_unit_test(run_returns_after_stop_from_inside_an_actor),
      cmocka_unit_test(run_called_from_inside_an_actor_returns_estate),
      cmocka_unit_test(run_returns_after_stop_from_another_thread),
      cmocka_unit_test(stop_before_run_makes_run_return_at_once),
      cmocka_unit_test(mail_queued_when_run_returns_is_kept_for_the_next_run),
      cmocka_unit_test(two_nodes_on_two_threads_are_independent),
      cmocka_unit_test(
          free_with_live_actors_runs_deinit_children_before_parents),
      cmocka_unit_test(
          free_with_many_root_actors_and_queued_mail_leaks_nothing),
      cmocka_unit_test(
          node_on_an_existing_loop_runs_from_uv_run_and_closes_its_handles),
      cmocka_unit_test(failing_actor_is_logged_through_the_callback_at_warn),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
