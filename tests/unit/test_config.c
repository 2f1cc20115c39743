/* Unit tests of lib/config.c: files, profiles, arguments and their errors. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "dhis2/config.h"

#define URL "https://dhis2.example.org"

static char tmpdir[] = "/tmp/test_config.XXXXXX";
static char err[1024];

static void setup(void)
{
  cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
}

static void teardown(void)
{
  DIR *d = opendir(tmpdir);
  struct dirent *e;
  char p[PATH_MAX];

  if (d == NULL)
    return;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
    if (unlink(p) != 0)
      rmdir(p);
  }
  closedir(d);
  rmdir(tmpdir);
}

TestSuite(config, .init = setup, .fini = teardown);

/* A path in the test's directory; valid for the next seven calls. */
static const char *path_in(const char *name)
{
  static char pool[8][PATH_MAX];
  static unsigned next;
  char *p = pool[next++ % 8];

  snprintf(p, PATH_MAX, "%s/%s", tmpdir, name);
  return p;
}

static void write_file(const char *path, mode_t mode, const char *text)
{
  size_t len = strlen(text);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
  cr_assert_eq(write(fd, text, len), (ssize_t)len);
  cr_assert_eq(fchmod(fd, mode), 0);
  cr_assert_eq(close(fd), 0);
}

static enum dhis2_err load(const char *sys, const char *user,
                           const char *profile, int argc, const char **argv,
                           struct dhis2_config **cfg)
{
  struct dhis2_config_opts o = {
      .system_path = sys,
      .user_path = user,
      .user_uid = getuid(),
      .profile = profile,
      .argc = argc,
      .argv = argv,
  };

  return dhis2_config_load(&o, cfg, err, sizeof(err));
}

/*
 * The usual case of these tests: text as the user's file (owned by the
 * test's user, so it works as root and not) and no system file.
 */
static enum dhis2_err load_text(const char *text, int argc, const char **argv,
                                struct dhis2_config **cfg)
{
  const char *user = path_in("user.conf");

  write_file(user, 0600, text);
  return load(path_in("missing.conf"), user, NULL, argc, argv, cfg);
}

/* Loads text that must be refused; returns with err set. */
static void refuse_text(const char *text, int argc, const char **argv)
{
  struct dhis2_config *cfg = NULL;
  enum dhis2_err rc = load_text(text, argc, argv, &cfg);

  cr_assert_eq(rc, DHIS2_ERR_CONFIG, "accepted: %s", text);
  cr_assert_null(cfg);
}

static void assert_err_has(const char *part)
{
  cr_assert_not_null(strstr(err, part), "error '%s' lacks '%s'", err, part);
}

/* What a load gave, carried back from a child process. */
struct outcome {
  enum dhis2_err rc;
  char err[1024];
  char url[256];
  char source[PATH_MAX];
  long timeout;
  unsigned failure_limit;
  char no_root[128]; /* why the files could not count as root's */
};

static void load_into(const struct dhis2_config_opts *o, struct outcome *r)
{
  struct dhis2_config *cfg = NULL;

  r->rc = dhis2_config_load(o, &cfg, r->err, sizeof(r->err));
  if (cfg == NULL)
    return;
  snprintf(r->url, sizeof(r->url), "%s", cfg->url);
  snprintf(r->source, sizeof(r->source), "%s",
           cfg->source != NULL ? cfg->source : "");
  r->timeout = cfg->timeout;
  r->failure_limit = cfg->failure_limit;
  dhis2_config_free(cfg);
}

static bool write_proc(const char *path, const char *text)
{
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  bool ok;

  if (fd < 0)
    return false;
  ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
  close(fd);
  return ok;
}

/* Becomes root of a new user namespace that maps our uid and gid to 0. */
static bool become_namespace_root(char *why, size_t whylen)
{
  unsigned uid = (unsigned)geteuid();
  unsigned gid = (unsigned)getegid();
  char map[64];

  if (unshare(CLONE_NEWUSER) != 0) {
    snprintf(why, whylen, "unshare(CLONE_NEWUSER): %s", strerror(errno));
    return false;
  }
  snprintf(map, sizeof(map), "0 %u 1", uid);
  if (!write_proc("/proc/self/uid_map", map)) {
    snprintf(why, whylen, "uid_map: %s", strerror(errno));
    return false;
  }
  snprintf(map, sizeof(map), "0 %u 1", gid);
  if (!write_proc("/proc/self/setgroups", "deny") ||
      !write_proc("/proc/self/gid_map", map)) {
    snprintf(why, whylen, "gid_map: %s", strerror(errno));
    return false;
  }
  return true;
}

/*
 * Loads with the files this test wrote counting as root's: directly when
 * root; otherwise in a child that becomes root of a user namespace (which
 * needs a single-threaded process, and Criterion's worker is not one).
 * Skips the test, saying why, when neither is possible.
 */
static void load_as_root(const struct dhis2_config_opts *o, struct outcome *r)
{
  char *p = (char *)r;
  size_t got = 0;
  int status = 0;
  int fds[2];
  pid_t pid;

  memset(r, 0, sizeof(*r));
  if (geteuid() == 0) {
    load_into(o, r);
    return;
  }
  cr_assert_eq(pipe(fds), 0);
  pid = fork();
  cr_assert(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    close(fds[0]);
    if (become_namespace_root(r->no_root, sizeof(r->no_root)))
      load_into(o, r);
    _exit(write(fds[1], r, sizeof(*r)) == (ssize_t)sizeof(*r) ? 0 : 1);
  }
  close(fds[1]);
  while (got < sizeof(*r)) {
    ssize_t n = read(fds[0], p + got, sizeof(*r) - got);

    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(fds[0]);
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
            got == sizeof(*r));
  if (r->no_root[0] != '\0')
    cr_skip_test("not root, and no user namespace: %s", r->no_root);
}

/* What cfg holds for key, as text; list items joined with '|'. */
static const char *field(const struct dhis2_config *c, const char *key)
{
  static const char *const twofactor[] = {"prompt", "deny"};
  static const char *const oauth2[] = {"dhis2", "uaa", "oidc"};
  static const char *const store[] = {"auto", "keyring", "file"};
  static const char *const validation[] = {"auto", "api", "jwks"};
  static char buf[1024];
  const struct dhis2_strlist *l = NULL;
  const char *s = NULL;
  size_t i;

  buf[0] = '\0';
  if (strcmp(key, "url") == 0)
    s = c->url;
  else if (strcmp(key, "ca_file") == 0)
    s = c->ca_file;
  else if (strcmp(key, "pinned_pubkey") == 0)
    s = c->pinned_pubkey;
  else if (strcmp(key, "user_map") == 0)
    s = c->user_map;
  else if (strcmp(key, "state_dir") == 0)
    s = c->state_dir;
  else if (strcmp(key, "issuer") == 0)
    s = c->issuer;
  else if (strcmp(key, "client_id") == 0)
    s = c->client_id;
  else if (strcmp(key, "client_secret") == 0)
    s = c->client_secret;
  else if (strcmp(key, "scope") == 0)
    s = c->scope;
  else if (strcmp(key, "allow_http") == 0)
    s = c->allow_http ? "yes" : "no";
  else if (strcmp(key, "debug") == 0)
    s = c->debug ? "yes" : "no";
  else if (strcmp(key, "twofactor") == 0)
    s = twofactor[c->twofactor];
  else if (strcmp(key, "oauth2") == 0)
    s = oauth2[c->oauth2];
  else if (strcmp(key, "token_store") == 0)
    s = store[c->token_store];
  else if (strcmp(key, "token_validation") == 0)
    s = validation[c->token_validation];
  else if (strcmp(key, "connect_timeout") == 0)
    snprintf(buf, sizeof(buf), "%ld", c->connect_timeout);
  else if (strcmp(key, "timeout") == 0)
    snprintf(buf, sizeof(buf), "%ld", c->timeout);
  else if (strcmp(key, "failure_window") == 0)
    snprintf(buf, sizeof(buf), "%ld", c->failure_window);
  else if (strcmp(key, "min_uid") == 0)
    snprintf(buf, sizeof(buf), "%u", (unsigned)c->min_uid);
  else if (strcmp(key, "max_uid") == 0)
    snprintf(buf, sizeof(buf), "%u", (unsigned)c->max_uid);
  else if (strcmp(key, "failure_limit") == 0)
    snprintf(buf, sizeof(buf), "%u", c->failure_limit);
  else if (strcmp(key, "offline") == 0)
    s = c->offline ? "yes" : "no";
  else if (strcmp(key, "offline_ttl") == 0)
    snprintf(buf, sizeof(buf), "%ld", c->offline_ttl);
  else if (strcmp(key, "device_timeout") == 0)
    snprintf(buf, sizeof(buf), "%ld", c->device_timeout);
  else if (strcmp(key, "store_tokens") == 0)
    s = c->store_tokens ? "yes" : "no";
  else if (strcmp(key, "offline_failure_limit") == 0)
    snprintf(buf, sizeof(buf), "%u", c->offline_failure_limit);
  else if (strcmp(key, "offline_hash_cost") == 0)
    snprintf(buf, sizeof(buf), "%u", c->offline_hash_cost);
  else if (strcmp(key, "offline_failure_delay") == 0)
    snprintf(buf, sizeof(buf), "%ld", c->offline_failure_delay);
  else if (strcmp(key, "offline_twofactor") == 0)
    s = c->offline_twofactor_password ? "password" : "deny";
  else if (strcmp(key, "redirect_port") == 0)
    snprintf(buf, sizeof(buf), "%u", c->redirect_port);
  else if (strcmp(key, "methods") == 0)
    snprintf(buf, sizeof(buf), "%s%s%s%s",
             c->methods & DHIS2_METHOD_PASSWORD ? "password," : "",
             c->methods & DHIS2_METHOD_PAT ? "pat," : "",
             c->methods & DHIS2_METHOD_TOKEN ? "token," : "",
             c->methods & DHIS2_METHOD_DEVICE ? "device," : "");
  else if (strcmp(key, "require_group") == 0)
    l = &c->require_group;
  else if (strcmp(key, "require_role") == 0)
    l = &c->require_role;
  else if (strcmp(key, "require_authority") == 0)
    l = &c->require_authority;
  else if (strcmp(key, "require_orgunit") == 0)
    l = &c->require_orgunit;
  else if (strcmp(key, "host_orgunit") == 0)
    s = c->host_orgunit;
  else if (strcmp(key, "account_check") == 0)
    s = c->account_check_lookup ? "lookup" : "none";
  else if (strcmp(key, "lookup_pat_file") == 0)
    s = c->lookup_pat_file;
  else if (strcmp(key, "account_unavailable") == 0)
    s = c->account_unavailable_allow ? "allow" : "deny";
  else
    cr_assert_fail("no such key in the test: %s", key);
  for (i = 0; l != NULL && i < l->n; i++) {
    size_t n = strlen(buf);

    snprintf(buf + n, sizeof(buf) - n, "%s%s", i > 0 ? "|" : "", l->v[i]);
  }
  if (s != NULL)
    return s;
  if (l == NULL && buf[0] == '\0')
    return "(none)";
  return buf;
}

