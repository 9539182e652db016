/* log.c — see log.h. A line is built in a fixed buffer and written with one
 * fwrite, so lines from several threads (or processes sharing stderr) do
 * not interleave; an over-long line is cut and marked truncated. */
#include "log.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#define LOG_BURST 20u
#define LOG_WINDOW_MS 10000u
#define LOG_BUCKETS 64
#define LOG_EVENT_MAX 48
#define LOG_LINE_MAX 4096

typedef struct log_bucket {
  char event[LOG_EVENT_MAX]; /* "" = free */
  uint64_t window_start;
  uint32_t count;
  uint64_t suppressed;
  tr_log_level level; /* of the last suppressed line */
} log_bucket;

struct log_sink {
  log_format format;
  FILE *out;
  uint32_t burst, window_ms;
  uint64_t (*now_ms)(void *);
  void *now_arg;
  uv_mutex_t lock;
  log_bucket buckets[LOG_BUCKETS]; /* the last one is the overflow */
};

static const char *const level_names[] = {"", "error", "warn", "info",
                                          "debug"};

const char *log_level_name(tr_log_level l) {
  return l >= TR_LOG_ERROR && l <= TR_LOG_DEBUG ? level_names[l] : "unknown";
}

int log_level_parse(const char *name, tr_log_level *out) {
  for (int l = TR_LOG_ERROR; l <= TR_LOG_DEBUG; l++)
    if (name && strcmp(name, level_names[l]) == 0) {
      *out = (tr_log_level)l;
      return 0;
    }
  if (name && strcmp(name, "warning") == 0) {
    *out = TR_LOG_WARN;
    return 0;
  }
  return TR_EINVAL;
}

int log_format_parse(const char *name, log_format *out) {
  if (name && strcmp(name, "logfmt") == 0) *out = LOG_FORMAT_LOGFMT;
  else if (name && strcmp(name, "json") == 0) *out = LOG_FORMAT_JSON;
  else return TR_EINVAL;
  return 0;
}

static uint64_t hr_now_ms(void *arg) {
  (void)arg;
  return uv_hrtime() / 1000000u;
}

int log_sink_new(log_sink **out, const log_opts *opts) {
  *out = NULL;
  log_sink *s = calloc(1, sizeof(*s));
  if (!s) return TR_ENOMEM;
  log_opts o = {0};
  if (opts) o = *opts;
  s->format = o.format;
  s->out = o.out ? o.out : stderr;
  s->burst = o.burst ? o.burst : LOG_BURST;
  s->window_ms = o.window_ms ? o.window_ms : LOG_WINDOW_MS;
  s->now_ms = o.now_ms ? o.now_ms : hr_now_ms;
  s->now_arg = o.now_arg;
  if (uv_mutex_init(&s->lock) != 0) {
    free(s);
    return TR_ESYS;
  }
  *out = s;
  return 0;
}

/* ---- building a line -------------------------------------------------------- */

typedef struct line {
  char buf[LOG_LINE_MAX];
  size_t len;
  size_t mark; /* end of the last complete member or field */
  bool cut;
} line;

/* Room kept at the end for the truncation marker and the line's end. */
#define LOG_LINE_RESERVE 32

static void put_c(line *l, char ch) {
  if (l->len + LOG_LINE_RESERVE >= sizeof(l->buf)) {
    l->cut = true;
    return;
  }
  l->buf[l->len++] = ch;
}

static void put_s(line *l, const char *s) {
  while (*s) put_c(l, *s++);
}

static void put_n(line *l, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) put_c(l, s[i]);
}

static void put_hex(line *l, const char *prefix, unsigned char ch) {
  static const char hex[] = "0123456789abcdef";
  put_s(l, prefix);
  put_c(l, hex[ch >> 4]);
  put_c(l, hex[ch & 15]);
}

/* logfmt: text as is, control characters as \xNN. */
static void put_logfmt_safe(line *l, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch < 0x20 || ch == 0x7f) put_hex(l, "\\x", ch);
    else put_c(l, (char)ch);
  }
}

/* The inside of a JSON string. */
static void put_json_str(line *l, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '"') put_s(l, "\\\"");
    else if (ch == '\\') put_s(l, "\\\\");
    else if (ch == '\n') put_s(l, "\\n");
    else if (ch == '\t') put_s(l, "\\t");
    else if (ch < 0x20 || ch == 0x7f) put_hex(l, "\\u00", ch);
    else put_c(l, (char)ch);
  }
}

