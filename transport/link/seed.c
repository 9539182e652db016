/* seed.c — cluster frames sent to an address whose node is not known yet
 * (SWIM seeds): the attempt, how its hello turns it into, or folds it into,
 * the named peer's link, and the report when it fails.
 *
 * Design notes. A seed attempt is a link_seed owning one dialing
 * connection and holding its frames; it is not a peer_link. A placeholder
 * link under a reserved key would carry a send stream, a resume window and
 * timers that mean nothing before the peer is known, and would show in
 * link_find and the link count; a connection already has the only
 * lifecycle a seed needs (a handshake timeout, close callbacks).
 *
 * The hello a dialer sends carries the link's stream state (its session,
 * what it received), and the dialer speaks first, before the peer's hello
 * names it. The certificate, though, is known when TLS completes, and it
 * must name the node the hello will claim: so at that point the seed binds
 * to the link of the node its certificate names, if one exists, and its
 * hello is that link's, exactly as if the link had dialed. After the hello
 * the connection is then just another of that link's, and the simultaneous-
 * dial tie-break decides between it and any other, the same way at both
 * ends. With no link yet, the hello carries a fresh session, which the
 * link created at the peer's hello adopts. */
#include <stdlib.h>
#include <string.h>

#include "link_int.h"

/* A seed attempt, from link_send_seed until its hello hands the connection
 * to a link or the connection closes. */
struct link_seed {
  link_mgr *mgr;
  link_conn *conn;
  char *addr;
  link_frames frames;
  uint64_t session; /* our session in its hello when lk is NULL */
  /* The link of the node the certificate names, if one existed at TLS;
   * link_close of it drops the attempt (seed_drop_link). */
  peer_link *lk;
  bool self;   /* the certificate is ours: we dialed ourselves */
  bool report; /* the dial started: a failure goes to on_seed_failed */
  link_seed *next, *prev; /* mgr->seeds */
};

static const conn_ops seed_conn_ops;

static link_seed *seed_find(link_mgr *m, const char *addr) {
  for (link_seed *s = m->seeds; s; s = s->next)
    if (strcmp(s->addr, addr) == 0) return s;
  return NULL;
}

static void seed_unlink(link_seed *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    s->mgr->seeds = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
}

static void seed_free(link_seed *s) {
  link_frames_free(&s->frames);
  free(s->addr);
  free(s);
}

int link_send_seed(link_mgr *m, const char *addr, troupe_FrameKind kind,
                   const void *msg, const pb_msgdesc_t *fields) {
  if (!m || !addr || !fields || (unsigned)kind < 16 || m->freeing ||
      conn_check_addr(addr) != 0)
    return TR_EINVAL;
  link_seed *s = seed_find(m, addr);
  if (s) return link_frames_add(m, &s->frames, kind, msg, fields);

  s = calloc(1, sizeof(*s));
  if (!s) return TR_ENOMEM;
  s->mgr = m;
  s->session = link_new_session(m);
  s->addr = strdup(addr);
  int rc = s->addr ? link_frames_add(m, &s->frames, kind, msg, fields)
                   : TR_ENOMEM;
  if (rc == 0 && !(s->conn = conn_new(&m->env, true, &seed_conn_ops, s)))
    rc = TR_ENOMEM;
  if (rc != 0) {
    seed_free(s); /* not an attempt yet: nothing to count */
    return rc;
  }
  s->next = m->seeds;
  if (m->seeds) m->seeds->prev = s;
  m->seeds = s;
  conn_set_names(s->conn, "?seed", addr);
  mgr_log(m, TR_LOG_DEBUG, "seed_dial", "addr=%s", addr);
  /* On failure the attempt is closed, counted and dropped already (s is
   * gone), and not reported: this call fails instead. */
  rc = conn_dial(s->conn, addr);
  if (rc == 0) s->report = true;
  return rc;
}

/* TLS is done: tells a seed that reached this node itself, or binds it to
 * the link of the node its certificate names, if there is one; then our
 * hello goes. */
static void seed_tls_done(void *owner, link_conn *c) {
  link_seed *s = owner;
  link_mgr *m = s->mgr;
  const char *cn = tls_conn_peer_cn(c->tls);
  if (strcmp(cn, m->name) == 0 && tls_conn_peer_is(c->tls, m->name)) {
    /* Our hello, naming us, lets the other end (us) tell it too; however
     * the connection then ends, it ends as a self connection. */
    s->self = true;
    conn_close_as(c, LINK_CLOSE_SELF);
  } else {
    peer_link *lk = link_find(m, cn);
    if (lk && !lk->closing && tls_conn_peer_is(c->tls, cn)) {
      s->lk = lk;
      conn_set_names(c, lk->peer, NULL);
      c->io = &lk->st;
      link_save_tls_session(lk, c);
    }
  }
  hello_send(m, c, s->lk, s->session);
}

