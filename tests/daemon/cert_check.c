/* cert_check.c — checks the files `troupe cert` wrote (cert_test.sh):
 *   cert_check cluster DIR N1 N2 [refused]
 *                                  two cluster nodes in one process, from
 *                                  DIR/ca.pem and DIR/Nx.pem/.key, see each
 *                                  other alive (refused: they must not,
 *                                  within REFUSED_WAIT_MS)
 *   cert_check verify CA CERT NAME node|client|untrusted
 *                                  mbedTLS verifies CERT against CA for NAME
 *                                  with the extended key usage of the kind
 *                                  (untrusted: verification must fail)
 * Exit 0 when the check holds, 1 with a reason on stderr otherwise. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>

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

static int check_verify(const char *ca_path, const char *cert_path,
                        const char *name, const char *kind) {
  mbedtls_x509_crt ca, crt;
  mbedtls_x509_crt_init(&ca);
  mbedtls_x509_crt_init(&crt);
  int rc = 1, ret;
  uint32_t flags = 0;
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
  ret = mbedtls_x509_crt_verify(&crt, &ca, NULL, name, &flags, NULL, NULL);
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
  printf("cert_check: %s verifies for %s as a %s certificate\n", cert_path,
         name, kind);
  rc = 0;
out:
  mbedtls_x509_crt_free(&crt);
  mbedtls_x509_crt_free(&ca);
  return rc;
}

int main(int argc, char **argv) {
  if ((argc == 5 || (argc == 6 && strcmp(argv[5], "refused") == 0)) &&
      strcmp(argv[1], "cluster") == 0)
    return check_cluster(argv[2], argv[3], argv[4], argc == 6);
  if (argc == 6 && strcmp(argv[1], "verify") == 0 &&
      (strcmp(argv[5], "node") == 0 || strcmp(argv[5], "client") == 0 ||
       strcmp(argv[5], "viewer") == 0 || strcmp(argv[5], "untrusted") == 0))
    return check_verify(argv[2], argv[3], argv[4], argv[5]);
  fprintf(stderr, "usage: cert_check cluster DIR N1 N2 [refused]\n"
                  "       cert_check verify CA CERT NAME "
                  "node|client|viewer|untrusted\n");
  return 2;
}
