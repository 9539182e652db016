/* config.c — `troupe run` settings: one table of keys, read from the config
 * file, the environment and the flags into three layers, then merged with
 * the highest layer winning key by key. A list key (seed, tag, plugin,
 * spawn) set in a higher layer replaces the lower layers' list, it does not add. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon.h"

typedef enum {
  KEY_STR,   /* free text, non-empty */
  KEY_WORD,  /* no spaces: names */
  KEY_ADDR,  /* host:port */
  KEY_PORT_OR_ADDR,
  KEY_LEVEL, /* error|warn|info|debug */
  KEY_FORMAT, /* logfmt|json */
  KEY_SPAWN, /* TYPE[:ID[:ARG]] */
  KEY_UINT,  /* 1..key_def.max, decimal */
  KEY_TAG,   /* key=value (run_tag_check) */
} key_kind;

typedef struct key_def {
  const char *key;
  key_kind kind;
  bool list;        /* repeatable */
  bool comma_split; /* a value "a,b" is two values */
  const char *arg, *help;
} key_def;

/* The order is the order of `troupe run --help`. */
enum {
  K_NAME, K_LISTEN, K_ADVERTISE, K_SEED, K_TAG, K_CA, K_CERT, K_KEY, K_CRL,
  K_POLICY,
  K_CLUSTER_NAME, K_PLUGIN, K_SPAWN, K_METRICS,
  K_UI, K_ADMIN_SOCKET, K_LOG_LEVEL, K_LOG_FORMAT,
  K_MAX_MEMBERS, K_MAX_PENDING, K_HANDSHAKE_TIMEOUT, K_MAX_OP_CONNS,
  K_OP_IDLE_TIMEOUT, K_MAX_OP_SUBS, K_MEMORY_BUDGET, K_MEMBER_RETENTION,
  K_MAX_DIALS,
  K_COUNT
};

/* The largest value of each KEY_UINT key. */
static const unsigned long KEY_MAX[K_COUNT] = {
    [K_MAX_MEMBERS] = 64511,        [K_MAX_PENDING] = 65536,
    [K_HANDSHAKE_TIMEOUT] = 600000, [K_MAX_OP_CONNS] = 65536,
    [K_OP_IDLE_TIMEOUT] = 86400000, [K_MAX_OP_SUBS] = 1048576,
    [K_MEMORY_BUDGET] = 1048576,    [K_MEMBER_RETENTION] = 86400,
    [K_MAX_DIALS] = 4096,
};

