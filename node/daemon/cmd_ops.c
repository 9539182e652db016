/* cmd_ops.c — the operator verbs (members, actors, send, ask, sub, stats,
 * health): parse the common flags, make one OpRequest through ops_client,
 * print the answer. Exit 1 when the cluster says no or the node cannot be
 * asked (down, refused, timed out), 2 for bad flags or files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "ops_client.h"
#include "troupe.h"

#define OPS_COMMON_USAGE                                                     \
  "\ncommon flags:\n"                                                        \
  "  --node HOST:PORT  any node's TLS port [$TROUPE_NODE, 127.0.0.1:7000]\n" \
  "  --ca FILE         the cluster CA certificate [$TROUPE_CA]\n"            \
  "  --cert FILE       a client certificate (troupe cert client NAME)\n"     \
  "                    [$TROUPE_CERT]\n"                                     \
  "  --key FILE        its key [$TROUPE_KEY]\n"                              \
  "  --name NAME       the client's name, one its certificate holds (CN or\n" \
  "                    a DNS name) [the CN]\n"                              \
  "  --json            JSON output\n"                                        \
  "  --timeout MS      bound on connecting and answering [5000]\n"           \
  "  --verbose         log the link's events to stderr\n"                    \
  "\nexit status: 0 ok; 1 the cluster said no, or the node is down, refused\n" \
  "the certificate or did not answer in time; 2 bad flags or files.\n"

typedef struct ops_cli {
  const char *verb;
  ops_target t;
  bool json;
  const char *on; /* actors --on NODE */
  const char *pos[2];
  int npos;
} ops_cli;

static const char *env_or(const char *name, const char *dflt) {
  const char *v = getenv(name);
  return v && v[0] ? v : dflt;
}

/* Parses argv into o. Returns -1 to go on, or the exit status. */
static int ops_parse(int argc, char **argv, const char *usage, int min_pos,
                     int max_pos, bool takes_on, ops_cli *o) {
  memset(o, 0, sizeof(*o));
  o->verb = argv[0];
  if (daemon_help_or_version(argc, argv, usage)) return TROUPE_EXIT_OK;
  o->t.node = env_or("TROUPE_NODE", "127.0.0.1:7000");
  o->t.ca = env_or("TROUPE_CA", NULL);
  o->t.cert = env_or("TROUPE_CERT", NULL);
  o->t.key = env_or("TROUPE_KEY", NULL);
  o->t.timeout_ms = 5000;
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
      o->t.verbose = true;
      continue;
    }
    /* Flags with a value: --flag VALUE or --flag=VALUE. */
    static const char *const named[] = {"--node", "--ca",      "--cert", "--key",
                                        "--name", "--timeout", "--on"};
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
        (which == 6 && !takes_on)) {
      fprintf(stderr, "troupe %s: unknown flag '%s'\n%s", o->verb, a, usage);
      return TROUPE_EXIT_USAGE;
    }
    switch (which) {
    case 0: o->t.node = val; break;
    case 1: o->t.ca = val; break;
    case 2: o->t.cert = val; break;
    case 3: o->t.key = val; break;
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
    default: o->on = val; break;
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
  const char *missing = !o->t.ca     ? "--ca (or TROUPE_CA)"
                        : !o->t.cert ? "--cert (or TROUPE_CERT)"
                        : !o->t.key  ? "--key (or TROUPE_KEY)"
                                     : NULL;
  if (missing) {
    fprintf(stderr, "troupe %s: no %s given\n", o->verb, missing);
    return TROUPE_EXIT_USAGE;
  }
  return -1;
}

/* ---- printing ---------------------------------------------------------- */

static void print_json_str(FILE *f, const uint8_t *s, size_t len) {
  fputc('"', f);
  for (size_t i = 0; i < len; i++) {
    unsigned ch = s[i];
    if (ch == '"' || ch == '\\')
      fprintf(f, "\\%c", ch);
    else if (ch == '\n')
      fputs("\\n", f);
    else if (ch < 0x20 || ch >= 0x7f)
      fprintf(f, "\\u%04x", ch);
    else
      fputc((int)ch, f);
  }
  fputc('"', f);
}

