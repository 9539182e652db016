/* host_seeds.c — seeds as configured ("host:port", "[v6]:port", DNS names)
 * resolved to every address they name, as a Docker or Kubernetes service
 * name resolves to all its members, and handed to swim_join. Resolution
 * repeats (every 5 s while this node is alone, every 60 s once joined), so
 * a seed that appears later is found, and swim is told again only when the
 * list changed or the node is alone. This node's own address is left out
 * (the link layer also drops a seed that answers as this node). */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

#define RESEED_ALONE_MS 5000u
#define RESEED_JOINED_MS 60000u
#define SEED_ADDRS_MAX 64u /* per seed name */

static void seeds_round_done(cluster *c);

static void seed_set_addrs(host_seed *s, char **addrs, size_t n) {
  for (size_t i = 0; i < s->naddrs; i++) free(s->addrs[i]);
  free(s->addrs);
  s->addrs = addrs;
  s->naddrs = n;
}

static void seed_on_resolved(uv_getaddrinfo_t *req, int status,
                             struct addrinfo *res) {
  host_seed *s = req->data;
  cluster *c = s->c;
  s->busy = false;
  c->open_handles--;
  if (c->freeing) {
    uv_freeaddrinfo(res);
    host_maybe_free(c);
    return;
  }
  if (status != 0) {
    char seed[300];
    snprintf(seed, sizeof(seed), "%s:%s", s->host, s->port);
    host_log(c, TR_LOG_WARN, "seed_unresolved", "seed=%s error=%s", seed,
             uv_strerror(status));
  } else {
    char **addrs = calloc(SEED_ADDRS_MAX, sizeof(*addrs));
    size_t n = 0;
    for (struct addrinfo *ai = res; addrs && ai && n < SEED_ADDRS_MAX;
         ai = ai->ai_next) {
      char ip[64], buf[96];
      if (getnameinfo(ai->ai_addr, ai->ai_addrlen, ip, sizeof(ip), NULL, 0,
                      NI_NUMERICHOST) != 0)
        continue;
      snprintf(buf, sizeof(buf), ai->ai_family == AF_INET6 ? "[%s]:%s"
                                                           : "%s:%s",
               ip, s->port);
      bool dup = false;
      for (size_t i = 0; i < n; i++) dup = dup || strcmp(addrs[i], buf) == 0;
      if (!dup && (addrs[n] = strdup(buf)) != NULL) n++;
    }
    if (addrs) seed_set_addrs(s, addrs, n);
  }
  uv_freeaddrinfo(res);
  for (size_t i = 0; i < c->nseeds; i++)
    if (c->seeds[i].busy) return;
  seeds_round_done(c);
}

static void seeds_on_timer(uv_timer_t *h) { host_seeds_resolve(h->data); }

static bool same_list(char **a, size_t na, char **b, size_t nb) {
  if (na != nb) return false;
  for (size_t i = 0; i < na; i++) {
    bool found = false;
    for (size_t j = 0; j < nb && !found; j++) found = strcmp(a[i], b[j]) == 0;
    if (!found) return false;
  }
  return true;
}

/* Every resolved address, and those an operator added (troupe join), own
 * one left out, to swim_join. */
static void seeds_round_done(cluster *c) {
  size_t total = c->njoin_addrs;
  for (size_t i = 0; i < c->nseeds; i++) total += c->seeds[i].naddrs;
  char **list = calloc(total ? total : 1, sizeof(*list));
  if (!list) return;
  size_t n = 0;
  for (size_t i = 0; i < c->nseeds; i++)
    for (size_t j = 0; j < c->seeds[i].naddrs; j++)
      if (strcmp(c->seeds[i].addrs[j], c->addr) != 0)
        list[n++] = c->seeds[i].addrs[j];
  for (size_t i = 0; i < c->njoin_addrs; i++)
    if (strcmp(c->join_addrs[i], c->addr) != 0) list[n++] = c->join_addrs[i];
  bool alone = swim_alive_count(c->swim) <= 1;
  if (!c->left && (!c->joined_once || alone ||
                   !same_list(list, n, c->seed_addrs, c->nseed_addrs))) {
    c->in_sm++;
    int rc = swim_join(c->swim, (const char *const *)list, n, host_now(c));
    c->in_sm--;
    if (rc != 0)
      host_log(c, TR_LOG_WARN, "join_failed", "error=%s", tr_errname(rc));
    c->joined_once = true;
    host_rearm(c);
    /* Keep a copy of what swim was given, to compare next time. */
    for (size_t i = 0; i < c->nseed_addrs; i++) free(c->seed_addrs[i]);
    free(c->seed_addrs);
    c->seed_addrs = calloc(n ? n : 1, sizeof(char *));
    c->nseed_addrs = 0;
    for (size_t i = 0; c->seed_addrs && i < n; i++)
      if ((c->seed_addrs[c->nseed_addrs] = strdup(list[i])) != NULL)
        c->nseed_addrs++;
  }
  free(list);
  if (c->nseeds && !c->left)
    uv_timer_start(&c->reseed, seeds_on_timer,
                   alone ? RESEED_ALONE_MS : RESEED_JOINED_MS, 0);
}