/* One key: its default, a value in a file, and one given as an argument. */
struct key_case {
  const char *key;
  const char *dflt;       /* what the key is when nothing sets it */
  const char *file_value; /* "key = file_value" in a file ... */
  const char *in_file;    /* ... gives this */
  const char *arg_value;  /* then "key=arg_value" as an argument ... */
  const char *in_arg;     /* ... gives this */
};

static const struct key_case key_cases[] = {
    {"url", URL, "https://a.example.org/dhis/", "https://a.example.org/dhis",
     "https://b.example.org:8443", "https://b.example.org:8443"},
    {"ca_file", "(none)", "/etc/ssl/dhis2.pem", "/etc/ssl/dhis2.pem",
     "/etc/ssl/other.pem", "/etc/ssl/other.pem"},
    {"pinned_pubkey", "(none)", "sha256//AAAA", "sha256//AAAA",
     "sha256//BBB=;sha256//CC+/", "sha256//BBB=;sha256//CC+/"},
    {"allow_http", "no", "yes", "yes", "off", "no"},
    {"connect_timeout", "5", "2m", "120", "7", "7"},
    {"timeout", "10", "30s", "30", "1m", "60"},
    {"methods", "password,pat,", "token", "token,", "pat , password",
     "password,pat,"},
    {"methods", "password,pat,", "device", "device,", "password,pat,device",
     "password,pat,device,"},
    {"twofactor", "prompt", "deny", "deny", "prompt", "prompt"},
    {"user_map", "(none)", "/etc/security/dhis2_users",
     "/etc/security/dhis2_users", "/etc/other_map", "/etc/other_map"},
    {"min_uid", "1000", "500", "500", "0", "0"},
    {"max_uid", "60000", "29999", "29999", "4294967294", "4294967294"},
    {"require_group", "", "Admins, Data Entry", "Admins|Data Entry", "Ops",
     "Ops"},
    {"require_role", "", "Superuser", "Superuser", " a ,b", "a|b"},
    {"require_group", "", "id:wl5cDMuUhmF, name:LinuxAdmGrp",
     "id:wl5cDMuUhmF|name:LinuxAdmGrp", "name:Ops", "name:Ops"},
    {"require_authority", "", "ALL,M_dhis-web-app", "ALL|M_dhis-web-app",
     "F_USER_VIEW", "F_USER_VIEW"},
    {"require_orgunit", "", "ImspTQPwCqd, O6uvpzGd5pu",
     "ImspTQPwCqd|O6uvpzGd5pu", "DiszpKrYNg8", "DiszpKrYNg8"},
    {"host_orgunit", "(none)", "DiszpKrYNg8", "DiszpKrYNg8", "O6uvpzGd5pu",
     "O6uvpzGd5pu"},
    {"account_check", "none", "none", "none", "none", "none"},
    {"lookup_pat_file", "(none)", "/etc/security/pam_dhis2.pat",
     "/etc/security/pam_dhis2.pat", "/root/lookup.pat", "/root/lookup.pat"},
    {"account_unavailable", "deny", "allow", "allow", "deny", "deny"},
    {"failure_limit", "3", "0", "0", "1000", "1000"},
    {"failure_window", "900", "1h", "3600", "1d", "86400"},
    {"state_dir", "/var/lib/pam_dhis2", "/run/pam_dhis2", "/run/pam_dhis2",
     "/srv/state", "/srv/state"},
    {"offline", "no", "yes", "yes", "off", "no"},
    {"offline_ttl", "604800", "1h", "3600", "90d", "7776000"},
    {"offline_failure_limit", "5", "0", "0", "1000", "1000"},
    {"offline_failure_delay", "300", "30s", "30", "1d", "86400"},
    {"offline_hash_cost", "7", "3", "3", "11", "11"},
    {"offline_twofactor", "deny", "password", "password", "deny", "deny"},
    {"methods", "password,pat,", "device", "device,", "password,device",
     "password,device,"},
    {"device_timeout", "120", "2m", "120", "15m", "900"},
    {"store_tokens", "yes", "no", "no", "on", "yes"},
    {"oauth2", "dhis2", "uaa", "uaa", "oidc", "oidc"},
    {"issuer", "(none)", "https://idp.example.org/realms/x",
     "https://idp.example.org/realms/x", "https://idp2.example.org",
     "https://idp2.example.org"},
    {"client_id", "(none)", "dhis2-auth", "dhis2-auth", "other", "other"},
    {"client_secret", "(none)", "s3cr3t-in-file", "s3cr3t-in-file",
     "s3cr3t-in-arg", "s3cr3t-in-arg"},
    {"scope", "(none)", "openid email", "openid email", "ALL", "ALL"},
    {"redirect_port", "8765", "9000", "9000", "65535", "65535"},
    {"token_store", "auto", "keyring", "keyring", "file", "file"},
    {"token_validation", "auto", "api", "api", "jwks", "jwks"},
    {"debug", "no", "yes", "yes", "no", "no"},
};

#define N_KEY_CASES (sizeof(key_cases) / sizeof(key_cases[0]))

Test(config, each_key_has_its_documented_default)
{
  const char *argv[] = {"url=" URL};
  struct dhis2_config *cfg = NULL;
  size_t i;

  cr_assert_eq(load(path_in("missing.conf"), NULL, NULL, 1, argv, &cfg),
               DHIS2_OK, "%s", err);
  for (i = 0; i < N_KEY_CASES; i++)
    cr_expect_str_eq(field(cfg, key_cases[i].key), key_cases[i].dflt,
                     "default of %s", key_cases[i].key);
  dhis2_config_free(cfg);
}

Test(config, each_key_can_be_set_in_a_file)
{
  struct dhis2_config *cfg = NULL;
  char text[512];
  size_t i;

  for (i = 0; i < N_KEY_CASES; i++) {
    const struct key_case *kc = &key_cases[i];

    snprintf(text, sizeof(text), "url = " URL "\n%s = %s\n", kc->key,
             kc->file_value);
    cr_assert_eq(load_text(text, 0, NULL, &cfg), DHIS2_OK, "%s", err);
    cr_expect_str_eq(field(cfg, kc->key), kc->in_file, "%s in a file",
                     kc->key);
    dhis2_config_free(cfg);
  }
}

Test(config, each_key_argument_overrides_the_file)
{
  struct dhis2_config *cfg = NULL;
  const char *argv[1];
  char text[512];
  char arg[256];
  size_t i;

  for (i = 0; i < N_KEY_CASES; i++) {
    const struct key_case *kc = &key_cases[i];

    snprintf(text, sizeof(text), "url = " URL "\n%s = %s\n", kc->key,
             kc->file_value);
    snprintf(arg, sizeof(arg), "%s=%s", kc->key, kc->arg_value);
    argv[0] = arg;
    cr_assert_eq(load_text(text, 1, argv, &cfg), DHIS2_OK, "%s", err);
    cr_expect_str_eq(field(cfg, kc->key), kc->in_arg, "%s as an argument",
                     kc->key);
    dhis2_config_free(cfg);
  }
}

