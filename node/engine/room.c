/* room.c — telling senders that a target has room again. An actor whose
 * send got TR_EFULL calls tr_send_notify(to) and gets one TR_MSG_WRITABLE
 * from `to` when it has room: at once if it has room now; for a local
 * target when its mailbox has drained below half after a turn (deferred
 * sends go in first); for a remote one when the remote layer has room for
 * it again (eng_room_open). A target that stops first sends the notice
 * with its reason (TR_ENOTFOUND, TR_EUNREACHABLE) instead. */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* Adds who to *list unless it is there: one notice per waiter. */
static int waiter_add(eng_waiter **list, eng_name *who) {
  for (eng_waiter *w = *list; w; w = w->next)
    if (w->who == who ||
        (w->who->len == who->len && memcmp(w->who->str, who->str, who->len) ==
                                        0))
      return 0;
  eng_waiter *w = malloc(sizeof(*w));
  if (!w) return TR_ENOMEM;
  w->who = eng_name_ref(who);
  w->next = *list;
  *list = w;
  return 0;
}

/* Tells every waiter on the list (from `target`, with status) and frees
 * it. A waiter that stopped meanwhile is skipped. */
static void waiters_tell(tr_node *n, eng_waiter *w, eng_name *target,
                         int status) {
  while (w) {
    eng_waiter *next = w->next;
    eng_actor *a = actor_find_len(n, w->who->str, w->who->len);
    if (a && !a->stopping)
      send_notice(n, a, TR_MSG_WRITABLE, target, 0, status);
    eng_name_unref(w->who);
    free(w);
    w = next;
  }
}

static void notice_now(tr_node *n, eng_actor *who, const char *to,
                       size_t len, int status) {
  eng_name *t = eng_name_new(to, len);
  if (!t) {
    eng_log(n, TR_LOG_ERROR, "notice_lost",
            "to=%s type=writable reason=enomem", who->id->str);
    return;
  }
  send_notice(n, who, TR_MSG_WRITABLE, t, 0, status);
  eng_name_unref(t);
}

int tr_send_notify(tr_ctx *ctx, const char *to) {
  size_t len;
  if (!ctx || eng_check_id(to, &len) != 0) return TR_EINVAL;
  tr_node *n = ctx->node;
  if (ctx->stopping) return TR_ESTATE;
  eng_actor *a = actor_find_len(n, to, len);
  if (a && !a->stopping) {
    if (a->mb_count < a->mb_capacity && !a->held_dq) {
      notice_now(n, ctx, to, len, 0);
      return 0;
    }
    return waiter_add(&a->writable, ctx->id);
  }
  if (a || !n->rops) return TR_ENOTFOUND;
  int rc = n->rops->room ? n->rops->room(n->ruser, to, len) : 1;
  if (rc < 0) return rc;
  if (rc > 0) {
    notice_now(n, ctx, to, len, 0);
    return 0;
  }
  eng_rwait *rw = NULL;
  HASH_FIND(hh, n->rwaits, to, len, rw);
  if (!rw) {
    rw = calloc(1, sizeof(*rw) + len + 1);
    if (!rw) return TR_ENOMEM;
    memcpy(rw->id, to, len);
    HASH_ADD(hh, n->rwaits, id, len, rw);
  }
  rc = waiter_add(&rw->waiters, ctx->id);
  if (rc != 0 && !rw->waiters) {
    HASH_DEL(n->rwaits, rw);
    free(rw);
  }
  return rc;
}

void room_actor_drained(eng_actor *a) {
  tr_node *n = a->node;
  if (a->held_dq) defer_feed(n, a->held_dq);
  if (!a->writable || a->held_dq || a->mb_count >= a->mb_capacity) return;
  eng_waiter *w = a->writable;
  a->writable = NULL;
  waiters_tell(n, w, a->id, 0);
}

void room_actor_stopped(eng_actor *a) {
  tr_node *n = a->node;
  if (a->held_dq) defer_target_gone(n, a->held_dq);
  a->held_dq = NULL;
  eng_waiter *w = a->writable;
  a->writable = NULL;
  waiters_tell(n, w, a->id, TR_ENOTFOUND);
}

/* Tells the actors waiting on remote id (with status) and forgets them. */
static void rwait_open(tr_node *n, eng_rwait *rw, int status) {
  HASH_DEL(n->rwaits, rw);
  eng_name *t = eng_name_new(rw->id, strlen(rw->id));
  if (t) {
    waiters_tell(n, rw->waiters, t, status);
    eng_name_unref(t);
  } else {
    eng_log(n, TR_LOG_ERROR, "notice_lost",
            "type=writable from=%s reason=enomem", rw->id);
    for (eng_waiter *w = rw->waiters, *next; w; w = next) {
      next = w->next;
      eng_name_unref(w->who);
      free(w);
    }
  }
  free(rw);
}

void eng_room_open(tr_node *n, const char *id, size_t len, int status) {
  if (n->dq_remote) defer_room_remote(n, id, len);
  eng_rwait *rw, *tmp;
  if (!id) { /* room for every id: the remote layer does not know which */
    HASH_ITER(hh, n->rwaits, rw, tmp) rwait_open(n, rw, status);
    return;
  }
  rw = NULL;
  HASH_FIND(hh, n->rwaits, id, len, rw);
  if (rw) rwait_open(n, rw, status);
}

void room_free(tr_node *n) {
  eng_rwait *rw, *tmp;
  HASH_ITER(hh, n->rwaits, rw, tmp) {
    HASH_DEL(n->rwaits, rw);
    for (eng_waiter *w = rw->waiters, *next; w; w = next) {
      next = w->next;
      eng_name_unref(w->who);
      free(w);
    }
    free(rw);
  }
}
