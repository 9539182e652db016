/* cmd_run.c — `troupe run`: one node from flags, environment and a config
 * file (config.h), with actor types from plugins (plugin.h), the actors
 * to spawn at start, an optional metrics endpoint (http.h), logs on stderr
 * (log.h), and signals: SIGTERM/SIGINT leave the cluster and exit,
 * SIGHUP reloads the certificates and the log level. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "admin_path.h"
#include "config.h"
#include "daemon.h"
#include "http.h"
#include "inspector.h"
#include "log.h"
#include "plugin.h"
#include "spawn_spec.h"
#include "troupe.h"

/* After the first SIGTERM/SIGINT the node has this long to leave and tear
 * down; then the process exits 1 (the SIGALRM watchdog below). */
#define RUN_STOP_TIMEOUT_S 5
#define RUN_LOG_FLUSH_MS 5000

static const char RUN_USAGE_HEAD[] =
    "usage: troupe run [--config FILE] [flags]\n"
    "\n"
    "Runs one troupe node until SIGTERM or SIGINT. Without --listen it is\n"
    "the local single-node mode; with --listen it is a cluster node and\n"
    "needs --ca, --cert and --key (make them with `troupe cert`).\n"
    "Precedence: flags > environment (TROUPE_*) > config file. A list key\n"
    "(seed, tag, plugin, spawn) given in a higher place replaces the lower\n"
    "places' list. Flags take `--key VALUE` or `--key=VALUE`; seed, tag and\n"
    "plugin values may be comma lists; TROUPE_SPAWN separates spawns with\n"
    "spaces. Unknown TROUPE_* variables are ignored.\n"
    "\n";

static const char RUN_USAGE_TAIL[] =
    "\n"
    "  --check           check the configuration as troupe run would take\n"
    "                    it (keys, files, certificates, policy, plugins,\n"
    "                    spawn types, addresses), print it and exit: 0 good,\n"
    "                    2 not; nothing is listened on or spawned\n"
    "\n"
    "signals:\n"
    "  SIGTERM, SIGINT  leave the cluster (peers see the node left, not\n"
    "                   dead) and exit 0; exit 1 if that takes over 5 s;\n"
    "                   a second signal exits 1 at once\n"
    "  SIGHUP           reload the CA, certificate, key and revocation list\n"
    "                   (links stay up, but revoked peers' are closed),\n"
    "                   the policy (a bad one is logged, the old one kept)\n"
    "                   and the log level from the config file (unless a\n"
    "                   flag or TROUPE_LOG_LEVEL sets it)\n"
    "\n"
    "cluster-name is a label only: it is logged and printed at start. What\n"
    "keeps nodes of different clusters apart is the CA; give each cluster\n"
    "its own CA.\n"
    "\n"
    "exit status: 0 after a signal, 2 for bad flags, configuration, files,\n"
    "plugins, spawns, certificates or an address in use, 1 otherwise.\n";

typedef struct run_daemon {
  run_config cfg;
  log_sink *log;
  tr_node *node;
  plugin_set *plugins;
  http_server *http;
  http_server *ui;   /* the inspector's server (--ui) */
  inspector *inspector;
  log_ring *lines;   /* the last log lines, for the inspector */
  uv_signal_t sig_term, sig_int, sig_hup;
  uv_timer_t flush;
  int nsignals; /* SIGTERM/SIGINT seen */
  /* The last error line the node logged: why tr_node_new failed. */
  char last_error[512];
  char admin_path[256]; /* the admin socket; "" none */
  bool admin_default;   /* in the default place, not configured */
} run_daemon;

/* The node's tr_log_fn: remembers the last error, then the sink. */
static void run_log_fn(void *user, tr_log_level level, const char *event,
                       const char *fields) {
  run_daemon *d = user;
  if (level == TR_LOG_ERROR)
    snprintf(d->last_error, sizeof(d->last_error), "%s %s", event,
             fields ? fields : "");
  log_ring_add(d->lines, level, event, fields);
  log_sink_write(d->log, level, event, fields);
}

