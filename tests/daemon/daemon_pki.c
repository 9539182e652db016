/* daemon_pki.c — test helper: writes ca.pem, NAME.pem and NAME.key for
 * each NAME into DIR (tests/support/pki), for the daemon tests when
 * `troupe cert` is not available. Usage: daemon_pki DIR NAME... */
#include <stdio.h>

#include "pki.h"

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: daemon_pki DIR NAME...\n");
    return 2;
  }
  test_pki pki;
  if (pki_init(&pki) != 0) {
    fprintf(stderr, "daemon_pki: pki_init failed\n");
    return 1;
  }
  int rc = 0;
  for (int i = 2; i < argc && rc == 0; i++) {
    rc = pki_write_files(&pki, argv[1], argv[i]);
    if (rc != 0) fprintf(stderr, "daemon_pki: %s: %d\n", argv[i], rc);
  }
  pki_free(&pki);
  return rc == 0 ? 0 : 1;
}
