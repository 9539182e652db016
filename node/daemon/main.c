/* main.c — `troupe VERB [flags]`: dispatches to the verb; `troupe --help`
 * lists the verbs, `troupe --version` prints the version. */
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "troupe.h"

const daemon_verb daemon_verbs[] = {
    {"cert", "create the cluster CA and node or client certificates",
     cmd_cert},
    {"run", "run a node: config, plugins, actors, metrics", cmd_run},
    {"members", "list the cluster's members and their states", cmd_members},
    {"actors", "list the registered actors and their nodes", cmd_actors},
    {"groups", "list the groups, their members and nodes", cmd_groups},
    {"send", "send data to an actor (or one member of a group)", cmd_send},
    {"ask", "ask an actor (or one member of a group), print the reply",
     cmd_ask},
    {"sub", "print what an actor publishes until interrupted", cmd_sub},
    {"pub", "publish data on a topic as an operator publisher (operators)",
     cmd_pub},
    {"monitor", "stream a node's log and cluster events (operators)",
     cmd_monitor},
    {"stats", "print a node's counters", cmd_stats},
    {"health", "exit 0 when a node is alive and ready", cmd_health},
    {"info", "what a node is: version, address, uptime, certificate",
     cmd_info},
    {"join", "have a node join the cluster of another (operators)",
     cmd_join},
    {"leave", "have a node leave the cluster and stop (operators)",
     cmd_leave},
    {"force-leave", "have a node forget a dead member now (operators)",
     cmd_force_leave},
    {"ui-login", "get a web inspector session (operator or viewer)",
     cmd_ui_login},
    {"version", "print the version (--json: as JSON)", cmd_version},
    {NULL, NULL, NULL},
};

bool daemon_help_or_version(int argc, char **argv, const char *usage) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) break;
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      fputs(usage, stdout);
      return true;
    }
    if (strcmp(argv[i], "--version") == 0) {
      printf("troupe %s\n", TR_VERSION_STRING);
      return true;
    }
  }
  return false;
}

static void usage(FILE *to) {
  fprintf(to, "usage: troupe VERB [flags]   (troupe VERB --help for more)\n\n"
              "verbs:\n");
  for (const daemon_verb *v = daemon_verbs; v->name; v++)
    fprintf(to, "  %-11s %s\n", v->name, v->summary);
}

int cmd_version(int argc, char **argv) {
  static const char usage[] = "usage: troupe version [--json]\n"
                              "Prints troupe's version.\n";
  if (daemon_help_or_version(argc, argv, usage)) return TROUPE_EXIT_OK;
  bool json = argc == 2 && strcmp(argv[1], "--json") == 0;
  if (argc > 2 || (argc == 2 && !json)) {
    fputs(usage, stderr);
    return TROUPE_EXIT_USAGE;
  }
  if (json)
    printf("{\"version\":\"%s\"}\n", TR_VERSION_STRING);
  else
    printf("troupe %s\n", TR_VERSION_STRING);
  return TROUPE_EXIT_OK;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return TROUPE_EXIT_USAGE;
  }
  if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
      strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return TROUPE_EXIT_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    printf("troupe %s\n", TR_VERSION_STRING);
    return TROUPE_EXIT_OK;
  }
  for (const daemon_verb *v = daemon_verbs; v->name; v++)
    if (strcmp(argv[1], v->name) == 0) return v->run(argc - 1, argv + 1);
  fprintf(stderr, "troupe: unknown verb '%s'\n", argv[1]);
  usage(stderr);
  return TROUPE_EXIT_USAGE;
}