static void put_timestamp(line *l) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char b[32];
  size_t n = strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(b + n, sizeof(b) - n, ".%03dZ", (int)(ts.tv_nsec / 1000000L) % 1000);
  put_s(l, b);
}

/* A JSON number, exactly as the grammar has it (RFC 8259). */
static bool is_json_number(const char *s, size_t n) {
  size_t i = 0;
  if (i < n && s[i] == '-') i++;
  if (i >= n) return false;
  if (s[i] == '0') i++;
  else if (s[i] >= '1' && s[i] <= '9')
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  else return false;
  if (i < n && s[i] == '.') {
    i++;
    size_t d = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == d) return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    size_t d = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == d) return false;
  }
  return i == n;
}

static int hex_val(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* How many of the keys before (keys[0..n)) are key. */
static unsigned key_seen(const char *const *keys, const size_t *lens,
                         size_t n, const char *key, size_t klen) {
  unsigned seen = 0;
  for (size_t i = 0; i < n; i++)
    seen += lens[i] == klen && memcmp(keys[i], key, klen) == 0;
  return seen;
}

#define LOG_KEYS_MAX 64

/* The fields "k=v k2=\"v w\" flag" as JSON members, each after a comma.
 * Keys are never repeated: ts, level and event become field_ts...; a key
 * seen before gets _2, _3... (the first LOG_KEYS_MAX keys are tracked; a
 * line with more is cut there). */
static void put_json_fields(line *l, const char *f) {
  const char *keys[LOG_KEYS_MAX];
  size_t lens[LOG_KEYS_MAX], nkeys = 0;
  while (*f) {
    while (*f == ' ') f++;
    if (!*f) break;
    const char *key = f;
    while (*f && *f != '=' && *f != ' ') f++;
    size_t klen = (size_t)(f - key);
    if (nkeys == LOG_KEYS_MAX) {
      l->cut = true;
      break;
    }
    unsigned seen = key_seen(keys, lens, nkeys, key, klen);
    keys[nkeys] = key;
    lens[nkeys++] = klen;
    if (!l->cut) l->mark = l->len;
    put_c(l, ',');
    put_c(l, '"');
    if ((klen == 2 && memcmp(key, "ts", 2) == 0) ||
        (klen == 5 && memcmp(key, "level", 5) == 0) ||
        (klen == 5 && memcmp(key, "event", 5) == 0) ||
        (klen == 9 && memcmp(key, "truncated", 9) == 0))
      put_s(l, "field_");
    put_json_str(l, key, klen);
    if (seen) {
      char suffix[16];
      snprintf(suffix, sizeof(suffix), "_%u", seen + 1);
      put_s(l, suffix);
    }
    put_s(l, "\":");
    if (*f != '=') { /* a bare word */
      put_s(l, "true");
      continue;
    }
    f++;
    if (*f == '"') { /* quoted: up to the closing quote; \xNN is a byte,
                        \c the character c */
      f++;
      put_c(l, '"');
      while (*f && *f != '"') {
        if (*f == '\\' && f[1] == 'x' && hex_val(f[2]) >= 0 &&
            hex_val(f[3]) >= 0) {
          char byte = (char)(hex_val(f[2]) << 4 | hex_val(f[3]));
          put_json_str(l, &byte, 1);
          f += 4;
          continue;
        }
        if (*f == '\\' && f[1]) f++;
        put_json_str(l, f, 1);
        f++;
      }
      if (*f == '"') f++;
      put_c(l, '"');
      continue;
    }
    const char *val = f;
    while (*f && *f != ' ') f++;
    size_t vlen = (size_t)(f - val);
    if (is_json_number(val, vlen)) {
      put_n(l, val, vlen);
    } else {
      put_c(l, '"');
      put_json_str(l, val, vlen);
      put_c(l, '"');
    }
  }
  if (!l->cut) l->mark = l->len;
}

/* The end of the last whole key=value in buf[from..len): the last space
 * outside double quotes (a backslash escapes the next character). */
static size_t logfmt_last_field_end(const line *l, size_t from) {
  size_t end = from;
  bool quoted = false;
  for (size_t i = from; i < l->len; i++) {
    char ch = l->buf[i];
    if (quoted && ch == '\\') i++;
    else if (ch == '"') quoted = !quoted;
    else if (ch == ' ' && !quoted) end = i;
  }
  return end;
}

/* One line; fields may be NULL. Caller holds the lock. */
static void emit(log_sink *s, tr_log_level level, const char *event,
                 const char *fields) {
  line l;
  l.len = l.mark = 0;
  l.cut = false;
  if (!event) event = "";
  if (s->format == LOG_FORMAT_JSON) {
    put_s(&l, "{\"ts\":\"");
    put_timestamp(&l);
    put_s(&l, "\",\"level\":\"");
    put_s(&l, log_level_name(level));
    put_s(&l, "\",\"event\":\"");
    put_json_str(&l, event, strlen(event));
    put_c(&l, '"');
    l.mark = l.len;
    if (fields) put_json_fields(&l, fields);
    if (l.cut) { /* drop a half-written member; say so */
      l.len = l.mark;
      l.cut = false;
      memcpy(l.buf + l.len, ",\"truncated\":true", 17);
      l.len += 17;
    }
    l.buf[l.len++] = '}';
  } else {
    put_s(&l, "ts=");
    put_timestamp(&l);
    put_s(&l, " level=");
    put_s(&l, log_level_name(level));
    put_s(&l, " event=");
    put_logfmt_safe(&l, event, strlen(event));
    size_t from = l.len;
    if (fields && *fields) {
      put_c(&l, ' ');
      put_logfmt_safe(&l, fields, strlen(fields));
    }
    if (l.cut) { /* drop a half-written field; say so */
      l.len = logfmt_last_field_end(&l, from);
      l.cut = false;
      memcpy(l.buf + l.len, " truncated=1", 12);
      l.len += 12;
    }
  }
  l.buf[l.len++] = '\n';
  fwrite(l.buf, 1, l.len, s->out);
  fflush(s->out);
}

static void emit_summary(log_sink *s, log_bucket *b) {
  char fields[96];
  snprintf(fields, sizeof(fields), "suppressed=%llu window_s=%.3g",
           (unsigned long long)b->suppressed, s->window_ms / 1000.0);
  emit(s, b->level, b->event, fields);
  b->suppressed = 0;
}

/* ---- rate limit ---------------------------------------------------------------- */

static log_bucket *bucket_of(log_sink *s, const char *event) {
  for (int i = 0; i < LOG_BUCKETS - 1; i++) {
    log_bucket *b = &s->buckets[i];
    if (b->event[0] == '\0') {
      snprintf(b->event, sizeof(b->event), "%s", event);
      return b;
    }
    if (strncmp(b->event, event, sizeof(b->event) - 1) == 0) return b;
  }
  log_bucket *o = &s->buckets[LOG_BUCKETS - 1];
  snprintf(o->event, sizeof(o->event), "log_overflow");
  return o;
}

void log_sink_write(void *sink, tr_log_level level, const char *event,
                    const char *fields) {
  log_sink *s = sink;
  if (!s) return;
  if (!event || !*event) event = "unnamed";
  uv_mutex_lock(&s->lock);
  uint64_t now = s->now_ms(s->now_arg);
  log_bucket *b = bucket_of(s, event);
  if (b->count == 0 || now - b->window_start >= s->window_ms) {
    if (b->suppressed) emit_summary(s, b);
    b->window_start = now;
    b->count = 0;
  }
  if (b->count < s->burst) {
    b->count++;
    emit(s, level, event, fields);
  } else {
    b->suppressed++;
    b->level = level;
  }
  uv_mutex_unlock(&s->lock);
}

static void flush_locked(log_sink *s, bool all) {
  uint64_t now = s->now_ms(s->now_arg);
  for (int i = 0; i < LOG_BUCKETS; i++) {
    log_bucket *b = &s->buckets[i];
    if (!b->suppressed) continue;
    if (!all && now - b->window_start < s->window_ms) continue;
    emit_summary(s, b);
    /* A new window starts empty; the next line opens it. */
    b->count = 0;
  }
}

void log_sink_flush(log_sink *s) {
  if (!s) return;
  uv_mutex_lock(&s->lock);
  flush_locked(s, false);
  uv_mutex_unlock(&s->lock);
}

void log_sink_free(log_sink *s) {
  if (!s) return;
  uv_mutex_lock(&s->lock);
  flush_locked(s, true);
  uv_mutex_unlock(&s->lock);
  uv_mutex_destroy(&s->lock);
  free(s);
}
