/* cmd_crl.c — `troupe cert revoke|crl`: the CA's certificate revocation
 * list (certgen_crl), kept in DIR/crl.pem. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "cert_files.h"
#include "certgen.h"
#include "daemon.h"
#include "troupe.h"

/* ---- revoke and crl -------------------------------------------------------
 * DIR/crl.pem is read, checked to be this CA's, given one more entry
 * (revoke) and signed again with fresh dates, then replaced atomically.
 * Two of these at once would lose an entry, so the directory is locked
 * (flock) from the read to the rename. */

/* "4A0F..." as openssl prints a serial (x509 -serial, crl -text). */
static void serial_hex(char *out, size_t cap, const unsigned char *p,
                       size_t n) {
  size_t o = 0;
  out[0] = '\0';
  for (size_t i = 0; i < n && o + 3 <= cap; i++, o += 2)
    snprintf(out + o, cap - o, "%02X", p[i]);
}

static time_t x509_time_t(const mbedtls_x509_time *t) {
  struct tm tm = {0};
  tm.tm_year = t->year - 1900;
  tm.tm_mon = t->mon - 1;
  tm.tm_mday = t->day;
  tm.tm_hour = t->hour;
  tm.tm_min = t->min;
  tm.tm_sec = t->sec;
  return timegm(&tm);
}

/* The subject CN of crt into out ("" without one). */
static void subject_cn(char *out, size_t cap, const mbedtls_x509_crt *crt) {
  out[0] = '\0';
  for (const mbedtls_x509_name *a = &crt->subject; a; a = a->next)
    if (a->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &a->oid) == 0) {
      size_t n = a->val.len < cap - 1 ? a->val.len : cap - 1;
      memcpy(out, a->val.p, n);
      out[n] = '\0';
    }
}

