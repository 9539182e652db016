/* cert_files.h — what the `troupe cert` verbs share (cmd_cert.c: ca, node,
 * client; cmd_crl.c: revoke, crl): the parsed command line, and files
 * written whole through a temp file and a rename (cert_files.c). Daemon
 * code, internal to node/daemon. */
#ifndef TR_CERT_FILES_H
#define TR_CERT_FILES_H

#include <stddef.h>
#include <sys/types.h>

#define CERT_NAME_MAX 64 /* a CN's upper bound (RFC 5280) */
#define CERT_DAYS_MAX 36500
#define CERT_CA_DAYS 3650
#define CERT_LEAF_DAYS 825
#define CERT_BACKDATE_S 3600 /* not-before = now - 1 h: clocks disagree */
#define CERT_MAX_SANS 32
#define CERT_CA_CN "troupe-ca"
#define CERT_CRL_DAYS 3650
#define CERT_CRL_FILE "crl" /* DIR/crl.pem */

typedef enum {
  CERT_CA,
  CERT_NODE,
  CERT_CLIENT,
  CERT_REVOKE,
  CERT_CRL
} cert_kind;

/* The flags each kind takes. */
enum {
  CF_DIR = 1 << 0,
  CF_DAYS = 1 << 1,
  CF_DNS = 1 << 2,
  CF_IP = 1 << 3,
  CF_ROLE = 1 << 4,
  CF_CERT = 1 << 5,
  CF_FORCE = 1 << 6,
  CF_CLUSTER = 1 << 7,
};

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
  const char *cluster; /* ca: its name in the CA's CN; NULL: a random one */
  const char *cert_file; /* revoke: --cert, instead of DIR/NAME.pem */
} cert_cli;

/* One file to publish: its final path and the temp file holding it. */
typedef struct cert_out {
  char path[4096];
  char tmp[4096];
  int written; /* tmp exists */
  int placed;  /* path now holds our bytes */
} cert_out;

/* Reads a whole PEM file into a NUL-terminated malloc'd string. 0, or an
 * errno value (ENOMEM included). */
int cert_read_text(const char *path, char **out);
/* "DIR/NAME.EXT" into out: 0, or -1 when it does not fit. */
int cert_path_join(char *out, size_t cap, const char *dir, const char *name,
                   const char *ext);
/* Writes data to a new temp file next to o->path (same directory, so the
 * rename is atomic), with mode `mode`, flushed to disk. 0, or errno. */
int cert_write_temp(cert_out *o, const char *dir, const char *data,
                    mode_t mode);
/* Moves the temp file to its place; without force, never over a file that
 * exists. 0, or errno. */
int cert_place(cert_out *o, int force);
void cert_fsync_dir(const char *dir);
/* Reads the CA's certificate and key; on failure says why on stderr and
 * returns the exit status (TROUPE_EXIT_USAGE when a file is missing). */
int cert_read_ca(const char *pem_path, const char *key_path, char **cert,
                 char **key);

/* cmd_crl.c: `troupe cert revoke` and `troupe cert crl`; the exit status. */
int cert_crl_cmd(const cert_cli *c);

#endif /* TR_CERT_FILES_H */
