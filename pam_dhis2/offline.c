/* Offline sign-in: the module's side of the cache (DESIGN.md section 11). */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <security/pam_ext.h>

#include "dhis2/cache.h"
#include "dhis2/pat.h"
#include "module.h"

bool offline_applies(enum dhis2_err err)
{
  switch (err) {
  case DHIS2_ERR_CONNECT:
  case DHIS2_ERR_TIMEOUT:
  case DHIS2_ERR_TLS:
  case DHIS2_ERR_SERVER:
    return true;
  default:
    /* A redirect, an odd status or a reply we cannot read is still an
       answer from something at the URL: never a reason to go offline. */
    return false;
  }
}

/* Fills c for m; false (logged) when state_dir cannot be used. */
static bool cache_of(struct module *m, struct dhis2_cache *c, char *dir,
                     size_t dirlen)
{
  return state_offline_cache(m, true, c, dir, dirlen);
}

static enum dhis2_cache_slot slot_of(const char *secret)
{
  return dhis2_pat_classify(secret) == DHIS2_PAT_NONE ? DHIS2_CACHE_PASSWORD
                                                      : DHIS2_CACHE_PAT;
}

/* "2026-11-29 15:04 UTC": when things happened, for the user. */
static void when(time_t t, char *out, size_t len)
{
  struct tm tm;

  if (gmtime_r(&t, &tm) == NULL ||
      strftime(out, len, "%Y-%m-%d %H:%M UTC", &tm) == 0)
    snprintf(out, len, "(unknown)");
}

bool offline_delayed(struct module *m, const char *name)
{
  struct dhis2_cache c;
  char dir[PATH_MAX];
  char until_s[40];
  time_t until = 0;

  if (!m->cfg->offline || !cache_of(m, &c, dir, sizeof(dir)) ||
      !dhis2_cache_delayed(&c, name, time(NULL), &until))
    return false;
  when(until, until_s, sizeof(until_s));
  dhis2_log(&m->log, LOG_NOTICE,
            "%s: %u wrong offline sign-ins: refused until %s, nothing sent "
            "to DHIS2",
            name, m->cfg->offline_failure_limit, until_s);
  conv_error(m, "Too many failed sign-ins; try again after %s.", until_s);
  return true;
}

void offline_after_online(struct module *m, const char *name,
                          const char *secret, enum dhis2_err err,
                          const struct dhis2_identity *id, bool twofactor,
                          time_t server_date)
{
  struct dhis2_cache c;
  char dir[PATH_MAX];
  enum dhis2_err rc = DHIS2_OK;
  const char *what = NULL;

  if (!m->cfg->offline || secret == NULL || secret[0] == '\0' ||
      offline_applies(err) || !cache_of(m, &c, dir, sizeof(dir)))
    return;
  switch (err) {
  case DHIS2_OK:
    if (id == NULL)
      return;
    what = "refresh";
    rc = dhis2_cache_store(&c, name, slot_of(secret), secret, id, twofactor,
                           time(NULL), server_date);
    break;
  case DHIS2_ERR_REJECTED:
  case DHIS2_ERR_TOKEN_EXPIRED:
  case DHIS2_ERR_TOKEN_DENIED:
  case DHIS2_ERR_TOKEN_CHECKSUM:
  case DHIS2_ERR_TOKEN_MALFORMED:
    /* Deletes the slot only when the secret is the cached one: it was
       changed (or the PAT revoked) on DHIS2. */
    what = "check of a refused secret";
    rc = dhis2_cache_rejected(&c, name, slot_of(secret), secret);
    break;
  case DHIS2_ERR_LOCKED:
  case DHIS2_ERR_DISABLED:
  case DHIS2_ERR_EXPIRED:
  case DHIS2_ERR_PASSWORD_EXPIRED:
  case DHIS2_ERR_TOKEN_OWNER:
    what = "removal";
    rc = dhis2_cache_forget(&c, name);
    if (rc == DHIS2_OK)
      dhis2_log(&m->log, LOG_INFO, "%s: offline record removed: %s", name,
                dhis2_strerror(err));
    break;
  default:
    return;
  }
  if (rc != DHIS2_OK)
    dhis2_log(&m->log, LOG_ERR, "%s: offline record %s failed: %s", name, what,
              dhis2_strerror(rc));
}

