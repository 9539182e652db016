/* tls_ident.c — what a certificate file says about its holder, read before
 * any connection: the name it is for (the subject CN) and whether it may
 * serve (a node) or only connect (an operator). The operator client uses it
 * to learn its own name and to refuse a node certificate up front. */
#include <stdio.h>
#include <string.h>

#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>

#include "tls.h"
#include "troupe.h"

int tls_cert_identity(const char *file, char *cn, size_t cap,
                      bool *client_only, char *err, size_t errlen) {
  mbedtls_x509_crt crt;
  mbedtls_x509_crt_init(&crt);
  int rc = TR_EINVAL;
  int mrc = mbedtls_x509_crt_parse_file(&crt, file);
  if (mrc != 0) {
    char why[128];
    mbedtls_strerror(mrc, why, sizeof(why));
    snprintf(err, errlen, "cannot read certificate %s (%s)", file, why);
    goto out;
  }
  /* Client-only: an extended key usage that lists clientAuth and not
   * serverAuth. No EKU at all lets a certificate serve. */
  *client_only =
      (crt.ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE) &&
      mbedtls_x509_crt_check_extended_key_usage(
          &crt, MBEDTLS_OID_SERVER_AUTH,
          MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)) != 0;
  for (const mbedtls_x509_name *n = &crt.subject; n; n = n->next) {
    if (!n->oid.p || MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) != 0)
      continue;
    if (n->val.len == 0 || n->val.len >= cap) break;
    memcpy(cn, n->val.p, n->val.len);
    cn[n->val.len] = '\0';
    rc = 0;
    goto out;
  }
  snprintf(err, errlen, "certificate %s has no usable CN", file);
out:
  mbedtls_x509_crt_free(&crt);
  return rc;
}
