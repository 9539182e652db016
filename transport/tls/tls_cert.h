/* tls_cert.h — internal to transport/tls: the config's layout (tls.c
 * makes it; tls_proof.c signs with its key), and what a parsed certificate
 * says about its holder (the names it carries, its role), shared by the
 * connection's peer checks (tls.c), the file reader (tls_ident.c) and the
 * proofs (tls_proof.c). */
#ifndef TR_TLS_CERT_H
#define TR_TLS_CERT_H

#include <stdbool.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "tls.h"

typedef struct tls_proof_cache tls_proof_cache;

struct tls_config {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt ca;
  mbedtls_x509_crt cert;
  mbedtls_pk_context key;
  mbedtls_ssl_ticket_context ticket;
  mbedtls_ssl_config client, server;
  mbedtls_x509_crl crl; /* the CA's revocation list (tls_crl.c) */
  bool has_crl;
  tls_proof_cache *proofs; /* certificates already checked (tls_proof.c) */
};

/* tls_crl.c: loads the list (none when both are NULL), checked to be the
 * CA's own; the reason into err. And whether it lists crt. */
int tls_crl_load(tls_config *, const char *file, const char *pem, char *err,
                 size_t errlen);
bool tls_crt_revoked(const tls_config *, const mbedtls_x509_crt *crt);

void tls_proof_cache_free(tls_proof_cache *);

/* The certificate's CN or one of its DNS SANs equals name, byte for byte. */
bool tls_crt_names(const mbedtls_x509_crt *, const char *name);
/* Its role (tls.h, tls_peer_role): the subject's OU and the extended key
 * usage must agree. */
tls_peer_role tls_crt_role(const mbedtls_x509_crt *);

#endif /* TR_TLS_CERT_H */
