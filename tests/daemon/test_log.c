/* test_log.c — the daemon's log sink (node/daemon/log.c): logfmt and JSON
 * lines, escaping, and the per-event rate limit, on a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

typedef struct fixture {
  char *buf;
  size_t len;
  FILE *out;
  uint64_t now;
  log_sink *sink;
} fixture;

static uint64_t fake_now(void *arg) { return ((fixture *)arg)->now; }

static fixture *fx_new(log_format fmt) {
  fixture *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  f->out = open_memstream(&f->buf, &f->len);
  assert_non_null(f->out);
  log_opts o = {.format = fmt, .out = f->out, .now_ms = fake_now,
                .now_arg = f};
  assert_int_equal(log_sink_new(&f->sink, &o), 0);
  return f;
}

static void fx_free(fixture *f) {
  log_sink_free(f->sink);
  fclose(f->out);
  free(f->buf);
  free(f);
}

static size_t count_lines(const fixture *f) {
  size_t n = 0;
  for (size_t i = 0; i < f->len; i++) n += f->buf[i] == '\n';
  return n;
}

static size_t count_str(const fixture *f, const char *s) {
  size_t n = 0;
  for (const char *p = f->buf; p && (p = strstr(p, s)); p++) n++;
  return n;
}

/* The text after the timestamp, which is the only varying part. */
static const char *after_ts(const char *line, const char *marker) {
  const char *p = strstr(line, marker);
  assert_non_null(p);
  return p;
}

static void logfmt_line_has_ts_level_event_and_fields(void **st) {
  fixture *f = fx_new(LOG_FORMAT_LOGFMT);
  log_sink_write(f->sink, TR_LOG_WARN, "link_closed", "peer=n2 reason=timeout");
  assert_int_equal(count_lines(f), 1);
  assert_memory_equal(f->buf, "ts=", 3);
  /* ts=YYYY-MM-DDTHH:MM:SS.mmmZ */
  assert_int_equal(f->buf[3 + 4], '-');
  assert_int_equal(f->buf[3 + 10], 'T');
  assert_int_equal(f->buf[3 + 23], 'Z');
  assert_string_equal(after_ts(f->buf, " level="),
                      " level=warn event=link_closed peer=n2 reason=timeout\n");
  fx_free(f);
}

static void json_line_turns_fields_into_members(void **st) {
  fixture *f = fx_new(LOG_FORMAT_JSON);
  log_sink_write(f->sink, TR_LOG_ERROR, "tls_config_failed",
                 "error=TR_ETLS detail=\"bad \\\"pem\\\" file\" rc=-9 "
                 "ratio=0.5 level=x resumed");
  assert_memory_equal(f->buf, "{\"ts\":\"", 7);
  assert_string_equal(
      after_ts(f->buf, "\"level\""),
      "\"level\":\"error\",\"event\":\"tls_config_failed\",\"error\":\"TR_ETLS\","
      "\"detail\":\"bad \\\"pem\\\" file\",\"rc\":-9,\"ratio\":0.5,"
      "\"field_level\":\"x\",\"resumed\":true}\n");
  fx_free(f);
}

static void json_values_that_only_look_numeric_stay_strings(void **st) {
  fixture *f = fx_new(LOG_FORMAT_JSON);
  log_sink_write(f->sink, TR_LOG_INFO, "e", "a=007 b=1e c=-0 d=1.2.3 e=");
  assert_string_equal(after_ts(f->buf, "\"level\""),
                      "\"level\":\"info\",\"event\":\"e\",\"a\":\"007\","
                      "\"b\":\"1e\",\"c\":-0,\"d\":\"1.2.3\",\"e\":\"\"}\n");
  fx_free(f);
}

static void control_characters_are_escaped_so_no_line_is_forged(void **st) {
  fixture *f = fx_new(LOG_FORMAT_LOGFMT);
  log_sink_write(f->sink, TR_LOG_WARN, "peer_refused",
                 "peer=evil\nts=0 level=error event=forged");
  assert_int_equal(count_lines(f), 1);
  assert_non_null(strstr(f->buf, "peer=evil\\x0ats=0"));
  fx_free(f);
  f = fx_new(LOG_FORMAT_JSON);
  log_sink_write(f->sink, TR_LOG_WARN, "peer_refused", "peer=\"a\nb\x01\"");
  assert_int_equal(count_lines(f), 1);
  assert_non_null(strstr(f->buf, "\"peer\":\"a\\nb\\u0001\""));
  fx_free(f);
}

/* Issue 16, finding 5: an operator's name or a target id could add fields
 * ("client=ops#z level=error event=..."). tr_log_fields writes each %s as
 * one value, and the sink keeps it one value in both formats. */