static void print_body(FILE *f, const ops_reply *r) {
  if (!r->len) return;
  fwrite(r->body, 1, r->len, f);
  if (r->body[r->len - 1] != '\n') fputc('\n', f);
}

/* An ask's reply or a publish: the data, or a JSON object with its origin. */
static void print_message(const ops_cli *o, const ops_reply *r) {
  if (o->json) {
    printf("{\"from\":");
    print_json_str(stdout, (const uint8_t *)r->from, strlen(r->from));
    printf(",\"node\":");
    print_json_str(stdout, (const uint8_t *)r->node, strlen(r->node));
    printf(",\"data\":");
    print_json_str(stdout, r->body, r->len);
    printf("}\n");
  } else {
    fwrite(r->body, 1, r->len, stdout);
    if (!r->len || r->body[r->len - 1] != '\n') putchar('\n');
  }
  fflush(stdout);
}

typedef struct ops_result {
  const ops_cli *o;
  int status;   /* of the final reply */
  bool message; /* the body is data (ask, sub) */
} ops_result;

static bool on_reply(void *user, const ops_reply *r) {
  ops_result *res = user;
  res->status = r->status;
  if (r->status != 0) {
    /* health: the body still says why it is not ready. */
    print_body(stdout, r);
    return false;
  }
  if (res->message) {
    if (r->more && !r->len && !r->from[0]) return true; /* a stream began */
    print_message(res->o, r);
  } else {
    print_body(stdout, r);
  }
  return true;
}

static int ops_run(const ops_cli *o, troupe_OpRequest *req, const void *data,
                   size_t len, bool message) {
  ops_result res = {o, 0, message};
  char err[512];
  req->has_json = o->json;
  req->json = o->json;
  int rc = ops_request(&o->t, req, data, len, on_reply, &res, err,
                       sizeof(err));
  fflush(stdout);
  if (rc == TR_EINVAL) {
    fprintf(stderr, "troupe %s: %s\n", o->verb, err);
    return TROUPE_EXIT_USAGE;
  }
  if (rc != 0) {
    fprintf(stderr, "troupe %s: %s [%s]\n", o->verb, err, tr_errname(rc));
    return TROUPE_EXIT_ERROR;
  }
  if (res.status != 0) {
    if (req->verb == troupe_OpVerb_OP_HEALTH && res.status == TR_ESTATE)
      fprintf(stderr, "troupe %s: not ready [%s]\n", o->verb,
              tr_errname(res.status));
    else
      fprintf(stderr, "troupe %s: the cluster said no: %s [%s]\n", o->verb,
              tr_strerror(res.status), tr_errname(res.status));
    return TROUPE_EXIT_ERROR;
  }
  return TROUPE_EXIT_OK;
}

static int set_target(const ops_cli *o, troupe_OpRequest *req,
                      const char *target) {
  if (strlen(target) >= sizeof(req->target) || !target[0]) {
    fprintf(stderr, "troupe %s: '%s' is not a valid id\n", o->verb, target);
    return TROUPE_EXIT_USAGE;
  }
  req->has_target = true;
  snprintf(req->target, sizeof(req->target), "%s", target);
  return -1;
}

/* ---- the verbs --------------------------------------------------------- */

static int simple_verb(int argc, char **argv, const char *usage,
                       troupe_OpVerb verb) {
  ops_cli o;
  int rc = ops_parse(argc, argv, usage, 0, 0, verb == troupe_OpVerb_OP_ACTORS,
                     &o);
  if (rc >= 0) return rc;
  troupe_OpRequest req = troupe_OpRequest_init_zero;
  req.has_verb = true;
  req.verb = verb;
  if (o.on && (rc = set_target(&o, &req, o.on)) >= 0) return rc;
  return ops_run(&o, &req, NULL, 0, false);
}

