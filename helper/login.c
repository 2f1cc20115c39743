/* dhis2-auth login: the OAuth2 flows, then the tokens into the store. */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dhis2/secret.h"
#include "helper.h"

extern char **environ;

/* What one login gathers on the way. */
struct login {
  struct dhis2_oauth2_endpoints ep;
  struct dhis2_tokens tokens;
  char state[44];
  char nonce[44];
  char verifier[65];
  char redirect_uri[64];
  bool nonce_sent; /* a code flow: the id_token must carry our nonce */
  char *release;   /* loginConfig's apiVersion, NULL when unknown */
  char why[512];
};

static bool has_display(void)
{
  const char *x = getenv("DISPLAY");
  const char *w = getenv("WAYLAND_DISPLAY");

  return (x != NULL && x[0] != '\0') || (w != NULL && w[0] != '\0');
}

static bool no_browser_env(void)
{
  const char *v = getenv("DHIS2_AUTH_NO_BROWSER");

  return v != NULL && strcmp(v, "1") == 0;
}

/* Starts xdg-open on url, detached; false when it cannot be started. */
static bool open_browser(const char *url)
{
  char *argv[] = {"xdg-open", (char *)url, NULL};
  posix_spawn_file_actions_t fa;
  pid_t pid;
  int rc;

  posix_spawn_file_actions_init(&fa);
  /* The browser's chatter must not mix with our prompts. */
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  rc = posix_spawnp(&pid, "xdg-open", &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    return false;
  /* xdg-open returns once the browser has the URL. */
  return waitpid(pid, &rc, 0) == pid && WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
}

static int fail(enum dhis2_err err, const char *what, const char *why)
{
  if (why != NULL && why[0] != '\0')
    say_error("%s: %s", what, why);
  else
    say_error("%s: %s", what, dhis2_strerror(err));
  return exit_code_of(err);
}

/*
 * The authorization URL for l, or NULL with the reason said. Checked
 * again here, where it is handed to xdg-open or shown to be opened:
 * discovery already refused an endpoint a browser must not be sent to.
 */
static char *sign_in_url(struct run *r, struct login *l)
{
  char *url = dhis2_oauth2_authorize_url(&l->ep, r->cfg, l->redirect_uri,
                                         l->state, l->nonce, l->verifier);

  if (url == NULL) {
    say_error("login: client_id is not configured");
    return NULL;
  }
  if (!dhis2_oauth2_browser_url_ok(r->cfg, url)) {
    say_error("login: the server's authorization_endpoint %s is not an "
              "https URL: refused",
              dhis2_log_untrusted(l->ep.authorization));
    free(url);
    return NULL;
  }
  return url;
}

/* The loopback flow: with a browser, or with the URL printed. */
static int flow_loopback(struct run *r, struct login *l, bool browser)
{
  struct dhis2_loopback *lb = NULL;
  unsigned port = 0;
  char *url = NULL;
  char *code = NULL;
  enum dhis2_err rc;
  int ex;

  rc = dhis2_loopback_open(r->cfg->redirect_port, &port, &lb);
  if (rc != DHIS2_OK) {
    say_error("cannot listen on 127.0.0.1:%u (redirect_port): %m; is "
              "another login running?",
              r->cfg->redirect_port);
    return EXIT_USAGE;
  }
  snprintf(l->redirect_uri, sizeof(l->redirect_uri),
           "http://127.0.0.1:%u/callback", port);
  url = sign_in_url(r, l);
  if (url == NULL) {
    ex = EXIT_USAGE;
    goto out;
  }
  if (browser && open_browser(url)) {
    fprintf(stderr, "Continue in your browser; waiting for it on %s\n",
            l->redirect_uri);
  } else {
    if (browser)
      fprintf(stderr, "Could not start a browser.\n");
    fprintf(stderr,
            "Open this address in a browser on this machine to sign in:\n"
            "\n  %s\n\nWaiting on %s (%d s)...\n",
            url, l->redirect_uri, r->timeout);
  }
  rc = dhis2_loopback_wait(lb, l->state, r->timeout, &code, l->why,
                           sizeof(l->why));
  if (rc != DHIS2_OK) {
    ex = fail(rc, "login", l->why);
    goto out;
  }
  rc = dhis2_oauth2_exchange(r->client, r->cfg, &l->ep, code, l->redirect_uri,
                             l->verifier, &l->tokens, l->why, sizeof(l->why));
  ex = rc == DHIS2_OK ? EXIT_OK : fail(rc, "token exchange", l->why);
out:
  dhis2_secret_free(code);
  free(url);
  dhis2_loopback_free(lb);
  return ex;
}

/* --paste: the browser is elsewhere; the user brings the address back. */
static int flow_paste(struct run *r, struct login *l)
{
  char line[8192];
  char *url;
  char *code = NULL;
  enum dhis2_err rc;
  int ex;

  snprintf(l->redirect_uri, sizeof(l->redirect_uri),
           "http://127.0.0.1:%u/callback", r->cfg->redirect_port);
  url = sign_in_url(r, l);
  if (url == NULL)
    return EXIT_USAGE;
  fprintf(stderr,
          "Open this address in a browser on any machine and sign in:\n"
          "\n  %s\n\nThe browser then fails to load a page on 127.0.0.1; "
          "copy the whole\naddress from its address bar and paste it "
          "here:\n> ",
          url);
  free(url);
  if (fgets(line, sizeof(line), stdin) == NULL) {
    say_error("login: nothing was pasted");
    return EXIT_NOT_LOGGED_IN;
  }
  line[strcspn(line, "\r\n")] = '\0';
  rc = dhis2_oauth2_parse_redirect(line, l->state, &code, l->why,
                                   sizeof(l->why));
  dhis2_secret_wipe(line, sizeof(line));
  if (rc != DHIS2_OK)
    return fail(rc, "login", l->why);
  rc = dhis2_oauth2_exchange(r->client, r->cfg, &l->ep, code, l->redirect_uri,
                             l->verifier, &l->tokens, l->why, sizeof(l->why));
  ex = rc == DHIS2_OK ? EXIT_OK : fail(rc, "token exchange", l->why);
  dhis2_secret_free(code);
  return ex;
}

/* RFC 8628: show the code, poll politely until approved or expired. */
static int flow_device(struct run *r, struct login *l)
{
  struct dhis2_device d;
  enum dhis2_err rc;
  time_t deadline;
  long interval;
  bool tty = isatty(STDERR_FILENO);

  rc = dhis2_oauth2_device_start(r->client, r->cfg, &l->ep, &d, l->why,
                                 sizeof(l->why));
  if (rc != DHIS2_OK)
    return fail(rc, "device login", l->why);
  if (!dhis2_oauth2_browser_url_ok(r->cfg, d.verification_uri) ||
      (d.verification_uri_complete != NULL &&
       !dhis2_oauth2_browser_url_ok(r->cfg, d.verification_uri_complete))) {
    say_error("device login: the server's verification address %s is not "
              "an https URL: refused",
              dhis2_log_untrusted(d.verification_uri));
    dhis2_device_clear(&d);
    return EXIT_USAGE;
  }
  fprintf(stderr,
          "On another device, open\n\n  %s\n\nand enter the code  "
          "%s\n\n",
          d.verification_uri, d.user_code);
  if (isatty(STDOUT_FILENO) &&
      show_qr(d.verification_uri_complete ? d.verification_uri_complete
                                          : d.verification_uri))
    fprintf(stderr, "(or scan the QR code above)\n");
  deadline = time(NULL) + d.expires_in;
  interval = d.interval;
  for (;;) {
    long left = (long)(deadline - time(NULL));

    if (left <= 0) {
      rc = DHIS2_ERR_TOKEN_EXPIRED;
      snprintf(l->why, sizeof(l->why),
               "the code expired before it was "
               "approved; run dhis2-auth login "
               "again");
      break;
    }
    /* The interval passes a second at a time so the countdown ticks. */
    for (long waited = 0; waited < interval && left > 0; waited++) {
      if (tty)
        fprintf(stderr, "\rWaiting for approval: %ld:%02ld left  ", left / 60,
                left % 60);
      sleep(1);
      left = (long)(deadline - time(NULL));
    }
    rc = dhis2_oauth2_device_poll(r->client, r->cfg, &l->ep, &d, &l->tokens,
                                  l->why, sizeof(l->why));
    if (rc == DHIS2_ERR_PENDING)
      continue;
    if (rc == DHIS2_ERR_SLOW_DOWN) {
      interval += 5; /* RFC 8628 3.5 */
      continue;
    }
    break;
  }
  if (tty)
    fprintf(stderr, "\n");
  dhis2_device_clear(&d);
  if (rc == DHIS2_ERR_REJECTED)
    snprintf(l->why, sizeof(l->why), "the sign-in was denied");
  return rc == DHIS2_OK ? EXIT_OK : fail(rc, "device login", l->why);
}

/*
 * Verifies the id_token when the server sent one: signature by the
 * server's JWKS, iss, aud, exp/nbf with 60 s skew, and our nonce. Not
 * trusted because TLS was used (DESIGN.md 7). *username (NULL on entry)
 * gets its "username" claim (DHIS2 2.42.5+ with the username scope), the
 * one claim that is a DHIS2 username on every line; "sub" is not.
 */
static int verify_id_token(struct run *r, struct login *l, char **username)
{
  struct dhis2_jwks *keys = NULL;
  struct dhis2_jwt_claims *claims = NULL;
  struct dhis2_jwt_expect e;
  enum dhis2_err rc;

  *username = NULL;
  if (l->tokens.id_token == NULL)
    return EXIT_OK;
  rc = dhis2_oauth2_fetch_jwks(r->client, &l->ep, &keys);
  if (rc != DHIS2_OK)
    return fail(rc, "fetching the server's keys (jwks_uri)", NULL);
  dhis2_jwt_expect_init(&e, l->ep.issuer, r->cfg->client_id);
  /* The device flow has no authorization request to carry a nonce. */
  e.nonce = l->nonce_sent ? l->nonce : NULL;
  rc = dhis2_jwt_verify(l->tokens.id_token, keys, &e, &claims, l->why,
                        sizeof(l->why));
  dhis2_jwks_free(keys);
  if (rc != DHIS2_OK)
    return fail(rc, "the id_token is not valid", l->why);
  if (claims->username != NULL && r->cfg->oauth2 == DHIS2_OAUTH2_DHIS2)
    *username = strdup(claims->username);
  dhis2_jwt_claims_free(claims);
  return EXIT_OK;
}

/*
 * What to change when /api refuses a token the server just issued, from
 * the server's own reason (msg, may be NULL) and what we asked for.
 * Names the scope or the dhis.conf key; says nothing it cannot tell.
 */
static void say_refusal(struct run *r, const char *msg)
{
  static const char mapping[] = "Found no matching DHIS2 user for the "
                                "mapping claim: '";
  const struct dhis2_config *cfg = r->cfg;
  char claim[64] = "";

  say_error("login: DHIS2 refuses the new token at /api/me%s%s",
            msg ? ": " : "", msg ? dhis2_log_untrusted(msg) : "");
  if (msg != NULL && strncmp(msg, mapping, sizeof(mapping) - 1) == 0)
    sscanf(msg + sizeof(mapping) - 1, "%63[^']", claim);
  if (cfg->oauth2 == DHIS2_OAUTH2_UAA) {
    say_error("a DHIS2 before 2.42 takes UAA tokens only while "
              "oidc.jwt.token.authentication.enabled is off in dhis.conf "
              "(it replaces them with JWTs); or sign in with oauth2 = oidc");
  } else if (cfg->oauth2 == DHIS2_OAUTH2_OIDC) {
    say_error("check that DHIS2 trusts the provider: "
              "oidc.jwt.token.authentication.enabled = on and the "
              "oidc.provider.* keys, its mapping_claim%s%s in the token",
              claim[0] ? " being " : "", claim);
  } else if (strcmp(claim, "username") == 0) {
    say_error("DHIS2 finds the user by the token's username claim, which it "
              "issues only for the username scope: set scope = %s%s in "
              "the dhis2-auth configuration",
              cfg->scope, strstr(cfg->scope, "username") ? "" : " username");
  } else if (claim[0] != '\0') {
    say_error("DHIS2 finds the user by oidc.provider.dhis2.mapping_claim "
              "(here %s) in the users' OpenID field: the token carries no "
              "matching %s claim; ask for it (scope = %s email, when "
              "mapping_claim is email) or set mapping_claim in dhis.conf to "
              "a claim the token has (sub) and the users' OpenID to match",
              claim, claim, cfg->scope);
  } else {
    say_error("set oidc.jwt.token.authentication.enabled = on in dhis.conf "
              "(DHIS2 2.42.0-2.42.4; 2.42.5 and later need only "
              "oauth2.server.enabled = on)");
  }
}

/* Who the tokens belong to, as DHIS2 itself says: /api/me with the
   access token. Also proves DHIS2 accepts the token at /api, which the
   token method needs. */
static int resolve_user(struct run *r, struct login *l, char **username)
{
  struct dhis2_identity *id = NULL;
  char *msg = NULL;
  enum dhis2_err rc;

  rc = dhis2_api_me(r->client, DHIS2_AUTH_BEARER, NULL, l->tokens.access_token,
                    &id);
  /* The server answered, and the id_token verified: a refusal is about
     the token, never "unreachable". */
  if (rc != DHIS2_OK && dhis2_err_class(rc) != DHIS2_CLASS_UNAVAILABLE) {
    if (dhis2_oauth2_api_refusal(r->client, l->tokens.access_token, &msg) !=
        DHIS2_OK)
      msg = NULL;
    say_refusal(r, msg);
    free(msg);
    return EXIT_NOT_LOGGED_IN;
  }
  if (rc != DHIS2_OK)
    return fail(rc, "reading /api/me", NULL);
  *username = strdup(id->username);
  dhis2_identity_free(id);
  return *username ? EXIT_OK : EXIT_NOT_LOGGED_IN;
}

/*
 * Learns what it must of the server before a flow: its release
 * (anonymous /api/loginConfig, 2.41+), and from it the scope to ask
 * DHIS2's own server for when none is configured; refuses what cannot
 * work (the device flow against DHIS2, /uaa on 2.41.0).
 */
static int prepare(struct run *r, struct login *l, enum flow flow)
{
  enum dhis2_err rc;

  if (flow == FLOW_DEVICE && r->cfg->oauth2 != DHIS2_OAUTH2_OIDC) {
    say_error("login: --device needs an identity provider that DHIS2 "
              "trusts (oauth2 = oidc): DHIS2's own server lists a device "
              "endpoint, but its clients hold only the authorization_code "
              "and refresh_token grants; use --no-browser or --paste");
    return EXIT_USAGE;
  }
  if (r->cfg->oauth2 == DHIS2_OAUTH2_OIDC ||
      (r->cfg->oauth2 == DHIS2_OAUTH2_DHIS2 && r->cfg->scope != NULL))
    return EXIT_OK;
  rc = dhis2_oauth2_server_release(r->client, &l->release);
  if (rc != DHIS2_OK && rc != DHIS2_ERR_UNSUPPORTED)
    return fail(rc, "asking the server its release (/api/loginConfig)", NULL);
  if (r->cfg->oauth2 == DHIS2_OAUTH2_UAA) {
    if (l->release != NULL && strcmp(l->release, "2.41.0") == 0) {
      say_error("the server is DHIS2 2.41.0, which has no /uaa: upgrade to "
                "2.41.0.1 or later, or to 2.42+ with oauth2 = dhis2");
      return EXIT_USAGE;
    }
    return EXIT_OK;
  }
  r->cfg->scope = strdup(dhis2_oauth2_dhis2_scope_for(l->release));
  return r->cfg->scope ? EXIT_OK : fail(DHIS2_ERR_NOMEM, "login", NULL);
}

static int save(struct run *r, struct login *l, const char *username)
{
  struct dhis2_token_record rec = {
      .url = r->cfg->url,
      .username = (char *)username,
      .access_token = l->tokens.access_token,
      .refresh_token = l->tokens.refresh_token,
      .id_token = l->tokens.id_token,
      .scope = l->tokens.scope,
      .obtained_at = time(NULL),
  };
  struct dhis2_store_where where;
  char err[512] = "";
  enum dhis2_err rc;

  if (l->tokens.expires_in > 0)
    rec.expires_at = rec.obtained_at + l->tokens.expires_in;
  /* The keyring key lasts as long as the login can (DESIGN.md 6). */
  rc = dhis2_store_save(
      &r->store, r->cfg->profile, &rec,
      dhis2_tokens_keep_for(&l->tokens, l->tokens.refresh_token != NULL), err,
      sizeof(err));
  if (rc != DHIS2_OK)
    return fail(rc, "storing the tokens", err);
  if (dhis2_store_where(&r->store, r->cfg->profile, &where, err,
                        sizeof(err)) != DHIS2_OK)
    where.location[0] = '\0';
  printf("Signed in to DHIS2 at %s as %s", r->cfg->url, username);
  if (where.location[0] != '\0')
    printf(" (tokens kept in %s)", location_text(&where));
  printf(".\n");
  return EXIT_OK;
}

int cmd_login(struct run *r)
{
  struct login l;
  enum flow flow = r->flow;
  char *username = NULL;
  char *claimed = NULL; /* the id_token's username claim */
  enum dhis2_err rc;
  int ex;

  memset(&l, 0, sizeof(l));
  ex = prepare(r, &l, flow);
  if (ex != EXIT_OK)
    goto out;
  rc = dhis2_oauth2_discover(r->client, r->cfg, &l.ep, l.why, sizeof(l.why));
  if (rc != DHIS2_OK) {
    ex = fail(rc, "the server is not ready for OAuth2 sign-in", l.why);
    goto out;
  }
  if (dhis2_oauth2_random(l.state, sizeof(l.state)) != DHIS2_OK ||
      dhis2_oauth2_random(l.nonce, sizeof(l.nonce)) != DHIS2_OK ||
      dhis2_oauth2_random(l.verifier, sizeof(l.verifier)) != DHIS2_OK) {
    ex = fail(DHIS2_ERR_INTERNAL, "login", "no randomness");
    goto out;
  }
  if (flow == FLOW_AUTO) {
    /* Spring AS lists a device endpoint DHIS2's clients cannot use. */
    if (l.ep.device_authorization != NULL &&
        r->cfg->oauth2 == DHIS2_OAUTH2_OIDC)
      flow = FLOW_DEVICE;
    else if (has_display() && !no_browser_env())
      flow = FLOW_BROWSER;
    else
      flow = FLOW_NO_BROWSER;
  }
  if (flow == FLOW_BROWSER && no_browser_env())
    flow = FLOW_NO_BROWSER;
  l.nonce_sent = flow != FLOW_DEVICE;
  switch (flow) {
  case FLOW_DEVICE:
    ex = flow_device(r, &l);
    break;
  case FLOW_PASTE:
    ex = flow_paste(r, &l);
    break;
  default:
    ex = flow_loopback(r, &l, flow == FLOW_BROWSER);
    break;
  }
  if (ex == EXIT_OK)
    ex = verify_id_token(r, &l, &claimed);
  if (ex == EXIT_OK)
    ex = resolve_user(r, &l, &username);
  /* The verified id_token names the user where it can (2.42.5+): DHIS2
     must agree that the token is that user's. */
  if (ex == EXIT_OK && claimed != NULL && strcmp(claimed, username) != 0) {
    say_error("login: the id_token is for %s but DHIS2 says the token is "
              "%s's: refused",
              dhis2_log_untrusted(claimed), dhis2_log_untrusted(username));
    ex = EXIT_NOT_LOGGED_IN;
  }
  if (ex == EXIT_OK)
    ex = save(r, &l, username);
out:
  free(username);
  free(claimed);
  free(l.release);
  dhis2_tokens_clear(&l.tokens);
  dhis2_oauth2_endpoints_clear(&l.ep);
  dhis2_secret_wipe(&l, sizeof(l));
  return ex;
}
