/* certgen.c — ECDSA P-256 keys and X.509 v3 certificates written with
 * mbedTLS 2.28: a self-signed cluster CA, node or client certificates
 * signed by it, with the extensions the TLS layer checks, and the CA's
 * revocation list (see certgen.h). */
#include "certgen.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509_crt.h>

#include "troupe.h"

/* RFC 5280's upper bounds: a CN of 64 bytes, a host name of 253. */
#define CG_CN_MAX 64
#define CG_DNS_MAX 253
/* Room for one PEM certificate before its SANs (ours are ~700 bytes). */
#define CG_PEM_BASE 4096
#define CG_DEFAULT_BEFORE_S 3600                 /* now - 1 h */
#define CG_DEFAULT_DAYS 825                      /* CA/B forum maximum */
#define CG_SERIAL_LEN 16

/* One DRBG per call: certificate tooling is rare, and this keeps certgen free
 * of global state. */
typedef struct cg_rng {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
} cg_rng;

static int cg_rng_init(cg_rng *r) {
  static const char pers[] = "troupe-certgen";
  mbedtls_entropy_init(&r->entropy);
  mbedtls_ctr_drbg_init(&r->drbg);
  if (mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy,
                            (const unsigned char *)pers, sizeof pers - 1) != 0)
    return TR_ETLS;
  return 0;
}

static void cg_rng_free(cg_rng *r) {
  mbedtls_ctr_drbg_free(&r->drbg);
  mbedtls_entropy_free(&r->entropy);
}

static int cg_err(int mbed_ret) {
  if (mbed_ret == MBEDTLS_ERR_ASN1_ALLOC_FAILED ||
      mbed_ret == MBEDTLS_ERR_X509_ALLOC_FAILED ||
      mbed_ret == MBEDTLS_ERR_PK_ALLOC_FAILED ||
      mbed_ret == MBEDTLS_ERR_MPI_ALLOC_FAILED ||
      mbed_ret == MBEDTLS_ERR_ECP_ALLOC_FAILED)
    return TR_ENOMEM;
  return TR_ETLS;
}

int certgen_key(char **key_pem) {
  if (!key_pem)
    return TR_EINVAL;
  *key_pem = NULL;

  unsigned char buf[1024];
  mbedtls_pk_context pk;
  cg_rng rng;
  mbedtls_pk_init(&pk);
  int rc = cg_rng_init(&rng);
  if (rc != 0)
    goto out;
  int ret = mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
  if (ret == 0)
    ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk),
                              mbedtls_ctr_drbg_random, &rng.drbg);
  if (ret == 0)
    ret = mbedtls_pk_write_key_pem(&pk, buf, sizeof buf);
  if (ret != 0) {
    rc = cg_err(ret);
    goto out;
  }
  *key_pem = strdup((const char *)buf);
  rc = *key_pem ? 0 : TR_ENOMEM;
out:
  mbedtls_platform_zeroize(buf, sizeof buf);
  mbedtls_pk_free(&pk);
  cg_rng_free(&rng);
  return rc;
}

/* "CN=<cn>,O=troupe[,OU=<role>]" for mbedtls_x509_string_to_names, which
 * knows one escape (a backslash before a comma); anything it cannot express
 * is refused. The role is one of a few fixed words. */
static int cg_subject(char *out, size_t cap, const char *cn,
                      const char *role) {
  size_t n = strlen(cn);
  if (n == 0 || n > CG_CN_MAX)
    return TR_EINVAL;
  size_t o = 0;
  o += (size_t)snprintf(out, cap, "CN=");
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)cn[i];
    if (ch < 0x20 || ch > 0x7e || ch == '\\')
      return TR_EINVAL;
    if (ch == ',')
      out[o++] = '\\';
    out[o++] = (char)ch;
  }
  if (role && strcmp(role, "node") != 0 && strcmp(role, "operator") != 0 &&
      strcmp(role, "viewer") != 0)
    return TR_EINVAL;
  snprintf(out + o, cap - o, ",O=troupe%s%s", role ? ",OU=" : "",
           role ? role : "");
  return 0;
}