int cmd_members(int argc, char **argv) {
  return simple_verb(argc, argv,
                     "usage: troupe members [flags]\n"
                     "The members the node knows: name, state (alive, "
                     "suspect, dead, left), address.\n" OPS_COMMON_USAGE,
                     troupe_OpVerb_OP_MEMBERS);
}

int cmd_actors(int argc, char **argv) {
  return simple_verb(argc, argv,
                     "usage: troupe actors [--on NODE] [flags]\n"
                     "The registered actors and their nodes; --on: only that "
                     "node's.\n" OPS_COMMON_USAGE,
                     troupe_OpVerb_OP_ACTORS);
}

int cmd_stats(int argc, char **argv) {
  return simple_verb(argc, argv,
                     "usage: troupe stats [flags]\n"
                     "The node's counters.\n" OPS_COMMON_USAGE,
                     troupe_OpVerb_OP_STATS);
}

int cmd_health(int argc, char **argv) {
  return simple_verb(argc, argv,
                     "usage: troupe health [flags]\n"
                     "Exit 0 when the node is alive and ready (joined, or "
                     "alone by design), 1 otherwise:\nfor container health "
                     "checks.\n" OPS_COMMON_USAGE,
                     troupe_OpVerb_OP_HEALTH);
}

static int data_verb(int argc, char **argv, const char *usage,
                     troupe_OpVerb verb) {
  ops_cli o;
  int rc = ops_parse(argc, argv, usage, 2, 2, false, &o);
  if (rc >= 0) return rc;
  troupe_OpRequest req = troupe_OpRequest_init_zero;
  req.has_verb = true;
  req.verb = verb;
  if ((rc = set_target(&o, &req, o.pos[0])) >= 0) return rc;
  if (verb == troupe_OpVerb_OP_ASK) {
    /* The node times the ask out a little before we give up on the link,
     * so a slow actor reads as TR_ETIMEDOUT from the cluster. */
    req.has_timeout_ms = true;
    req.timeout_ms = o.t.timeout_ms;
    o.t.timeout_ms += 1000;
  }
  return ops_run(&o, &req, o.pos[1], strlen(o.pos[1]),
                 verb == troupe_OpVerb_OP_ASK);
}

int cmd_send(int argc, char **argv) {
  return data_verb(argc, argv,
                   "usage: troupe send ID DATA [flags]\n"
                   "Sends DATA to actor ID, wherever it runs.\n"
                   OPS_COMMON_USAGE,
                   troupe_OpVerb_OP_SEND);
}

int cmd_ask(int argc, char **argv) {
  return data_verb(argc, argv,
                   "usage: troupe ask ID DATA [flags]\n"
                   "Asks actor ID and prints its reply (--json: with the "
                   "replying actor and node);\n--timeout bounds the ask.\n"
                   OPS_COMMON_USAGE,
                   troupe_OpVerb_OP_ASK);
}

int cmd_sub(int argc, char **argv) {
  const char *usage =
      "usage: troupe sub ID [TOPIC] [flags]\n"
      "Prints what actor ID publishes (on TOPIC, else its default topic), "
      "one line each\n(--json: an object with from, node and data), until "
      "SIGINT or SIGTERM.\n" OPS_COMMON_USAGE;
  ops_cli o;
  int rc = ops_parse(argc, argv, usage, 1, 2, false, &o);
  if (rc >= 0) return rc;
  troupe_OpRequest req = troupe_OpRequest_init_zero;
  req.has_verb = true;
  req.verb = troupe_OpVerb_OP_SUB;
  if ((rc = set_target(&o, &req, o.pos[0])) >= 0) return rc;
  if (o.npos > 1) {
    if (strlen(o.pos[1]) >= sizeof(req.topic)) {
      fprintf(stderr, "troupe sub: topic too long\n");
      return TROUPE_EXIT_USAGE;
    }
    req.has_topic = true;
    snprintf(req.topic, sizeof(req.topic), "%s", o.pos[1]);
  }
  return ops_run(&o, &req, NULL, 0, true);
}