static const key_def KEYS[K_COUNT] = {
    [K_NAME] = {"name", KEY_WORD, false, false, "NAME",
                "node name, unique in the cluster [the host name]"},
    [K_LISTEN] = {"listen", KEY_ADDR, false, false, "HOST:PORT",
                  "cluster address to listen on; none: local single-node "
                  "mode"},
    [K_ADVERTISE] = {"advertise", KEY_ADDR, false, false, "HOST:PORT",
                     "address peers dial [host name + listen port]"},
    [K_SEED] = {"seed", KEY_ADDR, true, true, "HOST:PORT",
                "a member to join through; repeatable, comma lists ok, DNS "
                "names resolve to every address"},
    [K_TAG] = {"tag", KEY_TAG, true, true, "KEY=VALUE",
               "a tag every member sees (troupe members --tag); "
               "repeatable, comma lists ok; keys 1-32 and values 0-64 of "
               "[A-Za-z0-9_.-], at most 8, 512 bytes in all; fixed until "
               "restart [none]"},
    [K_CA] = {"ca", KEY_STR, false, false, "FILE", "cluster CA (PEM)"},
    [K_CERT] = {"cert", KEY_STR, false, false, "FILE",
                "this node's certificate (PEM), signed by the CA"},
    [K_KEY] = {"key", KEY_STR, false, false, "FILE",
               "this node's private key (PEM)"},
    [K_CRL] = {"crl", KEY_STR, false, false, "FILE",
               "the CA's certificate revocation list (PEM, troupe cert "
               "revoke): peers it lists are refused; SIGHUP re-reads it and "
               "closes their links [none]"},
    [K_POLICY] = {"policy", KEY_STR, false, false, "FILE",
                  "who may register, send, ask, stop, subscribe "
                  "(docs/security.md); SIGHUP re-reads it [none: all "
                  "allowed]"},
    [K_CLUSTER_NAME] = {"cluster-name", KEY_WORD, false, false, "NAME",
                        "a label for logs and the start line; the CA, not "
                        "this name, decides who may join"},
    [K_PLUGIN] = {"plugin", KEY_STR, true, true, "FILE.so",
                  "load actor types from a plugin; repeatable"},
    [K_SPAWN] = {"spawn", KEY_SPAWN, true, false, "TYPE[:ID[:ARG]]",
                 "spawn an actor of a plugin type at start; repeatable"},
    [K_METRICS] = {"metrics", KEY_PORT_OR_ADDR, false, false, "[HOST:]PORT",
                   "serve /metrics, /healthz, /readyz (a bare port: "
                   "127.0.0.1:PORT) [off]"},
    [K_UI] = {"ui", KEY_PORT_OR_ADDR, false, false, "[HOST:]PORT",
              "serve the web inspector (docs/inspector.md; a bare port: "
              "127.0.0.1:PORT; beyond loopback HTTPS, for operator and "
              "viewer certificates: cluster nodes only) [off]"},
    [K_ADMIN_SOCKET] = {"admin-socket", KEY_STR, false, false, "PATH|off",
                        "the admin socket: every operator verb from this "
                        "user on this host, no certificate (troupe members "
                        "--node PATH) [$XDG_RUNTIME_DIR/troupe/NAME.sock, "
                        "else /tmp/troupe-UID/NAME.sock]"},
    [K_LOG_LEVEL] = {"log-level", KEY_LEVEL, false, false, "LEVEL",
                     "error|warn|info|debug [info]; SIGHUP re-reads it from "
                     "the config file"},
    [K_LOG_FORMAT] = {"log-format", KEY_FORMAT, false, false, "FORMAT",
                      "logfmt|json, on stderr [logfmt]"},
    /* Limits (docs/cluster.md, "Limits"): each one reached is counted in
     * troupe_limit_refused_total and logged. */
    [K_MAX_MEMBERS] = {"max-members", KEY_UINT, false, false, "N",
                       "members known, dead and left ones included; more "
                       "are refused [10000]"},
    [K_MAX_PENDING] = {"max-pending-connections", KEY_UINT, false, false,
                       "N", "accepted connections before their hello; past "
                       "it the oldest is closed [128]"},
    [K_HANDSHAKE_TIMEOUT] = {"handshake-timeout-ms", KEY_UINT, false, false,
                             "MS", "TCP to hello done, or the connection "
                             "closes [5000]"},
    [K_MAX_DIALS] = {"max-dials", KEY_UINT, false, false, "N",
                     "this node's dials in their handshake at once; more "
                     "wait their turn [8]"},
    [K_MAX_OP_CONNS] = {"max-operator-connections", KEY_UINT, false, false,
                        "N", "operator connections at once [64]"},
    [K_OP_IDLE_TIMEOUT] = {"operator-idle-timeout-ms", KEY_UINT, false,
                           false, "MS", "an operator connection that sends "
                           "nothing whole (it answers pings every second) "
                           "is closed [30000]"},
    [K_MAX_OP_SUBS] = {"max-operator-subscriptions", KEY_UINT, false, false,
                       "N", "subscriptions and asks one operator connection "
                       "runs at once [1024]"},
    [K_MEMORY_BUDGET] = {"memory-budget-mib", KEY_UINT, false, false, "MIB",
                         "link queues and read buffers, all peers "
                         "together; a send past it is refused like a full "
                         "link [256]"},
    [K_MEMBER_RETENTION] = {"member-retention-s", KEY_UINT, false, false, "S",
                            "dead and left members stay listed this long, "
                            "then are forgotten [60]"},
};

