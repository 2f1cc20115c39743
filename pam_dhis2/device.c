/* The device method: RFC 8628 at the PAM prompt, through an identity
   provider DHIS2 trusts, and the tokens then kept for the user. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_ext.h>

#include "dhis2/qr.h"
#include "dhis2/secret.h"
#include "dhis2/store.h"
#include "module.h"

bool device_configured(struct module *m)
{
  if (!(m->cfg->methods & DHIS2_METHOD_DEVICE))
    return false;
  if (m->cfg->oauth2 != DHIS2_OAUTH2_OIDC) {
    dhis2_log(&m->log, LOG_NOTICE,
              "methods: device needs oauth2 = oidc (an identity provider "
              "that DHIS2 trusts); DHIS2's own OAuth2 clients cannot hold "
              "the device grant: not offered");
    return false;
  }
  if (m->cfg->client_id == NULL) {
    dhis2_log(&m->log, LOG_ERR,
              "methods: device needs client_id (a public client of the "
              "identity provider with the device grant): not offered");
    return false;
  }
  return true;
}

static double mono(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pause_for(double seconds)
{
  struct timespec ts;

  if (seconds <= 0)
    return;
  ts.tv_sec = (time_t)seconds;
  ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* The first prompt: where to go, the code, the QR code, what to do. */
static char *first_prompt(const struct dhis2_device *d, long left)
{
  const char *target = d->verification_uri_complete != NULL
                           ? d->verification_uri_complete
                           : d->verification_uri;
  char *qr = dhis2_qr_draw(target);
  char *text = NULL;

  if (asprintf(&text,
               "Sign in to DHIS2 on another device: open\n\n  %s\n\nand "
               "enter the code  %s\n%s%s\nThe code is valid for %ld:%02ld. "
               "Press Enter once you have approved the sign-in: ",
               d->verification_uri, d->user_code,
               qr != NULL ? "\nor scan this QR code:\n\n" : "",
               qr != NULL ? qr : "", left / 60, left % 60) < 0)
    text = NULL;
  free(qr);
  return text;
}

/* What the user reads when DHIS2 or the provider said no. */
static int refuse(struct module *m, const char *dhis2_name, const char *say,
                  const char *logged)
{
  conv_error(m, "%s", say);
  dhis2_log(&m->log, LOG_NOTICE, "%s: device sign-in: %s", dhis2_name,
            logged != NULL ? logged : say);
  return PAM_AUTH_ERR;
}

/* The deadline came before the user's approval did. */
static int too_late(struct module *m, const char *dhis2_name)
{
  return refuse(m, dhis2_name,
                "The code was not approved in time; sign in again for a new "
                "one.",
                "not approved before the code or device_timeout ran out");
}

/*
 * The code's life at the prompt: shows it, then polls after each Enter
 * until the provider decides, the code expires or device_timeout passes.
 */
