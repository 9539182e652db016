/* tls.h — mutually authenticated TLS 1.2 over memory buffers (sans I/O):
 * ciphertext from the socket goes in, plaintext and ciphertext for the
 * socket come out. mbedTLS 2.28 underneath; no sockets, no loop, no actors,
 * so unit tests need no network. One tls_config per node, one tls_conn per
 * connection. */
#ifndef TR_TLS_H
#define TR_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Why a handshake or a peer was refused; counted per reason by the link. */
typedef enum {
  TLS_FAIL_NONE = 0,
  TLS_FAIL_NO_CERT,       /* peer sent no certificate */
  TLS_FAIL_UNTRUSTED,     /* not signed by the cluster CA */
  TLS_FAIL_EXPIRED,       /* outside its validity period */
  TLS_FAIL_REVOKED,       /* listed in the CA's revocation list */
  TLS_FAIL_NAME_MISMATCH, /* certificate does not name the claimed node */
  TLS_FAIL_NOT_TLS,       /* plaintext or garbage where a record belongs */
  TLS_FAIL_TIMEOUT,       /* handshake did not finish in time (link) */
  TLS_FAIL_PROTOCOL,      /* any other TLS error */
  TLS_FAIL_COUNT
} tls_fail;

const char *tls_fail_name(tls_fail); /* "no_cert", "untrusted", ... */

/* What a certificate is for, from its subject's OU and its extended key
 * usage, as `troupe cert` writes them:
 * - NODE: OU=node, and both serverAuth and clientAuth: it may link as the
 *   node it names, and nothing else;
 * - OPERATOR / VIEWER: OU=operator / OU=viewer, clientAuth without
 *   serverAuth: it may only open operator sessions (a viewer may only read);
 * - NONE: anything else (no role, a role with the wrong key usage, no
 *   extended key usage at all): refused as a node and as an operator. */
typedef enum {
  TLS_PEER_NONE = 0,
  TLS_PEER_NODE,
  TLS_PEER_OPERATOR,
  TLS_PEER_VIEWER
} tls_peer_role;

const char *tls_peer_role_name(tls_peer_role); /* "none", "node", ... */

typedef struct tls_config tls_config;
typedef struct tls_conn tls_conn;
typedef struct tls_session tls_session; /* a saved client session */

typedef struct tls_config_opts {
  /* PEM file paths, or PEM text (NUL-terminated) when the *_pem is set.
   * The CA is required. Leaving out both cert and key gives a config that
   * presents no certificate: every peer refuses it (tests use that). */
  const char *ca_file, *cert_file, *key_file;
  const char *ca_pem, *cert_pem, *key_pem;
  uint32_t ticket_lifetime_s; /* session tickets; 0: 86400 */
  /* The CA's certificate revocation list (`troupe cert revoke`), a PEM file
   * or text; optional. It must be the CA's (issuer and signature). A peer
   * certificate it lists is refused (TLS_FAIL_REVOKED), even when the list
   * is past its nextUpdate (that is reported by tls_config_crl_info, not
   * enforced by refusing everyone). */
  const char *crl_file, *crl_pem;
} tls_config_opts;

/* Loads CA, own certificate and key (checked to match), seeds a CTR-DRBG
 * and sets up session tickets (keys live in the config: tickets from another
 * config, e.g. before a restart, give a full handshake). On failure returns
 * TR_EINVAL/TR_ETLS/TR_ENOMEM and writes a one-line reason (naming the file)
 * to err (may be NULL). Configs are independent; none is thread-safe. */
int tls_config_new(tls_config **out, const tls_config_opts *o, char *err,
                   size_t errlen);
void tls_config_free(tls_config *); /* NULL ok; after all its conns */

/* The revocation list a config holds. */
typedef struct tls_crl_info {
  bool loaded;         /* a list was given */
  bool expired;        /* past its nextUpdate: renew it (troupe cert crl) */
  uint32_t entries;    /* certificates it revokes */
  int64_t next_update; /* unix seconds; 0 if the list has none */
} tls_crl_info;
void tls_config_crl_info(const tls_config *, tls_crl_info *out);

typedef enum { TLS_CLIENT, TLS_SERVER } tls_role;

/* A connection. A client may offer a saved session (resume; NULL: full
 * handshake); the session stays owned by the caller and may be freed at
 * return. A server given a session: TR_EINVAL. */
int tls_conn_new(tls_conn **out, tls_config *, tls_role,
                 const tls_session *resume);
void tls_conn_free(tls_conn *); /* NULL ok */

/* Ciphertext received from the socket; copied into the connection. Returns
 * 0, TR_ENOMEM, or TR_ETLS if the connection had already failed. First bytes
 * that cannot open a TLS record (plaintext, garbage) fail the connection
 * with reason NOT_TLS; like every refusal, the next handshake or read
 * reports it. */
int tls_conn_feed(tls_conn *, const void *data, size_t len);

/* Advances the handshake with what was fed. 0: done (also on later calls);
 * 1: needs more input (send what tls_conn_take_out gives first); TR_ETLS
 * (TR_ENOMEM when memory ran out): failed, tls_conn_fail_reason says why,
 * and take_out may hold an alert worth sending before closing. Failures are
 * sticky: later calls return TR_ETLS. Bytes fed after the handshake's last
 * record stay buffered for tls_conn_read. */
int tls_conn_handshake(tls_conn *);

/* Decrypts into buf, as many records as fit. Returns bytes (> 0), 0 when
 * nothing complete is buffered (call until 0), TR_ECLOSED after the peer's
 * close_notify, TR_ETLS on a bad record (reason NOT_TLS for a broken record
 * header, PROTOCOL for a failed MAC and the rest). Data decrypted before a
 * bad record or close_notify is returned first, the error on the next call.
 * TR_EINVAL before the handshake is done. */
