/* admin_path.h — the admin socket's default place (admin_path.c). */
#ifndef TR_DAEMON_ADMIN_PATH_H
#define TR_DAEMON_ADMIN_PATH_H

#include <stddef.h>

/* $XDG_RUNTIME_DIR/troupe, else /tmp/troupe-UID, into out. 0, or -1 when
 * it does not fit. */
int admin_dir(char *out, size_t cap);
/* admin_dir()/NAME.sock into out, the directory made (0700) and checked
 * to be this user's alone; -1 with err saying why not. */
int admin_default_path(const char *name, char *out, size_t cap, char *err,
                       size_t errlen);
/* The sockets in admin_dir() a node answers on: how many; the first into out, all of them
 * (space-separated) into names. */
int admin_find_one(char *out, size_t cap, char *names, size_t ncap);

#endif /* TR_DAEMON_ADMIN_PATH_H */
