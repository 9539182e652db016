/* ui_plugin.c — actor types for the inspector's browser test (ui_test.py):
 * a slow consumer whose mailbox stays deep for seconds, a burst sender to
 * fill it, and many idle actors to page through. Load it with
 * `troupe run --plugin ui_plugin.so --spawn slow:sink:20 --spawn burst:b1`.
 *
 *   slow:ID[:MS]      handles one plain message per MS milliseconds [5].
 *   burst:ID          on a plain message or an ask "N TARGET": sends N
 *                     messages "x" to TARGET, stopping at the first error
 *                     (TR_EFULL at a full mailbox); prints how many it sent
 *                     and answers an ask with "sent=K of N: ERRNAME".
 *   many:ID:N PREFIX  spawns N `idle` children named PREFIX.0 .. PREFIX.N-1.
 *   idle:ID           does nothing.
 *   watch:ID          on a plain message "mon TARGET": monitors TARGET
 *                     (tr_monitor), printing the result; a DOWN is
 *                     printed; anything else is ignored.
 *
 * Why `slow` does not simply sleep MS in each receive: all of a node's
 * actors run on its one loop thread, and the scheduler runs up to 8192
 * messages per loop iteration before it polls I/O again (node/engine/
 * sched.c). A mailbox of 1024 would then be drained in one iteration that
 * blocks the loop for 1024 x MS: no inspector answer could see it deep, and
 * the node would miss its SWIM probes. Instead a message that comes before
 * its turn goes back to the tail of the actor's own mailbox, so the depth
 * is there whenever the loop polls, and the actor naps 1 ms every 1024
 * such returns to keep the spinning cheap: ~8 ms of each loop iteration,
 * ~10% of a core, a peer's ask answered ~50 ms later than when idle.
 * The returns count as sends and deliveries in the engine's figures, so
 * the sink's in_per_s is far above its real rate of 1000 / MS. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "troupe_plugin.h"

TR_PLUGIN_DECLARE;

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void nap_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* A decimal 1..max at the start of s; -1 otherwise. With end NULL, s
 * must hold nothing else; else *end is set to what follows it. */
static long parse_count(const char *s, const char **end, long max) {
  char *e = NULL;
  errno = 0;
  long v = strtol(s, &e, 10);
  if (e == s || errno != 0 || v < 1 || v > max) return -1;
  if (!end && *e != '\0') return -1;
  if (end) *end = e;
  return v;
}

/* ---- slow -------------------------------------------------------------- */

#define SLOW_NAP_EVERY 1024u

typedef struct {
  uint64_t per_msg_us; /* the time one message takes */
  uint64_t due_us;     /* when the next message may be handled */
  uint64_t handled, returned, lost;
} slow_state;

static int slow_init(tr_ctx *ctx, void *st, const void *arg) {
  slow_state *s = st;
  long ms = 5;
  if (arg && (ms = parse_count(arg, NULL, 60000)) < 0) {
    fprintf(stderr, "slow: %s: want ARG MS (1..60000), got '%s'\n",
            tr_self(ctx), (const char *)arg);
    return TR_EINVAL;
  }
  s->per_msg_us = (uint64_t)ms * 1000u;
  printf("slow: %s ready, %ld ms a message\n", tr_self(ctx), ms);
  fflush(stdout);
  return 0;
}

static int slow_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  slow_state *s = st;
  if (env->type == TR_MSG_ASK) { /* any ask: what it did so far */
    char buf[96];
    int n = snprintf(buf, sizeof(buf),
                     "handled=%" PRIu64 " returned=%" PRIu64 " lost=%" PRIu64,
                     s->handled, s->returned, s->lost);
    tr_reply(ctx, env, buf, (size_t)n);
    return 0;
  }
  if (env->type != TR_MSG_SEND) return 0;
  uint64_t now = now_us();
  if (now >= s->due_us) {
    s->handled++;
    /* No credit saved up while idle: the next one waits a full period. */
    s->due_us = now + s->per_msg_us;
    return 0;
  }
  /* Not its turn: to the tail of our own mailbox. It was just taken out, so
   * there is room; a failure loses it (counted, shown by an ask). */
  if (tr_send(ctx, tr_self(ctx), env->data, env->len) != 0) s->lost++;
  if (++s->returned % SLOW_NAP_EVERY == 0) nap_us(1000);
  return 0;
}

/* ---- burst ------------------------------------------------------------- */

static int burst_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)st;
  (void)arg;
  printf("burst: %s ready\n", tr_self(ctx));
  fflush(stdout);
  return 0;
}

