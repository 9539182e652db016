/* policy.h — who may do what: an authorization policy per identity, read
 * from a small rule file (docs/security.md, "Policy"), and the decision for
 * one request. A leaf: no I/O but reading the file, no loop, no actors; the
 * cluster asks it about what other nodes and operators ask, the node
 * assembly about what this node's own actors do.
 *
 * The file, one rule per line, the first rule that matches decides:
 *
 *   # comments, blank lines
 *   default allow|deny                      (once; [allow])
 *   allow|deny WHO ACTIONS WHAT [TOPIC]
 *
 *   WHO      node:GLOB | client:GLOB | role:node|operator|viewer | *
 *   ACTIONS  register, send, ask, stop, subscribe, join, comma-separated,
 *            or *
 *   WHAT     an actor id glob (for subscribe: the publisher's; for join:
 *            a group name glob; a group broadcast is a send to
 *            "group:<name>")
 *   TOPIC    subscribe only: a topic glob [*]; "" is the default topic,
 *            written -
 *
 * Globs are fnmatch(3) patterns without flags (* ? [..]). A node is the
 * subject of what its actors do (its name from its certificate); an
 * operator client of what it asks through the troupe verbs (the name and
 * role of its certificate). Nothing in a file that is not exactly this is
 * accepted: the error names the line. */
#ifndef TR_POLICY_H
#define TR_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct policy policy;

typedef enum {
  POLICY_REGISTER = 0, /* hold an actor id (spawn with it) */
  POLICY_SEND,         /* send to an actor */
  POLICY_ASK,          /* ask an actor */
  POLICY_STOP,         /* stop an actor */
  POLICY_SUBSCRIBE,    /* subscribe to (publisher, topic) */
  POLICY_JOIN,         /* join a group (object: the group name) */
  POLICY_ACTIONS
} policy_action;

const char *policy_action_name(policy_action);

typedef enum {
  POLICY_ROLE_NODE = 0,
  POLICY_ROLE_OPERATOR,
  POLICY_ROLE_VIEWER
} policy_role;

/* Who asks: a node (role node) or an operator client (role operator or
 * viewer), by the name its certificate gives. */
typedef struct policy_subject {
  const char *name;
  policy_role role;
} policy_subject;

#define POLICY_FILE_MAX (1u << 20) /* bytes */
#define POLICY_RULES_MAX 4096u

/* Parses a policy from text (NUL-terminated). 0; TR_EINVAL with "line N:
 * why" in err; TR_ENOMEM. */
int policy_parse(policy **out, const char *text, char *err, size_t errlen);
/* The same from a file: its reading errors name it; TR_ENOTFOUND when it
 * does not exist, TR_ETOOBIG past POLICY_FILE_MAX. */
int policy_load(policy **out, const char *path, char *err, size_t errlen);
void policy_free(policy *); /* NULL ok */

/* Whether subject may do action on object (an actor id; for subscribe the
 * publisher, and topic its topic, "" the default one; topic is ignored
 * otherwise). *line (may be NULL): the line of the rule that decided, 0
 * for the default. */
bool policy_allows(const policy *, const policy_subject *, policy_action,
                   const char *object, const char *topic, uint32_t *line);

size_t policy_count(const policy *); /* rules, the default not counted */
bool policy_default_allows(const policy *);

#endif /* TR_POLICY_H */