static int same_buf(const mbedtls_x509_buf *a, const mbedtls_x509_buf *b) {
  return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

/* Whether crl is a list this CA signed: its issuer is the CA's subject, to
 * the byte, and its signature verifies with the CA's key. */
static int crl_is_cas(const mbedtls_x509_crl *crl, mbedtls_x509_crt *ca,
                      const char **why) {
  unsigned char hash[MBEDTLS_MD_MAX_SIZE];
  const mbedtls_md_info_t *md = mbedtls_md_info_from_type(crl->sig_md);
  if (!same_buf(&crl->issuer_raw, &ca->subject_raw)) {
    *why = "its issuer is not the CA";
    return 0;
  }
  if (!md || mbedtls_md(md, crl->tbs.p, crl->tbs.len, hash) != 0 ||
      mbedtls_pk_verify_ext(crl->sig_pk, crl->sig_opts, &ca->pk, crl->sig_md,
                            hash, mbedtls_md_get_size(md), crl->sig.p,
                            crl->sig.len) != 0) {
    *why = "its signature does not verify with the CA's key";
    return 0;
  }
  return 1;
}

int cert_crl_cmd(const cert_cli *c) {
  char ca_pem_path[4096], ca_key_path[4096], target_path[4096];
  cert_out out;
  memset(&out, 0, sizeof(out));
  char *ca_cert = NULL, *ca_key = NULL, *old_pem = NULL, *pem = NULL;
  mbedtls_x509_crt ca, target;
  mbedtls_x509_crl old;
  certgen_revoked *list = NULL;
  int exit_code = TROUPE_EXIT_ERROR, lock_fd = -1, ret;
  mbedtls_x509_crt_init(&ca);
  mbedtls_x509_crt_init(&target);
  mbedtls_x509_crl_init(&old);

  if (cert_path_join(out.path, sizeof(out.path), c->dir, CERT_CRL_FILE, ".pem") ||
      cert_path_join(ca_pem_path, sizeof(ca_pem_path), c->dir, "ca", ".pem") ||
      cert_path_join(ca_key_path, sizeof(ca_key_path), c->dir, "ca", ".key") ||
      (c->kind == CERT_REVOKE && !c->cert_file &&
       cert_path_join(target_path, sizeof(target_path), c->dir, c->name,
                 ".pem")) ||
      (c->cert_file && snprintf(target_path, sizeof(target_path), "%s",
                                c->cert_file) >= (int)sizeof(target_path))) {
    fprintf(stderr, "troupe cert: --dir %s: path too long\n", c->dir);
    return TROUPE_EXIT_USAGE;
  }

  if ((exit_code = cert_read_ca(ca_pem_path, ca_key_path, &ca_cert,
                                &ca_key)) != TROUPE_EXIT_OK)
    goto out;
  exit_code = TROUPE_EXIT_ERROR;
  if (mbedtls_x509_crt_parse(&ca, (const unsigned char *)ca_cert,
                             strlen(ca_cert) + 1) != 0 ||
      !ca.ca_istrue) {
    fprintf(stderr, "troupe cert: %s is not a CA certificate\n", ca_pem_path);
    exit_code = TROUPE_EXIT_USAGE;
    goto out;
  }

  /* The certificate to revoke: this CA's, whatever its dates (an expired
   * one may still be revoked, and one not valid yet too). */
  char cn[CERT_NAME_MAX + 1] = "", serial[2 * 64 + 1] = "";
  if (c->kind == CERT_REVOKE) {
    char *text = NULL;
    int r = cert_read_text(target_path, &text);
    if (r == 0) {
      ret = mbedtls_x509_crt_parse(&target, (const unsigned char *)text,
                                   strlen(text) + 1);
      free(text);
    }
    if (r == ENOENT && !c->cert_file) {
      fprintf(stderr, "troupe cert: %s: no such file: no certificate named "
                      "'%s' in %s (or give it with --cert FILE)\n",
              target_path, c->name, c->dir);
      exit_code = TROUPE_EXIT_USAGE;
      goto out;
    }
    if (r != 0) {
      fprintf(stderr, "troupe cert: %s: %s\n", target_path, strerror(r));
      exit_code = r == ENOMEM ? TROUPE_EXIT_ERROR : TROUPE_EXIT_USAGE;
      goto out;
    }
    if (ret != 0) {
      fprintf(stderr, "troupe cert: %s is not a certificate\n", target_path);
      exit_code = TROUPE_EXIT_USAGE;
      goto out;
    }
    if (same_buf(&target.raw, &ca.raw)) {
      fprintf(stderr, "troupe cert: %s is the CA itself: it cannot be "
                      "revoked (make a new CA instead)\n", target_path);
      exit_code = TROUPE_EXIT_USAGE;
      goto out;
    }
    uint32_t flags = 0;
    ret = mbedtls_x509_crt_verify(&target, &ca, NULL, NULL, &flags, NULL,
                                  NULL);
    if (ret != 0 &&
        (flags & ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED |
                             MBEDTLS_X509_BADCERT_FUTURE)) != 0) {
      fprintf(stderr, "troupe cert: %s was not issued by this CA (%s)\n",
              target_path, ca_pem_path);
      exit_code = TROUPE_EXIT_USAGE;
      goto out;
    }
    subject_cn(cn, sizeof(cn), &target);
    if (c->name && strcmp(cn, c->name) != 0) {
      fprintf(stderr, "troupe cert: %s is the certificate of '%s', not of "
                      "'%s'\n", target_path, cn, c->name);
      exit_code = TROUPE_EXIT_USAGE;
      goto out;
    }
    if (target.serial.len == 0 || target.serial.len > 64) {
      fprintf(stderr, "troupe cert: %s: unusable serial number (%zu "
                      "bytes)\n", target_path, target.serial.len);
      exit_code = TROUPE_EXIT_USAGE;
      goto out;
    }
    serial_hex(serial, sizeof(serial), target.serial.p, target.serial.len);
  }

  /* From here to the rename, no other troupe cert changes the list. */
  lock_fd = open(c->dir, O_RDONLY | O_DIRECTORY);
  if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    fprintf(stderr, "troupe cert: cannot lock %s: %s\n", c->dir,
            err == EWOULDBLOCK ? "another troupe cert is changing its "
                                 "crl.pem; try again"
                               : strerror(err));
    goto out;
  }

  /* The list so far, if there is one; it must be this CA's. */
  size_t n = 0, listed = 0;
  int already = 0;
  int r = cert_read_text(out.path, &old_pem);
  if (r != 0 && r != ENOENT) {
    fprintf(stderr, "troupe cert: cannot read %s: %s\n", out.path,
            strerror(r));
    goto out;
  }
  if (r == 0) {
    const char *why = NULL;
    ret = mbedtls_x509_crl_parse(&old, (const unsigned char *)old_pem,
                                 strlen(old_pem) + 1);
    if (ret != 0) {
      char detail[128];
      mbedtls_strerror(ret, detail, sizeof(detail));
      fprintf(stderr, "troupe cert: %s is not a revocation list (%s); move "
                      "it away to start a new one\n", out.path, detail);
      exit_code = TROUPE_EXIT_USAGE;
      goto out;
    }
    if (old.next) why = "it holds more than one list";
    if (!why) crl_is_cas(&old, &ca, &why);
    if (why) {
      fprintf(stderr, "troupe cert: %s is not a revocation list of this CA "
                      "(%s): %s\n", out.path, ca_pem_path, why);
      exit_code = TROUPE_EXIT_USAGE;
      goto out;
    }
    for (const mbedtls_x509_crl_entry *e = &old.entry; e && e->serial.len;
         e = e->next)
      listed++;
  }
  if (!(list = calloc(listed + 1, sizeof(*list)))) {
    fprintf(stderr, "troupe cert: out of memory\n");
    goto out;
  }
  /* The entries keep their order and dates; they point into `old`. */
  for (const mbedtls_x509_crl_entry *e = &old.entry; r == 0 && e &&
       e->serial.len; e = e->next) {
    list[n].serial = e->serial.p;
    list[n].serial_len = e->serial.len;
    list[n].when = x509_time_t(&e->revocation_date);
    if (c->kind == CERT_REVOKE && same_buf(&e->serial, &target.serial))
      already = 1;
    n++;
  }
  time_t now = time(NULL);
  if (c->kind == CERT_REVOKE && !already) {
    list[n].serial = target.serial.p;
    list[n].serial_len = target.serial.len;
    list[n].when = now;
    n++;
  }

  /* thisUpdate is set back like a certificate's not-before: mbedTLS
   * refuses every certificate of the CA while a list's thisUpdate is in
   * its future, so a node whose clock is behind by a few seconds would
   * refuse all its peers right after reloading. */
  unsigned days = c->days ? c->days : CERT_CRL_DAYS;
  int rc = certgen_crl(ca_cert, ca_key, list, n, now - CERT_BACKDATE_S,
                       now + (time_t)days * 86400, &pem);
  if (rc == TR_EINVAL) {
    fprintf(stderr, "troupe cert: %s and %s are not a usable CA for a "
                    "revocation list (not an ECDSA CA whose key usage "
                    "allows CRLs, or the key is not its key)\n",
            ca_pem_path, ca_key_path);
    exit_code = TROUPE_EXIT_USAGE;
    goto out;
  }
  if (rc != 0) {
    char detail[128];
    mbedtls_strerror(rc, detail, sizeof(detail));
    fprintf(stderr, "troupe cert: cannot make the revocation list: %s\n",
            detail);
    goto out;
  }

  int err = cert_write_temp(&out, c->dir, pem, 0644);
  if (!err) err = cert_place(&out, 1);
  if (err) {
    fprintf(stderr, "troupe cert: cannot write %s: %s\n", out.path,
            strerror(err));
    goto out;
  }
  cert_fsync_dir(c->dir);

  printf("%s  revocation list, %zu revoked, valid %u days\n", out.path, n,
         days);
  if (c->kind == CERT_REVOKE)
    printf("%s %s (serial %s); %zu %s in the list\n",
           already ? "already revoked:" : "revoked", cn[0] ? cn : target_path,
           serial, n, n == 1 ? "entry" : "entries");
  exit_code = TROUPE_EXIT_OK;

out:
  if (out.written) unlink(out.tmp);
  if (lock_fd >= 0) close(lock_fd); /* and the lock with it */
  if (ca_key) mbedtls_platform_zeroize(ca_key, strlen(ca_key));
  free(pem);
  free(list);
  free(old_pem);
  free(ca_key);
  free(ca_cert);
  mbedtls_x509_crl_free(&old);
  mbedtls_x509_crt_free(&target);
  mbedtls_x509_crt_free(&ca);
  return exit_code;
}
