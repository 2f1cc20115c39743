/* The account phase: the policies on the identity the auth phase
   verified, and with account_check = lookup, DHIS2 asked about users it
   did not just check (SSH keys, the token method). */
#include <limits.h>
#include <time.h>

#include "dhis2/cache.h"
#include "dhis2/secret.h"
#include "module.h"

/* Applies the policies to id: PAM_SUCCESS or PAM_PERM_DENIED (told). */
static int judge(struct module *m, const struct dhis2_identity *id)
{
  char why[256];

  if (!policy_configured(m->cfg) ||
      policy_allows(m->cfg, id, &m->log, policy_server_acl(m), m->host_path,
                    why, sizeof(why)))
    return PAM_SUCCESS;
  dhis2_log(&m->log, LOG_NOTICE, "DHIS2 user %s refused: %s", id->username,
            why);
  conv_error(m, "Access denied: DHIS2 user %s is %s.", id->username, why);
  return PAM_PERM_DENIED;
}

/* The cache, for the snapshot of users DHIS2 cannot be asked about. */
static bool cache_of(struct module *m, struct dhis2_cache *c, char *dir,
                     size_t dirlen)
{
  return m->cfg->offline && state_offline_cache(m, true, c, dir, dirlen);
}

/* DHIS2 could not be asked about name: the offline snapshot decides, else
   account_unavailable. */
static int unavailable(struct module *m, const char *name, enum dhis2_err err)
{
  struct dhis2_cache c;
  struct dhis2_cache_result r = {0};
  char dir[PATH_MAX];
  int rc;

  if (cache_of(m, &c, dir, sizeof(dir)) &&
      dhis2_cache_snapshot(&c, name, time(NULL), &r) == DHIS2_CACHE_OK) {
    dhis2_log(&m->log, LOG_NOTICE,
              "%s: DHIS2 unavailable (%s): account judged on the snapshot of "
              "the last online check",
              name, dhis2_strerror(err));
    host_path_fetch(m, NULL, DHIS2_AUTH_APITOKEN, NULL, NULL);
    rc = judge(m, r.id);
    dhis2_identity_free(r.id);
    return rc;
  }
  dhis2_identity_free(r.id);
  if (m->cfg->account_unavailable_allow) {
    dhis2_log(&m->log, LOG_WARNING,
              "%s: DHIS2 unavailable (%s): allowed (account_unavailable = "
              "allow)",
              name, dhis2_strerror(err));
    return PAM_SUCCESS;
  }
  dhis2_log(&m->log, LOG_NOTICE,
            "%s: DHIS2 unavailable (%s): refused (account_unavailable = deny)",
            name, dhis2_strerror(err));
  conv_error(m, "DHIS2 cannot be reached to check your account; try again "
                "later.");
  return PAM_AUTHINFO_UNAVAIL;
}

/* Deletes name's offline record: DHIS2 says the account is gone. */
static void forget(struct module *m, const char *name)
{
  struct dhis2_cache c;
  char dir[PATH_MAX];

  if (cache_of(m, &c, dir, sizeof(dir)) &&
      dhis2_cache_forget(&c, name) != DHIS2_OK)
    dhis2_log(&m->log, LOG_ERR, "%s: offline record not removed", name);
}

