/* fuzz_wire.c — the frame reader and every decoder of transport/wire:
 * arbitrary bytes as a link's stream (wire_fuzz_input). */
#include "fuzz.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  (void)wire_fuzz_input(data, size);
  return 0;
}