static int burst_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  (void)st;
  if (env->type != TR_MSG_SEND && env->type != TR_MSG_ASK) return 0;
  char cmd[16 + TR_ID_MAX + 2], out[64 + TR_ID_MAX];
  const char *target = NULL;
  long want = -1;
  if (env->len < sizeof(cmd)) {
    memcpy(cmd, env->data, env->len);
    cmd[env->len] = '\0';
    want = parse_count(cmd, &target, 10000000);
  }
  if (want < 0 || *target != ' ' || target[1] == '\0') {
    int n = snprintf(out, sizeof(out), "burst: want \"N TARGET\"");
    fprintf(stderr, "%s, got %zu bytes\n", out, env->len);
    if (env->type == TR_MSG_ASK) tr_reply(ctx, env, out, (size_t)n);
    return 0;
  }
  target++;
  long sent = 0;
  int rc = 0;
  while (sent < want && (rc = tr_send(ctx, target, "x", 1)) == 0) sent++;
  int n = snprintf(out, sizeof(out), "sent=%ld of %ld to %s: %s", sent, want,
                   target, tr_errname(rc));
  printf("burst: %s %s\n", tr_self(ctx), out);
  fflush(stdout);
  if (env->type == TR_MSG_ASK) tr_reply(ctx, env, out, (size_t)n);
  return 0;
}

/* ---- idle and many ----------------------------------------------------- */

static int idle_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  (void)ctx;
  (void)st;
  (void)env;
  return 0;
}

static const tr_actor_type idle_type = {
    .name = "idle",
    .receive = idle_receive,
};

/* ARG "N PREFIX": N idle children PREFIX.<i>. A failed spawn fails init,
 * which stops the children made so far. */
static int many_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)st;
  const char *a = arg ? arg : "", *prefix = NULL;
  long n = parse_count(a, &prefix, 1000000);
  if (n < 0 || *prefix != ' ' || prefix[1] == '\0') {
    fprintf(stderr, "many: %s: want ARG \"N PREFIX\", got '%s'\n",
            tr_self(ctx), a);
    return TR_EINVAL;
  }
  prefix++;
  for (long i = 0; i < n; i++) {
    char id[TR_ID_MAX + 1];
    int len = snprintf(id, sizeof(id), "%s.%ld", prefix, i);
    if (len < 0 || (size_t)len >= sizeof(id)) {
      fprintf(stderr, "many: %s: id %s.%ld too long\n", tr_self(ctx), prefix,
              i);
      return TR_EINVAL;
    }
    tr_spawn_opts o = {.id = id};
    int rc = tr_spawn_child(ctx, &idle_type, &o);
    if (rc != 0) {
      fprintf(stderr, "many: %s: spawn %s: %s\n", tr_self(ctx), id,
              tr_errname(rc));
      return rc;
    }
  }
  printf("many: %s spawned %ld idle children %s.*\n", tr_self(ctx), n,
         prefix);
  fflush(stdout);
  return 0;
}

static int many_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  return idle_receive(ctx, st, env);
}

/* ---- watch ------------------------------------------------------------- */

static int watch_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  (void)st;
  if (env->type == TR_MSG_DOWN) {
    printf("watch: %s: %s is down (%s)\n", tr_self(ctx), env->sender,
           tr_errname(env->status));
    fflush(stdout);
    return 0;
  }
  char cmd[4 + TR_ID_MAX + 1];
  if (env->type != TR_MSG_SEND || env->len < 5 || env->len >= sizeof(cmd) ||
      memcmp(env->data, "mon ", 4) != 0)
    return 0;
  memcpy(cmd, env->data, env->len);
  cmd[env->len] = '\0';
  int rc = tr_monitor(ctx, cmd + 4);
  printf("watch: %s monitors %s: %s\n", tr_self(ctx), cmd + 4,
         tr_errname(rc));
  fflush(stdout);
  return 0;
}

static const tr_actor_type watch_type = {
    .name = "watch",
    .receive = watch_receive,
};

static const tr_actor_type slow_type = {
    .name = "slow",
    .state_size = sizeof(slow_state),
    .init = slow_init,
    .receive = slow_receive,
};
static const tr_actor_type burst_type = {
    .name = "burst",
    .init = burst_init,
    .receive = burst_receive,
};
static const tr_actor_type many_type = {
    .name = "many",
    .init = many_init,
    .receive = many_receive,
};

int tr_plugin_init(const tr_plugin_host *host) {
  static const struct {
    const char *name;
    const tr_actor_type *type;
  } types[] = {{"slow", &slow_type},
               {"burst", &burst_type},
               {"many", &many_type},
               {"idle", &idle_type},
               {"watch", &watch_type}};
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
    int rc = host->register_type(host->ctx, types[i].name, types[i].type);
    if (rc != 0) return rc;
  }
  return 0;
}
