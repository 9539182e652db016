/* cert_check.c — checks the files `troupe cert` wrote (cert_test.sh):
 *   cert_check cluster DIR N1 N2 [refused]
 *                                  two cluster nodes in one process, from
 *                                  DIR/ca.pem and DIR/Nx.pem/.key, see each
 *                                  other alive (refused: they must not,
 *                                  within REFUSED_WAIT_MS)
 *   cert_check verify CA CERT NAME node|client|viewer|untrusted|revoked [CRL]
 *                                  mbedTLS verifies CERT against CA for NAME
 *                                  with the extended key usage of the kind,
 *                                  and with the revocation list CRL if given
 *                                  (untrusted: verification must fail;
 *                                  revoked: it must fail for that reason
 *                                  alone, CRL required)
 *   cert_check crl CA CRL [DAYS]    CRL is one X.509 v2 list of CA: its issuer
 *                                  is CA's subject, its signature verifies,
 *                                  it is in date (and valid DAYS days from
 *                                  now, give or take one); prints
 *                                  "revoked SERIAL YYYYMMDDHHMMSSZ" per
 *                                  entry (its revocation date), in order
 *   cert_check serial CERT         prints CERT's serial number as "SERIAL"
 *   cert_check expired DIR NAME    writes DIR/NAME.pem and .key, a node
 *                                  certificate of DIR/ca.pem that expired a
 *                                  day ago (troupe cert makes none such)
 * SERIAL is upper-case hex, as openssl prints it. Exit 0 when the check
 * holds, 1 with a reason on stderr otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "certgen.h"
#include "troupe.h"

#define JOIN_WAIT_MS 20000
/* A good pair joins in well under a second (a 50 ms probe interval). */
#define REFUSED_WAIT_MS 3000

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void count_alive(void *arg, const tr_member *m) {
  if (m->state == TR_MEMBER_ALIVE) ++*(int *)arg;
}

static int alive_count(tr_node *n) {
  int alive = 0;
  tr_node_members(n, count_alive, &alive);
  return alive;
}

static int check_cluster(const char *dir, const char *n1, const char *n2,
                         int refused) {
  char ca[1024], cert[2][1024], key[2][1024];
  const char *names[2] = {n1, n2};
  snprintf(ca, sizeof ca, "%s/ca.pem", dir);
  for (int i = 0; i < 2; i++) {
    snprintf(cert[i], sizeof cert[i], "%s/%s.pem", dir, names[i]);
    snprintf(key[i], sizeof key[i], "%s/%s.key", dir, names[i]);
  }
  tr_node *node[2] = {NULL, NULL};
  int rc = 1;
  tr_node_config cfg = {
      .name = n1,
      .listen = "127.0.0.1:0",
      .ca_file = ca,
      .cert_file = cert[0],
      .key_file = key[0],
      .probe_interval_ms = 50,
      .probe_timeout_ms = 40,
  };
  int r = tr_node_new(&node[0], &cfg);
  if (r != 0) {
    fprintf(stderr, "cert_check: node %s: %s\n", n1, tr_strerror(r));
    goto out;
  }
  /* Its address as peers dial it (the port was picked at listen). */
  const char *addr = tr_node_address(node[0]);
  if (!addr || !addr[0]) {
    fprintf(stderr, "cert_check: %s has no address\n", n1);
    goto out;
  }
  const char *seeds[1] = {addr};
  cfg.name = n2;
  cfg.cert_file = cert[1];
  cfg.key_file = key[1];
  cfg.seeds = seeds;
  cfg.nseeds = 1;
  if ((r = tr_node_new(&node[1], &cfg)) != 0) {
    /* A certificate that is not a node certificate for n2 is refused by
     * n2 itself, before any peer sees it. */
    if (refused && r == TR_EINVAL) {
      printf("cert_check: %s refused to start with that certificate\n", n2);
      rc = 0;
      goto out;
    }
    fprintf(stderr, "cert_check: node %s: %s\n", n2, tr_strerror(r));
    goto out;
  }
  /* Each run_once waits at most until the node's next timer (a probe
   * every 50 ms), so alternating cannot starve either node for long. */
  long start = now_ms(), wait = refused ? REFUSED_WAIT_MS : JOIN_WAIT_MS;
  while (now_ms() - start < wait) {
    tr_node_run_once(node[0]);
    tr_node_run_once(node[1]);
    if (alive_count(node[0]) == 2 || alive_count(node[1]) == 2) {
      if (refused) {
        fprintf(stderr, "cert_check: %s and %s joined, but must not\n", n1,
                n2);
        goto out;
      }
      if (alive_count(node[0]) == 2 && alive_count(node[1]) == 2) {
        printf("cert_check: %s and %s see each other alive after %ld ms\n",
               n1, n2, now_ms() - start);
        rc = 0;
        goto out;
      }
    }
  }
  if (refused) {
    printf("cert_check: %s and %s did not join in %ld ms, as they must not\n",
           n1, n2, wait);
    rc = 0;
    goto out;
  }
  fprintf(stderr, "cert_check: no 2-member cluster within %ld ms (%s sees %d "
                  "alive, %s sees %d)\n", wait, n1,
          alive_count(node[0]), n2, alive_count(node[1]));
out:
  tr_node_free(node[1]);
  tr_node_free(node[0]);
  return rc;
}

