/* cmd_ops.c — the operator verbs (members, actors, groups, send, ask, sub,
 * stats, health, ui-login): parse the common flags, make one request through the public
 * operator client (troupe_ops.h), print the answer (ops_print.c). Exit 1
 * when the cluster says no or the node cannot be asked (down, refused,
 * timed out), 2 for bad flags or files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_path.h"
#include "config.h"
#include "daemon.h"
#include "ops_print.h"
#include "troupe.h"
#include "troupe_inspect.h"
#include "troupe_ops.h"

#define OPS_COMMON_USAGE                                                     \
  "\ncommon flags:\n"                                                        \
  "  --node HOST:PORT  any node's TLS port, or PATH (unix:PATH) a node's\n"  \
  "                    admin socket on this host, no certificate needed\n"   \
  "                    [$TROUPE_OPS_NODE; without it and without a\n"        \
  "                    certificate, the one node's socket in\n"              \
  "                    $XDG_RUNTIME_DIR/troupe or /tmp/troupe-UID; else\n"   \
  "                    127.0.0.1:7000]\n"                                    \
  "  --ca FILE         the cluster CA certificate [$TROUPE_OPS_CA]\n"        \
  "  --cert FILE       a client certificate (troupe cert client NAME)\n"     \
  "                    [$TROUPE_OPS_CERT]\n"                                 \
  "  --key FILE        its key [$TROUPE_OPS_KEY]\n"                          \
  "  --name NAME       the client's name, one its certificate holds (CN or\n" \
  "                    a DNS name) [$TROUPE_OPS_NAME, the CN]\n"             \
  "  --json            JSON output\n"                                        \
  "  --timeout MS      bound on connecting and answering [5000]\n"           \
  "  --verbose         log the link's events to stderr\n"                    \
  "TROUPE_OPS_* are the operator's own settings, apart from troupe run's\n"  \
  "TROUPE_CA/CERT/KEY (a node's): neither program reads the other's.\n"      \
  "\nexit status: 0 ok; 1 the cluster said no, or the node is down, refused\n" \
  "the certificate or did not answer in time; 2 bad flags or files.\n"

typedef struct ops_cli {
  const char *verb;
  tr_op_target t;
  char socket[512]; /* the admin socket found, when --node names none */
  bool json;
  const char *on;    /* actors --on NODE */
  const char *group; /* send, ask --group GROUP */
  const char *pos[2];
  int npos;
} ops_cli;

static const char *level_name(tr_log_level l) {
  return l == TR_LOG_ERROR ? "error"
         : l == TR_LOG_WARN ? "warn"
         : l == TR_LOG_INFO ? "info"
                            : "debug";
}

/* --verbose: the connection's own log lines. */
static void verbose_log(void *user, tr_log_level level, const char *event,
                        const char *fields) {
  (void)user;
  fprintf(stderr, "troupe: link %s %s %s\n", level_name(level), event,
          fields);
}

static const char *env_or(const char *name, const char *dflt) {
  const char *v = getenv(name);
  return v && v[0] ? v : dflt;
}

/* Flags only some verbs take. */
enum { OPS_ON = 1, OPS_GROUP = 2 };