/* One /api/users lookup of name with the service PAT. */
static int lookup(struct module *m, const char *name)
{
  struct dhis2_client *c = NULL;
  struct dhis2_account a = {0};
  struct dhis2_cache cache;
  char dir[PATH_MAX];
  char *pat = lookup_pat(m);
  time_t server_date = 0;
  enum dhis2_err err;
  int rc;

  if (pat == NULL)
    return PAM_AUTHINFO_UNAVAIL;
  err = dhis2_client_new(m->cfg, &m->log, &c);
  if (err == DHIS2_OK) {
    err = lookup_user(m, c, pat, name, &a);
    server_date = c->server_date;
    if (err == DHIS2_OK && !a.disabled)
      host_path_fetch(m, c, DHIS2_AUTH_APITOKEN, NULL, pat);
  }
  dhis2_client_free(c);
  dhis2_secret_free(pat);
  switch (err) {
  case DHIS2_OK:
    break;
  case DHIS2_ERR_NO_USER:
    dhis2_log(&m->log, LOG_NOTICE, "%s: no such DHIS2 user: refused", name);
    conv_error(m, "Access denied: there is no DHIS2 user %s.", name);
    forget(m, name);
    return PAM_PERM_DENIED;
  case DHIS2_ERR_LOOKUP_DENIED:
    dhis2_log(&m->log, LOG_ERR,
              "%s: account lookup refused: %s (lookup_pat_file %s; its user "
              "needs the F_USER_VIEW authority)",
              name, dhis2_strerror(err), m->cfg->lookup_pat_file);
    return PAM_AUTHINFO_UNAVAIL;
  default:
    if (offline_applies(err))
      return unavailable(m, name, err);
    dhis2_log(&m->log, LOG_ERR, "%s: account lookup failed: %s", name,
              dhis2_strerror(err));
    return PAM_AUTHINFO_UNAVAIL;
  }
  if (a.disabled) {
    dhis2_log(&m->log, LOG_NOTICE, "%s: DHIS2 account disabled: refused",
              name);
    conv_error(m, "Access denied: your DHIS2 account is disabled.");
    forget(m, name);
    rc = PAM_PERM_DENIED;
  } else if (a.account_expiry != 0 && a.account_expiry <= time(NULL)) {
    dhis2_log(&m->log, LOG_NOTICE, "%s: DHIS2 account expired: refused", name);
    conv_error(m, "Access denied: your DHIS2 account has expired.");
    forget(m, name);
    rc = PAM_ACCT_EXPIRED;
  } else {
    if (cache_of(m, &cache, dir, sizeof(dir)) &&
        dhis2_cache_store_snapshot(&cache, name, a.id, time(NULL),
                                   server_date) != DHIS2_OK)
      dhis2_log(&m->log, LOG_ERR, "%s: offline snapshot not kept", name);
    rc = judge(m, a.id);
    if (rc == PAM_SUCCESS)
      dhis2_log(&m->log, LOG_INFO, "%s: DHIS2 account active", name);
  }
  dhis2_account_clear(&a);
  return rc;
}

int module_account(struct module *m)
{
  const void *data = NULL;
  const void *checked = NULL;
  const char *item = NULL;
  struct user_target t = {0};
  int rc;

  if (pam_get_data(m->pamh, DHIS2_PAM_IDENTITY, &data) == PAM_SUCCESS &&
      data != NULL) {
    const struct dhis2_identity *id = data;

    if ((pam_get_data(m->pamh, DHIS2_PAM_CHECKED, &checked) == PAM_SUCCESS &&
         checked != NULL) ||
        !m->cfg->account_check_lookup) {
      host_path_fetch(m, NULL, DHIS2_AUTH_APITOKEN, NULL, NULL);
      return judge(m, id);
    }
    /* The token method: DHIS2 accepts a disabled user's JWT until it
       expires, so ask about the account itself. */
    return lookup(m, id->username);
  }
  if (!m->cfg->account_check_lookup)
    return PAM_IGNORE; /* not authenticated by us, e.g. an SSH key */
  if (pam_get_item(m->pamh, PAM_USER, (const void **)&item) != PAM_SUCCESS ||
      item == NULL || !dhis2_username_valid(item))
    return PAM_USER_UNKNOWN;
  /* Local accounts we do not map are never touched: break-glass. */
  rc = user_map_resolve(m, item, &t);
  if (rc == PAM_USER_UNKNOWN) {
    dhis2_debug(&m->log, "%s: not a DHIS2 user here: account not checked",
                item);
    return PAM_IGNORE;
  }
  if (rc == PAM_SUCCESS && t.kiosk_user != NULL) {
    /* Only a DHIS2 sign-in leads to a kiosk account; an SSH key to it
       says nothing about a DHIS2 user. */
    rc = PAM_IGNORE;
  } else if (rc == PAM_SUCCESS) {
    rc = dhis2_username_valid(t.dhis2_name) ? lookup(m, t.dhis2_name)
                                            : PAM_USER_UNKNOWN;
  }
  user_target_clear(&t);
  return rc;
}
