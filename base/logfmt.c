/* logfmt.c — log fields that cannot be forged: tr_log_vfields formats like
 * vsnprintf, but writes each %s value as exactly one logfmt value, so a
 * name or an error text chosen by a peer cannot add a field or a line. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "troupe.h"

typedef struct out {
  char *buf;
  size_t cap, len; /* len: wanted, may pass cap */
} out;

static void put(out *o, char ch) {
  if (o->len + 1 < o->cap) o->buf[o->len] = ch;
  o->len++;
}

static void puts_n(out *o, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) put(o, s[i]);
}

/* A value as is only when it is one plain word. */
static bool plain(const char *s, size_t n) {
  if (!n) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch <= ' ' || ch == '"' || ch == '=' || ch == '\\' || ch == 0x7f)
      return false;
  }
  return true;
}

static void put_value(out *o, const char *s, size_t max) {
  if (!s) s = "(null)";
  size_t n = strnlen(s, max);
  if (plain(s, n)) {
    puts_n(o, s, n);
    return;
  }
  static const char hex[] = "0123456789abcdef";
  put(o, '"');
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '"' || ch == '\\') {
      put(o, '\\');
      put(o, (char)ch);
    } else if (ch < 0x20 || ch == 0x7f) {
      puts_n(o, "\\x", 2);
      put(o, hex[ch >> 4]);
      put(o, hex[ch & 15]);
    } else {
      put(o, (char)ch);
    }
  }
  put(o, '"');
}

/* One conversion other than %s, through snprintf with its own spec. */
static void put_conv(out *o, const char *spec, size_t slen, va_list *ap,
                     const int *stars, int nstars) {
  char f[32], b[128];
  if (slen >= sizeof(f)) return;
  memcpy(f, spec, slen);
  f[slen] = '\0';
  char conv = spec[slen - 1];
  const char *mod = spec + slen - 1;
  while (mod > spec && strchr("hljztL", mod[-1])) mod--;
  size_t mlen = (size_t)(spec + slen - 1 - mod);
  int n = 0;
#define CONV(T)                                                          \
  do {                                                                   \
    T v = va_arg(*ap, T);                                                \
    n = nstars == 2   ? snprintf(b, sizeof(b), f, stars[0], stars[1], v) \
        : nstars == 1 ? snprintf(b, sizeof(b), f, stars[0], v)           \
                      : snprintf(b, sizeof(b), f, v);                    \
  } while (0)
  bool is_int = strchr("diouxXc", conv) != NULL;
  bool is_signed = conv == 'd' || conv == 'i';
  if (conv == 'p') CONV(void *);
  else if (strchr("fFeEgGaA", conv)) {
    if (mlen == 1 && mod[0] == 'L') CONV(long double);
    else CONV(double);
  } else if (is_int && mlen == 2 && mod[0] == 'l') {
    if (is_signed) CONV(long long);
    else CONV(unsigned long long);
  } else if (is_int && mlen == 1 && mod[0] == 'l') {
    if (is_signed) CONV(long);
    else CONV(unsigned long);
  } else if (is_int && mlen == 1 && (mod[0] == 'z' || mod[0] == 't')) {
    if (is_signed) CONV(ptrdiff_t);
    else CONV(size_t);
  } else if (is_int && mlen == 1 && mod[0] == 'j') {
    if (is_signed) CONV(long long);
    else CONV(unsigned long long);
  } else if (is_int) {
    if (is_signed || conv == 'c') CONV(int);
    else CONV(unsigned);
  } else {
    return; /* %n and the unknown: nothing */
  }
#undef CONV
  if (n > 0) puts_n(o, b, (size_t)n < sizeof(b) ? (size_t)n : sizeof(b) - 1);
}

int tr_log_vfields(char *buf, size_t cap, const char *fmt, va_list ap_in) {
  out o = {buf, cap, 0};
  va_list ap;
  va_copy(ap, ap_in);
  for (const char *p = fmt ? fmt : ""; *p; p++) {
    if (*p != '%') {
      put(&o, *p);
      continue;
    }
    const char *spec = p++;
    if (*p == '%') {
      put(&o, '%');
      continue;
    }
    int prec = -1, stars[2], nstars = 0;
    while (*p && strchr("-+ #0", *p)) p++;
    if (*p == '*') {
      stars[nstars++] = va_arg(ap, int);
      p++;
    } else {
      while (*p >= '0' && *p <= '9') p++;
    }
    if (*p == '.') {
      p++;
      if (*p == '*') {
        prec = stars[nstars++] = va_arg(ap, int);
        p++;
      } else {
        prec = 0;
        while (*p >= '0' && *p <= '9') prec = prec * 10 + (*p++ - '0');
      }
    }
    while (*p && strchr("hljztL", *p)) p++;
    if (!*p) break;
    if (*p == 's') { /* width is ignored: a value is never padded */
      const char *s = va_arg(ap, const char *);
      put_value(&o, s, prec >= 0 ? (size_t)prec : (size_t)-1);
    } else {
      put_conv(&o, spec, (size_t)(p - spec + 1), &ap, stars, nstars);
    }
  }
  va_end(ap);
  if (cap) buf[o.len < cap ? o.len : cap - 1] = '\0';
  return o.len > (size_t)__INT_MAX__ ? __INT_MAX__ : (int)o.len;
}

int tr_log_fields(char *buf, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = tr_log_vfields(buf, cap, fmt, ap);
  va_end(ap);
  return n;
}
