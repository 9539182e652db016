/* expo_parse.h — a strict parser of the Prometheus text exposition (0.0.4)
 * for the daemon tests: HELP and TYPE once each and before a family's
 * samples, a family's samples together, valid metric and label names,
 * escaped label values, float values, no duplicate series. */
#ifndef TR_TEST_EXPO_PARSE_H
#define TR_TEST_EXPO_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define EXPO_MAX_LABELS 8

typedef struct expo_sample {
  char name[128];
  size_t nlabels;
  char lname[EXPO_MAX_LABELS][64];
  char lvalue[EXPO_MAX_LABELS][256]; /* unescaped */
  double value;
  char type[16]; /* of its family */
} expo_sample;

typedef struct expo {
  expo_sample *v;
  size_t n, cap;
} expo;

/* Parses text into e (free with expo_free). False with a reason (and the
 * line number) in why when anything is off. */
bool expo_parse(const char *text, expo *e, char *why, size_t whylen);
void expo_free(expo *e);
/* The first sample named name whose label key has value val (key NULL:
 * any), or NULL. */
const expo_sample *expo_find(const expo *e, const char *name, const char *key,
                             const char *val);
/* Its label's value, or NULL. */
const char *expo_label(const expo_sample *s, const char *key);
size_t expo_count(const expo *e, const char *name);

#endif
