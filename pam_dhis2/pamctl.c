/* dhis2-pamctl: the administrator's view of pam_dhis2 (check, failures,
   offline), on the module's own configuration and state code. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "dhis2/oauth2.h"
#include "dhis2/secret.h"
#include "module.h"

#define EXIT_WARN 1
#define EXIT_FAIL 2 /* also usage, configuration, not root */

static const char usage_text[] =
    "Usage: dhis2-pamctl [--config FILE] [--profile P] COMMAND [options]\n"
    "\n"
    "Commands (root only):\n"
    "  check [--user NAME] [--json]\n"
    "        check the configuration, the server and state_dir; with\n"
    "        --user, how the module would treat that local name\n"
    "        (exit 0 all OK, 1 some WARN, 2 some FAIL)\n"
    "  failures [USER] [--reset]\n"
    "        the password throttle per DHIS2 name; --reset clears USER's,\n"
    "        or every name's without USER\n"
    "  offline [list | purge USER | purge --all]\n"
    "        the offline sign-in records (no hash is ever shown)\n"
    "\n"
    "Options:\n"
    "  --config FILE  the file given to the module as conf= (default\n"
    "                 " DHIS2_SYSCONF_FILE ")\n"
    "  --profile P    the profile given to the module as profile=\n"
    "  -h, --help     this text\n"
    "\n"
    "Module arguments other than conf= and profile= are not known here:\n"
    "see dhis2-pamctl(8).\n";

struct run {
  const char *config_path;
  const char *profile;
  const char *user;
  bool json;
  bool reset;
  bool all;
  int nargs;
  char **args; /* the command and its operands */
};

