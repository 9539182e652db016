/* expo_parse.c — see expo_parse.h. Written from the format's description
 * (prometheus.io, "Exposition formats", text format 0.0.4). */
#include "expo_parse.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fam {
  char name[128];
  char type[16];
  bool help, typed, sampled;
} fam;

typedef struct parser {
  fam *fams;
  size_t nfams, capfams;
  fam *current; /* the family whose samples may follow */
  int lineno;
  char *why;
  size_t whylen;
} parser;

static bool fail(parser *p, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  snprintf(p->why, p->whylen, "line %d: %s", p->lineno, msg);
  return false;
}

static bool name_start(char c) { return isalpha((unsigned char)c) || c == '_' || c == ':'; }
static bool name_char(char c) { return name_start(c) || isdigit((unsigned char)c); }

/* Reads a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) at *s into out. */
static bool read_name(const char **s, char *out, size_t cap, bool label) {
  const char *q = *s;
  if (!name_start(*q) || (label && *q == ':')) return false;
  size_t n = 0;
  while (name_char(*q) && !(label && *q == ':')) {
    if (n + 1 >= cap) return false;
    out[n++] = *q++;
  }
  out[n] = '\0';
  *s = q;
  return true;
}

static fam *fam_get(parser *p, const char *name, bool create) {
  for (size_t i = 0; i < p->nfams; i++)
    if (strcmp(p->fams[i].name, name) == 0) return &p->fams[i];
  if (!create) return NULL;
  if (p->nfams == p->capfams) {
    p->capfams = p->capfams ? 2 * p->capfams : 64;
    p->fams = realloc(p->fams, p->capfams * sizeof(fam));
    if (!p->fams) return NULL;
  }
  fam *f = &p->fams[p->nfams++];
  memset(f, 0, sizeof(*f));
  snprintf(f->name, sizeof(f->name), "%s", name);
  return f;
}

/* A float as the format allows: Go's ParseFloat plus NaN and +-Inf. */
static bool read_value(const char **s, double *out) {
  const char *q = *s;
  if (strncmp(q, "NaN", 3) == 0) { *out = NAN; *s = q + 3; return true; }
  if (strncmp(q, "+Inf", 4) == 0) { *out = INFINITY; *s = q + 4; return true; }
  if (strncmp(q, "-Inf", 4) == 0) { *out = -INFINITY; *s = q + 4; return true; }
  const char *r = q;
  if (*r == '+' || *r == '-') r++;
  size_t digits = 0;
  while (isdigit((unsigned char)*r)) { r++; digits++; }
  if (*r == '.') { r++; while (isdigit((unsigned char)*r)) { r++; digits++; } }
  if (digits == 0) return false;
  if (*r == 'e' || *r == 'E') {
    r++;
    if (*r == '+' || *r == '-') r++;
    if (!isdigit((unsigned char)*r)) return false;
    while (isdigit((unsigned char)*r)) r++;
  }
  char *end;
  *out = strtod(q, &end);
  if (end != r) return false;
  *s = r;
  return true;
}

static bool parse_comment(parser *p, const char *line) {
  bool help = strncmp(line, "# HELP ", 7) == 0;
  bool type = strncmp(line, "# TYPE ", 7) == 0;
  if (!help && !type) return true; /* a plain comment */
  const char *s = line + 7;
  char name[128];
  if (!read_name(&s, name, sizeof(name), false))
    return fail(p, "bad metric name in %s", help ? "HELP" : "TYPE");
  fam *f = fam_get(p, name, true);
  if (!f) return fail(p, "out of memory");
  if (f->sampled) return fail(p, "%s of %s after its samples",
                              help ? "HELP" : "TYPE", name);
  if (p->current != f) p->current = f; /* a new family begins */
  if (help) {
    if (f->help) return fail(p, "second HELP for %s", name);
    if (*s != ' ' && *s != '\0') return fail(p, "no space after HELP name");
    f->help = true;
    for (const char *c = s; *c; c++) /* only \\ and \n are escapes */
      if (*c == '\\' && c[1] != '\\' && c[1] != 'n')
        return fail(p, "bad escape in HELP of %s", name);
    return true;
  }
  if (f->typed) return fail(p, "second TYPE for %s", name);
  if (*s++ != ' ') return fail(p, "no space after TYPE name");
  if (strcmp(s, "counter") && strcmp(s, "gauge") && strcmp(s, "histogram") &&
      strcmp(s, "summary") && strcmp(s, "untyped"))
    return fail(p, "unknown type '%s'", s);
  snprintf(f->type, sizeof(f->type), "%s", s);
  f->typed = true;
  return true;
}

