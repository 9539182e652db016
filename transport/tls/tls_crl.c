/* tls_crl.c — revocation: the cluster CA's certificate revocation list
 * (`troupe cert revoke` writes it), loaded with the config and checked for
 * every peer certificate in the handshake (tls.c's verify callback), for a
 * resumed session, for links already up when a reloaded config brings a new
 * list (tls_conn_peer_revoked), and for the certificates of proofs
 * (tls_proof.c).
 *
 * Design notes. The list is checked here, not handed to mbedTLS with the CA
 * chain: mbedTLS fails every certificate of a CA whose list is past its
 * nextUpdate, so one forgotten renewal would cut the whole cluster off.
 * Here an expired list still revokes what it lists, and says it is expired
 * (tls_config_crl_info, logged and exported by the node). A list that is
 * not the CA's own (issuer, signature) is refused at load. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/x509_crl.h>

#include "tls_cert.h"
#include "troupe.h"

/* The list's issuer is the CA and the CA's key signed it. */
static bool crl_from_ca(const mbedtls_x509_crl *crl,
                        const mbedtls_x509_crt *ca) {
  if (crl->issuer_raw.len != ca->subject_raw.len ||
      memcmp(crl->issuer_raw.p, ca->subject_raw.p, ca->subject_raw.len) != 0)
    return false;
  const mbedtls_md_info_t *md = mbedtls_md_info_from_type(crl->sig_md);
  unsigned char hash[MBEDTLS_MD_MAX_SIZE];
  if (!md || mbedtls_md(md, crl->tbs.p, crl->tbs.len, hash) != 0)
    return false;
  return mbedtls_pk_verify_ext(crl->sig_pk, crl->sig_opts,
                               (mbedtls_pk_context *)&ca->pk, crl->sig_md,
                               hash, mbedtls_md_get_size(md), crl->sig.p,
                               crl->sig.len) == 0;
}

int tls_crl_load(tls_config *cfg, const char *file, const char *pem,
                 char *err, size_t errlen) {
  if (!file && !pem) return 0;
  const char *where = pem ? "(PEM text)" : file;
  int ret = pem ? mbedtls_x509_crl_parse(&cfg->crl, (const unsigned char *)pem,
                                         strlen(pem) + 1)
                : mbedtls_x509_crl_parse_file(&cfg->crl, file);
  if (ret != 0) {
    char text[120];
    mbedtls_strerror(ret, text, sizeof(text));
    if (err && errlen)
      snprintf(err, errlen, "crl_file %s: %s", where, text);
    return ret == MBEDTLS_ERR_X509_ALLOC_FAILED ? TR_ENOMEM : TR_EINVAL;
  }
  /* One list, of this CA (a file of several is refused). */
  if (cfg->crl.next || !crl_from_ca(&cfg->crl, &cfg->ca)) {
    if (err && errlen)
      snprintf(err, errlen,
               "crl_file %s: not a revocation list of ca_file's CA (its "
               "issuer or signature)", where);
    return TR_EINVAL;
  }
  cfg->has_crl = true;
  return 0;
}

bool tls_crt_revoked(const tls_config *cfg, const mbedtls_x509_crt *crt) {
  return cfg->has_crl && crt &&
         mbedtls_x509_crt_is_revoked(crt, (mbedtls_x509_crl *)&cfg->crl);
}

void tls_config_crl_info(const tls_config *cfg, tls_crl_info *out) {
  memset(out, 0, sizeof(*out));
  if (!cfg || !cfg->has_crl) return;
  out->loaded = true;
  for (const mbedtls_x509_crl_entry *e = &cfg->crl.entry; e && e->raw.len;
       e = e->next)
    out->entries++;
  const mbedtls_x509_time *t = &cfg->crl.next_update;
  if (t->year) {
    struct tm tm = {.tm_year = t->year - 1900, .tm_mon = t->mon - 1,
                    .tm_mday = t->day, .tm_hour = t->hour, .tm_min = t->min,
                    .tm_sec = t->sec};
    out->next_update = (int64_t)timegm(&tm);
    out->expired = mbedtls_x509_time_is_past(t) != 0;
  }
}
