/* swim_tags.c — a member's tags (swim.h): the one form they are signed,
 * gossiped and listed in ("k=v,k=v", sorted by key), its check, and the
 * join of a config's "key=value" strings into it. */
#include <stdlib.h>
#include <string.h>

#include "swim.h"

static bool tag_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
}

bool swim_tags_valid(const char *tags, size_t len) {
  if (len == 0) return true;
  if (!tags || len > SWIM_TAGS_MAX) return false;
  const char *p = tags, *end = tags + len, *prev = NULL;
  size_t prev_len = 0;
  for (unsigned pairs = 1;; pairs++) {
    if (pairs > TR_TAGS_MAX) return false;
    const char *key = p;
    while (p < end && tag_char(*p)) p++;
    size_t klen = (size_t)(p - key);
    if (klen == 0 || klen > TR_TAG_KEY_MAX || p == end || *p++ != '=')
      return false;
    /* Strictly ascending keys: sorted, and none twice. */
    if (prev) {
      int c = memcmp(prev, key, klen < prev_len ? klen : prev_len);
      if (c > 0 || (c == 0 && prev_len >= klen)) return false;
    }
    prev = key;
    prev_len = klen;
    const char *value = p;
    while (p < end && tag_char(*p)) p++;
    if ((size_t)(p - value) > TR_TAG_VALUE_MAX) return false;
    if (p == end) return true;
    if (*p++ != ',' || p == end) return false;
  }
}

/* The reasons below name the limits. */
_Static_assert(TR_TAGS_MAX == 8 && TR_TAG_KEY_MAX == 32 &&
                   TR_TAG_VALUE_MAX == 64 && SWIM_TAGS_MAX == 512,
               "update swim_tags_join's reasons");

static int kv_cmp(const void *a, const void *b) {
  const char *x = *(const char *const *)a, *y = *(const char *const *)b;
  for (; *x == *y && *x != '='; x++, y++) {
  }
  /* '=' ends a key: it sorts before any key character. */
  unsigned char cx = *x == '=' ? 0 : (unsigned char)*x;
  unsigned char cy = *y == '=' ? 0 : (unsigned char)*y;
  return cx < cy ? -1 : cx > cy;
}

int swim_tags_join(const char *const *kv, size_t n,
                   char out[SWIM_TAGS_MAX + 1], const char **why) {
  const char *sorted[TR_TAGS_MAX];
  out[0] = '\0';
  if (n > TR_TAGS_MAX || (n && !kv)) {
    *why = n > TR_TAGS_MAX ? "more than 8 tags" : "no tags array";
    return TR_EINVAL;
  }
  for (size_t i = 0; i < n; i++) {
    const char *p = kv[i] ? kv[i] : "", *eq = strchr(p, '=');
    size_t klen = eq ? (size_t)(eq - p) : 0;
    *why = !eq || klen == 0  ? "want key=value"
           : klen > TR_TAG_KEY_MAX ? "key longer than 32 bytes"
           : strlen(eq + 1) > TR_TAG_VALUE_MAX
               ? "value longer than 64 bytes"
               : NULL;
    for (const char *c = p; !*why && *c; c++)
      if (c != eq && !tag_char(*c)) *why = "characters other than "
                                           "[A-Za-z0-9_.-]";
    if (*why) return TR_EINVAL;
    sorted[i] = p;
  }
  qsort(sorted, n, sizeof(*sorted), kv_cmp);
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    if (i && kv_cmp(&sorted[i - 1], &sorted[i]) == 0) {
      *why = "a key given twice";
      return TR_EINVAL;
    }
    size_t l = strlen(sorted[i]);
    if (len + (i > 0) + l > SWIM_TAGS_MAX) {
      *why = "tags longer than 512 bytes in all";
      out[0] = '\0';
      return TR_EINVAL;
    }
    if (i) out[len++] = ',';
    memcpy(out + len, sorted[i], l);
    len += l;
  }
  out[len] = '\0';
  *why = NULL;
  return 0;
}