/* The daemon's own lines go through the same sink and level filter. */
static void run_log(run_daemon *d, tr_log_level level, const char *event,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void run_log(run_daemon *d, tr_log_level level, const char *event,
                    const char *fmt, ...) {
  if (level > d->cfg.log_level) return;
  char fields[1024];
  va_list ap;
  va_start(ap, fmt);
  tr_log_vfields(fields, sizeof(fields), fmt, ap);
  va_end(ap);
  log_ring_add(d->lines, level, event, fields);
  log_sink_write(d->log, level, event, fields);
}

/* ---- signals ------------------------------------------------------------ */

/* The watchdog: async-signal-safe, so write(2) and _exit(2) only. */
static void run_on_alarm(int sig) {
  (void)sig;
  static const char msg[] =
      "troupe run: the node did not stop within 5 s, exiting\n";
  ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
  (void)w;
  _exit(TROUPE_EXIT_ERROR);
}

static void run_on_stop_signal(uv_signal_t *h, int signum) {
  run_daemon *d = h->data;
  if (++d->nsignals > 1) {
    fprintf(stderr, "troupe run: second signal (%s), exiting now\n",
            signum == SIGINT ? "SIGINT" : "SIGTERM");
    fflush(NULL);
    _exit(TROUPE_EXIT_ERROR);
  }
  run_log(d, TR_LOG_INFO, "run_stopping", "signal=%s timeout_s=%d",
          signum == SIGINT ? "SIGINT" : "SIGTERM", RUN_STOP_TIMEOUT_S);
  struct sigaction sa = {.sa_handler = run_on_alarm};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, NULL);
  alarm(RUN_STOP_TIMEOUT_S);
  tr_node_stop(d->node);
}

static void run_on_hup(uv_signal_t *h, int signum) {
  run_daemon *d = h->data;
  const char *tls = "local";
  if (d->cfg.listen)
    tls = tr_node_reload_tls(d->node) == 0 ? "reloaded" : "kept_old";
  const char *pol = "none";
  if (d->cfg.policy)
    pol = tr_node_reload_policy(d->node) == 0 ? "reloaded" : "kept_old";
  char err[512];
  tr_log_level level;
  if (run_config_reload_log_level(&d->cfg, &level, err, sizeof(err)) != 0) {
    run_log(d, TR_LOG_WARN, "run_reload_config_failed", "reason=%s",
            err);
    level = d->cfg.log_level;
  }
  /* Logged at the old level first, so a reload that lowers it is seen. */
  run_log(d, TR_LOG_INFO, "run_reloaded", "tls=%s policy=%s log_level=%s",
          tls, pol, run_log_level_name(level));
  d->cfg.log_level = level;
  tr_node_set_log_level(d->node, level);
}

static void run_on_flush(uv_timer_t *t) {
  run_daemon *d = t->data;
  log_sink_flush(d->log);
}

static int run_handles_start(run_daemon *d) {
  uv_loop_t *loop = tr_node_loop(d->node);
  uv_signal_t *sigs[] = {&d->sig_term, &d->sig_int, &d->sig_hup};
  int nums[] = {SIGTERM, SIGINT, SIGHUP};
  for (int i = 0; i < 3; i++) {
    uv_signal_init(loop, sigs[i]);
    sigs[i]->data = d;
    int rc = uv_signal_start(sigs[i],
                             nums[i] == SIGHUP ? run_on_hup
                                               : run_on_stop_signal,
                             nums[i]);
    if (rc != 0) return rc;
  }
  uv_timer_init(loop, &d->flush);
  d->flush.data = d;
  uv_timer_start(&d->flush, run_on_flush, RUN_LOG_FLUSH_MS, RUN_LOG_FLUSH_MS);
  uv_unref((uv_handle_t *)&d->flush);
  return 0;
}

/* Closed before tr_node_free, which runs the loop until their close
 * callbacks (none needed: the handles live in d) have run. */
