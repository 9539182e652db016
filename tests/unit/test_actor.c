/* test_actor.c — node/engine/actor.c: ids (given, generated, id_out),
 * init and state, init failure, supervision (TR_MSG_CHILD_EXIT and restart
 * with the same id), the stop cascade (children first), stops in queue
 * order, dead letters of a stopped actor, tr_children and tr_loop. */
#include <uv.h>

#include "tr_test.h"

/* ---- ids ---------------------------------------------------------------- */

static bool has_prefix_and_number(const char *id, const char *prefix) {
  size_t n = strlen(prefix);
  if (strncmp(id, prefix, n) != 0 || id[n] == '\0') return false;
  for (const char *c = id + n; *c; c++)
    if (*c < '0' || *c > '9') return false;
  return true;
}

static void generated_ids_name_the_type_and_come_back_through_id_out(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tt_probe a = {0}, b = {0}, c = {0};
  char ida[TR_ID_MAX + 1], idb[TR_ID_MAX + 1], idc[TR_ID_MAX + 1];
  memset(ida, 'q', sizeof(ida));
  tr_spawn_opts o = {.arg = &a, .id_out = ida, .id_out_size = sizeof(ida)};
  assert_tr_ok(tr_node_spawn(n, tt_probe_type(), &o));
  o = (tr_spawn_opts){.arg = &b, .id_out = idb, .id_out_size = sizeof(idb)};
  assert_tr_ok(tr_node_spawn(n, tt_probe_type(), &o));
  assert_true(has_prefix_and_number(ida, "probe."));
  assert_true(has_prefix_and_number(idb, "probe."));
  assert_string_not_equal(ida, idb);
  assert_string_equal(ida, a.id); /* what tr_self says in init */
  assert_string_equal(idb, b.id);

  /* A type without a name gets "actor.<n>". */
  tr_actor_type anon = *tt_probe_type();
  anon.name = NULL;
  o = (tr_spawn_opts){.arg = &c, .id_out = idc, .id_out_size = sizeof(idc)};
  assert_tr_ok(tr_node_spawn(n, &anon, &o));
  assert_true(has_prefix_and_number(idc, "actor."));

  /* The generated ids are real: mail reaches them. */
  assert_tr_ok(tt_send_str(n, ida, "to a"));
  assert_tr_ok(tt_send_str(n, idc, "to c"));
  ASSERT_RUN_UNTIL(n, a.received == 1 && c.received == 1, TT_ITERS, TT_MS);
  assert_int_equal(0, b.received);
  tt_node_free(n);
}

static int noop_receive(tr_ctx *ctx, void *state, const tr_envelope *env) {
  (void)ctx;
  (void)state;
  (void)env;
  return 0;
}

static void spawn_with_null_opts_gets_a_generated_id(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  static const tr_actor_type noop = {.name = "noop", .receive = noop_receive};
  assert_tr_ok(tr_node_spawn(n, &noop, NULL));
  assert_tr_ok(tr_node_spawn(n, &noop, NULL));
  tr_node_stats s = tt_stats(n);
  assert_int_equal(2, s.actors);
  assert_int_equal(2, s.spawned);
  tt_node_free(n);
}

static void id_out_too_small_returns_einval_and_spawns_nothing(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tt_probe p = {0};
  char small[4];
  tr_spawn_opts o = {.id = "abcd", .arg = &p, .id_out = small,
                     .id_out_size = sizeof(small)}; /* needs 5 */
  assert_tr(TR_EINVAL, tr_node_spawn(n, tt_probe_type(), &o));
  o.id_out_size = 1;
  o.id = NULL; /* a generated id does not fit either */
  assert_tr(TR_EINVAL, tr_node_spawn(n, tt_probe_type(), &o));
  assert_int_equal(0, p.inits);
  tr_node_stats s = tt_stats(n);
  assert_int_equal(0, s.actors);
  assert_int_equal(0, s.spawned);
  assert_tr(TR_ENOTFOUND, tt_send_str(n, "abcd", "x"));

  /* Exactly enough room is fine. */
  char fits[5];
  o = (tr_spawn_opts){.id = "abcd", .arg = &p, .id_out = fits,
                      .id_out_size = sizeof(fits)};
  assert_tr_ok(tr_node_spawn(n, tt_probe_type(), &o));
  assert_string_equal("abcd", fits);
  assert_int_equal(1, p.inits);
  tt_node_free(n);
}

/* ---- init and state ----------------------------------------------------- */

#define BIG_STATE 4096

typedef struct {
  const void *arg_seen;
  int nonzero_bytes;
  int state_kept;
  int inits, receives, deinits;
  tr_ctx *ctx_in_init; /* compared only */
} state_probe;

