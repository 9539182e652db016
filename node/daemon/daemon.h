/* daemon.h — the `troupe` program: one verb per file (cmd_*.c), each an
 * int cmd_<verb>(int argc, char **argv) getting argv from the verb on
 * (argv[0] is the verb). Exit codes: TROUPE_EXIT_OK, TROUPE_EXIT_ERROR
 * (the cluster or the system said no), TROUPE_EXIT_USAGE (bad flags,
 * config, files). Messages go to stderr as "troupe <verb>: ...". */
#ifndef TR_DAEMON_H
#define TR_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

#define TROUPE_EXIT_OK 0
#define TROUPE_EXIT_ERROR 1
#define TROUPE_EXIT_USAGE 2

typedef struct daemon_verb {
  const char *name;
  const char *summary; /* one line for `troupe --help` */
  int (*run)(int argc, char **argv);
} daemon_verb;

/* The verbs, in the order `troupe --help` lists them (main.c). */
extern const daemon_verb daemon_verbs[];

/* True (and prints the verb's usage to stdout) when argv holds -h/--help;
 * prints the version for --version. Every verb calls this first. */
bool daemon_help_or_version(int argc, char **argv, const char *usage);

int cmd_cert(int argc, char **argv);
int cmd_run(int argc, char **argv);
/* The operator verbs (cmd_ops.c). */
int cmd_members(int argc, char **argv);
int cmd_actors(int argc, char **argv);
int cmd_groups(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_ask(int argc, char **argv);
int cmd_sub(int argc, char **argv);
int cmd_pub(int argc, char **argv);
int cmd_monitor(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_health(int argc, char **argv);
int cmd_ui_login(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_leave(int argc, char **argv);
int cmd_join(int argc, char **argv);
int cmd_force_leave(int argc, char **argv);

#endif /* TR_DAEMON_H */
