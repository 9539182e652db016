/* tls_fail.h — internal to transport/tls: turning mbedTLS errors and X.509
 * verification flags into a tls_fail reason and a one-line detail. */
#ifndef TR_TLS_FAIL_H
#define TR_TLS_FAIL_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ssl.h>

#include "tls.h"

#define TLS_FAIL_DETAIL_MAX 384

/* The reason for an mbedTLS error, given the verification flags collected
 * over the peer's chain (0 when no certificate was verified). */
tls_fail tls_fail_classify(int mbed_ret, uint32_t verify_flags);
/* The alert the peer sent when mbed_ret says a fatal alert arrived; -1 when
 * none. */
int tls_fail_peer_alert(const mbedtls_ssl_context *ssl, int mbed_ret);
/* Writes "<mbedTLS text>[: <verify flags text>][ (peer alert N name)]". */
void tls_fail_describe(char *buf, size_t cap, int mbed_ret,
                       uint32_t verify_flags, int peer_alert);
/* Writes what a non-TLS peer sent: the first bytes, in hex and printable. */
void tls_fail_describe_not_tls(char *buf, size_t cap, const void *data,
                               size_t len);

#endif /* TR_TLS_FAIL_H */
