/* echo.c — a troupe plugin with one actor type, `echo`: it answers every
 * ask with the same bytes, counts the plain messages sent to it, and
 * answers the ask "count" with that count in decimal. Load it with
 * `troupe run --plugin echo.so --spawn echo:echo1`; with the argument
 * "groups=G1,G2" (`--spawn echo:echo1:groups=workers`) it joins those
 * groups (docs/groups.md), so `troupe ask --group workers hi` finds it. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "troupe_plugin.h"

TR_PLUGIN_DECLARE;

typedef struct {
  uint64_t sends; /* TR_MSG_SEND received */
} echo_state;

/* "groups=G1,G2": joins each; a bad name fails the spawn. */
static int join_groups(tr_ctx *ctx, const char *arg) {
  static const char key[] = "groups=";
  if (!arg || strncmp(arg, key, sizeof(key) - 1) != 0) return 0;
  const char *p = arg + sizeof(key) - 1;
  while (*p) {
    size_t n = strcspn(p, ",");
    char group[TR_GROUP_MAX + 1];
    if (n == 0 || n > TR_GROUP_MAX) return TR_EINVAL;
    memcpy(group, p, n);
    group[n] = '\0';
    int rc = tr_group_join(ctx, group);
    if (rc != 0) {
      fprintf(stderr, "echo: %s cannot join %s: %s\n", tr_self(ctx), group,
              tr_strerror(rc));
      return rc;
    }
    p += n + (p[n] == ',');
  }
  return 0;
}

static int echo_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)st;
  int rc = join_groups(ctx, arg);
  if (rc != 0) return rc;
  printf("echo: %s ready\n", tr_self(ctx));
  fflush(stdout);
  return 0;
}

static int echo_receive(tr_ctx *ctx, void *st, const tr_envelope *env) {
  echo_state *s = st;
  switch (env->type) {
  case TR_MSG_SEND:
    s->sends++;
    return 0;
  case TR_MSG_ASK:
    if (env->len == 5 && memcmp(env->data, "count", 5) == 0) {
      char buf[24];
      int n = snprintf(buf, sizeof(buf), "%" PRIu64, s->sends);
      tr_reply(ctx, env, buf, (size_t)n);
    } else {
      tr_reply(ctx, env, env->data, env->len);
    }
    return 0; /* a reply too late (TR_ETIMEDOUT) is the asker's loss */
  default:
    return 0;
  }
}

static const tr_actor_type echo_type = {
    .name = "echo",
    .state_size = sizeof(echo_state),
    .init = echo_init,
    .receive = echo_receive,
};

int tr_plugin_init(const tr_plugin_host *host) {
  return host->register_type(host->ctx, "echo", &echo_type);
}
