/* tls.c — TLS 1.2 with mutual authentication over memory buffers (sans I/O)
 * on mbedTLS 2.28: the per-node config (certificates, DRBG, ticket keys) and
 * the per-connection state machine driven by feed, handshake, read, write
 * and take_out. Why a handshake failed is worked out in tls_fail.c.
 *
 * Design notes.
 * - mbedTLS reads and writes through two callbacks (mbedtls_ssl_set_bio):
 *   recv copies from the input buffer that tls_conn_feed fills and answers
 *   WANT_READ when it is empty; send appends to the output buffer that
 *   tls_conn_take_out hands over. Send never blocks, so mbedTLS never returns
 *   WANT_WRITE and every record it produces is complete in the buffer.
 * - mbedTLS asks recv for exactly the bytes of the record it is parsing, so
 *   whatever follows the handshake (application data sent by a peer that
 *   finished first) stays in the input buffer for tls_conn_read.
 * - A resumed handshake (session ticket) verifies no certificate: the verify
 *   callback runs only in a full handshake, and that is how tls_conn_resumed
 *   tells them apart. The peer certificate of a resumed session is the one
 *   verified when the session was created (kept in the ticket / session).
 * - The peer's node name is not checked by mbedTLS (no hostname is set): the
 *   link compares the name claimed in its hello with tls_conn_peer_is. */
#include "tls.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

#include "tls_cert.h"
#include "tls_fail.h"
#include "troupe.h"

#define TLS_RECORD_MAX 16384 /* plaintext bytes per record (TLS maximum) */
#define TLS_OUT_MIN 4096
#define TLS_IN_MIN 4096
#define TLS_CN_MAX 64
#define TLS_TICKET_LIFETIME_S 86400

/* ChaCha20-Poly1305 first: without fast GHASH in mbedTLS 2.28 it is ~1.6x
 * faster than AES-GCM here (DESIGN.md). ECDHE only: forward secrecy. */
static const int tls_suites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    0};

/* Key exchange groups (and acceptable certificate curves). P-256 first: its
 * NIST-optimised arithmetic is the cheapest ECDHE in mbedTLS 2.28. */
static const mbedtls_ecp_group_id tls_curves[] = {
    MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_CURVE25519,
    MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_NONE};



struct tls_session {
  mbedtls_ssl_session s;
};

/* A byte buffer; the live bytes are data[off, len). */
typedef struct tls_buf {
  uint8_t *data;
  size_t off, len, cap;
} tls_buf;

struct tls_conn {
  mbedtls_ssl_context ssl;
  tls_config *cfg;
  tls_role role;
  tls_buf in;  /* ciphertext fed and not yet consumed by mbedTLS */
  tls_buf out; /* ciphertext for the socket, until take_out */
  uint8_t nfirst;         /* how many bytes of the first record header seen */
  bool handshake_done;
  bool full_handshake;    /* the verify callback ran: not resumed */
  bool failed;            /* sticky: every later call returns TR_ETLS */
  bool out_of_memory;     /* the send callback could not grow out */
  bool close_sent, peer_closed;
  bool cn_loaded;
  uint32_t verify_flags;  /* union over the chain, from the verify callback */
  tls_fail reason;
  char cn[TLS_CN_MAX + 1];
  char peer_dn[224]; /* the peer's subject and issuer, for failure details */
  char detail[TLS_FAIL_DETAIL_MAX];
};

/* ---- buffers ------------------------------------------------------------ */

/* Makes room for n more bytes at the end, moving live bytes to the front
 * before growing. */
static int buf_reserve(tls_buf *b, size_t n, size_t min_cap) {
  if (b->off == b->len)
    b->off = b->len = 0;
  if (b->cap - b->len >= n)
    return 0;
  if (b->off > 0) {
    memmove(b->data, b->data + b->off, b->len - b->off);
    b->len -= b->off;
    b->off = 0;
    if (b->cap - b->len >= n)
      return 0;
  }
  if (n > SIZE_MAX / 2 - b->len)
    return TR_ENOMEM;
  size_t cap = b->cap ? b->cap : min_cap;
  while (cap - b->len < n)
    cap *= 2;
  uint8_t *d = realloc(b->data, cap);
  if (!d)
    return TR_ENOMEM;
  b->data = d;
  b->cap = cap;
  return 0;
}

