/* plan.h — a typed message written by its plan (plan.c; troupe_pb.h makes
 * the plan at compile time): for messages of static, singular scalars and
 * strings, the bytes pb_encode writes, field by field. Internal to
 * node/typed. */
#ifndef TR_TYPED_PLAN_H
#define TR_TYPED_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "troupe_pb.h"

/* Encodes msg by t's plan (t->planned) into out (t->plan_bound bytes of
 * room); the length, or SIZE_MAX when msg is one pb_encode refuses (an
 * unterminated string): the caller asks pb_encode for the error. */
size_t typed_plan_encode(const tr_msgtype *t, const void *msg, uint8_t *out);

#endif /* TR_TYPED_PLAN_H */
