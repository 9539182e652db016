/* bench_codec.c — the envelope codec alone (transport/wire/codec.c, nanopb):
 * encodes, or decodes, the same 64 B envelope COUNT times, for counting
 * instructions per operation under valgrind (tests/bench/cachegrind.sh runs
 * it at two counts and divides the difference). Prints one JSON line:
 *
 *   codec_envelope_encode   ns per wire_encode_envelope, frame header included
 *   codec_envelope_decode   ns per wire_decode_envelope of the frame's body
 *
 * The envelope is a remote tr_send's as the link writes it: type SEND,
 * sender "src", target "sink", a 64 B payload and a 3-byte seq varint (the
 * pair bench_remote sends, a million messages into a link).
 *
 * Usage: bench_codec [--op encode|decode] [--count N]   [encode, 1000000]
 * Exit status 0; 1 if an encode or decode failed (the line's "error" gives
 * the TR_E code); 2 for bad usage. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "troupe.h"
#include "wire.h"

#define PAYLOAD 64

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage(void) {
  fprintf(stderr, "usage: bench_codec [--op encode|decode] [--count N]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *op = "encode";
  unsigned long long count = 1000000;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--op") == 0 && i + 1 < argc) {
      op = argv[++i];
    } else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
      char *end;
      count = strtoull(argv[++i], &end, 10);
      if (*end != '\0' || count == 0) usage();
    } else {
      usage();
    }
  }
  int decode = strcmp(op, "decode") == 0;
  if (!decode && strcmp(op, "encode") != 0) usage();

  uint8_t payload[PAYLOAD];
  memset(payload, 'x', sizeof(payload));
  wire_envelope e = {.type = TR_MSG_SEND,
                     .sender = {(const uint8_t *)"src", 3},
                     .target = {(const uint8_t *)"sink", 4},
                     .payload = {payload, sizeof(payload)},
                     .seq = 1000000};
  uint8_t frame[256];
  int n = wire_encode_envelope(frame, sizeof(frame), WIRE_MAX_FRAME_DEFAULT, &e);
  if (n < (int)WIRE_HDR) {
    printf("{\"name\":\"codec_envelope_%s\",\"error\":\"encode: %d\"}\n", op,
           n);
    return 1;
  }

  /* The sum of what each call returns keeps the loop's calls live; a
   * failed call stops the run. */
  uint64_t sum = 0;
  double t0 = now_s();
  for (unsigned long long i = 0; i < count; i++) {
    int rc;
    if (decode) {
      wire_envelope d;
      rc = wire_decode_envelope(frame + WIRE_HDR, (size_t)n - WIRE_HDR, &d);
      if (rc == 0) rc = (int)(d.payload.len + d.seq);
    } else {
      rc = wire_encode_envelope(frame, sizeof(frame), WIRE_MAX_FRAME_DEFAULT,
                                &e);
    }
    if (rc < 0) {
      printf("{\"name\":\"codec_envelope_%s\",\"error\":\"%s: %d\"}\n", op,
             decode ? "decode" : "encode", rc);
      return 1;
    }
    sum += (uint64_t)rc;
  }
  double t1 = now_s();
  printf("{\"name\":\"codec_envelope_%s\",\"value\":%.1f,\"unit\":\"ns/op\","
         "\"count\":%llu,\"payload\":%d,\"frame_bytes\":%d,\"check\":%llu}\n",
         op, (t1 - t0) * 1e9 / (double)count, count, PAYLOAD, n,
         (unsigned long long)sum);
  return 0;
}