int tls_conn_read(tls_conn *, void *buf, size_t cap);

/* Encrypts len bytes (any size; split into records of up to 16 KiB) and
 * appends the records to the outgoing ciphertext. 0 or TR_ETLS/TR_ENOMEM;
 * TR_EINVAL before the handshake is done, TR_ECLOSED after close_notify. */
int tls_conn_write(tls_conn *, const void *plain, size_t len);

/* Makes room in the outgoing buffer for the records of plain_len bytes about
 * to be written in several tls_conn_write calls, so the buffer grows once.
 * 0, TR_ENOMEM, or TR_EINVAL before the handshake. */
int tls_conn_reserve(tls_conn *, size_t plain_len);

/* Queues a close_notify alert (none before the handshake is done: there is
 * nothing to protect, just close). Later writes return TR_ECLOSED. */
int tls_conn_close_notify(tls_conn *);

/* Hands over all outgoing ciphertext: *buf (malloc'ed, now the caller's to
 * free) and *len; returns 0 with *buf NULL when there is none. The
 * connection starts a fresh buffer, so the caller may keep the old one
 * until its socket write completes. */
int tls_conn_take_out(tls_conn *, uint8_t **buf, size_t *len);

/* After the handshake: may this peer speak for node `name`? True when the
 * certificate's CN or one of its DNS SANs equals name, byte for byte (IP
 * SANs are not names). After a resumed handshake: the certificate verified
 * when the session was created. False before the handshake is done. */
bool tls_conn_peer_is(tls_conn *, const char *name);
/* The peer's role, as its certificate says (tls_peer_role); NONE before
 * the handshake is done. */
tls_peer_role tls_conn_peer_role(tls_conn *);
/* The name a peer may go by: for a node certificate, a name it names (and
 * nothing with '#'); for an operator or viewer certificate naming X, only
 * "X#<session>" — so several operator sessions with one certificate get
 * links of their own, and none can pass for a node, whatever its name; a
 * certificate without a role, none. */
bool tls_conn_peer_may_be(tls_conn *, const char *name);
/* Whether cfg's revocation list (a reloaded config's, say) lists the
 * certificate this connection's peer presented; false before the
 * handshake is done. */
bool tls_conn_peer_revoked(tls_conn *, const tls_config *cfg);
/* The peer certificate's CN for log lines (empty if none; unprintable bytes
 * shown as '?', at most 64); valid while conn lives. */
const char *tls_conn_peer_cn(tls_conn *);
tls_fail tls_conn_fail_reason(tls_conn *);
/* A readable detail of the failure for one log line ("" if none): the
 * mbedTLS text, the X.509 verify flags as text, the alert the peer sent, or
 * the first bytes of a non-TLS peer. Valid while conn lives. */
const char *tls_conn_fail_detail(tls_conn *);
bool tls_conn_resumed(tls_conn *); /* the handshake resumed a session */
/* e.g. "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256"; "" before done. */
const char *tls_conn_ciphersuite(tls_conn *);

/* What the certificate in `file` is for (tls_ident.c): its subject CN, its
 * role, and whether it names `name` (CN or a DNS SAN; name may be NULL).
 * 0, or TR_EINVAL with a one-line reason in err (unreadable file, no CN). */
typedef struct tls_cert_info {
  char cn[256];
  tls_peer_role role;
  bool names_it; /* it names `name` */
  int64_t not_after; /* when it expires, unix seconds (UTC) */
} tls_cert_info;
int tls_cert_file_info(const char *file, const char *name,
                       tls_cert_info *out, char *err, size_t errlen);

/* A node's word about itself that others can relay and check (tls_proof.c):
 * signs data with this config's key and appends its certificate, into out
 * (cap bytes; about 620 for P-256 node certificates). 0, TR_EINVAL (no
 * ECDSA key), TR_ETLS, TR_ETOOBIG. Loop thread (the config's DRBG). */
int tls_prove(tls_config *, const void *data, size_t len, uint8_t *out,
              size_t cap, size_t *out_len);
/* Whether proof (tls_prove's) shows that node `name` said data: its
 * certificate is from this config's CA, valid, a node certificate naming
 * `name`, and the signature verifies. Certificates are checked once and
 * cached (4096 at most). */
bool tls_proof_check(tls_config *, const char *name, const void *data,
                     size_t len, const uint8_t *proof, size_t proof_len);
/* The same signature without the certificate (about 72 bytes), for what a
 * node says often once others hold its certificate: tls_sign_check checks
 * it with the certificate of a proof of `name` (tls_prove's, already
 * checked once: cached). 0; TR_ENOTFOUND when that proof holds no good
 * node certificate for name; TR_EINVAL when the signature does not
 * verify. */
int tls_sign(tls_config *, const void *data, size_t len, uint8_t *out,
             size_t cap, size_t *out_len);
int tls_sign_check(tls_config *, const char *name, const void *data,
                   size_t len, const uint8_t *sig, size_t sig_len,
                   const uint8_t *proof, size_t proof_len);

/* HMAC-SHA-256 of data under key, into out (tls_proof.c): 0, or TR_ETLS.
 * Any thread. */
int tls_hmac(const void *key, size_t keylen, const void *data, size_t len,
             uint8_t out[32]);

/* Client side: save the session after a handshake (full or resumed), to
 * offer it next time. *out is the caller's (tls_session_free). TR_EINVAL on
 * a server, before the handshake or after a failure; TR_ENOMEM. */

int tls_conn_save_session(tls_conn *, tls_session **out);
void tls_session_free(tls_session *); /* NULL ok */

#endif /* TR_TLS_H */
