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

#endif /* TR_CERTGEN_H */
