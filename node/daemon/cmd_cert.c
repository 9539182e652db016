/* cmd_cert.c — `troupe cert ca|node|client`: the cluster's private CA and
 * the certificates signed by it (ECDSA P-256, through transport/tls's
 * certgen), written so that no file is overwritten by accident and a crash
 * never leaves half a key. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>

#include "certgen.h"
#include "daemon.h"
#include "troupe.h"

#define CERT_SYNOPSIS                                                     \
  "usage: troupe cert ca [--dir DIR] [--days N] [--force]\n"               \
  "       troupe cert node NAME [--dns NAME]... [--ip ADDR]... [flags]\n"  \
  "       troupe cert client NAME [--role operator|viewer] [--dns NAME]...\n" \
  "                          [--ip ADDR]... [flags]\n"

static const char cert_usage[] =
    CERT_SYNOPSIS
    "\n"
    "Makes the cluster's certificates (ECDSA P-256):\n"
    "  ca           DIR/ca.pem and DIR/ca.key, a self-signed CA [10 years]\n"
    "  node NAME    DIR/NAME.pem and DIR/NAME.key for the node named NAME\n"
    "               (CN and DNS name NAME, role node: server and client use;\n"
    "               it may link only as NAME) [825 days]\n"
    "  client NAME  the same for an operator of the troupe verbs (client use\n"
    "               only: it never links as a node) [825 days], with a role:\n"
    "               operator (every verb) or viewer (members, actors, stats,\n"
    "               health, sub: it may only read) [operator]\n"
    "node and client certificates are signed with DIR/ca.pem and DIR/ca.key.\n"
    "NAME is 1 to 64 of A-Z a-z 0-9 . _ - (not starting with . or -).\n"
    "\n"
    "flags:\n"
    "  --dir DIR     where the files are read and written [certs]\n"
    "  --days N      validity in days, 1 to 36500\n"
    "  --dns NAME    one more DNS name in the certificate (repeatable)\n"
    "  --ip ADDR     an IPv4 or IPv6 address in the certificate (repeatable)\n"
    "  --role ROLE   client: operator or viewer [operator]\n"
    "  --force       replace files that exist\n"
    "\n"
    "Keys are written with mode 0600. Keep ca.key off the nodes: it is only\n"
    "needed to make certificates.\n"
    "\n"
    "exit status: 0 written; 1 a file could not be written or a certificate\n"
    "not made; 2 bad flags, a file that exists (without --force), or a\n"
    "missing or unusable CA.\n";

#define CERT_NAME_MAX 64 /* a CN's upper bound (RFC 5280) */
#define CERT_DAYS_MAX 36500
#define CERT_CA_DAYS 3650
#define CERT_LEAF_DAYS 825
#define CERT_BACKDATE_S 3600 /* not-before = now - 1 h: clocks disagree */
#define CERT_MAX_SANS 32
#define CERT_CA_CN "troupe-ca"

typedef enum { CERT_CA, CERT_NODE, CERT_CLIENT } cert_kind;

typedef struct cert_cli {
  cert_kind kind;
  const char *name; /* node/client; NULL for the CA */
  const char *dir;
  unsigned days; /* 0: the kind's default */
  int force;
  const char *dns[CERT_MAX_SANS + 1]; /* +1: the name itself */
  size_t ndns;
  const char *ips[CERT_MAX_SANS];
  size_t nips;
  const char *role; /* client: operator or viewer */
} cert_cli;

/* One file to publish: its final path and the temp file holding it. */
typedef struct cert_out {
  char path[4096];
  char tmp[4096];
  int written; /* tmp exists */
  int placed;  /* path now holds our bytes */
} cert_out;

static int name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > CERT_NAME_MAX || s[0] == '.' || s[0] == '-') return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return 0;
  }
  return 1;
}

/* A DNS SAN: printable ASCII without spaces, at most 253 bytes (certgen's
 * own rule, checked here so the message can name the flag). */
static int dns_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 253) return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] > 0x7e) return 0;
  return 1;
}

