/* bench_alloc.h — heap accounting for the benchmarks. bench_alloc.c defines
 * malloc and friends in the bench binary (forwarding to glibc's __libc_*), so
 * every allocation of the engine, libuv and libc is counted. No headers are
 * added to blocks: live bytes are tracked with malloc_usable_size, so blocks
 * from either side may be freed by the other. */
#ifndef TR_BENCH_ALLOC_H
#define TR_BENCH_ALLOC_H

#include <stdbool.h>
#include <stdint.h>

typedef struct bench_alloc_counts {
  uint64_t allocs; /* malloc, calloc, realloc, memalign-family calls */
  uint64_t frees;  /* free calls with a non-NULL pointer */
  int64_t live;    /* usable bytes of live blocks (since process start) */
} bench_alloc_counts;

/* False when malloc does not reach the hooks: sanitizer builds (hooks left
 * out), valgrind or an LD_PRELOADed allocator. */
bool bench_alloc_enabled(void);

/* A snapshot of the counters (relaxed loads; single loop thread). */
bench_alloc_counts bench_alloc_get(void);

#endif /* TR_BENCH_ALLOC_H */
