/* tls_fail.c — why a TLS handshake or record was refused: the mapping from
 * mbedTLS errors and X.509 verification flags to tls_fail reasons, and the
 * readable detail the link logs once per failure. */
#include "tls_fail.h"

#include <stdio.h>
#include <string.h>

#include <mbedtls/error.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>

static const char *const fail_names[TLS_FAIL_COUNT] = {
    [TLS_FAIL_NONE] = "none",
    [TLS_FAIL_NO_CERT] = "no_cert",
    [TLS_FAIL_UNTRUSTED] = "untrusted",
    [TLS_FAIL_EXPIRED] = "expired",
    [TLS_FAIL_REVOKED] = "revoked",
    [TLS_FAIL_NAME_MISMATCH] = "name_mismatch",
    [TLS_FAIL_NOT_TLS] = "not_tls",
    [TLS_FAIL_TIMEOUT] = "timeout",
    [TLS_FAIL_PROTOCOL] = "protocol",
};

const char *tls_fail_name(tls_fail f) {
  return (unsigned)f < TLS_FAIL_COUNT ? fail_names[f] : "unknown";
}

tls_fail tls_fail_classify(int mbed_ret, uint32_t flags) {
  if (mbed_ret == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE)
    return TLS_FAIL_NO_CERT;
  if (mbed_ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED ||
      mbed_ret == MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE) {
    /* Most telling first: a stranger's certificate that also expired is a
     * stranger. Wrong key usage and the like stay PROTOCOL (see detail). */
    if (flags & MBEDTLS_X509_BADCERT_MISSING)
      return TLS_FAIL_NO_CERT;
    if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
      return TLS_FAIL_UNTRUSTED;
    if (flags & MBEDTLS_X509_BADCERT_REVOKED)
      return TLS_FAIL_REVOKED;
    if (flags & (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE))
      return TLS_FAIL_EXPIRED;
    return TLS_FAIL_PROTOCOL;
  }
  /* A record header that makes no sense: bytes that are not TLS. */
  if (mbed_ret == MBEDTLS_ERR_SSL_INVALID_RECORD)
    return TLS_FAIL_NOT_TLS;
  return TLS_FAIL_PROTOCOL;
}

int tls_fail_peer_alert(const mbedtls_ssl_context *ssl, int mbed_ret) {
  /* mbedTLS 2.28 keeps the received alert in the record buffer; the fields
   * are public in 2.x (private from 3.0, where this would need a change). */
  if (mbed_ret != MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE || !ssl->in_msg)
    return -1;
  return ssl->in_msg[1];
}

static const char *alert_name(int a) {
  switch (a) {
  case MBEDTLS_SSL_ALERT_MSG_CLOSE_NOTIFY: return "close_notify";
  case MBEDTLS_SSL_ALERT_MSG_UNEXPECTED_MESSAGE: return "unexpected_message";
  case MBEDTLS_SSL_ALERT_MSG_BAD_RECORD_MAC: return "bad_record_mac";
  case MBEDTLS_SSL_ALERT_MSG_RECORD_OVERFLOW: return "record_overflow";
  case MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE: return "handshake_failure";
  case MBEDTLS_SSL_ALERT_MSG_BAD_CERT: return "bad_certificate";
  case MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT: return "unsupported_certificate";
  case MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED: return "certificate_revoked";
  case MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED: return "certificate_expired";
  case MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN: return "certificate_unknown";
  case MBEDTLS_SSL_ALERT_MSG_ILLEGAL_PARAMETER: return "illegal_parameter";
  case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA: return "unknown_ca";
  case MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED: return "access_denied";
  case MBEDTLS_SSL_ALERT_MSG_DECODE_ERROR: return "decode_error";
  case MBEDTLS_SSL_ALERT_MSG_DECRYPT_ERROR: return "decrypt_error";
  case MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION: return "protocol_version";
  case MBEDTLS_SSL_ALERT_MSG_INSUFFICIENT_SECURITY: return "insufficient_security";
  case MBEDTLS_SSL_ALERT_MSG_INTERNAL_ERROR: return "internal_error";
  default: return "other";
  }
}

void tls_fail_describe(char *buf, size_t cap, int mbed_ret, uint32_t flags,
                       int peer_alert) {
  if (cap == 0)
    return;
  buf[0] = '\0';
  size_t n = 0;
  if (mbed_ret != 0) {
    mbedtls_strerror(mbed_ret, buf, cap);
    n = strlen(buf);
  }
  if (flags != 0 && n + 3 < cap) {
    /* verify_info writes one "\n"-terminated line per flag; join them. */
    char info[TLS_FAIL_DETAIL_MAX];
    if (mbedtls_x509_crt_verify_info(info, sizeof info, "", flags) > 0) {
      size_t len = strlen(info);
      while (len > 0 && info[len - 1] == '\n')
        info[--len] = '\0';
      n += (size_t)snprintf(buf + n, cap - n, "%s", n ? ": " : "");
      for (size_t i = 0; i < len && n + 2 < cap; i++) {
        if (info[i] == '\n') {
          buf[n++] = ';';
          buf[n++] = ' ';
        } else {
          buf[n++] = info[i];
        }
      }
      buf[n] = '\0';
    }
  }
  if (peer_alert >= 0 && n < cap)
    snprintf(buf + n, cap - n, " (peer alert %d %s)", peer_alert,
             alert_name(peer_alert));
}

void tls_fail_describe_not_tls(char *buf, size_t cap, const void *data,
                               size_t len) {
  const unsigned char *p = data;
  char hex[3 * 8 + 1] = "", text[8 + 1] = "";
  size_t k = len < 8 ? len : 8, n = 0;
  for (size_t i = 0; i < k; i++) {
    n += (size_t)snprintf(hex + n, sizeof hex - n, "%s%02x", i ? " " : "",
                          p[i]);
    text[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '.';
  }
  text[k] = '\0';
  snprintf(buf, cap, "not a TLS record: received %s \"%s\"", hex, text);
}