/* The issuer name is copied from the issuer certificate's subject attribute
 * by attribute, keeping each string's tag, so that chain building (which
 * compares names) matches exactly, whoever wrote the CA. The writer emits its
 * list last entry first, hence the prepending. Multi-valued RDNs become
 * single-valued ones (certgen never writes them). */
static int cg_copy_issuer(mbedtls_x509write_cert *w, const mbedtls_x509_name *n) {
  for (; n; n = n->next) {
    mbedtls_asn1_named_data *d = mbedtls_calloc(1, sizeof *d);
    if (!d)
      return TR_ENOMEM;
    d->next = w->issuer;
    w->issuer = d;
    d->oid.tag = MBEDTLS_ASN1_OID;
    d->oid.len = n->oid.len;
    d->oid.p = mbedtls_calloc(1, n->oid.len ? n->oid.len : 1);
    d->val.tag = n->val.tag;
    d->val.len = n->val.len;
    d->val.p = mbedtls_calloc(1, n->val.len ? n->val.len : 1);
    if (!d->oid.p || !d->val.p)
      return TR_ENOMEM;
    memcpy(d->oid.p, n->oid.p, n->oid.len);
    memcpy(d->val.p, n->val.p, n->val.len);
  }
  return 0;
}

static int cg_time(char out[16], time_t t) {
  struct tm tm;
  if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 1950 ||
      tm.tm_year + 1900 > 9999)
    return TR_EINVAL;
  return strftime(out, 16, "%Y%m%d%H%M%S", &tm) == 14 ? 0 : TR_EINVAL;
}

/* extKeyUsage ::= SEQUENCE OF KeyPurposeId: serverAuth and clientAuth for
 * nodes (each node both dials and accepts), clientAuth only for clients.
 * mbedTLS 2.28 has no setter for it, so the DER is written here. */
static int cg_set_eku(mbedtls_x509write_cert *w, bool client_only) {
  unsigned char buf[64];
  unsigned char *p = buf + sizeof buf;
  size_t len = 0;
  int ret;
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(
                                &p, buf, MBEDTLS_OID_CLIENT_AUTH,
                                MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)));
  if (!client_only)
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(
                                  &p, buf, MBEDTLS_OID_SERVER_AUTH,
                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)));
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(
                                &p, buf, MBEDTLS_ASN1_CONSTRUCTED |
                                             MBEDTLS_ASN1_SEQUENCE));
  return mbedtls_x509write_crt_set_extension(
      w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
      MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0, p, len);
}

static int cg_write_general_name(unsigned char **p, unsigned char *start,
                                 int tag, const unsigned char *v, size_t n) {
  int ret;
  size_t len = 0;
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(p, start, v, n));
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(p, start, len));
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(
                                p, start, MBEDTLS_ASN1_CONTEXT_SPECIFIC | tag));
  return (int)len;
}

/* subjectAltName ::= GeneralNames, SEQUENCE OF GeneralName with dNSName [2]
 * IA5String and iPAddress [7] OCTET STRING (4 or 16 bytes), implicitly
 * tagged. Written back to front, so the entries are visited in reverse. */