static const char *const LEVEL_NAMES[] = {NULL, "error", "warn", "info",
                                          "debug"};

const char *run_log_level_name(tr_log_level l) {
  return l >= TR_LOG_ERROR && l <= TR_LOG_DEBUG ? LEVEL_NAMES[l] : "?";
}

/* One source's values, key by key. */
typedef struct layer {
  char **vals[K_COUNT];
  size_t n[K_COUNT];
} layer;

static void layer_free(layer *l) {
  for (int k = 0; k < K_COUNT; k++) {
    for (size_t i = 0; i < l->n[k]; i++) free(l->vals[k][i]);
    free(l->vals[k]);
    l->vals[k] = NULL;
    l->n[k] = 0;
  }
}

static void errf(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static bool valid_port(const char *s) {
  if (!*s || strlen(s) > 5) return false;
  for (const char *p = s; *p; p++)
    if (!isdigit((unsigned char)*p)) return false;
  long v = strtol(s, NULL, 10);
  return v >= 1 && v <= 65535;
}

/* "host:port" or "[v6]:port" with a non-empty host and a port 1..65535. */
static bool valid_addr(const char *s) {
  const char *colon = strrchr(s, ':');
  if (!colon || colon == s) return false;
  if (s[0] == '[' && colon[-1] != ']') return false;
  for (const char *p = s; p < colon; p++)
    if (isspace((unsigned char)*p)) return false;
  return valid_port(colon + 1);
}

static bool tag_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
}

const char *run_tag_check(const char *kv) {
  const char *eq = strchr(kv, '=');
  if (!eq || eq == kv) return "want KEY=VALUE";
  if ((size_t)(eq - kv) > TR_TAG_KEY_MAX) return "key longer than 32 bytes";
  if (strlen(eq + 1) > TR_TAG_VALUE_MAX) return "value longer than 64 bytes";
  for (const char *p = kv; *p; p++)
    if (p != eq && !tag_char(*p))
      return "keys and values are made of [A-Za-z0-9_.-]";
  return NULL;
}

/* Across the tags: count, distinct keys, size in all ("k=v,k=v"). */
static const char *tags_check(char **tags, size_t n) {
  size_t total = n ? n - 1 : 0;
  if (n > TR_TAGS_MAX) return "more than 8 tags";
  for (size_t i = 0; i < n; i++) {
    total += strlen(tags[i]);
    size_t klen = strcspn(tags[i], "=");
    for (size_t j = 0; j < i; j++)
      if (strcspn(tags[j], "=") == klen && !strncmp(tags[i], tags[j], klen))
        return "a key given twice";
  }
  return total > TR_TAGS_LEN_MAX ? "more than 512 bytes in all" : NULL;
}

/* The messages name the limits. */
_Static_assert(TR_TAGS_MAX == 8 && TR_TAG_KEY_MAX == 32 &&
                   TR_TAG_VALUE_MAX == 64 && TR_TAGS_LEN_MAX == 512,
               "update the tag messages");

