/* tls_cert.h — internal to transport/tls: what a parsed certificate says
 * about its holder (the names it carries, its role), shared by the
 * connection's peer checks (tls.c) and the file reader (tls_ident.c). */
#ifndef TR_TLS_CERT_H
#define TR_TLS_CERT_H

#include <stdbool.h>

#include <mbedtls/x509_crt.h>

#include "tls.h"

/* The certificate's CN or one of its DNS SANs equals name, byte for byte. */
bool tls_crt_names(const mbedtls_x509_crt *, const char *name);
/* Its role (tls.h, tls_peer_role): the subject's OU and the extended key
 * usage must agree. */
tls_peer_role tls_crt_role(const mbedtls_x509_crt *);

#endif /* TR_TLS_CERT_H */
