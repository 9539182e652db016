/* replay.c — a target's inputs without libFuzzer: runs every file named
 * on the command line (a directory: every file in it) through the
 * target's LLVMFuzzerTestOneInput once, so the corpora and every input
 * that once crashed stay regression tests in the plain and sanitizer
 * builds (ctest fuzz.replay.<target>). Exit 0 when all ran. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Targets without a start-up hook leave it undefined. */
#pragma weak LLVMFuzzerInitialize

static int replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: %s: cannot open\n", path);
    return 1;
  }
  size_t cap = 1 << 16, len = 0;
  uint8_t *buf = malloc(cap);
  size_t n;
  while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
    len += n;
    if (len == cap) {
      uint8_t *grown = realloc(buf, cap *= 2);
      if (!grown) free(buf);
      buf = grown;
    }
  }
  fclose(f);
  if (!buf) {
    fprintf(stderr, "replay: %s: out of memory\n", path);
    return 1;
  }
  /* A copy of exactly len bytes, so a read past the input is caught. */
  uint8_t *exact = malloc(len ? len : 1);
  if (exact) memcpy(exact, buf, len);
  free(buf);
  if (!exact) return 1;
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  return 0;
}

static int replay_dir(const char *dir, int *count) {
  struct dirent **names;
  int n = scandir(dir, &names, NULL, alphasort), bad = 0;
  if (n < 0) {
    fprintf(stderr, "replay: %s: cannot list\n", dir);
    return 1;
  }
  for (int i = 0; i < n; i++) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
    struct stat st;
    if (names[i]->d_name[0] != '.' && stat(path, &st) == 0 &&
        S_ISREG(st.st_mode)) {
      bad |= replay_file(path);
      (*count)++;
    }
    free(names[i]);
  }
  free(names);
  return bad;
}

int main(int argc, char **argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  int bad = 0, count = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
      bad |= replay_dir(argv[i], &count);
    } else {
      bad |= replay_file(argv[i]);
      count++;
    }
  }
  printf("replayed %d inputs\n", count);
  return bad || count == 0;
}