static int big_init(tr_ctx *ctx, void *state, const void *arg) {
  state_probe *sp = (state_probe *)arg;
  sp->inits++;
  sp->arg_seen = arg;
  const unsigned char *b = state;
  for (size_t i = 0; i < BIG_STATE; i++) sp->nonzero_bytes += b[i] != 0;
  /* Keep the probe pointer in the state; mark the rest. */
  memset(state, 0x5a, BIG_STATE);
  memcpy(state, &sp, sizeof(sp));
  sp->ctx_in_init = ctx;
  return 0;
}

static int big_receive(tr_ctx *ctx, void *state, const tr_envelope *env) {
  (void)ctx;
  (void)env;
  state_probe *sp;
  memcpy(&sp, state, sizeof(sp));
  sp->receives++;
  const unsigned char *b = state;
  sp->state_kept = 1;
  for (size_t i = sizeof(sp); i < BIG_STATE; i++)
    if (b[i] != 0x5a) sp->state_kept = 0;
  return 0;
}

static void big_deinit(tr_ctx *ctx, void *state) {
  (void)ctx;
  state_probe *sp;
  memcpy(&sp, state, sizeof(sp));
  sp->deinits++;
}

static const tr_actor_type big_type = {
    .name = "big",
    .state_size = BIG_STATE,
    .init = big_init,
    .receive = big_receive,
    .deinit = big_deinit,
};

static void init_gets_its_arg_and_a_zeroed_state_of_state_size(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  state_probe sp[3];
  memset(sp, 0, sizeof(sp));
  /* Several in a row, each stopped, so recycled memory would show. */
  for (int i = 0; i < 3; i++) {
    tr_spawn_opts o = {.id = "big", .arg = &sp[i]};
    assert_tr_ok(tr_node_spawn(n, &big_type, &o));
    assert_int_equal(1, sp[i].inits);
    assert_ptr_equal(&sp[i], sp[i].arg_seen);
    assert_int_equal(0, sp[i].nonzero_bytes);
    assert_tr_ok(tt_send_str(n, "big", "check"));
    ASSERT_RUN_UNTIL(n, sp[i].receives == 1, TT_ITERS, TT_MS);
    assert_int_equal(1, sp[i].state_kept);
    assert_tr_ok(tr_node_stop_actor(n, "big"));
    ASSERT_RUN_UNTIL(n, sp[i].deinits == 1, TT_ITERS, TT_MS);
  }
  tt_node_free(n);
}

/* A stopped actor's block is kept for the next spawn of its size (a state
 * up to 128 bytes): the next actor of that size still starts zeroed. */
typedef struct {
  int nonzero, inits;
} small_probe;

static bool exists(tr_node *n, const char *id) {
  tr_actor_info info;
  return tr_actor_info_get(n, id, &info) == 0;
}

static int small_init(tr_ctx *ctx, void *state, const void *arg) {
  (void)ctx;
  small_probe *p = (small_probe *)arg;
  const unsigned char *b = state;
  for (size_t i = 0; i < 40; i++) p->nonzero += b[i] != 0;
  p->inits++;
  memset(state, 0xa5, 40);
  return 0;
}

static const tr_actor_type small_type = {
    .name = "small", .state_size = 40, .init = small_init,
    .receive = noop_receive};

static void a_recycled_small_block_starts_zeroed(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  small_probe p = {0};
  for (int i = 0; i < 5; i++) {
    tr_spawn_opts o = {.id = "small", .arg = &p};
    assert_tr_ok(tr_node_spawn(n, &small_type, &o));
    assert_tr_ok(tr_node_stop_actor(n, "small"));
    ASSERT_RUN_UNTIL(n, !exists(n, "small"), TT_ITERS, TT_MS);
  }
  assert_int_equal(5, p.inits);
  assert_int_equal(0, p.nonzero);
  tt_node_free(n);
}

/* The table of ids through growth, stops in any order (its deletes shift
 * runs back) and shrinking: every live id found, every stopped one gone,
 * generated ids "<type>.<n>" with n counting up in decimal. */
#define MANY 6000

