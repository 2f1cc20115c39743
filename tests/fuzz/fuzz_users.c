/* libFuzzer target: an /api/users reply, through dhis2_users_reply_parse()
   and the org unit rules the account phase applies to what it found. */
#include <stddef.h>
#include <stdint.h>

#include "dhis2/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct dhis2_account a;

  if (dhis2_users_reply_parse((const char *)data, size, "alice", &a) !=
      DHIS2_OK)
    return 0;
  (void)dhis2_identity_has_role(a.id, "Euq3XfEIEbx");
  (void)dhis2_identity_has_authority(a.id, "F_DATAVALUE_ADD");
  (void)dhis2_identity_orgunit_within(a.id, "ImspTQPwCqd");
  (void)dhis2_identity_orgunit_over(a.id, "/ImspTQPwCqd/fdc6uOvgoji");
  dhis2_account_clear(&a);
  return 0;
}