void host_seeds_resolve(cluster *c) {
  if (c->freeing || c->left) return;
  bool started = false;
  for (size_t i = 0; i < c->nseeds; i++) {
    host_seed *s = &c->seeds[i];
    if (s->busy) return; /* a round is running */
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM};
    s->req.data = s;
    if (uv_getaddrinfo(c->loop, &s->req, seed_on_resolved, s->host, s->port,
                       &hints) == 0) {
      s->busy = true;
      c->open_handles++;
      started = true;
    }
  }
  if (!started) seeds_round_done(c);
}

/* Splits "host:port" / "[v6]:port"; TR_EINVAL when there is no port. */
static int seed_parse(const char *spec, host_seed *s) {
  const char *colon = strrchr(spec, ':');
  if (!colon || colon == spec || !colon[1]) return TR_EINVAL;
  const char *h = spec;
  size_t hlen = (size_t)(colon - spec);
  if (h[0] == '[') {
    if (hlen < 3 || h[hlen - 1] != ']') return TR_EINVAL;
    h++;
    hlen -= 2;
  }
  s->host = strndup(h, hlen);
  s->port = strdup(colon + 1);
  return s->host && s->port ? 0 : TR_ENOMEM;
}

int host_seeds_init(cluster *c, const char *const *seeds, size_t n) {
  c->seeds = calloc(n ? n : 1, sizeof(*c->seeds));
  if (!c->seeds) return TR_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    host_seed *s = &c->seeds[c->nseeds];
    s->c = c;
    if (!seeds[i] || !seeds[i][0]) continue;
    int rc = seed_parse(seeds[i], s);
    if (rc != 0) {
      host_log(c, TR_LOG_ERROR, "seed_invalid", "seed=%s want=host:port",
               seeds[i]);
      free(s->host);
      free(s->port);
      return rc;
    }
    c->nseeds++;
  }
  host_seeds_resolve(c);
  return 0;
}

void host_seeds_free(cluster *c) {
  /* A resolution still running keeps c alive (open_handles) until its
   * callback, which libuv runs (cancelled if it can) on a later turn. */
  for (size_t i = 0; i < c->nseeds; i++)
    if (c->seeds[i].busy) uv_cancel((uv_req_t *)&c->seeds[i].req);
  uv_timer_stop(&c->reseed);
}

int host_seeds_add(cluster *c, const char *addr) {
  for (size_t i = 0; i < c->njoin_addrs; i++)
    if (strcmp(c->join_addrs[i], addr) == 0) {
      seeds_round_done(c);
      return 0;
    }
  if (c->njoin_addrs >= HOST_MAX_JOIN_ADDRS) return TR_EFULL;
  int rc = strv_push(&c->join_addrs, &c->njoin_addrs, &c->cap_join_addrs,
                     addr);
  if (rc == 0) seeds_round_done(c); /* the list changed: joins again */
  return rc;
}

void host_seeds_release(cluster *c) {
  for (size_t i = 0; i < c->njoin_addrs; i++) free(c->join_addrs[i]);
  free(c->join_addrs);
  for (size_t i = 0; i < c->nseeds; i++) {
    host_seed *s = &c->seeds[i];
    seed_set_addrs(s, NULL, 0);
    free(s->host);
    free(s->port);
  }
  free(c->seeds);
  for (size_t i = 0; i < c->nseed_addrs; i++) free(c->seed_addrs[i]);
  free(c->seed_addrs);
}
