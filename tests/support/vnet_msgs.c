/* vnet_msgs.c — see vnet_msgs.h. The copies keep the const pointers of the
 * message types; freeing casts them back to free what the copy allocated. */
#include "vnet_msgs.h"

#include <stdlib.h>
#include <string.h>

/* A malloc'd copy of n elements of size each; NULL for none (or on
 * failure: *ok is then cleared). */
static void *dup_array(const void *p, size_t n, size_t size, bool *ok) {
  if (!n) return NULL;
  void *q = malloc(n * size);
  if (!q) {
    *ok = false;
    return NULL;
  }
  memcpy(q, p, n * size);
  return q;
}

static void release_swim_msg(swim_msg *m) {
  swim_update *ups = (swim_update *)m->updates;
  for (uint32_t i = 0; ups && i < m->nupdates; i++) {
    free((void *)ups[i].proof);
    free((void *)ups[i].tags);
  }
  free(ups);
  m->updates = NULL;
  m->nupdates = 0;
}

/* *dst = *src, with its own copy of the updates, their proofs and tags;
 * false if out of memory (then dst holds nothing to free). */
static bool copy_swim_msg(swim_msg *dst, const swim_msg *src) {
  bool ok = true;
  *dst = *src;
  swim_update *ups = dup_array(src->updates, src->nupdates,
                               sizeof(*src->updates), &ok);
  dst->updates = ups;
  if (!ok) {
    dst->nupdates = 0;
    return false;
  }
  for (uint32_t i = 0; i < dst->nupdates; i++) {
    ups[i].proof = NULL; /* what is not copied yet is not freed */
    ups[i].tags = NULL;
  }
  for (uint32_t i = 0; ok && i < dst->nupdates; i++) {
    const swim_update *u = &src->updates[i];
    if (u->proof && u->proof_len)
      ups[i].proof = dup_array(u->proof, u->proof_len, 1, &ok);
    if (ok && u->tags && u->tags_len)
      ups[i].tags = dup_array(u->tags, u->tags_len, 1, &ok);
  }
  if (!ok) release_swim_msg(dst);
  return ok;
}

static void release_reg_msg(reg_msg *m) {
  for (uint32_t i = 0; i < m->nids; i++) free((void *)m->ids[i]);
  reg_seal *seals = (reg_seal *)m->seals;
  for (uint32_t i = 0; seals && i < m->nseals; i++)
    free((void *)seals[i].proof);
  free(seals);
  free((void *)m->ids);
  free((void *)m->sinces);
  free((void *)m->deltas);
  free((void *)m->digests);
  m->ids = NULL;
  m->sinces = NULL;
  m->deltas = NULL;
  m->digests = NULL;
  m->seals = NULL;
  m->nids = m->ndeltas = m->ndigests = m->nseals = 0;
}

/* The seals of src, with their own copies of the proofs. */
static reg_seal *copy_seals(const reg_msg *src, uint32_t *n, bool *ok) {
  reg_seal *seals = dup_array(src->seals, src->nseals, sizeof(*src->seals),
                              ok);
  *n = seals ? src->nseals : 0;
  for (uint32_t i = 0; i < *n; i++) {
    const uint8_t *p = seals[i].proof_len ? seals[i].proof : NULL;
    seals[i].proof = NULL;
    if (*ok && p) seals[i].proof = dup_array(p, seals[i].proof_len, 1, ok);
  }
  return seals;
}

/* *dst = *src, with its own copies of the deltas, seals, digests and ids;
 * false if out of memory (then dst holds nothing to free). */
static bool copy_reg_msg(reg_msg *dst, const reg_msg *src) {
  bool ok = true;
  memset(dst, 0, sizeof(*dst));
  dst->type = src->type;
  memcpy(dst->sender, src->sender, sizeof(dst->sender));
  dst->deltas = dup_array(src->deltas, src->ndeltas, sizeof(*src->deltas),
                          &ok);
  dst->ndeltas = dst->deltas ? src->ndeltas : 0;
  dst->digests = dup_array(src->digests, src->ndigests,
                           sizeof(*src->digests), &ok);
  dst->ndigests = dst->digests ? src->ndigests : 0;
  dst->seals = copy_seals(src, &dst->nseals, &ok);
  if (ok && src->nids && src->sinces)
    dst->sinces = dup_array(src->sinces, src->nids, sizeof(*src->sinces), &ok);
  if (ok && src->nids) {
    char **ids = calloc(src->nids, sizeof(*ids));
    ok = ids != NULL;
    dst->ids = (const char *const *)ids;
    for (uint32_t i = 0; ok && i < src->nids; i++) {
      ids[i] = strdup(src->ids[i]);
      ok = ids[i] != NULL;
      dst->nids = i + 1;
    }
  }
  if (!ok) release_reg_msg(dst);
  return ok;
}

vnet_cluster_msg *vnet_cluster_msg_swim(const swim_msg *m) {
  vnet_cluster_msg *c = calloc(1, sizeof(*c));
  if (!c) return NULL;
  if (!copy_swim_msg(&c->swim, m)) {
    free(c);
    return NULL;
  }
  return c;
}

vnet_cluster_msg *vnet_cluster_msg_reg(const reg_msg *m) {
  vnet_cluster_msg *c = calloc(1, sizeof(*c));
  if (!c) return NULL;
  c->is_reg = true;
  if (!copy_reg_msg(&c->reg, m)) {
    free(c);
    return NULL;
  }
  return c;
}

void vnet_cluster_msg_free(vnet_msg *h) {
  vnet_cluster_msg *c = (vnet_cluster_msg *)h;
  if (!c) return;
  release_swim_msg(&c->swim);
  release_reg_msg(&c->reg);
  free(c);
}

void vnet_trace_swim(vnet *v, const swim_msg *m) {
  vnet_trace_u64(v, ((uint64_t)m->type << 32) | m->seq);
  vnet_trace_str(v, m->target);
  for (uint32_t i = 0; i < m->nupdates; i++) {
    const swim_update *u = &m->updates[i];
    vnet_trace_str(v, u->name);
    vnet_trace_u64(v, u->epoch);
    vnet_trace_u64(v, ((uint64_t)u->incarnation << 8) | u->state);
  }
}

void vnet_trace_reg(vnet *v, const reg_msg *m) {
  vnet_trace_u64(v, m->type);
  for (uint32_t i = 0; i < m->ndeltas; i++) {
    const reg_delta *d = &m->deltas[i];
    vnet_trace_str(v, d->owner);
    vnet_trace_str(v, d->id);
    vnet_trace_u64(v, d->epoch);
    vnet_trace_u64(v, d->version * 2 + d->removed);
  }
  for (uint32_t i = 0; i < m->ndigests; i++) {
    vnet_trace_str(v, m->digests[i].owner);
    vnet_trace_u64(v, m->digests[i].epoch);
    vnet_trace_u64(v, m->digests[i].version);
  }
  for (uint32_t i = 0; i < m->nids; i++) vnet_trace_str(v, m->ids[i]);
  for (uint32_t i = 0; i < m->nseals; i++) {
    vnet_trace_str(v, m->seals[i].owner);
    vnet_trace_u64(v, m->seals[i].first);
    vnet_trace_u64(v, m->seals[i].last);
  }
}
