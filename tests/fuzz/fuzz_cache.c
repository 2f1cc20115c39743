/* libFuzzer target: an offline record file, through
   dhis2_cache_record_parse() and the window it gives. */
#include <stddef.h>
#include <stdint.h>

#include "dhis2/cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct dhis2_cache_record *r = NULL;

  if (dhis2_cache_record_parse((const char *)data, size, &r) != DHIS2_OK)
    return 0;
  (void)dhis2_cache_record_end(r, 7 * 24 * 3600);
  (void)dhis2_identity_has_group(r->id, "Kk12LkEWtXp");
  (void)dhis2_identity_orgunit_within(r->id, "ImspTQPwCqd");
  dhis2_cache_record_free(r);
  return 0;
}
