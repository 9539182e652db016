/* bench_proof.c — what "a member speaks only for itself" costs a real node:
 * signing its own membership record (tls_prove, P-256 ECDSA) and checking
 * another's (tls_proof_check, with the certificate cached, and a first
 * sight that also verifies the certificate against the CA). Members sign
 * on start, refutation and leave; others check once per change they learn
 * (tests/sim's sim_*_verifies_* figures count those per node).
 *
 * Usage: bench_proof [--quick]. One JSON line per figure. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pki.h"
#include "swim.h"
#include "tls.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void figure(const char *name, double value, const char *unit,
                   int count) {
  printf("{\"name\":\"%s\",\"value\":%.1f,\"unit\":\"%s\",\"count\":%d,"
         "\"key\":\"P-256\"}\n",
         name, value, unit, count);
  fflush(stdout);
}

int main(int argc, char **argv) {
  int n = argc > 1 && strcmp(argv[1], "--quick") == 0 ? 20 : 2000;
  test_pki pki;
  if (pki_init(&pki) != 0) {
    fprintf(stderr, "bench_proof: pki_init failed\n");
    return 1;
  }
  tls_config *a = pki_tls(&pki, "node-a", PKI_GOOD);
  tls_config *b = pki_tls(&pki, "node-b", PKI_GOOD);
  if (!a || !b) {
    fprintf(stderr, "bench_proof: tls configs failed\n");
    return 1;
  }
  swim_update me;
  memset(&me, 0, sizeof(me));
  snprintf(me.name, sizeof(me.name), "node-a");
  snprintf(me.addr, sizeof(me.addr), "10.0.0.1:7946");
  me.epoch = 1765000000000ull;
  uint8_t rec[SWIM_RECORD_MAX], proof[SWIM_PROOF_MAX];
  size_t rec_len = 0, proof_len = 0;
  int rc = 0;

  double t0 = now_s();
  for (int i = 0; i < n && rc == 0; i++) {
    me.incarnation = (uint32_t)i;
    rec_len = swim_record_bytes(&me, rec);
    rc = tls_prove(a, rec, rec_len, proof, sizeof(proof), &proof_len);
  }
  double sign = now_s() - t0;
  if (rc != 0) {
    fprintf(stderr, "bench_proof: tls_prove: %d\n", rc);
    return 1;
  }
  /* The last proof, checked n times: the certificate is cached after the
   * first; a wrong byte must fail (a check that cannot fail measures
   * nothing). */
  int good = 0;
  t0 = now_s();
  for (int i = 0; i < n; i++)
    good += tls_proof_check(b, "node-a", rec, rec_len, proof, proof_len);
  double verify = now_s() - t0;
  rec[rec_len - 2] ^= 1;
  bool forged = tls_proof_check(b, "node-a", rec, rec_len, proof, proof_len);
  rec[rec_len - 2] ^= 1;
  /* First sight of a certificate: a fresh config each time. */
  int cold_n = n / 10 ? n / 10 : 1;
  double cold = 0;
  for (int i = 0; i < cold_n; i++) {
    tls_config *c = pki_tls(&pki, "node-c", PKI_GOOD);
    if (!c) return 1;
    t0 = now_s();
    good += tls_proof_check(c, "node-a", rec, rec_len, proof, proof_len);
    cold += now_s() - t0;
    tls_config_free(c);
  }
  if (good != n + cold_n || forged) {
    fprintf(stderr, "bench_proof: %d of %d proofs verified, forged %s\n",
            good, n + cold_n, forged ? "accepted" : "refused");
    return 1;
  }
  figure("proof_sign_per_s", n / sign, "signs/s", n);
  figure("proof_verify_per_s", n / verify, "verifies/s", n);
  figure("proof_verify_first_sight_us", cold / cold_n * 1e6, "us", cold_n);
  figure("proof_bytes", (double)proof_len, "bytes", 1);
  tls_config_free(a);
  tls_config_free(b);
  pki_free(&pki);
  return 0;
}