/* Parses argv into o. Returns -1 to go on, or the exit status. */
static int ops_parse(int argc, char **argv, const char *usage, int min_pos,
                     int max_pos, unsigned takes, ops_cli *o) {
  memset(o, 0, sizeof(*o));
  o->verb = argv[0];
  if (daemon_help_or_version(argc, argv, usage)) return TROUPE_EXIT_OK;
  /* The operator's own settings (TROUPE_OPS_*): never the daemon's
   * TROUPE_CA/CERT/KEY, which are a node's, so exporting either set
   * cannot break the other program. */
  o->t.node = env_or("TROUPE_OPS_NODE", "127.0.0.1:7000");
  bool node_set = getenv("TROUPE_OPS_NODE") && getenv("TROUPE_OPS_NODE")[0];
  o->t.ca_file = env_or("TROUPE_OPS_CA", NULL);
  o->t.cert_file = env_or("TROUPE_OPS_CERT", NULL);
  o->t.key_file = env_or("TROUPE_OPS_KEY", NULL);
  o->t.name = env_or("TROUPE_OPS_NAME", NULL);
  o->t.timeout_ms = 5000;
  o->t.stop_on_signals = 1;
  bool flags = true;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (flags && strcmp(a, "--") == 0) {
      flags = false;
      continue;
    }
    if (!flags || a[0] != '-' || a[1] == '\0') {
      if (o->npos >= max_pos) {
        fprintf(stderr, "troupe %s: unexpected argument '%s'\n%s", o->verb, a,
                usage);
        return TROUPE_EXIT_USAGE;
      }
      o->pos[o->npos++] = a;
      continue;
    }
    if (strcmp(a, "--json") == 0) {
      o->json = true;
      continue;
    }
    if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
      o->t.log = verbose_log;
      o->t.log_level = TR_LOG_DEBUG;
      continue;
    }
    /* Flags with a value: --flag VALUE or --flag=VALUE. */
    static const char *const named[] = {"--node",    "--ca", "--cert",
                                        "--key",     "--name", "--timeout",
                                        "--on",      "--group"};
    const char *val = NULL;
    size_t which = sizeof(named) / sizeof(named[0]);
    for (size_t j = 0; j < sizeof(named) / sizeof(named[0]); j++) {
      size_t n = strlen(named[j]);
      if (strncmp(a, named[j], n) != 0) continue;
      if (a[n] == '=') {
        val = a + n + 1;
      } else if (a[n] == '\0') {
        if (i + 1 >= argc) {
          fprintf(stderr, "troupe %s: %s needs a value\n", o->verb, a);
          return TROUPE_EXIT_USAGE;
        }
        val = argv[++i];
      } else {
        continue;
      }
      which = j;
      break;
    }
    if (which == sizeof(named) / sizeof(named[0]) ||
        (which == 6 && !(takes & OPS_ON)) ||
        (which == 7 && !(takes & OPS_GROUP))) {
      fprintf(stderr, "troupe %s: unknown flag '%s'\n%s", o->verb, a, usage);
      return TROUPE_EXIT_USAGE;
    }
    switch (which) {
    case 0: o->t.node = val; node_set = true; break;
    case 1: o->t.ca_file = val; break;
    case 2: o->t.cert_file = val; break;
    case 3: o->t.key_file = val; break;
    case 4: o->t.name = val; break;
    case 5: {
      char *end;
      unsigned long ms = strtoul(val, &end, 10);
      if (!val[0] || *end || val[0] == '-' || ms == 0 || ms > 3600000) {
        fprintf(stderr, "troupe %s: --timeout wants milliseconds, 1 to "
                        "3600000, not '%s'\n", o->verb, val);
        return TROUPE_EXIT_USAGE;
      }
      o->t.timeout_ms = (uint32_t)ms;
      break;
    }
    case 6: o->on = val; break;
    default: o->group = val; break;
    }
  }
  if (o->npos < min_pos) {
    fprintf(stderr, "troupe %s: missing arguments\n%s", o->verb, usage);
    return TROUPE_EXIT_USAGE;
  }
  if (!o->t.node[0]) {
    fprintf(stderr, "troupe %s: --node is empty\n", o->verb);
    return TROUPE_EXIT_USAGE;
  }
  /* No node named and no certificate: the node on this host, through its
   * admin socket (troupe run makes one by default). */
  if (!node_set && !o->t.ca_file && !o->t.cert_file && !o->t.key_file) {
    char all[2048];
    int n = admin_find_one(o->socket, sizeof(o->socket), all, sizeof(all));
    if (n > 1) {
      fprintf(stderr, "troupe %s: several nodes run on this host (%s): say "
              "which with --node PATH\n", o->verb, all);
      return TROUPE_EXIT_USAGE;
    }
    if (n == 1) o->t.node = o->socket;
  }
  if (strncmp(o->t.node, "unix:", 5) == 0 || strchr(o->t.node, '/'))
    return -1; /* the admin socket: no certificate */
  const char *missing = !o->t.ca_file     ? "--ca (or TROUPE_OPS_CA)"
                        : !o->t.cert_file ? "--cert (or TROUPE_OPS_CERT)"
                        : !o->t.key_file  ? "--key (or TROUPE_OPS_KEY)"
                                          : NULL;
  if (missing) {
    /* The daemon's variables set, the operator's not: say so. */
    const char *daemon_var = !o->t.ca_file     ? "TROUPE_CA"
                             : !o->t.cert_file ? "TROUPE_CERT"
                                               : "TROUPE_KEY";
    fprintf(stderr, "troupe %s: no %s given%s%s%s\n", o->verb, missing,
            getenv(daemon_var) ? " (" : "", getenv(daemon_var) ? daemon_var : "",
            getenv(daemon_var) ? " is the daemon's node setting, not read by "
                                 "operator verbs: export TROUPE_OPS_* for them)"
                               : "");
    char dir[200];
    if (!node_set && admin_dir(dir, sizeof(dir)) == 0)
      fprintf(stderr, "troupe %s: (nor does a node answer on an admin socket "
              "in %s: is one running on this host?)\n", o->verb, dir);
    return TROUPE_EXIT_USAGE;
  }
  return -1;
}

