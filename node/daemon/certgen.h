/* certgen.h — creating ECDSA P-256 keys and X.509 certificates with
 * mbedTLS's writer: a cluster CA, and node or client certificates signed by
 * it: `troupe cert` and the tests' certificates. Daemon code on mbedTLS;
 * nothing of the library uses it. */
#ifndef TR_CERTGEN_H
#define TR_CERTGEN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct certgen_req {
  const char *cn;           /* subject CN: the node or client name */
  const char *const *dns;   /* DNS SANs (may include cn); ndns entries */
  size_t ndns;
  const char *const *ips;   /* IP SANs, dotted quad or IPv6 text */
  size_t nips;
  time_t not_before, not_after; /* 0/0: now-1h .. now+825 days */
  int is_ca;
  int is_client;            /* extended key usage: client only */
  const char *role;         /* the subject's OU: "node", "operator" or
                               "viewer" (tls.h, tls_peer_role); NULL: none */
} certgen_req;

/* A new P-256 key as PEM text (malloc'ed, NUL-terminated). */
int certgen_key(char **key_pem);
/* A certificate for key_pem signed by (issuer_cert_pem, issuer_key_pem), or
 * self-signed when issuer_cert_pem is NULL. *cert_pem malloc'ed. */
int certgen_cert(const certgen_req *, const char *key_pem,
                 const char *issuer_cert_pem, const char *issuer_key_pem,
                 char **cert_pem);

/* A revoked certificate: its serial number (the content bytes of the
 * certificate's serialNumber INTEGER, as mbedtls_x509_crt.serial holds
 * them) and when it was revoked. */
typedef struct certgen_revoked {
  const unsigned char *serial;
  size_t serial_len;
  time_t when;
} certgen_revoked;

/* A certificate revocation list (X.509 v2 CRL, PEM "X509 CRL") issued by
 * the CA (issuer_cert_pem, issuer_key_pem), signed with ECDSA SHA-256,
 * listing the n revoked certificates (n may be 0), valid from this_update
 * to next_update. *crl_pem malloc'ed. 0, or an error (a negative mbedTLS
 * code, or TR_EINVAL for bad arguments). */
int certgen_crl(const char *issuer_cert_pem, const char *issuer_key_pem,
                const certgen_revoked *revoked, size_t n, time_t this_update,
                time_t next_update, char **crl_pem);

#endif /* TR_CERTGEN_H */
