/* codec.h — swim and registry messages (swim.h, registry.h) to and from
 * their wire form (troupe.proto: SwimMsg in FRAME_SWIM, RegMsg in
 * FRAME_REGISTRY). Sans I/O: encoding fills a nanopb struct for
 * link_send_frame or wire_encode_msg, decoding reads a frame body. */
#ifndef TR_CLUSTER_CODEC_H
#define TR_CLUSTER_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "registry.h"
#include "swim.h"
#include "troupe.pb.h"

/* ---- encoding ------------------------------------------------------------ */

/* Fills *pb from m, for link_send_frame(lk, troupe_FrameKind_FRAME_SWIM, pb,
 * troupe_SwimMsg_fields) or wire_encode_msg. The repeated field is a
 * callback that reads m->updates while encoding: m and what it points to
 * must stay valid until that call returns (the send calls encode at once,
 * so the caller's stack is fine). Returns 0, or TR_EINVAL for a message the
 * decoder would reject (unknown type, empty or unterminated sender, name or
 * target, addr unterminated, state out of range, more updates than
 * CCODEC_SWIM_MAX_UPDATES); *pb is then unusable. Any thread. */
int ccodec_swim_prepare(troupe_SwimMsg *pb, const swim_msg *m);

/* As ccodec_swim_prepare, for a registry message (FRAME_REGISTRY,
 * troupe_RegMsg_fields): reads m's deltas, digests and ids during the
 * encode. TR_EINVAL for an unknown type, an empty or unterminated sender,
 * owner or id (a NULL id included), or more entries than the CCODEC_REG_MAX_*
 * limits below. */
int ccodec_reg_prepare(troupe_RegMsg *pb, const reg_msg *m);

/* ---- decoding ------------------------------------------------------------ */

/* Where decoded entries live: a caller-owned arena, reused across decodes
 * (each decode overwrites what the previous one left) and kept at its
 * largest size until ccodec_scratch_free. Zero-initialise it
 * (CCODEC_SCRATCH_INIT). One decode at a time per scratch. */
typedef struct ccodec_scratch {
  void *sc_ents;      /* swim_update[] or reg_delta[] */
  size_t sc_ents_cap; /* bytes, as every cap here */
  void *sc_digests;   /* reg_digest[] */
  size_t sc_digests_cap;
  void *sc_chars;     /* ids, each NUL-terminated, back to back */
  size_t sc_chars_cap;
  void *sc_ids;       /* const char *[], into sc_chars */
  size_t sc_ids_cap;
  void *sc_seals;     /* reg_seal[], their proofs pointing into the body */
  size_t sc_seals_cap;
  void *sc_sinces;    /* uint64_t[], a SET's claim times */
  size_t sc_sinces_cap;
  /* The node's member cap, if set: a SWIM message decoded with it carries
   * at most that many updates and a registry message that many digests
   * (a full state lists no more; one digest per owner), so a larger one
   * costs nothing to refuse. 0: the CCODEC_* limits below. */
  uint32_t max_members;
} ccodec_scratch;

/* What a scratch holds now, in bytes (arena capacities). */
size_t ccodec_scratch_bytes(const ccodec_scratch *);

#define CCODEC_SCRATCH_INIT {0}

/* Frees what the arena holds and zeroes it (it may be reused). NULL ok. */
void ccodec_scratch_free(ccodec_scratch *);

/* Entry limits. Decoded entries are larger than on the wire (a swim_update
 * is ~400 bytes, a minimal one on the wire 5), so counts are capped by what
 * the protocol needs, not by what a 4 MiB frame could hold: a full state
 * lists at most every member (the host keeps at most 65535 peers), a delta
 * message carries at most the registry's max_deltas (4096), digests one per
 * member. A hostile peer can then make one decode take ~26 MB, not ~300.
 * Ids are stored compactly (bounded by the body). */
#define CCODEC_FRAME_MAX (4u << 20)
#define CCODEC_SWIM_MAX_UPDATES 65536u
#define CCODEC_REG_MAX_DELTAS 4096u
#define CCODEC_REG_MAX_DIGESTS 65536u
#define CCODEC_REG_MAX_IDS (CCODEC_FRAME_MAX / 3u)

/* Decodes a FRAME_SWIM body into *out. out->updates points into s and is
 * valid until the next decode with s or ccodec_scratch_free; the strings
 * are copied, the proofs point into body. Reads only body[0, len); the
 * memory taken grows with len only. Returns 0, TR_EINVAL for anything
 * malformed (bad protobuf, a field of the wrong wire type, missing type or
 * sender, unknown type, a name, sender or target empty, over TR_ID_MAX bytes
 * or holding a NUL, an addr over SWIM_ADDR_MAX - 1 bytes or holding a NUL,
 * a state past SWIM_LEFT, more updates than s->max_members or
 * CCODEC_SWIM_MAX_UPDATES), or
 * TR_ENOMEM; *out is then unspecified. Any thread, one scratch per thread. */
int ccodec_swim_decode(const uint8_t *body, size_t len, swim_msg *out,
                       ccodec_scratch *s);

/* As ccodec_swim_decode, for a FRAME_REGISTRY body: out->deltas, ->digests,
 * ->seals and ->ids (NUL-terminated) point into s, the seals' proofs into
 * body; NULL when there are none.
 * TR_EINVAL for an unknown type, a missing or bad sender, owner or id (empty,
 * over TR_ID_MAX, holding a NUL), more entries than the CCODEC_REG_MAX_*
 * limits, or bad protobuf; TR_ENOMEM. The registry checks what the entries
 * mean (which ones a type may carry, owners, epochs). */
int ccodec_reg_decode(const uint8_t *body, size_t len, reg_msg *out,
                      ccodec_scratch *s);

#endif /* TR_CLUSTER_CODEC_H */