static int ip_ok(const char *s) {
  unsigned char b[16];
  return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* "troupe cert: <why>", then the usage; returns the usage exit status. */
__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("troupe cert: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs("\n" CERT_SYNOPSIS "(troupe cert --help for more)\n", stderr);
  return TROUPE_EXIT_USAGE;
}

/* Parses argv (argv[0] is "cert") into c. Returns -1 to go on, or the exit
 * status. */
static int cert_parse(int argc, char **argv, cert_cli *c) {
  memset(c, 0, sizeof(*c));
  c->dir = "certs";
  if (argc < 2) return usage_error("which certificate: ca, node or client?");
  if (strcmp(argv[1], "ca") == 0)
    c->kind = CERT_CA;
  else if (strcmp(argv[1], "node") == 0)
    c->kind = CERT_NODE;
  else if (strcmp(argv[1], "client") == 0)
    c->kind = CERT_CLIENT;
  else
    return usage_error("unknown kind '%s' (ca, node or client)", argv[1]);

  int flags = 1;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (flags && strcmp(a, "--") == 0) {
      flags = 0;
      continue;
    }
    if (!flags || a[0] != '-' || a[1] == '\0') {
      if (c->kind == CERT_CA || c->name)
        return usage_error("unexpected argument '%s'", a);
      c->name = a;
      continue;
    }
    if (strcmp(a, "--force") == 0) {
      c->force = 1;
      continue;
    }
    static const char *const named[] = {"--dir", "--days", "--dns", "--ip",
                                        "--role"};
    size_t nnamed = sizeof(named) / sizeof(named[0]), which = nnamed;
    const char *val = NULL;
    for (size_t j = 0; j < nnamed; j++) {
      size_t n = strlen(named[j]);
      if (strncmp(a, named[j], n) != 0) continue;
      if (a[n] == '=') {
        val = a + n + 1;
      } else if (a[n] == '\0') {
        if (i + 1 >= argc) return usage_error("%s needs a value", a);
        val = argv[++i];
      } else {
        continue;
      }
      which = j;
      break;
    }
    if (which == nnamed || (c->kind == CERT_CA && which >= 2) ||
        (c->kind != CERT_CLIENT && which == 4))
      return usage_error("unknown flag '%s'", a);
    switch (which) {
    case 0:
      if (!val[0]) return usage_error("--dir wants a directory");
      c->dir = val;
      break;
    case 1: {
      char *end;
      errno = 0;
      unsigned long d = strtoul(val, &end, 10);
      if (!val[0] || *end || val[0] == '-' || errno || d == 0 ||
          d > CERT_DAYS_MAX)
        return usage_error("--days wants 1 to 36500, not '%s'", val);
      c->days = (unsigned)d;
      break;
    }
    case 2:
      if (!dns_ok(val)) return usage_error("--dns: bad name '%s'", val);
      if (c->ndns >= CERT_MAX_SANS)
        return usage_error("too many --dns (at most %d)", CERT_MAX_SANS);
      c->dns[c->ndns++] = val;
      break;
    case 4:
      if (strcmp(val, "operator") != 0 && strcmp(val, "viewer") != 0)
        return usage_error("--role wants operator or viewer, not '%s'", val);
      c->role = val;
      break;
    default:
      if (!ip_ok(val))
        return usage_error("--ip wants an IPv4 or IPv6 address, not '%s'",
                           val);
      if (c->nips >= CERT_MAX_SANS)
        return usage_error("too many --ip (at most %d)", CERT_MAX_SANS);
      c->ips[c->nips++] = val;
      break;
    }
  }
  if (c->kind != CERT_CA) {
    if (!c->name) return usage_error("NAME is missing");
    if (!name_ok(c->name))
      return usage_error("bad NAME '%s': 1 to 64 of A-Z a-z 0-9 . _ - "
                         "(not starting with . or -)", c->name);
    /* ca.pem/ca.key are the CA's; a node named "ca" would replace them. */
    if (strcmp(c->name, "ca") == 0)
      return usage_error("NAME '%s' is taken by the CA's files", c->name);
  }
  return -1;
}

/* Reads a whole PEM file into a NUL-terminated malloc'd string. 0, or an
 * errno value (ENOMEM included). */
