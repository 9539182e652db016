/* op_admin.c — the node's admin socket (cluster.h, op_admin_*): a Unix
 * domain socket, owner-only, where a program of the same user on the same
 * host (the troupe CLI) makes every operator request without a
 * certificate, a local node's included. Frames are a 4-byte big-endian
 * length and an OpRequest (OpReply back), the messages of the TLS path.
 * A connection is an operator named "admin" to the policy; its peer's uid
 * must be the node's (or root), checked on accept beside the socket's
 * 0600 mode. A cluster node answers through host_operator.c like any
 * operator link; a local node answers from here: its own service
 * (op_service.c) and the few verbs that read the cluster, for a cluster of
 * one. */
#define _GNU_SOURCE /* struct ucred, SO_PEERCRED */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <pb_encode.h>
#include <uv.h>

#include "eng_node.h"
#include "host.h"
#include "op_frame.h"

#define ADMIN_MAX_CONNS 16u
#define ADMIN_MAX_FRAME ((size_t)TR_PAYLOAD_MAX_DEFAULT + 65536u)
#define ADMIN_MAX_QUEUED ((size_t)8 << 20) /* written but not yet taken */

typedef struct admin_conn admin_conn;

struct op_admin {
  tr_node *node;
  cluster *c;          /* NULL: a local node (svc answers) */
  op_service *svc;     /* a local node's service */
  uv_pipe_t server;
  char *path;
  admin_conn *conns;
  uint32_t nconns;
  uint64_t seq, refused, started_ms;
  ratelog rl_refused;
  uint32_t handles;    /* open: the server and each connection */
  bool closing;
  op_admin_judge_fn judge; /* a local node's policy */
  void *judge_user;
};

struct admin_conn {
  uv_pipe_t pipe;
  op_admin *a;
  admin_conn *next, *prev;
  char name[32]; /* "admin#<n>" */
  uint8_t *buf;
  size_t len, cap;
  bool closing;
};

#ifndef TR_PAYLOAD_MAX_DEFAULT
#define TR_PAYLOAD_MAX_DEFAULT (1u << 20)
#endif

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- replies ------------------------------------------------------------------ */

typedef struct write_req {
  uv_write_t req;
  uint8_t bytes[];
} write_req;

static void on_written(uv_write_t *w, int status) {
  (void)status; /* a failed write: the read side sees the close */
  free(w);
}

/* r as one frame on the connection: 0, TR_EFULL when the peer is not
 * reading, TR_ECLOSED when it went. */
static int conn_send(void *user, troupe_OpReply *r) {
  admin_conn *k = user;
  if (k->closing) return TR_ECLOSED;
  if (uv_stream_get_write_queue_size((uv_stream_t *)&k->pipe) >
      ADMIN_MAX_QUEUED)
    return TR_EFULL;
  size_t len;
  if (!pb_get_encoded_size(&len, troupe_OpReply_fields, r) ||
      len > UINT32_MAX)
    return TR_EINVAL;
  write_req *w = malloc(sizeof(*w) + 4 + len);
  if (!w) return TR_ENOMEM;
  op_frame_put_len(w->bytes, len);
  pb_ostream_t out = pb_ostream_from_buffer(w->bytes + 4, len);
  if (!pb_encode(&out, troupe_OpReply_fields, r)) {
    free(w);
    return TR_EINVAL;
  }
  uv_buf_t b = uv_buf_init((char *)w->bytes, (unsigned)(4 + len));
  if (uv_write(&w->req, (uv_stream_t *)&k->pipe, &b, 1, on_written) != 0) {
    free(w);
    return TR_ECLOSED;
  }
  return 0;
}

/* The local service's send: to the connection named client. */
static int local_send(void *user, const char *client, troupe_OpReply *r) {
  op_admin *a = user;
  for (admin_conn *k = a->conns; k; k = k->next)
    if (strcmp(k->name, client) == 0) return conn_send(k, r);
  return TR_ECLOSED;
}

static int local_judge(void *user, const char *who, policy_role role,
                       policy_action act, const char *object,
                       const char *topic) {
  op_admin *a = user;
  return a->judge ? a->judge(a->judge_user, who, role, act, object, topic)
                  : 0;
}

/* ---- a local node's own answers: a cluster of one ------------------------------ */

