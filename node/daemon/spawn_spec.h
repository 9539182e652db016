/* spawn_spec.h — a `--spawn TYPE[:ID[:ARG]]` spec (config key `spawn`,
 * TROUPE_SPAWN) split into its parts. */
#ifndef TR_DAEMON_SPAWN_SPEC_H
#define TR_DAEMON_SPAWN_SPEC_H

#define SPAWN_SPEC_MAX 4096 /* bytes of a spec, its NUL included */

typedef struct spawn_spec {
  char buf[SPAWN_SPEC_MAX]; /* the parts point in here */
  const char *type;         /* never NULL; may be "" */
  const char *id;           /* NULL: a generated one (ID absent or empty) */
  const char *arg;          /* NULL: none; may hold further colons */
} spawn_spec;

/* Splits spec into *out. 0, or TR_ETOOBIG for a spec of SPAWN_SPEC_MAX
 * bytes or more (*out is then unspecified). */
int spawn_spec_parse(spawn_spec *out, const char *spec);

#endif /* TR_DAEMON_SPAWN_SPEC_H */