/* ---- results ------------------------------------------------------------ */

/* The exit status for a call that returned rc: 0; the cluster's no; or why
 * it could not be asked (a configuration problem exits 2). */
static int ops_exit(const ops_cli *o, int rc, const tr_op_error *err) {
  fflush(stdout);
  if (rc == 0) return TROUPE_EXIT_OK;
  if (o->json) { /* the error as JSON on stdout too, for scripts */
    const char *detail = err->reason == TR_OP_FAIL_NONE ? tr_strerror(rc)
                                                        : err->detail;
    printf("{\"error\":");
    ops_print_json_str(stdout, detail, strlen(detail));
    printf(",\"code\":\"%s\",\"reason\":\"%s\"}\n", tr_errname(rc),
           err->reason == TR_OP_FAIL_NONE ? "refused"
                                          : tr_op_fail_name(err->reason));
    fflush(stdout);
  }
  if (err->reason == TR_OP_FAIL_CONFIG || err->reason == TR_OP_FAIL_SELF) {
    fprintf(stderr, "troupe %s: %s\n", o->verb, err->detail);
    return TROUPE_EXIT_USAGE;
  }
  if (err->reason != TR_OP_FAIL_NONE) {
    fprintf(stderr, "troupe %s: %s [%s]\n", o->verb, err->detail,
            tr_errname(rc));
    return TROUPE_EXIT_ERROR;
  }
  fprintf(stderr, "troupe %s: the cluster said no: %s [%s]\n", o->verb,
          tr_strerror(rc), tr_errname(rc));
  return TROUPE_EXIT_ERROR;
}

/* ops_exit for a verb whose only answer is yes: with --json, it says so. */
static int ops_done(const ops_cli *o, int rc, const tr_op_error *err) {
  if (rc == 0 && o->json) printf("{\"status\":\"ok\"}\n");
  return ops_exit(o, rc, err);
}

/* ---- the verbs --------------------------------------------------------- */

/* members' filters, applied here to what the node lists: states (any
 * one), tags (all of them). */
typedef struct members_filter {
  ops_list l;
  unsigned states; /* bit per tr_member_state; 0: any */
  const char *tags[TR_TAGS_MAX];
  size_t ntags;
} members_filter;

/* "alive,dead" into f->states; NULL or why not. */
static const char *members_add_states(members_filter *f, const char *v) {
  static const char *const names[] = {"alive", "suspect", "dead", "left"};
  if (!*v) return "want alive, suspect, dead or left";
  for (const char *p = v; *p;) {
    size_t n = strcspn(p, ","), i = 0;
    while (i < 4 && !(strlen(names[i]) == n && !strncmp(p, names[i], n))) i++;
    if (i == 4) return "want alive, suspect, dead or left";
    f->states |= 1u << i;
    p += n;
    if (*p == ',' && !*++p) return "want alive, suspect, dead or left";
  }
  return NULL;
}

static const char *members_add_tag(members_filter *f, const char *v) {
  const char *why = run_tag_check(v);
  if (why) return why;
  if (f->ntags == TR_TAGS_MAX) return "more than 8 tags (a member has no more)";
  f->tags[f->ntags++] = v;
  return NULL;
}

/* Takes --state and --tag out of argv into f (the rest goes to ops_parse,
 * in *rest, argc entries at most); *json: --json was given, for the error.
 * Returns NULL, or why (err_flag names the flag, err_val its value). */
