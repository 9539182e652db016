/* mgr.c — the link manager, the top of transport/link: the listener, the
 * per-iteration flush of every link with something to write, pausing reads
 * on every connection, closing links, and the services of mgr_svc.h
 * (logging, the chunk pool, randomness). */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link_int.h"

void mgr_log(link_mgr *m, tr_log_level level, const char *event,
             const char *fmt, ...) {
  if (!m->cfg.log || level > m->cfg.log_level) return;
  char fields[512];
  va_list ap;
  va_start(ap, fmt);
  tr_log_vfields(fields, sizeof(fields), fmt, ap);
  va_end(ap);
  m->cfg.log(m->cfg.log_user, level, event, fields);
}

/* xorshift64*, seeded from the kernel: for jitter, not for secrets. */
uint64_t mgr_random(link_mgr *m) {
  m->rng ^= m->rng >> 12;
  m->rng ^= m->rng << 25;
  m->rng ^= m->rng >> 27;
  return m->rng * 0x2545F4914F6CDD1Dull;
}

void mgr_hold(link_mgr *m) { m->open++; }

void mgr_release(link_mgr *m) {
  if (--m->open == 0 && m->freeing) {
    while (m->free_chunks) {
      link_chunk *c = m->free_chunks;
      m->free_chunks = c->next;
      free(c);
    }
    void (*on_freed)(void *) = m->cfg.ops.on_freed;
    void *user = m->cfg.user;
    free(m->name);
    free(m->future);
    free(m);
    if (on_freed) on_freed(user);
  }
}

static void mgr_on_handle_close(uv_handle_t *h) { mgr_release(h->data); }

link_chunk *mgr_chunk_get(link_mgr *m, size_t min_cap) {
  if (min_cap <= LINK_CHUNK_SIZE && m->free_chunks) {
    link_chunk *c = m->free_chunks;
    m->free_chunks = c->next;
    m->nfree_chunks--;
    c->next = NULL;
    c->len = 0;
    c->last_seq = 0;
    return c;
  }
  size_t cap = min_cap > LINK_CHUNK_SIZE ? min_cap : LINK_CHUNK_SIZE;
  link_chunk *c = malloc(sizeof(*c) + cap);
  if (!c) return NULL;
  c->next = NULL;
  c->len = 0;
  c->cap = cap;
  c->last_seq = 0;
  return c;
}

void mgr_chunk_put(link_mgr *m, link_chunk *c) {
  if (c->cap != LINK_CHUNK_SIZE || m->nfree_chunks >= LINK_CHUNK_CACHE) {
    free(c);
    return;
  }
  c->next = m->free_chunks;
  m->free_chunks = c;
  m->nfree_chunks++;
}

/* Every link that queued something in this iteration writes once. The list
 * is detached first: a link that hit LINK_FLUSH_MAX marks itself dirty
 * again and waits for the next iteration, so one link cannot hold the loop
 * for its whole queue. */
static void mgr_flush_dirty(link_mgr *m) {
  peer_link *lk = m->dirty_head;
  m->dirty_head = NULL;
  while (lk) {
    peer_link *next = lk->dirty_next;
    lk->dirty_next = NULL;
    lk->dirty = false;
    link_flush(lk);
    lk = next;
  }
  if (!m->dirty_head && m->flush_active) {
    uv_prepare_stop(&m->prepare);
    uv_check_stop(&m->check);
    m->flush_active = false;
  }
}

void link_mgr_flush_queued(link_mgr *m) {
  peer_link *lk = m->dirty_head;
  m->dirty_head = NULL;
  while (lk) {
    peer_link *next = lk->dirty_next;
    lk->dirty_next = NULL;
    lk->dirty = false;
    if (lk->q_head || lk->ctl.len)
      link_flush(lk);
    else
      mgr_mark_dirty(lk); /* an ack alone waits for the iteration's end */
    lk = next;
  }
}

static void mgr_on_prepare(uv_prepare_t *h) { mgr_flush_dirty(h->data); }
static void mgr_on_check(uv_check_t *h) { mgr_flush_dirty(h->data); }

void mgr_mark_dirty(peer_link *lk) {
  link_mgr *m = lk->mgr;
  if (lk->dirty || lk->closing) return;
  lk->dirty = true;
  lk->dirty_next = m->dirty_head;
  m->dirty_head = lk;
  if (!m->flush_active && !m->freeing) {
    /* prepare: after actors ran, before blocking; check: after I/O. */
    uv_prepare_start(&m->prepare, mgr_on_prepare);
    uv_check_start(&m->check, mgr_on_check);
    m->flush_active = true;
  }
}