/* A value a key must refuse, and what the message then says. */
struct bad_case {
  const char *key;
  const char *value;
  const char *says;
};

static const struct bad_case bad_cases[] = {
    {"url", "ftp://dhis2.example.org", "not an http:// or https:// URL"},
    {"url", "dhis2.example.org", "not an http:// or https:// URL"},
    {"url", "https://", "no valid host or port"},
    {"url", "https://h:0/dhis", "no valid host or port"},
    {"url", "https://h:65536", "no valid host or port"},
    {"url", "https://[::zz]/", "no valid host or port"},
    {"url", "https://h/dhis?x=1",
     "must not have a space, a query or a fragment"},
    {"ca_file", "certs/ca.pem", "not an absolute path"},
    {"pinned_pubkey", "sha1//AAAA", "not sha256//BASE64"},
    {"pinned_pubkey", "sha256//", "not sha256//BASE64"},
    {"pinned_pubkey", "sha256//AA;", "not sha256//BASE64"},
    {"pinned_pubkey", "sha256//A*A", "not sha256//BASE64"},
    {"allow_http", "maybe", "not yes or no"},
    {"connect_timeout", "five", "not a duration"},
    {"connect_timeout", "0", "must be more than 0 seconds"},
    {"timeout", "ten", "not a duration"},
    {"timeout", "301", "must be at most 300 seconds"},
    {"timeout", "6m", "must be at most 300 seconds"},
    {"methods", "password,sms", "not a list of password, pat, token, device"},
    {"methods", "password,,pat", "empty item in the list"},
    {"methods", "Password", "not a list of password, pat, token, device"},
    {"twofactor", "sometimes", "not prompt or deny"},
    {"user_map", "dhis2_users", "not an absolute path"},
    {"min_uid", "-1", "not a uid (0 to 4294967294)"},
    {"min_uid", "4294967295", "not a uid (0 to 4294967294)"},
    {"min_uid", "1e3", "not a uid (0 to 4294967294)"},
    {"max_uid", "-1", "not a uid (0 to 4294967294)"},
    {"max_uid", "60k", "not a uid (0 to 4294967294)"},
    {"require_group", "Admins,,Ops", "empty item in the list"},
    {"require_group", "id:Linux admins",
     "id: needs a DHIS2 UID (11 letters and digits, a letter first)"},
    {"require_role", "id:1234567890a",
     "id: needs a DHIS2 UID (11 letters and digits, a letter first)"},
    {"require_group", "Ops,name:", "name: needs a name"},
    {"require_role", "Superuser,", "empty item in the list"},
    {"require_authority", "a, ,b", "empty item in the list"},
    {"require_orgunit", "ImspTQPwCqd,Sierra Leone",
     "not a list of DHIS2 UIDs (11 letters and digits, a letter first)"},
    {"require_orgunit", "ImspTQPwCq",
     "not a list of DHIS2 UIDs (11 letters and digits, a letter first)"},
    {"require_orgunit", "/ImspTQPwCqd",
     "not a list of DHIS2 UIDs (11 letters and digits, a letter first)"},
    {"require_orgunit", "ImspTQPwCqd,,O6uvpzGd5pu", "empty item in the list"},
    {"host_orgunit", "ImspTQPwCqd,O6uvpzGd5pu",
     "not a DHIS2 UID (11 letters and digits, a letter first)"},
    {"host_orgunit", "1mspTQPwCqd",
     "not a DHIS2 UID (11 letters and digits, a letter first)"},
    {"account_check", "yes", "not none or lookup"},
    {"account_check", "Lookup", "not none or lookup"},
    {"lookup_pat_file", "lookup.pat", "not an absolute path"},
    {"account_unavailable", "offline", "not deny or allow"},
    {"failure_limit", "1001", "not a number from 0 to 1000"},
    {"failure_limit", "-3", "not a number from 0 to 1000"},
    {"failure_window", "15 minutes", "not a duration"},
    {"failure_window", "0", "must be more than 0 seconds"},
    {"state_dir", "var/lib/pam_dhis2", "not an absolute path"},
    {"offline", "sometimes", "not yes or no"},
    {"device_timeout", "two minutes", "not a duration"},
    {"device_timeout", "0", "must be more than 0 seconds"},
    {"device_timeout", "16m", "must be at most 15m"},
    {"device_timeout", "901", "must be at most 15m"},
    {"store_tokens", "maybe", "not yes or no"},
    {"offline_ttl", "a week", "not a duration"},
    {"offline_ttl", "0", "must be more than 0 seconds"},
    {"offline_ttl", "0d", "must be more than 0 seconds"},
    {"offline_ttl", "91d", "must be at most 90d"},
    {"offline_ttl", "7776001", "must be at most 90d"},
    {"offline_ttl", "-1d", "not a duration"},
    {"offline_failure_limit", "-1", "not a number from 0 to 1000"},
    {"offline_failure_limit", "1001", "not a number from 0 to 1000"},
    {"offline_failure_limit", "5x", "not a number from 0 to 1000"},
    {"offline_hash_cost", "2", "not a number from 3 to 11"},
    {"offline_hash_cost", "12", "not a number from 3 to 11"},
    {"offline_hash_cost", "seven", "not a number from 3 to 11"},
    {"offline_failure_delay", "5 min", "not a duration"},
    {"offline_failure_delay", "0", "must be more than 0 seconds"},
    {"offline_failure_delay", "25h", "must be at most 1d"},
    {"offline_twofactor", "prompt", "not deny or password"},
    {"offline_twofactor", "Password", "not deny or password"},
    {"methods", "device,sms", "not a list of password, pat, token, device"},
    {"oauth2", "saml", "not dhis2, uaa or oidc"},
    {"issuer", "ldap://idp.example.org", "not an http:// or https:// URL"},
    {"redirect_port", "0", "not a port (1 to 65535)"},
    {"redirect_port", "65536", "not a port (1 to 65535)"},
    {"token_store", "disk", "not auto, keyring or file"},
    {"token_validation", "none", "not auto, api or jwks"},
    {"debug", "loud", "not yes or no"},
};

#define N_BAD_CASES (sizeof(bad_cases) / sizeof(bad_cases[0]))

Test(config, bad_value_in_a_file_names_file_line_key_and_value)
{
  char text[512];
  char want[PATH_MAX + 1024];
  size_t i;

  for (i = 0; i < N_BAD_CASES; i++) {
    const struct bad_case *bc = &bad_cases[i];

    snprintf(text, sizeof(text), "url = " URL "\n%s = %s\n", bc->key,
             bc->value);
    refuse_text(text, 0, NULL);
    snprintf(want, sizeof(want), "%s:2: %s: %s: '%s'", path_in("user.conf"),
             bc->key, bc->says, bc->value);
    cr_expect_not_null(strstr(err, want), "'%s' lacks '%s'", err, want);
  }
}

Test(config, bad_value_argument_names_argument_and_key)
{
  const char *argv[2] = {"url=" URL};
  char arg[256];
  char want[512];
  size_t i;

  for (i = 0; i < N_BAD_CASES; i++) {
    const struct bad_case *bc = &bad_cases[i];

    snprintf(arg, sizeof(arg), "%s=%s", bc->key, bc->value);
    argv[1] = arg;
    refuse_text("", 2, argv);
    snprintf(want, sizeof(want), "argument: %s: %s", bc->key, bc->says);
    cr_expect_not_null(strstr(err, want), "'%s' lacks '%s'", err, want);
  }
}

/* Durations. */

static long duration(const char *s)
{
  long v = -1;

  cr_assert_eq(dhis2_parse_duration(s, &v), DHIS2_OK, "refused '%s'", s);
  return v;
}

static void assert_not_duration(const char *s)
{
  long v = 42;

  cr_expect_eq(dhis2_parse_duration(s, &v), DHIS2_ERR_INVAL, "took '%s'", s);
  cr_expect_eq(v, 42, "'%s' changed the output", s);
}

Test(config, duration_without_unit_is_seconds)
{
  cr_expect_eq(duration("900"), 900);
  cr_expect_eq(duration("0"), 0);
}

Test(config, duration_units_are_s_m_h_d)
{
  cr_expect_eq(duration("30s"), 30);
  cr_expect_eq(duration("15m"), 900);
  cr_expect_eq(duration("2h"), 7200);
  cr_expect_eq(duration("1d"), 86400);
}

Test(config, duration_refuses_empty_negative_junk_and_overflow)
{
  assert_not_duration("");
  assert_not_duration("-1");
  assert_not_duration("10x");
  assert_not_duration("15M");
  assert_not_duration("m");
  assert_not_duration("5m5");
  assert_not_duration("1mm");
  assert_not_duration(" 5");
  assert_not_duration("5 ");
  assert_not_duration("+5");
  assert_not_duration("99999999999999999999d");
  assert_not_duration("99999999999999999999");
  assert_not_duration("9223372036854775807d");
  assert_not_duration(NULL);
}