static const char *members_filters(int argc, char **argv, members_filter *f,
                                   char **rest, int *nrest, bool *json,
                                   const char **err_flag,
                                   const char **err_val) {
  *nrest = 0;
  for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
    if (strcmp(argv[i], "--json") == 0) *json = true; /* for the error */
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (i > 0 && strcmp(a, "--") == 0) { /* the rest are not flags */
      while (i < argc) rest[(*nrest)++] = argv[i++];
      break;
    }
    bool state = !strncmp(a, "--state", 7) && (!a[7] || a[7] == '=');
    bool tag = !strncmp(a, "--tag", 5) && (!a[5] || a[5] == '=');
    if (i == 0 || (!state && !tag)) {
      rest[(*nrest)++] = argv[i];
      continue;
    }
    *err_flag = state ? "--state" : "--tag";
    const char *v = strchr(a, '=');
    if (v)
      v++;
    else if (i + 1 < argc)
      v = argv[++i];
    else
      return "needs a value";
    *err_val = v;
    const char *why = state ? members_add_states(f, v) : members_add_tag(f, v);
    if (why) return why;
  }
  return NULL;
}

static bool members_match(const members_filter *f, const tr_member *m) {
  if (f->states && !(f->states & (1u << (unsigned)m->state))) return false;
  for (size_t i = 0; i < f->ntags; i++) {
    const char *eq = strchr(f->tags[i], '='), *want = eq + 1, *v;
    char key[TR_TAG_KEY_MAX + 1];
    size_t klen = (size_t)(eq - f->tags[i]), len;
    memcpy(key, f->tags[i], klen);
    key[klen] = '\0';
    if (tr_member_tag(m, key, &v, &len) != 0 || len != strlen(want) ||
        memcmp(v, want, len) != 0)
      return false;
  }
  return true;
}

static void members_print(void *arg, const tr_member *m, int self) {
  members_filter *f = arg;
  if (members_match(f, m)) ops_print_member(&f->l, m, self);
}

int cmd_members(int argc, char **argv) {
  const char *usage =
      "usage: troupe members [--state STATE] [--tag KEY=VALUE] [flags]\n"
      "The members the node knows: name, state (alive, suspect, dead, "
      "left), address,\ntags (troupe run --tag).\n"
      "  --state STATE     only members in STATE: alive, suspect, dead or\n"
      "                    left; repeatable or a comma list (any of them)\n"
      "  --tag KEY=VALUE   only members with this tag; repeatable (all of\n"
      "                    them)\n" OPS_COMMON_USAGE;
  if (daemon_help_or_version(argc, argv, usage)) return TROUPE_EXIT_OK;
  members_filter f = {.states = 0};
  char **rest = calloc((size_t)argc + 1, sizeof(*rest));
  if (!rest) {
    fprintf(stderr, "troupe %s: out of memory\n", argv[0]);
    return TROUPE_EXIT_ERROR;
  }
  int nrest = 0;
  bool json = false;
  const char *flag = "", *val = "";
  const char *why =
      members_filters(argc, argv, &f, rest, &nrest, &json, &flag, &val);
  ops_cli o;
  int rc;
  if (why) { /* a bad filter: exit 2, as JSON too with --json */
    o = (ops_cli){.verb = argv[0], .json = json};
    tr_op_error err = {.reason = TR_OP_FAIL_CONFIG};
    snprintf(err.detail, sizeof(err.detail), "%s: bad value '%.64s' (%s)",
             flag, val, why);
    free(rest);
    return ops_exit(&o, TR_EINVAL, &err);
  }
  rc = ops_parse(nrest, rest, usage, 0, 0, 0, &o);
  if (rc >= 0) {
    free(rest);
    return rc;
  }
  tr_op_error err = {0};
  f.l.json = o.json;
  ops_list_begin(&f.l);
  rc = tr_op_members(&o.t, members_print, &f, &err);
  if (rc == 0) ops_list_end(&f.l);
  rc = ops_exit(&o, rc, &err);
  free(rest);
  return rc;
}

int cmd_actors(int argc, char **argv) {
  const char *usage = "usage: troupe actors [--on NODE] [flags]\n"
                      "The registered actors and their nodes; --on: only "
                      "that node's.\n" OPS_COMMON_USAGE;
  ops_cli o;
  int rc = ops_parse(argc, argv, usage, 0, 0, OPS_ON, &o);
  if (rc >= 0) return rc;
  tr_op_error err = {0};
  ops_list l = {.json = o.json};
  ops_list_begin(&l);
  rc = tr_op_actors(&o.t, o.on, ops_print_actor, &l, &err);
  if (rc == 0) ops_list_end(&l);
  return ops_exit(&o, rc, &err);
}

