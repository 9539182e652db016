/* cmd_cert.c — `troupe cert ca|node|client|revoke|crl`: the cluster's
 * private CA, the certificates signed by it (ECDSA P-256, through certgen)
 * and its revocation list, written so that no file is overwritten by
 * accident and a crash never leaves half a key or half a list. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
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

#define CERT_SYNOPSIS                                                     \
  "usage: troupe cert ca [--cluster NAME] [--dir DIR] [--days N] [--force]\n" \
  "       troupe cert node NAME [--dns NAME]... [--ip ADDR]... [flags]\n"  \
  "       troupe cert client NAME [--role operator|viewer] [--dns NAME]...\n" \
  "                          [--ip ADDR]... [flags]\n"                 \
  "       troupe cert revoke NAME|--cert FILE [--dir DIR] [--days N]\n"   \
  "       troupe cert crl [--dir DIR] [--days N]\n"

static const char cert_usage[] =
    CERT_SYNOPSIS
    "\n"
    "Makes the cluster's certificates (ECDSA P-256) and revocation list:\n"
    "  ca           DIR/ca.pem and DIR/ca.key, a self-signed CA [10 years]\n"
    "  node NAME    DIR/NAME.pem and DIR/NAME.key for the node named NAME\n"
    "               (CN and DNS name NAME, role node: server and client use;\n"
    "               it may link only as NAME) [825 days]\n"
    "  client NAME  the same for an operator of the troupe verbs (client use\n"
    "               only: it never links as a node) [825 days], with a role:\n"
    "               operator (every verb) or viewer (members, actors, stats,\n"
    "               health, sub: it may only read) [operator]\n"
    "  revoke NAME  adds the serial number of DIR/NAME.pem (or of --cert\n"
    "               FILE) to DIR/crl.pem, the CA's certificate revocation\n"
    "               list, made if missing, and signs the list again; the\n"
    "               entries in it are kept. The certificate must be this\n"
    "               CA's (an expired one may be revoked too); one already\n"
    "               listed is not an error [list valid 10 years]\n"
    "  crl          signs DIR/crl.pem again with fresh dates, the same\n"
    "               entries (an empty list if missing) [10 years]\n"
    "node and client certificates and crl.pem are signed with DIR/ca.pem and\n"
    "DIR/ca.key. NAME is 1 to 64 of A-Z a-z 0-9 . _ - (not starting with .\n"
    "or -).\n"
    "\n"
    "flags:\n"
    "  --dir DIR     where the files are read and written [certs]\n"
    "  --days N      validity in days, 1 to 36500\n"
    "  --dns NAME    one more DNS name in the certificate (repeatable)\n"
    "  --ip ADDR     an IPv4 or IPv6 address in the certificate (repeatable)\n"
    "  --role ROLE   client: operator or viewer [operator]\n"
    "  --cert FILE   revoke: the certificate to revoke (NAME may then be\n"
    "                left out; if given, it must be the certificate's CN)\n"
    "  --cluster NAME ca: the cluster's name, in the CA's CN\n"
    "                (troupe-ca-NAME) [a random one: troupe-ca-1a2b3c4d]\n"
    "  --force       replace files that exist (not for revoke and crl: they\n"
    "                always replace crl.pem, keeping its entries)\n"
    "\n"
    "Keys are written with mode 0600. Keep ca.key off the nodes: it is only\n"
    "needed to make certificates and the revocation list.\n"
    "\n"
    "Revocation: copy crl.pem to the nodes, which load it with --crl FILE\n"
    "(TROUPE_CRL, config key crl) and read it again on SIGHUP; a node with\n"
    "the list refuses the certificates in it. Renew the list (troupe cert\n"
    "crl) before its --days run out: past that date it is expired, and\n"
    "other tools that check lists (mbedTLS's and OpenSSL's verification)\n"
    "then refuse every certificate of this CA.\n"
    "\n"
    "exit status: 0 written; 1 a file could not be written or a certificate\n"
    "or list not made; 2 bad flags, a file that exists (without --force), a\n"
    "missing or unusable CA, a certificate to revoke that is missing or not\n"
    "this CA's, or a crl.pem that is not this CA's list.\n";

static const unsigned kind_flags[] = {
    [CERT_CA] = CF_DIR | CF_DAYS | CF_FORCE | CF_CLUSTER,
    [CERT_NODE] = CF_DIR | CF_DAYS | CF_DNS | CF_IP | CF_FORCE,
    [CERT_CLIENT] = CF_DIR | CF_DAYS | CF_DNS | CF_IP | CF_ROLE | CF_FORCE,
    [CERT_REVOKE] = CF_DIR | CF_DAYS | CF_CERT,
    [CERT_CRL] = CF_DIR | CF_DAYS,
};

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
  if (argc < 2)
    return usage_error("which certificate: ca, node or client (or revoke, "
                       "crl)?");
  if (strcmp(argv[1], "ca") == 0)
    c->kind = CERT_CA;
  else if (strcmp(argv[1], "node") == 0)
    c->kind = CERT_NODE;
  else if (strcmp(argv[1], "client") == 0)
    c->kind = CERT_CLIENT;
  else if (strcmp(argv[1], "revoke") == 0)
    c->kind = CERT_REVOKE;
  else if (strcmp(argv[1], "crl") == 0)
    c->kind = CERT_CRL;
  else
    return usage_error("unknown kind '%s' (ca, node, client, revoke or crl)",
                       argv[1]);
  unsigned allowed = kind_flags[c->kind];

  int flags = 1;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (flags && strcmp(a, "--") == 0) {
      flags = 0;
      continue;
    }
    if (!flags || a[0] != '-' || a[1] == '\0') {
      if (c->kind == CERT_CA || c->kind == CERT_CRL || c->name)
        return usage_error("unexpected argument '%s'", a);
      c->name = a;
      continue;
    }
    if (strcmp(a, "--force") == 0 && (allowed & CF_FORCE)) {
      c->force = 1;
      continue;
    }
    if ((strcmp(a, "--cluster") == 0 || strncmp(a, "--cluster=", 10) == 0) &&
        (allowed & CF_CLUSTER)) {
      const char *val = a[9] == '=' ? a + 10 : NULL;
      if (!val && i + 1 >= argc) return usage_error("--cluster needs a value");
      if (!val) val = argv[++i];
      if (!name_ok(val) || strlen(val) > CERT_NAME_MAX - sizeof(CERT_CA_CN))
        return usage_error("--cluster: bad name '%s' (1 to %zu of A-Z a-z "
                           "0-9 . _ -)", val,
                           CERT_NAME_MAX - sizeof(CERT_CA_CN));
      c->cluster = val;
      continue;
    }
    /* In the order of the CF_ bits. */
    static const char *const named[] = {"--dir", "--days", "--dns", "--ip",
                                        "--role", "--cert"};
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
    if (which == nnamed || !(allowed & (1u << which)))
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
    case 5:
      if (!val[0]) return usage_error("--cert wants a file");
      c->cert_file = val;
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
  if (c->kind == CERT_REVOKE && !c->name && !c->cert_file)
    return usage_error("NAME (or --cert FILE) is missing");
  if (c->kind == CERT_REVOKE && !c->name) return -1;
  if (c->kind != CERT_CA && c->kind != CERT_CRL) {
    if (!c->name) return usage_error("NAME is missing");
    if (!name_ok(c->name))
      return usage_error("bad NAME '%s': 1 to 64 of A-Z a-z 0-9 . _ - "
                         "(not starting with . or -)", c->name);
    /* ca.pem/ca.key are the CA's; a node named "ca" would replace them,
     * and crl.pem is the list (crl.key would merely confuse). */
    if (strcmp(c->name, "ca") == 0)
      return usage_error(c->kind == CERT_REVOKE
                             ? "NAME '%s' is the CA itself: it cannot be "
                               "revoked (make a new CA instead)"
                             : "NAME '%s' is taken by the CA's files",
                         c->name);
    if (strcmp(c->name, CERT_CRL_FILE) == 0 && c->kind != CERT_REVOKE)
      return usage_error("NAME '%s' is taken by the revocation list",
                         c->name);
  }
  return -1;
}