static int run_flow(struct module *m, struct dhis2_client *c,
                    const struct dhis2_oauth2_endpoints *ep,
                    const char *dhis2_name, struct dhis2_tokens *tokens)
{
  struct dhis2_device d = {0};
  enum dhis2_err rc;
  char why[512] = "";
  char *prompt = NULL;
  double start, deadline, last;
  long interval;
  int pam_rc;

  /* The code's life counts from the request: the provider's clock
     started before its answer reached us. */
  start = mono();
  rc = dhis2_oauth2_device_start(c, m->cfg, ep, &d, why, sizeof(why));
  if (rc != DHIS2_OK) {
    dhis2_log(&m->log, LOG_ERR, "%s: device authorization at %s: %s",
              dhis2_name, ep->device_authorization,
              why[0] != '\0' ? why : dhis2_strerror(rc));
    conv_error(m, "Sign-in on another device is not available now.");
    return rc == DHIS2_ERR_NOMEM ? PAM_BUF_ERR : PAM_AUTHINFO_UNAVAIL;
  }
  /* Only an address a browser may be sent to is shown to the user. */
  if (!dhis2_oauth2_browser_url_ok(m->cfg, d.verification_uri) ||
      (d.verification_uri_complete != NULL &&
       !dhis2_oauth2_browser_url_ok(m->cfg, d.verification_uri_complete))) {
    dhis2_log(&m->log, LOG_ERR,
              "%s: the identity provider's verification address %s is not "
              "an https URL: not shown",
              dhis2_name, dhis2_log_untrusted(d.verification_uri));
    conv_error(m, "Sign-in on another device is not available now.");
    pam_rc = PAM_AUTHINFO_UNAVAIL;
    goto out;
  }
  interval = d.interval > 0 ? d.interval : 5;
  /* RFC 8628 3.4 spaces the polls, not the first one from the
     authorization: the user presses Enter once approved, and is answered
     at once. */
  last = start - (double)interval;
  deadline = start + (double)m->cfg->device_timeout;
  if (d.expires_in > 0 && start + (double)d.expires_in < deadline)
    deadline = start + (double)d.expires_in;
  prompt = first_prompt(&d, (long)(deadline - start));
  if (prompt == NULL) {
    pam_rc = PAM_BUF_ERR;
    goto out;
  }
  dhis2_debug(&m->log, "%s: device code shown; polling every %ld s for %ld s",
              dhis2_name, interval, (long)(deadline - start));
  for (;;) {
    char *answer = NULL;

    pam_rc = pam_prompt(m->pamh, PAM_PROMPT_ECHO_ON, &answer, "%s", prompt);
    if (answer != NULL)
      dhis2_secret_free(answer);
    if (pam_rc != PAM_SUCCESS) {
      dhis2_log(&m->log, LOG_NOTICE,
                "%s: device sign-in: the conversation ended (%s): stopped "
                "polling",
                dhis2_name, pam_strerror(m->pamh, pam_rc));
      if (pam_rc == PAM_CONV_AGAIN)
        pam_rc = PAM_INCOMPLETE;
      goto out;
    }
    for (;;) {
      double now = mono();
      double wait = last + (double)interval - now;

      if (now >= deadline || now + wait > deadline) {
        pam_rc = too_late(m, dhis2_name);
        goto out;
      }
      pause_for(wait);
      rc = dhis2_oauth2_device_poll(c, m->cfg, ep, &d, tokens, why,
                                    sizeof(why));
      last = mono();
      if (rc == DHIS2_ERR_SLOW_DOWN) {
        interval += 5; /* RFC 8628 section 3.5 */
        dhis2_debug(&m->log, "%s: slow_down: polling every %ld s", dhis2_name,
                    interval);
        continue;
      }
      break;
    }
    if (rc != DHIS2_ERR_PENDING)
      break;
    /* No poll fits before the deadline any more: asking again would have
       the user press Enter ("0:00 left") only to be refused. */
    if (last + (double)interval > deadline) {
      pam_rc = too_late(m, dhis2_name);
      goto out;
    }
    free(prompt);
    {
      /* Rounded up: a poll still fits, so it is not "0:00". */
      long left = (long)(deadline - mono() + 0.999);

      if (asprintf(&prompt,
                   "Not approved yet (code %s, %ld:%02ld left). Press Enter "
                   "once you have approved the sign-in: ",
                   d.user_code, left / 60, left % 60) < 0)
        prompt = NULL;
    }
    if (prompt == NULL) {
      pam_rc = PAM_BUF_ERR;
      goto out;
    }
  }
  switch (rc) {
  case DHIS2_OK:
    pam_rc = PAM_SUCCESS;
    break;
  case DHIS2_ERR_REJECTED:
    pam_rc = refuse(m, dhis2_name,
                    "The sign-in was denied at the identity provider.",
                    "denied at the identity provider");
    break;
  case DHIS2_ERR_TOKEN_EXPIRED:
    pam_rc = refuse(m, dhis2_name,
                    "The code expired before it was approved; sign in again "
                    "for a new one.",
                    "the code expired");
    break;
  default:
    dhis2_log(&m->log, LOG_ERR, "%s: device sign-in: polling %s: %s",
              dhis2_name, ep->token,
              why[0] != '\0' ? why : dhis2_strerror(rc));
    conv_error(m, "Sign-in on another device is not available now.");
    pam_rc = rc == DHIS2_ERR_NOMEM ? PAM_BUF_ERR : PAM_AUTHINFO_UNAVAIL;
    break;
  }
out:
  if (pam_rc != PAM_SUCCESS)
    dhis2_tokens_clear(tokens);
  free(prompt);
  dhis2_device_clear(&d);
  return pam_rc;
}

