/* seed.c — cluster frames sent to an address whose node is not known yet
 * (SWIM seeds): the attempt, and how its hello turns it into, or folds it
 * into, the named peer's link.
 *
 * Design notes. A seed attempt is a dialing link_conn with seed_addr set,
 * holding its frames; it is not a peer_link. A placeholder link under a
 * reserved key would carry a send stream, a resume window and timers that
 * mean nothing before the peer is known, and would show in link_find and
 * the link count; a connection already has the only lifecycle a seed
 * needs (a handshake timeout, close callbacks), so a seed is one.
 *
 * The hello a dialer sends carries the link's stream state (its session,
 * what it received), and the dialer speaks first, before the peer's hello
 * names it. The certificate, though, is known when TLS completes, and it
 * must name the node the hello will claim: so at that point the seed binds
 * to the link of the node its certificate names, if one exists, and its
 * hello is that link's, exactly as if the link had dialed. After the hello
 * it is then just another connection of that link, and the simultaneous-
 * dial tie-break decides between it and any other, the same way at both
 * ends. With no link yet, the hello carries a fresh session, which the
 * link created at the peer's hello adopts. */
#include <stdlib.h>
#include <string.h>

#include "link_int.h"

static link_conn *seed_find(link_mgr *m, const char *addr) {
  for (link_conn *c = m->conns; c; c = c->next)
    if (c->seed_addr && c->st != CONN_CLOSED && strcmp(c->seed_addr, addr) == 0)
      return c;
  return NULL;
}

int link_send_seed(link_mgr *m, const char *addr, troupe_FrameKind kind,
                   const void *msg, const pb_msgdesc_t *fields) {
  if (!m || !addr || !fields || (unsigned)kind < 16 || m->freeing ||
      conn_check_addr(addr) != 0)
    return TR_EINVAL;
  link_conn *c = seed_find(m, addr);
  if (c) return link_frames_add(m, &c->seed_frames, kind, msg, fields);

  c = conn_new_dialer(m, NULL);
  if (!c) return TR_ENOMEM;
  int rc = TR_ENOMEM;
  c->seed_session = link_new_session(m);
  c->seed_addr = strdup(addr);
  if (!c->seed_addr) goto fail;
  rc = link_frames_add(m, &c->seed_frames, kind, msg, fields);
  if (rc != 0) goto fail;
  mgr_log(m, TR_LOG_DEBUG, "seed_dial", "addr=%s", addr);
  /* On failure the attempt is closed, counted and dropped there. */
  return conn_start_dial(c, addr);

fail:
  /* Not an attempt yet: nothing to count. */
  free(c->seed_addr);
  c->seed_addr = NULL;
  conn_close(c, LINK_CLOSE_LOCAL);
  return rc;
}

void seed_on_tls(link_conn *c) {
  link_mgr *m = c->mgr;
  const char *cn = tls_conn_peer_cn(c->tls);
  if (strcmp(cn, m->name) == 0 && tls_conn_peer_is(c->tls, m->name)) {
    /* Our hello, naming us, lets the other end (us) tell it too. */
    c->seed_self = true;
    return;
  }
  peer_link *lk = link_find(m, cn);
  if (lk && !lk->closing && tls_conn_peer_is(c->tls, cn)) c->lk = lk;
}

void seed_on_hello(link_conn *c, const troupe_Hello *h) {
  link_mgr *m = c->mgr;
  char *addr = c->seed_addr;
  c->seed_addr = NULL; /* handed over: no longer a seed, whatever follows */
  peer_link *lk = c->lk;
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
        free(addr);
        link_frames_free(&c->seed_frames);
        m->st.seed_failed++;
        conn_close(c, LINK_CLOSE_LOCAL);
        return;
      }
      lk->my_session = c->seed_session;
      created = true;
    }
  }
  mgr_log(m, TR_LOG_INFO, "seed_answered", "addr=%s peer=%s new_link=%d",
          addr, lk->peer, created);
  if (!lk->addr) {
    lk->addr = addr; /* the link redials the seed address */
    addr = NULL;
  }
  free(addr);
  if (link_ctl_take(lk, &c->seed_frames) != 0)
    mgr_log(m, TR_LOG_WARN, "seed_frames_dropped", "peer=%s reason=no_memory",
            lk->peer);
  if (!adopt) {
    conn_close(c, LINK_CLOSE_DUPLICATE);
    link_open(m, lk->peer, NULL, NULL); /* dials now if it just got addr */
    return;
  }
  c->lk = lk;
  uv_timer_stop(&c->hs_timer);
  c->st = CONN_UP;
  if (created && m->cfg.ops.on_accept) m->cfg.ops.on_accept(m->cfg.user, lk);
  if (c->st == CONN_CLOSED || lk->closing) return;
  link_conn_up(lk, c, h);
}

void seed_on_close(link_conn *c, link_close_reason reason) {
  link_mgr *m = c->mgr;
  if (!m->freeing) {
    bool self = c->seed_self || reason == LINK_CLOSE_SELF;
    if (self)
      m->st.seed_self++;
    else
      m->st.seed_failed++;
    mgr_log(m, self ? TR_LOG_DEBUG : TR_LOG_INFO, "seed_dropped",
            "addr=%s reason=%s frames=%u", c->seed_addr,
            link_close_reason_name(reason), c->seed_frames.n);
  }
  free(c->seed_addr);
  c->seed_addr = NULL;
  link_frames_free(&c->seed_frames);
}