Test(config, bool_takes_yes_no_true_false_on_off_1_0_in_any_case)
{
  static const char *const yes[] = {"yes", "TRUE", "On", "1"};
  static const char *const no[] = {"No", "false", "OFF", "0"};
  bool b;
  size_t i;

  for (i = 0; i < 4; i++) {
    b = false;
    cr_expect_eq(dhis2_parse_bool(yes[i], &b), DHIS2_OK, "%s", yes[i]);
    cr_expect(b, "%s", yes[i]);
    b = true;
    cr_expect_eq(dhis2_parse_bool(no[i], &b), DHIS2_OK, "%s", no[i]);
    cr_expect(!b, "%s", no[i]);
  }
  cr_expect_eq(dhis2_parse_bool("maybe", &b), DHIS2_ERR_INVAL);
  cr_expect_eq(dhis2_parse_bool("", &b), DHIS2_ERR_INVAL);
  cr_expect_eq(dhis2_parse_bool("yes ", &b), DHIS2_ERR_INVAL);
}

/* The file format. */

Test(config, comments_blank_lines_and_blanks_around_keys_are_ignored)
{
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load_text("# a comment\n"
                         "\n"
                         "   \t\n"
                         "  url   =   " URL "   # trailing comment\n"
                         "\ttimeout=20\n"
                         "   # an indented comment\n",
                         0, NULL, &cfg),
               DHIS2_OK, "%s", err);
  cr_expect_str_eq(cfg->url, URL);
  cr_expect_eq(cfg->timeout, 20);
  dhis2_config_free(cfg);
}

Test(config, hash_without_a_blank_before_it_is_part_of_the_value)
{
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(
      load_text("url = " URL "\nclient_id = a#b # comment\n", 0, NULL, &cfg),
      DHIS2_OK, "%s", err);
  cr_expect_str_eq(cfg->client_id, "a#b");
  dhis2_config_free(cfg);
}

Test(config, quoted_value_keeps_blanks_and_hash)
{
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load_text("url = \"" URL "\"\n"
                         "client_secret = \" p#ss word \" # comment\n",
                         0, NULL, &cfg),
               DHIS2_OK, "%s", err);
  cr_expect_str_eq(cfg->url, URL);
  cr_expect_str_eq(cfg->client_secret, " p#ss word ");
  dhis2_config_free(cfg);
}

Test(config, crlf_line_ends_are_accepted)
{
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load_text("url = " URL "\r\ntimeout = 20\r\n", 0, NULL, &cfg),
               DHIS2_OK, "%s", err);
  cr_expect_str_eq(cfg->url, URL);
  cr_expect_eq(cfg->timeout, 20);
  dhis2_config_free(cfg);
}

Test(config, last_line_without_newline_is_read)
{
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load_text("url = " URL "\ntimeout = 20", 0, NULL, &cfg),
               DHIS2_OK, "%s", err);
  cr_expect_eq(cfg->timeout, 20);
  dhis2_config_free(cfg);
}

Test(config, later_line_wins_over_earlier_one)
{
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load_text("url = " URL "\nrequire_group = a\n"
                         "require_group = b, c\n",
                         0, NULL, &cfg),
               DHIS2_OK, "%s", err);
  cr_expect_eq(cfg->require_group.n, 2);
  cr_expect_str_eq(cfg->require_group.v[0], "b");
  dhis2_config_free(cfg);
}

Test(config, unknown_key_names_file_line_and_key)
{
  char want[PATH_MAX + 64];

  refuse_text("url = " URL "\n# comment\ntimeot = 10\n", 0, NULL);
  snprintf(want, sizeof(want), "%s:3: unknown key 'timeot'",
           path_in("user.conf"));
  cr_expect_str_eq(err, want);
}

Test(config, bad_duration_message_has_the_documented_shape)
{
  char want[PATH_MAX + 64];

  refuse_text("url = " URL "\ntimeout = ten\n", 0, NULL);
  snprintf(want, sizeof(want), "%s:2: timeout: not a duration: 'ten'",
           path_in("user.conf"));
  cr_expect_str_eq(err, want);
}

Test(config, line_without_equals_is_an_error)
{
  refuse_text("url = " URL "\ntimeout 10\n", 0, NULL);
  assert_err_has(":2: expected 'key = value'");
}

Test(config, malformed_key_is_an_error_and_not_echoed)
{
  refuse_text("url = " URL "\ntime out = 10\n", 0, NULL);
  assert_err_has(":2: malformed key before '='");
  cr_expect_null(strstr(err, "time out"), "%s", err);
}

Test(config, equals_without_key_is_an_error)
{
  refuse_text("url = " URL "\n = 10\n", 0, NULL);
  assert_err_has(":2: no key before '='");
}

Test(config, empty_value_is_an_error)
{
  refuse_text("url = " URL "\nca_file =\n", 0, NULL);
  assert_err_has(":2: ca_file: empty value");
  refuse_text("url = " URL "\nscope = \"\"\n", 0, NULL);
  assert_err_has(":2: scope: empty value");
}

Test(config, unterminated_quote_is_an_error)
{
  refuse_text("url = " URL "\nclient_id = \"abc\n", 0, NULL);
  assert_err_has(":2: client_id: no closing '\"'");
}

Test(config, text_after_a_closing_quote_is_an_error)
{
  refuse_text("url = " URL "\nclient_id = \"abc\" def\n", 0, NULL);
  assert_err_has(":2: client_id: text after the closing '\"'");
}

Test(config, control_character_in_a_value_is_an_error)
{
  refuse_text("url = " URL "\nclient_id = a\033[2Jb\n", 0, NULL);
  assert_err_has(":2: client_id: control character in the value");
  cr_expect_null(strchr(err, '\033'));
}

Test(config, over_long_line_is_an_error_naming_the_line)
{
  char text[6000];

  snprintf(text, sizeof(text), "url = " URL "\nclient_id = %4090s\n", "x");
  refuse_text(text, 0, NULL);
  assert_err_has(":2: line longer than 4096 bytes");
}

Test(config, line_of_exactly_4096_bytes_is_accepted)
{
  struct dhis2_config *cfg = NULL;
  char text[6000];

  /* "client_id = " is 12 bytes; the value makes it 4096. */
  snprintf(text, sizeof(text), "url = " URL "\nclient_id = %4084s\n", "x");
  cr_assert_eq(load_text(text, 0, NULL, &cfg), DHIS2_OK, "%s", err);
  cr_expect_eq(strlen(cfg->client_id), 1);
  dhis2_config_free(cfg);
}

