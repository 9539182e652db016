/* config.h — the settings of `troupe run`, gathered from three places with
 * one precedence: flags > environment (TROUPE_*) > config file (--config
 * FILE, or TROUPE_CONFIG). Every key has the same name everywhere: flag
 * `--log-level`, variable `TROUPE_LOG_LEVEL`, file line `log-level = info`. */
#ifndef TR_DAEMON_CONFIG_H
#define TR_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "troupe.h"

typedef enum { RUN_LOG_LOGFMT, RUN_LOG_JSON } run_log_format;

/* What `troupe run` was asked to do; every string is owned (strdup) and
 * freed by run_config_free. NULL / 0 means "not set". */
typedef struct run_config {
  char *config_file;
  char *name, *listen, *advertise;
  char *ca, *cert, *key;
  char *crl; /* NULL: no revocation list */
  char *policy; /* NULL: no policy */
  char *cluster_name;
  char *metrics; /* "host:port" (a bare port became 127.0.0.1:PORT); NULL off */
  char *ui;      /* the inspector's "host:port", the same way; NULL off */
  char *admin_socket; /* a path, "off", or NULL: the default place */
  char **seeds;
  size_t nseeds;
  char **tags; /* KEY=VALUE, checked one by one and together */
  size_t ntags;
  char **plugins;
  size_t nplugins;
  char **spawns; /* TYPE[:ID[:ARG]] as given */
  size_t nspawns;
  tr_log_level log_level; /* default TR_LOG_INFO */
  run_log_format log_format;
  /* Where log-level came from, so SIGHUP re-reads it from the file only
   * when neither a flag nor the environment set it. */
  bool log_level_pinned;
  /* Limits; 0: the library's default (tr_node_config). */
  uint32_t max_members, max_pending_conns, handshake_timeout_ms, max_dials;
  uint32_t max_op_conns, op_idle_timeout_ms, max_op_subs;
  uint32_t memory_budget_mib;
  uint32_t member_retention_s;
} run_config;

/* Fills cfg from argv (argv[0] is the verb), the environment and the
 * config file. On failure returns TROUPE_EXIT_USAGE with one line in err
 * ("FILE:LINE: KEY: why", "--flag: why", "TROUPE_X: why") and cfg freed;
 * on success 0 and the caller frees cfg with run_config_free. */
int run_config_load(run_config *cfg, int argc, char **argv, char *err,
                    size_t errlen);
void run_config_free(run_config *cfg);

/* SIGHUP: the log level the configuration gives now (the file is read
 * again unless a flag or the environment pins it). 0 with *level set, or
 * TROUPE_EXIT_USAGE with the reason in err (the caller keeps the old one). */
int run_config_reload_log_level(const run_config *cfg, tr_log_level *level,
                                char *err, size_t errlen);

/* The keys and what they mean, for `troupe run --help`. */
void run_config_help(FILE *to);

const char *run_log_level_name(tr_log_level);

/* Why a tag "KEY=VALUE" is not one tr_node_config.tags takes (static
 * text), or NULL: KEY 1..TR_TAG_KEY_MAX and VALUE 0..TR_TAG_VALUE_MAX
 * bytes of [A-Za-z0-9_.-]. For `run --tag` and `members --tag`. */
const char *run_tag_check(const char *kv);

#endif /* TR_DAEMON_CONFIG_H */