static void values_cannot_add_fields(void **st) {
  char fields[256];
  int n = tr_log_fields(fields, sizeof(fields), "client=%s target=%s n=%d",
                        "ops#z level=error event=forged", "a\"b\\c\nd", 7);
  assert_string_equal(fields, "client=\"ops#z level=error event=forged\" "
                              "target=\"a\\\"b\\\\c\\x0ad\" n=7");
  assert_int_equal(n, (int)strlen(fields));
  fixture *f = fx_new(LOG_FORMAT_LOGFMT);
  log_sink_write(f->sink, TR_LOG_WARN, "op_denied", fields);
  assert_string_equal(after_ts(f->buf, " level="),
                      " level=warn event=op_denied client=\"ops#z "
                      "level=error event=forged\" target=\"a\\\"b\\\\c\\x0ad\" "
                      "n=7\n");
  fx_free(f);
  f = fx_new(LOG_FORMAT_JSON);
  log_sink_write(f->sink, TR_LOG_WARN, "op_denied", fields);
  assert_string_equal(after_ts(f->buf, "\"level\""),
                      "\"level\":\"warn\",\"event\":\"op_denied\",\"client\":"
                      "\"ops#z level=error event=forged\",\"target\":"
                      "\"a\\\"b\\\\c\\nd\",\"n\":7}\n");
  fx_free(f);
}

static void log_fields_format_like_snprintf_otherwise(void **st) {
  char b[128];
  tr_log_fields(b, sizeof(b), "a=%s b=%s c=%s d=%.*s e=%5.1f%% f=%llu g=%zu "
                "h=%x i=%-3d|", "plain", "", "x=y", 3, "abcdef", 2.25,
                (unsigned long long)1 << 40, (size_t)9, 255u, -4);
  assert_string_equal(b, "a=plain b=\"\" c=\"x=y\" d=abc e=  2.2% "
                         "f=1099511627776 g=9 h=ff i=-4 |");
  /* Cut like snprintf: the length wanted, always terminated. */
  char small[8];
  int n = tr_log_fields(small, sizeof(small), "peer=%s", "a b c");
  assert_int_equal(n, (int)strlen("peer=\"a b c\""));
  assert_string_equal(small, "peer=\"a");
}

static void json_keys_are_never_repeated(void **st) {
  fixture *f = fx_new(LOG_FORMAT_JSON);
  log_sink_write(f->sink, TR_LOG_INFO, "e",
                 "a=1 a=2 ts=x a=3 truncated=1 event=y");
  assert_string_equal(after_ts(f->buf, "\"level\""),
                      "\"level\":\"info\",\"event\":\"e\",\"a\":1,\"a_2\":2,"
                      "\"field_ts\":\"x\",\"a_3\":3,\"field_truncated\":1,"
                      "\"field_event\":\"y\"}\n");
  fx_free(f);
}

static void flood_of_one_event_is_cut_to_burst_then_summarised(void **st) {
  fixture *f = fx_new(LOG_FORMAT_LOGFMT);
  f->now = 1000;
  for (int i = 0; i < 25; i++)
    log_sink_write(f->sink, TR_LOG_WARN, "tls_refused", "peer=x");
  assert_int_equal(count_lines(f), 20);
  f->now += 9999; /* same window */
  log_sink_write(f->sink, TR_LOG_WARN, "tls_refused", "peer=x");
  assert_int_equal(count_lines(f), 20);
  f->now += 1; /* the window has ended: summary, then the line */
  log_sink_write(f->sink, TR_LOG_WARN, "tls_refused", "peer=y");
  assert_int_equal(count_lines(f), 22);
  assert_int_equal(count_str(f, "event=tls_refused suppressed=6 window_s=10\n"),
                   1);
  assert_non_null(strstr(f->buf, "suppressed=6 window_s=10\nts="));
  assert_int_equal(count_str(f, "peer=y\n"), 1);
  fx_free(f);
}

static void other_events_are_not_limited_by_a_flood(void **st) {
  fixture *f = fx_new(LOG_FORMAT_LOGFMT);
  for (int i = 0; i < 100; i++)
    log_sink_write(f->sink, TR_LOG_WARN, "flood", NULL);
  log_sink_write(f->sink, TR_LOG_INFO, "member", "name=n1 state=alive");
  assert_int_equal(count_lines(f), 21);
  assert_int_equal(count_str(f, "event=member name=n1"), 1);
  fx_free(f);
}