static void run_handles_close(run_daemon *d) {
  uv_handle_t *hs[] = {(uv_handle_t *)&d->sig_term,
                       (uv_handle_t *)&d->sig_int,
                       (uv_handle_t *)&d->sig_hup, (uv_handle_t *)&d->flush};
  for (int i = 0; i < 4; i++)
    if (hs[i]->loop && !uv_is_closing(hs[i])) uv_close(hs[i], NULL);
}

/* ---- start -------------------------------------------------------------- */

static int run_check_files(const run_config *c, char *err, size_t errlen) {
  if (c->policy) { /* a local node may have one too */
    FILE *f = fopen(c->policy, "r");
    if (!f) {
      snprintf(err, errlen, "policy %s: %s", c->policy, strerror(errno));
      return TROUPE_EXIT_USAGE;
    }
    fclose(f);
  }
  if (!c->listen) {
    const char *stray = c->nseeds ? "seed" : c->ntags ? "tag"
                      : c->advertise ? "advertise"
                      : c->ca     ? "ca"   : c->cert      ? "cert"
                      : c->key    ? "key"  : c->crl ? "crl" : NULL;
    if (stray) {
      snprintf(err, errlen, "%s needs listen (without listen the node runs "
               "alone, in local mode)", stray);
      return TROUPE_EXIT_USAGE;
    }
    return 0;
  }
  const char *missing = !c->ca ? "ca" : !c->cert ? "cert" : !c->key ? "key"
                                                                   : NULL;
  if (missing) {
    snprintf(err, errlen, "a cluster node (listen) needs ca, cert and key; "
             "%s is not set", missing);
    return TROUPE_EXIT_USAGE;
  }
  const char *files[][2] = {{"ca", c->ca}, {"cert", c->cert},
                            {"key", c->key}, {"crl", c->crl}};
  for (int i = 0; i < 4; i++) {
    if (!files[i][1]) continue; /* crl is optional */
    FILE *f = fopen(files[i][1], "r");
    if (!f) {
      snprintf(err, errlen, "%s %s: %s", files[i][0], files[i][1],
               strerror(errno));
      return TROUPE_EXIT_USAGE;
    }
    fclose(f);
  }
  return 0;
}

/* "TYPE[:ID[:ARG]]": an empty ID asks for a generated one. */
static int run_spawn(run_daemon *d, const char *spec, char *id_out,
                     size_t id_cap, char *err, size_t errlen) {
  spawn_spec sp;
  if (spawn_spec_parse(&sp, spec) != 0) {
    snprintf(err, errlen, "spawn: spec longer than %d bytes",
             SPAWN_SPEC_MAX - 1);
    return TROUPE_EXIT_USAGE;
  }
  const tr_actor_type *t = plugin_type(d->plugins, sp.type);
  if (!t) {
    char names[512];
    plugin_type_names(d->plugins, names, sizeof(names));
    snprintf(err, errlen, "spawn %s: no actor type '%s' (loaded: %s)", spec,
             sp.type, *names ? names : "none, load one with --plugin");
    return TROUPE_EXIT_USAGE;
  }
  tr_spawn_opts o = {.id = sp.id, .arg = sp.arg, .id_out = id_out,
                     .id_out_size = id_cap};
  int rc = tr_node_spawn(d->node, t, &o);
  if (rc != 0) {
    snprintf(err, errlen, "spawn %s: %s (%s)", spec, tr_errname(rc),
             tr_strerror(rc));
    return TROUPE_EXIT_USAGE;
  }
  return 0;
}

/* Appends ",item" (or "item") to a bounded buffer. */
static void list_add(char *buf, size_t cap, const char *item) {
  size_t o = strlen(buf);
  if (o + 1 < cap)
    snprintf(buf + o, cap - o, "%s%s", o ? "," : "", item);
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* A node holds a socket per peer it talks to, plus operators and scrapes:
 * the usual soft limit of 1,024 descriptors would cap a cluster near that
 * size. Raise it to the hard limit, as servers commonly do. */
static unsigned long long run_raise_nofile(run_daemon *d) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rlim_t want = rl.rlim_max;
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
      run_log(d, TR_LOG_WARN, "nofile_not_raised", "error=%s",
              strerror(errno));
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur == RLIM_INFINITY ? 0 : (unsigned long long)rl.rlim_cur;
}