static int bio_send(void *ctx, const unsigned char *p, size_t n) {
  tls_conn *c = ctx;
  if (n > INT_MAX)
    n = INT_MAX;
  if (buf_reserve(&c->out, n, TLS_OUT_MIN) != 0) {
    c->out_of_memory = true;
    return MBEDTLS_ERR_SSL_ALLOC_FAILED;
  }
  memcpy(c->out.data + c->out.len, p, n);
  c->out.len += n;
  return (int)n;
}

static int bio_recv(void *ctx, unsigned char *p, size_t n) {
  tls_conn *c = ctx;
  size_t avail = c->in.len - c->in.off;
  if (avail == 0)
    return MBEDTLS_ERR_SSL_WANT_READ;
  if (n > avail)
    n = avail;
  if (n > INT_MAX)
    n = INT_MAX;
  memcpy(p, c->in.data + c->in.off, n);
  c->in.off += n;
  return (int)n;
}

/* ---- failures ----------------------------------------------------------- */

/* Records the first failure; the connection stays failed. */
static int conn_fail(tls_conn *c, tls_fail reason, int mbed_ret) {
  if (!c->failed) {
    c->failed = true;
    c->reason = reason;
    tls_fail_describe(c->detail, sizeof c->detail, mbed_ret, c->verify_flags,
                      tls_fail_peer_alert(&c->ssl, mbed_ret));
    /* Name the refused certificate, so the log says who was refused. */
    size_t n = strlen(c->detail);
    if (c->verify_flags && c->peer_dn[0] && n < sizeof c->detail)
      snprintf(c->detail + n, sizeof c->detail - n, " [%s]", c->peer_dn);
  }
  return c->out_of_memory || mbed_ret == MBEDTLS_ERR_SSL_ALLOC_FAILED
             ? TR_ENOMEM
             : TR_ETLS;
}

static int conn_fail_mbed(tls_conn *c, int mbed_ret) {
  uint32_t flags = c->verify_flags;
  if (mbed_ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED ||
      mbed_ret == MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE ||
      mbed_ret == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE) {
    uint32_t r = mbedtls_ssl_get_verify_result(&c->ssl);
    if (r != (uint32_t)-1)
      flags |= r;
    c->verify_flags = flags;
  }
  return conn_fail(c, tls_fail_classify(mbed_ret, flags), mbed_ret);
}

/* The first bytes from the peer must open a TLS record: a content type
 * (change_cipher_spec, alert, handshake, application_data) and major version
 * 3. Checked here, because mbedTLS reports plaintext and garbage as one of
 * several protocol errors; this gives them one clear reason. */
static bool first_bytes_ok(tls_conn *c, const uint8_t *p, size_t n) {
  for (; c->nfirst < 3 && n > 0; p++, n--) {
    uint8_t b = *p;
    bool ok = c->nfirst == 0   ? b >= 20 && b <= 23
              : c->nfirst == 1 ? b == 3
                               : b <= 4;
    if (!ok)
      return false;
    c->nfirst++;
  }
  return true;
}

/* ---- config ------------------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *what,
                    const char *where, int mbed_ret) {
  if (!err || errlen == 0)
    return;
  char text[160] = "";
  if (mbed_ret > 0) /* x509_crt_parse: how many certificates failed */
    snprintf(text, sizeof text, "%d certificate(s) could not be parsed",
             mbed_ret);
  else if (mbed_ret < 0)
    mbedtls_strerror(mbed_ret, text, sizeof text);
  if ((mbed_ret == MBEDTLS_ERR_PK_FILE_IO_ERROR ||
       mbed_ret == MBEDTLS_ERR_X509_FILE_IO_ERROR) && where) {
    /* mbedTLS says only "read/write of file failed": say why. */
    FILE *f = fopen(where, "r");
    if (f) fclose(f);
    else snprintf(text, sizeof text, "%s", strerror(errno));
  }
  snprintf(err, errlen, "%s%s%s: %s", what, where ? " " : "",
           where ? where : "", mbed_ret ? text : "missing");
}