/* The id_token: signed by the provider's keys, for our client (aud and
   azp), not expired, from the discovered issuer. The device flow has no
   authorization request, so no nonce. */
static int verify_id_token(struct module *m, struct dhis2_client *c,
                           const struct dhis2_oauth2_endpoints *ep,
                           const char *dhis2_name,
                           const struct dhis2_tokens *tokens)
{
  struct dhis2_jwks *keys = NULL;
  struct dhis2_jwt_expect e;
  char why[512] = "";
  enum dhis2_err rc;

  if (tokens->id_token == NULL) {
    dhis2_log(&m->log, LOG_ERR,
              "%s: device sign-in: the identity provider sent no id_token "
              "(is openid in scope?): refused",
              dhis2_name);
    conv_error(m, "The identity provider's answer cannot be checked.");
    return PAM_AUTHINFO_UNAVAIL;
  }
  rc = dhis2_oauth2_fetch_jwks(c, ep, &keys);
  if (rc != DHIS2_OK) {
    dhis2_log(&m->log, LOG_ERR,
              "%s: device sign-in: the provider's keys "
              "(%s): %s",
              dhis2_name, ep->jwks ? ep->jwks : "no jwks_uri",
              dhis2_strerror(rc));
    return rc == DHIS2_ERR_NOMEM ? PAM_BUF_ERR : PAM_AUTHINFO_UNAVAIL;
  }
  dhis2_jwt_expect_init(&e, ep->issuer, m->cfg->client_id);
  rc = dhis2_jwt_verify(tokens->id_token, keys, &e, NULL, why, sizeof(why));
  dhis2_jwks_free(keys);
  if (rc != DHIS2_OK) {
    dhis2_log(&m->log, LOG_WARNING,
              "%s: device sign-in: the id_token is not valid: %s: refused",
              dhis2_name, why[0] != '\0' ? why : dhis2_strerror(rc));
    conv_error(m, "The identity provider's answer is not valid.");
    return rc == DHIS2_ERR_NOMEM ? PAM_BUF_ERR : PAM_AUTH_ERR;
  }
  return PAM_SUCCESS;
}

/* Who DHIS2 says the access token is, with what /api/me tells the
   policies; bound to dhis2_name. */
static int dhis2_user(struct module *m, struct dhis2_client *c,
                      const char *dhis2_name, const struct dhis2_tokens *t,
                      struct dhis2_identity **id)
{
  enum dhis2_err rc =
      dhis2_api_me(c, DHIS2_AUTH_BEARER, NULL, t->access_token, id);

  if (rc != DHIS2_OK && dhis2_err_class(rc) == DHIS2_CLASS_UNAVAILABLE) {
    dhis2_log(&m->log, LOG_ERR, "%s: device sign-in: /api/me: %s", dhis2_name,
              dhis2_strerror(rc));
    return PAM_AUTHINFO_UNAVAIL;
  }
  if (rc != DHIS2_OK)
    return refuse(m, dhis2_name,
                  "DHIS2 does not accept this sign-in (no DHIS2 user for "
                  "that identity, or the account cannot sign in).",
                  "DHIS2 refused the provider's token at /api/me (no user "
                  "for its mapping claim, the account disabled, or the "
                  "provider not trusted in dhis.conf)");
  if (!module_same_dhis2_user(m, (*id)->username, dhis2_name)) {
    conv_error(m, "That sign-in was for DHIS2 user %s, not %s.",
               (*id)->username, dhis2_name);
    dhis2_identity_free(*id);
    *id = NULL;
    return PAM_AUTH_ERR;
  }
  host_path_fetch(m, c, DHIS2_AUTH_BEARER, NULL, t->access_token);
  return PAM_SUCCESS;
}

