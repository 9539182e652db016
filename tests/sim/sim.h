/* sim.h — a simulated cluster for the membership and registry state
 * machines: N nodes, each a swim + registry pair, on a virtual network with
 * virtual time, seeded loss and delay, partitions, crashes and restarts. The
 * same seed and script give the same run, message for message. */
#ifndef TR_SIM_H
#define TR_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "registry.h"
#include "swim.h"

typedef struct sim sim;

typedef struct sim_config {
  uint32_t nodes;
  uint64_t seed;
  uint32_t step_ms;      /* time resolution of the run [5] */
  uint32_t latency_ms;   /* one-way delay [1] */
  uint32_t jitter_ms;    /* plus uniform [0, jitter] [1] */
  uint32_t loss_permille;/* per message, all links [0] */
  uint32_t check_ms;     /* sim_run_until checks its predicate this often;
                            rounded up to a step [50] */
  swim_config swim;      /* name/addr/epoch/seed are set per node */
  reg_config reg;
  /* Members speak only for themselves (swim_ops sign and verify), as the
   * real host runs them. The signature is a stand-in (a keyed hash whose
   * key only the simulator knows): what it models is that no node can
   * make another's, which sim_forge's node does not try. */
  bool trust;
} sim_config;

int sim_new(sim **out, const sim_config *);
void sim_free(sim *);

/* Node i (0-based) is named "n<i>" with address "n<i>:7000". */
const char *sim_name(sim *, uint32_t i);

/* Every node joins at time now through its seeds, the first three nodes
 * other than itself (node 0, the first time, has none); a restarted node
 * rejoins the same way. */
void sim_join_all(sim *);
/* Runs virtual time forward by ms. */
void sim_run(sim *, uint64_t ms);
/* Runs until pred(sim, arg) or max_ms; returns the virtual time it took
 * (to check_ms: pred is checked that often), or UINT64_MAX if it never
 * held. */
uint64_t sim_run_until(sim *, bool (*pred)(sim *, void *), void *arg,
                       uint64_t max_ms);
uint64_t sim_now(sim *);

void sim_crash(sim *, uint32_t i);   /* stops a node: nothing in or out */
void sim_restart(sim *, uint32_t i); /* a fresh process: new epoch, rejoins */
bool sim_is_up(sim *, uint32_t i);
void sim_set_loss(sim *, uint32_t permille);
/* Cuts the network between nodes with group[i] != group[j]; NULL heals. */
void sim_partition(sim *, const uint8_t *group);

/* A Byzantine member: node `byz` sends node `to` a PING carrying its own
 * record and a claim about `victim` as byz sees it, with the state given
 * and the epoch and incarnation raised by epoch_up and inc_up, and no
 * proof (byz cannot make victim's). */
void sim_forge(sim *, uint32_t byz, uint32_t victim, uint32_t to,
               swim_state state, uint32_t epoch_up, uint32_t inc_up);

/* The same, about victim's registry set, to node `to`. */
typedef enum {
  SIM_REG_ADD,     /* a batch adding an id to victim's set, at its next
                      version, sealed with byz's key (a proof that fails) */
  SIM_REG_REMOVE,  /* a batch removing `id` from victim's set, unsealed */
  SIM_REG_SET,     /* victim's set, empty, at version 2^62, relayed */
  SIM_REG_INFLATE, /* a digest saying byz holds victim's set at 2^62 */
  SIM_REG_STEAL    /* byz's own batch claiming `id` (victim's), dated to
                      the start of time */
} sim_reg_lie;
void sim_forge_reg(sim *, uint32_t byz, uint32_t victim, uint32_t to,
                   sim_reg_lie, const char *id);

/* Local actor ids: claim/release on node i (the registry's own calls). */
int sim_claim(sim *, uint32_t i, const char *id);
int sim_release(sim *, uint32_t i, const char *id);

/* Views. */
swim *sim_swim(sim *, uint32_t i);
registry *sim_reg(sim *, uint32_t i);

/* Properties, over the nodes that are up: */
/* every up node sees exactly the up nodes alive (and no one else alive) */
bool sim_membership_converged(sim *);
/* every up node resolves the same (id -> owner) map, and every owner is up */
bool sim_registry_converged(sim *);
/* no id is owned (claimed and not lost) by two up nodes */
bool sim_no_double_owner(sim *);
/* every id an up node resolves is held (claimed, not lost or released) by
 * its owner, and every id an up node holds resolves to it there */
bool sim_owners_hold(sim *);
/* node `who` is known by every other up node in state st; for alive and
 * suspect, in the epoch of its current process (if it is up); dead and
 * left also hold for a member forgotten or never known */
bool sim_all_see(sim *, const char *who, swim_state st);
/* id resolves to owner (NULL: to nobody) on every up node */
bool sim_all_resolve(sim *, const char *id, const char *owner);

typedef struct sim_stats {
  uint64_t msgs_sent, msgs_dropped, msgs_delivered;
  uint64_t false_deaths;   /* an up node declared dead by an up node (one
                              per observer) */
  uint64_t false_victims;  /* up nodes declared dead by anyone (one per
                              victim and incarnation, however many saw it) */
  uint64_t false_lefts;    /* an up node said left by an up node */
  uint64_t false_restarts; /* an up node seen at an epoch it never had */
  uint64_t conflicts_lost; /* conflict_lost calls */
  /* Summed over the nodes up now (swim_stats, and reg_stats for the
   * reg_ ones): */
  uint64_t forged_rejected, death_checks, signs, verifies;
  uint64_t reg_forged_rejected, reg_signs, reg_verifies;
  uint64_t trace_hash;     /* FNV over every delivered message and event */
} sim_stats;

void sim_get_stats(sim *, sim_stats *out);

#endif /* TR_SIM_H */
