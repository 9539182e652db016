/* test_certgen.c — certgen: P-256 keys, a self-signed CA, node and client
 * certificates whose SANs, CA flag, key usages and validity parse back with
 * mbedTLS and verify against the right CA only; bad requests are refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "certgen.h"
#include "troupe.h"

#define assert_tr(expected, actual)                                         \
  do {                                                                      \
    int e_ = (expected), a_ = (actual);                                     \
    if (e_ != a_) fail_msg("expected %s (%d), got %s (%d)", tr_errname(e_), \
                           e_, tr_errname(a_), a_);                         \
  } while (0)

/* One CA for the file, made in the group setup. */
typedef struct fixture {
  char *ca_key, *ca_cert;
} fixture;

static int group_setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  if (!f) return -1;
  certgen_req ca = {.cn = "troupe-test-ca", .is_ca = 1};
  if (certgen_key(&f->ca_key) != 0 ||
      certgen_cert(&ca, f->ca_key, NULL, NULL, &f->ca_cert) != 0)
    return -1;
  *state = f;
  return 0;
}

static int group_teardown(void **state) {
  fixture *f = *state;
  free(f->ca_key);
  free(f->ca_cert);
  free(f);
  return 0;
}

static void parse(mbedtls_x509_crt *crt, const char *pem) {
  mbedtls_x509_crt_init(crt);
  assert_int_equal(0, mbedtls_x509_crt_parse(crt, (const unsigned char *)pem,
                                             strlen(pem) + 1));
}

/* A node certificate "node-a" with DNS and IP SANs, signed by the CA. */
static char *node_cert(fixture *f, char **key, const certgen_req *r) {
  char *cert = NULL;
  assert_tr(0, certgen_key(key));
  assert_tr(0, certgen_cert(r, *key, f->ca_cert, f->ca_key, &cert));
  return cert;
}

static time_t crt_time(const mbedtls_x509_time *t) {
  struct tm tm = {.tm_year = t->year - 1900, .tm_mon = t->mon - 1,
                  .tm_mday = t->day, .tm_hour = t->hour, .tm_min = t->min,
                  .tm_sec = t->sec};
  return timegm(&tm);
}

static void key_is_an_ecdsa_p256_pem_key(void **state) {
  char *pem = NULL;
  assert_tr(0, certgen_key(&pem));
  assert_non_null(strstr(pem, "-----BEGIN EC PRIVATE KEY-----"));
  mbedtls_pk_context pk;
  mbedtls_pk_init(&pk);
  assert_int_equal(0, mbedtls_pk_parse_key(&pk, (const unsigned char *)pem,
                                           strlen(pem) + 1, NULL, 0));
  assert_int_equal(MBEDTLS_PK_ECKEY, mbedtls_pk_get_type(&pk));
  assert_int_equal(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk)->grp.id);
  mbedtls_pk_free(&pk);
  free(pem);
}

static void two_keys_differ(void **state) {
  char *a = NULL, *b = NULL;
  assert_tr(0, certgen_key(&a));
  assert_tr(0, certgen_key(&b));
  assert_string_not_equal(a, b);
  free(a);
  free(b);
}

static void ca_is_self_signed_with_the_ca_flag_and_cert_sign_usage(void **state) {
  fixture *f = *state;
  mbedtls_x509_crt ca;
  parse(&ca, f->ca_cert);
  assert_int_equal(1, ca.ca_istrue);
  assert_int_equal(3, ca.version);
  assert_int_equal(MBEDTLS_MD_SHA256, ca.sig_md);
  assert_int_equal(ca.subject_raw.len, ca.issuer_raw.len);
  assert_memory_equal(ca.subject_raw.p, ca.issuer_raw.p, ca.subject_raw.len);
  assert_int_equal(0, mbedtls_x509_crt_check_key_usage(
                          &ca, MBEDTLS_X509_KU_KEY_CERT_SIGN));
  char dn[256];
  assert_true(mbedtls_x509_dn_gets(dn, sizeof dn, &ca.subject) > 0);
  assert_string_equal("CN=troupe-test-ca, O=troupe", dn);
  uint32_t flags = 0;
  assert_int_equal(0, mbedtls_x509_crt_verify(&ca, &ca, NULL, NULL, &flags,
                                              NULL, NULL));
  mbedtls_x509_crt_free(&ca);
}

static void node_cert_sans_parse_back_as_dns_names_and_ips(void **state) {
  fixture *f = *state;
  const char *dns[] = {"node-a", "node-a.troupe.svc"};
  const char *ips[] = {"10.1.2.3", "fd00::1"};
  certgen_req r = {.cn = "node-a", .dns = dns, .ndns = 2, .ips = ips,
                   .nips = 2};
  char *key = NULL, *pem = node_cert(f, &key, &r);
  mbedtls_x509_crt crt;
  parse(&crt, pem);

  static const unsigned char ip4[4] = {10, 1, 2, 3};
  static const unsigned char ip6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0,
                                        0,    0, 0, 0, 0, 0, 0, 1};
  const mbedtls_x509_sequence *s = &crt.subject_alt_names;
  const struct { int tag; const void *p; size_t n; } want[] = {
      {2, "node-a", 6}, {2, "node-a.troupe.svc", 17}, {7, ip4, 4},
      {7, ip6, 16}};
  for (size_t i = 0; i < 4; i++, s = s->next) {
    assert_non_null(s);
    assert_int_equal(MBEDTLS_ASN1_CONTEXT_SPECIFIC | want[i].tag, s->buf.tag);
    assert_int_equal(want[i].n, s->buf.len);
    assert_memory_equal(want[i].p, s->buf.p, want[i].n);
  }
  assert_null(s);
  mbedtls_x509_crt_free(&crt);
  free(pem);
  free(key);
}