/* The hello h passed the checks: the frames and the connection go to the
 * named peer's link, made if new. */
static void seed_hand_over(link_seed *s, link_conn *c, const troupe_Hello *h) {
  link_mgr *m = s->mgr;
  peer_link *lk = s->lk;
  bool created = false, adopt = true;
  if (!lk) {
    lk = link_find(m, h->node);
    if (lk) {
      /* The link appeared (the peer dialed us) while our hello, with a
       * fresh session, was on its way: this connection's stream is not the
       * link's, so it carries nothing. Rare; the frames still go. */
      adopt = false;
    } else {
      lk = link_create(m, h->node);
      if (!lk) {
        conn_close(c, LINK_CLOSE_LOCAL); /* still a seed: counted there */
        return;
      }
      lk->my_session = s->session;
      created = true;
    }
  }
  /* A seed answering again with nothing new (the periodic re-resolution)
   * is not news. */
  mgr_log(m, created ? TR_LOG_INFO : TR_LOG_DEBUG, "seed_answered",
          "addr=%s peer=%s new_link=%d",
          s->addr, lk->peer, created);
  if (!lk->addr) {
    link_set_addr(lk, s->addr); /* the link redials the seed address */
    s->addr = NULL;
  }
  if (link_ctl_take(lk, &s->frames) != 0)
    mgr_log(m, TR_LOG_WARN, "seed_frames_dropped", "peer=%s reason=no_memory",
            lk->peer);
  seed_unlink(s); /* handed over: no longer a seed, whatever follows */
  seed_free(s);
  if (!adopt) {
    conn_set_owner(c, NULL, NULL);
    conn_close(c, LINK_CLOSE_DUPLICATE);
    link_open(m, lk->peer, NULL, NULL); /* dials now if it just got addr */
    return;
  }
  link_adopt(lk, c);
  conn_set_up(c);
  if (created && m->cfg.ops.on_accept) m->cfg.ops.on_accept(m->cfg.user, lk);
  if (c->st == CONN_CLOSED || lk->closing) return;
  link_conn_up(lk, c, h);
}

static void seed_readable(void *owner, link_conn *c) {
  link_seed *s = owner;
  troupe_Hello h;
  if (hello_read(s->mgr, c, s->lk ? s->lk->peer : NULL, &h) == 1)
    seed_hand_over(s, c, &h);
}

static link_stage seed_stage(conn_state st) {
  switch (st) {
  case CONN_RESOLVING:
    return LINK_STAGE_RESOLVE;
  case CONN_CONNECTING:
    return LINK_STAGE_CONNECT;
  case CONN_TLS:
    return LINK_STAGE_TLS;
  default:
    return LINK_STAGE_HELLO;
  }
}

static void seed_report(link_seed *s, const conn_end *end) {
  /* The _r forms: uv_err_name leaks for codes it does not know. */
  char name[32] = "", text[128] = "";
  if (end->uv_error) {
    uv_err_name_r(end->uv_error, name, sizeof(name));
    uv_strerror_r(end->uv_error, text, sizeof(text));
  }
  link_seed_failure why = {
      .reason = end->reason,
      .stage = seed_stage(end->stage),
      .uv_error = end->uv_error,
      .uv_error_name = name,
      .uv_error_message = text,
      .tls = end->tls,
      .tls_detail = end->detail,
      .refused_by = end->refused_by,
  };
  link_mgr *m = s->mgr;
  m->cfg.ops.on_seed_failed(m->cfg.user, s->addr, &why);
}

/* The connection closed before its hello handed it over: count, tell, drop. */
static void seed_closed(void *owner, link_conn *c, const conn_end *end) {
  link_seed *s = owner;
  link_mgr *m = s->mgr;
  seed_unlink(s);
  if (!m->freeing) {
    bool self = s->self || end->reason == LINK_CLOSE_SELF;
    if (self)
      m->st.seed_self++;
    else
      m->st.seed_failed++;
    mgr_log(m, self ? TR_LOG_DEBUG : TR_LOG_INFO, "seed_dropped",
            "addr=%s reason=%s frames=%u", s->addr,
            link_close_reason_name(end->reason), s->frames.n);
  }
  if (s->lk) link_conn_gone(s->lk, c);
  if (!m->freeing && s->report && m->cfg.ops.on_seed_failed)
    seed_report(s, end);
  seed_free(s);
}

static const conn_ops seed_conn_ops = {
    .on_tls_done = seed_tls_done,
    .on_readable = seed_readable,
    .on_closed = seed_closed,
};

void seed_drop_link(link_mgr *m, peer_link *lk) {
  for (link_seed *s = m->seeds; s;) {
    if (s->lk != lk) {
      s = s->next;
      continue;
    }
    s->lk = NULL;
    conn_close(s->conn, LINK_CLOSE_LOCAL);
    s = m->seeds; /* closing unlinked s, and on_seed_failed may do more */
  }
}