Test(config, nul_byte_in_a_line_is_an_error)
{
  static const char text[] = "url = " URL "\nclient_id = a\0b\n";
  const char *user = path_in("user.conf");
  struct dhis2_config *cfg = NULL;
  int fd;

  fd = open(user, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  cr_assert(fd >= 0);
  cr_assert_eq(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
  close(fd);
  cr_assert_eq(load(path_in("missing.conf"), user, NULL, 0, NULL, &cfg),
               DHIS2_ERR_CONFIG);
  assert_err_has(":2: NUL byte in the line");
}

Test(config, file_larger_than_64_kib_is_refused)
{
  char *text = malloc(70000);

  cr_assert_not_null(text);
  memset(text, '#', 69999);
  text[69999] = '\0';
  refuse_text(text, 0, NULL);
  free(text);
  assert_err_has("larger than 65536 bytes");
}

Test(config, module_flags_are_refused_as_file_keys)
{
  refuse_text("url = " URL "\nuse_first_pass = yes\n", 0, NULL);
  assert_err_has(":2: use_first_pass: only allowed as a module argument");
  refuse_text("url = " URL "\nprofile = prod\n", 0, NULL);
  assert_err_has(":2: profile: only allowed as a module argument");
}

/* Profiles. */

#define PROFILES                                                              \
  "url = " URL "\n"                                                           \
  "failure_limit = 5\n"                                                       \
  "timeout = 20\n"                                                            \
  "\n"                                                                        \
  "[prod] # the real server\n"                                                \
  "timeout = 30\n"                                                            \
  "[test.env-2]\n"                                                            \
  "url = https://test.example.org\n"                                          \
  "require_group = Testers\n"

static struct dhis2_config *load_profiles(const char *profile, int argc,
                                          const char **argv)
{
  const char *user = path_in("user.conf");
  struct dhis2_config *cfg = NULL;

  write_file(user, 0600, PROFILES);
  cr_assert_eq(load(path_in("missing.conf"), user, profile, argc, argv, &cfg),
               DHIS2_OK, "%s", err);
  return cfg;
}

Test(config, keys_before_any_section_are_the_default_profile)
{
  struct dhis2_config *cfg = load_profiles(NULL, 0, NULL);

  cr_expect_str_eq(cfg->profile, "default");
  cr_expect_str_eq(cfg->url, URL);
  cr_expect_eq(cfg->timeout, 20);
  cr_expect_eq(cfg->require_group.n, 0, "[test.env-2] leaked");
  dhis2_config_free(cfg);
}

Test(config, section_inherits_the_default_profile_and_overrides_it)
{
  struct dhis2_config *cfg = load_profiles("prod", 0, NULL);

  cr_expect_str_eq(cfg->profile, "prod");
  cr_expect_eq(cfg->timeout, 30);
  cr_expect_eq(cfg->failure_limit, 5);
  cr_expect_str_eq(cfg->url, URL);
  cr_expect_eq(cfg->require_group.n, 0, "[test.env-2] leaked");
  dhis2_config_free(cfg);
}

Test(config, profile_argument_selects_a_section)
{
  const char *argv[] = {"profile=test.env-2"};
  struct dhis2_config *cfg = load_profiles(NULL, 1, argv);

  cr_expect_str_eq(cfg->profile, "test.env-2");
  cr_expect_str_eq(cfg->url, "https://test.example.org");
  cr_expect_eq(cfg->timeout, 20);
  cr_expect_eq(cfg->require_group.n, 1);
  dhis2_config_free(cfg);
}

Test(config, profile_argument_wins_over_the_callers_profile)
{
  const char *argv[] = {"profile=prod"};
  struct dhis2_config *cfg = load_profiles("test.env-2", 1, argv);

  cr_expect_str_eq(cfg->profile, "prod");
  cr_expect_eq(cfg->timeout, 30);
  dhis2_config_free(cfg);
}

Test(config, arguments_override_the_selected_section)
{
  const char *argv[] = {"timeout=40", "profile=prod"};
  struct dhis2_config *cfg = load_profiles(NULL, 2, argv);

  cr_expect_eq(cfg->timeout, 40);
  dhis2_config_free(cfg);
}

/* Offline sign-in per profile: a kiosk on, sudo with a short window. */
static const char offline_profiles[] = "url = " URL "\n"
                                       "offline = yes\n"
                                       "offline_failure_limit = 3\n"
                                       "[sudo]\n"
                                       "offline_ttl = 1h\n"
                                       "[console]\n"
                                       "offline = no\n"
                                       "offline_twofactor = password\n";

Test(config, offline_keys_of_the_default_profile_apply_to_a_section)
{
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load_text(offline_profiles, 0, NULL, &cfg), DHIS2_OK, "%s",
               err);
  cr_expect(cfg->offline);
  cr_expect_eq(cfg->offline_ttl, 7L * 86400);
  cr_expect_eq(cfg->offline_failure_limit, 3);
  dhis2_config_free(cfg);
}

Test(config, offline_ttl_can_be_shorter_for_one_profile)
{
  const char *argv[] = {"profile=sudo"};
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load_text(offline_profiles, 1, argv, &cfg), DHIS2_OK, "%s",
               err);
  cr_expect(cfg->offline, "offline = yes not inherited");
  cr_expect_eq(cfg->offline_ttl, 3600);
  cr_expect_eq(cfg->offline_failure_limit, 3);
  cr_expect_eq(cfg->offline_failure_delay, 300);
  cr_expect(!cfg->offline_twofactor_password, "[console] leaked");
  dhis2_config_free(cfg);
}

Test(config, offline_can_be_off_for_one_profile)
{
  const char *argv[] = {"profile=console"};
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load_text(offline_profiles, 1, argv, &cfg), DHIS2_OK, "%s",
               err);
  cr_expect(!cfg->offline);
  cr_expect(cfg->offline_twofactor_password);
  cr_expect_eq(cfg->offline_ttl, 7L * 86400, "[sudo] leaked");
  dhis2_config_free(cfg);
}

Test(config, offline_arguments_override_the_selected_profile)
{
  const char *argv[] = {"profile=sudo", "offline=no", "offline_ttl=10m",
                        "offline_failure_delay=1h"};
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load_text(offline_profiles, 4, argv, &cfg), DHIS2_OK, "%s",
               err);
  cr_expect(!cfg->offline);
  cr_expect_eq(cfg->offline_ttl, 600);
  cr_expect_eq(cfg->offline_failure_delay, 3600);
  dhis2_config_free(cfg);
}

Test(config, offline_ttl_over_the_cap_in_a_section_names_file_line_key)
{
  char want[PATH_MAX + 64];

  refuse_text("url = " URL "\n[sudo]\noffline_ttl = 365d\n", 0, NULL);
  snprintf(want, sizeof(want),
           "%s:3: offline_ttl: must be at most 90d: '365d'",
           path_in("user.conf"));
  assert_err_has(want);
}

Test(config, source_names_the_file_the_profile_came_from)
{
  struct dhis2_config *cfg = load_profiles("prod", 0, NULL);

  cr_expect_str_eq(cfg->source, path_in("user.conf"));
  dhis2_config_free(cfg);
}

Test(config, source_is_null_when_only_arguments_gave_the_profile)
{
  const char *argv[] = {"url=" URL};
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load(path_in("missing.conf"), NULL, NULL, 1, argv, &cfg),
               DHIS2_OK, "%s", err);
  cr_expect_null(cfg->source);
  dhis2_config_free(cfg);
}

Test(config, unknown_profile_is_an_error)
{
  const char *user = path_in("user.conf");
  struct dhis2_config *cfg = NULL;

  write_file(user, 0600, PROFILES);
  cr_assert_eq(load(path_in("missing.conf"), user, "staging", 0, NULL, &cfg),
               DHIS2_ERR_CONFIG);
  cr_assert_null(cfg);
  assert_err_has("profile 'staging': no [staging] section in ");
  assert_err_has(user);
}

Test(config, profile_without_any_file_is_an_error)
{
  const char *argv[] = {"url=" URL, "profile=prod"};
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load(path_in("missing.conf"), NULL, NULL, 2, argv, &cfg),
               DHIS2_ERR_CONFIG);
  assert_err_has("profile 'prod': no configuration file to define it");
}

Test(config, duplicate_section_is_an_error)
{
  refuse_text("url = " URL "\n[a]\ntimeout = 1\n[b]\n[a]\n", 0, NULL);
  assert_err_has(":5: duplicate section [a]");
}

Test(config, invalid_section_name_is_an_error)
{
  refuse_text("url = " URL "\n[a/b]\n", 0, NULL);
  assert_err_has(":2: invalid section name 'a/b'");
  refuse_text("url = " URL "\n[]\n", 0, NULL);
  assert_err_has(":2: invalid section name ''");
  refuse_text("url = " URL "\n[prod\n", 0, NULL);
  assert_err_has(":2: section header without ']'");
  refuse_text("url = " URL "\n[prod] x\n", 0, NULL);
  assert_err_has(":2: text after the section header");
}

Test(config, default_section_header_is_an_error)
{
  refuse_text("[default]\nurl = " URL "\n", 0, NULL);
  assert_err_has(":1: no [default] section");
}

Test(config, error_in_an_unselected_section_is_reported)
{
  refuse_text("url = " URL "\n[other]\ntimeout = ten\n", 0, NULL);
  assert_err_has(":3: timeout: not a duration: 'ten'");
}

Test(config, profile_name_with_a_slash_is_refused)
{
  const char *argv[] = {"url=" URL, "profile=../x"};
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load(path_in("missing.conf"), NULL, NULL, 2, argv, &cfg),
               DHIS2_ERR_CONFIG);
  assert_err_has("argument: profile: invalid name '../x'");
  cr_assert_eq(load(path_in("missing.conf"), NULL, "a/b", 1, argv, &cfg),
               DHIS2_ERR_CONFIG);
  assert_err_has("profile: invalid name 'a/b'");
}

Test(config, scope_defaults_to_openid_for_oidc_all_for_uaa_none_for_dhis2)
{
  struct dhis2_config *cfg = NULL;

  /* DHIS2's own server: the helper picks by the server's release. */
  cr_assert_eq(load_text("url = " URL "\n", 0, NULL, &cfg), DHIS2_OK, "%s",
               err);
  cr_expect_null(cfg->scope);
  dhis2_config_free(cfg);

  cr_assert_eq(load_text("url = " URL "\noauth2 = oidc\n", 0, NULL, &cfg),
               DHIS2_OK, "%s", err);
  cr_expect_str_eq(cfg->scope, "openid");
  dhis2_config_free(cfg);
  cr_assert_eq(load_text("url = " URL "\noauth2 = uaa\n", 0, NULL, &cfg),
               DHIS2_OK, "%s", err);
  cr_expect_str_eq(cfg->scope, "ALL");
  dhis2_config_free(cfg);
}

Test(config, scope_default_follows_oauth2_set_in_a_section)
{
  const char *user = path_in("user.conf");
  struct dhis2_config *cfg = NULL;

  write_file(user, 0600, "url = " URL "\n[idp]\noauth2 = oidc\n");
  cr_assert_eq(load(path_in("missing.conf"), user, "idp", 0, NULL, &cfg),
               DHIS2_OK, "%s", err);
  cr_expect_str_eq(cfg->scope, "openid");
  dhis2_config_free(cfg);
}

/* Files: which are read, and which are refused. */