/* The plugins' actor types, for the node. */
static int run_load_plugins(run_daemon *d, char *err, size_t errlen) {
  if (plugin_set_new(&d->plugins, d->node) != 0) {
    snprintf(err, errlen, "out of memory");
    return TROUPE_EXIT_ERROR;
  }
  for (size_t i = 0; i < d->cfg.nplugins; i++)
    if (plugin_load(d->plugins, d->cfg.plugins[i], err, errlen) != 0)
      return TROUPE_EXIT_USAGE;
  return 0;
}

/* The inspector shows every actor id of the cluster and acts on them: on
 * loopback it is plain HTTP (sessions from `troupe ui-login` to act);
 * anywhere else HTTPS on the node's certificate, for clients with an
 * operator or viewer certificate of the cluster CA (docs/inspector.md,
 * Access). */
static bool addr_is_loopback(const char *addr) {
  return strncmp(addr, "127.", 4) == 0 || strncmp(addr, "[::1]:", 6) == 0;
}

/* A local node has no certificates: its inspector stays on loopback. The
 * same check for run and --check. */
static int run_ui_check(const run_config *c, char *err, size_t errlen) {
  if (!c->ui || addr_is_loopback(c->ui) || c->listen) return 0;
  snprintf(err, errlen, "ui %s: a local node (no --listen) serves the "
           "inspector on loopback only: beyond it the inspector is HTTPS "
           "with the node's certificate, which only a cluster node has "
           "(--listen, --ca, --cert, --key; docs/inspector.md, Access)",
           c->ui);
  return TROUPE_EXIT_USAGE;
}

/* The admin socket's path: configured, "off", or the default place for
 * this node's name (where the operator verbs look). A default place that
 * cannot be used leaves the node without one, said in the log. */
static void run_admin_path(run_daemon *d) {
  const char *a = d->cfg.admin_socket;
  d->admin_path[0] = '\0';
  d->admin_default = false;
  if (a && strcmp(a, "off") == 0) return;
  if (a) {
    snprintf(d->admin_path, sizeof(d->admin_path), "%s", a);
    return;
  }
  char host[256] = "localhost", why[256];
  if (!d->cfg.name && gethostname(host, sizeof(host)) == 0)
    host[sizeof(host) - 1] = '\0';
  if (admin_default_path(d->cfg.name ? d->cfg.name : host, d->admin_path,
                         sizeof(d->admin_path), why, sizeof(why)) != 0) {
    run_log(d, TR_LOG_WARN, "admin_socket_off", "reason=\"%s\"", why);
    d->admin_path[0] = '\0';
    return;
  }
  d->admin_default = true;
}

static int run_ui_start(run_daemon *d, char *err, size_t errlen) {
  const char *addr = d->cfg.ui;
  bool loopback = addr_is_loopback(addr);
  if (!d->lines || inspector_new(&d->inspector, d->node, run_log_fn, d,
                                 d->lines) != 0) {
    snprintf(err, errlen, "out of memory");
    return TROUPE_EXIT_ERROR;
  }
  /* On loopback every client is on this host: a cap per address would be
   * the whole cap, and streams hold connections for good. Elsewhere each
   * address gets the default share. */
  http_opts ho = {.addr = addr, .log = run_log_fn, .log_user = d,
                  .route = inspector_route, .route_user = d->inspector,
                  .max_conns = 64, .max_per_client = loopback ? 64 : 0,
                  .tls = !loopback};
  char herr[256] = "";
  if (http_start(&d->ui, d->node, &ho, herr, sizeof(herr)) != 0) {
    snprintf(err, errlen, "ui: %s", herr[0] ? herr : "cannot listen");
    return TROUPE_EXIT_USAGE;
  }
  return 0;
}

