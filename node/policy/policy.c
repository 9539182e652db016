/* policy.c — see policy.h. A policy is its rules in file order; a decision
 * walks them until one matches (subject, then action, then object), so a
 * policy of a few rules costs a few fnmatch calls. */
#include "policy.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe.h"

#define GLOB_MAX 255 /* an id's length: a longer glob matches nothing new */

typedef enum { WHO_ANY, WHO_NODE, WHO_CLIENT, WHO_ROLE } who_kind;

typedef struct rule {
  bool allow;
  who_kind who;
  policy_role role;          /* WHO_ROLE */
  char who_glob[GLOB_MAX + 1]; /* WHO_NODE, WHO_CLIENT */
  unsigned actions;          /* bit per policy_action */
  char what[GLOB_MAX + 1];
  char topic[GLOB_MAX + 1];  /* subscribe; "*" when not given */
  uint32_t line;
} rule;

struct policy {
  rule *rules;
  size_t n;
  bool default_allow;
};

static const char *const action_names[POLICY_ACTIONS] = {
    [POLICY_REGISTER] = "register", [POLICY_SEND] = "send",
    [POLICY_ASK] = "ask",           [POLICY_STOP] = "stop",
    [POLICY_SUBSCRIBE] = "subscribe", [POLICY_JOIN] = "join"};

const char *policy_action_name(policy_action a) {
  return (unsigned)a < POLICY_ACTIONS ? action_names[a] : "?";
}

static const char *const role_names[] = {
    [POLICY_ROLE_NODE] = "node", [POLICY_ROLE_OPERATOR] = "operator",
    [POLICY_ROLE_VIEWER] = "viewer"};

/* ---- parsing ------------------------------------------------------------- */

__attribute__((format(printf, 4, 5)))
static int fail(char *err, size_t errlen, uint32_t line, const char *fmt,
                ...) {
  if (err && errlen) {
    int n = snprintf(err, errlen, "line %u: ", line);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < errlen) vsnprintf(err + n, errlen - n, fmt, ap);
    va_end(ap);
  }
  return TR_EINVAL;
}

/* Splits a line into at most max whitespace-separated tokens (cut in
 * place), stopping at a token that starts with '#'. Returns how many, or
 * max + 1 when there are more. */
static size_t tokens(char *s, char **tok, size_t max) {
  size_t n = 0;
  for (;;) {
    while (*s && isspace((unsigned char)*s)) s++;
    if (!*s || *s == '#') return n;
    if (n == max) return max + 1;
    tok[n++] = s;
    while (*s && !isspace((unsigned char)*s)) s++;
    if (*s) *s++ = '\0';
  }
}

static int glob_copy(char *dst, const char *src, const char *what,
                     uint32_t line, char *err, size_t errlen) {
  size_t len = strlen(src);
  if (len == 0 || len > GLOB_MAX)
    return fail(err, errlen, line, "%s '%.40s': 1 to %d bytes", what, src,
                GLOB_MAX);
  memcpy(dst, src, len + 1);
  return 0;
}

static int parse_who(rule *r, const char *s, uint32_t line, char *err,
                     size_t errlen) {
  if (strcmp(s, "*") == 0) {
    r->who = WHO_ANY;
    return 0;
  }
  const char *colon = strchr(s, ':');
  size_t plen = colon ? (size_t)(colon - s) : 0;
  if (!colon)
    return fail(err, errlen, line,
                "who '%.40s': node:GLOB, client:GLOB, role:ROLE or *", s);
  if (plen == 4 && strncmp(s, "node", 4) == 0) {
    r->who = WHO_NODE;
    return glob_copy(r->who_glob, colon + 1, "node name", line, err, errlen);
  }
  if (plen == 6 && strncmp(s, "client", 6) == 0) {
    r->who = WHO_CLIENT;
    return glob_copy(r->who_glob, colon + 1, "client name", line, err,
                     errlen);
  }
  if (plen == 4 && strncmp(s, "role", 4) == 0) {
    r->who = WHO_ROLE;
    for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
      if (strcmp(colon + 1, role_names[i]) == 0) {
        r->role = (policy_role)i;
        return 0;
      }
    return fail(err, errlen, line,
                "role '%.40s': node, operator or viewer", colon + 1);
  }
  return fail(err, errlen, line,
              "who '%.40s': node:GLOB, client:GLOB, role:ROLE or *", s);
}

