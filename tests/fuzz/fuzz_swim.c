/* fuzz_swim.c — SWIM messages from peers, decoded and applied to a fresh
 * membership core on a fake clock (cluster_fuzz_swim). */
#include "cluster_fuzz.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FUZZ_REQUIRE(cluster_fuzz_swim(data, size) != CLUSTER_FUZZ_BUG);
  return 0;
}