static void node_cert_is_not_a_ca_and_serves_and_dials(void **state) {
  fixture *f = *state;
  certgen_req r = {.cn = "node-b"};
  char *key = NULL, *pem = node_cert(f, &key, &r);
  mbedtls_x509_crt crt;
  parse(&crt, pem);
  assert_int_equal(0, crt.ca_istrue);
  assert_int_equal(0, mbedtls_x509_crt_check_key_usage(
                          &crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE));
  assert_int_not_equal(0, mbedtls_x509_crt_check_key_usage(
                              &crt, MBEDTLS_X509_KU_KEY_CERT_SIGN));
  assert_int_equal(0, mbedtls_x509_crt_check_extended_key_usage(
                          &crt, MBEDTLS_OID_SERVER_AUTH,
                          MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)));
  assert_int_equal(0, mbedtls_x509_crt_check_extended_key_usage(
                          &crt, MBEDTLS_OID_CLIENT_AUTH,
                          MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)));
  mbedtls_x509_crt_free(&crt);
  free(pem);
  free(key);
}

static void client_cert_may_only_dial(void **state) {
  fixture *f = *state;
  certgen_req r = {.cn = "ops-cli", .is_client = 1};
  char *key = NULL, *pem = node_cert(f, &key, &r);
  mbedtls_x509_crt crt;
  parse(&crt, pem);
  assert_int_equal(0, mbedtls_x509_crt_check_extended_key_usage(
                          &crt, MBEDTLS_OID_CLIENT_AUTH,
                          MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)));
  assert_int_not_equal(0, mbedtls_x509_crt_check_extended_key_usage(
                              &crt, MBEDTLS_OID_SERVER_AUTH,
                              MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)));
  mbedtls_x509_crt_free(&crt);
  free(pem);
  free(key);
}

static void node_cert_verifies_against_its_ca_and_not_another(void **state) {
  fixture *f = *state;
  certgen_req r = {.cn = "node-a"};
  char *key = NULL, *pem = node_cert(f, &key, &r);
  char *other_key = NULL, *other_pem = NULL;
  certgen_req oca = {.cn = "troupe-test-ca", .is_ca = 1}; /* same name! */
  assert_tr(0, certgen_key(&other_key));
  assert_tr(0, certgen_cert(&oca, other_key, NULL, NULL, &other_pem));

  mbedtls_x509_crt crt, ca, other;
  parse(&crt, pem);
  parse(&ca, f->ca_cert);
  parse(&other, other_pem);
  uint32_t flags = 0;
  assert_int_equal(0, mbedtls_x509_crt_verify(&crt, &ca, NULL, NULL, &flags,
                                              NULL, NULL));
  assert_int_equal(0, flags);
  assert_int_equal(MBEDTLS_ERR_X509_CERT_VERIFY_FAILED,
                   mbedtls_x509_crt_verify(&crt, &other, NULL, NULL, &flags,
                                           NULL, NULL));
  assert_true(flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED);
  /* The issuer name is the CA's subject, byte for byte. */
  assert_int_equal(ca.subject_raw.len, crt.issuer_raw.len);
  assert_memory_equal(ca.subject_raw.p, crt.issuer_raw.p, ca.subject_raw.len);
  mbedtls_x509_crt_free(&other);
  mbedtls_x509_crt_free(&ca);
  mbedtls_x509_crt_free(&crt);
  free(other_pem);
  free(other_key);
  free(pem);
  free(key);
}

static void validity_is_the_requested_period(void **state) {
  fixture *f = *state;
  time_t nb = 1700000000, na = 1700000000 + 30 * 86400;
  certgen_req r = {.cn = "node-a", .not_before = nb, .not_after = na};
  char *key = NULL, *pem = node_cert(f, &key, &r);
  mbedtls_x509_crt crt;
  parse(&crt, pem);
  assert_int_equal(nb, crt_time(&crt.valid_from));
  assert_int_equal(na, crt_time(&crt.valid_to));
  mbedtls_x509_crt_free(&crt);
  free(pem);
  free(key);
}

static void default_validity_is_an_hour_ago_to_825_days_on(void **state) {
  fixture *f = *state;
  certgen_req r = {.cn = "node-a"};
  time_t t0 = time(NULL);
  char *key = NULL, *pem = node_cert(f, &key, &r);
  time_t t1 = time(NULL);
  mbedtls_x509_crt crt;
  parse(&crt, pem);
  time_t from = crt_time(&crt.valid_from), to = crt_time(&crt.valid_to);
  assert_true(from >= t0 - 3600 && from <= t1 - 3600);
  assert_int_equal((time_t)825 * 86400, to - from - 3600);
  assert_int_equal(0, mbedtls_x509_time_is_past(&crt.valid_to));
  assert_int_equal(0, mbedtls_x509_time_is_future(&crt.valid_from));
  mbedtls_x509_crt_free(&crt);
  free(pem);
  free(key);
}

