/* The auth phase: map the user, check the secret with DHIS2, bind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <security/pam_ext.h>

#include "dhis2/pat.h"
#include "dhis2/secret.h"
#include "module.h"

static double now(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What DHIS2_PAM_CHECKED points at: only its presence counts. */
static const char checked_marker = 1;

static void free_identity(pam_handle_t *pamh, void *data, int status)
{
  (void)pamh;
  (void)status;
  dhis2_identity_free(data);
}

/* Exports DHIS2_USERNAME, DHIS2_USER_ID and DHIS2_URL to the PAM env. */
int module_export_env(struct module *m, const struct dhis2_identity *id)
{
  const char *names[] = {"DHIS2_USERNAME", "DHIS2_USER_ID", "DHIS2_URL"};
  const char *values[] = {id->username, id->id, m->cfg->url};
  int rc = PAM_SUCCESS;

  for (size_t i = 0; i < 3 && rc == PAM_SUCCESS; i++) {
    char *kv = NULL;

    if (values[i] == NULL)
      continue;
    if (asprintf(&kv, "%s=%s", names[i], values[i]) < 0)
      return PAM_BUF_ERR;
    rc = pam_putenv(m->pamh, kv);
    free(kv);
  }
  return rc;
}

bool module_same_dhis2_user(struct module *m, const char *answered,
                            const char *wanted)
{
  const void *user = NULL;

  /* DHIS2 names are case-sensitive: "Bob" and "bob" may both exist. */
  if (strcmp(answered, wanted) == 0)
    return true;
  pam_get_item(m->pamh, PAM_USER, &user);
  dhis2_log(&m->log, LOG_WARNING,
            "DHIS2 answered for user %s, not %s: refused (if %s is meant to "
            "sign in as %s, a user_map line \"%s %s\" allows it)",
            answered, wanted, answered, user ? (const char *)user : wanted,
            answered, user ? (const char *)user : wanted);
  return false;
}

/* Tells the user why DHIS2 refused, when DHIS2 gave a reason. */
static void show_reason(struct module *m, enum dhis2_err err)
{
  switch (err) {
  case DHIS2_ERR_LOCKED:
  case DHIS2_ERR_DISABLED:
  case DHIS2_ERR_EXPIRED:
  case DHIS2_ERR_PASSWORD_EXPIRED:
  case DHIS2_ERR_2FA_ENROL:
  case DHIS2_ERR_TOKEN_EXPIRED:
  case DHIS2_ERR_TOKEN_DENIED:
  case DHIS2_ERR_TOKEN_CHECKSUM:
  case DHIS2_ERR_TOKEN_OWNER:
    conv_error(m, "DHIS2: %s.", dhis2_strerror(err));
    break;
  default:
    break;
  }
}

/* /api/me with Basic (servers before 2.41), then the host unit's path
   with the same credential when it is needed. */
static enum dhis2_err basic_me(struct module *m, struct dhis2_client *c,
                               const char *name, const char *pw,
                               struct dhis2_identity **id)
{
  enum dhis2_err rc = dhis2_api_me(c, DHIS2_AUTH_BASIC, name, pw, id);

  if (rc == DHIS2_OK)
    host_path_fetch(m, c, DHIS2_AUTH_BASIC, name, pw);
  return rc;
}

/* Password through /api/auth/login (2.41+), with one follow-up read of
   /api/me and a logout; Basic on older servers. Which one is remembered in
   state_dir. */