static int cg_set_san(mbedtls_x509write_cert *w, const certgen_req *r) {
  if (r->ndns == 0 && r->nips == 0)
    return 0;
  size_t cap = 16;
  for (size_t i = 0; i < r->ndns; i++) {
    if (!r->dns || !r->dns[i])
      return TR_EINVAL;
    size_t n = strlen(r->dns[i]);
    if (n == 0 || n > CG_DNS_MAX)
      return TR_EINVAL;
    for (size_t k = 0; k < n; k++)
      if ((unsigned char)r->dns[i][k] <= 0x20 ||
          (unsigned char)r->dns[i][k] > 0x7e)
        return TR_EINVAL;
    cap += n + 4;
  }
  cap += r->nips * (16 + 4);
  unsigned char *buf = malloc(cap);
  if (!buf)
    return TR_ENOMEM;
  unsigned char *p = buf + cap;
  size_t len = 0;
  int ret = 0, rc = 0;
  for (size_t i = r->nips; i-- > 0;) {
    unsigned char ip[16];
    size_t iplen;
    if (!r->ips || !r->ips[i]) {
      rc = TR_EINVAL;
      goto out;
    }
    if (inet_pton(AF_INET, r->ips[i], ip) == 1)
      iplen = 4;
    else if (inet_pton(AF_INET6, r->ips[i], ip) == 1)
      iplen = 16;
    else {
      rc = TR_EINVAL;
      goto out;
    }
    if ((ret = cg_write_general_name(&p, buf, 7, ip, iplen)) < 0)
      goto out;
    len += (size_t)ret;
  }
  for (size_t i = r->ndns; i-- > 0;) {
    if ((ret = cg_write_general_name(&p, buf, 2,
                                     (const unsigned char *)r->dns[i],
                                     strlen(r->dns[i]))) < 0)
      goto out;
    len += (size_t)ret;
  }
  if ((ret = mbedtls_asn1_write_len(&p, buf, len)) < 0)
    goto out;
  len += (size_t)ret;
  if ((ret = mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED |
                                                 MBEDTLS_ASN1_SEQUENCE)) < 0)
    goto out;
  len += (size_t)ret;
  ret = mbedtls_x509write_crt_set_extension(
      w, MBEDTLS_OID_SUBJECT_ALT_NAME,
      MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, p, len);
out:
  free(buf);
  if (rc == 0 && ret < 0)
    rc = cg_err(ret);
  return rc;
}

static int cg_parse_key(mbedtls_pk_context *pk, const char *pem) {
  int ret = mbedtls_pk_parse_key(pk, (const unsigned char *)pem,
                                 strlen(pem) + 1, NULL, 0);
  return ret == 0 ? 0 : ret == MBEDTLS_ERR_PK_ALLOC_FAILED ? TR_ENOMEM
                                                           : TR_EINVAL;
}

