/* ops_print.h — the operator verbs' output: what tr_op_* (troupe_ops.h)
 * hands back, printed for people or as JSON on stdout. */
#ifndef TR_OPS_PRINT_H
#define TR_OPS_PRINT_H

#include <stdbool.h>
#include <stdio.h>

#include "troupe_ops.h"

/* A JSON string (quotes and escapes included). */
void ops_print_json_str(FILE *, const void *s, size_t len);

/* Lists: begin, one call per item, end (the JSON list's brackets). */
typedef struct ops_list {
  bool json;
  size_t n;
} ops_list;
void ops_list_begin(ops_list *);
void ops_list_end(ops_list *);
void ops_print_member(void *list, const tr_member *, int self);
void ops_print_actor(void *list, const char *id, const char *node);
void ops_print_group(void *list, const tr_group_member *);
void ops_print_counter(void *list, const char *node, const char *name,
                       uint64_t value);
void ops_print_health(const tr_op_health_info *, bool json);
void ops_print_info(const tr_op_info *, bool json);
/* An ask's reply or a publish: the data, or a JSON object with its
 * origin. */
void ops_print_message(const tr_op_message *, bool json);
/* Now, UTC, to the millisecond: "2026-12-07T21:04:05.123Z". */
void ops_print_now(char *out, size_t cap);

#endif /* TR_OPS_PRINT_H */