/* A write to a socket the peer has closed raises SIGPIPE, whose default
 * action kills the process; libuv leaves it to the application. Links
 * ignore it when nobody chose otherwise (the write then fails with EPIPE
 * and the connection closes as any other I/O error). */
static void mgr_ignore_sigpipe(void) {
  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL &&
      !(sa.sa_flags & SA_SIGINFO))
    signal(SIGPIPE, SIG_IGN);
}

int link_mgr_new(link_mgr **out, const link_config *cfg) {
  if (!out || !cfg || !cfg->loop || !cfg->tls || !cfg->node_name ||
      !cfg->node_name[0] || strlen(cfg->node_name) > TR_ID_MAX)
    return TR_EINVAL;
  *out = NULL;
  mgr_ignore_sigpipe();
  link_mgr *m = calloc(1, sizeof(*m));
  if (!m) return TR_ENOMEM;
  m->cfg = *cfg;
  m->wire_version = WIRE_VERSION;
  link_config *c = &m->cfg;
  if (!c->max_frame) c->max_frame = WIRE_MAX_FRAME_DEFAULT;
  if (c->max_frame < WIRE_MAX_FRAME_MIN) c->max_frame = WIRE_MAX_FRAME_MIN;
  if (!c->queue_max_bytes) c->queue_max_bytes = 64u << 20;
  if (!c->queue_max_frames) c->queue_max_frames = 1u << 20;
  if (!c->resume_window_ms) c->resume_window_ms = 10000;
  if (!c->handshake_timeout_ms) c->handshake_timeout_ms = 5000;
  if (!c->max_dials) c->max_dials = 8;
  if (!c->reconnect_min_ms) c->reconnect_min_ms = 50;
  if (!c->reconnect_max_ms) c->reconnect_max_ms = 5000;
  if (!c->ping_interval_ms) c->ping_interval_ms = 1000;
  if (!c->max_pending_conns) c->max_pending_conns = 128;
  if (!c->max_op_conns) c->max_op_conns = 64;
  if (!c->op_idle_timeout_ms) c->op_idle_timeout_ms = 30000;
  if (!c->memory_budget) c->memory_budget = (size_t)256 << 20;
  m->name = strdup(cfg->node_name);
  if (!m->name) {
    free(m);
    return TR_ENOMEM;
  }
  c->node_name = m->name;
  m->loop = cfg->loop;
  if (uv_random(NULL, NULL, &m->rng, sizeof(m->rng), 0, NULL) != 0 || !m->rng)
    m->rng = uv_hrtime() ^ (uint64_t)(uintptr_t)m ^ 0x9E3779B97F4A7C15ull;
  uv_prepare_init(m->loop, &m->prepare);
  uv_check_init(m->loop, &m->check);
  m->prepare.data = m->check.data = m;
  m->env = (conn_env){.mgr = m, .cfg = &m->cfg, .st = &m->st};
  m->open = 2;
  *out = m;
  return 0;
}

static void mgr_on_connection(uv_stream_t *server, int status) {
  link_mgr *m = server->data;
  if (status < 0) {
    mgr_log(m, TR_LOG_WARN, "accept_failed", "error=%s", uv_strerror(status));
    return;
  }
  accept_conn(m);
}

/* "host:port", "[v6]:port", "*:port" → a socket address. */
static int parse_listen(const char *hostport, struct sockaddr_storage *ss) {
  const char *colon = strrchr(hostport, ':');
  if (!colon || !colon[1]) return TR_EINVAL;
  char host[256];
  size_t hl = (size_t)(colon - hostport);
  if (hl >= sizeof(host)) return TR_EINVAL;
  memcpy(host, hostport, hl);
  host[hl] = '\0';
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || port < 0 || port > 65535) return TR_EINVAL;
  if (hl == 0 || strcmp(host, "*") == 0) strcpy(host, "0.0.0.0");
  if (host[0] == '[') {
    size_t l = strlen(host);
    if (l < 3 || host[l - 1] != ']') return TR_EINVAL;
    host[l - 1] = '\0';
    return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)ss) == 0
               ? 0
               : TR_EINVAL;
  }
  return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0
             ? 0
             : TR_EINVAL;
}

