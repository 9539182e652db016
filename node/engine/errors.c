/* errors.c — tr_strerror / tr_errname from the one TR_ERRNO_MAP list, and
 * the names of dead-letter reasons. */
#include "troupe.h"

const char *tr_strerror(int err) {
  switch (err) {
  case 0:
    return "success";
#define TR_ERR_MSG_(name, code, msg) \
  case code:                         \
    return msg;
    TR_ERRNO_MAP(TR_ERR_MSG_)
#undef TR_ERR_MSG_
  default:
    return "unknown error";
  }
}

const char *tr_errname(int err) {
  switch (err) {
  case 0:
    return "TR_OK";
#define TR_ERR_NAME_(name, code, msg) \
  case code:                          \
    return "TR_" #name;
    TR_ERRNO_MAP(TR_ERR_NAME_)
#undef TR_ERR_NAME_
  default:
    return "TR_E?";
  }
}

const char *tr_dead_reason_name(tr_dead_reason r) {
  static const char *const names[TR_DL_COUNT] = {
      [TR_DL_NO_ACTOR] = "no_actor",
      [TR_DL_MAILBOX_FULL] = "mailbox_full",
      [TR_DL_STOPPED] = "stopped",
      [TR_DL_LATE_REPLY] = "late_reply",
      [TR_DL_PUBLISH_FULL] = "publish_full",
      [TR_DL_REJECTED_FULL] = "rejected_full",
      [TR_DL_REJECTED_NO_ACTOR] = "rejected_no_actor",
      [TR_DL_REJECTED_TOOBIG] = "rejected_toobig",
      [TR_DL_UNREACHABLE] = "unreachable",
      [TR_DL_REMOTE_FULL] = "remote_full",
      [TR_DL_REMOTE_NO_ACTOR] = "remote_no_actor",
      [TR_DL_GROUP_FULL] = "group_full",
      [TR_DL_REJECTED_BADTYPE] = "rejected_badtype",
      [TR_DL_REMOTE_BADTYPE] = "remote_badtype",
  };
  if ((unsigned)r >= TR_DL_COUNT) return "unknown";
  return names[r];
}