Test(config, conf_argument_replaces_the_system_path)
{
  const char *conf = path_in("conf.conf");
  const char *argv[1];
  struct dhis2_config_opts o = {
      .system_path = path_in("missing.conf"), .argc = 1, .argv = argv};
  char arg[PATH_MAX + 8];
  struct outcome r;

  write_file(conf, 0644, "url = https://conf.example.org\n");
  snprintf(arg, sizeof(arg), "conf=%s", conf);
  argv[0] = arg;
  load_as_root(&o, &r);
  cr_assert_eq(r.rc, DHIS2_OK, "%s", r.err);
  cr_expect_str_eq(r.url, "https://conf.example.org");
  cr_expect_str_eq(r.source, conf);
}

Test(config, conf_argument_naming_a_missing_file_is_an_error)
{
  const char *argv[] = {"url=" URL, NULL};
  struct dhis2_config *cfg = NULL;
  char arg[PATH_MAX + 8];

  snprintf(arg, sizeof(arg), "conf=%s", path_in("nope.conf"));
  argv[1] = arg;
  cr_assert_eq(load(path_in("missing.conf"), NULL, NULL, 2, argv, &cfg),
               DHIS2_ERR_IO);
  assert_err_has(path_in("nope.conf"));
}

Test(config, empty_conf_argument_is_an_error)
{
  const char *argv[] = {"url=" URL, "conf="};
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load(path_in("missing.conf"), NULL, NULL, 2, argv, &cfg),
               DHIS2_ERR_CONFIG);
  assert_err_has("argument: conf: empty value");
}

Test(config, user_file_applies_over_the_system_file)
{
  struct dhis2_config_opts o = {.system_path = path_in("system.conf"),
                                .user_path = path_in("user.conf"),
                                .user_uid = getuid()};
  struct outcome r;

  write_file(o.system_path, 0644,
             "url = " URL "\ntimeout = 20\nfailure_limit = 7\n");
  write_file(o.user_path, 0600, "timeout = 30\n");
  load_as_root(&o, &r);
  cr_assert_eq(r.rc, DHIS2_OK, "%s", r.err);
  cr_expect_str_eq(r.url, URL);
  cr_expect_eq(r.timeout, 30);
  cr_expect_eq(r.failure_limit, 7);
  cr_expect_str_eq(r.source, o.user_path);
}

Test(config, user_file_may_define_a_profile_the_system_file_lacks)
{
  struct dhis2_config_opts o = {.system_path = path_in("system.conf"),
                                .user_path = path_in("user.conf"),
                                .user_uid = getuid(),
                                .profile = "mine"};
  struct outcome r;

  write_file(o.system_path, 0644, "url = " URL "\n");
  write_file(o.user_path, 0600, "[mine]\ntimeout = 30\n");
  load_as_root(&o, &r);
  cr_assert_eq(r.rc, DHIS2_OK, "%s", r.err);
  cr_expect_str_eq(r.url, URL);
  cr_expect_eq(r.timeout, 30);
}

Test(config, missing_user_file_is_not_an_error)
{
  const char *argv[] = {"url=" URL};
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load(path_in("missing.conf"), path_in("nouser.conf"), NULL, 1,
                    argv, &cfg),
               DHIS2_OK, "%s", err);
  cr_expect_str_eq(err, "");
  dhis2_config_free(cfg);
}

Test(config, missing_system_file_without_url_argument_is_an_error)
{
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load(path_in("missing.conf"), NULL, NULL, 0, NULL, &cfg),
               DHIS2_ERR_CONFIG);
  cr_assert_null(cfg);
  assert_err_has(path_in("missing.conf"));
  assert_err_has("no url= argument");
}

Test(config, missing_system_file_with_url_argument_is_not_an_error)
{
  const char *argv[] = {"url=" URL};
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load(path_in("missing.conf"), NULL, NULL, 1, argv, &cfg),
               DHIS2_OK, "%s", err);
  cr_expect_str_eq(cfg->url, URL);
  dhis2_config_free(cfg);
}

Test(config, missing_system_file_is_an_error_when_required)
{
  struct dhis2_config_opts o = {.system_path = path_in("missing.conf"),
                                .system_required = true};
  const char *argv[] = {"url=" URL};
  struct dhis2_config *cfg = NULL;

  o.argc = 1;
  o.argv = argv;
  cr_assert_eq(dhis2_config_load(&o, &cfg, err, sizeof(err)), DHIS2_ERR_IO);
  assert_err_has(path_in("missing.conf"));
}

Test(config, system_file_not_owned_by_root_is_refused)
{
  const char *sys = path_in("system.conf");
  const char *argv[] = {"url=" URL};
  struct dhis2_config *cfg = NULL;

  write_file(sys, 0644, "timeout = 20\n");
  /* As root, give it away; otherwise the test's own file is not root's. */
  if (geteuid() == 0)
    cr_assert_eq(chown(sys, 1, 1), 0, "chown: %s", strerror(errno));
  cr_assert_eq(load(sys, NULL, NULL, 1, argv, &cfg), DHIS2_ERR_CONFIG);
  assert_err_has(sys);
  assert_err_has(": refusing: owned by uid");
}

Test(config, user_file_owned_by_another_user_is_refused)
{
  const char *user = path_in("user.conf");
  struct dhis2_config_opts o = {.system_path = path_in("missing.conf"),
                                .user_path = user};
  struct dhis2_config *cfg = NULL;

  write_file(user, 0600, "url = " URL "\n");
  if (geteuid() == 0) {
    cr_assert_eq(chown(user, 1, 1), 0, "chown: %s", strerror(errno));
    o.user_uid = 2;
  } else
    o.user_uid = getuid() + 1;
  cr_assert_eq(dhis2_config_load(&o, &cfg, err, sizeof(err)),
               DHIS2_ERR_CONFIG);
  assert_err_has(user);
  assert_err_has(": refusing: owned by uid");
}

Test(config, user_file_owned_by_root_is_accepted)
{
  struct dhis2_config_opts o = {.system_path = path_in("missing.conf"),
                                .user_path = path_in("user.conf"),
                                .user_uid = 4242};
  struct outcome r;

  write_file(o.user_path, 0644, "url = " URL "\n");
  load_as_root(&o, &r);
  cr_expect_eq(r.rc, DHIS2_OK, "%s", r.err);
}

Test(config, group_writable_file_is_refused)
{
  const char *user = path_in("user.conf");
  struct dhis2_config *cfg = NULL;

  write_file(user, 0620, "url = " URL "\n");
  cr_assert_eq(load(path_in("missing.conf"), user, NULL, 0, NULL, &cfg),
               DHIS2_ERR_CONFIG);
  assert_err_has(user);
  assert_err_has(": refusing: writable by group or others");
}

Test(config, world_writable_file_is_refused)
{
  const char *user = path_in("user.conf");
  struct dhis2_config *cfg = NULL;

  write_file(user, 0602, "url = " URL "\n");
  cr_assert_eq(load(path_in("missing.conf"), user, NULL, 0, NULL, &cfg),
               DHIS2_ERR_CONFIG);
  assert_err_has(user);
  assert_err_has(": refusing: writable by group or others");
}

Test(config, world_writable_system_file_is_refused)
{
  const char *argv[] = {"url=" URL};
  struct dhis2_config_opts o = {
      .system_path = path_in("system.conf"), .argc = 1, .argv = argv};
  struct outcome r;

  write_file(o.system_path, 0666, "timeout = 20\n");
  load_as_root(&o, &r);
  cr_assert_eq(r.rc, DHIS2_ERR_CONFIG);
  cr_expect_not_null(strstr(r.err, o.system_path), "%s", r.err);
  cr_expect_not_null(strstr(r.err, ": refusing: writable by group or others"),
                     "%s", r.err);
}

Test(config, symlink_is_refused)
{
  const char *real = path_in("real.conf");
  const char *link = path_in("link.conf");
  struct dhis2_config *cfg = NULL;

  write_file(real, 0600, "url = " URL "\n");
  cr_assert_eq(symlink(real, link), 0);
  cr_assert_eq(load(path_in("missing.conf"), link, NULL, 0, NULL, &cfg),
               DHIS2_ERR_CONFIG);
  assert_err_has(link);
  assert_err_has("symbolic link");
}

Test(config, directory_is_refused)
{
  const char *d = path_in("dir.conf");
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(mkdir(d, 0700), 0);
  cr_assert_eq(load(path_in("missing.conf"), d, NULL, 0, NULL, &cfg),
               DHIS2_ERR_CONFIG);
  assert_err_has("not a regular file");
}

/* url, issuer and allow_http. */

Test(config, url_loses_its_trailing_slashes)
{
  const char *argv[] = {"url=https://h.example.org/dhis///"};
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load_text("", 1, argv, &cfg), DHIS2_OK, "%s", err);
  cr_expect_str_eq(cfg->url, "https://h.example.org/dhis");
  dhis2_config_free(cfg);
  argv[0] = "url=https://h.example.org/";
  cr_assert_eq(load_text("", 1, argv, &cfg), DHIS2_OK, "%s", err);
  cr_expect_str_eq(cfg->url, "https://h.example.org");
  dhis2_config_free(cfg);
}

Test(config, url_scheme_is_kept_in_lower_case)
{
  const char *argv[] = {"url=HTTPS://H.example.org/DHIS"};
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load_text("", 1, argv, &cfg), DHIS2_OK, "%s", err);
  cr_expect_str_eq(cfg->url, "https://H.example.org/DHIS");
  dhis2_config_free(cfg);
}