/* Checks one value; returns NULL or why it is bad. */
static const char *check_value(const key_def *d, const char *v) {
  if (!*v) return "empty value";
  switch (d->kind) {
  case KEY_STR:
    return NULL;
  case KEY_WORD:
    for (const char *p = v; *p; p++)
      if (isspace((unsigned char)*p)) return "must not contain spaces";
    return strlen(v) > TR_ID_MAX ? "longer than 255 bytes" : NULL;
  case KEY_ADDR:
    return valid_addr(v) ? NULL : "want HOST:PORT (port 1-65535)";
  case KEY_PORT_OR_ADDR:
    return valid_port(v) || valid_addr(v) ? NULL
                                          : "want PORT or HOST:PORT";
  case KEY_LEVEL:
    for (int l = TR_LOG_ERROR; l <= TR_LOG_DEBUG; l++)
      if (strcmp(v, LEVEL_NAMES[l]) == 0) return NULL;
    return "want error|warn|info|debug";
  case KEY_FORMAT:
    return strcmp(v, "logfmt") == 0 || strcmp(v, "json") == 0
               ? NULL
               : "want logfmt|json";
  case KEY_SPAWN:
    return v[0] == ':' ? "want TYPE[:ID[:ARG]]" : NULL;
  case KEY_TAG:
    return run_tag_check(v);
  case KEY_UINT: {
    for (const char *p = v; *p; p++)
      if (!isdigit((unsigned char)*p)) return "want a whole number";
    errno = 0;
    unsigned long n = strtoul(v, NULL, 10);
    if (errno || n < 1 || n > KEY_MAX[d - KEYS]) return "out of range";
    return NULL;
  }
  }
  return NULL;
}

/* Adds value (split on commas for such keys) to the layer after checking
 * it; where says where it came from ("node.conf:3", "--seed", ...). */
static int layer_add(layer *l, int k, const char *value, const char *where,
                     char *err, size_t errlen) {
  const key_def *d = &KEYS[k];
  char *copy = strdup(value);
  if (!copy) goto nomem;
  char *save = NULL;
  char *tok = d->comma_split ? strtok_r(copy, ",", &save) : copy;
  if (!tok) tok = copy + strlen(copy); /* "," alone: report as empty */
  for (; tok; tok = d->comma_split ? strtok_r(NULL, ",", &save) : NULL) {
    while (isspace((unsigned char)*tok)) tok++;
    size_t len = strlen(tok);
    while (len && isspace((unsigned char)tok[len - 1])) tok[--len] = '\0';
    const char *why = check_value(d, tok);
    if (why) {
      /* A flag or variable names the key already; a file line does not. */
      if (where[0] == '-' || strncmp(where, "TROUPE_", 7) == 0)
        errf(err, errlen, "%s: bad value '%s' (%s)", where, tok, why);
      else
        errf(err, errlen, "%s: %s: bad value '%s' (%s)", where, d->key, tok,
             why);
      free(copy);
      return TROUPE_EXIT_USAGE;
    }
    if (!d->list && l->n[k]) { /* a scalar set twice: the last one wins */
      free(l->vals[k][0]);
      l->n[k] = 0;
    }
    char **grown = realloc(l->vals[k], (l->n[k] + 1) * sizeof(*grown));
    if (!grown) goto nomem_copy;
    l->vals[k] = grown;
    if (!(grown[l->n[k]] = strdup(tok))) goto nomem_copy;
    l->n[k]++;
  }
  free(copy);
  return 0;
nomem_copy:
  free(copy);
nomem:
  errf(err, errlen, "%s: out of memory", where);
  return TROUPE_EXIT_USAGE;
}

static int key_find(const char *key) {
  for (int k = 0; k < K_COUNT; k++)
    if (strcmp(KEYS[k].key, key) == 0) return k;
  return -1;
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  size_t len = strlen(s);
  while (len && isspace((unsigned char)s[len - 1])) s[--len] = '\0';
  return s;
}

/* The config file: `key = value` lines; `#` starts a comment at the start
 * of a line or after a space; blank lines are skipped; a value may be in
 * double quotes (kept verbatim, '#' included). */
