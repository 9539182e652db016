/* node.c — the engine's node: its configuration, the loop it runs on,
 * run/stop, the remote layer attached to it, and tear-down; plus the
 * node's log helper. The node assembly (node/assembly) drives the
 * lifecycle; see eng_node.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"

#define DEFAULT_CAPACITY 1024u
#define DEFAULT_MAX_PAYLOAD (1u << 20)
#define DEFAULT_ASK_TIMEOUT_MS 5000u
#define DEFAULT_BATCH 64u
#define DEFAULT_THREADSAFE_MAX 65536u

void eng_vlog(tr_node *n, tr_log_level level, const char *event,
              const char *fmt, va_list ap) {
  if (!n->log || level > n->log_level) return;
  char fields[512];
  tr_log_vfields(fields, sizeof(fields), fmt, ap);
  n->log(n->log_user, level, event, fields);
}

void eng_log(tr_node *n, tr_log_level level, const char *event,
             const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  eng_vlog(n, level, event, fmt, ap);
  va_end(ap);
}

static char *node_default_name(void) {
  char host[256];
  if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
    snprintf(host, sizeof(host), "localhost");
  host[sizeof(host) - 1] = '\0';
  return strdup(host);
}

static int node_check_config(const tr_node_config *cfg) {
  if (cfg->name && (cfg->name[0] == '\0' || strlen(cfg->name) > TR_ID_MAX))
    return TR_EINVAL;
  if (cfg->log_level > TR_LOG_DEBUG) return TR_EINVAL;
  return 0;
}

int eng_node_new(tr_node **out, const tr_node_config *cfg) {
  static const tr_node_config defaults = {0};
  if (!out) return TR_EINVAL;
  *out = NULL;
  if (!cfg) cfg = &defaults;
  int rc = node_check_config(cfg);
  if (rc != 0) return rc;

  tr_node *n = calloc(1, sizeof(*n));
  if (!n) return TR_ENOMEM;
  n->default_capacity = cfg->default_capacity ? cfg->default_capacity
                                              : DEFAULT_CAPACITY;
  n->max_payload = cfg->max_payload ? cfg->max_payload : DEFAULT_MAX_PAYLOAD;
  if (n->max_payload > UINT32_MAX) n->max_payload = UINT32_MAX;
  n->ask_timeout_ms = cfg->ask_timeout_ms ? cfg->ask_timeout_ms
                                          : DEFAULT_ASK_TIMEOUT_MS;
  n->batch = cfg->batch ? cfg->batch : DEFAULT_BATCH;
  n->threadsafe_max = cfg->threadsafe_max ? cfg->threadsafe_max
                                          : DEFAULT_THREADSAFE_MAX;
  /* One slow target takes at most a quarter of the queue by default, so
   * producers to other targets keep going. */
  n->threadsafe_target_max = cfg->threadsafe_target_max
                                 ? cfg->threadsafe_target_max
                                 : (n->threadsafe_max + 3) / 4;
  if (n->threadsafe_target_max > n->threadsafe_max)
    n->threadsafe_target_max = n->threadsafe_max;
  n->user_log = cfg->log;
  n->user_log_user = cfg->log_user;
  n->user_level = cfg->log_level ? cfg->log_level : TR_LOG_WARN;
  eng_log_levels(n);
  atomic_init(&n->stop_requested, false);
  atomic_init(&n->ts_rejected_full, 0);
  atomic_init(&n->ts_rejected_toobig, 0);

  rc = TR_ENOMEM;
  n->name = cfg->name ? strdup(cfg->name) : node_default_name();
  if (!n->name) goto fail_name;
  n->default_topic = eng_name_new("", 0);
  if (!n->default_topic) goto fail_topic;

  if (cfg->loop) {
    n->loop = cfg->loop;
  } else {
    if (uv_loop_init(&n->own_loop) != 0) {
      rc = TR_ESYS;
      goto fail_loop;
    }
    n->loop = &n->own_loop;
    n->owns_loop = true;
  }
  rc = sched_init(n);
  if (rc != 0) goto fail_sched;
  rc = threadsafe_init(n);
  if (rc != 0) goto fail_ts;
  rc = TR_ENOMEM;
  n->system_id = eng_name_new(TR_SYSTEM_PUBLISHER, strlen(TR_SYSTEM_PUBLISHER));
  if (!n->system_id) goto fail_system_id;
  *out = n;
  return 0;

