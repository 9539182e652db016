/* ops_print.c — the operator verbs' output, text for people or JSON: the
 * formatting that the node used to do, now on the client side of the
 * structured operator replies. */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "ops_print.h"

void ops_print_json_str(FILE *f, const void *p, size_t len) {
  const unsigned char *s = p;
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

static void json_str(const char *s) { ops_print_json_str(stdout, s, strlen(s)); }

/* A JSON list's "[" waits for its first item (or its end), so a call
 * that fails before any item prints its error alone. */
void ops_list_begin(ops_list *l) { l->n = 0; }

void ops_list_end(ops_list *l) {
  if (l->json) printf("%s]\n", l->n ? "" : "[");
}

/* A member's tags ("k=v,k=v") as a JSON object. */
static void json_tags(const char *tags) {
  putchar('{');
  for (const char *p = tags; *p;) {
    size_t n = strcspn(p, ","), k = strcspn(p, "=");
    if (k > n) k = n;
    if (p != tags) putchar(',');
    ops_print_json_str(stdout, p, k);
    putchar(':');
    ops_print_json_str(stdout, p + k + (k < n), n - k - (k < n));
    p += n + (p[n] == ',');
  }
  putchar('}');
}

void ops_print_member(void *arg, const tr_member *m, int self) {
  ops_list *l = arg;
  const char *st = tr_member_state_name(m->state);
  if (l->json) {
    printf("%s{\"name\":", l->n ? "," : "[");
    json_str(m->name);
    printf(",\"addr\":");
    json_str(m->addr);
    printf(",\"state\":\"%s\",\"epoch\":%" PRIu64 ",\"incarnation\":%" PRIu32
           ",\"self\":%s,\"tags\":",
           st, m->epoch, m->incarnation, self ? "true" : "false");
    json_tags(m->tags);
    putchar('}');
  } else {
    if (l->n == 0)
      printf("%-24s %-8s %-24s %-24s %-19s %s\n", "NAME", "STATE", "ADDRESS",
             "TAGS", "STARTED (UTC)", "EPOCH, INCARNATION");
    char started[24] = "-";
    time_t secs = (time_t)(m->epoch / 1000);
    struct tm tm;
    if (m->epoch && gmtime_r(&secs, &tm))
      strftime(started, sizeof(started), "%Y-%m-%d %H:%M:%S", &tm);
    printf("%-24s %-8s %-24s %-24s %-19s epoch=%" PRIu64 " inc=%" PRIu32
           "%s\n",
           m->name, st, m->addr[0] ? m->addr : "-",
           m->tags[0] ? m->tags : "-", started, m->epoch, m->incarnation,
           self ? " (this node)" : "");
  }
  l->n++;
}

void ops_print_actor(void *arg, const char *id, const char *node) {
  ops_list *l = arg;
  if (l->json) {
    printf("%s{\"id\":", l->n ? "," : "[");
    json_str(id);
    printf(",\"node\":");
    json_str(node);
    printf("}");
  } else {
    printf("%-40s %s\n", id, node);
  }
  l->n++;
}

void ops_print_group(void *arg, const tr_group_member *m) {
  ops_list *l = arg;
  if (l->json) {
    printf("%s{\"group\":", l->n ? "," : "[");
    json_str(m->group);
    printf(",\"id\":");
    json_str(m->id);
    printf(",\"node\":");
    json_str(m->node);
    printf("}");
  } else {
    printf("%-24s %-40s %s\n", m->group, m->id, m->node);
  }
  l->n++;
}

/* Stats are one object (JSON) or aligned lines, led by the node's name. */
void ops_print_counter(void *arg, const char *node, const char *name,
                       uint64_t value) {
  ops_list *l = arg;
  if (l->n == 0) {
    if (l->json) {
      printf("{\"node\":");
      json_str(node);
    } else {
      printf("%-18s %s\n", "node", node);
    }
  }
  if (l->json) {
    printf(",");
    json_str(name);
    printf(":%" PRIu64, value);
  } else {
    printf("%-18s %" PRIu64 "\n", name, value);
  }
  l->n++;
}

void ops_print_health(const tr_op_health_info *h, bool json) {
  if (json) {
    printf("{\"node\":");
    json_str(h->node);
    printf(",\"alive\":true,\"ready\":%s,\"members_up\":%" PRIu32 "}\n",
           h->ready ? "true" : "false", h->members_up);
  } else {
    printf("%s: alive, %s, %" PRIu32 " member%s up (alive or suspect)\n",
           h->node, h->ready ? "ready" : "not ready (joining)", h->members_up,
           h->members_up == 1 ? "" : "s");
  }
}

void ops_print_info(const tr_op_info *in, bool json) {
  char expires[32] = "-";
  time_t t = (time_t)in->cert_not_after;
  struct tm tm;
  if (in->cert_not_after && gmtime_r(&t, &tm))
    strftime(expires, sizeof(expires), "%Y-%m-%d %H:%M:%S UTC", &tm);
  if (json) {
    printf("{\"version\":");
    json_str(in->version);
    printf(",\"name\":");
    json_str(in->name);
    printf(",\"addr\":");
    json_str(in->addr);
    printf(",\"uptime_ms\":%" PRIu64 ",\"members_alive\":%" PRIu32
           ",\"actors\":%" PRIu64 ",\"links\":%" PRIu32 ",\"cert_cn\":",
           in->uptime_ms, in->members_alive, in->actors, in->links);
    json_str(in->cert_cn);
    printf(",\"cert_role\":");
    json_str(in->cert_role);
    printf(",\"cert_not_after\":%" PRId64 "}\n", in->cert_not_after);
    return;
  }
  uint64_t s = in->uptime_ms / 1000;
  printf("%-14s %s\n%-14s %s\n%-14s %s\n", "name", in->name, "version",
         in->version, "address", in->addr[0] ? in->addr : "-");
  printf("%-14s %" PRIu64 "d %02" PRIu64 ":%02" PRIu64 ":%02" PRIu64 "\n",
         "uptime", s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
  printf("%-14s %" PRIu32 " alive or suspect\n%-14s %" PRIu64
         "\n%-14s %" PRIu32 " up\n",
         "members", in->members_alive, "actors", in->actors, "links",
         in->links);
  printf("%-14s CN=%s, role %s, expires %s\n", "certificate",
         in->cert_cn[0] ? in->cert_cn : "?",
         in->cert_role[0] ? in->cert_role : "?", expires);
}

void ops_print_message(const tr_op_message *m, bool json) {
  if (json) {
    printf("{\"from\":");
    json_str(m->from);
    printf(",\"node\":");
    json_str(m->node);
    printf(",\"data\":");
    ops_print_json_str(stdout, m->data, m->len);
    printf("}\n");
  } else {
    fwrite(m->data, 1, m->len, stdout);
    if (!m->len || ((const char *)m->data)[m->len - 1] != '\n') putchar('\n');
  }
  fflush(stdout);
}

void ops_print_now(char *out, size_t cap) {
  struct timespec ts;
  struct tm tm;
  char day[24];
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0 ||
      !gmtime_r(&ts.tv_sec, &tm) ||
      !strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm)) {
    snprintf(out, cap, "-");
    return;
  }
  snprintf(out, cap, "%s.%03ldZ", day, ts.tv_nsec / 1000000L);
}