static void many_actors_are_found_by_id_through_growth_and_stops(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  static char ids[MANY][TR_ID_MAX + 1];
  small_probe p = {0};
  unsigned long long first = 0;
  for (int i = 0; i < MANY; i++) {
    tr_spawn_opts o = {
        .arg = &p, .id_out = ids[i], .id_out_size = sizeof(ids[i])};
    assert_tr_ok(tr_node_spawn(n, &small_type, &o));
    assert_true(has_prefix_and_number(ids[i], "small."));
    unsigned long long k = strtoull(ids[i] + 6, NULL, 10);
    if (i == 0) first = k;
    assert_int_equal(first + (unsigned long long)i, k);
    char want[64];
    snprintf(want, sizeof(want), "small.%llu", k);
    assert_string_equal(want, ids[i]);
  }
  assert_int_equal(MANY, tr_node_actors(n, NULL, NULL));
  /* Stop nine in ten, in an order unrelated to the table's. */
  for (int i = 0; i < MANY; i++) {
    int j = (int)(((long)i * 7919) % MANY);
    if (j % 10) assert_tr_ok(tr_node_stop_actor(n, ids[j]));
  }
  ASSERT_RUN_UNTIL(n, tr_node_actors(n, NULL, NULL) == MANY / 10, TT_ITERS,
                   TT_MS);
  for (int i = 0; i < MANY; i++)
    assert_int_equal(i % 10 == 0, exists(n, ids[i]));
  /* Given ids beside them; a taken one is refused. */
  for (int i = 0; i < MANY / 2; i++) {
    char id[32];
    snprintf(id, sizeof(id), "given.%d", i);
    tr_spawn_opts o = {.id = id, .arg = &p};
    assert_tr_ok(tr_node_spawn(n, &small_type, &o));
  }
  tr_spawn_opts again = {.id = ids[0], .arg = &p};
  assert_tr(TR_EEXIST, tr_node_spawn(n, &small_type, &again));
  assert_int_equal(MANY / 10 + MANY / 2, tr_node_actors(n, NULL, NULL));
  assert_true(exists(n, "given.0"));
  assert_true(exists(n, "given.2999"));
  assert_false(exists(n, "given.3000"));
  assert_int_equal(0, p.nonzero); /* recycled blocks among them */
  tt_node_free(n);
}

/* ---- init failure ------------------------------------------------------- */

typedef struct {
  tt_probe parent, kid;
} init_fail_fixture;

static int spawn_kid_then_fail(tr_ctx *ctx, tt_probe *p) {
  init_fail_fixture *f = p->user;
  if (tt_spawn_child(ctx, "init-kid", &f->kid, 0) != 0) return 99;
  if (tr_send(ctx, tr_self(ctx), "queued in init", 14) != 0) return 98;
  return 5;
}

static void init_failure_returns_einit_runs_no_deinit_and_frees_the_id(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  init_fail_fixture f = {0};
  f.parent = (tt_probe){.on_init = spawn_kid_then_fail, .user = &f};
  assert_tr(TR_EINIT, tt_spawn(n, "failing", &f.parent, 0));
  assert_int_equal(1, f.parent.inits);
  assert_int_equal(0, f.parent.deinits); /* init failed: no deinit */
  /* The child init spawned was stopped, with its deinit. */
  assert_int_equal(1, f.kid.inits);
  assert_int_equal(1, f.kid.deinits);
  assert_int_equal(0, tt_stats(n).actors);
  assert_tr(TR_ENOTFOUND, tt_send_str(n, "failing", "x"));
  assert_tr(TR_ENOTFOUND, tt_send_str(n, "init-kid", "x"));
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(0, f.parent.received);

  /* Both ids are free again. */
  tt_probe again = {0}, kid_again = {0};
  assert_tr_ok(tt_spawn(n, "failing", &again, 0));
  assert_tr_ok(tt_spawn(n, "init-kid", &kid_again, 0));
  tt_node_free(n);
  assert_int_equal(0, f.parent.deinits);
  assert_int_equal(1, again.deinits);
}

/* ---- supervision -------------------------------------------------------- */

typedef struct {
  tt_probe parent, kid, kid2;
  int respawn_rc, info_rc_at_exit;
  int kid_fail_value;
} sup_fixture;

static int fail_on_fail(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  sup_fixture *f = p->user;
  if (tt_is(env, "fail")) return f->kid_fail_value;
  if (tt_is(env, "fill-parent-and-fail")) /* parent: capacity 1 */
    return tr_send(ctx, "parent", "filler", 6) == 0 ? f->kid_fail_value : -1;
  if (tt_is(env, "stop")) tr_stop(ctx);
  return 0;
}

static int parent_spawns_kid(tr_ctx *ctx, tt_probe *p) {
  sup_fixture *f = p->user;
  return tt_spawn_child(ctx, "kid", &f->kid, 0);
}

static int parent_restarts_kid(tr_ctx *ctx, tt_probe *p,
                               const tr_envelope *env) {
  sup_fixture *f = p->user;
  if (env->type != TR_MSG_CHILD_EXIT) return 0;
  tr_actor_info info;
  f->info_rc_at_exit = tr_actor_info_get(tr_node_of(ctx), "kid", &info);
  f->respawn_rc = tt_spawn_child(ctx, "kid", &f->kid2, 0);
  return 0;
}

