/* wire.h — troupe's wire format (troupe.proto) in frames: encoding
 * envelopes and control messages straight into an output buffer, and a
 * frame reader that checks lengths before it buffers anything. Sans I/O:
 * bytes in, bytes out; knows nothing of sockets, TLS or actors. */
#ifndef TR_WIRE_H
#define TR_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "troupe.pb.h"

/* The wire version this build speaks. A node links with peers of this
 * version and of the one before or after it (docs/transport.md,
 * "Versions"): the newer side keeps reading what the older one writes. */
#define WIRE_VERSION 1
/* Hello.features: what a node speaks beyond version 1. */
#define WIRE_FEATURE_CREDIT 1u /* flow-control credit for sends and asks */
#define WIRE_FEATURES WIRE_FEATURE_CREDIT
#define WIRE_HDR 5u /* 4-byte big-endian length, then the kind byte */
#define WIRE_MAX_FRAME_DEFAULT (4u << 20)
#define WIRE_MAX_FRAME_MIN 1024u

/* A frame's header at buf: the length of the kind byte and the body, big
 * endian, then the kind (codec.c, codec_envelope.c). */
static inline void wire_put_header(uint8_t *buf, size_t body_len,
                                   troupe_FrameKind kind) {
  uint32_t n = (uint32_t)body_len + 1;
  buf[0] = (uint8_t)(n >> 24);
  buf[1] = (uint8_t)(n >> 16);
  buf[2] = (uint8_t)(n >> 8);
  buf[3] = (uint8_t)n;
  buf[4] = (uint8_t)kind;
}

/* Bytes that point elsewhere: into the caller's data when encoding, into
 * the received frame when decoding. */
typedef struct wire_slice {
  const uint8_t *p;
  size_t len;
} wire_slice;

typedef struct wire_envelope {
  uint32_t type; /* tr_msg_type */
  wire_slice sender, target, topic, payload;
  uint64_t ask_id;
  int32_t status;
  uint64_t seq;
  uint32_t timeout_ms; /* TR_MSG_ASK only; 0: absent */
  uint32_t msg_type;   /* the payload's type tag; 0: absent */
  /* Encode only: bytes appended to the message as they are, fields a later
   * version may add (rolling-upgrade tests; see link_mgr_emulate). */
  wire_slice future;
  /* Decode only: which optional strings were present. */
  uint8_t has_sender, has_topic;
} wire_envelope;

/* Upper bound of the frame wire_encode_envelope writes for e. */
size_t wire_envelope_bound(const wire_envelope *e);

/* Encodes one envelope frame at buf: the bytes pb_encode writes for
 * troupe.Envelope (fields in number order; type and target always, the
 * others when set), then e->future as it is (codec_envelope.c writes them
 * field by field, without nanopb's descriptor walk). Returns the bytes
 * written, TR_EFULL if cap is too small (nothing usable written),
 * TR_ETOOBIG if the frame would exceed max_frame. */
int wire_encode_envelope(uint8_t *buf, size_t cap, uint32_t max_frame,
                         const wire_envelope *e);

/* Encodes a control frame of `kind` (HELLO, ACK, PING, PONG, CLOSE) from the
 * matching generated struct. Returns bytes written or TR_EFULL. */
int wire_encode_control(uint8_t *buf, size_t cap, troupe_FrameKind kind,
                        const void *msg);

/* Encodes any non-envelope message as a frame of `kind` (cluster kinds are
 * 16 and up). Returns bytes written, TR_EFULL or TR_EINVAL. */
int wire_encode_msg(uint8_t *buf, size_t cap, troupe_FrameKind kind,
                    const pb_msgdesc_t *fields, const void *msg);

/* Decodes an envelope frame body; slices point into body. TR_EINVAL when
 * the body is not a well-formed envelope (missing target included); it
 * accepts and refuses exactly what nanopb's pb_decode of troupe.Envelope
 * did, skipping fields it does not know (a newer peer's). */
int wire_decode_envelope(const uint8_t *body, size_t len, wire_envelope *out);
/* Decodes a control frame body into the generated struct of its kind. */
int wire_decode_control(troupe_FrameKind kind, const uint8_t *body,
                        size_t len, void *out);

/* ---- frame reader ------------------------------------------------------- */

typedef struct wire_frame {
  troupe_FrameKind kind;
  const uint8_t *body; /* valid until the next wire_reader_space / _feed */
  size_t len;
} wire_frame;

typedef struct wire_reader {
  uint8_t *buf;
  size_t cap, start, end; /* unread bytes are buf[start, end) */
  uint32_t max_frame;
} wire_reader;

void wire_reader_init(wire_reader *, uint32_t max_frame);
void wire_reader_free(wire_reader *);
/* Room for at least `want` more bytes at the end of the buffer, for reading
 * straight into it; *avail gets how much. NULL on ENOMEM. */
uint8_t *wire_reader_space(wire_reader *, size_t want, size_t *avail);
void wire_reader_commit(wire_reader *, size_t n); /* n bytes were written */
/* Gives the buffer back when nothing is buffered and it holds more than
 * keep bytes (after a large frame): it grows again on demand. */
void wire_reader_shrink(wire_reader *, size_t keep);
/* Copies bytes in (for callers that cannot read in place). */
int wire_reader_feed(wire_reader *, const void *data, size_t len);
/* The next complete frame: 1 and *f set; 0 when more bytes are needed;
 * TR_ETOOBIG when the announced length exceeds max_frame (checked before
 * any of it is buffered); TR_EINVAL for an empty frame. After an error the
 * stream is unusable: close the link. */
int wire_reader_next(wire_reader *, wire_frame *f);

/* Runs arbitrary bytes through the reader and the decoders, as a link would;
 * returns the number of frames decoded or a negative error. The fuzz entry
 * point (tests/fuzz) and the malformed-input tests use it. */
int wire_fuzz_input(const uint8_t *data, size_t len);

#endif /* TR_WIRE_H */
