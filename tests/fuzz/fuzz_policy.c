/* fuzz_policy.c — the policy file (policy_parse), and what a parsed
 * policy decides for a few requests. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  policy *p = NULL;
  char err[256];
  if (policy_parse(&p, text, err, sizeof(err)) == 0) {
    static const policy_subject who[] = {{"n1", POLICY_ROLE_NODE},
                                         {"ops", POLICY_ROLE_OPERATOR},
                                         {"view", POLICY_ROLE_VIEWER}};
    static const char *const objects[] = {"a", "billing", "$op.x", ""};
    for (size_t w = 0; w < sizeof(who) / sizeof(who[0]); w++)
      for (int a = 0; a < POLICY_ACTIONS; a++)
        for (size_t o = 0; o < sizeof(objects) / sizeof(objects[0]); o++) {
          uint32_t line;
          (void)policy_allows(p, &who[w], (policy_action)a, objects[o],
                              o % 2 ? "" : "prices", &line);
        }
    (void)policy_count(p);
    (void)policy_default_allows(p);
  }
  policy_free(p);
  free(text);
  return 0;
}