int cmd_groups(int argc, char **argv) {
  const char *usage = "usage: troupe groups [GROUP] [flags]\n"
                      "The members of every group (or of GROUP) in the "
                      "cluster: group, actor, node.\n" OPS_COMMON_USAGE;
  ops_cli o;
  int rc = ops_parse(argc, argv, usage, 0, 1, 0, &o);
  if (rc >= 0) return rc;
  tr_op_error err = {0};
  ops_list l = {.json = o.json};
  ops_list_begin(&l);
  rc = tr_op_groups(&o.t, o.npos ? o.pos[0] : NULL, ops_print_group, &l,
                    &err);
  if (rc == 0) ops_list_end(&l);
  return ops_exit(&o, rc, &err);
}

int cmd_stats(int argc, char **argv) {
  const char *usage = "usage: troupe stats [flags]\n"
                      "The node's counters.\n" OPS_COMMON_USAGE;
  ops_cli o;
  int rc = ops_parse(argc, argv, usage, 0, 0, 0, &o);
  if (rc >= 0) return rc;
  tr_op_error err = {0};
  ops_list l = {.json = o.json};
  rc = tr_op_stats(&o.t, ops_print_counter, &l, &err);
  if (rc == 0 && o.json) printf(l.n ? "}\n" : "{}\n");
  return ops_exit(&o, rc, &err);
}

int cmd_health(int argc, char **argv) {
  const char *usage = "usage: troupe health [flags]\n"
                      "Exit 0 when the node is alive and ready (joined, or "
                      "alone by design), 1 otherwise:\nfor container health "
                      "checks.\n" OPS_COMMON_USAGE;
  ops_cli o;
  int rc = ops_parse(argc, argv, usage, 0, 0, 0, &o);
  if (rc >= 0) return rc;
  tr_op_error err = {0};
  tr_op_health_info h;
  rc = tr_op_health(&o.t, &h, &err);
  if (rc == 0 || (rc == TR_ESTATE && err.reason == TR_OP_FAIL_NONE))
    ops_print_health(&h, o.json);
  if (rc == TR_ESTATE && err.reason == TR_OP_FAIL_NONE) {
    fflush(stdout);
    fprintf(stderr, "troupe %s: not ready [%s]\n", o.verb, tr_errname(rc));
    return TROUPE_EXIT_ERROR;
  }
  return ops_exit(&o, rc, &err);
}

/* The id argument, checked before anything is sent. */
static int check_id_arg(const ops_cli *o, const char *id) {
  if (!id[0] || strlen(id) > TR_ID_MAX) {
    fprintf(stderr, "troupe %s: '%s' is not a valid id\n", o->verb, id);
    return TROUPE_EXIT_USAGE;
  }
  return -1;
}

/* ID DATA, or with --group GROUP just DATA. */
static int check_send_args(const ops_cli *o, const char *usage) {
  if (o->npos != (o->group ? 1 : 2)) {
    fprintf(stderr, "troupe %s: %s\n%s", o->verb,
            o->group ? "with --group, DATA alone" : "ID and DATA wanted",
            usage);
    return TROUPE_EXIT_USAGE;
  }
  return o->group ? -1 : check_id_arg(o, o->pos[0]);
}

int cmd_send(int argc, char **argv) {
  const char *usage = "usage: troupe send ID DATA [flags]\n"
                      "       troupe send --group GROUP DATA [flags]\n"
                      "Sends DATA to actor ID, wherever it runs, or to one "
                      "member of GROUP (chosen by\nthe node: one of its own "
                      "first, else one with room).\n" OPS_COMMON_USAGE;
  ops_cli o;
  int rc = ops_parse(argc, argv, usage, 1, 2, OPS_GROUP, &o);
  if (rc >= 0 || (rc = check_send_args(&o, usage)) >= 0) return rc;
  tr_op_error err = {0};
  const char *data = o.pos[o.npos - 1];
  rc = o.group ? tr_op_group_send(&o.t, o.group, data, strlen(data), &err)
               : tr_op_send(&o.t, o.pos[0], data, strlen(data), &err);
  return ops_done(&o, rc, &err);
}

static void print_reply(void *arg, const tr_op_message *m) {
  ops_print_message(m, *(const bool *)arg);
}