static int run_start(run_daemon *d, char *err, size_t errlen) {
  run_config *c = &d->cfg;
  int rc = run_check_files(c, err, errlen);
  if (rc == 0) rc = run_ui_check(c, err, errlen);
  if (rc != 0) return rc;

  log_opts lo = {.format = c->log_format == RUN_LOG_JSON ? LOG_FORMAT_JSON
                                                         : LOG_FORMAT_LOGFMT};
  if (log_sink_new(&d->log, &lo) != 0) {
    snprintf(err, errlen, "out of memory");
    return TROUPE_EXIT_ERROR;
  }
  /* With the inspector, the last lines are kept for its log tail: from
   * the first, so the node's start is in it. */
  if (c->ui && log_ring_new(&d->lines, 0) != 0) {
    snprintf(err, errlen, "out of memory");
    return TROUPE_EXIT_ERROR;
  }
  unsigned long long nofile = run_raise_nofile(d);
  tr_node_config nc = {
      .name = c->name,
      .listen = c->listen,
      .advertise = c->advertise,
      .seeds = (const char *const *)c->seeds,
      .nseeds = c->nseeds,
      .tags = (const char *const *)c->tags,
      .ntags = c->ntags,
      .ca_file = c->ca,
      .cert_file = c->cert,
      .key_file = c->key,
      .crl_file = c->crl,
      .policy_file = c->policy,
      .log = run_log_fn,
      .log_user = d,
      .log_level = c->log_level,
      .max_members = c->max_members,
      .max_pending_conns = c->max_pending_conns,
      .handshake_timeout_ms = c->handshake_timeout_ms,
      .max_op_conns = c->max_op_conns,
      .max_dials = c->max_dials,
      .op_idle_timeout_ms = c->op_idle_timeout_ms,
      .max_op_subs = c->max_op_subs,
      .memory_budget = (size_t)c->memory_budget_mib << 20,
      .member_retention_ms = c->member_retention_s * 1000u,
  };
  run_admin_path(d);
  nc.admin_socket = d->admin_path[0] ? d->admin_path : NULL;
  rc = tr_node_new(&d->node, &nc);
  if (rc == TR_EEXIST && d->admin_default &&
      strstr(d->last_error, "admin_socket_failed")) {
    /* Another node of this name on this host holds the default place:
     * this one goes without (a configured path is not given up on). */
    run_log(d, TR_LOG_WARN, "admin_socket_off",
            "reason=\"%s is another node's\" hint=\"set admin-socket\"",
            d->admin_path);
    d->admin_path[0] = '\0';
    d->last_error[0] = '\0';
    nc.admin_socket = NULL;
    rc = tr_node_new(&d->node, &nc);
  }
  if (rc != 0) {
    snprintf(err, errlen, "cannot start the node: %s (%s)%s%s",
             tr_errname(rc), tr_strerror(rc), d->last_error[0] ? ": " : "",
             d->last_error);
    return rc == TR_ENOMEM ? TROUPE_EXIT_ERROR : TROUPE_EXIT_USAGE;
  }
  if ((rc = run_load_plugins(d, err, errlen)) != 0) return rc;

  char actors[1024] = "";
  for (size_t i = 0; i < c->nspawns; i++) {
    char id[TR_ID_MAX + 1];
    rc = run_spawn(d, c->spawns[i], id, sizeof(id), err, errlen);
    if (rc != 0) return rc;
    list_add(actors, sizeof(actors), id);
  }

  if (c->metrics) {
    http_opts ho = {.addr = c->metrics, .log = run_log_fn, .log_user = d};
    char herr[256] = "";
    rc = http_start(&d->http, d->node, &ho, herr, sizeof(herr));
    if (rc != 0) {
      if (herr[0])
        snprintf(err, errlen, "metrics: %s", herr);
      else
        snprintf(err, errlen, "metrics %s: %s", c->metrics, tr_strerror(rc));
      return TROUPE_EXIT_USAGE;
    }
  }
  if (c->ui) {
    rc = run_ui_start(d, err, errlen);
    if (rc != 0) return rc;
  }
  if (run_handles_start(d) != 0) {
    snprintf(err, errlen, "cannot install signal handlers");
    return TROUPE_EXIT_ERROR;
  }

  /* The start line: stdout for people, the log for machines. */
  char plugins[1024] = "", seeds[1024] = "", advertise[160] = "";
  for (size_t i = 0; i < c->nplugins; i++)
    list_add(plugins, sizeof(plugins), base_name(c->plugins[i]));
  for (size_t i = 0; i < c->nseeds; i++)
    list_add(seeds, sizeof(seeds), c->seeds[i]);
  if (c->listen) {
    const char *addr = tr_node_address(d->node);
    if (addr) snprintf(advertise, sizeof(advertise), "%s", addr);
  }
  const char *name = tr_node_name(d->node);
  const char *cluster = c->cluster_name ? c->cluster_name : "-";
  if (c->listen)
    printf("troupe run: name=%s mode=cluster cluster=%s listen=%s "
           "advertise=%s seeds=%s plugins=%s actors=%s metrics=%s ui=%s "
           "admin=%s\n",
           name, cluster, c->listen, advertise[0] ? advertise : "-",
           seeds[0] ? seeds : "-", plugins[0] ? plugins : "-",
           actors[0] ? actors : "-", c->metrics ? c->metrics : "off",
           c->ui ? c->ui : "off", d->admin_path[0] ? d->admin_path : "off");
  else
    printf("troupe run: name=%s mode=local cluster=%s plugins=%s actors=%s "
           "metrics=%s ui=%s admin=%s\n",
           name, cluster, plugins[0] ? plugins : "-",
           actors[0] ? actors : "-", c->metrics ? c->metrics : "off",
           c->ui ? c->ui : "off", d->admin_path[0] ? d->admin_path : "off");
  fflush(stdout);
  run_log(d, TR_LOG_INFO, "run_started",
          "name=%s mode=%s cluster=%s listen=%s advertise=%s plugins=%s "
          "actors=%s metrics=%s nofile=%llu pid=%ld",
          name, c->listen ? "cluster" : "local", cluster,
          c->listen ? c->listen : "-", advertise[0] ? advertise : "-",
          plugins[0] ? plugins : "-", actors[0] ? actors : "-",
          c->metrics ? c->metrics : "off", nofile, (long)getpid());
  return 0;
}