static const char *kind_name(cert_kind k) {
  return k == CERT_CA ? "CA" : k == CERT_NODE ? "node" : "client";
}

int cmd_cert(int argc, char **argv) {
  if (daemon_help_or_version(argc, argv, cert_usage)) return TROUPE_EXIT_OK;
  cert_cli c;
  int rc = cert_parse(argc, argv, &c);
  if (rc >= 0) return rc;
  if (c.kind == CERT_REVOKE || c.kind == CERT_CRL) return cert_crl_cmd(&c);

  const char *stem = c.kind == CERT_CA ? "ca" : c.name;
  cert_out out[2]; /* [0] the certificate, [1] its key */
  memset(out, 0, sizeof(out));
  char ca_pem_path[4096], ca_key_path[4096];
  char *ca_cert = NULL, *ca_key = NULL, *key = NULL, *cert = NULL;
  int exit_code = TROUPE_EXIT_ERROR;

  if (cert_path_join(out[0].path, sizeof(out[0].path), c.dir, stem, ".pem") ||
      cert_path_join(out[1].path, sizeof(out[1].path), c.dir, stem, ".key") ||
      cert_path_join(ca_pem_path, sizeof(ca_pem_path), c.dir, "ca", ".pem") ||
      cert_path_join(ca_key_path, sizeof(ca_key_path), c.dir, "ca", ".key")) {
    fprintf(stderr, "troupe cert: --dir %s: path too long\n", c.dir);
    return TROUPE_EXIT_USAGE;
  }

  /* Refuse before doing any work; cert_place() checks again, atomically. */
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
    if ((exit_code = cert_read_ca(ca_pem_path, ca_key_path, &ca_cert,
                                  &ca_key)) != TROUPE_EXIT_OK)
      goto out;
    exit_code = TROUPE_EXIT_ERROR;
  }

  /* The name is always in the certificate twice: as CN and as DNS name,
   * since peers check a node's claimed name against either. */
  certgen_req req = {0};
  char ca_cn[CERT_NAME_MAX + 1];
  if (c.kind == CERT_CA) {
    /* Its cluster's name (or a random one) in the CN: two clusters' CAs
     * never look the same in a refusal's "issuer CN=...". */
    char suffix[CERT_NAME_MAX - sizeof(CERT_CA_CN) + 1];
    if (c.cluster) {
      snprintf(suffix, sizeof(suffix), "%s", c.cluster);
    } else {
      unsigned char r[4] = {0};
      FILE *f = fopen("/dev/urandom", "rb");
      size_t got = f ? fread(r, 1, sizeof(r), f) : 0;
      if (f) fclose(f);
      if (got != sizeof(r)) {
        uint32_t t = (uint32_t)time(NULL) ^ (uint32_t)getpid();
        memcpy(r, &t, sizeof(r));
      }
      snprintf(suffix, sizeof(suffix), "%02x%02x%02x%02x", r[0], r[1], r[2],
               r[3]);
    }
    snprintf(ca_cn, sizeof(ca_cn), "%s-%s", CERT_CA_CN, suffix);
    req.cn = ca_cn;
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
    int err = cert_write_temp(&out[i], c.dir, data[i], modes[i]);
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
    int err = cert_place(&out[i], c.force);
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
  cert_fsync_dir(c.dir);

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