static enum dhis2_err check_password(struct module *m, struct dhis2_client *c,
                                     const char *name, const char *pw,
                                     struct dhis2_identity **id, int *pam_rc,
                                     bool *asked_code)
{
  enum dhis2_err rc;
  char *cookies = NULL;
  char *code = NULL;
  enum dhis2_server_kind kind;
  char release[DHIS2_RELEASE_MAX];

  if (!server_kind_get(m, &kind, release, sizeof(release))) {
    /* Asked without a credential, so the password is still sent once. */
    rc = dhis2_api_server_kind(c, &kind, release, sizeof(release));
    if (rc != DHIS2_OK)
      return rc;
    dhis2_debug(&m->log, "server %s takes passwords by %s",
                release[0] ? release : "(release not said)",
                kind == DHIS2_SERVER_LOGIN_API ? "/api/auth/login" : "Basic");
    server_kind_set(m, kind, release);
  }
  if (kind == DHIS2_SERVER_BASIC_ONLY)
    return basic_me(m, c, name, pw, id);
  rc = dhis2_api_login(c, name, pw, NULL, &cookies);
  if (rc == DHIS2_ERR_UNSUPPORTED) {
    /* 404/405: nothing was checked, so Basic is still the first attempt
       for this password, not a second. */
    server_kind_set(m, DHIS2_SERVER_BASIC_ONLY, NULL);
    return basic_me(m, c, name, pw, id);
  }
  if (dhis2_err_class(rc) == DHIS2_CLASS_NEEDS_CODE) {
    *asked_code = true;
    if (m->cfg->twofactor == DHIS2_TWOFACTOR_DENY) {
      conv_error(m, "DHIS2 asks for a verification code; two-factor "
                    "sign-in is not allowed here.");
      return rc;
    }
    if (rc == DHIS2_ERR_2FA_CODE_SENT)
      pam_info(m->pamh, "DHIS2 sent a verification code to your e-mail.");
    *pam_rc = conv_get_code(m, &code);
    if (*pam_rc != PAM_SUCCESS)
      return rc;
    if (code[0] == '\0') {
      dhis2_secret_free(code);
      return DHIS2_ERR_2FA_BAD_CODE;
    }
    rc = dhis2_api_login(c, name, pw, code, &cookies);
    dhis2_secret_free(code);
  }
  if (rc != DHIS2_OK)
    return rc;
  rc = dhis2_api_me(c, DHIS2_AUTH_SESSION, NULL, cookies, id);
  if (rc == DHIS2_OK)
    host_path_fetch(m, c, DHIS2_AUTH_SESSION, NULL, cookies);
  dhis2_api_logout(c, cookies);
  dhis2_secret_free(cookies);
  return rc;
}

/* True when secret would go to DHIS2 as a password. */
static bool sent_as_password(const struct module *m, const char *secret)
{
  return secret[0] != '\0' && dhis2_pat_classify(secret) == DHIS2_PAT_NONE &&
         (m->cfg->methods & DHIS2_METHOD_PASSWORD) != 0;
}

/* What an attempt's result means for the throttle. */
static enum throttle_outcome throttle_outcome_of(enum dhis2_err err)
{
  if (err == DHIS2_OK)
    return THROTTLE_SUCCESS;
  if (err == DHIS2_ERR_REJECTED || err == DHIS2_ERR_LOCKED)
    return THROTTLE_REJECTED;
  return THROTTLE_NO_VERDICT;
}

/* What one online check learnt besides its verdict. */
struct check_info {
  bool asked_code;    /* DHIS2 asked for a verification code */
  time_t server_date; /* the server's Date, 0 if none */
};

/* Checks secret for name; *how says what kind of secret it was. */
static enum dhis2_err check_secret(struct module *m, const char *name,
                                   const char *secret, const char **how,
                                   struct dhis2_identity **id, int *pam_rc,
                                   struct check_info *info)
{
  enum dhis2_err rc;
  struct dhis2_client *c = NULL;
  bool is_pat = dhis2_pat_classify(secret) != DHIS2_PAT_NONE;

  *how = is_pat ? "pat" : "password";
  if (secret[0] == '\0') {
    dhis2_debug(&m->log, "empty password: not sent");
    return DHIS2_ERR_REJECTED;
  }
  if (!(m->cfg->methods &
        (is_pat ? DHIS2_METHOD_PAT : DHIS2_METHOD_PASSWORD))) {
    dhis2_debug(&m->log, "method %s not enabled: not sent", *how);
    return DHIS2_ERR_REJECTED;
  }
  rc = dhis2_client_new(m->cfg, &m->log, &c);
  if (rc != DHIS2_OK)
    return rc;
  if (is_pat) {
    rc = dhis2_api_me(c, DHIS2_AUTH_APITOKEN, NULL, secret, id);
    if (rc == DHIS2_OK)
      host_path_fetch(m, c, DHIS2_AUTH_APITOKEN, NULL, secret);
  } else
    rc = check_password(m, c, name, secret, id, pam_rc, &info->asked_code);
  info->server_date = c->server_date;
  dhis2_client_free(c);
  if (rc == DHIS2_OK && !module_same_dhis2_user(m, (*id)->username, name)) {
    dhis2_identity_free(*id);
    *id = NULL;
    rc = DHIS2_ERR_IDENTITY;
  }
  return rc;
}

