/* consumer.c — a program built against an installed troupe, through
 * find_package(troupe) and through pkg-config: one actor, one message. */
#include <stdio.h>
#include <troupe.h>

static int on_receive(tr_ctx *ctx, void *state, const tr_envelope *env) {
  printf("consumer: got %.*s\n", (int)env->len, (const char *)env->data);
  tr_node_stop(tr_node_of(ctx));
  return 0;
}

int main(void) {
  static const tr_actor_type type = {.name = "echo", .receive = on_receive};
  tr_node *node;
  if (tr_node_new(&node, NULL) != 0 ||
      tr_node_spawn(node, &type, &(tr_spawn_opts){.id = "echo"}) != 0 ||
      tr_node_send(node, "echo", "hello", 5) != 0)
    return 1;
  tr_node_run(node);
  tr_node_free(node);
  return 0;
}
