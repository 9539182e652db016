/* cluster_fuzz.h — the cluster's fuzz entry points (fuzz.c): what other
 * nodes and a node's operator answers put in front of this code, run from
 * arbitrary bytes. tests/fuzz has their libFuzzer programs and corpora;
 * the replay tests run the same inputs in every build. */
#ifndef TR_CLUSTER_FUZZ_H
#define TR_CLUSTER_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Returned when this code contradicted itself on the input (a message
 * the core sent did not decode again): a bug, whatever the input. */
#define CLUSTER_FUZZ_BUG (-1000)

/* SWIM and the registry read the input as a script of messages from
 * peers "n1", "n2", "n3" (and this node's own name, "fz", which must be
 * refused): each a control byte, a 16-bit big-endian length, then that
 * many bytes of FRAME_SWIM / FRAME_REGISTRY body (fewer at the end of the
 * input). The control byte picks the peer (bits 0-1), an event before the
 * message (bits 2-3) and how far the fake clock moves (bits 4-7); due
 * timers run after each message, and everything the core sends is encoded
 * and decoded again. Return the messages the decoder took, or
 * CLUSTER_FUZZ_BUG, or TR_ENOMEM. */
int cluster_fuzz_swim(const uint8_t *data, size_t len);
int cluster_fuzz_registry(const uint8_t *data, size_t len);

/* The operator client: the first byte is the verb of the request (an
 * OpVerb), the rest the frames the node sends back (length, kind, body),
 * each read as the client reads its replies (id 1 is the call's) until
 * the call is done. Returns the frames read, or TR_ENOMEM. */
int cluster_fuzz_op_reply(const uint8_t *data, size_t len);

#endif /* TR_CLUSTER_FUZZ_H */