int certgen_cert(const certgen_req *r, const char *key_pem,
                 const char *issuer_cert_pem, const char *issuer_key_pem,
                 char **cert_pem) {
  if (!cert_pem)
    return TR_EINVAL;
  *cert_pem = NULL;
  if (!r || !r->cn || !key_pem || (issuer_cert_pem && !issuer_key_pem) ||
      (r->ndns && !r->dns) || (r->nips && !r->ips))
    return TR_EINVAL;

  mbedtls_pk_context key, issuer_key;
  mbedtls_x509_crt issuer;
  mbedtls_x509write_cert w;
  mbedtls_mpi serial;
  cg_rng rng;
  unsigned char *pem = NULL;
  size_t pem_cap = CG_PEM_BASE;
  char subject[32 + 2 * CG_CN_MAX];
  char nb[16], na[16];
  int ret = 0, rc;

  mbedtls_pk_init(&key);
  mbedtls_pk_init(&issuer_key);
  mbedtls_x509_crt_init(&issuer);
  mbedtls_x509write_crt_init(&w);
  mbedtls_mpi_init(&serial);
  if ((rc = cg_rng_init(&rng)) != 0)
    goto out;

  /* Names, keys and times are checked before anything is signed. */
  if ((rc = cg_subject(subject, sizeof subject, r->cn, r->role)) != 0)
    goto out;
  time_t now = time(NULL);
  time_t before = r->not_before ? r->not_before : now - CG_DEFAULT_BEFORE_S;
  time_t after = r->not_after ? r->not_after
                              : before + CG_DEFAULT_BEFORE_S +
                                    (time_t)CG_DEFAULT_DAYS * 86400;
  if (after <= before) {
    rc = TR_EINVAL;
    goto out;
  }
  if ((rc = cg_time(nb, before)) != 0 || (rc = cg_time(na, after)) != 0)
    goto out;
  if ((rc = cg_parse_key(&key, key_pem)) != 0)
    goto out;
  if (issuer_cert_pem) {
    ret = mbedtls_x509_crt_parse(&issuer, (const unsigned char *)issuer_cert_pem,
                                 strlen(issuer_cert_pem) + 1);
    if (ret != 0) {
      rc = ret == MBEDTLS_ERR_X509_ALLOC_FAILED ? TR_ENOMEM : TR_EINVAL;
      goto out;
    }
    if ((rc = cg_parse_key(&issuer_key, issuer_key_pem)) != 0)
      goto out;
    /* Only a CA may sign, and only with its own key. */
    if (!issuer.ca_istrue ||
        mbedtls_pk_check_pair(&issuer.pk, &issuer_key) != 0) {
      rc = TR_EINVAL;
      goto out;
    }
  }
  mbedtls_pk_context *signer = issuer_cert_pem ? &issuer_key : &key;

  unsigned char sbytes[CG_SERIAL_LEN];
  if ((ret = mbedtls_ctr_drbg_random(&rng.drbg, sbytes, sizeof sbytes)) != 0)
    goto out;
  sbytes[0] = (unsigned char)((sbytes[0] & 0x7f) | 0x40); /* positive, 16 B */
  if ((ret = mbedtls_mpi_read_binary(&serial, sbytes, sizeof sbytes)) != 0)
    goto out;

  mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(&w, &key);
  mbedtls_x509write_crt_set_issuer_key(&w, signer);
  if ((ret = mbedtls_x509write_crt_set_serial(&w, &serial)) != 0 ||
      (ret = mbedtls_x509write_crt_set_validity(&w, nb, na)) != 0 ||
      (ret = mbedtls_x509write_crt_set_subject_name(&w, subject)) != 0)
    goto out;
  if (issuer_cert_pem) {
    if ((rc = cg_copy_issuer(&w, &issuer.subject)) != 0)
      goto out;
  } else if ((ret = mbedtls_x509write_crt_set_issuer_name(&w, subject)) != 0) {
    goto out;
  }

  if ((ret = mbedtls_x509write_crt_set_basic_constraints(&w, r->is_ca ? 1 : 0,
                                                         -1)) != 0 ||
      (ret = mbedtls_x509write_crt_set_subject_key_identifier(&w)) != 0 ||
      (ret = mbedtls_x509write_crt_set_authority_key_identifier(&w)) != 0)
    goto out;
  unsigned int ku = r->is_ca ? MBEDTLS_X509_KU_KEY_CERT_SIGN |
                                   MBEDTLS_X509_KU_CRL_SIGN
                             : MBEDTLS_X509_KU_DIGITAL_SIGNATURE;
  if ((ret = mbedtls_x509write_crt_set_key_usage(&w, ku)) != 0)
    goto out;
  if (!r->is_ca && (ret = cg_set_eku(&w, r->is_client != 0)) != 0)
    goto out;
  if ((rc = cg_set_san(&w, r)) != 0)
    goto out;

  for (size_t i = 0; i < r->ndns; i++)
    pem_cap += 2 * strlen(r->dns[i]) + 8;
  pem_cap += r->nips * 48;
  if (!(pem = malloc(pem_cap))) {
    rc = TR_ENOMEM;
    goto out;
  }
  if ((ret = mbedtls_x509write_crt_pem(&w, pem, pem_cap,
                                       mbedtls_ctr_drbg_random, &rng.drbg)) != 0)
    goto out;
  if (!(*cert_pem = strdup((const char *)pem)))
    rc = TR_ENOMEM;

out:
  if (rc == 0 && ret != 0)
    rc = cg_err(ret);
  free(pem);
  mbedtls_mpi_free(&serial);
  mbedtls_x509write_crt_free(&w);
  mbedtls_x509_crt_free(&issuer);
  mbedtls_pk_free(&issuer_key);
  mbedtls_pk_free(&key);
  cg_rng_free(&rng);
  return rc;
}