int link_mgr_listen(link_mgr *m, const char *hostport) {
  if (!m || !hostport || m->listening) return TR_EINVAL;
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  int rc = parse_listen(hostport, &ss);
  if (rc != 0) return rc;
  uv_tcp_init(m->loop, &m->listener);
  m->listener.data = m;
  m->listening = true;
  m->open++;
  int err = uv_tcp_bind(&m->listener, (const struct sockaddr *)&ss, 0);
  if (err == 0)
    err = uv_listen((uv_stream_t *)&m->listener, 128, mgr_on_connection);
  if (err != 0) {
    mgr_log(m, TR_LOG_ERROR, "listen_failed", "addr=%s error=%s", hostport,
            uv_strerror(err));
    m->listening = false;
    uv_close((uv_handle_t *)&m->listener, mgr_on_handle_close);
    return TR_ESYS;
  }
  return 0;
}

int link_mgr_port(link_mgr *m) {
  if (!m || !m->listening) return TR_EINVAL;
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  if (uv_tcp_getsockname(&m->listener, (struct sockaddr *)&ss, &len) != 0)
    return TR_ESYS;
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int link_mgr_emulate(link_mgr *m, uint32_t wire_version, const uint8_t *future,
                     size_t len) {
  if (!m || !wire_version || (len && !future)) return TR_EINVAL;
  uint8_t *copy = NULL;
  if (len && !(copy = malloc(len))) return TR_ENOMEM;
  if (len) memcpy(copy, future, len);
  free(m->future);
  m->future = copy;
  m->future_len = len;
  m->wire_version = wire_version;
  return 0;
}

void link_mgr_free(link_mgr *m) {
  if (!m) return;
  m->freeing = true;
  peer_link *lk, *tmp;
  HASH_ITER(hh, m->links, lk, tmp) link_free_now(lk, false);
  /* Closing frees nothing yet (close callbacks do), so iterating is safe. */
  for (link_conn *c = m->env.conns; c; c = c->next)
    conn_close(c, LINK_CLOSE_LOCAL);
  if (m->listening) {
    m->listening = false;
    uv_close((uv_handle_t *)&m->listener, mgr_on_handle_close);
  }
  uv_close((uv_handle_t *)&m->prepare, mgr_on_handle_close);
  uv_close((uv_handle_t *)&m->check, mgr_on_handle_close);
}

/* Here rather than in link.c: a link knows nothing of the seed attempts
 * that found it, so the manager drops them. */
void link_close(peer_link *lk) {
  if (!lk) return;
  link_mgr *m = lk->mgr;
  link_free_now(lk, true);
  seed_drop_link(m, lk);
}

void link_mgr_pause_reads(link_mgr *m, bool pause) {
  if (m->env.reads_paused == pause) return;
  m->env.reads_paused = pause;
  /* Closing frees nothing yet, and a connection made meanwhile goes in
   * front: iterating is safe. */
  for (link_conn *c = m->env.conns; c; c = c->next) conn_pause_reads(c, pause);
}

uint32_t link_mgr_set_tls(link_mgr *m, tls_config *tls) {
  m->cfg.tls = tls;
  /* A closed connection stays on the list until its handles have closed,
   * after this returns: next stays valid. */
  uint32_t n = 0;
  for (link_conn *c = m->env.conns, *next; c; c = next) {
    next = c->next;
    if (c->st == CONN_CLOSED || !tls_conn_peer_revoked(c->tls, tls)) continue;
    mgr_log(m, TR_LOG_WARN, "peer_revoked", "peer=%s addr=%s",
            c->peer ? c->peer : "?", c->addr ? c->addr : "?");
    conn_refuse(c, LINK_CLOSE_REVOKED, TLS_FAIL_REVOKED,
                "its certificate is revoked (reloaded revocation list)");
    n++;
  }
  return n;
}

void link_mgr_set_log_level(link_mgr *m, tr_log_level level) {
  m->cfg.log_level = level;
}

void link_mgr_get_stats(link_mgr *m, link_mgr_stats *out) {
  *out = m->st;
  out->links = HASH_COUNT(m->links);
  uint32_t n = 0;
  for (link_conn *c = m->env.conns; c; c = c->next) n++;
  out->conns = n;
  out->memory_used = m->env.mem_used;
  out->memory_budget = m->cfg.memory_budget;
  out->pending = m->env.npending;
  out->op_conns = m->nop_up;
  out->dialing = m->ndialing;
  n = 0;
  for (peer_link *lk = m->dial_wait_head; lk; lk = lk->dial_next) n++;
  out->dials_waiting = n;
}