int device_signin(struct module *m, const char *dhis2_name,
                  struct dhis2_identity **id, struct dhis2_tokens *tokens)
{
  struct dhis2_oauth2_endpoints ep = {0};
  struct dhis2_client *c = NULL;
  char why[512] = "";
  enum dhis2_err rc;
  int slot = -2;
  int pam_rc;

  rc = dhis2_client_new(m->cfg, &m->log, &c);
  if (rc != DHIS2_OK)
    return dhis2_err_to_pam(rc);
  rc = dhis2_oauth2_discover(c, m->cfg, &ep, why, sizeof(why));
  if (rc == DHIS2_OK && ep.device_authorization == NULL) {
    snprintf(why, sizeof(why),
             "the identity provider %s offers no "
             "device_authorization_endpoint",
             m->cfg->issuer);
    rc = DHIS2_ERR_CONFIG;
  }
  if (rc != DHIS2_OK) {
    dhis2_log(&m->log, LOG_ERR, "device sign-in not offered: %s",
              why[0] != '\0' ? why : dhis2_strerror(rc));
    pam_rc = rc == DHIS2_ERR_NOMEM ? PAM_BUF_ERR : PAM_AUTHINFO_UNAVAIL;
    goto out;
  }
  slot = state_device_slot(m, dhis2_name, DEVICE_PENDING_MAX);
  if (slot == -1) {
    dhis2_log(&m->log, LOG_NOTICE,
              "%s: %d device sign-ins already waiting: no new code asked",
              dhis2_name, DEVICE_PENDING_MAX);
    conv_error(m,
               "Other sign-ins of %s on another device are still "
               "waiting; finish or cancel them first.",
               dhis2_name);
    pam_rc = PAM_MAXTRIES;
    goto out;
  }
  pam_rc = run_flow(m, c, &ep, dhis2_name, tokens);
  if (pam_rc == PAM_SUCCESS)
    pam_rc = verify_id_token(m, c, &ep, dhis2_name, tokens);
  if (pam_rc == PAM_SUCCESS)
    pam_rc = dhis2_user(m, c, dhis2_name, tokens, id);
  if (pam_rc != PAM_SUCCESS)
    dhis2_tokens_clear(tokens);
out:
  if (slot >= 0)
    close(slot);
  dhis2_oauth2_endpoints_clear(&ep);
  dhis2_client_free(c);
  return pam_rc;
}

/* --- keeping the tokens for the user ------------------------------------ */

/* In the child: become pw's user for good. */
static bool become(const struct passwd *pw)
{
  uid_t r, e, s;

  if (initgroups(pw->pw_name, pw->pw_gid) != 0 && setgroups(0, NULL) != 0)
    return false;
  if (setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
      setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0)
    return false;
  /* No way back: a uid change that half-worked must not go on. */
  return getresuid(&r, &e, &s) == 0 && r == pw->pw_uid && e == pw->pw_uid &&
         s == pw->pw_uid && (pw->pw_uid == 0 || setuid(0) != 0);
}

/* The child's work: the save as the user; its verdict on fd ("0 where" or
   "1 why"). Never returns. */