/* ---- the revocation list ------------------------------------------------
 * mbedTLS 2.28 parses CRLs but cannot write them, so the DER of RFC 5280
 * section 5.1 is written here, back to front as asn1write does:
 *   CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm,
 *                                  signatureValue BIT STRING }
 *   TBSCertList ::= SEQUENCE { version INTEGER 1 (v2), signature,
 *       issuer Name, thisUpdate Time, nextUpdate Time,
 *       revokedCertificates SEQUENCE OF SEQUENCE {
 *           userCertificate INTEGER, revocationDate Time } OPTIONAL }
 * No extensions: mbedTLS's verification needs none, and a list without
 * entries leaves revokedCertificates out rather than writing it empty. */

/* A serial is at most 20 bytes (RFC 5280 4.1.2.2); 64 leaves room for
 * other CAs' habits. Both bounds keep the buffer sizes below far from
 * overflowing. */
#define CG_CRL_SERIAL_MAX 64
#define CG_CRL_MAX_ENTRIES 1000000
/* One entry's DER at most: 3 (SEQUENCE) + 2 + 64 (INTEGER) + 2 + 15. */
#define CG_CRL_ENTRY_MAX 96
/* The rest of the tbsCertList, beside the issuer name: version,
 * algorithm, two times, the headers. */
#define CG_CRL_FIXED 128

/* RFC 5280 5.1.2.4 and 4.1.2.5: UTCTime (two-digit year) for 1950 through
 * 2049, GeneralizedTime otherwise; UTC, with seconds, ending in Z. mbedTLS
 * reads years 0 to 9999 only. */
static int cg_crl_time(time_t t, char out[32], int *tag) {
  struct tm tm;
  if (!gmtime_r(&t, &tm))
    return TR_EINVAL;
  long year = (long)tm.tm_year + 1900;
  if (year < 0 || year > 9999)
    return TR_EINVAL;
  int n;
  if (year >= 1950 && year <= 2049) {
    *tag = MBEDTLS_ASN1_UTC_TIME;
    n = snprintf(out, 32, "%02ld%02d%02d%02d%02d%02dZ", year % 100,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  } else {
    *tag = MBEDTLS_ASN1_GENERALIZED_TIME;
    n = snprintf(out, 32, "%04ld%02d%02d%02d%02d%02dZ", year, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  }
  return n == (*tag == MBEDTLS_ASN1_UTC_TIME ? 13 : 15) ? 0 : TR_EINVAL;
}

/* Times were checked with cg_crl_time before anything was written. */
static int cg_write_crl_time(unsigned char **p, unsigned char *start,
                             time_t t) {
  char s[32];
  int tag;
  if (cg_crl_time(t, s, &tag) != 0)
    return MBEDTLS_ERR_ASN1_INVALID_DATA;
  return mbedtls_asn1_write_tagged_string(p, start, tag, s, strlen(s));
}

/* AlgorithmIdentifier of ecdsa-with-SHA256: the OID and no parameters at
 * all (RFC 5758 3.2). mbedtls_asn1_write_algorithm_identifier would add a
 * NULL, which strict parsers refuse for ECDSA. */
static int cg_write_ecdsa_sha256(unsigned char **p, unsigned char *start) {
  int ret;
  size_t len = 0;
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(
                                p, start, MBEDTLS_OID_ECDSA_SHA256,
                                MBEDTLS_OID_SIZE(MBEDTLS_OID_ECDSA_SHA256)));
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(p, start, len));
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(
                                p, start, MBEDTLS_ASN1_CONSTRUCTED |
                                              MBEDTLS_ASN1_SEQUENCE));
  return (int)len;
}

/* SEQUENCE { userCertificate INTEGER, revocationDate Time }. The serial's
 * content bytes go in as they are: they must equal the certificate's for
 * mbedtls_x509_crt_is_revoked, which compares bytes. */
