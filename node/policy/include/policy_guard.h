/* policy_guard.h — a node's policy in force, and the account of what it
 * refused: every denial is counted by (who, action, rule) and logged, at
 * most once per key per POLICY_LOG_EVERY_MS with the count since the last
 * line. The cluster checks other nodes' and operators' requests here, the
 * node assembly its own actors'. One per node; loop thread. */
#ifndef TR_POLICY_GUARD_H
#define TR_POLICY_GUARD_H

#include "policy.h"
#include "troupe.h"

typedef struct policy_guard policy_guard;

#define POLICY_LOG_EVERY_MS 10000u
#define POLICY_DENIAL_KEYS_MAX 1024u /* (who, action, rule) kept apart; past
                                        it, counted under who "$other" */

/* log (may be NULL) as the node's, at level and above. TR_ENOMEM. */
int policy_guard_new(policy_guard **out, tr_log_fn log, void *log_user,
                     tr_log_level level);
void policy_guard_free(policy_guard *); /* NULL ok */
void policy_guard_set_log_level(policy_guard *, tr_log_level);

/* Puts p in force (the guard owns it; NULL: no policy, everything
 * allowed) and frees the one before. Each change bumps the generation. */
void policy_guard_set(policy_guard *, policy *p);
const policy *policy_guard_policy(const policy_guard *);
uint64_t policy_guard_generation(const policy_guard *);

/* 0 if allowed, TR_EPERM if denied (counted and logged as said above).
 * now_ms: a monotonic clock, for the log's pace. */
int policy_guard_check(policy_guard *, const policy_subject *, policy_action,
                       const char *object, const char *topic,
                       uint64_t now_ms);

/* Denials so far, in all; and per (who, role, action, rule line). */
uint64_t policy_guard_denied(const policy_guard *);
void policy_guard_each(const policy_guard *,
                       void (*fn)(void *arg, const char *who, policy_role,
                                  policy_action, uint32_t line,
                                  uint64_t count),
                       void *arg);

#endif /* TR_POLICY_GUARD_H */
