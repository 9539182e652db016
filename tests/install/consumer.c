/* consumer.c — a program built against an installed troupe, through
 * find_package(troupe) and through pkg-config: one actor, one message. It
 * defines functions with the names of troupe's internals (the engine's,
 * the link's, nanopb's): the libraries export only the tr_ API, so these
 * link, and troupe keeps using its own. */
#include <stdio.h>
#include <troupe.h>

int actor_find(void);
int link_send(void);
int pb_encode(void);
int actor_find(void) { return 1; }
int link_send(void) { return 2; }
int pb_encode(void) { return 3; }

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
  /* The program's own functions of those names. */
  return actor_find() + link_send() + pb_encode() == 6 ? 0 : 1;
}