static int has_eku(const mbedtls_x509_crt *c, const char *oid, size_t len) {
  return mbedtls_x509_crt_check_extended_key_usage(c, oid, len) == 0;
}

static void print_serial(const char *prefix, const mbedtls_x509_buf *s) {
  fputs(prefix, stdout);
  for (size_t i = 0; i < s->len; i++) printf("%02X", s->p[i]);
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

static int check_verify(const char *ca_path, const char *cert_path,
                        const char *name, const char *kind,
                        const char *crl_path) {
  mbedtls_x509_crt ca, crt;
  mbedtls_x509_crl crl;
  mbedtls_x509_crt_init(&ca);
  mbedtls_x509_crt_init(&crt);
  mbedtls_x509_crl_init(&crl);
  int rc = 1, ret;
  uint32_t flags = 0;
  if (crl_path && (ret = mbedtls_x509_crl_parse_file(&crl, crl_path)) != 0) {
    fprintf(stderr, "cert_check: %s does not parse as a CRL (-0x%04x)\n",
            crl_path, (unsigned)-ret);
    goto out;
  }
  if ((ret = mbedtls_x509_crt_parse_file(&ca, ca_path)) != 0) {
    fprintf(stderr, "cert_check: %s does not parse (-0x%04x)\n", ca_path,
            (unsigned)-ret);
    goto out;
  }
  if ((ret = mbedtls_x509_crt_parse_file(&crt, cert_path)) != 0) {
    fprintf(stderr, "cert_check: %s does not parse (-0x%04x)\n", cert_path,
            (unsigned)-ret);
    goto out;
  }
  /* cn: mbedTLS matches it against the DNS SANs (or the CN without any). */
  ret = mbedtls_x509_crt_verify(&crt, &ca, crl_path ? &crl : NULL, name,
                                &flags, NULL, NULL);
  if (strcmp(kind, "revoked") == 0) {
    if (ret != MBEDTLS_ERR_X509_CERT_VERIFY_FAILED ||
        flags != MBEDTLS_X509_BADCERT_REVOKED) {
      char why[256] = "";
      mbedtls_x509_crt_verify_info(why, sizeof why, "", flags);
      fprintf(stderr, "cert_check: %s against %s with %s: -0x%04x, flags "
                      "0x%x, want revoked alone: %s\n", cert_path, ca_path,
              crl_path, (unsigned)-ret, (unsigned)flags, why);
      goto out;
    }
    printf("cert_check: %s refused as revoked by %s\n", cert_path, crl_path);
    rc = 0;
    goto out;
  }
  if (strcmp(kind, "untrusted") == 0) {
    if (ret == 0) {
      fprintf(stderr, "cert_check: %s verified against %s, but must not\n",
              cert_path, ca_path);
      goto out;
    }
    printf("cert_check: %s refused by %s (flags 0x%x)\n", cert_path, ca_path,
           (unsigned)flags);
    rc = 0;
    goto out;
  }
  if (ret != 0) {
    char why[256];
    mbedtls_x509_crt_verify_info(why, sizeof why, "", flags);
    fprintf(stderr, "cert_check: %s does not verify for %s: %s", cert_path,
            name, why);
    goto out;
  }
  if (!ca.ca_istrue || crt.ca_istrue) {
    fprintf(stderr, "cert_check: CA flags wrong (ca %d, cert %d)\n",
            ca.ca_istrue, crt.ca_istrue);
    goto out;
  }
  int client = has_eku(&crt, MBEDTLS_OID_CLIENT_AUTH,
                       MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH));
  int server = has_eku(&crt, MBEDTLS_OID_SERVER_AUTH,
                       MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH));
  int want_server = strcmp(kind, "node") == 0;
  if (!(crt.ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE) || !client ||
      server != want_server) {
    fprintf(stderr, "cert_check: %s: extended key usage clientAuth=%d "
                    "serverAuth=%d, want 1 and %d\n", cert_path, client,
            server, want_server);
    goto out;
  }
  /* The role, in the subject's OU: node, operator (a client) or viewer. */
  const char *want_role = strcmp(kind, "client") == 0 ? "operator" : kind;
  int role_ok = 0;
  for (const mbedtls_x509_name *a = &crt.subject; a; a = a->next)
    if (a->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_ORG_UNIT, &a->oid) == 0)
      role_ok = a->val.len == strlen(want_role) &&
                memcmp(a->val.p, want_role, a->val.len) == 0;
  if (!role_ok) {
    fprintf(stderr, "cert_check: %s: no role %s (subject OU)\n", cert_path,
            want_role);
    goto out;
  }
  printf("cert_check: %s verifies for %s as a %s certificate%s%s\n",
         cert_path, name, kind, crl_path ? " with " : "",
         crl_path ? crl_path : "");
  rc = 0;