static int parse_actions(rule *r, char *s, uint32_t line, char *err,
                         size_t errlen) {
  if (strcmp(s, "*") == 0) {
    r->actions = (1u << POLICY_ACTIONS) - 1;
    return 0;
  }
  for (char *save = NULL, *a = strtok_r(s, ",", &save); a;
       a = strtok_r(NULL, ",", &save)) {
    unsigned bit = 0;
    for (int i = 0; i < POLICY_ACTIONS; i++)
      if (strcmp(a, action_names[i]) == 0) bit = 1u << i;
    if (!bit)
      return fail(err, errlen, line,
                  "action '%.40s': register, send, ask, stop, subscribe, join or *",
                  a);
    r->actions |= bit;
  }
  if (!r->actions)
    return fail(err, errlen, line, "no action");
  return 0;
}

/* One line (cut in place); *r filled when it is a rule (returns 1), 0 for
 * nothing (blank, comment, the default), < 0 on error. */
static int parse_line(policy *p, char *s, uint32_t line, bool *seen_default,
                      rule *r, char *err, size_t errlen) {
  char *tok[6];
  size_t n = tokens(s, tok, 5);
  if (n == 0) return 0;
  if (n > 5)
    return fail(err, errlen, line, "too many fields (a comment starts "
                                   "with #)");
  if (strcmp(tok[0], "default") == 0) {
    if (n != 2 || (strcmp(tok[1], "allow") && strcmp(tok[1], "deny")))
      return fail(err, errlen, line, "default allow or default deny");
    if (*seen_default) return fail(err, errlen, line, "a second default");
    *seen_default = true;
    p->default_allow = strcmp(tok[1], "allow") == 0;
    return 0;
  }
  memset(r, 0, sizeof(*r));
  r->line = line;
  if (strcmp(tok[0], "allow") == 0)
    r->allow = true;
  else if (strcmp(tok[0], "deny") != 0)
    return fail(err, errlen, line,
                "'%.40s': a rule starts with allow, deny or default", tok[0]);
  if (n < 4)
    return fail(err, errlen, line, "allow|deny WHO ACTIONS WHAT [TOPIC]");
  int rc;
  if ((rc = parse_who(r, tok[1], line, err, errlen)) != 0 ||
      (rc = parse_actions(r, tok[2], line, err, errlen)) != 0 ||
      (rc = glob_copy(r->what, tok[3], "what", line, err, errlen)) != 0)
    return rc;
  if (n == 5) {
    if (r->actions != 1u << POLICY_SUBSCRIBE)
      return fail(err, errlen, line, "a topic goes with subscribe alone");
    if (strcmp(tok[4], "-") == 0)
      r->topic[0] = '\0'; /* the default topic */
    else if ((rc = glob_copy(r->topic, tok[4], "topic", line, err,
                             errlen)) != 0)
      return rc;
  } else {
    strcpy(r->topic, "*");
  }
  return 1;
}