typedef struct actors_arg {
  op_admin *a;
  troupe_OpReply *r;
  const char *client;
  uint64_t id;
} actors_arg;

static void actor_each(void *arg, const tr_actor_info *info) {
  actors_arg *x = arg;
  troupe_OpActor *o = op_service_actor_row(x->a->svc, x->client, x->r, x->id);
  o->has_id = o->has_node = true;
  snprintf(o->id, sizeof(o->id), "%s", info->id);
  snprintf(o->node, sizeof(o->node), "%s", tr_node_name(x->a->node));
}

static void local_answer(op_admin *a, const char *client,
                         const troupe_OpRequest *req) {
  troupe_OpReply *r = op_service_new_reply(a->svc);
  int status = 0;
  if (!r) {
    op_service_reply(a->svc, client, req->id, TR_ENOMEM, NULL, 0, false,
                     NULL, NULL);
    return;
  }
  const char *name = tr_node_name(a->node);
  tr_node_stats ns;
  tr_node_stats_get(a->node, &ns);
  switch (req->verb) {
  case troupe_OpVerb_OP_MEMBERS: {
    troupe_OpMember *m = &r->members[r->members_count++];
    *m = (troupe_OpMember)troupe_OpMember_init_zero;
    m->has_name = m->has_state = true;
    snprintf(m->name, sizeof(m->name), "%s", name);
    m->state = TR_MEMBER_ALIVE;
    break;
  }
  case troupe_OpVerb_OP_ACTORS:
    if (req->has_target && req->target[0] && strcmp(req->target, name) != 0) {
      status = TR_ENOTFOUND; /* a local node knows no other */
    } else {
      actors_arg x = {a, r, client, req->id};
      tr_node_actors(a->node, actor_each, &x);
    }
    break;
  case troupe_OpVerb_OP_HEALTH:
    r->has_health = true;
    r->health = (troupe_OpHealth)troupe_OpHealth_init_zero;
    r->health.has_ready = r->health.has_members_up = true;
    r->health.ready = tr_node_ready(a->node) == 1;
    r->health.members_up = 1;
    status = r->health.ready ? 0 : TR_ESTATE;
    break;
  case troupe_OpVerb_OP_INFO: {
    troupe_OpInfo *in = &r->info;
    r->has_info = true;
    *in = (troupe_OpInfo)troupe_OpInfo_init_zero;
    in->has_version = in->has_name = in->has_uptime_ms = true;
    in->has_members_alive = in->has_actors = in->has_links = true;
    snprintf(in->version, sizeof(in->version), "%s", TR_VERSION_STRING);
    snprintf(in->name, sizeof(in->name), "%s", name);
    uint64_t now = wall_ms();
    in->uptime_ms = now > a->started_ms ? now - a->started_ms : 0;
    in->members_alive = 1;
    in->actors = ns.actors;
    in->links = 0;
    break;
  }
  default: /* join, forget, session, inspect: a cluster's */
    status = TR_ESTATE;
    break;
  }
  op_service_send(a->svc, client, r, req->id, status, false);
  free(r);
}

/* ---- requests ----------------------------------------------------------------- */

static void conn_request(admin_conn *k, const uint8_t *body, size_t len) {
  op_admin *a = k->a;
  if (a->c) { /* a cluster node: as any operator's link */
    host_op_request(a->c, k->name, TLS_PEER_OPERATOR, body, len);
    return;
  }
  troupe_OpRequest req;
  wire_slice data;
  if (!op_request_decode(body, len, &req, &data)) {
    eng_log(a->node, TR_LOG_WARN, "op_request_rejected",
            "client=%s reason=malformed", k->name);
    return;
  }
  eng_log(a->node, TR_LOG_INFO, "op_request", "client=%s verb=%s target=%s",
          k->name, op_verb_name(req.verb), req.has_target ? req.target : "-");
  if (!op_service_handle(a->svc, k->name, "admin", false, &req, data))
    local_answer(a, k->name, &req);
}

/* ---- connections ----------------------------------------------------------------- */

/* One of a's handles has closed: a goes with the last, once freed. */
static void admin_handle_closed(op_admin *a) {
  if (--a->handles == 0 && a->closing) free(a);
}