out:
  mbedtls_x509_crl_free(&crl);
  mbedtls_x509_crt_free(&crt);
  mbedtls_x509_crt_free(&ca);
  return rc;
}

/* Checks the list the way a node's mbedTLS does (x509_crt_verifycrl), but
 * says which part failed. days < 0: any validity. */
static int check_crl(const char *ca_path, const char *crl_path, long days) {
  mbedtls_x509_crt ca;
  mbedtls_x509_crl crl;
  mbedtls_x509_crt_init(&ca);
  mbedtls_x509_crl_init(&crl);
  unsigned char hash[MBEDTLS_MD_MAX_SIZE];
  int rc = 1, ret;
  if ((ret = mbedtls_x509_crt_parse_file(&ca, ca_path)) != 0) {
    fprintf(stderr, "cert_check: %s does not parse (-0x%04x)\n", ca_path,
            (unsigned)-ret);
    goto out;
  }
  if ((ret = mbedtls_x509_crl_parse_file(&crl, crl_path)) != 0) {
    fprintf(stderr, "cert_check: %s does not parse as a CRL (-0x%04x)\n",
            crl_path, (unsigned)-ret);
    goto out;
  }
  if (crl.next || crl.version != 2) {
    fprintf(stderr, "cert_check: %s: want one v2 list, not %s v%d\n",
            crl_path, crl.next ? "several, the first" : "one", crl.version);
    goto out;
  }
  if (crl.issuer_raw.len != ca.subject_raw.len ||
      memcmp(crl.issuer_raw.p, ca.subject_raw.p, crl.issuer_raw.len) != 0) {
    fprintf(stderr, "cert_check: %s: issuer is not %s's subject\n", crl_path,
            ca_path);
    goto out;
  }
  const mbedtls_md_info_t *md = mbedtls_md_info_from_type(crl.sig_md);
  if (crl.sig_md != MBEDTLS_MD_SHA256 || crl.sig_pk != MBEDTLS_PK_ECDSA ||
      !md || mbedtls_md(md, crl.tbs.p, crl.tbs.len, hash) != 0 ||
      mbedtls_pk_verify_ext(crl.sig_pk, crl.sig_opts, &ca.pk, crl.sig_md,
                            hash, mbedtls_md_get_size(md), crl.sig.p,
                            crl.sig.len) != 0) {
    fprintf(stderr, "cert_check: %s: no ECDSA SHA-256 signature of %s\n",
            crl_path, ca_path);
    goto out;
  }
  if (mbedtls_x509_time_is_future(&crl.this_update) ||
      mbedtls_x509_time_is_past(&crl.next_update)) {
    fprintf(stderr, "cert_check: %s: not in date (this update %04d-%02d-%02d,"
                    " next update %04d-%02d-%02d)\n", crl_path,
            crl.this_update.year, crl.this_update.mon, crl.this_update.day,
            crl.next_update.year, crl.next_update.mon, crl.next_update.day);
    goto out;
  }
  long left = (long)((x509_time_t(&crl.next_update) - time(NULL)) / 86400);
  if (days >= 0 && left != days && left != days - 1) {
    fprintf(stderr, "cert_check: %s: valid %ld more days, want %ld\n",
            crl_path, left, days);
    goto out;
  }
  size_t n = 0;
  for (const mbedtls_x509_crl_entry *e = &crl.entry; e && e->serial.len;
       e = e->next, n++) {
    const mbedtls_x509_time *t = &e->revocation_date;
    print_serial("revoked ", &e->serial);
    printf(" %04d%02d%02d%02d%02d%02dZ\n", t->year, t->mon, t->day, t->hour,
           t->min, t->sec);
  }
  fprintf(stderr, "cert_check: %s is %s's list: %zu revoked, %ld more days\n",
          crl_path, ca_path, n, left);
  rc = 0;
out:
  mbedtls_x509_crl_free(&crl);
  mbedtls_x509_crt_free(&ca);
  return rc;
}