fail_system_id:
  threadsafe_close(n);
fail_ts:
  sched_close(n);
  /* The idle handle lives in n: let its close callback run before free. */
  uv_run(n->loop, n->owns_loop ? UV_RUN_DEFAULT : UV_RUN_NOWAIT);
fail_sched:
  if (n->owns_loop) uv_loop_close(n->loop);
fail_loop:
  eng_name_unref(n->default_topic);
fail_topic:
  free(n->name);
fail_name:
  free(n);
  return rc;
}

int tr_node_run(tr_node *n) {
  if (!n) return TR_EINVAL;
  if (n->running) return TR_ESTATE;
  n->running = true;
  /* A stop requested before run makes run return at once. */
  if (!atomic_exchange(&n->stop_requested, false)) {
    threadsafe_set_loop_thread(n, true);
    uv_ref((uv_handle_t *)&n->async);
    uv_run(n->loop, UV_RUN_DEFAULT);
    uv_unref((uv_handle_t *)&n->async);
    threadsafe_set_loop_thread(n, false);
    atomic_store(&n->stop_requested, false);
  }
  n->running = false;
  return 0;
}

int tr_node_run_once(tr_node *n) {
  if (!n) return TR_EINVAL;
  if (n->running) return TR_ESTATE;
  n->running = true;
  /* The async handle is unreferenced here, so an idle node returns rather
   * than blocking for a wake-up that may never come; and a loop with no
   * referenced handle does not poll at all, so take what other threads
   * queued first. */
  threadsafe_set_loop_thread(n, true);
  threadsafe_drain(n);
  int more = uv_run(n->loop, UV_RUN_ONCE);
  threadsafe_set_loop_thread(n, false);
  n->running = false;
  return more != 0 || n->ready_head != NULL;
}

void tr_node_stop(tr_node *n) {
  if (!n) return;
  atomic_store(&n->stop_requested, true);
  uv_async_send(&n->async);
}

const char *tr_node_name(const tr_node *n) { return n ? n->name : NULL; }

uv_loop_t *tr_node_loop(tr_node *n) { return n ? n->loop : NULL; }

void eng_remote_attach(tr_node *n, const eng_remote_ops *ops, void *user) {
  n->rops = ops;
  n->ruser = user;
}

void *eng_remote_user(tr_node *n) { return n->ruser; }

void eng_remote_detach(tr_node *n) {
  n->rops = NULL;
  n->ruser = NULL;
  n->remote_paused = false;
}


void eng_set_guard(tr_node *n, eng_guard_fn fn, void *user) {
  n->guard = fn;
  n->guard_user = user;
}

void *eng_guard_user(tr_node *n) { return n->guard_user; }

/* Root actors are stopped one by one; each stops its children first. */
static void node_stop_all_actors(tr_node *n) {
  uint32_t cur = 0;
  for (eng_actor *a; (a = atab_next(&n->actors, &cur)); cur = 0) {
    while (a->parent) a = a->parent;
    actor_teardown(a, 0, false);
  }
}

void eng_node_shutdown(tr_node *n) {
  if (n->shut_down) return;
  n->shut_down = true;
  n->freeing = true;
  threadsafe_drain(n); /* queued sends become dead letters or deliveries */
  node_stop_all_actors(n);
}

void eng_node_free(tr_node *n) {
  if (!n) return;
  eng_node_shutdown(n);
  eng_remote_detach(n);
  pubsub_free(n);
  group_free(n);
  ask_free_all(n);
  threadsafe_close(n);
  room_free(n);
  sched_close(n);
  eng_name_unref(n->system_id);
  /* Run the loop until every handle's close callback has run: the
   * engine's, and those of layers that closed theirs on this loop. */
  if (n->owns_loop) {
    uv_run(n->loop, UV_RUN_DEFAULT);
    uv_loop_close(n->loop);
  } else {
    uv_run(n->loop, UV_RUN_NOWAIT);
  }
  pool_free(&n->pool);
  atab_free(&n->actors); /* empty since the shutdown */
  actor_pool_free(n);
  eng_dead_ring_free(n);
  eng_log_taps_free(n);
  restarts_free(n);
  eng_name_unref(n->default_topic);
  free(n->name);
  free(n);
}
