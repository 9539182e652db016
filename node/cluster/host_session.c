/* host_session.c — inspector sessions (troupe_inspect.h). An operator or
 * viewer client asks for one (OP_SESSION) over its TLS link; the node
 * answers with a token that says who the certificate named, its role and
 * when it expires, sealed with HMAC-SHA-256 under a key the process made
 * at start (so a restart ends every session). The token, in hex:
 *
 *   [1: version 1][1: 'o' operator | 'v' viewer][8: expiry, unix ms, big
 *   endian][the client's name][16: the seal over everything before]
 *
 * An inspector checks the token, and acts as the session's operator: the
 * node's policy judges the operator's name with role operator, as it
 * judges the operator's own requests (host_operator.c). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "host.h"

#define SESSION_VERSION 1
#define SESSION_SEAL 16
#define SESSION_HEAD 10 /* version, role, expiry */

int host_session_init(cluster *c) {
  int rc = uv_random(NULL, NULL, c->session_key, sizeof(c->session_key), 0,
                     NULL);
  return rc == 0 ? 0 : TR_ESYS;
}

static uint64_t unix_ms(void) {
  uv_timeval64_t t;
  if (uv_gettimeofday(&t) != 0) return 0;
  return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_usec / 1000u;
}

static int seal(cluster *c, const uint8_t *raw, size_t len,
                uint8_t out[SESSION_SEAL]) {
  uint8_t mac[32];
  int rc = tls_hmac(c->session_key, sizeof(c->session_key), raw, len, mac);
  if (rc == 0) memcpy(out, mac, SESSION_SEAL);
  return rc;
}

/* The token for client name[0..nlen), in hex, into hex (cap bytes, NUL
 * included): 0, TR_EINVAL (a bad name, or cap too small), TR_ETLS. */
static int session_make(cluster *c, const char *name, size_t nlen,
                        bool operator, char *hex, size_t cap) {
  uint8_t raw[SESSION_HEAD + TR_ID_MAX + SESSION_SEAL];
  if (nlen == 0 || nlen > TR_ID_MAX || memchr(name, '#', nlen) ||
      cap < 2 * (SESSION_HEAD + nlen + SESSION_SEAL) + 1)
    return TR_EINVAL;
  uint64_t expires = unix_ms() + TR_SESSION_TTL_MS;
  raw[0] = SESSION_VERSION;
  raw[1] = operator ? 'o' : 'v';
  for (int i = 0; i < 8; i++) raw[2 + i] = (uint8_t)(expires >> (56 - 8 * i));
  memcpy(raw + SESSION_HEAD, name, nlen);
  size_t len = SESSION_HEAD + nlen;
  if (seal(c, raw, len, raw + len) != 0) return TR_ETLS;
  len += SESSION_SEAL;
  for (size_t i = 0; i < len; i++) snprintf(hex + 2 * i, 3, "%02x", raw[i]);
  return 0;
}

void host_session_mint(cluster *c, const char *client, tls_peer_role role,
                       uint64_t id) {
  /* The link is named "NAME#session": the certificate's name is NAME. */
  size_t nlen = strcspn(client, "#");
  char hex[2 * (SESSION_HEAD + TR_ID_MAX + SESSION_SEAL) + 1];
  int rc = session_make(c, client, nlen, role == TLS_PEER_OPERATOR, hex,
                        sizeof(hex));
  if (rc != 0) {
    host_op_status(c, client, id, rc);
    return;
  }
  host_op_body(c, client, id, hex, strlen(hex));
  host_log(c, TR_LOG_INFO, "inspector_session", "client=%.*s role=%s",
           (int)nlen, client, role == TLS_PEER_OPERATOR ? "operator"
                                                        : "viewer");
}

int cluster_session_issue(cluster *c, const char *name, bool operator,
                          char *token, size_t cap) {
  return session_make(c, name, strnlen(name, TR_ID_MAX + 1), operator, token,
                      cap);
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  return -1;
}

int cluster_session_check(cluster *c, const char *token, tr_session *out) {
  memset(out, 0, sizeof(*out));
  size_t hlen = strnlen(token, TR_SESSION_TOKEN_MAX + 1);
  uint8_t raw[SESSION_HEAD + TR_ID_MAX + SESSION_SEAL];
  if (hlen % 2 || hlen / 2 > sizeof(raw) ||
      hlen / 2 < SESSION_HEAD + 1 + SESSION_SEAL)
    return TR_EPERM;
  size_t len = hlen / 2;
  for (size_t i = 0; i < len; i++) {
    int hi = hexval(token[2 * i]), lo = hexval(token[2 * i + 1]);
    if (hi < 0 || lo < 0) return TR_EPERM;
    raw[i] = (uint8_t)(hi * 16 + lo);
  }
  uint8_t want[SESSION_SEAL];
  len -= SESSION_SEAL;
  if (seal(c, raw, len, want) != 0) return TR_EPERM;
  uint8_t diff = 0; /* in constant time */
  for (size_t i = 0; i < SESSION_SEAL; i++) diff |= want[i] ^ raw[len + i];
  if (diff || raw[0] != SESSION_VERSION || (raw[1] != 'o' && raw[1] != 'v'))
    return TR_EPERM;
  uint64_t expires = 0;
  for (int i = 0; i < 8; i++) expires = expires << 8 | raw[2 + i];
  if (expires <= unix_ms()) return TR_EPERM;
  memcpy(out->name, raw + SESSION_HEAD, len - SESSION_HEAD);
  out->name[len - SESSION_HEAD] = '\0';
  out->operator = raw[1] == 'o';
  out->expires_ms = expires;
  return 0;
}

