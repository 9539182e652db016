/* pki.c — see pki.h. */
#include "pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/x509_crt.h>

#include "certgen.h"

static int make_ca(const char *cn, char **cert, char **key) {
  if (certgen_key(key) != 0) return -1;
  certgen_req r = {.cn = cn, .is_ca = 1};
  return certgen_cert(&r, *key, NULL, NULL, cert);
}

int pki_init(test_pki *p) {
  memset(p, 0, sizeof(*p));
  if (make_ca("troupe test CA", &p->ca_cert, &p->ca_key) != 0) return -1;
  if (make_ca("foreign CA", &p->other_cert, &p->other_key) != 0) return -1;
  return 0;
}

void pki_free(test_pki *p) {
  free(p->ca_cert);
  free(p->ca_key);
  free(p->other_cert);
  free(p->other_key);
  memset(p, 0, sizeof(*p));
}

int pki_node(test_pki *p, const char *name, pki_kind kind, char **cert,
             char **key) {
  if (certgen_key(key) != 0) return -1;
  const char *dns[] = {name, "localhost"};
  const char *ips[] = {"127.0.0.1"};
  certgen_req r = {.cn = name, .dns = dns, .ndns = 2, .ips = ips, .nips = 1,
                   .role = kind == PKI_NO_ROLE ? NULL : "node"};
  if (kind == PKI_EXPIRED) {
    time_t now = time(NULL);
    r.not_before = now - 30 * 86400;
    r.not_after = now - 86400;
  }
  const char *icert = kind == PKI_OTHER_CA ? p->other_cert : p->ca_cert;
  const char *ikey = kind == PKI_OTHER_CA ? p->other_key : p->ca_key;
  return certgen_cert(&r, *key, icert, ikey, cert);
}

tls_config *pki_tls(test_pki *p, const char *name, pki_kind kind) {
  char *cert = NULL, *key = NULL;
  tls_config *cfg = NULL;
  if (pki_node(p, name, kind, &cert, &key) == 0) {
    tls_config_opts o = {.ca_pem = p->ca_cert, .cert_pem = cert,
                         .key_pem = key};
    char err[256];
    if (tls_config_new(&cfg, &o, err, sizeof(err)) != 0) {
      fprintf(stderr, "pki_tls(%s): %s\n", name, err);
      cfg = NULL;
    }
  }
  free(cert);
  free(key);
  return cfg;
}

static int write_file(const char *dir, const char *file, const char *text) {
  char path[1024];
  snprintf(path, sizeof(path), "%s/%s", dir, file);
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  int ok = fputs(text, f) >= 0;
  return fclose(f) == 0 && ok ? 0 : -1;
}

/* Writes FILE.pem and FILE.key into dir. */
static int write_pair(const char *dir, const char *file, const char *cert,
                      const char *key) {
  char f[300];
  snprintf(f, sizeof(f), "%s.pem", file);
  int rc = write_file(dir, f, cert);
  snprintf(f, sizeof(f), "%s.key", file);
  return rc == 0 ? write_file(dir, f, key) : rc;
}

int pki_write_client_files(test_pki *p, const char *dir, const char *file,
                           const char *cn, pki_kind kind, const char *role) {
  char *cert = NULL, *key = NULL;
  int rc = certgen_key(&key);
  certgen_req r = {.cn = cn, .is_client = 1, .role = role};
  const char *icert = kind == PKI_OTHER_CA ? p->other_cert : p->ca_cert;
  const char *ikey = kind == PKI_OTHER_CA ? p->other_key : p->ca_key;
  if (rc == 0) rc = certgen_cert(&r, key, icert, ikey, &cert);
  if (rc == 0) rc = write_pair(dir, file, cert, key);
  if (rc == 0) rc = write_file(dir, "other-ca.pem", p->other_cert);
  free(cert);
  free(key);
  return rc;
}

int pki_write_node_files(test_pki *p, const char *dir, const char *name,
                         pki_kind kind) {
  char *cert = NULL, *key = NULL;
  int rc = pki_node(p, name, kind, &cert, &key);
  if (rc == 0) rc = write_pair(dir, name, cert, key);
  free(cert);
  free(key);
  return rc;
}

int pki_write_files(test_pki *p, const char *dir, const char *name) {
  int rc = write_file(dir, "ca.pem", p->ca_cert);
  return rc == 0 ? pki_write_node_files(p, dir, name, PKI_GOOD) : rc;
}

int pki_write_crl(test_pki *p, const char *dir, const char *const *names,
                  size_t n) {
  mbedtls_x509_crt *crts = calloc(n ? n : 1, sizeof(*crts));
  certgen_revoked *list = calloc(n ? n : 1, sizeof(*list));
  int rc = crts && list ? 0 : -1;
  time_t now = time(NULL);
  for (size_t i = 0; i < n; i++) mbedtls_x509_crt_init(&crts[i]);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s.pem", dir, names[i]);
    rc = mbedtls_x509_crt_parse_file(&crts[i], path) == 0 ? 0 : -1;
    list[i] = (certgen_revoked){.serial = crts[i].serial.p,
                                .serial_len = crts[i].serial.len,
                                .when = now - 1};
  }
  char *crl = NULL;
  if (rc == 0)
    rc = certgen_crl(p->ca_cert, p->ca_key, list, n, now - 60,
                     now + 10 * 86400, &crl);
  /* Written whole, then renamed: a node reloading never reads half. */
  if (rc == 0) rc = write_file(dir, "crl.pem.tmp", crl);
  if (rc == 0) {
    char from[1024], to[1024];
    snprintf(from, sizeof(from), "%s/crl.pem.tmp", dir);
    snprintf(to, sizeof(to), "%s/crl.pem", dir);
    rc = rename(from, to) == 0 ? 0 : -1;
  }
  for (size_t i = 0; crts && i < n; i++) mbedtls_x509_crt_free(&crts[i]);
  free(crts);
  free(list);
  free(crl);
  return rc;
}
