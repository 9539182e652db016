/* ticker.c — a troupe plugin with two actor types for the pub/sub demo:
 * `ticker` publishes a price ("TICKER 123.45") on topic "prices" every N ms
 * (ARG, default 1000), a random walk; `printer` subscribes to the ticker
 * whose id is its ARG (on any node of the cluster) and prints each publish
 * to stdout. `troupe run --plugin ticker.so --spawn ticker:t1:500
 * --spawn printer:p1:t1`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe_plugin.h"

TR_PLUGIN_DECLARE;

#define TICKER_TOPIC "prices"
#define TICKER_DEFAULT_MS 1000
#define TICKER_MAX_ID 64

typedef struct {
  double price;
  uint32_t rng; /* xorshift32: deterministic, good enough for a demo */
  uint64_t published;
} ticker_state;

static int ticker_init(tr_ctx *ctx, void *st, const void *arg) {
  ticker_state *s = st;
  long ms = TICKER_DEFAULT_MS;
  if (arg) {
    char *end;
    ms = strtol(arg, &end, 10);
    if (*end != '\0' || ms < 1 || ms > 3600000) {
      fprintf(stderr, "ticker: %s: bad interval '%s' (want 1..3600000 ms)\n",
              tr_self(ctx), (const char *)arg);
      return TR_EINVAL;
    }
  }
  s->price = 100.0;
  s->rng = 2463534242u;
  return tr_send_every(ctx, (uint32_t)ms, tr_self(ctx), "tick", 4, NULL);
}

static int ticker_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  ticker_state *s = st;
  /* Only our own timer sends to us; anything else is ignored. */
  if (env->type != TR_MSG_SEND || !env->sender ||
      strcmp(env->sender, tr_self(ctx)) != 0)
    return 0;
  s->rng ^= s->rng << 13;
  s->rng ^= s->rng >> 17;
  s->rng ^= s->rng << 5;
  double move = ((double)(s->rng % 2001) - 1000.0) / 100000.0; /* +-1% */
  s->price *= 1.0 + move;
  char line[TICKER_MAX_ID + 48];
  int n = snprintf(line, sizeof(line), "%s %.2f", tr_self(ctx), s->price);
  tr_publish_topic(ctx, TICKER_TOPIC, line, (size_t)n);
  s->published++;
  return 0;
}

static int printer_init(tr_ctx *ctx, void *st, const void *arg) {
  if (!arg || !*(const char *)arg) {
    fprintf(stderr, "printer: %s: needs the ticker's id as ARG "
            "(printer:ID:TICKER)\n", tr_self(ctx));
    return TR_EINVAL;
  }
  return tr_subscribe_topic(ctx, arg, TICKER_TOPIC);
}

static int printer_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  if (env->type != TR_MSG_PUBLISH) return 0;
  printf("[%s] %s: %.*s (from %s)\n", tr_self(ctx), env->topic,
         (int)env->len, (const char *)env->data,
         env->node ? env->node : "?");
  return 0;
}

static const tr_actor_type ticker_type = {
    .name = "ticker",
    .state_size = sizeof(ticker_state),
    .init = ticker_init,
    .receive = ticker_receive,
};

static const tr_actor_type printer_type = {
    .name = "printer",
    .init = printer_init,
    .receive = printer_receive,
};

int tr_plugin_init(const tr_plugin_host *host) {
  int rc = host->register_type(host->ctx, "ticker", &ticker_type);
  if (rc == 0) rc = host->register_type(host->ctx, "printer", &printer_type);
  return rc;
}