static int print_cert_serial(const char *cert_path) {
  mbedtls_x509_crt crt;
  mbedtls_x509_crt_init(&crt);
  int ret = mbedtls_x509_crt_parse_file(&crt, cert_path);
  if (ret != 0) {
    fprintf(stderr, "cert_check: %s does not parse (-0x%04x)\n", cert_path,
            (unsigned)-ret);
  } else {
    print_serial("", &crt.serial);
    putchar('\n');
  }
  mbedtls_x509_crt_free(&crt);
  return ret == 0 ? 0 : 1;
}

/* The certificate's subject, one line ("CN=troupe-ca-prod, O=troupe"). */
static int print_cert_subject(const char *cert_path) {
  mbedtls_x509_crt crt;
  mbedtls_x509_crt_init(&crt);
  int ret = mbedtls_x509_crt_parse_file(&crt, cert_path);
  char dn[512];
  if (ret == 0 && mbedtls_x509_dn_gets(dn, sizeof(dn), &crt.subject) > 0)
    printf("%s\n", dn);
  else
    fprintf(stderr, "cert_check: %s does not parse (-0x%04x)\n", cert_path,
            (unsigned)-ret);
  mbedtls_x509_crt_free(&crt);
  return ret == 0 ? 0 : 1;
}

static int write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  int ok = fputs(text, f) >= 0;
  return fclose(f) == 0 && ok ? 0 : -1;
}

/* Reads a small PEM file whole; NULL if it cannot. */
static char *read_text(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  char *buf = calloc(1, 16384);
  size_t n = buf ? fread(buf, 1, 16383, f) : 0;
  fclose(f);
  if (buf && n == 0) {
    free(buf);
    buf = NULL;
  }
  return buf;
}

static int make_expired(const char *dir, const char *name) {
  char path[1024];
  char *ca_cert = NULL, *ca_key = NULL, *key = NULL, *cert = NULL;
  int rc = 1, r = 0;
  snprintf(path, sizeof path, "%s/ca.pem", dir);
  ca_cert = read_text(path);
  snprintf(path, sizeof path, "%s/ca.key", dir);
  ca_key = read_text(path);
  time_t now = time(NULL);
  const char *dns[1] = {name};
  certgen_req req = {.cn = name, .dns = dns, .ndns = 1, .role = "node",
                     .not_before = now - 2 * 86400,
                     .not_after = now - 86400};
  if (!ca_cert || !ca_key) {
    fprintf(stderr, "cert_check: no CA in %s\n", dir);
    goto out;
  }
  if ((r = certgen_key(&key)) != 0 ||
      (r = certgen_cert(&req, key, ca_cert, ca_key, &cert)) != 0) {
    fprintf(stderr, "cert_check: cannot make %s: %s\n", name,
            tr_strerror(r));
    goto out;
  }
  snprintf(path, sizeof path, "%s/%s.key", dir, name);
  if (write_text(path, key) != 0) goto out;
  snprintf(path, sizeof path, "%s/%s.pem", dir, name);
  if (write_text(path, cert) != 0) goto out;
  printf("cert_check: %s, expired a day ago\n", path);
  rc = 0;
out:
  free(cert);
  free(key);
  free(ca_key);
  free(ca_cert);
  return rc;
}

static int is_kind(const char *k) {
  static const char *const kinds[] = {"node", "client", "viewer",
                                      "untrusted", "revoked"};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (strcmp(k, kinds[i]) == 0) return 1;
  return 0;
}

int main(int argc, char **argv) {
  if ((argc == 5 || (argc == 6 && strcmp(argv[5], "refused") == 0)) &&
      strcmp(argv[1], "cluster") == 0)
    return check_cluster(argv[2], argv[3], argv[4], argc == 6);
  if ((argc == 6 || argc == 7) && strcmp(argv[1], "verify") == 0 &&
      is_kind(argv[5]) && (argc == 7 || strcmp(argv[5], "revoked") != 0))
    return check_verify(argv[2], argv[3], argv[4], argv[5],
                        argc == 7 ? argv[6] : NULL);
  if ((argc == 4 || argc == 5) && strcmp(argv[1], "crl") == 0)
    return check_crl(argv[2], argv[3], argc == 5 ? atol(argv[4]) : -1);
  if (argc == 3 && strcmp(argv[1], "serial") == 0)
    return print_cert_serial(argv[2]);
  if (argc == 3 && strcmp(argv[1], "subject") == 0)
    return print_cert_subject(argv[2]);
  if (argc == 4 && strcmp(argv[1], "expired") == 0)
    return make_expired(argv[2], argv[3]);
  fprintf(stderr, "usage: cert_check cluster DIR N1 N2 [refused]\n"
                  "       cert_check verify CA CERT NAME "
                  "node|client|viewer|untrusted|revoked [CRL]\n"
                  "       cert_check crl CA CRL [DAYS]\n"
                  "       cert_check serial CERT\n"
                  "       cert_check subject CERT\n"
                  "       cert_check expired DIR NAME\n");
  return 2;
}
