/* libFuzzer target: the body of a 401/403 from /api, read for why it
   refused a token (dhis2_oauth2_refusal_parse()) and printed as
   dhis2-auth prints it. */
#include <stdint.h>
#include <stdlib.h>

#include "dhis2/log.h"
#include "oauth2_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *msg = NULL;

  if (dhis2_oauth2_refusal_parse((const char *)data, size, &msg) != DHIS2_OK) {
    if (msg != NULL)
      abort();
    return 0;
  }
  if (msg == NULL || dhis2_log_untrusted(msg) == NULL)
    abort();
  free(msg);
  return 0;
}