static int load_crt(mbedtls_x509_crt *crt, const char *file, const char *pem,
                    const char *what, char *err, size_t errlen) {
  int ret;
  if (pem)
    ret = mbedtls_x509_crt_parse(crt, (const unsigned char *)pem,
                                 strlen(pem) + 1);
  else
    ret = mbedtls_x509_crt_parse_file(crt, file);
  if (ret == 0)
    return 0;
  set_err(err, errlen, what, pem ? "(PEM text)" : file, ret);
  return ret == MBEDTLS_ERR_X509_ALLOC_FAILED ? TR_ENOMEM : TR_EINVAL;
}

static int setup_ssl_config(tls_config *cfg, mbedtls_ssl_config *conf,
                            int endpoint, bool has_cert) {
  int ret = mbedtls_ssl_config_defaults(conf, endpoint,
                                        MBEDTLS_SSL_TRANSPORT_STREAM,
                                        MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret != 0)
    return ret;
  mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                               MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                               MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_ciphersuites(conf, tls_suites);
  mbedtls_ssl_conf_curves(conf, tls_curves);
  mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(conf, &cfg->ca, NULL);
  mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &cfg->drbg);
  mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
  if (has_cert && (ret = mbedtls_ssl_conf_own_cert(conf, &cfg->cert,
                                                   &cfg->key)) != 0)
    return ret;
  if (endpoint == MBEDTLS_SSL_IS_CLIENT)
    mbedtls_ssl_conf_session_tickets(conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
  else
    mbedtls_ssl_conf_session_tickets_cb(conf, mbedtls_ssl_ticket_write,
                                        mbedtls_ssl_ticket_parse,
                                        &cfg->ticket);
  return 0;
}