int cmd_ask(int argc, char **argv) {
  const char *usage = "usage: troupe ask ID DATA [flags]\n"
                      "       troupe ask --group GROUP DATA [flags]\n"
                      "Asks actor ID (or one member of GROUP) and prints "
                      "its reply (--json: with the\nreplying actor and "
                      "node); --timeout bounds the ask.\n" OPS_COMMON_USAGE;
  ops_cli o;
  int rc = ops_parse(argc, argv, usage, 1, 2, OPS_GROUP, &o);
  if (rc >= 0 || (rc = check_send_args(&o, usage)) >= 0) return rc;
  /* The node times the ask out a little before we give up on the link,
   * so a slow actor reads as TR_ETIMEDOUT from the cluster. */
  uint32_t ask_ms = o.t.timeout_ms;
  o.t.timeout_ms += 1000;
  tr_op_error err = {0};
  const char *data = o.pos[o.npos - 1];
  rc = o.group ? tr_op_group_ask(&o.t, o.group, data, strlen(data), ask_ms,
                                 print_reply, &o.json, &err)
               : tr_op_ask(&o.t, o.pos[0], data, strlen(data), ask_ms,
                           print_reply, &o.json, &err);
  return ops_exit(&o, rc, &err);
}

static int print_publish(void *arg, const tr_op_message *m) {
  ops_print_message(m, ((const ops_cli *)arg)->json);
  return 0; /* until a signal or the node ends it */
}

/* The stream has begun: said on stderr, so a person (or a script) knows
 * nothing is wrong while nothing comes. */
static void sub_started(void *arg) {
  const ops_cli *o = arg;
  fprintf(stderr, "troupe sub: subscribed to %s%s%s at %s (SIGINT ends)\n",
          o->pos[0], o->npos > 1 ? " topic " : "", o->npos > 1 ? o->pos[1] : "",
          o->t.node);
}

int cmd_sub(int argc, char **argv) {
  const char *usage =
      "usage: troupe sub ID [TOPIC] [flags]\n"
      "Prints what actor ID publishes (on TOPIC, else its default topic), "
      "one line each\n(--json: an object with from, node and data), until "
      "SIGINT or SIGTERM. An ID no node\nhas is refused. ID '$system': the "
      "cluster's events, a line each (\"node_up n2\",\n\"node_down n3 "
      "dead\"; TOPIC group:NAME: \"group_join NAME ID NODE\").\n"
      OPS_COMMON_USAGE;
  ops_cli o;
  int rc = ops_parse(argc, argv, usage, 1, 2, 0, &o);
  if (rc >= 0 || (rc = check_id_arg(&o, o.pos[0])) >= 0) return rc;
  if (o.npos > 1 && strlen(o.pos[1]) > TR_ID_MAX) {
    fprintf(stderr, "troupe sub: topic too long\n");
    return TROUPE_EXIT_USAGE;
  }
  tr_op_error err = {0};
  rc = tr_op_sub(&o.t, o.pos[0], o.npos > 1 ? o.pos[1] : NULL, sub_started,
                 print_publish, &o, &err);
  return ops_exit(&o, rc, &err);
}

int cmd_ui_login(int argc, char **argv) {
  const char *usage =
      "usage: troupe ui-login [URL] [flags]\n"
      "Gets a web inspector session from the node (docs/inspector.md) for\n"
      "this client certificate and prints its token; with the inspector's\n"
      "URL (http://127.0.0.1:PORT/), the address to open, which hands the\n"
      "token to the page. An operator's session may send to, ask and stop\n"
      "actors, a viewer's only reads. It works on that node's inspector for\n"
      "8 hours, or until the node restarts.\n" OPS_COMMON_USAGE;
  ops_cli o;
  int rc = ops_parse(argc, argv, usage, 0, 1, 0, &o);
  if (rc >= 0) return rc;
  tr_op_error err = {0};
  char token[TR_SESSION_TOKEN_MAX + 1];
  rc = tr_op_session(&o.t, token, sizeof(token), &err);
  if (rc == 0) {
    char *url = NULL;
    if (o.npos) {
      size_t len = strlen(o.pos[0]) + strlen(token) + sizeof("#session=");
      if (!(url = malloc(len))) {
        fprintf(stderr, "troupe %s: out of memory\n", o.verb);
        return TROUPE_EXIT_ERROR;
      }
      snprintf(url, len, "%s#session=%s", o.pos[0], token);
    }
    if (o.json) {
      printf("{\"token\":");
      ops_print_json_str(stdout, token, strlen(token));
      if (url) {
        printf(",\"url\":");
        ops_print_json_str(stdout, url, strlen(url));
      }
      printf("}\n");
    } else {
      printf("%s\n", url ? url : token);
    }
    free(url);
  }
  return ops_exit(&o, rc, &err);
}