/* Tear-down in reverse: the HTTP server and our handles close on the
 * node's loop, the node frees (and drains the loop), then the plugins
 * whose code the actors ran. */
static void run_free(run_daemon *d) {
  http_stop(d->http);
  http_stop(d->ui); /* ends the inspector's requests, then it goes */
  inspector_free(d->inspector);
  if (d->node) run_handles_close(d);
  tr_node_free(d->node);
  plugin_set_free(d->plugins);
  log_sink_free(d->log);
  log_ring_free(d->lines); /* after the node: it logs until freed */
  run_config_free(&d->cfg);
}

static int run_usage(void) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return -1;
  fputs(RUN_USAGE_HEAD, f);
  run_config_help(f);
  fputs(RUN_USAGE_TAIL, f);
  fclose(f);
  fputs(text, stdout);
  free(text);
  return 0;
}

/* A copy of addr ("host:port") with port 0: what --check listens on, so it
 * checks the host while a node may hold the port. NULL when out of memory;
 * addr as is when it has no port. */
static char *port_zero(const char *addr) {
  const char *colon = strrchr(addr, ':');
  size_t keep = colon ? (size_t)(colon - addr) : strlen(addr);
  char *out = malloc(keep + 3);
  if (!out) return NULL;
  memcpy(out, addr, keep);
  snprintf(out + keep, 3, "%s", colon ? ":0" : "");
  return out;
}

/* troupe run --check: the configuration as run_start would take it, up to
 * a node that is made (certificates, policy) and freed, and without
 * listening on the configured ports or spawning. */