int offline_signin(struct module *m, const char *name, const char *secret,
                   struct dhis2_identity **id)
{
  struct dhis2_cache c;
  struct dhis2_cache_result r;
  enum dhis2_cache_verdict v;
  char dir[PATH_MAX];
  char a[40];
  char b[40];
  int rc = PAM_AUTHINFO_UNAVAIL;

  if (!m->cfg->offline || secret == NULL || secret[0] == '\0' ||
      !cache_of(m, &c, dir, sizeof(dir)))
    return PAM_AUTHINFO_UNAVAIL;
  v = dhis2_cache_check(&c, name, slot_of(secret), secret, time(NULL), &r);
  when(r.checked, a, sizeof(a));
  switch (v) {
  case DHIS2_CACHE_OK:
    pam_info(m->pamh,
             "DHIS2 is unreachable: signed in offline with the sign-in "
             "checked on %s.",
             a);
    dhis2_log(&m->log, LOG_NOTICE,
              "%s: DHIS2 unavailable: signed in offline (last online check "
              "%s)",
              name, a);
    *id = r.id;
    r.id = NULL;
    rc = PAM_SUCCESS;
    break;
  case DHIS2_CACHE_NONE:
    conv_error(m,
               "DHIS2 is unreachable, and %s has not signed in here "
               "before: try again later.",
               name);
    dhis2_log(&m->log, LOG_NOTICE,
              "%s: DHIS2 unavailable and no offline record", name);
    break;
  case DHIS2_CACHE_WRONG:
    dhis2_log(&m->log, LOG_NOTICE,
              "%s: DHIS2 unavailable: wrong offline secret (%u of %u)", name,
              r.failures, m->cfg->offline_failure_limit);
    rc = PAM_AUTH_ERR;
    break;
  case DHIS2_CACHE_DELAYED:
    when(r.until, b, sizeof(b));
    conv_error(m, "Too many failed sign-ins; try again after %s.", b);
    dhis2_log(&m->log, LOG_NOTICE,
              "%s: DHIS2 unavailable: offline sign-in refused until %s after "
              "%u wrong secrets",
              name, b, r.failures);
    rc = PAM_MAXTRIES;
    break;
  case DHIS2_CACHE_TOO_OLD:
    when(r.until, b, sizeof(b));
    conv_error(m,
               "DHIS2 is unreachable, and the last online sign-in of %s "
               "here (%s) is too old to sign in offline.",
               name, a);
    dhis2_log(&m->log, LOG_NOTICE,
              "%s: DHIS2 unavailable: offline record checked %s ended %s "
              "(offline_ttl %ld s)",
              name, a, b, m->cfg->offline_ttl);
    break;
  case DHIS2_CACHE_CLOCK_BACK:
    when(r.mark, b, sizeof(b));
    conv_error(m,
               "DHIS2 is unreachable, and this computer's clock is "
               "behind a time already seen (%s): no offline sign-in until "
               "the clock is right.",
               b);
    dhis2_log(&m->log, LOG_WARNING,
              "%s: DHIS2 unavailable: the clock is before the latest time "
              "seen (%s): offline sign-in refused",
              name, b);
    break;
  case DHIS2_CACHE_TWOFACTOR:
    conv_error(m,
               "DHIS2 is unreachable, and %s signs in with a "
               "verification code: no offline sign-in with the password "
               "alone.",
               name);
    dhis2_log(&m->log, LOG_NOTICE,
              "%s: DHIS2 unavailable: a two-factor user; offline_twofactor "
              "= deny",
              name);
    break;
  case DHIS2_CACHE_ERROR:
  default:
    dhis2_log(&m->log, LOG_ERR, "%s: the offline record cannot be used", name);
    break;
  }
  dhis2_identity_free(r.id);
  return rc;
}
