/* fuzz_op_reply.c — a node's replies to an operator request, read as the
 * client reads them (cluster_fuzz_op_reply). */
#include "cluster_fuzz.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FUZZ_REQUIRE(cluster_fuzz_op_reply(data, size) != CLUSTER_FUZZ_BUG);
  return 0;
}
