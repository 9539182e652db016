/* tls_proof.c — a node's word about itself, signed with its certificate's
 * key so that others can relay it and everyone can check it: the proof is
 * [1-byte signature length][ECDSA signature over SHA-256(data)][the
 * signer's certificate, DER]. Checking one verifies the certificate against
 * the CA (once per certificate: a small cache), that it is a node
 * certificate for the name given, and the signature. Sign transitions, not
 * messages: P-256 signing costs about a millisecond here. A short proof
 * (tls_sign) is the signature alone, checked with the certificate of the
 * signer's full proof. */
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>
#include <mbedtls/sha256.h>

#include "tls_cert.h"
#include "troupe.h"
#include "uthash.h"

#define PROOF_CACHE_MAX 4096 /* certificates; past it the cache starts over */

typedef struct proof_cert {
  UT_hash_handle hh; /* keyed by the SHA-256 of the DER */
  uint8_t digest[32];
  mbedtls_x509_crt crt;
  bool good; /* signed by the CA, valid, a node certificate */
} proof_cert;

struct tls_proof_cache {
  proof_cert *certs;
  uint32_t n;
};

static void cache_clear(tls_proof_cache *c) {
  proof_cert *p, *tmp;
  HASH_ITER(hh, c->certs, p, tmp) {
    HASH_DEL(c->certs, p);
    mbedtls_x509_crt_free(&p->crt);
    free(p);
  }
  c->n = 0;
}

void tls_proof_cache_free(tls_proof_cache *c) {
  if (!c) return;
  cache_clear(c);
  free(c);
}

/* [1-byte length][ECDSA signature over SHA-256(data)] into out; with the
 * certificate after it when with_cert. */
static int sign(tls_config *cfg, const void *data, size_t len, uint8_t *out,
                size_t cap, size_t *out_len, bool with_cert) {
  const mbedtls_x509_crt *own = &cfg->cert;
  if (!own->raw.p || !mbedtls_pk_can_do(&cfg->key, MBEDTLS_PK_ECDSA))
    return TR_EINVAL;
  unsigned char hash[32], sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
  size_t sig_len = 0, cert_len = with_cert ? own->raw.len : 0;
  if (mbedtls_sha256_ret(data, len, hash, 0) != 0 ||
      mbedtls_pk_sign(&cfg->key, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig,
                      &sig_len, mbedtls_ctr_drbg_random, &cfg->drbg) != 0)
    return TR_ETLS;
  if (sig_len > 255 || 1 + sig_len + cert_len > cap) return TR_ETOOBIG;
  out[0] = (uint8_t)sig_len;
  memcpy(out + 1, sig, sig_len);
  if (cert_len) memcpy(out + 1 + sig_len, own->raw.p, cert_len);
  *out_len = 1 + sig_len + cert_len;
  return 0;
}

int tls_prove(tls_config *cfg, const void *data, size_t len, uint8_t *out,
              size_t cap, size_t *out_len) {
  return sign(cfg, data, len, out, cap, out_len, true);
}

int tls_sign(tls_config *cfg, const void *data, size_t len, uint8_t *out,
             size_t cap, size_t *out_len) {
  return sign(cfg, data, len, out, cap, out_len, false);
}

/* The certificate of a proof, parsed and judged once. NULL: unusable. */
static proof_cert *cert_of(tls_config *cfg, const uint8_t *der, size_t len) {
  if (!cfg->proofs && !(cfg->proofs = calloc(1, sizeof(*cfg->proofs))))
    return NULL;
  tls_proof_cache *c = cfg->proofs;
  uint8_t digest[32];
  if (mbedtls_sha256_ret(der, len, digest, 0) != 0) return NULL;
  proof_cert *p = NULL;
  HASH_FIND(hh, c->certs, digest, sizeof(digest), p);
  if (p) return p->good ? p : NULL;
  if (c->n >= PROOF_CACHE_MAX) cache_clear(c);
  if (!(p = calloc(1, sizeof(*p)))) return NULL;
  memcpy(p->digest, digest, sizeof(digest));
  mbedtls_x509_crt_init(&p->crt);
  uint32_t flags = 0;
  p->good = mbedtls_x509_crt_parse_der(&p->crt, der, len) == 0 &&
            mbedtls_x509_crt_verify(&p->crt, &cfg->ca, NULL, NULL, &flags,
                                    NULL, NULL) == 0 &&
            tls_crt_role(&p->crt) == TLS_PEER_NODE &&
            !tls_crt_revoked(cfg, &p->crt) &&
            mbedtls_pk_can_do(&p->crt.pk, MBEDTLS_PK_ECDSA);
  /* A bad one is remembered too, so a flood of it costs one check. */
  HASH_ADD(hh, c->certs, digest, sizeof(p->digest), p);
  c->n++;
  return p->good ? p : NULL;
}

/* The good node certificate of `name` in a tls_prove proof; NULL if none. */
static proof_cert *proof_cert_of(tls_config *cfg, const char *name,
                                 const uint8_t *proof, size_t proof_len) {
  if (!cfg || !name || !proof || proof_len < 2) return NULL;
  size_t sig_len = proof[0];
  if (sig_len == 0 || 1 + sig_len >= proof_len) return NULL;
  proof_cert *p = cert_of(cfg, proof + 1 + sig_len, proof_len - 1 - sig_len);
  return p && tls_crt_names(&p->crt, name) ? p : NULL;
}

static bool sig_ok(proof_cert *p, const void *data, size_t len,
                   const uint8_t *sig, size_t sig_len) {
  unsigned char hash[32];
  return mbedtls_sha256_ret(data, len, hash, 0) == 0 &&
         mbedtls_pk_verify(&p->crt.pk, MBEDTLS_MD_SHA256, hash, sizeof(hash),
                           sig, sig_len) == 0;
}

bool tls_proof_check(tls_config *cfg, const char *name, const void *data,
                     size_t len, const uint8_t *proof, size_t proof_len) {
  proof_cert *p = proof_cert_of(cfg, name, proof, proof_len);
  return p && sig_ok(p, data, len, proof + 1, proof[0]);
}

int tls_sign_check(tls_config *cfg, const char *name, const void *data,
                   size_t len, const uint8_t *sig, size_t sig_len,
                   const uint8_t *proof, size_t proof_len) {
  proof_cert *p = proof_cert_of(cfg, name, proof, proof_len);
  if (!p) return TR_ENOTFOUND;
  if (!sig || sig_len < 2 || (size_t)sig[0] + 1 != sig_len) return TR_EINVAL;
  return sig_ok(p, data, len, sig + 1, sig[0]) ? 0 : TR_EINVAL;
}

int tls_hmac(const void *key, size_t keylen, const void *data, size_t len,
             uint8_t out[32]) {
  const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
  if (!md || mbedtls_md_hmac(md, key, keylen, data, len, out) != 0)
    return TR_ETLS;
  return 0;
}
