/* bench_child.c — see bench_child.h. */
#include "bench_child.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

pid_t bench_child_spawn(const char *name, const char *dir, char *line,
                        size_t cap) {
  char exe[4096];
  ssize_t el = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (el <= 0 || cap < 2) return -1;
  exe[el] = '\0';
  int fds[2];
  if (pipe(fds) != 0) return -1;
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    close(fds[0]);
    char fd[16];
    snprintf(fd, sizeof(fd), "%d", fds[1]);
    execl(exe, name, "--serve", dir, "--fd", fd, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  size_t got = 0;
  line[0] = '\0';
  struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
  double deadline = now_s() + 20;
  while (got < cap - 1 && !memchr(line, '\n', got) && now_s() < deadline) {
    if (poll(&pfd, 1, 200) <= 0) continue;
    ssize_t n = read(fds[0], line + got, cap - 1 - got);
    if (n <= 0) break;
    got += (size_t)n;
    line[got] = '\0';
  }
  close(fds[0]);
  char *nl = strchr(line, '\n');
  if (!nl) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
  }
  *nl = '\0';
  return pid;
}

void bench_child_reap(pid_t pid) {
  int status;
  for (int i = 0; i < 100; i++) { /* 5 s, then SIGKILL */
    if (waitpid(pid, &status, WNOHANG) != 0) return;
    usleep(50000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
}
