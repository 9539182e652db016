/* bench_alloc.c — malloc interposition for bench_engine: counts allocation
 * calls and live usable bytes, and forwards to glibc's own allocator. Built
 * with -fno-builtin so the compiler cannot turn these wrappers into calls to
 * themselves. */
#define _GNU_SOURCE
#include "bench_alloc.h"

#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

/* Sanitizer builds bring their own malloc; there the hooks are left out and
 * the counters stay at zero (bench_alloc_enabled() says so). */
#ifndef TR_BENCH_MALLOC_HOOK
#define TR_BENCH_MALLOC_HOOK 1
#endif

static bench_alloc_counts counts;

/* A relaxed load and store, not a locked read-modify-write: the bench runs
 * on one thread (libuv starts no threads for it), so nothing is lost, and
 * were a thread to allocate, the worst is a miscount, never a data race. A
 * locked add would cost ~20 cycles per counter on every malloc and free. */
#define ADD(field, v)                                                      \
  __atomic_store_n(&counts.field,                                          \
                   __atomic_load_n(&counts.field, __ATOMIC_RELAXED) + (v), \
                   __ATOMIC_RELAXED)

static inline void *track_new(void *p) {
  ADD(allocs, 1);
  if (p) ADD(live, (int64_t)malloc_usable_size(p));
  return p;
}

/* Checks that malloc really lands here: under valgrind, or a preloaded
 * allocator, these hooks are bypassed and every count would read zero. */
bool bench_alloc_enabled(void) {
  if (!TR_BENCH_MALLOC_HOOK) return false;
  /* Through volatile pointers: a direct call could be inlined here and so
   * dodge whatever redirects the malloc symbol. */
  void *(*volatile m)(size_t) = malloc;
  void (*volatile f)(void *) = free;
  uint64_t before = __atomic_load_n(&counts.allocs, __ATOMIC_RELAXED);
  f(m(32));
  return __atomic_load_n(&counts.allocs, __ATOMIC_RELAXED) != before;
}

bench_alloc_counts bench_alloc_get(void) {
  bench_alloc_counts c;
  c.allocs = __atomic_load_n(&counts.allocs, __ATOMIC_RELAXED);
  c.frees = __atomic_load_n(&counts.frees, __ATOMIC_RELAXED);
  c.live = __atomic_load_n(&counts.live, __ATOMIC_RELAXED);
  return c;
}

#if TR_BENCH_MALLOC_HOOK
void *malloc(size_t n) { return track_new(__libc_malloc(n)); }

void *calloc(size_t n, size_t size) {
  return track_new(__libc_calloc(n, size));
}

void free(void *p) {
  if (!p) return;
  ADD(frees, 1);
  ADD(live, -(int64_t)malloc_usable_size(p));
  __libc_free(p);
}

void *realloc(void *p, size_t n) {
  if (!p) return malloc(n);
  if (n == 0) { /* glibc frees and returns NULL */
    free(p);
    return NULL;
  }
  int64_t old = (int64_t)malloc_usable_size(p);
  void *q = __libc_realloc(p, n);
  ADD(allocs, 1);
  if (q) {
    ADD(live, (int64_t)malloc_usable_size(q) - old);
  }
  return q;
}

void *memalign(size_t align, size_t n) {
  return track_new(__libc_memalign(align, n));
}

void *aligned_alloc(size_t align, size_t n) {
  return track_new(__libc_memalign(align, n));
}

int posix_memalign(void **out, size_t align, size_t n) {
  if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
  void *p = track_new(__libc_memalign(align, n));
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

void *valloc(size_t n) { return track_new(__libc_memalign(4096, n)); }

void *pvalloc(size_t n) {
  return track_new(__libc_memalign(4096, (n + 4095) & ~(size_t)4095));
}
#endif /* TR_BENCH_MALLOC_HOOK */