static int layer_read_file(layer *l, const char *path, char *err,
                           size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f) {
    errf(err, errlen, "config %s: %s", path, strerror(errno));
    return TROUPE_EXIT_USAGE;
  }
  char line[4096], where[512];
  int rc = 0;
  for (unsigned lineno = 1; fgets(line, sizeof(line), f); lineno++) {
    snprintf(where, sizeof(where), "%s:%u", path, lineno);
    size_t len = strlen(line);
    if (len == sizeof(line) - 1 && line[len - 1] != '\n' && !feof(f)) {
      errf(err, errlen, "%s: line longer than %zu bytes", where,
           sizeof(line) - 2);
      rc = TROUPE_EXIT_USAGE;
      break;
    }
    char *s = trim(line);
    if (*s == '\0' || *s == '#') continue;
    char *eq = strchr(s, '=');
    if (!eq) {
      errf(err, errlen, "%s: expected 'key = value', got '%s'", where, s);
      rc = TROUPE_EXIT_USAGE;
      break;
    }
    *eq = '\0';
    char *key = trim(s), *value = trim(eq + 1);
    int k = key_find(key);
    if (k < 0) {
      errf(err, errlen, "%s: %s: unknown key", where, *key ? key : "''");
      rc = TROUPE_EXIT_USAGE;
      break;
    }
    size_t vlen = strlen(value);
    if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
      value[vlen - 1] = '\0';
      value++;
    } else {
      for (char *p = value; *p; p++)
        if (*p == '#' && isspace((unsigned char)p[-1])) {
          *p = '\0';
          value = trim(value);
          break;
        }
    }
    if (!*value) {
      errf(err, errlen, "%s: %s: missing value", where, key);
      rc = TROUPE_EXIT_USAGE;
      break;
    }
    rc = layer_add(l, k, value, where, err, errlen);
    if (rc != 0) break;
  }
  if (rc == 0 && ferror(f)) {
    errf(err, errlen, "config %s: read failed: %s", path, strerror(errno));
    rc = TROUPE_EXIT_USAGE;
  }
  fclose(f);
  return rc;
}

/* TROUPE_<KEY> with '-' as '_'. TROUPE_SPAWN holds several spawns
 * separated by spaces (an ARG may contain commas). Unknown TROUPE_
 * variables are ignored: the environment is shared with other tools. */
static int layer_read_env(layer *l, char *err, size_t errlen) {
  for (int k = 0; k < K_COUNT; k++) {
    char var[64] = "TROUPE_";
    size_t o = strlen(var);
    for (const char *p = KEYS[k].key; *p && o < sizeof(var) - 1; p++)
      var[o++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    var[o] = '\0';
    const char *v = getenv(var);
    if (!v) continue;
    if (k != K_SPAWN) {
      int rc = layer_add(l, k, v, var, err, errlen);
      if (rc != 0) return rc;
      continue;
    }
    char *copy = strdup(v), *save = NULL;
    if (!copy) {
      errf(err, errlen, "%s: out of memory", var);
      return TROUPE_EXIT_USAGE;
    }
    for (char *tok = strtok_r(copy, " \t\n", &save); tok;
         tok = strtok_r(NULL, " \t\n", &save)) {
      int rc = layer_add(l, k, tok, var, err, errlen);
      if (rc != 0) {
        free(copy);
        return rc;
      }
    }
    free(copy);
  }
  return 0;
}

/* --key VALUE or --key=VALUE; --config FILE goes to *config. */
static int layer_read_flags(layer *l, int argc, char **argv, char **config,
                            char *err, size_t errlen) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
      errf(err, errlen, "unexpected argument '%s' (see troupe run --help)",
           a);
      return TROUPE_EXIT_USAGE;
    }
    char flag[128];
    const char *eq = strchr(a, '=');
    size_t flen = eq ? (size_t)(eq - a) : strlen(a);
    if (flen >= sizeof(flag)) flen = sizeof(flag) - 1;
    memcpy(flag, a, flen);
    flag[flen] = '\0';
    int k = key_find(flag + 2);
    bool is_config = strcmp(flag + 2, "config") == 0;
    if (k < 0 && !is_config) {
      errf(err, errlen, "unknown flag '%s' (see troupe run --help)", flag);
      return TROUPE_EXIT_USAGE;
    }
    const char *value = eq ? eq + 1 : NULL;
    if (!value) {
      if (i + 1 >= argc) {
        errf(err, errlen, "%s needs a value", flag);
        return TROUPE_EXIT_USAGE;
      }
      value = argv[++i];
    }
    if (is_config) {
      if (!*value) {
        errf(err, errlen, "--config: empty value");
        return TROUPE_EXIT_USAGE;
      }
      free(*config);
      if (!(*config = strdup(value))) {
        errf(err, errlen, "out of memory");
        return TROUPE_EXIT_USAGE;
      }
      continue;
    }
    int rc = layer_add(l, k, value, flag, err, errlen);
    if (rc != 0) return rc;
  }
  return 0;
}

