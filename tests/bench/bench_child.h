/* bench_child.h — the receiving process of the two-process benchmarks
 * (bench_link, bench_remote): this program execed again as
 * "NAME --serve DIR --fd N", which writes one line (where it listens) to
 * fd N once it is ready. */
#ifndef TR_BENCH_CHILD_H
#define TR_BENCH_CHILD_H

#include <stddef.h>
#include <sys/types.h>

/* Starts the child and reads its line into line (without the newline),
 * waiting at most 20 s. The child's pid, or -1 if it did not start or
 * wrote no line (then it has been killed and reaped). The program's path
 * is read before the fork: valgrind answers that readlink with the
 * program's path, so the child can run under it too. */
pid_t bench_child_spawn(const char *name, const char *dir, char *line,
                        size_t cap);

/* Waits up to 5 s for the child to exit, then kills it; reaps it. */
void bench_child_reap(pid_t pid);

#endif
