/* fuzz_spawn.c — a `--spawn TYPE[:ID[:ARG]]` spec: split
 * (spawn_spec_parse) and, when it names the type "fz", spawned on a local
 * node as `troupe run` would (id and argument as given), then stopped. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "fuzz.h"
#include "spawn_spec.h"
#include "troupe.h"

static tr_node *fz_node;
static volatile size_t fz_sink;

/* Reads its argument whole, as a plugin's init would. */
static int fz_init(tr_ctx *ctx, void *state, const void *arg) {
  (void)ctx, (void)state;
  fz_sink += arg ? strlen(arg) : 0;
  return 0;
}

static int fz_receive(tr_ctx *ctx, void *state, const tr_envelope *env) {
  (void)ctx, (void)state, (void)env;
  return 0;
}

static const tr_actor_type fz_type = {.name = "fz", .init = fz_init,
                                      .receive = fz_receive};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  if (tr_node_new(&fz_node, NULL) != 0) exit(1);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  spawn_spec *sp = malloc(sizeof(*sp));
  if (!text || !sp) goto out;
  memcpy(text, data, size);
  text[size] = '\0';
  if (spawn_spec_parse(sp, text) != 0 || strcmp(sp->type, "fz") != 0)
    goto out;
  char id[TR_ID_MAX + 1];
  tr_spawn_opts o = {.id = sp->id, .arg = sp->arg, .id_out = id,
                     .id_out_size = sizeof(id)};
  if (tr_node_spawn(fz_node, &fz_type, &o) == 0) {
    (void)tr_node_stop_actor(fz_node, id);
    for (int i = 0; i < 4; i++) uv_run(tr_node_loop(fz_node), UV_RUN_NOWAIT);
  }
out:
  free(sp);
  free(text);
  return 0;
}