int cmd_info(int argc, char **argv) {
  const char *usage = "usage: troupe info [flags]\n"
                      "What the node is: version, name, address, uptime, "
                      "members, actors and links,\nits certificate's name, "
                      "role and expiry.\n" OPS_COMMON_USAGE;
  ops_cli o;
  int rc = ops_parse(argc, argv, usage, 0, 0, 0, &o);
  if (rc >= 0) return rc;
  tr_op_error err = {0};
  tr_op_info in;
  rc = tr_op_info_get(&o.t, &in, &err);
  if (rc == 0) ops_print_info(&in, o.json);
  return ops_exit(&o, rc, &err);
}

int cmd_leave(int argc, char **argv) {
  const char *usage = "usage: troupe leave [flags]\n"
                      "The node leaves the cluster and stops, as on SIGTERM "
                      "(its peers see it left,\nnot dead). Operators "
                      "only.\n" OPS_COMMON_USAGE;
  ops_cli o;
  int rc = ops_parse(argc, argv, usage, 0, 0, 0, &o);
  if (rc >= 0) return rc;
  tr_op_error err = {0};
  rc = tr_op_leave(&o.t, &err);
  return ops_done(&o, rc, &err);
}

int cmd_join(int argc, char **argv) {
  const char *usage = "usage: troupe join ADDR [flags]\n"
                      "The node joins the cluster of the node at ADDR "
                      "(ip:port or [ipv6]:port), as\nthrough a seed. "
                      "Operators only.\n" OPS_COMMON_USAGE;
  ops_cli o;
  int rc = ops_parse(argc, argv, usage, 1, 1, 0, &o);
  if (rc >= 0) return rc;
  tr_op_error err = {0};
  rc = tr_op_join(&o.t, o.pos[0], &err);
  return ops_done(&o, rc, &err);
}

int cmd_force_leave(int argc, char **argv) {
  const char *usage = "usage: troupe force-leave NAME [flags]\n"
                      "The node forgets dead or left member NAME now, "
                      "rather than after\nmember-retention-s (that node "
                      "only). A member alive or suspect is\nrefused. "
                      "Operators only.\n" OPS_COMMON_USAGE;
  ops_cli o;
  int rc = ops_parse(argc, argv, usage, 1, 1, 0, &o);
  if (rc >= 0 || (rc = check_id_arg(&o, o.pos[0])) >= 0) return rc;
  tr_op_error err = {0};
  rc = tr_op_forget(&o.t, o.pos[0], &err);
  return ops_done(&o, rc, &err);
}

/* Takes "--flag VALUE" or "--flag=VALUE" out of argv (before "--"), for
 * the flags one verb alone has. 1 with *val set, 0 when absent, -1 when
 * it has no value. */
static int take_flag(int *argc, char **argv, const char *flag,
                     const char **val) {
  size_t n = strlen(flag);
  for (int i = 1; i < *argc; i++) {
    if (strcmp(argv[i], "--") == 0) break;
    if (strncmp(argv[i], flag, n) != 0 ||
        (argv[i][n] != '=' && argv[i][n] != '\0'))
      continue;
    int used = argv[i][n] == '=' ? 1 : 2;
    if (used == 2 && i + 1 >= *argc) return -1;
    *val = used == 1 ? argv[i] + n + 1 : argv[i + 1];
    memmove(&argv[i], &argv[i + used],
            (size_t)(*argc - i - used + 1) * sizeof(*argv));
    *argc -= used;
    return 1;
  }
  return 0;
}