int tls_config_new(tls_config **out, const tls_config_opts *o, char *err,
                   size_t errlen) {
  if (err && errlen)
    err[0] = '\0';
  if (!out || !o) {
    set_err(err, errlen, "options", NULL, 0);
    return TR_EINVAL;
  }
  *out = NULL;
  const char *ca_src = o->ca_pem ? o->ca_pem : o->ca_file;
  const char *cert_src = o->cert_pem ? o->cert_pem : o->cert_file;
  const char *key_src = o->key_pem ? o->key_pem : o->key_file;
  if (!ca_src) {
    set_err(err, errlen, "ca_file", NULL, 0);
    return TR_EINVAL;
  }
  if (!cert_src != !key_src) {
    set_err(err, errlen, cert_src ? "key_file" : "cert_file", NULL, 0);
    return TR_EINVAL;
  }

  tls_config *cfg = calloc(1, sizeof *cfg);
  if (!cfg)
    return TR_ENOMEM;
  mbedtls_entropy_init(&cfg->entropy);
  mbedtls_ctr_drbg_init(&cfg->drbg);
  mbedtls_x509_crt_init(&cfg->ca);
  mbedtls_x509_crt_init(&cfg->cert);
  mbedtls_pk_init(&cfg->key);
  mbedtls_ssl_ticket_init(&cfg->ticket);
  mbedtls_ssl_config_init(&cfg->client);
  mbedtls_ssl_config_init(&cfg->server);
  mbedtls_x509_crl_init(&cfg->crl);

  static const char pers[] = "troupe-tls";
  int rc, ret = mbedtls_ctr_drbg_seed(&cfg->drbg, mbedtls_entropy_func,
                                      &cfg->entropy,
                                      (const unsigned char *)pers,
                                      sizeof pers - 1);
  if (ret != 0) {
    set_err(err, errlen, "random generator", NULL, ret);
    rc = TR_ETLS;
    goto fail;
  }
  if ((rc = load_crt(&cfg->ca, o->ca_file, o->ca_pem, "ca_file", err,
                     errlen)) != 0)
    goto fail;
  if (cert_src) {
    if ((rc = load_crt(&cfg->cert, o->cert_file, o->cert_pem, "cert_file",
                       err, errlen)) != 0)
      goto fail;
    if (o->key_pem)
      ret = mbedtls_pk_parse_key(&cfg->key, (const unsigned char *)o->key_pem,
                                 strlen(o->key_pem) + 1, NULL, 0);
    else
      ret = mbedtls_pk_parse_keyfile(&cfg->key, o->key_file, NULL);
    if (ret != 0) {
      set_err(err, errlen, "key_file", o->key_pem ? "(PEM text)" : o->key_file,
              ret);
      rc = ret == MBEDTLS_ERR_PK_ALLOC_FAILED ? TR_ENOMEM : TR_EINVAL;
      goto fail;
    }
    if (mbedtls_pk_check_pair(&cfg->cert.pk, &cfg->key) != 0) {
      if (err && errlen)
        snprintf(err, errlen, "key_file %s: does not match cert_file %s",
                 o->key_pem ? "(PEM text)" : o->key_file,
                 o->cert_pem ? "(PEM text)" : o->cert_file);
      rc = TR_EINVAL;
      goto fail;
    }
  }
  if ((rc = tls_crl_load(cfg, o->crl_file, o->crl_pem, err, errlen)) != 0)
    goto fail;
  uint32_t lifetime =
      o->ticket_lifetime_s ? o->ticket_lifetime_s : TLS_TICKET_LIFETIME_S;
  ret = mbedtls_ssl_ticket_setup(&cfg->ticket, mbedtls_ctr_drbg_random,
                                 &cfg->drbg, MBEDTLS_CIPHER_AES_256_GCM,
                                 lifetime);
  if (ret == 0)
    ret = setup_ssl_config(cfg, &cfg->client, MBEDTLS_SSL_IS_CLIENT,
                           cert_src != NULL);
  if (ret == 0)
    ret = setup_ssl_config(cfg, &cfg->server, MBEDTLS_SSL_IS_SERVER,
                           cert_src != NULL);
  if (ret != 0) {
    set_err(err, errlen, "TLS setup", NULL, ret);
    rc = TR_ETLS;
    goto fail;
  }
  *out = cfg;
  return 0;

fail:
  tls_config_free(cfg);
  return rc;
}

void tls_config_free(tls_config *cfg) {
  if (!cfg)
    return;
  mbedtls_ssl_config_free(&cfg->server);
  mbedtls_ssl_config_free(&cfg->client);
  mbedtls_x509_crl_free(&cfg->crl);
  mbedtls_ssl_ticket_free(&cfg->ticket);
  mbedtls_pk_free(&cfg->key);
  mbedtls_x509_crt_free(&cfg->cert);
  mbedtls_x509_crt_free(&cfg->ca);
  mbedtls_ctr_drbg_free(&cfg->drbg);
  mbedtls_entropy_free(&cfg->entropy);
  tls_proof_cache_free(cfg->proofs);
  free(cfg);
}

/* ---- connections -------------------------------------------------------- */

/* Runs once per certificate of the peer's chain, and only in a full
 * handshake. The flags stay as mbedTLS set them. */
static int conn_verify(void *ctx, mbedtls_x509_crt *crt, int depth,
                       uint32_t *flags) {
  tls_conn *c = ctx;
  c->full_handshake = true;
  if (depth == 0 && tls_crt_revoked(c->cfg, crt))
    *flags |= MBEDTLS_X509_BADCERT_REVOKED;
  c->verify_flags |= *flags;
  if (depth == 0 && *flags) {
    char subject[100], issuer[100];
    if (mbedtls_x509_dn_gets(subject, sizeof subject, &crt->subject) < 0)
      snprintf(subject, sizeof subject, "?");
    if (mbedtls_x509_dn_gets(issuer, sizeof issuer, &crt->issuer) < 0)
      snprintf(issuer, sizeof issuer, "?");
    snprintf(c->peer_dn, sizeof c->peer_dn, "subject %s; issuer %s", subject,
             issuer);
  }
  return 0;
}