static void conn_on_closed(uv_handle_t *h) {
  admin_conn *k = h->data;
  op_admin *a = k->a;
  free(k->buf);
  free(k);
  admin_handle_closed(a);
}

static void conn_close(admin_conn *k) {
  if (k->closing) return;
  k->closing = true;
  op_admin *a = k->a;
  if (k->prev)
    k->prev->next = k->next;
  else
    a->conns = k->next;
  if (k->next) k->next->prev = k->prev;
  a->nconns--;
  if (a->c)
    host_op_local_detach(a->c, k->name);
  else
    op_service_client_gone(a->svc, k->name);
  uv_close((uv_handle_t *)&k->pipe, conn_on_closed);
}

static void conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  admin_conn *k = h->data;
  (void)hint;
  if (k->cap - k->len < 16384) {
    size_t cap = k->cap ? k->cap * 2 : 65536;
    while (cap - k->len < 16384) cap *= 2;
    uint8_t *p = cap <= ADMIN_MAX_FRAME + 65536 ? realloc(k->buf, cap) : NULL;
    if (!p) {
      *buf = uv_buf_init(NULL, 0); /* UV_ENOBUFS: the connection closes */
      return;
    }
    k->buf = p;
    k->cap = cap;
  }
  *buf = uv_buf_init((char *)k->buf + k->len, (unsigned)(k->cap - k->len));
}

static void conn_on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  admin_conn *k = st->data;
  if (n < 0) {
    conn_close(k);
    return;
  }
  k->len += (size_t)n;
  size_t at = 0;
  while (k->len - at >= 4 && !k->closing) {
    const uint8_t *p = k->buf + at;
    size_t flen = op_frame_len(p);
    if (flen > ADMIN_MAX_FRAME) {
      eng_log(k->a->node, TR_LOG_WARN, "admin_frame_too_big",
              "client=%s len=%zu max=%zu", k->name, flen,
              (size_t)ADMIN_MAX_FRAME);
      conn_close(k);
      return;
    }
    if (k->len - at - 4 < flen) break;
    conn_request(k, p + 4, flen);
    at += 4 + flen;
  }
  if (k->closing) return;
  memmove(k->buf, k->buf + at, k->len - at);
  k->len -= at;
}