static void say_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void say_error(const char *fmt, ...)
{
  va_list ap;

  fputs("dhis2-pamctl: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* "2026-11-29 15:04:05 UTC" */
static void when(time_t t, char *out, size_t len)
{
  struct tm tm;

  if (gmtime_r(&t, &tm) == NULL ||
      strftime(out, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
    snprintf(out, len, "(unknown)");
}

/* A name from state_dir, fit for a terminal. */
static const char *shown(const char *name)
{
  return dhis2_username_valid(name) ? name : "(unprintable)";
}

/* --- check --- */

/* A log sink that keeps the last line: the module's own reasons (user
   map, lookup_pat_file) become a check's message. */
struct capture {
  char last[512];
};

static void capture_sink(void *ctx, int prio, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void capture_sink(void *ctx, int prio, const char *fmt, va_list ap)
{
  struct capture *cap = ctx;

  (void)prio;
  vsnprintf(cap->last, sizeof(cap->last), fmt, ap);
}

static void capture_start(struct module *m, struct capture *cap,
                          struct dhis2_log *saved)
{
  cap->last[0] = '\0';
  *saved = m->log;
  m->log = (struct dhis2_log){.sink = capture_sink, .ctx = cap, .debug = true};
}

enum status { ST_OK, ST_WARN, ST_FAIL, ST_SKIP };

static const char *const status_name[] = {"OK", "WARN", "FAIL", "SKIP"};

struct report {
  bool json;
  struct json_object *list;
  enum status worst;
};

static void result(struct report *r, enum status st, const char *check,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void result(struct report *r, enum status st, const char *check,
                   const char *fmt, ...)
{
  char msg[1024];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (st != ST_SKIP && st > r->worst)
    r->worst = st;
  if (!r->json) {
    printf("%-4s %-9s %s\n", status_name[st], check, msg);
    fflush(stdout);
    return;
  }
  {
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "check", json_object_new_string(check));
    json_object_object_add(o, "status",
                           json_object_new_string(status_name[st]));
    json_object_object_add(o, "message", json_object_new_string(msg));
    json_object_array_add(r->list, o);
  }
}

/* The file the module reads: root's, written by nobody else. */
static void check_file(struct report *r, const char *path)
{
  struct stat st;

  if (lstat(path, &st) != 0) {
    result(r, ST_FAIL, "file",
           "%s: %s: the module then needs url= (and "
           "the rest) in its arguments",
           path, strerror(errno));
    return;
  }
  if (!S_ISREG(st.st_mode)) {
    result(r, ST_FAIL, "file",
           "%s: not a regular file (a symbolic link is refused): make it "
           "one",
           path);
  } else if (st.st_uid != 0) {
    result(r, ST_FAIL, "file",
           "%s: owned by uid %u: the module refuses it (chown root %s)", path,
           (unsigned)st.st_uid, path);
  } else if ((st.st_mode & 022) != 0) {
    result(r, ST_FAIL, "file",
           "%s: mode %04o, writable by group or others: the module refuses "
           "it (chmod go-w %s)",
           path, (unsigned)(st.st_mode & 07777), path);
  } else {
    result(r, ST_OK, "file", "%s: owned by root, mode %04o", path,
           (unsigned)(st.st_mode & 07777));
  }
}

/* A client_secret in a file others can read is no secret. */
static void check_secret_mode(struct report *r, const struct dhis2_config *cfg)
{
  struct stat st;

  if (cfg->client_secret != NULL && cfg->source != NULL &&
      lstat(cfg->source, &st) == 0 && (st.st_mode & 044) != 0)
    result(r, ST_WARN, "file",
           "%s holds client_secret and is readable by group or others "
           "(chmod 0600 %s, or use a public client with PKCE)",
           cfg->source, cfg->source);
}

/* The first request: TLS, what the server is, and its clock. False when
   there is no connection (the checks that need one are skipped). */
static bool check_server(struct report *r, struct module *m,
                         struct dhis2_client *c, enum dhis2_server_kind *kind)
{
  const struct dhis2_config *cfg = m->cfg;
  char release[DHIS2_RELEASE_MAX];
  enum dhis2_err rc = dhis2_api_server_kind(c, kind, release, sizeof(release));
  const char *trust = cfg->ca_file ? cfg->ca_file : "the system store";

  switch (rc) {
  case DHIS2_OK:
  case DHIS2_ERR_SERVER:
    break;
  case DHIS2_ERR_TLS:
    result(r, ST_FAIL, "tls",
           "%s: TLS failed: the certificate is not verified by %s%s: set "
           "ca_file to the CA that signed the server's certificate%s",
           cfg->url, trust,
           cfg->pinned_pubkey ? " or its key does not match pinned_pubkey"
                              : "",
           cfg->pinned_pubkey ? ", or fix pinned_pubkey" : "");
    return false;
  default:
    result(r, ST_FAIL, "tls",
           "%s: no connection: %s: check url and that "
           "DHIS2 is up",
           cfg->url, dhis2_strerror(rc));
    return false;
  }
  if (strncmp(cfg->url, "http://", 7) == 0)
    result(r, ST_WARN, "tls",
           "%s: plain http (allow_http, loopback only): no TLS", cfg->url);
  else
    result(r, ST_OK, "tls", "%s: certificate verified by %s%s", cfg->url,
           trust, cfg->pinned_pubkey ? ", pinned_pubkey matches" : "");
  if (rc == DHIS2_ERR_SERVER)
    result(r, ST_FAIL, "server",
           "/api/loginConfig answered a server error (5xx): DHIS2 is not "
           "serving; see its logs");
  else if (*kind == DHIS2_SERVER_BASIC_ONLY)
    result(r, ST_OK, "server",
           "DHIS2 older than 2.41: passwords go by HTTP Basic on /api/me");
  else if (release[0] != '\0')
    result(r, ST_OK, "server", "DHIS2 %s", release);
  else
    result(r, ST_OK, "server", "DHIS2 2.41 or later (release not said)");
  return rc == DHIS2_OK;
}

/* The local clock against the Date of the server's latest reply. */
static void check_clock(struct report *r, const struct dhis2_client *c)
{
  long long skew;
  long long abs_skew;

  if (c->server_date == 0) {
    result(r, ST_WARN, "clock",
           "the server sent no Date header: the clock cannot be compared");
    return;
  }
  skew = (long long)time(NULL) - (long long)c->server_date;
  abs_skew = skew < 0 ? -skew : skew;
  if (abs_skew > 60)
    result(r, abs_skew > 300 ? ST_FAIL : ST_WARN, "clock",
           "this host's clock is %lld s %s the server's: tokens and the "
           "offline window depend on it; fix NTP on the host or server",
           abs_skew, skew > 0 ? "ahead of" : "behind");
  else
    result(r, ST_OK, "clock", "within %lld s of the server's", abs_skew);
}

/* 2.41+: POST /api/auth/login answers anonymous callers. A GET proves it
   without a name or password: the endpoint says 405 (POST only). */
static void check_login_api(struct report *r, struct dhis2_client *c,
                            enum dhis2_server_kind kind)
{
  struct dhis2_http_resp resp = {0};
  char *url = NULL;
  enum dhis2_err rc;

  if (kind == DHIS2_SERVER_BASIC_ONLY) {
    result(r, ST_OK, "login",
           "no /api/auth/login before 2.41: HTTP Basic is used");
    return;
  }
  url = dhis2_url_join(c->url, "/api/auth/login");
  if (url == NULL) {
    result(r, ST_FAIL, "login", "out of memory");
    return;
  }
  {
    struct dhis2_http_req req = {.method = "GET", .url = url};

    rc = dhis2_client_request(c, &req, &resp);
  }
  if (rc != DHIS2_OK)
    result(r, ST_FAIL, "login", "/api/auth/login: %s", dhis2_strerror(rc));
  else if (resp.status == 405 || resp.status == 400 || resp.status == 401 ||
           resp.status == 403)
    /* 405: Spring's answer to GET; a filter may answer first. All say
       the path is served to anonymous callers. */
    result(r, ST_OK, "login",
           "POST /api/auth/login is reachable (an anonymous GET got %ld; no "
           "name or password sent)",
           resp.status);
  else if (resp.status == 404)
    result(r, ST_WARN, "login",
           "/api/auth/login answers 404 although /api/loginConfig says "
           "2.41+: a proxy hides it? The module falls back to Basic");
  else
    result(r, ST_FAIL, "login",
           "/api/auth/login answers %ld to an anonymous caller: passwords "
           "cannot be checked there; a proxy or DHIS2's security settings "
           "stand in the way",
           resp.status);
  dhis2_http_resp_clear(&resp);
  free(url);
}

static void check_oauth2(struct report *r, const struct dhis2_config *cfg,
                         struct dhis2_client *c, bool connected)
{
  struct dhis2_oauth2_endpoints ep = {0};
  char why[768] = "";
  enum dhis2_err rc;

  if (cfg->methods & DHIS2_METHOD_DEVICE) {
    if (cfg->oauth2 != DHIS2_OAUTH2_OIDC) {
      result(r, ST_FAIL, "device",
             "methods has device, which needs oauth2 = oidc (an identity "
             "provider that DHIS2 trusts): DHIS2's own OAuth2 clients cannot "
             "hold the device grant; the module does not offer it");
    } else if (cfg->client_id == NULL) {
      result(r, ST_FAIL, "device",
             "methods has device, which needs client_id (a public client "
             "of the provider with the device grant)");
    }
  }
  if (cfg->issuer == NULL && cfg->client_id == NULL)
    return; /* no OAuth2 set up: nothing to check */
  if (cfg->oauth2 == DHIS2_OAUTH2_UAA) {
    result(r, ST_OK, "oauth2", "oauth2 = uaa: fixed endpoints at %s/uaa",
           cfg->url);
    return;
  }
  if (c == NULL || (!connected && cfg->oauth2 == DHIS2_OAUTH2_DHIS2)) {
    result(r, ST_SKIP, "oauth2", "not checked: no connection to the server");
    return;
  }
  rc = dhis2_oauth2_discover(c, cfg, &ep, why, sizeof(why));
  if (rc == DHIS2_ERR_CONFIG)
    result(r, ST_FAIL, "oauth2", "%s", why);
  else if (rc != DHIS2_OK)
    result(r, ST_FAIL, "oauth2", "discovery at %s: %s",
           cfg->oauth2 == DHIS2_OAUTH2_OIDC ? cfg->issuer : cfg->url,
           dhis2_strerror(rc));
  else if (cfg->oauth2 == DHIS2_OAUTH2_OIDC &&
           !dhis2_oauth2_issuer_is_url(ep.issuer, cfg->issuer))
    result(r, ST_FAIL, "oauth2",
           "the provider's discovery names issuer %s, not %s: set issuer "
           "to the provider's own",
           dhis2_log_untrusted(ep.issuer), cfg->issuer);
  else {
    result(r, ST_OK, "oauth2", "discovery found, issuer %s%s",
           dhis2_log_untrusted(ep.issuer),
           ep.device_authorization ? ", device flow offered" : "");
    if ((cfg->methods & DHIS2_METHOD_DEVICE) &&
        cfg->oauth2 == DHIS2_OAUTH2_OIDC && cfg->client_id != NULL) {
      if (ep.device_authorization == NULL)
        result(r, ST_FAIL, "device",
               "the provider lists no device_authorization_endpoint: turn "
               "the device grant on there (for client %s); until then the "
               "module does not offer device sign-in",
               cfg->client_id);
      else
        result(r, ST_OK, "device", "device sign-in at %s for client %s",
               dhis2_log_untrusted(ep.device_authorization), cfg->client_id);
    }
  }
  dhis2_oauth2_endpoints_clear(&ep);
}

/* state_dir: root's, 0700, writable. Made by the module when missing. */
static void check_state_dir(struct report *r, const struct dhis2_config *cfg)
{
  const char *dir = cfg->state_dir;
  char probe[4200];
  struct stat st;
  int fd;

  if (lstat(dir, &st) != 0) {
    if (errno == ENOENT)
      result(r, ST_WARN, "state_dir",
             "%s does not exist: the module makes it at its first sign-in "
             "(or: install -d -m 0700 %s)",
             dir, dir);
    else
      result(r, ST_FAIL, "state_dir", "%s: %s", dir, strerror(errno));
    return;
  }
  if (!S_ISDIR(st.st_mode)) {
    result(r, ST_FAIL, "state_dir",
           "%s is not a directory (a symbolic link is refused)", dir);
    return;
  }
  if (st.st_uid != 0 || (st.st_mode & 077) != 0) {
    result(r, ST_FAIL, "state_dir",
           "%s: owner uid %u, mode %04o: must be root's with mode 0700 "
           "(chown root %s; chmod 0700 %s)",
           dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777), dir, dir);
    return;
  }
  snprintf(probe, sizeof(probe), "%s/.pamctl-XXXXXX", dir);
  fd = mkstemp(probe);
  if (fd < 0) {
    result(r, ST_FAIL, "state_dir", "%s is not writable: %s", dir,
           strerror(errno));
    return;
  }
  close(fd);
  unlink(probe);
  result(r, ST_OK, "state_dir", "%s: root only (0700), writable", dir);
}

/* The service PAT, its user and F_USER_VIEW. *pat (NULL on entry) is
   kept for --user when the token works. */
static void check_lookup(struct report *r, struct module *m,
                         struct dhis2_client *c, bool connected, char **pat)
{
  struct dhis2_identity *me = NULL;
  struct dhis2_account a = {0};
  struct dhis2_log saved;
  struct capture cap;
  enum dhis2_err rc;

  if (!m->cfg->account_check_lookup)
    return;
  capture_start(m, &cap, &saved);
  *pat = lookup_pat(m);
  m->log = saved;
  if (*pat == NULL) {
    result(r, ST_FAIL, "lookup", "%s", cap.last);
    return;
  }
  if (!connected) {
    result(r, ST_SKIP, "lookup", "not checked: no connection to the server");
    return;
  }
  rc = dhis2_api_me(c, DHIS2_AUTH_APITOKEN, NULL, *pat, &me);
  if (rc != DHIS2_OK) {
    result(r, ST_FAIL, "lookup",
           "DHIS2 refuses the token in %s: %s: make a new Personal Access "
           "Token for the service user",
           m->cfg->lookup_pat_file, dhis2_strerror(rc));
    goto drop;
  }
  /* The service user's own name: a cheap lookup that needs F_USER_VIEW. */
  rc = lookup_user(m, c, *pat, me->username, &a);
  if (rc == DHIS2_OK || rc == DHIS2_ERR_NO_USER)
    result(r, ST_OK, "lookup",
           "the token of DHIS2 user %s may look users up (F_USER_VIEW)",
           dhis2_log_untrusted(me->username));
  else if (rc == DHIS2_ERR_LOOKUP_DENIED)
    result(r, ST_FAIL, "lookup",
           "the token's DHIS2 user %s lacks F_USER_VIEW: GET /api/users is "
           "refused; give it a role with that authority",
           dhis2_log_untrusted(me->username));
  else
    result(r, ST_FAIL, "lookup", "GET /api/users: %s", dhis2_strerror(rc));
  dhis2_account_clear(&a);
  if (rc == DHIS2_OK || rc == DHIS2_ERR_NO_USER) {
    dhis2_identity_free(me);
    return;
  }
drop:
  dhis2_identity_free(me);
  dhis2_secret_free(*pat);
  *pat = NULL;
}

/* Would the account phase let the DHIS2 user name in? Asked with the
   lookup token: no password of the user is ever needed or sent. */
static void check_policy(struct report *r, struct module *m,
                         struct dhis2_client *c, const char *pat,
                         const char *name)
{
  struct dhis2_account a = {0};
  char why[256] = "";
  struct dhis2_log saved;
  struct capture cap;
  enum dhis2_err rc;

  rc = lookup_user(m, c, pat, name, &a);
  if (rc == DHIS2_ERR_NO_USER) {
    result(r, ST_FAIL, "policy",
           "there is no DHIS2 user %s (names are "
           "case-sensitive)",
           name);
    return;
  }
  if (rc != DHIS2_OK) {
    result(r, ST_FAIL, "policy", "the lookup of %s failed: %s", name,
           dhis2_strerror(rc));
    return;
  }
  if (a.disabled) {
    result(r, ST_FAIL, "policy", "DHIS2 user %s is disabled: refused", name);
  } else if (a.account_expiry != 0 && a.account_expiry <= time(NULL)) {
    result(r, ST_FAIL, "policy", "DHIS2 user %s has expired: refused", name);
  } else if (!policy_configured(m->cfg)) {
    result(r, ST_OK, "policy",
           "DHIS2 user %s is active; no require_* or org unit policy is set",
           name);
  } else {
    capture_start(m, &cap, &saved);
    host_path_fetch(m, c, DHIS2_AUTH_APITOKEN, NULL, pat);
    m->log = saved;
    if (policy_allows(m->cfg, a.id, NULL, policy_server_acl(m), m->host_path,
                      why, sizeof(why)))
      result(r, ST_OK, "policy",
             "DHIS2 user %s is active and the policies let them in", name);
    else
      result(r, ST_FAIL, "policy", "DHIS2 user %s would be refused: %s%s%s",
             name, why, cap.last[0] ? "; " : "", cap.last);
  }
  dhis2_account_clear(&a);
}

/* How the user map treats the local name user; *dhis2 (NULL on entry)
   is the DHIS2 name when it is one of ours. */
static void check_user(struct report *r, struct module *m, const char *user,
                       char **dhis2)
{
  struct user_target t = {0};
  struct dhis2_log saved;
  struct capture cap;
  int rc;

  if (!dhis2_username_valid(user)) {
    result(r, ST_FAIL, "user",
           "not a name the module would send (control characters, ':', or "
           "over 255 bytes)");
    return;
  }
  capture_start(m, &cap, &saved);
  rc = user_map_resolve(m, user, &t);
  m->log = saved;
  if (rc == PAM_USER_UNKNOWN) {
    result(r, ST_WARN, "user",
           "%s is not DHIS2's here (%s): the module answers "
           "PAM_USER_UNKNOWN and leaves it to the next module",
           user, cap.last[0] ? cap.last : "not mapped");
    return;
  }
  if (rc != PAM_SUCCESS) {
    result(r, ST_FAIL, "user", "%s: %s", user,
           cap.last[0] ? cap.last : "the user map cannot be used");
    return;
  }
  if (t.kiosk_user != NULL)
    result(r, ST_OK, "user",
           "%s is no local account: signs in as DHIS2 user %s, then as the "
           "kiosk account %s ('*' line of user_map)",
           user, t.dhis2_name, t.kiosk_user);
  else if (strcmp(t.dhis2_name, user) != 0)
    result(r, ST_OK, "user", "local %s signs in as DHIS2 user %s (user_map)",
           user, t.dhis2_name);
  else
    result(r, ST_OK, "user", "local %s signs in as DHIS2 user %s", user,
           t.dhis2_name);
  *dhis2 = t.dhis2_name;
  t.dhis2_name = NULL; /* transferred */
  user_target_clear(&t);
}

/* Releases what load() filled in (module_close() without libpam). */
static void unload(struct module *m)
{
  dhis2_config_free(m->cfg);
  m->cfg = NULL;
  free(m->host_path);
  m->host_path = NULL;
}

/* The configuration as the module loads it, into m. */
static bool load(const struct run *run, struct module *m, char *err,
                 size_t errlen)
{
  struct dhis2_config_opts opts = {.system_path = run->config_path,
                                   .profile = run->profile,
                                   .system_required = true};

  memset(m, 0, sizeof(*m));
  m->log.ident = "dhis2-pamctl";
  return dhis2_config_load(&opts, &m->cfg, err, errlen) == DHIS2_OK;
}

static int cmd_check(const struct run *run)
{
  struct report r = {.json = run->json, .worst = ST_OK};
  const char *path = run->config_path ? run->config_path : DHIS2_SYSCONF_FILE;
  struct dhis2_client *c = NULL;
  enum dhis2_server_kind kind = DHIS2_SERVER_LOGIN_API;
  struct module m;
  char err[512] = "";
  char *pat = NULL;
  char *dhis2_name = NULL;
  bool connected = false;

  if (run->json)
    r.list = json_object_new_array();
  check_file(&r, path);
  if (!load(run, &m, err, sizeof(err))) {
    result(&r, ST_FAIL, "config", "%s", err);
    goto out;
  }
  result(&r, ST_OK, "config", "profile %s of %s, url %s", m.cfg->profile,
         m.cfg->source ? m.cfg->source : path, m.cfg->url);
  check_secret_mode(&r, m.cfg);
  if (dhis2_client_new(m.cfg, &m.log, &c) != DHIS2_OK) {
    result(&r, ST_FAIL, "tls", "%s: the URL is refused", m.cfg->url);
  } else {
    connected = check_server(&r, &m, c, &kind);
    if (connected) {
      check_login_api(&r, c, kind);
      check_clock(&r, c);
    } else {
      result(&r, ST_SKIP, "server", "not checked: no connection");
    }
  }
  check_oauth2(&r, m.cfg, c, connected);
  check_state_dir(&r, m.cfg);
  if (c != NULL)
    check_lookup(&r, &m, c, connected, &pat);
  if (run->user != NULL) {
    check_user(&r, &m, run->user, &dhis2_name);
    if (dhis2_name != NULL && pat != NULL)
      check_policy(&r, &m, c, pat, dhis2_name);
    else if (dhis2_name != NULL && policy_configured(m.cfg))
      result(&r, ST_SKIP, "policy",
             "not checked: needs account_check = lookup and a working "
             "lookup_pat_file (no user's password is ever used here)");
  }
out:
  if (run->json) {
    printf("%s\n", json_object_to_json_string_ext(
                       r.list, JSON_C_TO_STRING_PRETTY |
                                   JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(r.list);
  }
  free(dhis2_name);
  dhis2_secret_free(pat);
  dhis2_client_free(c);
  unload(&m);
  return r.worst == ST_FAIL ? EXIT_FAIL : r.worst == ST_WARN ? EXIT_WARN : 0;
}

/* --- failures --- */

static int cmp_time(const void *a, const void *b)
{
  time_t x = *(const time_t *)a;
  time_t y = *(const time_t *)b;

  return x < y ? -1 : x > y;
}

static void show_failures(const struct throttle_file *f, void *ctx)
{
  const struct dhis2_config *cfg = ctx;
  size_t n = f->n;
  time_t *t = calloc(n + 1, sizeof(*t));
  char a[40];

  if (f->name[0] != '\0')
    printf("%s:", shown(f->name));
  else
    printf("sha256:%s (name not kept: written by an older module):", f->hash);
  printf(" %zu of failure_limit %u within %ld s", f->n, cfg->failure_limit,
         cfg->failure_window);
  for (size_t i = 0; t != NULL && i < n; i++)
    t[i] = f->e[i].t;
  if (t != NULL)
    qsort(t, n, sizeof(t[0]), cmp_time);
  if (t != NULL && cfg->failure_limit > 0 && n >= cfg->failure_limit) {
    /* Refused until the attempt that reached the limit leaves the
       window. */
    when(t[n - cfg->failure_limit] + cfg->failure_window, a, sizeof(a));
    printf(", passwords refused until %s", a);
  }
  printf("\n");
  for (size_t i = 0; i < n; i++) {
    when(f->e[i].t, a, sizeof(a));
    printf("  %s  %s\n", a, f->e[i].id[0] ? "in flight" : "rejected");
  }
  free(t);
}

static int cmd_failures(const struct run *run)
{
  const char *user = run->nargs > 1 ? run->args[1] : NULL;
  struct module m;
  char err[512] = "";
  long n;

  if (run->nargs > 2 || run->all || run->json || run->user) {
    say_error("usage: dhis2-pamctl failures [USER] [--reset]");
    return EXIT_FAIL;
  }
  if (user != NULL && !dhis2_username_valid(user)) {
    say_error("%s: not a DHIS2 name", user);
    return EXIT_FAIL;
  }
  if (!load(run, &m, err, sizeof(err))) {
    say_error("%s", err);
    return EXIT_FAIL;
  }
  n = throttle_each(&m, user, run->reset ? NULL : show_failures, m.cfg);
  if (n >= 0 && run->reset && user != NULL)
    printf("%s: %s\n", user, n ? "reset" : "no failures");
  else if (n >= 0 && run->reset)
    printf("reset %ld name%s\n", n, n == 1 ? "" : "s");
  else if (n == 0)
    printf("%s\n", user ? "no failures" : "no failures of any name");
  unload(&m);
  return n < 0 ? EXIT_FAIL : 0;
}

/* --- offline --- */

struct offline_list {
  const struct dhis2_config *cfg;
  unsigned shown;
  unsigned other_url;
};

static void show_record(const struct dhis2_cache_record *rec, void *ctx)
{
  struct offline_list *l = ctx;
  const struct dhis2_config *cfg = l->cfg;
  time_t until = dhis2_cache_record_end(rec, cfg->offline_ttl);
  char checked[40];
  char end[40];
  char slots[32];

  if (strcmp(rec->url, cfg->url) != 0) {
    l->other_url++;
    return;
  }
  if (l->shown++ == 0)
    printf("%-20s %-24s %-24s %-8s %s\n", "USER", "CHECKED", "UNTIL",
           "FAILURES", "SLOTS");
  when(dhis2_cache_record_end(rec, 0), checked, sizeof(checked));
  when(until, end, sizeof(end));
  snprintf(slots, sizeof(slots), "%s%s%s",
           rec->password_hash ? "password" : "",
           rec->password_hash && rec->pat_hash ? "," : "",
           rec->pat_hash        ? "pat"
           : rec->password_hash ? ""
                                : "snapshot");
  printf("%-20s %-24s %-24s %-8u %s%s\n", shown(rec->username), checked, end,
         rec->failures, slots, time(NULL) > until ? " (expired)" : "");
}

static int cmd_offline(const struct run *run)
{
  const char *sub = run->nargs > 1 ? run->args[1] : "list";
  struct offline_list l = {0};
  struct dhis2_cache c;
  struct module m;
  char dir[4200];
  char err[512] = "";
  enum dhis2_err rc = DHIS2_ERR_CONFIG;
  unsigned count = 0;
  bool found = false;
  bool purge = strcmp(sub, "purge") == 0;

  if (run->json || run->reset || run->user ||
      (strcmp(sub, "list") != 0 && !purge) ||
      (!purge && (run->nargs > 2 || run->all)) ||
      (purge && run->all == (run->nargs == 3)) || run->nargs > 3) {
    say_error("usage: dhis2-pamctl offline [list | purge USER | purge --all]");
    return EXIT_FAIL;
  }
  if (!load(run, &m, err, sizeof(err))) {
    say_error("%s", err);
    return EXIT_FAIL;
  }
  if (!state_offline_cache(&m, false, &c, dir, sizeof(dir)))
    goto out;
  if (!purge) {
    l.cfg = m.cfg;
    rc = dhis2_cache_list(&c, show_record, &l, &count);
    if (rc == DHIS2_OK && l.shown == 0)
      printf("no offline records\n");
    if (l.other_url > 0)
      fprintf(stderr,
              "dhis2-pamctl: %u record%s of another url not shown (see "
              "--profile)\n",
              l.other_url, l.other_url == 1 ? "" : "s");
    if (count > 0)
      fprintf(stderr, "dhis2-pamctl: %u file%s in %s ignored (see above)\n",
              count, count == 1 ? "" : "s", dir);
  } else if (run->all) {
    rc = dhis2_cache_purge_all(&c, &count);
    if (rc == DHIS2_OK)
      printf("removed %u offline record%s\n", count, count == 1 ? "" : "s");
  } else {
    rc = dhis2_cache_purge(&c, run->args[2], &found);
    if (rc == DHIS2_OK)
      printf("%s: %s\n", shown(run->args[2]),
             found ? "offline record removed" : "no offline record");
  }
  if (rc != DHIS2_OK)
    say_error("%s: %s", dir, dhis2_strerror(rc));
out:
  unload(&m);
  return rc == DHIS2_OK ? 0 : EXIT_FAIL;
}

/* --- main --- */

static int parse(int argc, char **argv, struct run *r)
{
  static const struct option longopts[] = {
      {"config", required_argument, NULL, 'c'},
      {"profile", required_argument, NULL, 'p'},
      {"user", required_argument, NULL, 'u'},
      {"json", no_argument, NULL, 'j'},
      {"reset", no_argument, NULL, 'r'},
      {"all", no_argument, NULL, 'a'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int c;

  memset(r, 0, sizeof(*r));
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case 'c':
      r->config_path = optarg;
      break;
    case 'p':
      r->profile = optarg;
      break;
    case 'u':
      r->user = optarg;
      break;
    case 'j':
      r->json = true;
      break;
    case 'r':
      r->reset = true;
      break;
    case 'a':
      r->all = true;
      break;
    case 'h':
      fputs(usage_text, stdout);
      return 0;
    default:
      fputs(usage_text, stderr);
      return EXIT_FAIL;
    }
  }
  r->nargs = argc - optind;
  r->args = argv + optind;
  if (r->nargs == 0) {
    fputs(usage_text, stderr);
    return EXIT_FAIL;
  }
  return -1;
}

int main(int argc, char **argv)
{
  struct run r;
  int rc = parse(argc, argv, &r);
  const char *cmd;

  if (rc >= 0)
    return rc;
  cmd = r.args[0];
  if (strcmp(cmd, "check") != 0 && strcmp(cmd, "failures") != 0 &&
      strcmp(cmd, "offline") != 0) {
    say_error("unknown command '%s' (check, failures, offline)", cmd);
    return EXIT_FAIL;
  }
  if (geteuid() != 0) {
    say_error("must be run as root: it reads the module's root-only "
              "configuration and state");
    return EXIT_FAIL;
  }
  if (strcmp(cmd, "check") == 0) {
    if (r.nargs != 1 || r.reset || r.all) {
      say_error("usage: dhis2-pamctl check [--user NAME] [--json]");
      return EXIT_FAIL;
    }
    return cmd_check(&r);
  }
  if (strcmp(cmd, "failures") == 0)
    return cmd_failures(&r);
  return cmd_offline(&r);
}
