/* inspector_params.c — the inspector's query strings: a key's value
 * (percent-decoded), numbers, and the parameters of each endpoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspector_int.h"

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The value of key in the query string, URL-decoded into out (cap bytes):
 * 1 found, 0 absent, -1 malformed or too long. */
int ins_query_get(const http_request *req, const char *key, char *out,
                  size_t cap) {
  const char *p = req->query, *end = req->query + req->query_len;
  size_t klen = strlen(key);
  while (p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *item_end = amp ? amp : end;
    const char *eq = memchr(p, '=', (size_t)(item_end - p));
    const char *kend = eq ? eq : item_end;
    if ((size_t)(kend - p) == klen && memcmp(p, key, klen) == 0) {
      size_t o = 0;
      for (const char *v = eq ? eq + 1 : item_end; v < item_end; v++) {
        int ch = (unsigned char)*v;
        if (ch == '+') {
          ch = ' ';
        } else if (ch == '%') {
          int hi = v + 2 < item_end ? hexval(v[1]) : -1;
          int lo = hi >= 0 ? hexval(v[2]) : -1;
          if (lo < 0) return -1;
          ch = hi * 16 + lo;
          v += 2;
        }
        if (ch == 0 || o + 1 >= cap) return -1;
        out[o++] = (char)ch;
      }
      out[o] = '\0';
      return 1;
    }
    p = item_end + 1;
  }
  out[0] = '\0';
  return 0;
}

bool ins_parse_u32(const char *s, uint32_t max, uint32_t *out) {
  if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 9)
    return false;
  unsigned long v = strtoul(s, NULL, 10);
  if (v > max) return false;
  *out = (uint32_t)v;
  return true;
}

/* Fills p from the query for kind: NULL, or why it is a bad request. */
const char *ins_parse_params(const http_request *req, api_kind kind,
                             api_params *p, char *why, size_t cap) {
  memset(p, 0, sizeof(*p));
  p->limit = INS_LIMIT_DEFAULT;
  char v[TR_ID_MAX + 1];
  if (kind == API_ACTOR) {
    int rc = ins_query_get(req, "id", p->id, sizeof(p->id));
    if (rc < 0) return "bad id (at most 255 bytes, URL-encoded)";
    if (rc == 0 || !p->id[0]) return "missing id (/api/actor?id=ID)";
    return NULL;
  }
  if (kind == API_DEAD) { /* ?limit=N&node=NAME */
    int rc = ins_query_get(req, "limit", v, sizeof(v));
    if (rc < 0 || (rc > 0 && (!ins_parse_u32(v, TR_DEAD_LETTERS_KEPT, &p->limit) ||
                              p->limit == 0)))
      return "bad limit (want 1 to 64)";
    if (ins_query_get(req, "node", p->node, sizeof(p->node)) < 0)
      return "bad node (at most 255 bytes, URL-encoded)";
    return NULL;
  }
  if (kind != API_ACTORS && kind != API_STREAM) return NULL;
  int rc = ins_query_get(req, "sort", v, sizeof(v));
  if (rc < 0) return "bad sort";
  if (rc > 0) {
    bool known = strcmp(v, "node") == 0;
    p->by_node = known;
    for (int s = 0; s < TR_INSPECT_SORT_COUNT && !known; s++)
      if (strcmp(v, tr_inspect_sort_name((tr_inspect_sort)s)) == 0) {
        p->sort = (tr_inspect_sort)s;
        known = true;
      }
    if (!known) {
      snprintf(why, cap, "bad sort '%.64s' (want id, type, node, queued, "
               "capacity, hwm, delivered, sent, in_per_s, out_per_s, "
               "handler_mean_ns, handler_max_ns, age_ms, dead or restarts)",
               v);
      return why;
    }
  }
  rc = ins_query_get(req, "order", v, sizeof(v));
  if (rc < 0 || (rc > 0 && strcmp(v, "asc") != 0 && strcmp(v, "desc") != 0))
    return "bad order (want asc or desc)";
  p->desc = rc > 0 && strcmp(v, "desc") == 0;
  if (ins_query_get(req, "filter", p->filter, sizeof(p->filter)) < 0)
    return "bad filter (at most 255 bytes, URL-encoded)";
  if (ins_query_get(req, "node", p->node, sizeof(p->node)) < 0)
    return "bad node (at most 255 bytes, URL-encoded)";
  rc = ins_query_get(req, "offset", v, sizeof(v));
  if (rc < 0 || (rc > 0 && !ins_parse_u32(v, TR_INSPECT_LIMIT_MAX, &p->offset)))
    return "bad offset (want 0 to 10000)";
  rc = ins_query_get(req, "limit", v, sizeof(v));
  if (rc < 0 ||
      (rc > 0 && (!ins_parse_u32(v, INS_LIMIT_MAX, &p->limit) || p->limit == 0)))
    return "bad limit (want 1 to 500)";
  if (p->offset + p->limit > TR_INSPECT_LIMIT_MAX)
    return "offset + limit past 10000";
  return NULL;
}
