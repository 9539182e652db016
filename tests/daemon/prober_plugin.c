/* prober_plugin.c — a test plugin: actor type `prober` asks its target
 * every INTERVAL ms (ARG "TARGET[:INTERVAL]", default 20 ms; an ask times
 * out after 2 s) and prints, once a second, what the last second's asks
 * saw:
 *   prober p1 asks=50 ok=50 failed=0 p50_us=180 p99_us=900 max_us=1200
 * so a test reads how a node answered its peers while it was attacked
 * (tests/daemon/abuse_test.sh). Replies are matched to asks by ask id. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "troupe_plugin.h"

TR_PLUGIN_DECLARE;

#define PROBER_SLOTS 256 /* asks in flight at most (2 s / 20 ms = 100) */
#define PROBER_SAMPLES 4096

typedef struct {
  char target[TR_ID_MAX + 1];
  uint64_t ids[PROBER_SLOTS], sent_us[PROBER_SLOTS];
  uint32_t lat_us[PROBER_SAMPLES];
  uint32_t nlat, asks, failed;
} prober_state;

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int prober_init(tr_ctx *ctx, void *st, const void *arg) {
  prober_state *s = st;
  const char *a = arg;
  long ms = 20;
  const char *colon = a ? strchr(a, ':') : NULL;
  size_t tlen = a ? (colon ? (size_t)(colon - a) : strlen(a)) : 0;
  if (colon) ms = strtol(colon + 1, NULL, 10);
  if (!tlen || tlen > TR_ID_MAX || ms < 1 || ms > 60000) {
    fprintf(stderr, "prober: want ARG TARGET[:INTERVAL_MS]\n");
    return TR_EINVAL;
  }
  memcpy(s->target, a, tlen);
  int rc = tr_send_every(ctx, (uint32_t)ms, tr_self(ctx), "t", 1, NULL);
  if (rc == 0) rc = tr_send_every(ctx, 1000, tr_self(ctx), "r", 1, NULL);
  return rc;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static void report(tr_ctx *ctx, prober_state *s) {
  uint32_t p50 = 0, p99 = 0, max = 0;
  if (s->nlat) {
    qsort(s->lat_us, s->nlat, sizeof(s->lat_us[0]), cmp_u32);
    p50 = s->lat_us[s->nlat / 2];
    p99 = s->lat_us[(s->nlat * 99) / 100];
    max = s->lat_us[s->nlat - 1];
  }
  printf("prober %s asks=%u ok=%u failed=%u p50_us=%u p99_us=%u max_us=%u\n",
         tr_self(ctx), s->asks, s->nlat, s->failed, p50, p99, max);
  fflush(stdout);
  s->asks = s->nlat = s->failed = 0;
}

static void ask_one(tr_ctx *ctx, prober_state *s) {
  uint64_t id = 0;
  s->asks++;
  if (tr_ask(ctx, s->target, "probe", 5, 2000, &id) != 0) {
    s->failed++;
    return;
  }
  uint32_t k = (uint32_t)(id % PROBER_SLOTS);
  if (s->ids[k]) s->failed++; /* its slot's ask never came back */
  s->ids[k] = id;
  s->sent_us[k] = now_us();
}

static void replied(prober_state *s, const tr_envelope *env) {
  uint32_t k = (uint32_t)(env->ask_id % PROBER_SLOTS);
  if (s->ids[k] != env->ask_id) return;
  s->ids[k] = 0;
  if (env->status != 0) {
    s->failed++;
    return;
  }
  uint64_t us = now_us() - s->sent_us[k];
  if (s->nlat < PROBER_SAMPLES)
    s->lat_us[s->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int prober_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  prober_state *s = st;
  if (env->type == TR_MSG_REPLY) {
    replied(s, env);
  } else if (env->type == TR_MSG_SEND && env->len == 1) {
    if (((const char *)env->data)[0] == 't') ask_one(ctx, s);
    else report(ctx, s);
  }
  return 0;
}

static const tr_actor_type prober_type = {
    .name = "prober",
    .state_size = sizeof(prober_state),
    .init = prober_init,
    .receive = prober_receive,
};

int tr_plugin_init(const tr_plugin_host *host) {
  return host->register_type(host->ctx, "prober", &prober_type);
}