static tr_log_level level_of(const char *name) {
  for (int l = TR_LOG_ERROR; l <= TR_LOG_DEBUG; l++)
    if (strcmp(name, LEVEL_NAMES[l]) == 0) return (tr_log_level)l;
  return TR_LOG_INFO;
}

/* Moves the highest layer's values of each key into cfg. */
static void merge(run_config *cfg, layer *layers, int nlayers) {
  char **scalars[K_COUNT] = {
      [K_NAME] = &cfg->name, [K_LISTEN] = &cfg->listen,
      [K_ADVERTISE] = &cfg->advertise, [K_CA] = &cfg->ca,
      [K_CERT] = &cfg->cert, [K_KEY] = &cfg->key, [K_CRL] = &cfg->crl,
      [K_POLICY] = &cfg->policy,
      [K_CLUSTER_NAME] = &cfg->cluster_name, [K_METRICS] = &cfg->metrics,
      [K_UI] = &cfg->ui, [K_ADMIN_SOCKET] = &cfg->admin_socket,
  };
  uint32_t *nums[K_COUNT] = {
      [K_MAX_MEMBERS] = &cfg->max_members,
      [K_MAX_PENDING] = &cfg->max_pending_conns,
      [K_HANDSHAKE_TIMEOUT] = &cfg->handshake_timeout_ms,
      [K_MAX_OP_CONNS] = &cfg->max_op_conns,
      [K_OP_IDLE_TIMEOUT] = &cfg->op_idle_timeout_ms,
      [K_MAX_OP_SUBS] = &cfg->max_op_subs,
      [K_MEMORY_BUDGET] = &cfg->memory_budget_mib,
      [K_MEMBER_RETENTION] = &cfg->member_retention_s,
      [K_MAX_DIALS] = &cfg->max_dials,
  };
  struct { char ***v; size_t *n; } lists[K_COUNT] = {
      [K_SEED] = {&cfg->seeds, &cfg->nseeds},
      [K_TAG] = {&cfg->tags, &cfg->ntags},
      [K_PLUGIN] = {&cfg->plugins, &cfg->nplugins},
      [K_SPAWN] = {&cfg->spawns, &cfg->nspawns},
  };
  for (int k = 0; k < K_COUNT; k++) {
    layer *top = NULL;
    for (int i = nlayers - 1; i >= 0 && !top; i--)
      if (layers[i].n[k]) top = &layers[i];
    if (!top) continue;
    if (k == K_LOG_LEVEL) {
      cfg->log_level = level_of(top->vals[k][0]);
      cfg->log_level_pinned = top != &layers[0];
    } else if (k == K_LOG_FORMAT) {
      cfg->log_format = strcmp(top->vals[k][0], "json") == 0 ? RUN_LOG_JSON
                                                            : RUN_LOG_LOGFMT;
    } else if (nums[k]) { /* checked by check_value */
      *nums[k] = (uint32_t)strtoul(top->vals[k][0], NULL, 10);
    } else if (lists[k].v) {
      *lists[k].v = top->vals[k]; /* the array moves into cfg */
      *lists[k].n = top->n[k];
      top->vals[k] = NULL;
      top->n[k] = 0;
    } else if (scalars[k]) {
      *scalars[k] = top->vals[k][0];
      top->vals[k][0] = NULL;
    }
  }
}