static void serials_are_random_and_positive(void **state) {
  fixture *f = *state;
  certgen_req r = {.cn = "node-a"};
  char *k1 = NULL, *k2 = NULL, *p1 = node_cert(f, &k1, &r),
       *p2 = node_cert(f, &k2, &r);
  mbedtls_x509_crt a, b;
  parse(&a, p1);
  parse(&b, p2);
  assert_int_equal(16, a.serial.len);
  assert_true((a.serial.p[0] & 0x80) == 0);
  assert_memory_not_equal(a.serial.p, b.serial.p, 16);
  mbedtls_x509_crt_free(&a);
  mbedtls_x509_crt_free(&b);
  free(p1);
  free(p2);
  free(k1);
  free(k2);
}

static void a_comma_in_the_name_is_kept(void **state) {
  fixture *f = *state;
  certgen_req r = {.cn = "billing, eu"};
  char *key = NULL, *pem = node_cert(f, &key, &r);
  mbedtls_x509_crt crt;
  parse(&crt, pem);
  const mbedtls_x509_name *n = &crt.subject;
  while (n && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) != 0) n = n->next;
  assert_non_null(n);
  assert_int_equal(11, n->val.len);
  assert_memory_equal("billing, eu", n->val.p, 11);
  mbedtls_x509_crt_free(&crt);
  free(pem);
  free(key);
}

static void bad_requests_return_einval_and_no_certificate(void **state) {
  fixture *f = *state;
  char *key = NULL, *pem = (char *)"untouched";
  assert_tr(0, certgen_key(&key));
  const char *bad_ip[] = {"10.0.0.300"};
  const char *bad_dns[] = {"has space"};
  certgen_req reqs[] = {
      {.cn = NULL},
      {.cn = ""},
      {.cn = "0123456789012345678901234567890123456789012345678901234567890123456789"},
      {.cn = "back\\slash"},
      {.cn = "node-a", .ips = bad_ip, .nips = 1},
      {.cn = "node-a", .dns = bad_dns, .ndns = 1},
      {.cn = "node-a", .not_before = 2000, .not_after = 1000},
  };
  for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
    pem = (char *)"untouched";
    assert_tr(TR_EINVAL, certgen_cert(&reqs[i], key, f->ca_cert, f->ca_key,
                                      &pem));
    assert_null(pem);
  }
  certgen_req ok = {.cn = "node-a"};
  assert_tr(TR_EINVAL, certgen_cert(&ok, "not a key", NULL, NULL, &pem));
  assert_tr(TR_EINVAL, certgen_cert(&ok, key, f->ca_cert, NULL, &pem));
  assert_tr(TR_EINVAL, certgen_cert(&ok, key, NULL, NULL, NULL));
  assert_tr(TR_EINVAL, certgen_key(NULL));
  free(key);
}

static void signing_needs_the_ca_key_and_a_ca_certificate(void **state) {
  fixture *f = *state;
  char *key = NULL, *pem = NULL;
  certgen_req r = {.cn = "node-a"};
  assert_tr(0, certgen_key(&key));
  /* The node's own key does not match the CA certificate. */
  assert_tr(TR_EINVAL, certgen_cert(&r, key, f->ca_cert, key, &pem));
  assert_null(pem);
  /* A leaf certificate cannot sign others. */
  char *leaf_key = NULL;
  assert_tr(0, certgen_key(&leaf_key));
  char *leaf2 = NULL;
  assert_tr(0, certgen_cert(&r, leaf_key, f->ca_cert, f->ca_key, &leaf2));
  assert_tr(TR_EINVAL, certgen_cert(&r, key, leaf2, leaf_key, &pem));
  assert_null(pem);
  free(leaf2);
  free(leaf_key);
  free(key);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(key_is_an_ecdsa_p256_pem_key),
      cmocka_unit_test(two_keys_differ),
      cmocka_unit_test(ca_is_self_signed_with_the_ca_flag_and_cert_sign_usage),
      cmocka_unit_test(node_cert_sans_parse_back_as_dns_names_and_ips),
      cmocka_unit_test(node_cert_is_not_a_ca_and_serves_and_dials),
      cmocka_unit_test(client_cert_may_only_dial),
      cmocka_unit_test(node_cert_verifies_against_its_ca_and_not_another),
      cmocka_unit_test(validity_is_the_requested_period),
      cmocka_unit_test(default_validity_is_an_hour_ago_to_825_days_on),
      cmocka_unit_test(serials_are_random_and_positive),
      cmocka_unit_test(a_comma_in_the_name_is_kept),
      cmocka_unit_test(bad_requests_return_einval_and_no_certificate),
      cmocka_unit_test(signing_needs_the_ca_key_and_a_ca_certificate),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