/* The session's operator may do action on id: 0 or TR_EPERM (logged). */
static int session_judge(cluster *c, const char *token, policy_action a,
                         const char *action, const char *id) {
  tr_session s;
  int rc = cluster_session_check(c, token, &s);
  if (rc == 0 && !s.operator) rc = TR_EPERM;
  if (rc == 0 && id[0] == '$') rc = TR_EPERM; /* the node's own actors */
  if (rc == 0)
    rc = host_policy_check(c, s.name, POLICY_ROLE_OPERATOR, a, id, NULL);
  if (rc != 0) c->st.op_denied++;
  host_log(c, rc == 0 ? TR_LOG_INFO : TR_LOG_WARN, "inspector_action",
           "client=%s role=%s action=%s target=%s result=%s",
           s.name[0] ? s.name : "-",
           s.name[0] ? (s.operator ? "operator" : "viewer") : "none", action,
           id, rc == 0 ? "allowed" : "denied");
  return rc;
}

int cluster_session_stop(cluster *c, const char *token, const char *id) {
  int rc = session_judge(c, token, POLICY_STOP, "stop", id);
  return rc != 0 ? rc : eng_stop_actor(c->node, id);
}

int cluster_session_send(cluster *c, const char *token, const char *to,
                         const void *data, size_t len) {
  int rc = session_judge(c, token, POLICY_SEND, "send", to);
  return rc != 0 ? rc : eng_send_judged(c->node, to, data, len);
}

/* ---- an ask as the session's operator ---------------------------------------- */

/* It runs as a node-internal actor ("$ui.<n>", never in the registry) that
 * asks and hands the reply (or the ask's failure) to the caller, then
 * stops. A cancelled one (the caller went away) still waits for its reply
 * but tells no one. */
struct session_ask {
  cluster *c;
  session_ask *next, *prev; /* c->session_asks, while it runs */
  uint64_t handle;
  char self[TR_ID_MAX + 1];
  tr_session_reply_fn fn;
  void *arg;
};

typedef struct ask_start {
  cluster *c;
  const char *to;
  const void *data;
  size_t len;
  uint32_t timeout_ms;
  tr_session_reply_fn fn;
  void *arg;
  uint64_t handle;
  int rc; /* the ask's, when init fails */
} ask_start;

static int sask_init(tr_ctx *ctx, void *state, const void *arg) {
  session_ask *a = state;
  ask_start *s = (ask_start *)arg;
  int rc = tr_ask(ctx, s->to, s->data, s->len, s->timeout_ms, NULL);
  if (rc != 0) { /* the spawn fails (TR_EINIT): no deinit */
    s->rc = rc;
    return rc;
  }
  a->c = s->c;
  a->handle = s->handle;
  a->fn = s->fn;
  a->arg = s->arg;
  snprintf(a->self, sizeof(a->self), "%s", tr_self(ctx));
  a->next = a->c->session_asks;
  if (a->next) a->next->prev = a;
  a->c->session_asks = a;
  return 0;
}

static void sask_deinit(tr_ctx *ctx, void *state) {
  (void)ctx;
  session_ask *a = state;
  if (a->prev) a->prev->next = a->next;
  else a->c->session_asks = a->next;
  if (a->next) a->next->prev = a->prev;
  if (a->fn) a->fn(a->arg, TR_ECLOSED, NULL, NULL, NULL, 0); /* stopped */
}

static int sask_receive(tr_ctx *ctx, void *state, const tr_envelope *env) {
  session_ask *a = state;
  if (env->type != TR_MSG_REPLY) return 0;
  tr_session_reply_fn fn = a->fn;
  a->fn = NULL; /* told once */
  if (fn) fn(a->arg, env->status, env->sender, env->node, env->data, env->len);
  return tr_stop(ctx);
}

static const tr_actor_type sask_type = {.name = "$ui-ask",
                                        .state_size = sizeof(session_ask),
                                        .init = sask_init,
                                        .receive = sask_receive,
                                        .deinit = sask_deinit};

int cluster_session_ask(cluster *c, const char *token, const char *to,
                        const void *data, size_t len, uint32_t timeout_ms,
                        tr_session_reply_fn fn, void *arg,
                        uint64_t *handle) {
  int rc = session_judge(c, token, POLICY_ASK, "ask", to);
  if (rc != 0) return rc;
  char id[32];
  ask_start s = {c, to, data, len, timeout_ms, fn, arg, ++c->session_seq, 0};
  snprintf(id, sizeof(id), "$ui.%" PRIu64, s.handle);
  rc = eng_spawn_system(c->node, &sask_type, id, &s);
  if (rc == 0 && handle) *handle = s.handle;
  return rc == TR_EINIT ? s.rc : rc;
}

void cluster_session_ask_cancel(cluster *c, uint64_t handle) {
  for (session_ask *a = c->session_asks; a; a = a->next)
    if (a->handle == handle) a->fn = NULL;
}
