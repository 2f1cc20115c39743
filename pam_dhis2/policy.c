/* The account policy: require_group, require_role, require_authority. */
#include <stdio.h>

#include "module.h"

bool policy_configured(const struct dhis2_config *cfg)
{
  return cfg->require_group.n > 0 || cfg->require_role.n > 0 ||
         cfg->require_authority.n > 0 || cfg->require_orgunit.n > 0 ||
         cfg->host_orgunit != NULL;
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

/* Logs each UID-shaped value of list that only a name matched: an admin
   who wrote a name that happens to look like a UID needs "name:", and a
   user in a group named like the UID is worth knowing about. */
static void log_name_only(const struct dhis2_log *lg, const char *key,
                          const char *noun, const struct dhis2_strlist *list,
                          const struct dhis2_identity *id,
                          bool (*name_only)(const struct dhis2_identity *,
                                            const char *))
{
  for (size_t i = 0; lg != NULL && i < list->n; i++)
    if (name_only(id, list->v[i]))
      dhis2_log(lg, LOG_WARNING,
                "%s: '%s' is matched against ids only, and DHIS2 user %s "
                "has no such id but a %s so named; write name:%s if the "
                "name is meant",
                key, list->v[i], id->username, noun, list->v[i]);
}

/*
 * /api/me cannot tell "not a member" from "a member who may not read the
 * group": from 2.40.11, 2.41.8, 2.42.5 and 2.43.0 it leaves out the groups
 * and roles whose sharing does not let the user read them. Says so when
 * the server is such a release, or may be one; a release known to list
 * everything needs no such line.
 */
static void log_not_visible(const struct dhis2_log *lg, const char *key,
                            const char *noun, const struct dhis2_identity *id,
                            enum dhis2_me_acl acl)
{
  if (lg == NULL || acl == DHIS2_ME_ACL_NONE)
    return;
  dhis2_log(lg, LOG_NOTICE,
            "%s: DHIS2 user %s is not shown in any required %s: not a "
            "member, or a %s not visible to the user (%s lists only the "
            "%ss a user may read): give the %s metadata read sharing for "
            "its members, or use require_authority (never filtered)",
            key, id->username, noun, noun,
            acl == DHIS2_ME_ACL_FILTERED
                ? "this DHIS2 release"
                : "DHIS2 2.40.11, 2.41.8, 2.42.5, 2.43 and later",
            noun, noun);
}

enum dhis2_me_acl policy_server_acl(struct module *m)
{
  enum dhis2_server_kind kind;
  char release[DHIS2_RELEASE_MAX];

  if (!server_kind_get(m, &kind, release, sizeof(release)))
    return DHIS2_ME_ACL_UNKNOWN;
  return dhis2_release_me_acl(release);
}

bool policy_allows(const struct dhis2_config *cfg,
                   const struct dhis2_identity *id, const struct dhis2_log *lg,
                   enum dhis2_me_acl acl, const char *host_path, char *why,
                   size_t whylen)
{
  if (!any_of(&cfg->require_group, id, dhis2_identity_has_group)) {
    log_name_only(lg, "require_group", "group", &cfg->require_group, id,
                  dhis2_identity_group_name_only);
    log_not_visible(lg, "require_group", "group", id, acl);
    snprintf(why, whylen, "not in a required DHIS2 group");
    return false;
  }
  if (!any_of(&cfg->require_role, id, dhis2_identity_has_role)) {
    log_name_only(lg, "require_role", "role", &cfg->require_role, id,
                  dhis2_identity_role_name_only);
    log_not_visible(lg, "require_role", "role", id, acl);
    snprintf(why, whylen, "without a required DHIS2 role");
    return false;
  }
  if (!any_of(&cfg->require_authority, id, dhis2_identity_has_authority)) {
    snprintf(why, whylen, "without a required DHIS2 authority");
    return false;
  }
  if (!any_of(&cfg->require_orgunit, id, dhis2_identity_orgunit_within)) {
    snprintf(why, whylen, "not assigned to a required organisation unit");
    return false;
  }
  if (cfg->host_orgunit != NULL && host_path == NULL) {
    snprintf(why, whylen,
             "not known to be of this host's organisation unit (its path "
             "could not be read from DHIS2)");
    return false;
  }
  if (cfg->host_orgunit != NULL &&
      !dhis2_identity_orgunit_over(id, host_path)) {
    snprintf(why, whylen, "not assigned to an organisation unit of this host");
    return false;
  }
  return true;
}