int cmd_pub(int argc, char **argv) {
  const char *usage =
      "usage: troupe pub [TOPIC] DATA [--as ID] [flags]\n"
      "Publishes DATA on TOPIC (else the default topic) as an operator "
      "publisher:\nan actor of the node asked, made by the first pub to it "
      "and kept until\nstopped, that actors anywhere subscribe to by id "
      "(tr_subscribe_topic) like\nany publisher. --as ID names it (default "
      "ops.<your certificate's name>);\nan id another actor holds is "
      "refused. Prints the publisher and how many\nsubscribers on its node "
      "the publish reached (--json: an object). A node\nkeeps at most 64 "
      "operator publishers. Operators only.\n" OPS_COMMON_USAGE;
  const char *as = NULL;
  if (take_flag(&argc, argv, "--as", &as) < 0) {
    fprintf(stderr, "troupe pub: --as needs a value\n");
    return TROUPE_EXIT_USAGE;
  }
  ops_cli o;
  int rc = ops_parse(argc, argv, usage, 1, 2, 0, &o);
  if (rc >= 0 || (as && (rc = check_id_arg(&o, as)) >= 0)) return rc;
  const char *topic = o.npos > 1 ? o.pos[0] : NULL;
  if (topic && strlen(topic) > TR_ID_MAX) {
    fprintf(stderr, "troupe pub: topic too long\n");
    return TROUPE_EXIT_USAGE;
  }
  const char *data = o.pos[o.npos - 1];
  tr_op_error err = {0};
  tr_op_published p;
  rc = tr_op_pub(&o.t, as, topic, data, strlen(data), &p, &err);
  if (rc == 0 && o.json) {
    printf("{\"publisher\":");
    ops_print_json_str(stdout, p.publisher, strlen(p.publisher));
    printf(",\"node\":");
    ops_print_json_str(stdout, p.node, strlen(p.node));
    printf(",\"topic\":");
    ops_print_json_str(stdout, topic ? topic : "", topic ? strlen(topic) : 0);
    printf(",\"reached\":%u}\n", p.reached);
  } else if (rc == 0) {
    printf("published as %s on %s%s%s: reached %u subscriber%s there\n",
           p.publisher, p.node, topic ? ", topic " : "", topic ? topic : "",
           p.reached, p.reached == 1 ? "" : "s");
  }
  return ops_exit(&o, rc, &err);
}

/* A log level by name. */
static int level_of(const char *s, tr_log_level *out) {
  static const char *const names[] = {"error", "warn", "info", "debug"};
  for (int i = 0; i < 4; i++)
    if (strcmp(s, names[i]) == 0) {
      *out = (tr_log_level)(TR_LOG_ERROR + i);
      return 0;
    }
  return -1;
}

static void monitor_started(void *arg) {
  const ops_cli *o = arg;
  fprintf(stderr, "troupe monitor: watching %s (SIGINT ends)\n", o->t.node);
}

static int monitor_print(void *arg, const tr_op_monitor_line *l) {
  const ops_cli *o = arg;
  char when[40];
  ops_print_now(when, sizeof(when));
  if (o->json) {
    printf("{\"at\":\"%s\",\"node\":", when);
    ops_print_json_str(stdout, l->node, strlen(l->node));
    if (l->level) {
      printf(",\"kind\":\"log\",\"level\":\"%s\",\"event\":",
             level_name(l->level));
      ops_print_json_str(stdout, l->event, strlen(l->event));
      printf(",\"fields\":");
    } else {
      printf(",\"kind\":\"event\",\"event\":");
    }
    ops_print_json_str(stdout, l->text, l->len);
    printf("}\n");
  } else if (l->level) {
    printf("%s %s %-5s %s %.*s\n", when, l->node, level_name(l->level),
           l->event, (int)l->len, l->text);
  } else {
    printf("%s %s event %.*s\n", when, l->node, (int)l->len, l->text);
  }
  fflush(stdout);
  return 0; /* until a signal or the node ends it */
}

int cmd_monitor(int argc, char **argv) {
  const char *usage =
      "usage: troupe monitor [--level LEVEL] [flags]\n"
      "Streams the node's log lines up to LEVEL (error, warn, info, debug; "
      "default\ninfo), however quiet its own log is, and its cluster events "
      "(node_up,\nnode_down...), one line each (--json: an object each), "
      "until SIGINT or\nSIGTERM. Lines the connection had no room for are "
      "counted and said\n(monitor_lines_dropped count=N). Operators "
      "only.\n" OPS_COMMON_USAGE;
  const char *lv = NULL;
  tr_log_level level = TR_LOG_INFO;
  int got = take_flag(&argc, argv, "--level", &lv);
  if (got < 0 || (got > 0 && level_of(lv, &level) != 0)) {
    fprintf(stderr, "troupe monitor: --level wants error, warn, info or "
                    "debug%s%s%s\n", lv ? ", not '" : "", lv ? lv : "",
            lv ? "'" : "");
    return TROUPE_EXIT_USAGE;
  }
  ops_cli o;
  int rc = ops_parse(argc, argv, usage, 0, 0, 0, &o);
  if (rc >= 0) return rc;
  tr_op_error err = {0};
  rc = tr_op_monitor(&o.t, level, monitor_started, monitor_print, &o, &err);
  return ops_exit(&o, rc, &err);
}