static bool parse_sample(parser *p, const char *line, expo *e) {
  expo_sample smp;
  memset(&smp, 0, sizeof(smp));
  const char *s = line;
  if (!read_name(&s, smp.name, sizeof(smp.name), false))
    return fail(p, "bad metric name");
  fam *f = fam_get(p, smp.name, false);
  if (!f || !f->typed) return fail(p, "sample %s before its TYPE", smp.name);
  if (p->current != f) return fail(p, "sample %s apart from its family", smp.name);
  if (!f->help) return fail(p, "sample %s without HELP", smp.name);
  f->sampled = true;
  snprintf(smp.type, sizeof(smp.type), "%s", f->type);
  if (*s == '{') {
    s++;
    while (*s != '}') {
      if (smp.nlabels == EXPO_MAX_LABELS) return fail(p, "too many labels");
      char *ln = smp.lname[smp.nlabels], *lv = smp.lvalue[smp.nlabels];
      if (!read_name(&s, ln, sizeof(smp.lname[0]), true))
        return fail(p, "bad label name");
      if (strncmp(ln, "__", 2) == 0) return fail(p, "reserved label %s", ln);
      for (size_t i = 0; i < smp.nlabels; i++)
        if (strcmp(smp.lname[i], ln) == 0) return fail(p, "label %s twice", ln);
      if (*s++ != '=' || *s++ != '"') return fail(p, "want =\" after %s", ln);
      size_t n = 0;
      while (*s != '"') {
        if (!*s) return fail(p, "unterminated label value");
        char c = *s++;
        if (c == '\\') {
          c = *s++;
          if (c == 'n') c = '\n';
          else if (c != '\\' && c != '"') return fail(p, "bad escape in label");
        }
        if (n + 1 >= sizeof(smp.lvalue[0])) return fail(p, "label too long");
        lv[n++] = c;
      }
      lv[n] = '\0';
      s++;
      smp.nlabels++;
      if (*s == ',') s++;
      else if (*s != '}') return fail(p, "want , or } after a label");
    }
    s++;
  }
  if (*s++ != ' ') return fail(p, "want a space before the value");
  if (!read_value(&s, &smp.value)) return fail(p, "bad value");
  if (*s == ' ') { /* optional timestamp: an int64 in ms */
    s++;
    if (*s == '-') s++;
    if (!isdigit((unsigned char)*s)) return fail(p, "bad timestamp");
    while (isdigit((unsigned char)*s)) s++;
  }
  if (*s) return fail(p, "junk after the value");
  /* Duplicate series: same name and the same label set, in any order. */
  for (size_t i = 0; i < e->n; i++) {
    const expo_sample *o = &e->v[i];
    if (strcmp(o->name, smp.name) || o->nlabels != smp.nlabels) continue;
    bool same = true;
    for (size_t a = 0; a < smp.nlabels && same; a++) {
      const char *ov = expo_label(o, smp.lname[a]);
      same = ov && strcmp(ov, smp.lvalue[a]) == 0;
    }
    if (same) return fail(p, "duplicate series %s", smp.name);
  }
  if (e->n == e->cap) {
    e->cap = e->cap ? 2 * e->cap : 64;
    e->v = realloc(e->v, e->cap * sizeof(expo_sample));
    if (!e->v) return fail(p, "out of memory");
  }
  e->v[e->n++] = smp;
  return true;
}

bool expo_parse(const char *text, expo *e, char *why, size_t whylen) {
  memset(e, 0, sizeof(*e));
  parser p = {.why = why, .whylen = whylen};
  bool ok = true;
  size_t tlen = strlen(text);
  if (tlen > 0 && text[tlen - 1] != '\n') {
    p.lineno = 0;
    ok = fail(&p, "the text does not end with a newline");
  }
  const char *s = text;
  char *line = malloc(tlen + 1);
  while (ok && *s) {
    const char *nl = strchr(s, '\n');
    size_t len = nl ? (size_t)(nl - s) : strlen(s);
    memcpy(line, s, len);
    line[len] = '\0';
    p.lineno++;
    if (len > 0 && line[len - 1] == '\r') ok = fail(&p, "CR in line");
    else if (line[0] == '#') ok = parse_comment(&p, line);
    else if (len > 0) ok = parse_sample(&p, line, e);
    s += len + (nl ? 1 : 0);
  }
  free(line);
  free(p.fams);
  return ok;
}

void expo_free(expo *e) {
  free(e->v);
  memset(e, 0, sizeof(*e));
}

const char *expo_label(const expo_sample *s, const char *key) {
  for (size_t i = 0; i < s->nlabels; i++)
    if (strcmp(s->lname[i], key) == 0) return s->lvalue[i];
  return NULL;
}

const expo_sample *expo_find(const expo *e, const char *name, const char *key,
                             const char *val) {
  for (size_t i = 0; i < e->n; i++) {
    if (strcmp(e->v[i].name, name) != 0) continue;
    if (!key) return &e->v[i];
    const char *v = expo_label(&e->v[i], key);
    if (v && strcmp(v, val) == 0) return &e->v[i];
  }
  return NULL;
}

size_t expo_count(const expo *e, const char *name) {
  size_t n = 0;
  for (size_t i = 0; i < e->n; i++) n += strcmp(e->v[i].name, name) == 0;
  return n;
}
