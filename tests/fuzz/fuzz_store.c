/* libFuzzer target: a token record as the store reads it back from a
   file or key (dhis2_token_record_from_json()); one that parses must
   write and read back to the same record. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dhis2/secret.h"
#include "dhis2/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const char *a, const char *b)
{
  return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct dhis2_token_record *r = NULL;
  struct dhis2_token_record *back = NULL;
  char err[256];
  char *json = NULL;
  size_t len = 0;

  if (dhis2_token_record_from_json((const char *)data, size, &r, err,
                                   sizeof(err)) != DHIS2_OK) {
    if (memchr(err, '\0', sizeof(err)) == NULL)
      abort();
    return 0;
  }
  if (dhis2_token_record_to_json(r, &json, &len) == DHIS2_OK) {
    if (dhis2_token_record_from_json(json, len, &back, err, sizeof(err)) !=
            DHIS2_OK ||
        !same(r->url, back->url) || !same(r->username, back->username) ||
        !same(r->access_token, back->access_token) ||
        !same(r->refresh_token, back->refresh_token) ||
        !same(r->id_token, back->id_token) || !same(r->scope, back->scope) ||
        r->expires_at != back->expires_at ||
        r->obtained_at != back->obtained_at)
      abort(); /* the store would not read back what it wrote */
    dhis2_secret_free_n(json, len);
  }
  dhis2_token_record_free(back);
  dhis2_token_record_free(r);
  return 0;
}