static int read_text(const char *path, char **out) {
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

static int path_join(char *out, size_t cap, const char *dir, const char *name,
                     const char *ext) {
  int n = snprintf(out, cap, "%s/%s%s", dir, name, ext);
  return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* Writes data to a new temp file next to o->path (same directory, so the
 * rename is atomic), with mode `mode`, flushed to disk. 0, or errno. */
static int write_temp(cert_out *o, const char *dir, const char *data,
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
static int place(cert_out *o, int force) {
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

static void fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  (void)fsync(fd);
  close(fd);
}

static const char *kind_name(cert_kind k) {
  return k == CERT_CA ? "CA" : k == CERT_NODE ? "node" : "client";
}

int cmd_cert(int argc, char **argv) {
  if (daemon_help_or_version(argc, argv, cert_usage)) return TROUPE_EXIT_OK;
  cert_cli c;
  int rc = cert_parse(argc, argv, &c);
  if (rc >= 0) return rc;

  const char *stem = c.kind == CERT_CA ? "ca" : c.name;
  cert_out out[2]; /* [0] the certificate, [1] its key */
  memset(out, 0, sizeof(out));
  char ca_pem_path[4096], ca_key_path[4096];
  char *ca_cert = NULL, *ca_key = NULL, *key = NULL, *cert = NULL;
  int exit_code = TROUPE_EXIT_ERROR;

  if (path_join(out[0].path, sizeof(out[0].path), c.dir, stem, ".pem") ||
      path_join(out[1].path, sizeof(out[1].path), c.dir, stem, ".key") ||
      path_join(ca_pem_path, sizeof(ca_pem_path), c.dir, "ca", ".pem") ||
      path_join(ca_key_path, sizeof(ca_key_path), c.dir, "ca", ".key")) {
    fprintf(stderr, "troupe cert: --dir %s: path too long\n", c.dir);
    return TROUPE_EXIT_USAGE;
  }

  /* Refuse before doing any work; place() checks again, atomically. */
  for (int i = 0; i < 2 && !c.force; i++) {
    struct stat st;
    if (lstat(out[i].path, &st) == 0) {
      fprintf(stderr, "troupe cert: %s exists; use --force to replace it\n",
              out[i].path);
      return TROUPE_EXIT_USAGE;
    }
  }

  if (c.kind == CERT_CA) {
    if (mkdir(c.dir, 0755) != 0 && errno != EEXIST) {
      fprintf(stderr, "troupe cert: cannot create %s: %s\n", c.dir,
              strerror(errno));
      return TROUPE_EXIT_ERROR;
    }
  } else {
    const char *paths[2] = {ca_pem_path, ca_key_path};
    char **texts[2] = {&ca_cert, &ca_key};
    for (int i = 0; i < 2; i++) {
      int r = read_text(paths[i], texts[i]);
      if (r == ENOMEM) {
        fprintf(stderr, "troupe cert: out of memory\n");
        goto out;
      }
      if (r != 0) {
        fprintf(stderr, "troupe cert: %s: %s%s\n", paths[i], strerror(r),
                r == ENOENT ? " (make the CA first: troupe cert ca)" : "");
        exit_code = TROUPE_EXIT_USAGE;
        goto out;
      }
    }
  }

  /* The name is always in the certificate twice: as CN and as DNS name,
   * since peers check a node's claimed name against either. */
  certgen_req req = {0};
  if (c.kind == CERT_CA) {
    req.cn = CERT_CA_CN;
    req.is_ca = 1;
  } else {
    int has_name = 0;
    for (size_t i = 0; i < c.ndns; i++)
      if (strcmp(c.dns[i], c.name) == 0) has_name = 1;
    if (!has_name) {
      memmove(c.dns + 1, c.dns, c.ndns * sizeof(c.dns[0]));
      c.dns[0] = c.name;
      c.ndns++;
    }
    req.cn = c.name;
    req.dns = c.dns;
    req.ndns = c.ndns;
    req.ips = c.ips;
    req.nips = c.nips;
    req.is_client = c.kind == CERT_CLIENT;
    req.role = c.kind == CERT_NODE ? "node" : c.role ? c.role : "operator";
  }
  unsigned days =
      c.days ? c.days : c.kind == CERT_CA ? CERT_CA_DAYS : CERT_LEAF_DAYS;
  time_t now = time(NULL);
  req.not_before = now - CERT_BACKDATE_S;
  req.not_after = now + (time_t)days * 86400;

  rc = certgen_key(&key);
  if (rc == 0) rc = certgen_cert(&req, key, ca_cert, ca_key, &cert);
  if (rc != 0) {
    if (rc == TR_EINVAL && c.kind != CERT_CA) {
      /* The request was checked above, so it is the CA that is wrong. */
      fprintf(stderr, "troupe cert: %s and %s are not a usable CA (not a CA "
                      "certificate, or the key is not its key)\n",
              ca_pem_path, ca_key_path);
      exit_code = TROUPE_EXIT_USAGE;
    } else {
      fprintf(stderr, "troupe cert: cannot make the certificate: %s\n",
              tr_strerror(rc));
    }
    goto out;
  }

  const char *data[2] = {cert, key};
  const mode_t modes[2] = {0644, 0600};
  for (int i = 0; i < 2; i++) {
    int err = write_temp(&out[i], c.dir, data[i], modes[i]);
    if (err) {
      fprintf(stderr, "troupe cert: cannot write %s: %s\n", out[i].path,
              strerror(err));
      goto out;
    }
  }
  /* The key goes first: a certificate never sits next to a key that is
   * not its own from a crash in between (the reverse would be worse: a
   * key with no certificate is merely useless). */
  for (int i = 1; i >= 0; i--) {
    int err = place(&out[i], c.force);
    if (err) {
      if (err == EEXIST) {
        fprintf(stderr, "troupe cert: %s exists; use --force to replace it\n",
                out[i].path);
        exit_code = TROUPE_EXIT_USAGE;
      } else {
        fprintf(stderr, "troupe cert: cannot write %s: %s\n", out[i].path,
                strerror(err));
      }
      goto out;
    }
  }
  fsync_dir(c.dir);

  printf("%s  %s certificate %s, valid %u days\n", out[0].path,
         kind_name(c.kind), req.cn, days);
  printf("%s  its private key (mode 0600)\n", out[1].path);
  exit_code = TROUPE_EXIT_OK;

out:
  for (int i = 0; i < 2; i++) {
    if (out[i].written) unlink(out[i].tmp);
    /* A half-done pair is taken back, unless it replaced older files
     * (--force): those are gone either way. */
    if (exit_code != TROUPE_EXIT_OK && out[i].placed && !c.force)
      unlink(out[i].path);
  }
  /* Private keys do not linger in freed memory. */
  if (key) mbedtls_platform_zeroize(key, strlen(key));
  if (ca_key) mbedtls_platform_zeroize(ca_key, strlen(ca_key));
  free(key);
  free(ca_key);
  free(cert);
  free(ca_cert);
  return exit_code;
}