/* A bare port (metrics, ui) means loopback. */
static int loopback_addr(char **addr) {
  if (!*addr || strchr(*addr, ':')) return 0;
  char buf[32];
  snprintf(buf, sizeof(buf), "127.0.0.1:%s", *addr);
  char *full = strdup(buf);
  if (!full) return -1;
  free(*addr);
  *addr = full;
  return 0;
}

int run_config_load(run_config *cfg, int argc, char **argv, char *err,
                    size_t errlen) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->log_level = TR_LOG_INFO;
  layer layers[3] = {0}; /* file, environment, flags: lowest first */
  int rc = layer_read_flags(&layers[2], argc, argv, &cfg->config_file, err,
                            errlen);
  if (rc == 0) rc = layer_read_env(&layers[1], err, errlen);
  if (rc == 0 && !cfg->config_file && getenv("TROUPE_CONFIG")) {
    if (!*getenv("TROUPE_CONFIG")) {
      errf(err, errlen, "TROUPE_CONFIG: empty value");
      rc = TROUPE_EXIT_USAGE;
    } else if (!(cfg->config_file = strdup(getenv("TROUPE_CONFIG")))) {
      errf(err, errlen, "out of memory");
      rc = TROUPE_EXIT_USAGE;
    }
  }
  if (rc == 0 && cfg->config_file)
    rc = layer_read_file(&layers[0], cfg->config_file, err, errlen);
  if (rc == 0) {
    merge(cfg, layers, 3);
    const char *why = tags_check(cfg->tags, cfg->ntags);
    if (why) {
      errf(err, errlen, "tag: %s", why);
      rc = TROUPE_EXIT_USAGE;
    } else if (loopback_addr(&cfg->metrics) != 0 ||
               loopback_addr(&cfg->ui) != 0) {
      errf(err, errlen, "out of memory");
      rc = TROUPE_EXIT_USAGE;
    }
  }
  for (int i = 0; i < 3; i++) layer_free(&layers[i]);
  if (rc != 0) run_config_free(cfg);
  return rc;
}

int run_config_reload_log_level(const run_config *cfg, tr_log_level *level,
                                char *err, size_t errlen) {
  if (cfg->log_level_pinned || !cfg->config_file) {
    *level = cfg->log_level;
    return 0;
  }
  layer file = {0};
  int rc = layer_read_file(&file, cfg->config_file, err, errlen);
  if (rc == 0)
    *level = file.n[K_LOG_LEVEL] ? level_of(file.vals[K_LOG_LEVEL][0])
                                 : TR_LOG_INFO;
  layer_free(&file);
  return rc;
}

static void free_list(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

void run_config_free(run_config *cfg) {
  if (!cfg) return;
  free(cfg->config_file);
  free(cfg->name);
  free(cfg->listen);
  free(cfg->advertise);
  free(cfg->ca);
  free(cfg->cert);
  free(cfg->key);
  free(cfg->crl);
  free(cfg->policy);
  free(cfg->cluster_name);
  free(cfg->metrics);
  free(cfg->ui);
  free(cfg->admin_socket);
  free_list(cfg->seeds, cfg->nseeds);
  free_list(cfg->tags, cfg->ntags);
  free_list(cfg->plugins, cfg->nplugins);
  free_list(cfg->spawns, cfg->nspawns);
  memset(cfg, 0, sizeof(*cfg));
}

void run_config_help(FILE *to) {
  fprintf(to, "settings (flag / environment / config-file key):\n");
  fprintf(to, "  --config FILE (TROUPE_CONFIG)\n"
              "      read `key = value` lines from FILE ('#' comments; "
              "repeat a key for lists)\n");
  for (int k = 0; k < K_COUNT; k++) {
    char var[64] = "TROUPE_";
    size_t o = strlen(var);
    for (const char *p = KEYS[k].key; *p && o < sizeof(var) - 1; p++)
      var[o++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    var[o] = '\0';
    fprintf(to, "  --%s %s (%s, %s)\n      %s\n", KEYS[k].key, KEYS[k].arg,
            var, KEYS[k].key, KEYS[k].help);
  }
}