Test(config, url_missing_from_the_files_is_an_error)
{
  char want[PATH_MAX + 64];

  refuse_text("timeout = 20\n", 0, NULL);
  snprintf(want, sizeof(want), "%s: url: not set for profile 'default'",
           path_in("user.conf"));
  cr_expect_str_eq(err, want);
}

Test(config, http_url_without_allow_http_is_refused)
{
  refuse_text("timeout = 20\nurl = http://127.0.0.1:8080\n", 0, NULL);
  assert_err_has(":2: url: http:// needs allow_http = yes");
}

Test(config, http_url_to_loopback_with_allow_http_is_accepted)
{
  static const char *const urls[] = {
      "url=http://127.0.0.1:8080/dhis", "url=http://[::1]:8080",
      "url=http://localhost", "url=HTTP://127.9.9.9"};
  struct dhis2_config *cfg = NULL;
  const char *argv[2];
  size_t i;

  argv[1] = "allow_http=yes";
  for (i = 0; i < 4; i++) {
    argv[0] = urls[i];
    cr_expect_eq(load_text("", 2, argv, &cfg), DHIS2_OK, "%s: %s", urls[i],
                 err);
    dhis2_config_free(cfg);
    cfg = NULL;
  }
}

Test(config, http_url_to_another_host_is_refused_even_with_allow_http)
{
  refuse_text("url = http://dhis2.example.org\nallow_http = yes\n", 0, NULL);
  assert_err_has(":1: url: http:// only to a loopback address: "
                 "'http://dhis2.example.org'");
}

Test(config, allow_http_argument_applies_to_a_url_from_the_file)
{
  const char *argv[] = {"allow_http=yes"};
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load_text("url = http://127.0.0.1\n", 1, argv, &cfg), DHIS2_OK,
               "%s", err);
  cr_expect(cfg->allow_http);
  dhis2_config_free(cfg);
}

Test(config, url_with_user_and_password_is_refused_without_echoing_it)
{
  const char *argv[] = {"url=https://admin:district@h.example.org"};

  refuse_text("url = https://admin:district@h.example.org\n", 0, NULL);
  assert_err_has(":1: url: must not contain user:password@");
  cr_expect_null(strstr(err, "district"), "%s", err);
  refuse_text("", 1, argv);
  assert_err_has("argument: url: must not contain user:password@");
  cr_expect_null(strstr(err, "district"), "%s", err);
}

Test(config, http_issuer_follows_the_url_rule)
{
  refuse_text("url = " URL "\nissuer = http://idp.example.org\n", 0, NULL);
  assert_err_has(":2: issuer: http:// needs allow_http = yes");
  refuse_text("url = " URL "\nallow_http = yes\n"
              "issuer = http://idp.example.org\n",
              0, NULL);
  assert_err_has(":3: issuer: http:// only to a loopback address");
}

/* Arguments. */

Test(config, module_flags_set_their_booleans)
{
  const char *argv[] = {"url=" URL, "debug", "use_first_pass",
                        "try_first_pass"};
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load(path_in("missing.conf"), NULL, NULL, 4, argv, &cfg),
               DHIS2_OK, "%s", err);
  cr_expect(cfg->debug);
  cr_expect(cfg->use_first_pass);
  cr_expect(cfg->try_first_pass);
  dhis2_config_free(cfg);
}

Test(config, module_flags_default_to_off)
{
  const char *argv[] = {"url=" URL};
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load(path_in("missing.conf"), NULL, NULL, 1, argv, &cfg),
               DHIS2_OK, "%s", err);
  cr_expect(!cfg->debug);
  cr_expect(!cfg->use_first_pass);
  cr_expect(!cfg->try_first_pass);
  dhis2_config_free(cfg);
}

Test(config, unknown_argument_is_an_error_naming_it)
{
  const char *argv[] = {"url=" URL, "foo"};

  refuse_text("", 2, argv);
  cr_expect_str_eq(err, "argument: unknown option 'foo'");
}

Test(config, unknown_key_argument_names_the_key_but_not_the_value)
{
  const char *argv[] = {"url=" URL, "client_secert=s3cr3t"};

  refuse_text("", 2, argv);
  cr_expect_str_eq(err, "argument: unknown option 'client_secert'");
}

Test(config, flag_with_a_value_is_an_error)
{
  const char *argv[] = {"url=" URL, "use_first_pass=yes"};

  refuse_text("", 2, argv);
  cr_expect_str_eq(err, "argument: use_first_pass: takes no value");
}

Test(config, empty_argument_value_is_an_error)
{
  const char *argv[] = {"url=" URL, "timeout="};

  refuse_text("", 2, argv);
  cr_expect_str_eq(err, "argument: timeout: empty value");
}

Test(config, argument_url_alone_is_enough)
{
  const char *argv[] = {"url=" URL};
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load(path_in("missing.conf"), NULL, NULL, 1, argv, &cfg),
               DHIS2_OK, "%s", err);
  cr_expect_str_eq(cfg->profile, "default");
  dhis2_config_free(cfg);
}

/* Secrets and the error buffer. */

Test(config, client_secret_value_never_appears_in_an_error)
{
  static const char *const texts[] = {
      "url = " URL "\nclient_secret s3cr3t\n",
      "url = " URL "\nclient_secret = s3\001cr3t\n",
      "url = " URL "\nclient_secret = \"s3cr3t\" junk\n",
      "url = " URL "\nclient_secret = \"s3cr3t\n",
      "url = " URL "\nclient_secert = s3cr3t\n",
      "url = " URL "\nclient_secret s3cr3t = x\n",
  };
  const char *argv[] = {"client_secret=s3\001cr3t"};
  size_t i;

  for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
    refuse_text(texts[i], 0, NULL);
    cr_expect_null(strstr(err, "s3"), "case %zu: %s", i, err);
    cr_expect_neq(err[0], '\0', "case %zu: no message", i);
  }
  refuse_text("url = " URL "\n", 1, argv);
  cr_expect_null(strstr(err, "s3"), "%s", err);
  assert_err_has("argument: client_secret: control character");
}

Test(config, error_message_is_cut_to_the_buffer_and_terminated)
{
  const char *argv[] = {"url=" URL, "foo"};
  struct dhis2_config_opts o = {
      .system_path = path_in("missing.conf"), .argc = 2, .argv = argv};
  struct dhis2_config *cfg = NULL;
  char small[8];

  memset(small, 'x', sizeof(small));
  cr_assert_eq(dhis2_config_load(&o, &cfg, small, sizeof(small)),
               DHIS2_ERR_CONFIG);
  cr_expect_str_eq(small, "argumen");
  cr_assert_eq(dhis2_config_load(&o, &cfg, NULL, 0), DHIS2_ERR_CONFIG);
}

Test(config, output_is_null_after_an_error)
{
  const char *argv[] = {"foo"};
  struct dhis2_config *cfg = (struct dhis2_config *)err;

  cr_assert_eq(load(path_in("missing.conf"), NULL, NULL, 1, argv, &cfg),
               DHIS2_ERR_CONFIG);
  cr_expect_null(cfg);
}

Test(config, free_accepts_null)
{
  dhis2_config_free(NULL);
}

/* Lists. */

Test(config, list_items_are_trimmed_and_keep_inner_blanks)
{
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load_text("url = " URL "\n"
                         "require_group =  Data Entry ,Admins,  x\n",
                         0, NULL, &cfg),
               DHIS2_OK, "%s", err);
  cr_assert_eq(cfg->require_group.n, 3);
  cr_expect_str_eq(cfg->require_group.v[0], "Data Entry");
  cr_expect_str_eq(cfg->require_group.v[1], "Admins");
  cr_expect_str_eq(cfg->require_group.v[2], "x");
  dhis2_config_free(cfg);
}

Test(config, strlist_contains_compares_ascii_case_insensitively)
{
  char *items[] = {"Admins", "Data Entry"};
  struct dhis2_strlist l = {items, 2};
  struct dhis2_strlist empty = {NULL, 0};

  cr_expect(dhis2_strlist_contains(&l, "admins"));
  cr_expect(dhis2_strlist_contains(&l, "DATA ENTRY"));
  cr_expect(!dhis2_strlist_contains(&l, "Data"));
  cr_expect(!dhis2_strlist_contains(&l, "Admins "));
  cr_expect(!dhis2_strlist_contains(&empty, "Admins"));
  cr_expect(!dhis2_strlist_contains(NULL, "Admins"));
  cr_expect(!dhis2_strlist_contains(&l, NULL));
}

/* Loopback. */

Test(config, loopback_covers_127_slash_8_ipv6_one_and_localhost)
{
  cr_expect(dhis2_url_is_loopback("http://127.0.0.1"));
  cr_expect(dhis2_url_is_loopback("http://127.5.6.7:8080/dhis"));
  cr_expect(dhis2_url_is_loopback("http://[::1]"));
  cr_expect(dhis2_url_is_loopback("http://[::1]:8080/x"));
  cr_expect(dhis2_url_is_loopback("http://localhost"));
  cr_expect(dhis2_url_is_loopback("http://LocalHost:80/"));
}

