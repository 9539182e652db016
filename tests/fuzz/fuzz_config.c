/* fuzz_config.c — the config file of `troupe run` (--config FILE): the
 * input is the file, read by run_config_load as the daemon reads it (no
 * TROUPE_* variables, no other flags), then again for a SIGHUP. */
#define _GNU_SOURCE /* memfd_create */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

extern char **environ;

/* The file lives in memory (a memfd), named through /proc. */
static char fz_path[64];
static int fz_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  /* The environment is a layer of its own: keep only the file's. */
  for (int again = 1; again;) {
    again = 0;
    for (char **e = environ; *e; e++)
      if (strncmp(*e, "TROUPE_", 7) == 0) {
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(*e, "="), *e);
        unsetenv(name);
        again = 1;
        break;
      }
  }
  fz_fd = memfd_create("fuzz_config", 0);
  if (fz_fd < 0) exit(1);
  snprintf(fz_path, sizeof(fz_path), "/proc/self/fd/%d", fz_fd);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (ftruncate(fz_fd, 0) != 0 ||
      pwrite(fz_fd, data, size, 0) != (ssize_t)size)
    return 0;
  char *argv[] = {"run", "--config", fz_path, NULL};
  run_config cfg;
  char err[512];
  if (run_config_load(&cfg, 3, argv, err, sizeof(err)) != 0) return 0;
  tr_log_level level;
  (void)run_config_reload_log_level(&cfg, &level, err, sizeof(err));
  run_config_free(&cfg);
  return 0;
}
