/* libFuzzer target: an /api/me reply, through dhis2_identity_parse() and
   the lookups the module's group, role, authority and org unit rules
   make. */
#include <stddef.h>
#include <stdint.h>

#include "dhis2/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct dhis2_identity *id = NULL;

  if (dhis2_identity_parse((const char *)data, size, &id) != DHIS2_OK)
    return 0;
  (void)dhis2_identity_has_group(id, "id:Kk12LkEWtXp");
  (void)dhis2_identity_has_group(id, "Administrators");
  (void)dhis2_identity_has_role(id, "name:Superuser");
  (void)dhis2_identity_group_name_only(id, "Kk12LkEWtXp");
  (void)dhis2_identity_role_name_only(id, "yrB6vc5Ip3r");
  (void)dhis2_identity_has_authority(id, "ALL");
  (void)dhis2_identity_orgunit_within(id, "ImspTQPwCqd");
  (void)dhis2_identity_orgunit_over(id, "/ImspTQPwCqd/O6uvpzGd5pu");
  dhis2_identity_free(id);
  return 0;
}
