/* fuzz_registry.c — registry gossip from peers, decoded and applied to a
 * fresh registry on a fake clock (cluster_fuzz_registry). */
#include "cluster_fuzz.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FUZZ_REQUIRE(cluster_fuzz_registry(data, size) != CLUSTER_FUZZ_BUG);
  return 0;
}
