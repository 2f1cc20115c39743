/* libFuzzer target: a token endpoint's reply (dhis2_oauth2_parse_tokens())
   and how long a store keeps what it gave. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dhis2/oauth2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct dhis2_tokens t;
  char why[256];

  memset(&t, 0, sizeof(t));
  if (dhis2_oauth2_parse_tokens((const char *)data, size, &t, why,
                                sizeof(why)) == DHIS2_OK) {
    if (t.access_token == NULL || t.expires_in < 0 || t.refresh_expires_in < 0)
      abort();
    (void)dhis2_tokens_keep_for(&t, true);
    (void)dhis2_tokens_keep_for(&t, false);
  }
  dhis2_tokens_clear(&t);
  return 0;
}
