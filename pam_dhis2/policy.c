/* The account policy: require_group, require_role, require_authority. */
#include <stdio.h>

#include "module.h"

bool policy_configured(const struct dhis2_config *cfg)
{
  return cfg->require_group.n > 0 || cfg->require_role.n > 0 ||
         cfg->require_authority.n > 0;
}

/* True when any item of list satisfies has(). An empty list holds. */
static bool any_of(const struct dhis2_strlist *list,
                   const struct dhis2_identity *id,
                   bool (*has)(const struct dhis2_identity *, const char *))
{
  if (list->n == 0)
    return true;
  for (size_t i = 0; i < list->n; i++)
    if (has(id, list->v[i]))
      return true;
  return false;
}

bool policy_allows(const struct dhis2_config *cfg,
                   const struct dhis2_identity *id, char *why, size_t whylen)
{
  if (!any_of(&cfg->require_group, id, dhis2_identity_has_group)) {
    snprintf(why, whylen, "not in a required DHIS2 group");
    return false;
  }
  if (!any_of(&cfg->require_role, id, dhis2_identity_has_role)) {
    snprintf(why, whylen, "without a required DHIS2 role");
    return false;
  }
  if (!any_of(&cfg->require_authority, id, dhis2_identity_has_authority)) {
    snprintf(why, whylen, "without a required DHIS2 authority");
    return false;
  }
  return true;
}
