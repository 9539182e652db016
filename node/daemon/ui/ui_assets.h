/* The inspector's page (index.html, app.js, style.css), embedded in the
 * binary at build time by embed.cmake; the daemon's HTTP server serves it. */
#ifndef TROUPE_UI_ASSETS_H
#define TROUPE_UI_ASSETS_H

#include <stddef.h>

typedef struct ui_asset {
  const char *path;          /* "/", "/app.js", "/style.css" */
  const char *type;          /* content type incl. charset */
  const unsigned char *data; /* len bytes, then a NUL not counted in len */
  size_t len;
} ui_asset;

/* The asset served at path[0..len) ("/" and "/index.html" are the page);
 * NULL if none. The path is compared as is: the caller strips the query
 * string. Assets are constant and live as long as the program: any thread
 * may call this. */
const ui_asset *ui_asset_find(const char *path, size_t len);

#endif
