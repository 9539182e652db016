/* test_errors.c — node/engine/errors.c: every TR_ code has its own name and
 * message from the one X-macro list, unknown codes get sane text, and every
 * dead-letter reason has a short distinct name. */
#include <ctype.h>
#include <limits.h>

#include "tr_test.h"

typedef struct {
  int code;
  const char *name; /* "TR_EINVAL" */
  const char *msg;
} err_row;

static const err_row ERR_ROWS[] = {
#define ROW_(name, code, msg) {code, "TR_" #name, msg},
    TR_ERRNO_MAP(ROW_)
#undef ROW_
};
#define NROWS (sizeof(ERR_ROWS) / sizeof(ERR_ROWS[0]))

static void every_code_has_its_exact_name_and_message(void **st) {
  (void)st;
  assert_true(NROWS >= 14);
  for (size_t i = 0; i < NROWS; i++) {
    const err_row *r = &ERR_ROWS[i];
    assert_true(r->code < 0);
    const char *name = tr_errname(r->code);
    const char *msg = tr_strerror(r->code);
    assert_non_null(name);
    assert_non_null(msg);
    assert_string_equal(r->name, name);
    assert_string_equal(r->msg, msg);
    assert_true(msg[0] != '\0');
  }
}

static void names_and_messages_are_distinct(void **st) {
  (void)st;
  for (size_t i = 0; i < NROWS; i++) {
    for (size_t j = i + 1; j < NROWS; j++) {
      assert_int_not_equal(ERR_ROWS[i].code, ERR_ROWS[j].code);
      assert_string_not_equal(tr_errname(ERR_ROWS[i].code),
                              tr_errname(ERR_ROWS[j].code));
      assert_string_not_equal(tr_strerror(ERR_ROWS[i].code),
                              tr_strerror(ERR_ROWS[j].code));
    }
  }
}

static void zero_is_tr_ok_with_a_non_empty_message(void **st) {
  (void)st;
  assert_string_equal("TR_OK", tr_errname(0));
  assert_non_null(tr_strerror(0));
  assert_true(tr_strerror(0)[0] != '\0');
  for (size_t i = 0; i < NROWS; i++)
    assert_string_not_equal(tr_strerror(0), tr_strerror(ERR_ROWS[i].code));
}

static void unknown_codes_get_a_generic_non_empty_text(void **st) {
  (void)st;
  const int unknown[] = {1, 42, -16, -100, -999, INT_MIN, INT_MAX};
  for (size_t u = 0; u < sizeof(unknown) / sizeof(unknown[0]); u++) {
    const char *name = tr_errname(unknown[u]);
    const char *msg = tr_strerror(unknown[u]);
    assert_non_null(name);
    assert_non_null(msg);
    assert_true(name[0] != '\0');
    assert_true(msg[0] != '\0');
    assert_string_not_equal("TR_OK", name);
    /* Never mistaken for a real code. */
    for (size_t i = 0; i < NROWS; i++) {
      assert_string_not_equal(ERR_ROWS[i].name, name);
      assert_string_not_equal(ERR_ROWS[i].msg, msg);
    }
  }
}

static void codes_match_the_documented_values(void **st) {
  (void)st;
  assert_int_equal(-1, TR_EINVAL);
  assert_int_equal(-2, TR_ENOMEM);
  assert_int_equal(-3, TR_ENOTFOUND);
  assert_int_equal(-4, TR_EEXIST);
  assert_int_equal(-5, TR_EFULL);
  assert_int_equal(-7, TR_ETIMEDOUT);
  assert_int_equal(-8, TR_ETOOBIG);
  assert_int_equal(-11, TR_EINIT);
  assert_int_equal(-12, TR_ESTATE);
  assert_int_equal(-14, TR_EPERM);
  assert_int_equal(-15, TR_EBADTYPE);
}

static void every_dead_reason_has_a_distinct_short_name(void **st) {
  (void)st;
  for (int r = 0; r < TR_DL_COUNT; r++) {
    const char *name = tr_dead_reason_name((tr_dead_reason)r);
    assert_non_null(name);
    assert_true(name[0] != '\0');
    /* Metric-friendly: lower case letters and underscores. */
    for (const char *c = name; *c; c++)
      assert_true(islower((unsigned char)*c) || *c == '_');
    for (int q = 0; q < r; q++)
      assert_string_not_equal(tr_dead_reason_name((tr_dead_reason)q), name);
  }
}

static void dead_reason_names_match_the_documentation(void **st) {
  (void)st;
  assert_string_equal("no_actor", tr_dead_reason_name(TR_DL_NO_ACTOR));
  assert_string_equal("mailbox_full", tr_dead_reason_name(TR_DL_MAILBOX_FULL));
  assert_string_equal("stopped", tr_dead_reason_name(TR_DL_STOPPED));
  assert_string_equal("late_reply", tr_dead_reason_name(TR_DL_LATE_REPLY));
  assert_string_equal("publish_full", tr_dead_reason_name(TR_DL_PUBLISH_FULL));
  assert_string_equal("rejected_full",
                      tr_dead_reason_name(TR_DL_REJECTED_FULL));
  assert_string_equal("rejected_no_actor",
                      tr_dead_reason_name(TR_DL_REJECTED_NO_ACTOR));
  assert_string_equal("rejected_toobig",
                      tr_dead_reason_name(TR_DL_REJECTED_TOOBIG));
  assert_string_equal("group_full", tr_dead_reason_name(TR_DL_GROUP_FULL));
  assert_string_equal("rejected_badtype",
                      tr_dead_reason_name(TR_DL_REJECTED_BADTYPE));
  assert_string_equal("remote_badtype",
                      tr_dead_reason_name(TR_DL_REMOTE_BADTYPE));
}

static void out_of_range_dead_reason_gets_a_non_empty_name(void **st) {
  (void)st;
  const char *name = tr_dead_reason_name(TR_DL_COUNT);
  assert_non_null(name);
  assert_true(name[0] != '\0');
  name = tr_dead_reason_name((tr_dead_reason)-1);
  assert_non_null(name);
  assert_true(name[0] != '\0');
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_code_has_its_exact_name_and_message),
      cmocka_unit_test(names_and_messages_are_distinct),
      cmocka_unit_test(zero_is_tr_ok_with_a_non_empty_message),
      cmocka_unit_test(unknown_codes_get_a_generic_non_empty_text),
      cmocka_unit_test(codes_match_the_documented_values),
      cmocka_unit_test(every_dead_reason_has_a_distinct_short_name),
      cmocka_unit_test(dead_reason_names_match_the_documentation),
      cmocka_unit_test(out_of_range_dead_reason_gets_a_non_empty_name),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