int module_authenticate(struct module *m)
{
  const char *item = NULL;
  char *user = NULL; /* a copy: PAM_USER changes for a kiosk login */
  const void *service = NULL;
  const char *how = "-";
  const char *outcome;
  struct user_target t = {0};
  struct dhis2_identity *id = NULL;
  struct throttle_slot slot = {0};
  struct check_info info = {0};
  enum dhis2_err err = DHIS2_ERR_INTERNAL;
  char *secret = NULL;
  struct dhis2_tokens tokens = {0};
  bool device = false;
  char why[512];
  double t0 = now();
  int pam_rc = PAM_SUCCESS;
  int prio;
  int rc;

  pam_get_item(m->pamh, PAM_SERVICE, &service);
  /* A handle may be used for a second attempt: whatever happens now, the
     account and session phases must not see the first one's identity. */
  if (pam_set_data(m->pamh, DHIS2_PAM_IDENTITY, NULL, NULL) != PAM_SUCCESS ||
      pam_set_data(m->pamh, DHIS2_PAM_CHECKED, NULL, NULL) != PAM_SUCCESS) {
    rc = PAM_BUF_ERR;
    goto out;
  }
  rc = pam_get_user(m->pamh, &item, NULL);
  if (rc != PAM_SUCCESS || item == NULL) {
    rc = rc == PAM_CONV_AGAIN ? PAM_INCOMPLETE : PAM_USER_UNKNOWN;
    goto out;
  }
  if (!dhis2_username_valid(item)) {
    /* Not logged: it may hold control characters or a typed password. */
    dhis2_log(&m->log, LOG_NOTICE, "refusing a malformed user name");
    rc = PAM_USER_UNKNOWN;
    goto out;
  }
  user = strdup(item);
  if (user == NULL) {
    rc = PAM_BUF_ERR;
    goto out;
  }
  rc = user_map_resolve(m, user, &t);
  if (rc != PAM_SUCCESS)
    goto out;
  if (!dhis2_username_valid(t.dhis2_name)) {
    rc = PAM_USER_UNKNOWN;
    goto out;
  }
  if (m->cfg->methods & DHIS2_METHOD_TOKEN) {
    how = "token";
    if (t.kiosk_user != NULL) {
      snprintf(why, sizeof(why), "not for a kiosk sign-in");
      err = DHIS2_ERR_REJECTED;
    } else {
      err = token_check(m, user, t.dhis2_name, &id, why, sizeof(why));
    }
    if (err == DHIS2_OK)
      goto verified;
    dhis2_debug(&m->log, "%s: no usable stored token: %s", user, why);
    if (err == DHIS2_ERR_NOMEM) {
      rc = PAM_BUF_ERR;
      goto out;
    }
    if ((m->cfg->methods & (DHIS2_METHOD_PASSWORD | DHIS2_METHOD_PAT |
                            DHIS2_METHOD_DEVICE)) == 0) {
      /* Nothing to prompt for: the stack's next line (a password) goes
         on when this one says authinfo_unavail=ignore. */
      rc = PAM_AUTHINFO_UNAVAIL;
      goto out;
    }
    how = "-";
    err = DHIS2_ERR_INTERNAL;
  }
  device = device_configured(m);
  if (device &&
      (m->cfg->methods & (DHIS2_METHOD_PASSWORD | DHIS2_METHOD_PAT)) == 0)
    goto device_flow;
  if (!device &&
      (m->cfg->methods & (DHIS2_METHOD_PASSWORD | DHIS2_METHOD_PAT)) == 0) {
    /* device alone, and it cannot be offered: logged already. */
    rc = PAM_AUTHINFO_UNAVAIL;
    goto out;
  }
  rc = conv_get_secret(m,
                       device ? "Password, or press Enter for a code on "
                                "another device: "
                              : "Password: ",
                       &secret);
  if (rc != PAM_SUCCESS)
    goto out;
  if (device && secret[0] == '\0')
    goto device_flow;
  /* Wrong offline secrets hold the user back, online too: nothing is
     sent until the delay ends. */
  if (secret[0] != '\0' && offline_delayed(m, t.dhis2_name)) {
    how = sent_as_password(m, secret) ? "password" : "pat";
    rc = PAM_MAXTRIES;
    goto out;
  }
  /* Only passwords count toward DHIS2's lockout: a PAT or token of the
     user still signs in while the throttle holds. */
  if (sent_as_password(m, secret) &&
      !throttle_reserve(m, t.dhis2_name, &slot)) {
    dhis2_log(&m->log, LOG_NOTICE,
              "%s: %u passwords rejected or in flight within %ld s: not "
              "asking DHIS2",
              t.dhis2_name, m->cfg->failure_limit, m->cfg->failure_window);
    conv_error(m, "Too many failed attempts; try again later.");
    how = "password";
    rc = PAM_MAXTRIES;
    goto out;
  }
  err = check_secret(m, t.dhis2_name, secret, &how, &id, &pam_rc, &info);
  throttle_settle(m, t.dhis2_name, &slot, throttle_outcome_of(err));
  if (pam_rc != PAM_SUCCESS) {
    rc = pam_rc; /* the conversation failed while asking for a code */
    goto out;
  }
  if (m->cfg->offline && offline_applies(err)) {
    dhis2_log(&m->log, LOG_NOTICE,
              "%s: DHIS2 unavailable (%s): trying offline", t.dhis2_name,
              dhis2_strerror(err));
    rc = offline_signin(m, t.dhis2_name, secret, &id);
    if (rc == PAM_SUCCESS) {
      how = strcmp(how, "pat") == 0 ? "pat-offline" : "password-offline";
      err = DHIS2_OK;
      goto verified;
    }
    goto out;
  }
  offline_after_online(m, t.dhis2_name, secret, err, id, info.asked_code,
                       info.server_date);
  show_reason(m, err);
  rc = dhis2_err_to_pam(err);
  if (err == DHIS2_ERR_INVAL)
    rc = PAM_AUTH_ERR;
  if (rc != PAM_SUCCESS)
    goto out;
  goto verified;
device_flow:
  /* No password is sent: the throttle and the offline record have no
     part in it. */
  how = "device";
  rc = device_signin(m, t.dhis2_name, &id, &tokens);
  err = rc == PAM_SUCCESS ? DHIS2_OK : DHIS2_ERR_INTERNAL;
  if (rc != PAM_SUCCESS)
    goto out;
verified:
  /* The auth line may carry the policy too: enforce it here as well, so
     it holds even where the account phase does not see our data. */
  host_path_fetch(m, NULL, DHIS2_AUTH_APITOKEN, NULL, NULL);
  if (policy_configured(m->cfg) &&
      !policy_allows(m->cfg, id, &m->log, policy_server_acl(m), m->host_path,
                     why, sizeof(why))) {
    conv_error(m, "Access denied: DHIS2 user %s is %s.", id->username, why);
    rc = PAM_PERM_DENIED;
    goto out;
  }
  /* Only a sign-in that passed the policies leaves tokens behind; never
     in a shared kiosk account. */
  if (strcmp(how, "device") == 0 && t.kiosk_user == NULL)
    device_keep_tokens(m, user, id, &tokens);
  rc = module_export_env(m, id);
  if (rc == PAM_SUCCESS && t.kiosk_user != NULL)
    rc = pam_set_item(m->pamh, PAM_USER, t.kiosk_user);
  if (rc == PAM_SUCCESS) {
    rc = pam_set_data(m->pamh, DHIS2_PAM_IDENTITY, id, free_identity);
    if (rc == PAM_SUCCESS)
      id = NULL; /* transferred */
  }
  /* DHIS2 (or the offline record) just judged a password or PAT: the
     account phase need not ask again. A token it has not. */
  if (rc == PAM_SUCCESS && strcmp(how, "token") != 0)
    rc = pam_set_data(m->pamh, DHIS2_PAM_CHECKED, (void *)&checked_marker,
                      NULL);
out:
  outcome = rc == PAM_SUCCESS ? "success" : pam_strerror(m->pamh, rc);
  /* No stored token is the everyday case of a token line: not a notice. */
  prio = rc == PAM_SUCCESS ||
                 (rc == PAM_AUTHINFO_UNAVAIL && strcmp(how, "token") == 0)
             ? LOG_INFO
             : LOG_NOTICE;
  if (err != DHIS2_OK && err != DHIS2_ERR_INTERNAL)
    dhis2_log(&m->log, prio,
              "service=%s user=%s dhis2_user=%s%s%s method=%s: %s (%s) in "
              "%.3f s",
              service ? (const char *)service : "-", user ? user : "-",
              t.dhis2_name ? t.dhis2_name : "-", t.kiosk_user ? " kiosk=" : "",
              t.kiosk_user ? t.kiosk_user : "", how, outcome,
              dhis2_strerror(err), now() - t0);
  else
    dhis2_log(&m->log, prio,
              "service=%s user=%s dhis2_user=%s%s%s method=%s: %s in %.3f s",
              service ? (const char *)service : "-", user ? user : "-",
              t.dhis2_name ? t.dhis2_name : "-", t.kiosk_user ? " kiosk=" : "",
              t.kiosk_user ? t.kiosk_user : "", how, outcome, now() - t0);
  dhis2_identity_free(id);
  dhis2_secret_free(secret);
  dhis2_tokens_clear(&tokens);
  user_target_clear(&t);
  free(user);
  return rc;
}
