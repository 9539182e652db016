/* tls_ident.c — what a certificate says about its holder: the names it
 * carries and its role (node, operator, viewer, or none), for a peer's
 * certificate after a handshake and for a certificate file read before any
 * connection (a node checks its own at start; the operator client learns
 * its name and role). */
#include <stdio.h>
#include <string.h>

#include <mbedtls/error.h>
#include <mbedtls/oid.h>

#include "tls_cert.h"
#include "troupe.h"

const char *tls_peer_role_name(tls_peer_role r) {
  switch (r) {
  case TLS_PEER_NODE: return "node";
  case TLS_PEER_OPERATOR: return "operator";
  case TLS_PEER_VIEWER: return "viewer";
  default: return "none";
  }
}

static bool bytes_eq(const mbedtls_x509_buf *b, const char *s, size_t n) {
  return b->len == n && memcmp(b->p, s, n) == 0;
}

bool tls_crt_names(const mbedtls_x509_crt *crt, const char *name) {
  if (!crt || !name || !name[0]) return false;
  size_t n = strlen(name);
  for (const mbedtls_x509_name *a = &crt->subject; a; a = a->next)
    if (a->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &a->oid) == 0 &&
        bytes_eq(&a->val, name, n))
      return true;
  for (const mbedtls_x509_sequence *s = &crt->subject_alt_names; s; s = s->next)
    if (s->buf.p &&
        s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME)
        && bytes_eq(&s->buf, name, n))
      return true;
  return false;
}

static bool has_eku(const mbedtls_x509_crt *crt, const char *oid, size_t len) {
  return mbedtls_x509_crt_check_extended_key_usage(crt, oid, len) == 0;
}

tls_peer_role tls_crt_role(const mbedtls_x509_crt *crt) {
  if (!crt || !(crt->ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE))
    return TLS_PEER_NONE;
  bool server = has_eku(crt, MBEDTLS_OID_SERVER_AUTH,
                        MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH));
  bool client = has_eku(crt, MBEDTLS_OID_CLIENT_AUTH,
                        MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH));
  /* One OU, and only one: two roles in one certificate mean none. */
  const mbedtls_x509_buf *ou = NULL;
  for (const mbedtls_x509_name *a = &crt->subject; a; a = a->next) {
    if (!a->oid.p || MBEDTLS_OID_CMP(MBEDTLS_OID_AT_ORG_UNIT, &a->oid) != 0)
      continue;
    if (ou) return TLS_PEER_NONE;
    ou = &a->val;
  }
  if (!ou) return TLS_PEER_NONE;
  if (bytes_eq(ou, "node", 4)) return server && client ? TLS_PEER_NODE
                                                       : TLS_PEER_NONE;
  if (!client || server) return TLS_PEER_NONE;
  if (bytes_eq(ou, "operator", 8)) return TLS_PEER_OPERATOR;
  if (bytes_eq(ou, "viewer", 6)) return TLS_PEER_VIEWER;
  return TLS_PEER_NONE;
}

/* An X.509 time (UTC) as unix seconds, by the civil-from-days algorithm
 * (no timegm: not in C99, and the TZ must not matter). */
static int64_t tls_x509_time_unix(const mbedtls_x509_time *t) {
  int64_t y = t->year - (t->mon <= 2), era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (t->mon + (t->mon > 2 ? -3 : 9)) + 2) / 5 + t->day - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  int64_t days = era * 146097 + doe - 719468;
  return days * 86400 + t->hour * 3600 + t->min * 60 + t->sec;
}

int tls_cert_file_info(const char *file, const char *name,
                       tls_cert_info *out, char *err, size_t errlen) {
  mbedtls_x509_crt crt;
  mbedtls_x509_crt_init(&crt);
  memset(out, 0, sizeof(*out));
  int rc = TR_EINVAL;
  int mrc = mbedtls_x509_crt_parse_file(&crt, file);
  if (mrc != 0) {
    char why[128];
    mbedtls_strerror(mrc, why, sizeof(why));
    snprintf(err, errlen, "cannot read certificate %s (%s)", file, why);
    goto out;
  }
  out->role = tls_crt_role(&crt);
  out->names_it = tls_crt_names(&crt, name);
  out->not_after = tls_x509_time_unix(&crt.valid_to);
  for (const mbedtls_x509_name *n = &crt.subject; n; n = n->next) {
    if (!n->oid.p || MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) != 0)
      continue;
    if (n->val.len == 0 || n->val.len >= sizeof(out->cn)) break;
    memcpy(out->cn, n->val.p, n->val.len);
    out->cn[n->val.len] = '\0';
    rc = 0;
    goto out;
  }
  snprintf(err, errlen, "certificate %s has no usable CN", file);
out:
  mbedtls_x509_crt_free(&crt);
  return rc;
}