int policy_parse(policy **out, const char *text, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!out || !text) return TR_EINVAL;
  *out = NULL;
  policy *p = calloc(1, sizeof(*p));
  char *copy = strdup(text);
  if (!p || !copy) {
    free(p);
    free(copy);
    return TR_ENOMEM;
  }
  p->default_allow = true;
  bool seen_default = false;
  size_t cap = 0;
  int rc = 0;
  uint32_t line = 0;
  for (char *s = copy, *next; s && rc == 0; s = next) {
    line++;
    next = strchr(s, '\n');
    if (next) *next++ = '\0';
    for (char *c = s; *c; c++)
      if (*c != '\t' && *c != '\r' && (unsigned char)*c < 0x20) {
        rc = fail(err, errlen, line, "a control character");
        break;
      }
    if (rc) break;
    rule r;
    int got = parse_line(p, s, line, &seen_default, &r, err, errlen);
    if (got < 0) {
      rc = got;
    } else if (got == 1) {
      if (p->n == POLICY_RULES_MAX) {
        rc = fail(err, errlen, line, "more than %u rules", POLICY_RULES_MAX);
      } else if (p->n == cap) {
        size_t ncap = cap ? cap * 2 : 16;
        rule *nr = realloc(p->rules, ncap * sizeof(*nr));
        if (!nr) rc = TR_ENOMEM;
        else {
          p->rules = nr;
          cap = ncap;
        }
      }
      if (rc == 0) p->rules[p->n++] = r;
    }
  }
  free(copy);
  if (rc != 0) {
    policy_free(p);
    return rc;
  }
  *out = p;
  return 0;
}

int policy_load(policy **out, const char *path, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!out || !path) return TR_EINVAL;
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) {
    int e = errno;
    if (err && errlen) snprintf(err, errlen, "%s: %s", path, strerror(e));
    return e == ENOENT ? TR_ENOTFOUND : TR_EINVAL;
  }
  char *buf = malloc(POLICY_FILE_MAX + 1);
  size_t len = buf ? fread(buf, 1, POLICY_FILE_MAX + 1, f) : 0;
  bool bad = buf && ferror(f);
  fclose(f);
  if (!buf) return TR_ENOMEM;
  if (bad || len > POLICY_FILE_MAX) {
    free(buf);
    if (err && errlen)
      snprintf(err, errlen, "%s: %s", path,
               bad ? "cannot be read" : "over 1 MiB");
    return bad ? TR_EINVAL : TR_ETOOBIG;
  }
  buf[len] = '\0';
  if (memchr(buf, '\0', len)) {
    free(buf);
    if (err && errlen) snprintf(err, errlen, "%s: a NUL byte", path);
    return TR_EINVAL;
  }
  char inner[256] = "";
  int rc = policy_parse(out, buf, inner, sizeof(inner));
  free(buf);
  if (rc != 0 && err && errlen) snprintf(err, errlen, "%s: %s", path, inner);
  return rc;
}

void policy_free(policy *p) {
  if (!p) return;
  free(p->rules);
  free(p);
}

/* ---- decisions ----------------------------------------------------------- */

static bool who_matches(const rule *r, const policy_subject *s) {
  switch (r->who) {
  case WHO_ANY: return true;
  case WHO_ROLE: return r->role == s->role;
  case WHO_NODE:
    return s->role == POLICY_ROLE_NODE &&
           fnmatch(r->who_glob, s->name, 0) == 0;
  case WHO_CLIENT:
    return s->role != POLICY_ROLE_NODE &&
           fnmatch(r->who_glob, s->name, 0) == 0;
  }
  return false;
}

bool policy_allows(const policy *p, const policy_subject *s,
                   policy_action a, const char *object, const char *topic,
                   uint32_t *line) {
  if (line) *line = 0;
  if (!p) return true;
  if ((unsigned)a >= POLICY_ACTIONS || !s || !s->name || !object)
    return false;
  for (size_t i = 0; i < p->n; i++) {
    const rule *r = &p->rules[i];
    if (!(r->actions & (1u << a)) || !who_matches(r, s) ||
        fnmatch(r->what, object, 0) != 0)
      continue;
    if (a == POLICY_SUBSCRIBE) {
      const char *t = topic ? topic : "";
      if (r->topic[0] ? fnmatch(r->topic, t, 0) != 0 : t[0] != '\0')
        continue;
    }
    if (line) *line = r->line;
    return r->allow;
  }
  return p->default_allow;
}

size_t policy_count(const policy *p) { return p ? p->n : 0; }

bool policy_default_allows(const policy *p) {
  return !p || p->default_allow;
}