static void keep_as_user(struct module *m, int fd, const struct passwd *pw,
                         const struct dhis2_token_record *rec, long keep_for)
{
  char dir[PATH_MAX];
  char err[768] = "";
  char msg[1024];
  struct dhis2_store_opts o = {.backend = m->cfg->token_store};
  struct dhis2_store_where where = {0};
  enum dhis2_err rc = DHIS2_ERR_CONFIG;
  ssize_t n;

  if (!become(pw)) {
    snprintf(err, sizeof(err), "cannot become uid %u: %s",
             (unsigned)pw->pw_uid, strerror(errno));
    goto done;
  }
  /* Where dhis2-auth keeps them when XDG_STATE_HOME is unset. */
  if (snprintf(dir, sizeof(dir), "%s/.local/state/dhis2-auth", pw->pw_dir) >=
      (int)sizeof(dir)) {
    snprintf(err, sizeof(err), "home directory path too long");
    goto done;
  }
  o.uid = pw->pw_uid;
  o.dir = dir;
  o.home = pw->pw_dir;
  rc = dhis2_store_save(&o, m->cfg->profile, rec, keep_for, err, sizeof(err));
  if (rc == DHIS2_OK && dhis2_store_where(&o, m->cfg->profile, &where, err,
                                          sizeof(err)) != DHIS2_OK)
    snprintf(where.location, sizeof(where.location), "%s", dir);
done:
  n = snprintf(msg, sizeof(msg), "%d %s", rc == DHIS2_OK ? 0 : 1,
               rc == DHIS2_OK   ? where.location
               : err[0] != '\0' ? err
                                : dhis2_strerror(rc));
  if (n > (ssize_t)sizeof(msg) - 1)
    n = (ssize_t)sizeof(msg) - 1;
  if (write(fd, msg, (size_t)n) != n)
    _exit(2);
  _exit(rc == DHIS2_OK ? 0 : 1);
}

void device_keep_tokens(struct module *m, const char *pam_user,
                        const struct dhis2_identity *id,
                        const struct dhis2_tokens *tokens)
{
  struct dhis2_token_record rec = {
      .url = m->cfg->url,
      .username = id->username,
      .access_token = tokens->access_token,
      .refresh_token = tokens->refresh_token,
      .id_token = tokens->id_token,
      .scope = tokens->scope,
      .obtained_at = time(NULL),
  };
  struct passwd pw;
  struct passwd *found = NULL;
  char buf[16384];
  char msg[1024];
  size_t got = 0;
  int fds[2];
  pid_t pid;
  int st = 0;

  if (!m->cfg->store_tokens)
    return;
  if (getpwnam_r(pam_user, &pw, buf, sizeof(buf), &found) != 0 ||
      found == NULL || pw.pw_dir == NULL || pw.pw_dir[0] != '/') {
    dhis2_log(&m->log, LOG_ERR,
              "%s: device sign-in: no home directory to keep the tokens",
              pam_user);
    return;
  }
  if (tokens->expires_in > 0)
    rec.expires_at = rec.obtained_at + tokens->expires_in;
  if (pipe2(fds, O_CLOEXEC) != 0) {
    dhis2_log(&m->log, LOG_ERR, "device sign-in: pipe: %s", strerror(errno));
    return;
  }
  pid = fork();
  if (pid < 0) {
    dhis2_log(&m->log, LOG_ERR, "device sign-in: fork: %s", strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return;
  }
  if (pid == 0) {
    close(fds[0]);
    keep_as_user(m, fds[1], &pw, &rec,
                 dhis2_tokens_keep_for(tokens, tokens->refresh_token != NULL));
  }
  close(fds[1]);
  while (got < sizeof(msg) - 1) {
    ssize_t n = read(fds[0], msg + got, sizeof(msg) - 1 - got);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  msg[got] = '\0';
  close(fds[0]);
  /* The verdict is what the child wrote: a caller that reaps children
     itself (a SIGCHLD handler) may have taken its status first. */
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  if (got >= 2 && msg[0] == '0')
    dhis2_log(&m->log, LOG_INFO,
              "%s: device sign-in: tokens kept for dhis2-auth (profile %s) "
              "in %s",
              pam_user, m->cfg->profile, msg + 2);
  else
    dhis2_log(&m->log, LOG_WARNING,
              "%s: device sign-in: the tokens could not be kept: %s", pam_user,
              got >= 2 ? msg + 2 : "the child process failed");
}