Test(config, loopback_refuses_every_other_host)
{
  cr_expect(!dhis2_url_is_loopback("http://128.0.0.1"));
  cr_expect(!dhis2_url_is_loopback("http://126.255.255.255"));
  cr_expect(!dhis2_url_is_loopback("http://example.org"));
  cr_expect(!dhis2_url_is_loopback("http://localhost.example.org"));
  cr_expect(!dhis2_url_is_loopback("http://127.0.0.1.example.org"));
  cr_expect(!dhis2_url_is_loopback("http://[::2]"));
  cr_expect(!dhis2_url_is_loopback("http://::1"));
  cr_expect(!dhis2_url_is_loopback("http://127.1"));
  cr_expect(!dhis2_url_is_loopback("http://x@127.0.0.1"));
  cr_expect(!dhis2_url_is_loopback("http://127.0.0.1@example.org"));
  cr_expect(!dhis2_url_is_loopback("127.0.0.1"));
  cr_expect(!dhis2_url_is_loopback(""));
  cr_expect(!dhis2_url_is_loopback(NULL));
}

/* The example an administrator copies (and the packages install) names no
   server: it is refused for that alone, and loads with its commented keys
   switched on. */
Test(config, shipped_example_loads_with_and_without_its_comments)
{
  const char *top = getenv("DHIS2_SRCDIR");
  char path[PATH_MAX];
  char text[16384];
  char uncommented[16384];
  struct dhis2_config *cfg = NULL;
  size_t n = 0;
  FILE *f;

  snprintf(path, sizeof(path), "%s/packaging/examples/pam_dhis2.conf",
           top ? top : ".");
  f = fopen(path, "r");
  cr_assert_not_null(f, "%s: %s", path, strerror(errno));
  n = fread(text, 1, sizeof(text) - 1, f);
  fclose(f);
  text[n] = '\0';
  cr_assert_eq(load_text(text, 0, NULL, &cfg), DHIS2_ERR_CONFIG);
  cr_assert(strstr(err, "url: not set") != NULL, "%s", err);
  {
    const char *url[] = {"url=https://dhis2.example.org/dhis"};

    cr_assert_eq(load_text(text, 1, url, &cfg), DHIS2_OK, "%s", err);
    cr_assert_eq(cfg->failure_window, 900);
    dhis2_config_free(cfg);
    cfg = NULL;
  }

  /* "#key = value" lines become settings; prose comments stay. */
  n = 0;
  for (const char *p = text; *p; p++) {
    if (*p == '#' && (p == text || p[-1] == '\n') && p[1] != ' ' &&
        p[1] != '\n')
      continue;
    uncommented[n++] = *p;
  }
  uncommented[n] = '\0';
  cr_assert_eq(load_text(uncommented, 0, NULL, &cfg), DHIS2_OK, "%s", err);
  cr_assert(dhis2_strlist_contains(&cfg->require_group, "LinuxAdmGrp"));
  cr_assert_eq(cfg->max_uid, 60000);
  cr_assert_not_null(cfg->user_map);
  cr_assert(!cfg->offline, "offline must stay opt-in");
  dhis2_config_free(cfg);
  cfg = NULL;

  /* Its offline profiles: a kiosk for a week, sudo for an hour. */
  {
    const char *kiosk[] = {"profile=kiosk"};
    const char *sudo[] = {"profile=sudo"};

    cr_assert_eq(load_text(uncommented, 1, kiosk, &cfg), DHIS2_OK, "%s", err);
    cr_assert(cfg->offline);
    cr_assert_eq(cfg->offline_ttl, 7L * 86400);
    dhis2_config_free(cfg);
    cfg = NULL;
    cr_assert_eq(load_text(uncommented, 1, sudo, &cfg), DHIS2_OK, "%s", err);
    cr_assert(cfg->offline);
    cr_assert_eq(cfg->offline_ttl, 3600);
    dhis2_config_free(cfg);
    cfg = NULL;
  }

  /* The device sign-in profile. */
  {
    const char *device[] = {"profile=ssh-device"};

    cr_assert_eq(load_text(uncommented, 1, device, &cfg), DHIS2_OK, "%s", err);
    cr_assert_eq(cfg->methods, DHIS2_METHOD_DEVICE);
    cr_assert_eq(cfg->oauth2, DHIS2_OAUTH2_OIDC);
    cr_assert_eq(cfg->device_timeout, 120);
    cr_assert(cfg->store_tokens);
    dhis2_config_free(cfg);
    cfg = NULL;
  }

  /* The key-login, clinic and district profiles. */
  {
    const char *sshd[] = {"profile=sshd"};
    const char *clinic[] = {"profile=clinic-kiosk"};
    const char *district[] = {"profile=district-server"};

    cr_assert_eq(load_text(uncommented, 1, sshd, &cfg), DHIS2_OK, "%s", err);
    cr_assert(cfg->account_check_lookup);
    cr_assert_str_eq(cfg->lookup_pat_file, "/etc/security/pam_dhis2.lookup");
    dhis2_config_free(cfg);
    cfg = NULL;
    cr_assert_eq(load_text(uncommented, 1, clinic, &cfg), DHIS2_OK, "%s", err);
    cr_assert_str_eq(cfg->host_orgunit, "DiszpKrYNg8");
    cr_assert(cfg->offline);
    dhis2_config_free(cfg);
    cfg = NULL;
    cr_assert_eq(load_text(uncommented, 1, district, &cfg), DHIS2_OK, "%s",
                 err);
    cr_assert(dhis2_strlist_contains(&cfg->require_orgunit, "O6uvpzGd5pu"));
    dhis2_config_free(cfg);
  }
}

/* The account check. */

Test(config, account_check_lookup_with_its_token_file_is_taken)
{
  struct dhis2_config *cfg = NULL;

  cr_assert_eq(load_text("url = " URL "\naccount_check = lookup\n"
                         "lookup_pat_file = /etc/security/dhis2.pat\n"
                         "account_unavailable = allow\n",
                         0, NULL, &cfg),
               DHIS2_OK, "%s", err);
  cr_assert(cfg->account_check_lookup);
  cr_assert_str_eq(cfg->lookup_pat_file, "/etc/security/dhis2.pat");
  cr_assert(cfg->account_unavailable_allow);
  dhis2_config_free(cfg);
}

Test(config, account_check_lookup_without_a_token_file_names_the_key)
{
  char want[PATH_MAX + 64];

  refuse_text("url = " URL "\naccount_check = lookup\n", 0, NULL);
  snprintf(want, sizeof(want),
           "%s:2: account_check = lookup: "
           "lookup_pat_file is not set",
           path_in("user.conf"));
  assert_err_has(want);
}

Test(config, account_check_lookup_as_an_argument_needs_a_token_file_too)
{
  const char *argv[] = {"account_check=lookup"};
  const char *with[] = {"account_check=lookup",
                        "lookup_pat_file=/etc/security/dhis2.pat"};
  struct dhis2_config *cfg = NULL;

  refuse_text("url = " URL "\n", 1, argv);
  assert_err_has("argument: account_check = lookup: lookup_pat_file");
  cr_assert_eq(load_text("url = " URL "\n", 2, with, &cfg), DHIS2_OK, "%s",
               err);
  cr_assert(cfg->account_check_lookup);
  dhis2_config_free(cfg);
}

Test(config, account_check_is_per_profile)
{
  struct dhis2_config *cfg = NULL;
  const char *user = path_in("user.conf");
  const char *text = "url = " URL "\nrequire_orgunit = ImspTQPwCqd\n"
                     "[ssh]\naccount_check = lookup\n"
                     "lookup_pat_file = /etc/security/dhis2.pat\n"
                     "host_orgunit = DiszpKrYNg8\n"
                     "[console]\naccount_check = lookup\n";

  /* [console] lacks the token file: refused when selected, not before. */
  write_file(user, 0600, text);
  cr_assert_eq(load(path_in("missing.conf"), user, NULL, 0, NULL, &cfg),
               DHIS2_OK, "%s", err);
  cr_assert_not(cfg->account_check_lookup);
  cr_assert_null(cfg->host_orgunit);
  dhis2_config_free(cfg);
  cr_assert_eq(load(path_in("missing.conf"), user, "ssh", 0, NULL, &cfg),
               DHIS2_OK, "%s", err);
  cr_assert(cfg->account_check_lookup);
  cr_assert_str_eq(cfg->host_orgunit, "DiszpKrYNg8");
  cr_assert_str_eq(cfg->require_orgunit.v[0], "ImspTQPwCqd");
  dhis2_config_free(cfg);
  cfg = NULL;
  cr_assert_eq(load(path_in("missing.conf"), user, "console", 0, NULL, &cfg),
               DHIS2_ERR_CONFIG);
  cr_assert_null(cfg);
  assert_err_has(":8: account_check = lookup: lookup_pat_file is not set "
                 "for profile 'console'");
}