static sup_fixture *sup_new(tr_node *n, int fail_value) {
  sup_fixture *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  f->kid_fail_value = fail_value;
  f->respawn_rc = f->info_rc_at_exit = -1000;
  f->parent = (tt_probe){.on_init = parent_spawns_kid,
                         .on_msg = parent_restarts_kid,
                         .user = f};
  f->kid = (tt_probe){.on_msg = fail_on_fail, .user = f};
  f->kid2 = (tt_probe){.on_msg = fail_on_fail, .user = f};
  assert_tr_ok(tt_spawn(n, "parent", &f->parent, 0));
  return f;
}

static void failed_child_is_reported_to_its_parent_which_respawns_it(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  sup_fixture *f = sup_new(n, 42);
  tr_actor_info info;
  assert_tr_ok(tr_actor_info_get(n, "kid", &info));
  assert_string_equal("parent", info.parent);

  assert_tr_ok(tt_send_str(n, "kid", "fail"));
  ASSERT_RUN_UNTIL(n, f->parent.by_type[TR_MSG_CHILD_EXIT] == 1, TT_ITERS,
                   TT_MS);
  const tt_rec *r = &f->parent.rec[0];
  assert_int_equal(TR_MSG_CHILD_EXIT, r->type);
  assert_true(r->has_sender);
  assert_string_equal("kid", r->sender);
  assert_int_equal(42, r->status);
  assert_int_equal(1, f->kid.deinits);
  /* When the notice arrived, the id was already free; the respawn worked. */
  assert_tr(TR_ENOTFOUND, f->info_rc_at_exit);
  assert_tr_ok(f->respawn_rc);
  assert_int_equal(1, f->kid2.inits);
  assert_int_equal(1, tt_stats(n).failed);

  assert_tr_ok(tt_send_str(n, "kid", "hello again"));
  ASSERT_RUN_UNTIL(n, f->kid2.received == 1, TT_ITERS, TT_MS);
  assert_int_equal(1, f->kid.received); /* the old one got only "fail" */
  assert_tr_ok(tr_actor_info_get(n, "kid", &info));
  assert_string_equal("parent", info.parent);
  tt_node_free(n);
  free(f);
}

static void child_that_stops_normally_reports_status_zero(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  sup_fixture *f = sup_new(n, 42);
  assert_tr_ok(tt_send_str(n, "kid", "stop"));
  ASSERT_RUN_UNTIL(n, f->parent.by_type[TR_MSG_CHILD_EXIT] == 1, TT_ITERS,
                   TT_MS);
  assert_string_equal("kid", f->parent.rec[0].sender);
  assert_int_equal(0, f->parent.rec[0].status);
  assert_int_equal(0, tt_stats(n).failed);
  tt_node_free(n);
  free(f);
}

/* Even a full parent mailbox gets its child's exit notice. */
static void child_exit_reaches_a_parent_whose_mailbox_is_full(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  sup_fixture *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  f->kid_fail_value = 3;
  f->parent = (tt_probe){.on_init = parent_spawns_kid, .user = f};
  f->kid = (tt_probe){.on_msg = fail_on_fail, .user = f};
  assert_tr_ok(tt_spawn(n, "parent", &f->parent, 1));
  /* The kid fills its parent's mailbox, then fails in the same callback. */
  assert_tr_ok(tt_send_str(n, "kid", "fill-parent-and-fail"));
  ASSERT_RUN_UNTIL(n, f->parent.by_type[TR_MSG_CHILD_EXIT] == 1, TT_ITERS,
                   TT_MS);
  assert_int_equal(2, f->parent.received); /* the filler, then the notice */
  assert_int_equal(3, f->parent.rec[1].status);
  assert_string_equal("kid", f->parent.rec[1].sender);
  tt_node_free(n);
  free(f);
}

/* ---- stop cascade ------------------------------------------------------- */

enum { C_PARENT, C_KID1, C_KID2, C_GRANDKID, C_N };

typedef struct {
  tt_probe p[C_N];
  int log[C_N * 2];
  int nlog;
  int errors;
} cascade;

static int cascade_parent_init(tr_ctx *ctx, tt_probe *p) {
  cascade *c = p->user;
  if (tt_spawn_child(ctx, "kid1", &c->p[C_KID1], 0) != 0) c->errors++;
  if (tt_spawn_child(ctx, "kid2", &c->p[C_KID2], 0) != 0) c->errors++;
  return 0;
}