static int run_check(run_daemon *d, char *err, size_t errlen) {
  run_config *c = &d->cfg;
  int rc = run_check_files(c, err, errlen);
  if (rc != 0) return rc;
  if ((rc = run_ui_check(c, err, errlen)) != 0) return rc;
  char *listen = c->listen ? port_zero(c->listen) : NULL;
  if (c->listen && !listen) {
    snprintf(err, errlen, "out of memory");
    return TROUPE_EXIT_ERROR;
  }
  tr_node_config nc = {.name = c->name, .listen = listen,
                       .advertise = c->advertise, .ca_file = c->ca,
                       .cert_file = c->cert, .key_file = c->key,
                       .crl_file = c->crl, .policy_file = c->policy,
                       .tags = (const char *const *)c->tags,
                       .ntags = c->ntags,
                       .log = run_log_fn, .log_user = d,
                       .log_level = TR_LOG_ERROR};
  if (log_sink_new(&d->log, &(log_opts){0}) != 0) {
    free(listen);
    snprintf(err, errlen, "out of memory");
    return TROUPE_EXIT_ERROR;
  }
  rc = tr_node_new(&d->node, &nc);
  free(listen);
  if (rc != 0) {
    snprintf(err, errlen, "%s (%s)%s%s", tr_errname(rc), tr_strerror(rc),
             d->last_error[0] ? ": " : "", d->last_error);
    return TROUPE_EXIT_USAGE;
  }
  if ((rc = run_load_plugins(d, err, errlen)) != 0) return rc;
  for (size_t i = 0; i < c->nspawns; i++) {
    spawn_spec sp;
    if (spawn_spec_parse(&sp, c->spawns[i]) != 0 ||
        !plugin_type(d->plugins, sp.type)) {
      snprintf(err, errlen, "spawn %s: no actor type '%.64s'", c->spawns[i],
               spawn_spec_parse(&sp, c->spawns[i]) == 0 ? sp.type : "?");
      return TROUPE_EXIT_USAGE;
    }
  }
  printf("troupe run --check: ok: name=%s mode=%s listen=%s plugins=%zu "
         "spawns=%zu metrics=%s ui=%s policy=%s\n",
         tr_node_name(d->node), c->listen ? "cluster" : "local",
         c->listen ? c->listen : "-", c->nplugins, c->nspawns,
         c->metrics ? c->metrics : "off", c->ui ? c->ui : "off",
         c->policy ? c->policy : "none");
  return 0;
}

int cmd_run(int argc, char **argv) {
  /* --help needs the generated key list, so look for it before the common
   * helper, which prints a fixed text. */
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      run_usage();
      return TROUPE_EXIT_OK;
    }
  }
  if (daemon_help_or_version(argc, argv, RUN_USAGE_HEAD))
    return TROUPE_EXIT_OK;
  /* Plugins print to stdout; keep lines whole and prompt in pipes. */
  setvbuf(stdout, NULL, _IOLBF, 0);

  /* --check takes no value: taken out before the configuration's flags. */
  bool check = false;
  int n = 0;
  for (int i = 0; i < argc; i++) {
    if (i > 0 && strcmp(argv[i], "--check") == 0) check = true;
    else argv[n++] = argv[i];
  }
  argc = n;
  run_daemon d = {0};
  char err[1024] = "";
  int rc = run_config_load(&d.cfg, argc, argv, err, sizeof(err));
  if (rc != 0) {
    fprintf(stderr, "troupe run: %s\n", err);
    return rc;
  }
  if (check) {
    rc = run_check(&d, err, sizeof(err));
    if (rc != 0) fprintf(stderr, "troupe run --check: %s\n", err);
    run_free(&d);
    return rc;
  }
  rc = run_start(&d, err, sizeof(err));
  if (rc == 0) {
    tr_node_run(d.node);
    run_log(&d, TR_LOG_INFO, "run_stopped", "name=%s",
            tr_node_name(d.node));
  } else {
    fprintf(stderr, "troupe run: %s\n", err);
  }
  run_free(&d);
  alarm(0);
  return rc;
}