int tls_conn_new(tls_conn **out, tls_config *cfg, tls_role role,
                 const tls_session *resume) {
  if (!out)
    return TR_EINVAL;
  *out = NULL;
  if (!cfg || (role != TLS_CLIENT && role != TLS_SERVER) ||
      (resume && role != TLS_CLIENT))
    return TR_EINVAL;
  tls_conn *c = calloc(1, sizeof *c);
  if (!c)
    return TR_ENOMEM;
  c->cfg = cfg;
  c->role = role;
  mbedtls_ssl_init(&c->ssl);
  int ret = mbedtls_ssl_setup(&c->ssl, role == TLS_CLIENT ? &cfg->client
                                                          : &cfg->server);
  if (ret == 0 && resume)
    ret = mbedtls_ssl_set_session(&c->ssl, &resume->s);
  if (ret != 0) {
    tls_conn_free(c);
    return ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? TR_ENOMEM : TR_ETLS;
  }
  mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
  mbedtls_ssl_set_verify(&c->ssl, conn_verify, c);
  *out = c;
  return 0;
}

void tls_conn_free(tls_conn *c) {
  if (!c)
    return;
  mbedtls_ssl_free(&c->ssl);
  free(c->in.data);
  free(c->out.data);
  free(c);
}

int tls_conn_feed(tls_conn *c, const void *data, size_t len) {
  if (!c || (!data && len))
    return TR_EINVAL;
  if (c->failed)
    return TR_ETLS;
  if (len == 0)
    return 0;
  if (!first_bytes_ok(c, data, len)) {
    /* Reported, like every other refusal, by the next handshake or read. */
    conn_fail(c, TLS_FAIL_NOT_TLS, 0);
    tls_fail_describe_not_tls(c->detail, sizeof c->detail, data, len);
    return 0;
  }
  if (buf_reserve(&c->in, len, TLS_IN_MIN) != 0)
    return TR_ENOMEM;
  memcpy(c->in.data + c->in.len, data, len);
  c->in.len += len;
  return 0;
}

int tls_conn_handshake(tls_conn *c) {
  if (!c)
    return TR_EINVAL;
  if (c->failed)
    return TR_ETLS;
  if (c->handshake_done)
    return 0;
  int ret = mbedtls_ssl_handshake(&c->ssl);
  if (ret == 0) {
    /* A resumed session skips verification, and tickets live for a day:
     * still refuse a certificate that has expired since. */
    const mbedtls_x509_crt *crt = mbedtls_ssl_get_peer_cert(&c->ssl);
    if (!c->full_handshake && crt &&
        mbedtls_x509_time_is_past(&crt->valid_to)) {
      c->verify_flags = MBEDTLS_X509_BADCERT_EXPIRED;
      mbedtls_ssl_send_alert_message(&c->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                     MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED);
      return conn_fail(c, TLS_FAIL_EXPIRED, MBEDTLS_ERR_X509_CERT_VERIFY_FAILED);
    }
    /* ... or one revoked since (the list is the config's: tickets from
     * before a reload do not resume, but a list given at start does not
     * change). */
    if (!c->full_handshake && tls_crt_revoked(c->cfg, crt)) {
      c->verify_flags = MBEDTLS_X509_BADCERT_REVOKED;
      mbedtls_ssl_send_alert_message(&c->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                     MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED);
      return conn_fail(c, TLS_FAIL_REVOKED, MBEDTLS_ERR_X509_CERT_VERIFY_FAILED);
    }
    c->handshake_done = true;
    return 0;
  }
  if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
    return 1;
  /* mbedTLS leaves a client that sent no certificate without an alert; tell
   * it, so it fails now rather than at the link's handshake timeout. */
  if (ret == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE)
    mbedtls_ssl_send_alert_message(&c->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                   MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE);
  return conn_fail_mbed(c, ret);
}