static int cascade_kid1_init(tr_ctx *ctx, tt_probe *p) {
  cascade *c = p->user;
  if (tt_spawn_child(ctx, "grandkid", &c->p[C_GRANDKID], 0) != 0) c->errors++;
  return 0;
}

static cascade *cascade_new(tr_node *n) {
  cascade *c = calloc(1, sizeof(*c));
  assert_non_null(c);
  for (int i = 0; i < C_N; i++)
    c->p[i] = (tt_probe){.user = c, .log = c->log, .nlog = &c->nlog, .tag = i};
  c->p[C_PARENT].on_init = cascade_parent_init;
  c->p[C_KID1].on_init = cascade_kid1_init;
  assert_tr_ok(tt_spawn(n, "parent", &c->p[C_PARENT], 0));
  assert_int_equal(0, c->errors);
  return c;
}

static void stopping_a_parent_runs_deinit_of_children_before_the_parent(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  cascade *c = cascade_new(n);
  tt_probe bystander = {0};
  assert_tr_ok(tt_spawn(n, "bystander", &bystander, 0));
  assert_int_equal(C_N + 1, tt_stats(n).actors);

  assert_tr_ok(tr_node_stop_actor(n, "parent"));
  ASSERT_RUN_UNTIL(n, c->p[C_PARENT].deinits == 1, TT_ITERS, TT_MS);
  assert_int_equal(C_N, c->nlog);
  int pos[C_N];
  for (int i = 0; i < C_N; i++) pos[i] = -1;
  for (int i = 0; i < c->nlog; i++) pos[c->log[i]] = i;
  for (int i = 0; i < C_N; i++) assert_int_equal(1, c->p[i].deinits);
  assert_true(pos[C_GRANDKID] < pos[C_KID1]);
  assert_true(pos[C_KID1] < pos[C_PARENT]);
  assert_true(pos[C_KID2] < pos[C_PARENT]);

  /* Everyone in the tree is gone, the bystander is not. */
  assert_int_equal(1, tt_stats(n).actors);
  const char *gone[] = {"parent", "kid1", "kid2", "grandkid"};
  tr_actor_info info;
  for (int i = 0; i < 4; i++)
    assert_tr(TR_ENOTFOUND, tr_actor_info_get(n, gone[i], &info));
  assert_int_equal(0, bystander.deinits);
  tt_node_free(n);
  free(c);
}

/* ---- stop in queue order ------------------------------------------------ */

static void stop_by_id_comes_in_queue_order_and_later_mail_is_dead(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tt_probe p = {0};
  assert_tr_ok(tt_spawn(n, "victim", &p, 0));
  assert_tr_ok(tt_send_str(n, "victim", "m1"));
  assert_tr_ok(tt_send_str(n, "victim", "m2"));
  assert_tr_ok(tt_send_str(n, "victim", "m3"));
  assert_tr_ok(tr_node_stop_actor(n, "victim"));
  assert_tr_ok(tt_send_str(n, "victim", "m4"));
  assert_tr_ok(tt_send_str(n, "victim", "m5"));
  uint64_t dead = tt_stats(n).dead[TR_DL_STOPPED];

  ASSERT_RUN_UNTIL(n, p.deinits == 1, TT_ITERS, TT_MS);
  assert_int_equal(3, p.received);
  for (int i = 0; i < 3; i++) {
    char want[3] = {'m', (char)('1' + i), '\0'};
    assert_int_equal(2, p.rec[i].len);
    assert_memory_equal(want, p.rec[i].data, 2);
  }
  assert_int_equal(dead + 2, tt_stats(n).dead[TR_DL_STOPPED]);
  assert_tr(TR_ENOTFOUND, tt_send_str(n, "victim", "m6"));
  assert_tr(TR_ENOTFOUND, tr_node_stop_actor(n, "victim"));

  /* The id can be taken again. */
  tt_probe q = {0};
  assert_tr_ok(tt_spawn(n, "victim", &q, 0));
  assert_tr_ok(tt_send_str(n, "victim", "new"));
  ASSERT_RUN_UNTIL(n, q.received == 1, TT_ITERS, TT_MS);
  assert_int_equal(3, p.received);
  tt_node_free(n);
}

typedef struct {
  int rc_known, rc_unknown;
} stopper_rcs;

static int stopper_on_msg(tr_ctx *ctx, tt_probe *p, const tr_envelope *env) {
  stopper_rcs *r = p->user;
  if (!tt_is(env, "go")) return 0;
  r->rc_unknown = tr_stop_actor(ctx, "nobody");
  r->rc_known = tr_stop_actor(ctx, "victim");
  /* Sent after the stop: a dead letter, though accepted. */
  if (tr_send(ctx, "victim", "after", 5) != 0) r->rc_known = -2000;
  return 0;
}

