/* fuzz.h — what every target in tests/fuzz defines: libFuzzer's entry
 * (and, where a target needs one, its start-up hook). The same sources
 * build as libFuzzer programs (-DTR_FUZZ=ON, clang) and, with replay.c,
 * as the ctest programs that run the committed corpora in every build. */
#ifndef TR_FUZZ_H
#define TR_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A finding that is not a crash (the code contradicted itself): make it
 * one, so libFuzzer keeps the input. */
#define FUZZ_REQUIRE(cond)                                                   \
  do {                                                                       \
    if (!(cond)) __builtin_trap();                                           \
  } while (0)

#endif /* TR_FUZZ_H */
