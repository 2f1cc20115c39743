/* libFuzzer target: the redirect URL a user pastes into dhis2-auth
   (dhis2_oauth2_parse_redirect()), against a fixed state. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dhis2/oauth2.h"
#include "dhis2/secret.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *url = malloc(size + 1);
  char *code = NULL;
  char why[256];

  if (url == NULL)
    return 0;
  memcpy(url, data, size);
  url[size] = '\0';
  if (dhis2_oauth2_parse_redirect(url, "fuzzstate0123456789", &code, why,
                                  sizeof(why)) == DHIS2_OK &&
      code == NULL)
    abort();
  dhis2_secret_free(code);
  free(url);
  return 0;
}