static void stop_actor_from_an_actor_is_in_queue_order_too(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tt_probe victim = {0};
  stopper_rcs r = {-1000, -1000};
  tt_probe stopper = {.on_msg = stopper_on_msg, .user = &r};
  assert_tr_ok(tt_spawn(n, "victim", &victim, 0));
  assert_tr_ok(tt_spawn(n, "stopper", &stopper, 0));
  assert_tr_ok(tt_send_str(n, "stopper", "go"));
  assert_tr_ok(tt_send_str(n, "victim", "before"));
  ASSERT_RUN_UNTIL(n, victim.deinits == 1, TT_ITERS, TT_MS);
  assert_tr_ok(r.rc_known);
  assert_tr(TR_ENOTFOUND, r.rc_unknown);
  assert_int_equal(1, victim.received);
  assert_memory_equal("before", victim.rec[0].data, 6);
  assert_int_equal(1, tt_stats(n).dead[TR_DL_STOPPED]);
  tt_node_free(n);
}

static int stop_self_on_first(tr_ctx *ctx, tt_probe *p,
                              const tr_envelope *env) {
  (void)env;
  if (p->received == 1) return tr_stop(ctx);
  return 0;
}

static void mail_still_queued_when_an_actor_stops_is_counted_stopped(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tt_probe p = {.on_msg = stop_self_on_first};
  assert_tr_ok(tt_spawn(n, "quitter", &p, 0));
  for (int i = 0; i < 4; i++) assert_tr_ok(tt_send_str(n, "quitter", "m"));
  ASSERT_RUN_UNTIL(n, p.deinits == 1, TT_ITERS, TT_MS);
  assert_int_equal(1, p.received);
  assert_int_equal(3, tt_stats(n).dead[TR_DL_STOPPED]);
  ASSERT_RUN_UNTIL_IDLE(n);
  assert_int_equal(1, p.received);
  tt_node_free(n);
}

/* ---- children, loop, root spawns ---------------------------------------- */

typedef struct {
  tt_probe parent, kids[3];
  int count_all, count_null, listed;
  char all[8][TR_ID_MAX + 1];
  int errors;
  void *loop_in_ctx, *node_in_ctx;
  char self[TR_ID_MAX + 1];
} children_fixture;

static int children_parent_init(tr_ctx *ctx, tt_probe *p) {
  children_fixture *f = p->user;
  const char *ids[3] = {"c1", "c2", "c3"};
  for (int i = 0; i < 3; i++)
    if (tt_spawn_child(ctx, ids[i], &f->kids[i], 0) != 0) f->errors++;
  return 0;
}

static void children_collect(void *arg, const char *id) {
  children_fixture *f = arg;
  if (f->listed < 8) snprintf(f->all[f->listed], sizeof(f->all[0]), "%s", id);
  f->listed++;
}

static int children_parent_on_msg(tr_ctx *ctx, tt_probe *p,
                                  const tr_envelope *env) {
  children_fixture *f = p->user;
  if (!tt_is(env, "list")) return 0;
  memset(f->all, 0, sizeof(f->all));
  f->listed = 0;
  f->count_all = tr_children(ctx, children_collect, f);
  f->count_null = tr_children(ctx, NULL, NULL);
  f->loop_in_ctx = tr_loop(ctx);
  f->node_in_ctx = tr_node_of(ctx);
  snprintf(f->self, sizeof(f->self), "%s", tr_self(ctx));
  return 0;
}

static bool list_has(char ids[][TR_ID_MAX + 1], int n, const char *id) {
  for (int i = 0; i < n; i++)
    if (strcmp(ids[i], id) == 0) return true;
  return false;
}

