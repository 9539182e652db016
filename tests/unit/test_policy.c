/* test_policy.c — the policy file (node/policy): what it accepts, the
 * line its errors name, and the decisions its rules make. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"
#include "policy_guard.h"
#include "troupe.h"

static const policy_subject billing1 = {"billing-1", POLICY_ROLE_NODE};
static const policy_subject web1 = {"web-1", POLICY_ROLE_NODE};
static const policy_subject ops = {"ops", POLICY_ROLE_OPERATOR};
static const policy_subject viewer = {"dash", POLICY_ROLE_VIEWER};

static policy *parse_ok(const char *text) {
  policy *p = NULL;
  char err[256];
  int rc = policy_parse(&p, text, err, sizeof(err));
  if (rc != 0) fail_msg("policy_parse: %s", err);
  return p;
}

static bool allows(const policy *p, const policy_subject *s,
                   policy_action a, const char *what, const char *topic,
                   uint32_t want_line) {
  uint32_t line = 99;
  bool ok = policy_allows(p, s, a, what, topic, &line);
  assert_int_equal(want_line, line);
  return ok;
}

static void an_empty_policy_allows_everything(void **state) {
  (void)state;
  policy *p = parse_ok("# nothing but a comment\n\n   \n");
  assert_int_equal(0, policy_count(p));
  assert_true(policy_default_allows(p));
  for (int a = 0; a < POLICY_ACTIONS; a++)
    assert_true(allows(p, &web1, (policy_action)a, "x", "", 0));
  policy_free(p);
  /* No policy at all: the same. */
  assert_true(policy_allows(NULL, &web1, POLICY_STOP, "x", NULL, NULL));
}

static void namespaces_are_kept_to_their_nodes(void **state) {
  (void)state;
  policy *p = parse_ok(
      "allow node:billing-*  register  billing.*   # line 1\n"
      "deny  *               register  billing.*\n"
      "deny  role:viewer     *         *\n"
      "allow client:ops      stop      *\n"
      "deny  *               stop      *\n");
  assert_int_equal(5, policy_count(p));
  assert_true(allows(p, &billing1, POLICY_REGISTER, "billing.invoices", NULL,
                     1));
  assert_false(allows(p, &web1, POLICY_REGISTER, "billing.invoices", NULL,
                      2));
  assert_true(allows(p, &web1, POLICY_REGISTER, "web.sessions", NULL, 0));
  /* A client named like a node is not that node. */
  policy_subject fake = {"billing-1", POLICY_ROLE_OPERATOR};
  assert_false(allows(p, &fake, POLICY_REGISTER, "billing.x", NULL, 2));
  assert_false(allows(p, &viewer, POLICY_SEND, "anything", NULL, 3));
  assert_true(allows(p, &ops, POLICY_STOP, "billing.invoices", NULL, 4));
  assert_false(allows(p, &web1, POLICY_STOP, "billing.invoices", NULL, 5));
  assert_true(allows(p, &web1, POLICY_SEND, "billing.invoices", NULL, 0));
  policy_free(p);
}

static void the_first_matching_rule_decides_and_default_deny_closes(
    void **state) {
  (void)state;
  policy *p = parse_ok(
      "default deny\n"
      "allow node:* send,ask *\n"
      "deny node:web-? ask payments\n" /* never reached: line 2 matches */
      "allow role:operator * *\n");
  assert_false(policy_default_allows(p));
  assert_true(allows(p, &web1, POLICY_ASK, "payments", NULL, 2));
  assert_false(allows(p, &web1, POLICY_STOP, "payments", NULL, 0));
  assert_false(allows(p, &web1, POLICY_REGISTER, "x", NULL, 0));
  assert_true(allows(p, &ops, POLICY_REGISTER, "x", NULL, 4));
  assert_false(allows(p, &viewer, POLICY_SEND, "x", NULL, 0));
  policy_free(p);
}

