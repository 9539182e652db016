/* vnet.c — see vnet.h. The heap holds pointers to the users' messages; the
 * per-link delays are a nodes x nodes table made on first use. */
#include "vnet.h"

#include <stdlib.h>
#include <string.h>

#include "troupe.h"

struct vnet {
  vnet_config cfg;
  vnet_ops ops;
  void *user;
  uint64_t now, seq, rng;
  vnet_msg **heap;
  size_t nheap, heap_cap;
  bool *up, *deaf;
  uint8_t *group;       /* partition groups, or NULL */
  uint32_t *link_delay; /* [from * nodes + to], or NULL */
  uint64_t trace;
  vnet_stats st;
};

int vnet_new(vnet **out, const vnet_config *cfg, const vnet_ops *ops,
             void *user) {
  if (!cfg->nodes || !ops->deadline || !ops->tick || !ops->deliver ||
      !ops->free_msg)
    return TR_EINVAL;
  vnet *v = calloc(1, sizeof(*v));
  if (!v) return TR_ENOMEM;
  v->cfg = *cfg;
  if (!v->cfg.latency_ms) v->cfg.latency_ms = 1;
  v->ops = *ops;
  v->user = user;
  v->now = cfg->start_ms;
  v->rng = cfg->seed;
  v->trace = VNET_FNV_OFFSET;
  v->up = malloc(cfg->nodes * sizeof(*v->up));
  v->deaf = calloc(cfg->nodes, sizeof(*v->deaf));
  if (!v->up || !v->deaf) {
    vnet_free(v);
    return TR_ENOMEM;
  }
  for (uint32_t i = 0; i < cfg->nodes; i++) v->up[i] = true;
  *out = v;
  return 0;
}

void vnet_free(vnet *v) {
  if (!v) return;
  vnet_clear(v);
  free(v->heap);
  free(v->up);
  free(v->deaf);
  free(v->group);
  free(v->link_delay);
  free(v);
}

/* ---- the heap ------------------------------------------------------------ */

static bool msg_before(const vnet_msg *a, const vnet_msg *b) {
  return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static bool heap_push(vnet *v, vnet_msg *m) {
  if (v->nheap == v->heap_cap) {
    size_t cap = v->heap_cap ? v->heap_cap * 2 : 256;
    vnet_msg **h = realloc(v->heap, cap * sizeof(*h));
    if (!h) return false;
    v->heap = h;
    v->heap_cap = cap;
  }
  size_t i = v->nheap++;
  v->heap[i] = m;
  while (i > 0 && msg_before(v->heap[i], v->heap[(i - 1) / 2])) {
    vnet_msg *t = v->heap[i];
    v->heap[i] = v->heap[(i - 1) / 2];
    v->heap[(i - 1) / 2] = t;
    i = (i - 1) / 2;
  }
  return true;
}

static vnet_msg *heap_pop(vnet *v) {
  vnet_msg *top = v->heap[0];
  v->heap[0] = v->heap[--v->nheap];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < v->nheap && msg_before(v->heap[l], v->heap[m])) m = l;
    if (r < v->nheap && msg_before(v->heap[r], v->heap[m])) m = r;
    if (m == i) break;
    vnet_msg *t = v->heap[i];
    v->heap[i] = v->heap[m];
    v->heap[m] = t;
    i = m;
  }
  return top;
}

void vnet_clear(vnet *v) {
  while (v->nheap) v->ops.free_msg(heap_pop(v));
}

size_t vnet_queued(vnet *v, const vnet_msg **out, size_t max) {
  /* Insertion into out, kept in send order: tests look at a handful. */
  size_t k = 0;
  for (size_t i = 0; i < v->nheap && max; i++) {
    const vnet_msg *m = v->heap[i];
    if (k == max && m->seq > out[k - 1]->seq) continue;
    size_t j = k < max ? k++ : k - 1;
    while (j > 0 && out[j - 1]->seq > m->seq) {
      out[j] = out[j - 1];
      j--;
    }
    out[j] = m;
  }
  return v->nheap;
}

/* ---- sending ------------------------------------------------------------- */

static bool cut(vnet *v, uint32_t a, uint32_t b) {
  return v->group && v->group[a] != v->group[b];
}

bool vnet_send(vnet *v, uint32_t from, uint32_t to, vnet_msg *m) {
  v->st.sent++;
  uint32_t n = v->cfg.nodes;
  if (from >= n || to >= n || !v->up[from] || v->deaf[to] ||
      cut(v, from, to) ||
      (v->cfg.loss_ppm && vnet_rand(v) % 1000000u < v->cfg.loss_ppm))
    goto drop;
  m->from = from;
  m->to = to;
  m->seq = ++v->seq;
  m->at = v->now + v->cfg.latency_ms +
          (v->link_delay ? v->link_delay[(size_t)from * n + to] : 0) +
          (v->cfg.jitter_ms ? vnet_rand(v) % (v->cfg.jitter_ms + 1u) : 0);
  if (heap_push(v, m)) return true;
drop:
  v->st.dropped++;
  v->ops.free_msg(m);
  return false;
}

vnet_stats vnet_get_stats(vnet *v) { return v->st; }

/* ---- time ---------------------------------------------------------------- */

uint64_t vnet_now(vnet *v) { return v->now; }