static void tr_children_lists_children_and_tr_loop_is_the_node_loop(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  children_fixture *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  f->parent = (tt_probe){.on_init = children_parent_init,
                         .on_msg = children_parent_on_msg,
                         .user = f};
  assert_tr_ok(tt_spawn(n, "parent", &f->parent, 0));
  assert_int_equal(0, f->errors);
  assert_tr_ok(tt_send_str(n, "parent", "list"));
  ASSERT_RUN_UNTIL(n, f->parent.received == 1, TT_ITERS, TT_MS);
  assert_int_equal(3, f->count_all);
  assert_int_equal(3, f->listed); /* fn was called once per child */
  assert_int_equal(3, f->count_null);
  assert_true(list_has(f->all, 3, "c1"));
  assert_true(list_has(f->all, 3, "c2"));
  assert_true(list_has(f->all, 3, "c3"));
  assert_ptr_equal(tr_node_loop(n), f->loop_in_ctx);
  assert_ptr_equal(n, f->node_in_ctx);
  assert_string_equal("parent", f->self);
  tr_actor_info info;
  assert_tr_ok(tr_actor_info_get(n, "parent", &info));
  assert_int_equal(3, info.children);

  /* One child goes: two left. */
  assert_tr_ok(tr_node_stop_actor(n, "c2"));
  ASSERT_RUN_UNTIL(n, f->kids[1].deinits == 1, TT_ITERS, TT_MS);
  assert_tr_ok(tt_send_str(n, "parent", "list"));
  ASSERT_RUN_UNTIL(n, f->count_all == 2, TT_ITERS, TT_MS);
  assert_true(list_has(f->all, 2, "c1"));
  assert_true(list_has(f->all, 2, "c3"));
  assert_false(list_has(f->all, 2, "c2"));
  tt_node_free(n);
  free(f);
}

typedef struct {
  tt_probe spawner, root;
  int rc;
} root_fixture;

static int spawn_root_on_msg(tr_ctx *ctx, tt_probe *p,
                             const tr_envelope *env) {
  (void)env;
  root_fixture *f = p->user;
  tr_spawn_opts o = {.id = "free-agent", .arg = &f->root};
  f->rc = tr_spawn(ctx, tt_probe_type(), &o);
  tr_stop(ctx);
  return 0;
}

static void tr_spawn_from_an_actor_makes_a_root_that_outlives_it(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  root_fixture f = {.rc = -1000};
  f.spawner = (tt_probe){.on_msg = spawn_root_on_msg, .user = &f};
  assert_tr_ok(tt_spawn(n, "spawner", &f.spawner, 0));
  assert_tr_ok(tt_send_str(n, "spawner", "go"));
  ASSERT_RUN_UNTIL(n, f.spawner.deinits == 1, TT_ITERS, TT_MS);
  assert_tr_ok(f.rc);
  assert_int_equal(0, f.root.deinits);
  tr_actor_info info;
  assert_tr_ok(tr_actor_info_get(n, "free-agent", &info));
  assert_null(info.parent);
  assert_int_equal(0, f.spawner.by_type[TR_MSG_CHILD_EXIT]);
  tt_node_free(n);
  assert_int_equal(1, f.root.deinits);
}

static void mailbox_capacity_comes_from_opts_then_config_then_1024(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tt_probe a = {0}, b = {0};
  tr_actor_info info;
  assert_tr_ok(tt_spawn(n, "default", &a, 0));
  assert_tr_ok(tr_actor_info_get(n, "default", &info));
  assert_int_equal(1024, info.capacity);
  assert_tr_ok(tt_spawn(n, "seven", &b, 7));
  assert_tr_ok(tr_actor_info_get(n, "seven", &info));
  assert_int_equal(7, info.capacity);
  tt_node_free(n);

  tr_node_config cfg = tt_config();
  cfg.default_capacity = 16;
  n = tt_node_new(&cfg);
  a = (tt_probe){0};
  assert_tr_ok(tt_spawn(n, "sixteen", &a, 0));
  assert_tr_ok(tr_actor_info_get(n, "sixteen", &info));
  assert_int_equal(16, info.capacity);
  tt_node_free(n);
}


/* ---- more stop and init details ----------------------------------------- */

static void stop_by_id_is_accepted_by_a_full_mailbox(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  tt_probe p = {0};
  assert_tr_ok(tt_spawn(n, "full", &p, 2));
  assert_tr_ok(tt_send_str(n, "full", "m1"));
  assert_tr_ok(tt_send_str(n, "full", "m2"));
  assert_tr(TR_EFULL, tt_send_str(n, "full", "m3"));
  assert_tr_ok(tr_node_stop_actor(n, "full"));
  ASSERT_RUN_UNTIL(n, p.deinits == 1, TT_ITERS, TT_MS);
  assert_int_equal(2, p.received);
  assert_int_equal(0, tt_stats(n).dead[TR_DL_STOPPED]);
  tt_node_free(n);
}

static int send_self_in_init(tr_ctx *ctx, tt_probe *p) {
  int *rc = p->user;
  *rc = tr_send(ctx, tr_self(ctx), "from init", 9);
  return 0;
}

