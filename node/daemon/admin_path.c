/* admin_path.c — where the admin socket goes by default, for troupe run
 * (which makes the directory) and the operator verbs (which look there
 * for the one node on this host): $XDG_RUNTIME_DIR/troupe, else
 * /tmp/troupe-UID, a directory its user's alone. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin_path.h"

int admin_dir(char *out, size_t cap) {
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  int n = xdg && xdg[0] ? snprintf(out, cap, "%s/troupe", xdg)
                        : snprintf(out, cap, "/tmp/troupe-%lu",
                                   (unsigned long)geteuid());
  return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* dir, ours alone: made 0700 when missing; one another user owns, or
 * others may write to, is refused (a socket there could be swapped). */
static int dir_ours(const char *dir, char *err, size_t errlen) {
  struct stat st;
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "cannot make %s: %s", dir, strerror(errno));
    return -1;
  }
  if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
      st.st_uid != geteuid() || (st.st_mode & 077)) {
    snprintf(err, errlen, "%s is not a directory this user alone may use "
             "(mode 0700): set admin-socket to a path", dir);
    return -1;
  }
  return 0;
}

int admin_default_path(const char *name, char *out, size_t cap, char *err,
                       size_t errlen) {
  char dir[200];
  if (admin_dir(dir, sizeof(dir)) != 0) {
    snprintf(err, errlen, "the runtime directory's path is too long");
    return -1;
  }
  if (dir_ours(dir, err, errlen) != 0) return -1;
  int n = snprintf(out, cap, "%s/%s.sock", dir, name);
  if (n <= 0 || (size_t)n >= cap) {
    snprintf(err, errlen, "the admin socket's path is too long");
    return -1;
  }
  return 0;
}

/* Whether a node answers on the socket (one that died leaves its file). */
static bool answers(const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof(sa.sun_path)) return false;
  memcpy(sa.sun_path, path, strlen(path) + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
  close(fd);
  return ok;
}

int admin_find_one(char *out, size_t cap, char *names, size_t ncap) {
  char dir[200];
  if (admin_dir(dir, sizeof(dir)) != 0) return 0;
  DIR *d = opendir(dir);
  if (!d) return 0;
  int found = 0;
  names[0] = '\0';
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len < 6 || strcmp(e->d_name + len - 5, ".sock") != 0) continue;
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    if (stat(path, &st) != 0 || !S_ISSOCK(st.st_mode) || !answers(path))
      continue;
    if (++found == 1) snprintf(out, cap, "%s", path);
    size_t used = strlen(names);
    snprintf(names + used, ncap - used, "%s%s", used ? " " : "", path);
  }
  closedir(d);
  return found;
}