static void subscriptions_match_publisher_and_topic(void **state) {
  (void)state;
  policy *p = parse_ok(
      "allow * subscribe ticker-* prices.*\n"
      "allow * subscribe news -\n" /* the default topic only */
      "allow role:operator subscribe *\n"
      "deny * subscribe *\n");
  assert_true(allows(p, &web1, POLICY_SUBSCRIBE, "ticker-1", "prices.eu", 1));
  assert_false(allows(p, &web1, POLICY_SUBSCRIBE, "ticker-1", "", 4));
  assert_true(allows(p, &web1, POLICY_SUBSCRIBE, "news", "", 2));
  assert_true(allows(p, &web1, POLICY_SUBSCRIBE, "news", NULL, 2));
  assert_false(allows(p, &web1, POLICY_SUBSCRIBE, "news", "sports", 4));
  assert_true(allows(p, &ops, POLICY_SUBSCRIBE, "news", "sports", 3));
  policy_free(p);
}

static void errors_name_the_line_and_the_problem(void **state) {
  (void)state;
  struct {
    const char *text, *want;
  } bad[] = {
      {"allow * send\n", "line 1: allow|deny WHO ACTIONS WHAT"},
      {"\n\npermit * send x\n", "line 3: 'permit'"},
      {"allow node send x\n", "line 1: who 'node'"},
      {"allow user:x send x\n", "line 1: who 'user:x'"},
      {"allow role:admin send x\n", "line 1: role 'admin'"},
      {"allow node: send x\n", "line 1: node name ''"},
      {"allow * publish x\n", "line 1: action 'publish'"},
      {"allow * send,,ask x\n", ""}, /* empty items are skipped: fine */
      {"allow * send x topic\n", "line 1: a topic goes with subscribe"},
      {"allow * send x y z\n", "line 1: too many fields"},
      {"default maybe\n", "line 1: default allow or default deny"},
      {"default allow\ndefault deny\n", "line 2: a second default"},
      {"allow * send \x01\n", "line 1: a control character"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    policy *p = NULL;
    char err[256] = "";
    int rc = policy_parse(&p, bad[i].text, err, sizeof(err));
    if (!bad[i].want[0]) {
      assert_int_equal(0, rc);
      policy_free(p);
      continue;
    }
    assert_int_equal(TR_EINVAL, rc);
    assert_null(p);
    if (strncmp(err, bad[i].want, strlen(bad[i].want)) != 0)
      fail_msg("case %zu: '%s', want it to start with '%s'", i, err,
               bad[i].want);
  }
  /* A glob longer than an id. */
  char text[400] = "allow * send ";
  memset(text + strlen(text), 'a', 300);
  policy *p = NULL;
  char err[256];
  assert_int_equal(TR_EINVAL, policy_parse(&p, text, err, sizeof(err)));
  assert_non_null(strstr(err, "1 to 255 bytes"));
}

static void files_are_read_and_their_errors_name_them(void **state) {
  (void)state;
  char dir[] = "/tmp/troupe-policy-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[128];
  snprintf(path, sizeof(path), "%s/policy", dir);
  policy *p = NULL;
  char err[256];
  assert_int_equal(TR_ENOTFOUND, policy_load(&p, path, err, sizeof(err)));
  assert_non_null(strstr(err, path));
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("allow node:a-* register a.*\r\ndeny * register a.*\r\n"
        "allow * send x oops\r\n", f);
  fclose(f);
  assert_int_equal(TR_EINVAL, policy_load(&p, path, err, sizeof(err)));
  assert_non_null(strstr(err, path));
  assert_non_null(strstr(err, "line 3: a topic goes with subscribe"));
  f = fopen(path, "w");
  fputs("allow node:a-* register a.*\r\ndeny * register a.*\r\n", f);
  fclose(f);
  assert_int_equal(0, policy_load(&p, path, err, sizeof(err)));
  assert_int_equal(2, policy_count(p));
  policy_subject a1 = {"a-1", POLICY_ROLE_NODE};
  assert_true(policy_allows(p, &a1, POLICY_REGISTER, "a.x", NULL, NULL));
  assert_false(policy_allows(p, &web1, POLICY_REGISTER, "a.x", NULL, NULL));
  policy_free(p);
  /* Over 1 MiB, or with a NUL byte: refused. */
  f = fopen(path, "w");
  for (int i = 0; i < (1 << 20) / 16 + 1; i++) fputs("# padding......\n", f);
  fclose(f);
  assert_int_equal(TR_ETOOBIG, policy_load(&p, path, err, sizeof(err)));
  f = fopen(path, "w");
  fwrite("allow * send x\n\0", 1, 16, f);
  fclose(f);
  assert_int_equal(TR_EINVAL, policy_load(&p, path, err, sizeof(err)));
  assert_non_null(strstr(err, "NUL"));
  unlink(path);
  rmdir(dir);
}

/* ---- the guard ------------------------------------------------------------ */

typedef struct logged {
  int n;
  char last[512];
} logged;

static void on_log(void *user, tr_log_level level, const char *event,
                   const char *fields) {
  logged *l = user;
  assert_int_equal(TR_LOG_WARN, level);
  assert_string_equal("policy_denied", event);
  l->n++;
  snprintf(l->last, sizeof(l->last), "%s", fields);
}

typedef struct count_query {
  const char *who;
  policy_action a;
  uint32_t line;
  uint64_t n;
} count_query;

static void count_fn(void *arg, const char *who, policy_role role,
                     policy_action a, uint32_t line, uint64_t count) {
  count_query *q = arg;
  (void)role;
  if (strcmp(who, q->who) == 0 && a == q->a && line == q->line) q->n += count;
}

static uint64_t count_of(const policy_guard *g, const char *who,
                         policy_action a, uint32_t line) {
  count_query q = {who, a, line, 0};
  policy_guard_each(g, count_fn, &q);
  return q.n;
}

static void the_guard_counts_each_denial_and_logs_at_a_pace(void **state) {
  (void)state;
  logged l = {0};
  policy_guard *g = NULL;
  assert_int_equal(0, policy_guard_new(&g, on_log, &l, TR_LOG_WARN));
  /* No policy: everything allowed, nothing counted. */
  assert_int_equal(0, policy_guard_check(g, &web1, POLICY_STOP, "x", NULL, 1));
  uint64_t gen = policy_guard_generation(g);
  policy_guard_set(g, parse_ok("deny node:web-* stop *\n"));
  assert_true(policy_guard_generation(g) > gen);
  for (int i = 0; i < 5; i++)
    assert_int_equal(TR_EPERM, policy_guard_check(g, &web1, POLICY_STOP,
                                                  "billing", NULL, 1000 + i));
  assert_int_equal(0, policy_guard_check(g, &billing1, POLICY_STOP, "x", NULL,
                                         1000));
  assert_int_equal(5, policy_guard_denied(g));
  assert_int_equal(5, count_of(g, "web-1", POLICY_STOP, 1));
  /* Logged once for the five, then again after the pace, with the count
   * since. */
  assert_int_equal(1, l.n);
  assert_non_null(strstr(l.last, "who=web-1 role=node action=stop"));
  assert_non_null(strstr(l.last, "rule=1 count=1"));
  assert_int_equal(TR_EPERM, policy_guard_check(g, &web1, POLICY_STOP, "b",
                                                NULL,
                                                1000 + POLICY_LOG_EVERY_MS));
  assert_int_equal(2, l.n);
  assert_non_null(strstr(l.last, "count=5"));
  /* Past the key cap, new identities are counted as "$other". */
  policy_guard_set(g, parse_ok("deny * send *\n"));
  char name[32];
  for (uint32_t i = 0; i < POLICY_DENIAL_KEYS_MAX + 10; i++) {
    snprintf(name, sizeof(name), "n%u", i);
    policy_subject s = {name, POLICY_ROLE_NODE};
    assert_int_equal(TR_EPERM,
                     policy_guard_check(g, &s, POLICY_SEND, "x", NULL, 5));
  }
  assert_true(count_of(g, "$other", POLICY_SEND, 1) >= 10);
  /* A quieter log level: nothing more is logged, everything still counted. */
  int before = l.n;
  policy_guard_set_log_level(g, TR_LOG_ERROR);
  policy_subject late = {"late", POLICY_ROLE_NODE};
  assert_int_equal(TR_EPERM, policy_guard_check(g, &late, POLICY_SEND, "x",
                                                NULL, 5));
  assert_int_equal(before, l.n);
  policy_guard_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(an_empty_policy_allows_everything),
      cmocka_unit_test(namespaces_are_kept_to_their_nodes),
      cmocka_unit_test(
          the_first_matching_rule_decides_and_default_deny_closes),
      cmocka_unit_test(subscriptions_match_publisher_and_topic),
      cmocka_unit_test(errors_name_the_line_and_the_problem),
      cmocka_unit_test(files_are_read_and_their_errors_name_them),
      cmocka_unit_test(the_guard_counts_each_denial_and_logs_at_a_pace),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