int tls_conn_read(tls_conn *c, void *buf, size_t cap) {
  if (!c || (!buf && cap))
    return TR_EINVAL;
  if (c->failed)
    return TR_ETLS;
  if (!c->handshake_done)
    return TR_EINVAL;
  if (c->peer_closed)
    return TR_ECLOSED;
  if (cap > INT_MAX)
    cap = INT_MAX;
  size_t got = 0;
  while (got < cap) {
    size_t before = c->in.off;
    int ret = mbedtls_ssl_read(&c->ssl, (unsigned char *)buf + got, cap - got);
    if (ret > 0) {
      got += (size_t)ret;
      continue;
    }
    if (ret == 0 && c->in.off != before)
      continue; /* an empty record was consumed */
    if (ret == 0 || ret == MBEDTLS_ERR_SSL_WANT_READ ||
        ret == MBEDTLS_ERR_SSL_WANT_WRITE)
      break;
    if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
      c->peer_closed = true;
      return got ? (int)got : TR_ECLOSED;
    }
    /* Data decrypted before the bad record is still delivered; the failure
     * is reported by the next call. */
    int rc = conn_fail_mbed(c, ret);
    return got ? (int)got : rc;
  }
  return (int)got;
}

int tls_conn_write(tls_conn *c, const void *plain, size_t len) {
  if (!c || (!plain && len))
    return TR_EINVAL;
  if (c->failed)
    return TR_ETLS;
  if (!c->handshake_done)
    return TR_EINVAL;
  if (c->close_sent)
    return TR_ECLOSED;
  if (len == 0)
    return 0;
  /* One reservation for all the records, instead of a doubling per few. */
  int exp = mbedtls_ssl_get_record_expansion(&c->ssl);
  size_t nrec = len / TLS_RECORD_MAX + 1;
  if (exp > 0 && len < SIZE_MAX / 2 &&
      buf_reserve(&c->out, len + nrec * (size_t)exp, TLS_OUT_MIN) != 0)
    return TR_ENOMEM;
  const unsigned char *p = plain;
  while (len > 0) {
    size_t n = len < TLS_RECORD_MAX ? len : TLS_RECORD_MAX;
    int ret = mbedtls_ssl_write(&c->ssl, p, n);
    if (ret <= 0)
      return conn_fail_mbed(c, ret == 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : ret);
    p += ret;
    len -= (size_t)ret;
  }
  return 0;
}

int tls_conn_reserve(tls_conn *c, size_t plain_len) {
  if (!c || !c->handshake_done)
    return TR_EINVAL;
  int exp = mbedtls_ssl_get_record_expansion(&c->ssl);
  size_t nrec = plain_len / TLS_RECORD_MAX + 1;
  if (exp < 0 || plain_len > SIZE_MAX / 4)
    return TR_EINVAL;
  return buf_reserve(&c->out, plain_len + nrec * (size_t)exp, TLS_OUT_MIN);
}

int tls_conn_close_notify(tls_conn *c) {
  if (!c)
    return TR_EINVAL;
  if (c->failed)
    return TR_ETLS;
  if (c->close_sent)
    return 0;
  c->close_sent = true;
  if (!c->handshake_done)
    return 0; /* nothing to protect yet: the caller just closes */
  int ret = mbedtls_ssl_close_notify(&c->ssl);
  if (ret != 0 && ret != MBEDTLS_ERR_SSL_WANT_WRITE)
    return conn_fail_mbed(c, ret);
  return 0;
}

