/* flow.c — back-pressure in one file: a slow consumer (mailbox of 64) fed
 * by a producer actor and a producer thread at once. Neither drops
 * anything and neither polls: the actor sends until TR_EFULL, asks
 * tr_send_notify and resumes on TR_MSG_WRITABLE; the thread sends until
 * TR_EFULL and blocks in tr_node_wait_writable. The consumer checks that
 * each source's messages arrive complete and in order, then stops the
 * node. See docs/engine.md, "Mailboxes and back-pressure". */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "troupe.h"

#define PER_SOURCE 200000u /* messages from each producer */
#define CAPACITY 64u       /* the consumer's mailbox */

typedef struct {
  uint32_t source; /* 0: the actor, 1: the thread */
  uint32_t seq;
} item;

/* ---- the consumer: slower than its producers ------------------------------ */

typedef struct {
  uint32_t next[2];
  uint64_t received, out_of_order, checksum;
} consumer;

static int consumer_receive(tr_ctx *ctx, void *state, const tr_envelope *env) {
  consumer *c = state;
  item it;
  if (env->type != TR_MSG_SEND || env->len != sizeof(it) ||
      (memcpy(&it, env->data, sizeof(it)), it.source > 1))
    return 0;
  if (it.seq != c->next[it.source]) c->out_of_order++;
  c->next[it.source] = it.seq + 1;
  /* Some work per message, so the producers outrun it. */
  for (uint32_t i = 0; i < 200; i++) c->checksum = c->checksum * 31 + it.seq + i;
  if (++c->received == 2 * PER_SOURCE) {
    printf("consumer: %llu received, %s\n",
           (unsigned long long)c->received,
           c->out_of_order ? "OUT OF ORDER" : "each source in order");
    tr_node_stop(tr_node_of(ctx));
  }
  return 0;
}

static const tr_actor_type CONSUMER = {
    .name = "consumer", .state_size = sizeof(consumer),
    .receive = consumer_receive};

/* ---- the producer actor ---------------------------------------------------- */

typedef struct {
  uint32_t next;
  uint64_t efull, writable;
} producer;

/* Sends until the consumer is full, then asks to be told when it has room. */
static void pump(tr_ctx *ctx, producer *p) {
  while (p->next < PER_SOURCE) {
    item it = {0, p->next};
    int rc = tr_send(ctx, "consumer", &it, sizeof(it));
    if (rc == TR_EFULL) { /* nothing was queued: wait for room */
      p->efull++;
      tr_send_notify(ctx, "consumer");
      return;
    }
    if (rc != 0) {
      fprintf(stderr, "flow: error: send: %s\n", tr_strerror(rc));
      return;
    }
    p->next++;
  }
  printf("producer actor: %u sent, %llu TR_EFULL, %llu TR_MSG_WRITABLE\n",
         p->next, (unsigned long long)p->efull,
         (unsigned long long)p->writable);
}

static int producer_receive(tr_ctx *ctx, void *state, const tr_envelope *env) {
  producer *p = state;
  if (env->type == TR_MSG_WRITABLE) {
    if (env->status != 0) { /* the consumer is gone */
      fprintf(stderr, "flow: error: consumer: %s\n", tr_strerror(env->status));
      return 0;
    }
    p->writable++;
  }
  pump(ctx, p); /* "start", or room again */
  return 0;
}

static const tr_actor_type PRODUCER = {
    .name = "producer", .state_size = sizeof(producer),
    .receive = producer_receive};

/* ---- the producer thread --------------------------------------------------- */

typedef struct {
  tr_node *node;
  uint64_t efull, waits;
  int error;
} feeder;

static void *feeder_main(void *arg) {
  feeder *f = arg;
  for (uint32_t seq = 0; seq < PER_SOURCE;) {
    item it = {1, seq};
    int rc = tr_node_send_threadsafe(f->node, "consumer", &it, sizeof(it));
    if (rc == 0) {
      seq++;
      continue;
    }
    if (rc == TR_EFULL) {
      f->efull++;
      rc = tr_node_wait_writable(f->node, "consumer", 10000);
      if (rc == 0) {
        f->waits++;
        continue;
      }
    }
    f->error = rc;
    return NULL;
  }
  return NULL;
}

int main(void) {
  tr_node_config cfg = {.name = "flow"};
  tr_node *node = NULL;
  int rc = tr_node_new(&node, &cfg);
  if (rc != 0) {
    fprintf(stderr, "flow: error: tr_node_new: %s\n", tr_strerror(rc));
    return 1;
  }
  tr_spawn_opts c = {.id = "consumer", .capacity = CAPACITY};
  tr_spawn_opts p = {.id = "producer"};
  if ((rc = tr_node_spawn(node, &CONSUMER, &c)) != 0 ||
      (rc = tr_node_spawn(node, &PRODUCER, &p)) != 0 ||
      (rc = tr_node_send(node, "producer", "start", 5)) != 0) {
    fprintf(stderr, "flow: error: setup: %s\n", tr_strerror(rc));
    tr_node_free(node);
    return 1;
  }
  feeder f = {.node = node};
  pthread_t th;
  if (pthread_create(&th, NULL, feeder_main, &f) != 0) {
    fprintf(stderr, "flow: error: pthread_create\n");
    tr_node_free(node);
    return 1;
  }
  tr_node_run(node); /* until the consumer has everything */
  pthread_join(th, NULL);
  printf("producer thread: %u sent, %llu TR_EFULL, %llu waits%s%s\n",
         PER_SOURCE, (unsigned long long)f.efull,
         (unsigned long long)f.waits, f.error ? ", error " : "",
         f.error ? tr_strerror(f.error) : "");
  tr_node_stats s;
  tr_node_stats_get(node, &s);
  uint64_t dead = 0;
  for (int r = 0; r < TR_DL_COUNT; r++)
    if (r != TR_DL_REJECTED_FULL) dead += s.dead[r];
  printf("summary: delivered=%llu dead_letters=%llu refused_full=%llu\n",
         (unsigned long long)s.delivered, (unsigned long long)dead,
         (unsigned long long)s.dead[TR_DL_REJECTED_FULL]);
  tr_node_free(node);
  return f.error ? 1 : 0;
}