static void flush_reports_a_flood_that_stopped(void **st) {
  fixture *f = fx_new(LOG_FORMAT_JSON);
  for (int i = 0; i < 30; i++)
    log_sink_write(f->sink, TR_LOG_WARN, "flood", "i=1");
  log_sink_flush(f->sink); /* window still open: nothing yet */
  assert_int_equal(count_lines(f), 20);
  f->now += 10000;
  log_sink_flush(f->sink);
  assert_int_equal(count_lines(f), 21);
  assert_int_equal(count_str(f, "\"event\":\"flood\",\"suppressed\":10,"
                                "\"window_s\":10}"), 1);
  log_sink_flush(f->sink); /* reported once */
  assert_int_equal(count_lines(f), 21);
  /* And the next line opens a fresh window. */
  log_sink_write(f->sink, TR_LOG_WARN, "flood", "i=2");
  assert_int_equal(count_lines(f), 22);
  fx_free(f);
}

static void free_reports_what_is_still_suppressed(void **st) {
  fixture *f = fx_new(LOG_FORMAT_LOGFMT);
  for (int i = 0; i < 23; i++) log_sink_write(f->sink, TR_LOG_ERROR, "e", NULL);
  log_sink_free(f->sink);
  f->sink = NULL;
  fflush(f->out);
  assert_int_equal(count_lines(f), 21);
  assert_int_equal(count_str(f, "level=error event=e suppressed=3"), 1);
  fx_free(f);
}

static void many_event_names_share_an_overflow_limit(void **st) {
  fixture *f = fx_new(LOG_FORMAT_LOGFMT);
  char ev[32];
  for (int i = 0; i < 200; i++) {
    snprintf(ev, sizeof(ev), "ev%d", i);
    log_sink_write(f->sink, TR_LOG_WARN, ev, NULL);
  }
  /* 63 own buckets, then 20 lines in the shared one. */
  assert_int_equal(count_lines(f), 63 + 20);
  f->now += 10000;
  log_sink_flush(f->sink);
  assert_int_equal(count_str(f, "event=log_overflow suppressed=117"), 1);
  fx_free(f);
}

static void over_long_line_is_cut_and_marked(void **st) {
  size_t n = 10000;
  char *fields = malloc(n + 1);
  assert_non_null(fields);
  for (size_t i = 0; i < n; i++) fields[i] = i % 10 == 9 ? ' ' : 'a';
  memcpy(fields, "k=\"", 3); /* a quoted value with spaces, never closed */
  fields[n] = '\0';
  fixture *f = fx_new(LOG_FORMAT_JSON);
  log_sink_write(f->sink, TR_LOG_WARN, "big", "a=1 b=2");
  log_sink_write(f->sink, TR_LOG_WARN, "big", fields);
  assert_int_equal(count_lines(f), 2);
  assert_true(f->len < 2 * 4096);
  assert_non_null(strstr(f->buf, "\"event\":\"big\",\"truncated\":true}\n"));
  fx_free(f);
  f = fx_new(LOG_FORMAT_LOGFMT);
  memcpy(fields, "a=1 b=2 k=\"", 11);
  log_sink_write(f->sink, TR_LOG_WARN, "big", fields);
  assert_int_equal(count_lines(f), 1);
  assert_true(f->len <= 4096);
  assert_non_null(strstr(f->buf, "event=big a=1 b=2 truncated=1\n"));
  fx_free(f);
  free(fields);
}

static void level_and_format_names_parse(void **st) {
  tr_log_level l;
  assert_int_equal(log_level_parse("debug", &l), 0);
  assert_int_equal(l, TR_LOG_DEBUG);
  assert_int_equal(log_level_parse("warning", &l), 0);
  assert_int_equal(l, TR_LOG_WARN);
  assert_int_equal(log_level_parse("loud", &l), TR_EINVAL);
  assert_string_equal(log_level_name(TR_LOG_INFO), "info");
  log_format fm;
  assert_int_equal(log_format_parse("json", &fm), 0);
  assert_int_equal(fm, LOG_FORMAT_JSON);
  assert_int_equal(log_format_parse("logfmt", &fm), 0);
  assert_int_equal(fm, LOG_FORMAT_LOGFMT);
  assert_int_equal(log_format_parse("xml", &fm), TR_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(logfmt_line_has_ts_level_event_and_fields),
      cmocka_unit_test(json_line_turns_fields_into_members),
      cmocka_unit_test(json_values_that_only_look_numeric_stay_strings),
      cmocka_unit_test(control_characters_are_escaped_so_no_line_is_forged),
      cmocka_unit_test(values_cannot_add_fields),
      cmocka_unit_test(log_fields_format_like_snprintf_otherwise),
      cmocka_unit_test(json_keys_are_never_repeated),
      cmocka_unit_test(flood_of_one_event_is_cut_to_burst_then_summarised),
      cmocka_unit_test(other_events_are_not_limited_by_a_flood),
      cmocka_unit_test(flush_reports_a_flood_that_stopped),
      cmocka_unit_test(free_reports_what_is_still_suppressed),
      cmocka_unit_test(many_event_names_share_an_overflow_limit),
      cmocka_unit_test(over_long_line_is_cut_and_marked),
      cmocka_unit_test(level_and_format_names_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
