/* fuzz_wire.c — libFuzzer entry for the frame reader and decoders:
 *   cmake -DCMAKE_C_COMPILER=clang -DTR_FUZZ=ON ... && ./fuzz_wire corpus/ */
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  (void)wire_fuzz_input(data, size);
  return 0;
}
