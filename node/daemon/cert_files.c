/* cert_files.c — see cert_files.h. */
#include "cert_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"

/* Reads a whole PEM file into a NUL-terminated malloc'd string. 0, or an
 * errno value (ENOMEM included). */
int cert_read_text(const char *path, char **out) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return errno;
  char *buf = NULL;
  size_t len = 0, cap = 0;
  int rc = 0;
  for (;;) {
    if (cap - len < 4096) {
      if (cap > (1u << 20)) { /* no PEM certificate or key is 1 MiB */
        rc = EFBIG;
        goto out;
      }
      char *nb = realloc(buf, cap + 8192);
      if (!nb) {
        rc = ENOMEM;
        goto out;
      }
      buf = nb;
      cap += 8192;
    }
    size_t n = fread(buf + len, 1, cap - len - 1, f);
    len += n;
    if (n == 0) break;
  }
  if (ferror(f)) {
    rc = EIO;
    goto out;
  }
  buf[len] = '\0';
  *out = buf;
  buf = NULL;
out:
  free(buf);
  fclose(f);
  return rc;
}

int cert_path_join(char *out, size_t cap, const char *dir, const char *name,
                     const char *ext) {
  int n = snprintf(out, cap, "%s/%s%s", dir, name, ext);
  return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* Writes data to a new temp file next to o->path (same directory, so the
 * rename is atomic), with mode `mode`, flushed to disk. 0, or errno. */
int cert_write_temp(cert_out *o, const char *dir, const char *data,
                      mode_t mode) {
  const char *base = strrchr(o->path, '/');
  base = base ? base + 1 : o->path;
  if (snprintf(o->tmp, sizeof(o->tmp), "%s/.%s.tmp.XXXXXX", dir, base) >=
      (int)sizeof(o->tmp))
    return ENAMETOOLONG;
  /* mkstemp creates the file 0600 before anything is written in it, so a
   * key is never readable by others, not even for a moment. */
  int fd = mkstemp(o->tmp);
  if (fd < 0) return errno;
  o->written = 1;
  int err = 0;
  size_t len = strlen(data), off = 0;
  while (off < len) {
    ssize_t n = write(fd, data + off, len - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    off += (size_t)n;
  }
  if (!err && fchmod(fd, mode) != 0) err = errno;
  if (!err && fsync(fd) != 0) err = errno;
  if (close(fd) != 0 && !err) err = errno;
  return err;
}

/* Moves the temp file to its place. Without force, link(2) makes the
 * "does not exist yet" check and the placing one step, so a file created
 * since the first check is not overwritten either. 0, or errno. */
int cert_place(cert_out *o, int force) {
  if (force) {
    if (rename(o->tmp, o->path) != 0) return errno;
  } else {
    if (link(o->tmp, o->path) != 0) return errno;
    unlink(o->tmp);
  }
  o->written = 0;
  o->placed = 1;
  return 0;
}

void cert_fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  (void)fsync(fd);
  close(fd);
}

int cert_read_ca(const char *pem_path, const char *key_path, char **cert,
                 char **key) {
  const char *paths[2] = {pem_path, key_path};
  char **texts[2] = {cert, key};
  for (int i = 0; i < 2; i++) {
    int r = cert_read_text(paths[i], texts[i]);
    if (r == ENOMEM) {
      fprintf(stderr, "troupe cert: out of memory\n");
      return TROUPE_EXIT_ERROR;
    }
    if (r != 0) {
      fprintf(stderr, "troupe cert: %s: %s%s\n", paths[i], strerror(r),
              r == ENOENT ? " (make the CA first: troupe cert ca)" : "");
      return TROUPE_EXIT_USAGE;
    }
  }
  return TROUPE_EXIT_OK;
}
