/* names.c — the names of link.h's enums, as log lines and tests print
 * them. Constant tables only, so every file of transport/link may call
 * these, the leaf conn.c included. */
#include "link.h"

const char *link_state_name(link_state s) {
  switch (s) {
  case LINK_DOWN:
    return "down";
  case LINK_CONNECTING:
    return "connecting";
  case LINK_UP:
    return "up";
  }
  return "?";
}

const char *link_close_reason_name(link_close_reason r) {
  static const char *const names[LINK_CLOSE_COUNT] = {
      [LINK_CLOSE_NONE] = "none",
      [LINK_CLOSE_PEER] = "peer_closed",
      [LINK_CLOSE_LOCAL] = "local",
      [LINK_CLOSE_DUPLICATE] = "duplicate",
      [LINK_CLOSE_TLS] = "tls",
      [LINK_CLOSE_HELLO] = "bad_hello",
      [LINK_CLOSE_TIMEOUT] = "timeout",
      [LINK_CLOSE_TOO_BIG] = "frame_too_big",
      [LINK_CLOSE_MALFORMED] = "malformed",
      [LINK_CLOSE_UNKNOWN_KIND] = "unknown_kind",
      [LINK_CLOSE_SEQ_GAP] = "seq_out_of_order",
      [LINK_CLOSE_IO] = "io_error",
      [LINK_CLOSE_SELF] = "self",
      [LINK_CLOSE_REVOKED] = "revoked",
      [LINK_CLOSE_LIMIT] = "limit",
      [LINK_CLOSE_IDLE] = "idle",
  };
  return (unsigned)r < LINK_CLOSE_COUNT ? names[r] : "?";
}

const char *link_stage_name(link_stage s) {
  static const char *const names[] = {
      [LINK_STAGE_RESOLVE] = "resolve",
      [LINK_STAGE_CONNECT] = "connect",
      [LINK_STAGE_TLS] = "tls",
      [LINK_STAGE_HELLO] = "hello",
  };
  return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}
