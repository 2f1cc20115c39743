/* libFuzzer target: PAT shapes and checksums (dhis2_pat_classify(),
   dhis2_pat_checksum_ok()) of whatever a user types at the prompt. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dhis2/pat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s = malloc(size + 1);

  if (s == NULL)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  if (dhis2_pat_checksum_ok(s) && dhis2_pat_classify(s) == DHIS2_PAT_NONE)
    abort(); /* a checksum that matches is a PAT's */
  free(s);
  return 0;
}