int tls_conn_take_out(tls_conn *c, uint8_t **buf, size_t *len) {
  if (!c || !buf || !len)
    return TR_EINVAL;
  *buf = NULL;
  *len = 0;
  if (c->out.len == 0)
    return 0; /* an empty buffer is kept for the next records */
  *buf = c->out.data; /* out.off is always 0: nothing is consumed in place */
  *len = c->out.len;
  c->out = (tls_buf){0};
  return 0;
}

/* ---- peer identity ------------------------------------------------------ */

static const mbedtls_x509_crt *peer_cert(tls_conn *c) {
  if (!c || !c->handshake_done)
    return NULL;
  return mbedtls_ssl_get_peer_cert(&c->ssl);
}

bool tls_conn_peer_is(tls_conn *c, const char *name) {
  return tls_crt_names(peer_cert(c), name);
}

tls_peer_role tls_conn_peer_role(tls_conn *c) {
  return tls_crt_role(peer_cert(c));
}

bool tls_conn_peer_revoked(tls_conn *c, const tls_config *cfg) {
  return c && c->handshake_done && cfg &&
         tls_crt_revoked(cfg, mbedtls_ssl_get_peer_cert(&c->ssl));
}

bool tls_conn_peer_may_be(tls_conn *c, const char *name) {
  if (!name) return false;
  const char *hash = strchr(name, '#');
  switch (tls_conn_peer_role(c)) {
  case TLS_PEER_NODE:
    return !hash && tls_conn_peer_is(c, name);
  case TLS_PEER_OPERATOR:
  case TLS_PEER_VIEWER: {
    if (!hash || hash == name || !hash[1]) return false;
    char base[256];
    size_t n = (size_t)(hash - name);
    if (n >= sizeof(base)) return false;
    memcpy(base, name, n);
    base[n] = '\0';
    return tls_conn_peer_is(c, base);
  }
  default:
    return false;
  }
}

const char *tls_conn_peer_cn(tls_conn *c) {
  if (!c)
    return "";
  if (c->cn_loaded)
    return c->cn;
  const mbedtls_x509_crt *crt = peer_cert(c);
  if (!crt)
    return "";
  for (const mbedtls_x509_name *a = &crt->subject; a; a = a->next) {
    if (!a->oid.p || MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &a->oid) != 0)
      continue;
    /* For log lines: truncated, with anything unprintable replaced. */
    size_t n = a->val.len < TLS_CN_MAX ? a->val.len : TLS_CN_MAX;
    for (size_t i = 0; i < n; i++) {
      unsigned char ch = a->val.p[i];
      c->cn[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    c->cn[n] = '\0';
    break;
  }
  c->cn_loaded = true;
  return c->cn;
}

tls_fail tls_conn_fail_reason(tls_conn *c) {
  return c && c->failed ? c->reason : TLS_FAIL_NONE;
}

const char *tls_conn_fail_detail(tls_conn *c) {
  return c && c->failed ? c->detail : "";
}

bool tls_conn_resumed(tls_conn *c) {
  return c && c->handshake_done && !c->full_handshake;
}

const char *tls_conn_ciphersuite(tls_conn *c) {
  if (!c || !c->handshake_done)
    return "";
  const char *s = mbedtls_ssl_get_ciphersuite(&c->ssl);
  return s ? s : "";
}

/* ---- sessions ----------------------------------------------------------- */

int tls_conn_save_session(tls_conn *c, tls_session **out) {
  if (!out)
    return TR_EINVAL;
  *out = NULL;
  if (!c || c->role != TLS_CLIENT || !c->handshake_done || c->failed)
    return TR_EINVAL;
  tls_session *s = calloc(1, sizeof *s);
  if (!s)
    return TR_ENOMEM;
  mbedtls_ssl_session_init(&s->s);
  int ret = mbedtls_ssl_get_session(&c->ssl, &s->s);
  if (ret != 0) {
    tls_session_free(s);
    return ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? TR_ENOMEM : TR_ETLS;
  }
  *out = s;
  return 0;
}

void tls_session_free(tls_session *s) {
  if (!s)
    return;
  mbedtls_ssl_session_free(&s->s);
  free(s);
}