static void mail_sent_during_init_is_queued_and_delivered_later(void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  int rc = -1000;
  tt_probe p = {.on_init = send_self_in_init, .user = &rc};
  assert_tr_ok(tt_spawn(n, "early", &p, 0));
  assert_tr_ok(rc);
  assert_int_equal(0, p.received); /* not inside init or spawn */
  ASSERT_RUN_UNTIL(n, p.received == 1, TT_ITERS, TT_MS);
  assert_string_equal("early", p.rec[0].sender);
  assert_memory_equal("from init", p.rec[0].data, 9);
  tt_node_free(n);
}

typedef struct {
  int ask, sub, mon, after, every, child, send, stop_again;
} deinit_rcs;

static void calls_in_deinit(tr_ctx *ctx, tt_probe *p) {
  deinit_rcs *r = p->user;
  tt_probe dummy = {0};
  r->ask = tr_ask(ctx, "bystander", "?", 1, 1000, NULL);
  r->sub = tr_subscribe(ctx, "bystander");
  r->mon = tr_monitor(ctx, "bystander");
  r->after = tr_send_after(ctx, 5, "bystander", "t", 1);
  r->every = tr_send_every(ctx, 5, "bystander", "t", 1, NULL);
  r->child = tt_spawn_child(ctx, "late-kid", &dummy, 0);
  r->send = tr_send(ctx, "bystander", "bye", 3);
  r->stop_again = tr_stop(ctx);
}

static void calls_that_would_outlive_a_stopping_actor_return_estate(
    void **st) {
  (void)st;
  tr_node *n = tt_node_new(NULL);
  deinit_rcs r;
  memset(&r, 0x7f, sizeof(r));
  tt_probe bystander = {0};
  tt_probe p = {.on_deinit = calls_in_deinit, .user = &r};
  assert_tr_ok(tt_spawn(n, "bystander", &bystander, 0));
  assert_tr_ok(tt_spawn(n, "leaving", &p, 0));
  assert_tr_ok(tr_node_stop_actor(n, "leaving"));
  ASSERT_RUN_UNTIL(n, p.deinits == 1, TT_ITERS, TT_MS);
  assert_tr(TR_ESTATE, r.ask);
  assert_tr(TR_ESTATE, r.sub);
  assert_tr(TR_ESTATE, r.mon);
  assert_tr(TR_ESTATE, r.after);
  assert_tr(TR_ESTATE, r.every);
  assert_tr(TR_ESTATE, r.child);
  assert_tr_ok(r.send); /* sending is still fine */
  assert_tr_ok(r.stop_again);
  ASSERT_RUN_UNTIL(n, bystander.received == 1, TT_ITERS, TT_MS);
  assert_string_equal("leaving", bystander.rec[0].sender);
  tr_node_stats s = tt_stats(n);
  assert_int_equal(0, s.timers_pending);
  assert_int_equal(0, s.asks_pending);
  assert_int_equal(0, s.subscriptions);
  assert_int_equal(1, s.actors);
  tt_node_free(n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(
          generated_ids_name_the_type_and_come_back_through_id_out),
      cmocka_unit_test(spawn_with_null_opts_gets_a_generated_id),
      cmocka_unit_test(id_out_too_small_returns_einval_and_spawns_nothing),
      cmocka_unit_test(init_gets_its_arg_and_a_zeroed_state_of_state_size),
      cmocka_unit_test(a_recycled_small_block_starts_zeroed),
      cmocka_unit_test(many_actors_are_found_by_id_through_growth_and_stops),
      cmocka_unit_test(
          init_failure_returns_einit_runs_no_deinit_and_frees_the_id),
      cmocka_unit_test(
          failed_child_is_reported_to_its_parent_which_respawns_it),
      cmocka_unit_test(child_that_stops_normally_reports_status_zero),
      cmocka_unit_test(child_exit_reaches_a_parent_whose_mailbox_is_full),
      cmocka_unit_test(
          stopping_a_parent_runs_deinit_of_children_before_the_parent),
      cmocka_unit_test(stop_by_id_comes_in_queue_order_and_later_mail_is_dead),
      cmocka_unit_test(stop_actor_from_an_actor_is_in_queue_order_too),
      cmocka_unit_test(
          mail_still_queued_when_an_actor_stops_is_counted_stopped),
      cmocka_unit_test(
          tr_children_lists_children_and_tr_loop_is_the_node_loop),
      cmocka_unit_test(tr_spawn_from_an_actor_makes_a_root_that_outlives_it),
      cmocka_unit_test(
          mailbox_capacity_comes_from_opts_then_config_then_1024),
      cmocka_unit_test(stop_by_id_is_accepted_by_a_full_mailbox),
      cmocka_unit_test(mail_sent_during_init_is_queued_and_delivered_later),
      cmocka_unit_test(
          calls_that_would_outlive_a_stopping_actor_return_estate),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