/* The peer's uid: the node's own, or root's. */
static bool peer_trusted(uv_pipe_t *p, unsigned *uid_out) {
  uv_os_fd_t fd;
  struct ucred cr;
  socklen_t len = sizeof(cr);
  if (uv_fileno((uv_handle_t *)p, &fd) != 0 ||
      getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
    return false;
  *uid_out = (unsigned)cr.uid;
  return cr.uid == geteuid() || cr.uid == 0;
}

static void refuse(op_admin *a, const char *why, unsigned uid) {
  uint64_t hits;
  a->refused++;
  if (ratelog_hit(&a->rl_refused, uv_now(tr_node_loop(a->node)), &hits))
    eng_log(a->node, TR_LOG_WARN, "admin_conn_refused",
            "reason=%s uid=%u max=%u refused=%llu", why, uid, ADMIN_MAX_CONNS,
            (unsigned long long)hits);
}

static void free_pipe(uv_handle_t *h) { free(h); }

static void on_connection(uv_stream_t *srv, int status) {
  op_admin *a = srv->data;
  if (status < 0 || a->closing) return;
  admin_conn *k = calloc(1, sizeof(*k));
  uv_pipe_t *spare = k ? NULL : malloc(sizeof(*spare));
  uv_pipe_t *p = k ? &k->pipe : spare;
  if (!p) return; /* out of memory: it waits in the backlog */
  uv_pipe_init(tr_node_loop(a->node), p, 0);
  if (uv_accept(srv, (uv_stream_t *)p) != 0) {
    uv_close((uv_handle_t *)p, free_pipe);
    return;
  }
  unsigned uid = 0;
  const char *why = !k                             ? "nomem"
                    : !peer_trusted(p, &uid)       ? "uid"
                    : a->nconns >= ADMIN_MAX_CONNS ? "max_conns"
                                                   : NULL;
  if (why) {
    refuse(a, why, uid);
    uv_close((uv_handle_t *)p, free_pipe); /* k (or spare) is the pipe */
    return;
  }
  k->a = a;
  k->pipe.data = k;
  snprintf(k->name, sizeof(k->name), "admin#%llu",
           (unsigned long long)++a->seq);
  if (a->c && host_op_local_attach(a->c, k->name, conn_send, k) != 0) {
    refuse(a, "nomem", uid);
    uv_close((uv_handle_t *)p, free_pipe);
    return;
  }
  k->next = a->conns;
  if (k->next) k->next->prev = k;
  a->conns = k;
  a->nconns++;
  a->handles++;
  eng_log(a->node, TR_LOG_DEBUG, "admin_conn", "client=%s uid=%u", k->name,
          uid);
  uv_read_start((uv_stream_t *)p, conn_alloc, conn_on_read);
}

/* ---- the socket -------------------------------------------------------------------- */

/* A socket file left by a node that died is taken over; one a live node
 * answers on, or anything that is not a socket, is not. */
static int clear_stale(const char *path, char *err, size_t errlen) {
  struct stat st;
  if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : TR_ESYS;
  if (!S_ISSOCK(st.st_mode)) {
    snprintf(err, errlen, "%s exists and is not a socket", path);
    return TR_EEXIST;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return TR_ESYS;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
  int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
  int e = errno;
  close(fd);
  if (rc == 0) {
    snprintf(err, errlen, "%s: another node answers there", path);
    return TR_EEXIST;
  }
  if (e != ECONNREFUSED) {
    snprintf(err, errlen, "%s: %s", path, strerror(e));
    return TR_ESYS;
  }
  return unlink(path) == 0 ? 0 : TR_ESYS;
}

int op_admin_new(op_admin **out, const op_admin_config *cfg, char *err,
                 size_t errlen) {
  *out = NULL;
  if (!cfg->path || !cfg->path[0] ||
      strlen(cfg->path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
    snprintf(err, errlen, "admin socket path empty or longer than %zu bytes",
             sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
    return TR_EINVAL;
  }
  int rc = clear_stale(cfg->path, err, errlen);
  if (rc != 0) {
    if (!err[0]) snprintf(err, errlen, "%s: %s", cfg->path, strerror(errno));
    return rc;
  }
  op_admin *a = calloc(1, sizeof(*a));
  if (!a || !(a->path = strdup(cfg->path))) {
    free(a);
    return TR_ENOMEM;
  }
  a->node = cfg->node;
  a->c = cfg->cluster;
  a->started_ms = wall_ms();
  if (!a->c) {
    op_service_config oc = {.node = cfg->node,
                            .max_subs = cfg->max_subs,
                            .send = local_send,
                            .judge = local_judge,
                            .inspect = cfg->inspect,
                            .user = a};
    a->judge = cfg->judge;
    a->judge_user = cfg->judge_user;
    if ((rc = op_service_new(&a->svc, &oc)) != 0) {
      free(a->path);
      free(a);
      return rc;
    }
  }
  uv_pipe_init(tr_node_loop(cfg->node), &a->server, 0);
  a->server.data = a;
  a->handles = 1;
  int e = uv_pipe_bind(&a->server, a->path);
  /* Owner only; the uid check on accept covers the moment before. */
  if (e == 0 && chmod(a->path, 0600) != 0) e = uv_translate_sys_error(errno);
  if (e == 0) e = uv_listen((uv_stream_t *)&a->server, 16, on_connection);
  if (e != 0) {
    snprintf(err, errlen, "%s: %s", a->path, uv_strerror(e));
    op_admin_free(a);
    return TR_ESYS;
  }
  eng_log(a->node, TR_LOG_INFO, "admin_socket", "path=%s", a->path);
  *out = a;
  return 0;
}

static void server_on_closed(uv_handle_t *h) {
  admin_handle_closed(h->data);
}

void op_admin_free(op_admin *a) {
  if (!a) return;
  a->closing = true;
  while (a->conns) conn_close(a->conns);
  op_service_free(a->svc);
  a->svc = NULL;
  if (a->path) unlink(a->path);
  free(a->path);
  a->path = NULL;
  uv_close((uv_handle_t *)&a->server, server_on_closed);
}

void op_admin_stats(const op_admin *a, uint32_t *conns, uint64_t *refused) {
  *conns = a ? a->nconns : 0;
  *refused = a ? a->refused : 0;
}