static int cg_write_crl_entry(unsigned char **p, unsigned char *start,
                              const certgen_revoked *r) {
  int ret;
  size_t len = 0;
  MBEDTLS_ASN1_CHK_ADD(len, cg_write_crl_time(p, start, r->when));
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(p, start, r->serial,
                                                          r->serial_len));
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(p, start, r->serial_len));
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(p, start,
                                                   MBEDTLS_ASN1_INTEGER));
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(p, start, len));
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(
                                p, start, MBEDTLS_ASN1_CONSTRUCTED |
                                              MBEDTLS_ASN1_SEQUENCE));
  return (int)len;
}

/* The issuer name is the CA certificate's subject DER, copied whole, so
 * that it matches byte for byte whoever wrote the CA. */
static int cg_write_tbs_crl(unsigned char **p, unsigned char *start,
                            const mbedtls_x509_buf *issuer,
                            const certgen_revoked *revoked, size_t n,
                            time_t this_update, time_t next_update) {
  int ret;
  size_t len = 0;
  if (n > 0) {
    size_t list = 0;
    for (size_t i = n; i-- > 0;)
      MBEDTLS_ASN1_CHK_ADD(list, cg_write_crl_entry(p, start, &revoked[i]));
    MBEDTLS_ASN1_CHK_ADD(list, mbedtls_asn1_write_len(p, start, list));
    MBEDTLS_ASN1_CHK_ADD(list, mbedtls_asn1_write_tag(
                                   p, start, MBEDTLS_ASN1_CONSTRUCTED |
                                                 MBEDTLS_ASN1_SEQUENCE));
    len += list;
  }
  MBEDTLS_ASN1_CHK_ADD(len, cg_write_crl_time(p, start, next_update));
  MBEDTLS_ASN1_CHK_ADD(len, cg_write_crl_time(p, start, this_update));
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(p, start, issuer->p,
                                                          issuer->len));
  MBEDTLS_ASN1_CHK_ADD(len, cg_write_ecdsa_sha256(p, start));
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_int(p, start, 1)); /* v2 */
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(p, start, len));
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(
                                p, start, MBEDTLS_ASN1_CONSTRUCTED |
                                              MBEDTLS_ASN1_SEQUENCE));
  return (int)len;
}

/* CertificateList around the signed tbs: the algorithm once more (it must
 * equal the one inside, mbedTLS checks) and the DER ECDSA signature as a
 * BIT STRING with no unused bits. */
static int cg_write_crl(unsigned char **p, unsigned char *start,
                        const unsigned char *tbs, size_t tbs_len,
                        const unsigned char *sig, size_t sig_len) {
  int ret;
  size_t len = 0;
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_bitstring(p, start, sig,
                                                         sig_len * 8));
  MBEDTLS_ASN1_CHK_ADD(len, cg_write_ecdsa_sha256(p, start));
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(p, start, tbs,
                                                          tbs_len));
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(p, start, len));
  MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(
                                p, start, MBEDTLS_ASN1_CONSTRUCTED |
                                              MBEDTLS_ASN1_SEQUENCE));
  return (int)len;
}

