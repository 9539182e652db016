/* pki.h — test certificates made at test setup with certgen (nothing
 * committed, nothing that expires in the repository): a cluster CA, a
 * foreign CA, and node certificates good, expired or from the foreign CA. */
#ifndef TR_TEST_PKI_H
#define TR_TEST_PKI_H

#include "tls.h"

typedef struct test_pki {
  char *ca_cert, *ca_key;       /* the cluster CA */
  char *other_cert, *other_key; /* a CA nobody trusts */
} test_pki;

typedef enum {
  PKI_GOOD = 0,
  PKI_EXPIRED,     /* signed by the cluster CA, validity in the past */
  PKI_OTHER_CA,    /* signed by the foreign CA */
  PKI_NO_ROLE,     /* signed by the cluster CA, a node's key usage, no role */
} pki_kind;

int pki_init(test_pki *);
void pki_free(test_pki *);
/* A node certificate (role node) and key for CN `name` (also a DNS SAN). */
int pki_node(test_pki *, const char *name, pki_kind, char **cert, char **key);
/* A tls_config for node `name` trusting the cluster CA. NULL on failure. */
tls_config *pki_tls(test_pki *, const char *name, pki_kind);
/* Writes ca.pem, NAME.pem and NAME.key into dir for a node process. */
int pki_write_files(test_pki *, const char *dir, const char *name);
/* Writes FILE.pem and FILE.key, a client-only certificate for CN `cn`
 * with role `role` ("operator", "viewer"; NULL: none) signed by the
 * cluster CA (PKI_GOOD) or the foreign one (PKI_OTHER_CA), and
 * other-ca.pem (the foreign CA), into dir. */
int pki_write_client_files(test_pki *, const char *dir, const char *file,
                           const char *cn, pki_kind, const char *role);
/* Writes dir/crl.pem: the cluster CA's revocation list revoking the
 * certificates dir/NAME.pem of the names given (none: an empty list),
 * valid 10 days. */
int pki_write_crl(test_pki *, const char *dir, const char *const *names,
                  size_t n);
/* Writes NAME.pem and NAME.key for a node certificate of that kind. */
int pki_write_node_files(test_pki *, const char *dir, const char *name,
                         pki_kind);

#endif