void vnet_set_clock(vnet *v, uint64_t t) {
  if (t > v->now) v->now = t;
}

bool vnet_step(vnet *v, uint64_t limit) {
  uint64_t next = v->nheap ? v->heap[0]->at : UINT64_MAX;
  for (uint32_t i = 0; i < v->cfg.nodes; i++) {
    if (!v->up[i]) continue;
    uint64_t d = v->ops.deadline(v->user, i);
    if (d < next) next = d;
  }
  if (next != UINT64_MAX && v->cfg.step_ms) {
    uint64_t step = v->cfg.step_ms;
    if (next <= v->now) next = v->now + 1;
    next = next > UINT64_MAX - step ? UINT64_MAX
                                    : (next + step - 1) / step * step;
  }
  if (next == UINT64_MAX || next > limit) {
    if (limit != UINT64_MAX) v->now = limit;
    return false;
  }
  if (next > v->now) v->now = next;
  while (v->nheap && v->heap[0]->at <= v->now) {
    vnet_msg *m = heap_pop(v);
    if (v->up[m->to] && !cut(v, m->from, m->to) &&
        v->ops.deliver(v->user, m, v->now))
      v->st.delivered++;
    else
      v->st.dropped++;
    v->ops.free_msg(m);
  }
  for (uint32_t i = 0; i < v->cfg.nodes; i++)
    if (v->up[i] && v->ops.deadline(v->user, i) <= v->now)
      v->ops.tick(v->user, i, v->now);
  return true;
}

void vnet_run(vnet *v, uint64_t ms) {
  uint64_t end = v->now + ms;
  while (v->now < end && vnet_step(v, end)) {
  }
}

uint64_t vnet_run_until(vnet *v, bool (*pred)(void *user, const void *arg),
                        const void *arg, uint64_t max_ms) {
  uint64_t start = v->now, next_check = v->now;
  uint64_t end = max_ms > UINT64_MAX - start ? UINT64_MAX : start + max_ms;
  for (;;) {
    if (v->now >= next_check) {
      if (pred(v->user, arg)) return v->now - start;
      next_check = v->now + v->cfg.check_ms;
    }
    if (v->now >= end) return UINT64_MAX;
    if (!vnet_step(v, end))
      return pred(v->user, arg) ? v->now - start : UINT64_MAX;
  }
}

/* ---- conditions ---------------------------------------------------------- */

void vnet_set_up(vnet *v, uint32_t i, bool up) {
  if (i < v->cfg.nodes) v->up[i] = up;
}

bool vnet_is_up(vnet *v, uint32_t i) { return i < v->cfg.nodes && v->up[i]; }

void vnet_set_deaf(vnet *v, uint32_t i, bool deaf) {
  if (i < v->cfg.nodes) v->deaf[i] = deaf;
}

void vnet_set_loss_ppm(vnet *v, uint32_t ppm) { v->cfg.loss_ppm = ppm; }
void vnet_set_jitter_ms(vnet *v, uint32_t ms) { v->cfg.jitter_ms = ms; }

int vnet_set_link_delay(vnet *v, uint32_t from, uint32_t to, uint32_t ms) {
  size_t n = v->cfg.nodes;
  if (from >= n || to >= n) return TR_EINVAL;
  if (!v->link_delay && !(v->link_delay = calloc(n * n, sizeof(uint32_t))))
    return TR_ENOMEM;
  v->link_delay[from * n + to] = ms;
  return 0;
}

int vnet_partition(vnet *v, const uint8_t *group) {
  free(v->group);
  v->group = NULL;
  if (!group) return 0;
  if (!(v->group = malloc(v->cfg.nodes))) return TR_ENOMEM;
  memcpy(v->group, group, v->cfg.nodes);
  return 0;
}

/* ---- determinism --------------------------------------------------------- */

uint64_t vnet_splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t vnet_rand(vnet *v) { return vnet_splitmix64(&v->rng); }

uint64_t vnet_node_seed(vnet *v, uint32_t i, uint64_t epoch) {
  return v->cfg.seed * 1000003u + (uint64_t)i * 7919u + epoch;
}

uint64_t vnet_fnv1a(uint64_t h, const void *p, size_t len) {
  const uint8_t *b = p;
  for (size_t i = 0; i < len; i++) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

void vnet_trace(vnet *v, const void *p, size_t len) {
  v->trace = vnet_fnv1a(v->trace, p, len);
}

void vnet_trace_u64(vnet *v, uint64_t x) { vnet_trace(v, &x, sizeof(x)); }

void vnet_trace_str(vnet *v, const char *s) {
  vnet_trace(v, s ? s : "(null)", s ? strlen(s) + 1 : 7);
}

uint64_t vnet_trace_hash(vnet *v) { return v->trace; }

/* ---- names --------------------------------------------------------------- */

uint32_t vnet_node_index(const char *name_or_addr, uint32_t nodes) {
  if (!name_or_addr || name_or_addr[0] != 'n' || name_or_addr[1] < '0' ||
      name_or_addr[1] > '9')
    return VNET_NONE;
  char *end;
  unsigned long i = strtoul(name_or_addr + 1, &end, 10);
  if ((*end && *end != ':') || i >= nodes) return VNET_NONE;
  return (uint32_t)i;
}