int certgen_crl(const char *issuer_cert_pem, const char *issuer_key_pem,
                const certgen_revoked *revoked, size_t n, time_t this_update,
                time_t next_update, char **crl_pem) {
  if (!crl_pem)
    return TR_EINVAL;
  *crl_pem = NULL;
  if (!issuer_cert_pem || !issuer_key_pem || (n && !revoked) ||
      n > CG_CRL_MAX_ENTRIES || next_update <= this_update)
    return TR_EINVAL;
  /* Everything that can be wrong with the input is found before any
   * writing, so the writers below fail only for mbedTLS's reasons. */
  char ts[32];
  int tag;
  if (cg_crl_time(this_update, ts, &tag) != 0 ||
      cg_crl_time(next_update, ts, &tag) != 0)
    return TR_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (!revoked[i].serial || revoked[i].serial_len == 0 ||
        revoked[i].serial_len > CG_CRL_SERIAL_MAX ||
        cg_crl_time(revoked[i].when, ts, &tag) != 0)
      return TR_EINVAL;

  mbedtls_x509_crt issuer;
  mbedtls_pk_context key;
  cg_rng rng;
  unsigned char *tbs_buf = NULL, *der_buf = NULL, *pem = NULL;
  unsigned char hash[32], sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
  size_t sig_len = 0;
  int ret = 0, rc = 0;

  mbedtls_x509_crt_init(&issuer);
  mbedtls_pk_init(&key);
  if (cg_rng_init(&rng) != 0) {
    ret = MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
    goto out;
  }
  ret = mbedtls_x509_crt_parse(&issuer, (const unsigned char *)issuer_cert_pem,
                               strlen(issuer_cert_pem) + 1);
  if (ret == 0)
    ret = mbedtls_pk_parse_key(&key, (const unsigned char *)issuer_key_pem,
                               strlen(issuer_key_pem) + 1, NULL, 0);
  if (ret != 0) {
    if (ret != MBEDTLS_ERR_X509_ALLOC_FAILED &&
        ret != MBEDTLS_ERR_PK_ALLOC_FAILED)
      rc = TR_EINVAL;
    goto out;
  }
  /* Only a CA may sign a list, with its own ECDSA key, and only if its key
   * usage allows CRLs: mbedTLS would otherwise mark the list untrusted,
   * which fails verification of every certificate of this CA. */
  if (!issuer.ca_istrue ||
      mbedtls_x509_crt_check_key_usage(&issuer, MBEDTLS_X509_KU_CRL_SIGN) !=
          0 ||
      !mbedtls_pk_can_do(&key, MBEDTLS_PK_ECDSA) ||
      mbedtls_pk_check_pair(&issuer.pk, &key) != 0) {
    rc = TR_EINVAL;
    goto out;
  }

  size_t tbs_cap = CG_CRL_FIXED + issuer.subject_raw.len +
                   n * CG_CRL_ENTRY_MAX;
  if (!(tbs_buf = malloc(tbs_cap))) {
    ret = MBEDTLS_ERR_ASN1_ALLOC_FAILED;
    goto out;
  }
  unsigned char *p = tbs_buf + tbs_cap;
  if ((ret = cg_write_tbs_crl(&p, tbs_buf, &issuer.subject_raw, revoked, n,
                              this_update, next_update)) < 0)
    goto out;
  size_t tbs_len = (size_t)ret;

  const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
  if ((ret = mbedtls_md(md, p, tbs_len, hash)) != 0 ||
      (ret = mbedtls_pk_sign(&key, MBEDTLS_MD_SHA256, hash, sizeof hash, sig,
                             &sig_len, mbedtls_ctr_drbg_random,
                             &rng.drbg)) != 0)
    goto out;

  size_t der_cap = tbs_len + sig_len + CG_CRL_FIXED;
  if (!(der_buf = malloc(der_cap))) {
    ret = MBEDTLS_ERR_ASN1_ALLOC_FAILED;
    goto out;
  }
  unsigned char *d = der_buf + der_cap;
  if ((ret = cg_write_crl(&d, der_buf, p, tbs_len, sig, sig_len)) < 0)
    goto out;
  size_t der_len = (size_t)ret;

  /* Base64 is 4 bytes per 3, plus a newline per 64 and the two lines. */
  size_t pem_cap = der_len / 3 * 4 + der_len / 48 + 128, olen = 0;
  if (!(pem = malloc(pem_cap))) {
    ret = MBEDTLS_ERR_ASN1_ALLOC_FAILED;
    goto out;
  }
  if ((ret = mbedtls_pem_write_buffer("-----BEGIN X509 CRL-----\n",
                                      "-----END X509 CRL-----\n", d, der_len,
                                      pem, pem_cap, &olen)) != 0)
    goto out;
  *crl_pem = (char *)pem; /* NUL-terminated: olen counts the NUL */
  pem = NULL;
  ret = 0;

out:
  if (rc == 0 && ret != 0)
    rc = ret;
  free(pem);
  free(der_buf);
  free(tbs_buf);
  mbedtls_pk_free(&key);
  mbedtls_x509_crt_free(&issuer);
  cg_rng_free(&rng);
  return rc;
}
