/* The device method through the real libpam: the code shown at the
   prompt, approved (or not) at the emulator's identity provider the way a
   user does it on their phone, and the tokens then kept for the local
   account as dhis2-auth keeps them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <security/pam_appl.h>

#include "dhis2/store.h"
#include "accounts.h"
#include "emulator.h"
#include "pamtest.h"
#include "testutil.h"

static struct emu *emu;
static struct pt *pt;
/* This process's profile: the keyring holds one key a uid and profile,
   and tests running side by side share the accounts' homes. */
static char profile[64];
static char conf[400];
static bool used_keyring; /* this test may have left a key behind */
static bool delete_key(const char *account);

static void start(void)
{
  FILE *f;

  emu = emu_start("2.42", true);
  pt = pt_new(emu);
  /* The test accounts reach their own files below it (dhis2-auth's
     configuration, the root-owned directory of the symlink cases). */
  cr_assert_eq(chmod(pt_dir(pt), 0711), 0);
  snprintf(profile, sizeof(profile), "dev-%ld", (long)getpid());
  snprintf(conf, sizeof(conf), "%s/pam_dhis2.conf", pt_dir(pt));
  f = fopen(conf, "w");
  cr_assert_not_null(f);
  fprintf(f, "[%s]\n", profile);
  fclose(f);
  cr_assert_eq(chmod(conf, 0600), 0);
  pt_write_map(pt, "alice " TA_USER "\n");
  /* /api takes the IdP's JWTs only with jwt_bearer; interval 1 keeps the
     polling short. */
  cr_assert_eq(emu_ctl(emu, "POST", "/oauth2",
                       "{\"jwt_bearer\":true,\"device_interval\":1}", NULL),
               200);
}

/* The record of this process's profile in account's file store. */
static void record_path(const char *account, char *out, size_t len)
{
  snprintf(out, len, "%s/.local/state/dhis2-auth/%s.json", ta_home(account),
           profile);
}

static void stop(void)
{
  char path[700];

  if (used_keyring && !delete_key(TA_USER))
    fprintf(stderr, "the key dhis2-auth:%s of %s may be left\n", profile,
            TA_USER);

  record_path(TA_USER, path, sizeof(path));
  unlink(path);
  snprintf(path, sizeof(path), "%s/.local/state/dhis2-auth/%s.lock",
           ta_home(TA_USER), profile);
  unlink(path);
  pt_free(pt);
  pt = NULL;
  emu_stop(emu);
  emu = NULL;
}

TestSuite(device, .init = start, .fini = stop, .timeout = 30);

/* The device service: methods=device at the emulator's IdP, this
   process's profile, with extra on the auth and account lines. */
static void service(const char *extra)
{
  char raw[8192];
  const char *x = extra != NULL ? extra : "";

  snprintf(raw, sizeof(raw),
           "auth     required @MOD@ @ARGS@ conf=%s profile=%s oauth2=oidc "
           "issuer=%s/realms/dhis2 client_id=dhis2-auth scope=openid "
           "methods=device device_timeout=30 debug %s\n"
           "account  required @MOD@ @ARGS@ conf=%s profile=%s %s\n"
           "session  required @MOD@ @ARGS@ conf=%s profile=%s\n",
           conf, profile, emu_idp_url(emu), x, conf, profile, x, conf,
           profile);
  pt_service_raw(pt, raw);
}

/* --- the person with the phone ------------------------------------------- */

/* What the user does while a prompt is up; the hook's context. */
struct phone {
  int act_at;         /* at this prompt (1: the first) ... */
  const char *action; /* ... "approve" or "deny" the code, NULL: nothing */
  const char *as;     /* the IdP user who approves */
  int hang_up_at;     /* at this prompt the conversation fails; 0: never */
  double think_s;     /* the user takes this long to answer each prompt */
  int seen;           /* prompts so far */
  char code[32];      /* the user code read off the prompt */
  double answered;    /* when the last prompt was answered */
};

/* The user code as a prompt shows it: "enter the code  XXXX-XXXX" in the
   first, "(code XXXX-XXXX," in a repeated one. */
static void read_code(const char *prompt, char *code, size_t len)
{
  const char *p = strstr(prompt, "enter the code  ");
  size_t n = 0;

  if (p != NULL)
    p += strlen("enter the code  ");
  else if ((p = strstr(prompt, "(code ")) != NULL)
    p += strlen("(code ");
  if (p == NULL)
    return;
  while (n + 1 < len && ((p[n] >= 'A' && p[n] <= 'Z') || p[n] == '-'))
    n++;
  memcpy(code, p, n);
  code[n] = '\0';
}

static void settle(const char *code, const char *action, const char *as)
{
  char body[256];
  char *reply = NULL;
  int st;

  snprintf(body, sizeof(body),
           "{\"user_code\":\"%s\",\"action\":\"%s\",\"username\":\"%s\"}",
           code, action, as != NULL ? as : "alice");
  st = emu_ctl(emu, "POST", "/oauth2/device", body, &reply);
  cr_assert_eq(st, 200, "settling %s: %d %s", code, st, reply ? reply : "");
  free(reply);
}

static enum pt_hook_verdict phone_hook(const char *prompt, void *ctx)
{
  struct phone *ph = ctx;

  ph->seen++;
  read_code(prompt, ph->code, sizeof(ph->code));
  if (ph->hang_up_at == ph->seen)
    return PT_HANG_UP;
  if (ph->act_at == ph->seen && ph->action != NULL) {
    cr_assert_neq(ph->code[0], '\0', "no code in the prompt:\n%s", prompt);
    settle(ph->code, ph->action, ph->as);
  }
  if (ph->think_s > 0)
    usleep((useconds_t)(ph->think_s * 1e6));
  ph->answered = tu_now();
  return PT_ANSWER;
}

/* Enter at every prompt. */
static const char *const enters[] = {"", "", "", "", "", "", "", "", NULL};

/* --- what the IdP and the user's files show ------------------------------ */

/* Requests the IdP saw whose path holds part (and whose body holds body,
   when not NULL). */
static long idp_count(const char *part, const char *body)
{
  char *reply = NULL;
  struct json_object *all;
  long n = 0;

  cr_assert_eq(emu_ctl(emu, "GET", "/oauth2/idp-requests", NULL, &reply), 200);
  all = json_tokener_parse(reply);
  cr_assert_not_null(all);
  for (size_t i = 0; i < json_object_array_length(all); i++) {
    struct json_object *r = json_object_array_get_idx(all, i);
    struct json_object *v;
    const char *path = "";
    const char *b = "";

    if (json_object_object_get_ex(r, "path", &v))
      path = json_object_get_string(v);
    if (json_object_object_get_ex(r, "body", &v))
      b = json_object_get_string(v);
    if (strstr(path, part) != NULL && (body == NULL || strstr(b, body)))
      n++;
  }
  json_object_put(all);
  free(reply);
  return n;
}

/* Device-code polls that reached the IdP's token endpoint. */
static long device_polls(void)
{
  return idp_count("/protocol/openid-connect/token", "device_code");
}

/* Device authorization requests (new codes) at the IdP. */
static long device_starts(void)
{
  return idp_count("/protocol/openid-connect/auth/device", NULL);
}

/* Lines of the prompt drawn only with half blocks and spaces. */
static int qr_rows(const char *prompt)
{
  int rows = 0;

  for (const char *l = prompt; *l != '\0';) {
    const char *e = strchr(l, '\n');
    size_t n = e != NULL ? (size_t)(e - l) : strlen(l);
    bool block = false;
    bool other = false;

    for (size_t i = 0; i < n && !other;) {
      if (l[i] == ' ') {
        i++;
      } else if (i + 2 < n && (unsigned char)l[i] == 0xe2 &&
                 (unsigned char)l[i + 1] == 0x96 &&
                 ((unsigned char)l[i + 2] == 0x88 ||
                  (unsigned char)l[i + 2] == 0x80 ||
                  (unsigned char)l[i + 2] == 0x84)) {
        block = true;
        i += 3;
      } else {
        other = true;
      }
    }
    if (block && !other)
      rows++;
    l += n;
    if (*l == '\n')
      l++;
  }
  return rows;
}

/* account's primary group. */
static gid_t gid_of(const char *account)
{
  struct passwd pwbuf;
  struct passwd *pw = NULL;
  char buf[4096];

  cr_assert_eq(getpwuid_r(ta_uid(account), &pwbuf, buf, sizeof(buf), &pw), 0);
  cr_assert_not_null(pw);
  return pw->pw_gid;
}

/* Becomes account for good, in a child. */
static void become(const char *account)
{
  uid_t uid = ta_uid(account);
  struct passwd pwbuf;
  struct passwd *pw = NULL;
  char buf[4096];

  if (getpwuid_r(uid, &pwbuf, buf, sizeof(buf), &pw) != 0 || pw == NULL ||
      setgroups(0, NULL) != 0 ||
      setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
      setresuid(uid, uid, uid) != 0)
    _exit(120);
}

/*
 * Runs `dhis2-auth status --profile P` as account, with its own home and a
 * configuration of its own naming backend; its output in out. Returns the
 * exit code. Through sh: valgrind-check traces what the test runs, and its
 * log directory is root's; dhis2-auth is not what is under test here.
 */
static int status_as(const char *account, const char *backend, char *out,
                     size_t len)
{
  char cfg[600];
  char path[700];
  char auth[600];
  const char *src = getenv("DHIS2_SRCDIR");
  uid_t uid = ta_uid(account);
  struct passwd pwbuf;
  struct passwd *pw = NULL;
  char buf[4096];
  size_t got = 0;
  int fds[2];
  int status = 0;
  pid_t pid;
  FILE *f;

  cr_assert_eq(getpwuid_r(uid, &pwbuf, buf, sizeof(buf), &pw), 0);
  cr_assert_not_null(pw);
  snprintf(auth, sizeof(auth), "%s/build/dhis2-auth",
           src != NULL && src[0] != '\0' ? src : ".");
  cr_assert_eq(access(auth, X_OK), 0, "%s: build it (make all)", auth);
  snprintf(cfg, sizeof(cfg), "%s/cfg-%s", pt_dir(pt), account);
  snprintf(path, sizeof(path), "%s/dhis2-auth", cfg);
  cr_assert(mkdir(cfg, 0700) == 0 || errno == EEXIST);
  cr_assert(mkdir(path, 0700) == 0 || errno == EEXIST);
  snprintf(path, sizeof(path), "%s/dhis2-auth/config", cfg);
  f = fopen(path, "w");
  cr_assert_not_null(f);
  fprintf(f, "url = %s\ntoken_store = %s\n[%s]\n", emu_url(emu), backend,
          profile);
  fclose(f);
  cr_assert_eq(chmod(path, 0600), 0);
  cr_assert_eq(chown(path, uid, pw->pw_gid), 0);
  snprintf(path, sizeof(path), "%s/dhis2-auth", cfg);
  cr_assert_eq(chown(path, uid, pw->pw_gid), 0);
  cr_assert_eq(chown(cfg, uid, pw->pw_gid), 0);
  cr_assert_eq(pipe(fds), 0);
  pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    close(fds[1]);
    become(account);
    setenv("HOME", pw->pw_dir, 1);
    setenv("XDG_CONFIG_HOME", cfg, 1);
    unsetenv("XDG_STATE_HOME");
    execl("/bin/sh", "sh", "-c", "exec \"$0\" status --profile \"$1\"", auth,
          profile, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  for (;;) {
    ssize_t n = read(fds[0], out + got, len - 1 - got);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0 || got + (size_t)n >= len - 1) {
      got += n > 0 ? (size_t)n : 0;
      break;
    }
    got += (size_t)n;
  }
  out[got] = '\0';
  close(fds[0]);
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status));
  return WEXITSTATUS(status);
}

/* Asserts no record of this profile for account in the file store. */
static void assert_nothing_kept(const char *account)
{
  char path[700];

  record_path(account, path, sizeof(path));
  cr_assert_eq(access(path, F_OK), -1, "%s was written", path);
  cr_assert_null(strstr(pt_logged(), "tokens kept"), "%s", pt_logged());
}

/* --- approved: signed in, the tokens kept -------------------------------- */

Test(device, approved_on_the_phone_signs_in_and_keeps_the_tokens_in_a_file)
{
  struct phone ph = {.act_at = 1, .action = "approve", .as = "alice"};
  char extra[600];
  char path[700];
  char dir[700];
  char want[200];
  char out[4096];
  struct stat st;
  struct pt_run r;
  struct json_object *rec;
  struct json_object *v;

  /* The account phase would ask DHIS2 with the (missing) service PAT
     unless the sign-in said it was just checked. */
  snprintf(extra, sizeof(extra),
           "token_store=file account_check=lookup lookup_pat_file=%s/none",
           pt_dir(pt));
  service(extra);
  pt_run_hook(pt, TA_USER, enters, phone_hook, &ph, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS, "%s", pt_logged());
  cr_assert_eq(r.acct, PAM_SUCCESS, "%s", pt_logged());
  cr_assert_eq(r.session, PAM_SUCCESS);
  cr_assert_eq(r.n_prompts, 1, "%s", r.prompts);
  cr_assert_eq(r.n_echo_on, 1);
  cr_assert_not_null(
      strstr(r.prompts, "Sign in to DHIS2 on another device: open"));
  snprintf(want, sizeof(want), "%s/realms/dhis2/device", emu_idp_url(emu));
  cr_assert_not_null(strstr(r.prompts, want), "%s", r.prompts);
  snprintf(want, sizeof(want), "and enter the code  %s\n", ph.code);
  cr_assert_not_null(strstr(r.prompts, want), "%s", r.prompts);
  cr_assert_not_null(strstr(r.prompts, "or scan this QR code:"));
  cr_assert_geq(qr_rows(r.prompts), 11, "%s", r.prompts);
  cr_assert_not_null(strstr(r.prompts, "The code is valid for 0:30. Press "
                                       "Enter once you have approved the "
                                       "sign-in: "),
                     "%s", r.prompts);
  cr_assert_str_eq(r.env_username, "alice");
  cr_assert_eq(emu_count(emu, "/api/users"), 0, "the account phase asked");
  snprintf(want, sizeof(want), "tokens kept for dhis2-auth (profile %s) in",
           profile);
  cr_assert_not_null(strstr(pt_logged(), want), "%s", pt_logged());
  /* The user's own file, as dhis2-auth would have written it. */
  record_path(TA_USER, path, sizeof(path));
  cr_assert_eq(lstat(path, &st), 0, "%s: %s", path, strerror(errno));
  cr_assert(S_ISREG(st.st_mode));
  cr_assert_eq(st.st_uid, ta_uid(TA_USER), "owned by uid %u",
               (unsigned)st.st_uid);
  cr_assert_eq(st.st_mode & 07777, 0600);
  snprintf(dir, sizeof(dir), "%s/.local/state/dhis2-auth", ta_home(TA_USER));
  cr_assert_eq(lstat(dir, &st), 0);
  cr_assert_eq(st.st_uid, ta_uid(TA_USER));
  cr_assert_eq(st.st_mode & 07777, 0700);
  rec = json_object_from_file(path);
  cr_assert_not_null(rec);
  cr_assert(json_object_object_get_ex(rec, "access_token", &v));
  cr_assert_null(strstr(pt_logged(), json_object_get_string(v)),
                 "the access token was logged");
  cr_assert(json_object_object_get_ex(rec, "username", &v));
  cr_assert_str_eq(json_object_get_string(v), "alice");
  json_object_put(rec);
  /* dhis2-auth, run by the user, finds them. */
  cr_assert_eq(status_as(TA_USER, "file", out, sizeof(out)), 0, "%s", out);
  snprintf(want, sizeof(want), "as alice (profile %s)", profile);
  cr_assert_not_null(strstr(out, want), "%s", out);
  pt_run_clear(&r);
}

/* Removes the key of this profile from account's persistent keyring, as
   the user's own dhis2-auth logout would; true when it is gone. */
static bool delete_key(const char *account)
{
  char dir[700];
  pid_t pid;
  int status = 0;

  snprintf(dir, sizeof(dir), "%s/.local/state/dhis2-auth", ta_home(account));
  pid = fork();
  if (pid < 0)
    return false;
  if (pid == 0) {
    struct dhis2_store_opts o = {
        .backend = DHIS2_STORE_KEYRING, .uid = ta_uid(account), .dir = dir};
    char err[512];

    become(account);
    _exit(dhis2_store_delete(&o, profile, err, sizeof(err)) == DHIS2_OK ? 0
                                                                        : 4);
  }
  return waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
         WEXITSTATUS(status) == 0;
}

Test(device, approved_as_root_keeps_the_tokens_in_the_users_keyring)
{
  struct phone ph = {.act_at = 1, .action = "approve", .as = "alice"};
  struct dhis2_store_opts o = {.backend = DHIS2_STORE_KEYRING,
                               .uid = ta_uid(TA_USER),
                               .home = ta_home(TA_USER)};
  struct dhis2_token_record *rec = NULL;
  struct dhis2_store_where w = {0};
  char err[512] = "";
  char path[700];
  char out[4096];
  struct pt_run r;

  if (geteuid() != 0)
    cr_skip_test("the module keeps tokens for another uid only as root");
  if (dhis2_store_keyring_probe(ta_uid(TA_USER), err, sizeof(err)) != DHIS2_OK)
    cr_skip_test("no persistent keyring here: %s", err);
  service("token_store=keyring");
  used_keyring = true;
  pt_run_hook(pt, TA_USER, enters, phone_hook, &ph, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS, "%s", pt_logged());
  cr_assert_eq(r.session, PAM_SUCCESS);
  cr_assert_not_null(strstr(pt_logged(), "tokens kept for dhis2-auth"), "%s",
                     pt_logged());
  record_path(TA_USER, path, sizeof(path));
  cr_assert_eq(access(path, F_OK), -1, "a file was written too");
  /* The store refuses a key in that keyring that the uid does not own. */
  cr_assert_eq(dhis2_store_load(&o, profile, &rec, &w, err, sizeof(err)),
               DHIS2_OK, "%s", err);
  cr_assert_not_null(rec, "no key for uid %u", (unsigned)o.uid);
  cr_assert_eq(w.backend, DHIS2_STORE_KEYRING);
  cr_assert_str_eq(rec->username, "alice");
  dhis2_token_record_free(rec);
  cr_assert_eq(status_as(TA_USER, "keyring", out, sizeof(out)), 0, "%s", out);
  cr_assert_not_null(strstr(out, "as alice"), "%s", out);
  cr_assert_not_null(strstr(out, "keyring"), "%s", out);
  cr_assert(delete_key(TA_USER));
  cr_assert_eq(status_as(TA_USER, "keyring", out, sizeof(out)), 1, "%s", out);
  pt_run_clear(&r);
}

Test(device, store_tokens_no_signs_in_and_keeps_nothing)
{
  struct phone ph = {.act_at = 1, .action = "approve", .as = "alice"};
  char out[4096];
  struct pt_run r;

  service("token_store=file store_tokens=no");
  pt_run_hook(pt, TA_USER, enters, phone_hook, &ph, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS, "%s", pt_logged());
  cr_assert_eq(r.session, PAM_SUCCESS);
  cr_assert_str_eq(r.env_username, "alice");
  assert_nothing_kept(TA_USER);
  cr_assert_null(strstr(pt_logged(), "could not be kept"));
  cr_assert_eq(status_as(TA_USER, "file", out, sizeof(out)), 1, "%s", out);
  pt_run_clear(&r);
}

Test(device, a_kiosk_sign_in_keeps_no_tokens_in_the_shared_account)
{
  struct phone ph = {.act_at = 1, .action = "approve", .as = "alice"};
  struct pt_run r;

  pt_write_map(pt, "* " TA_KIOSK "\n");
  service("token_store=file");
  pt_run_hook(pt, "alice", enters, phone_hook, &ph, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS, "%s", pt_logged());
  cr_assert_str_eq(r.user, TA_KIOSK);
  cr_assert_str_eq(r.env_username, "alice");
  assert_nothing_kept(TA_KIOSK);
  /* Not even tried: the typed name has no home here, the kiosk's is
     shared. */
  cr_assert_null(strstr(pt_logged(), "could not be kept"));
  cr_assert_null(strstr(pt_logged(), "to keep the tokens"), "%s", pt_logged());
  pt_run_clear(&r);
}

/* --- not approved -------------------------------------------------------- */

Test(device, denied_on_the_phone_is_refused_with_the_reason)
{
  struct phone ph = {.act_at = 1, .action = "deny"};
  struct pt_run r;

  service("token_store=file");
  pt_run_hook(pt, TA_USER, enters, phone_hook, &ph, &r);
  cr_assert_eq(r.auth, PAM_AUTH_ERR, "%s", pt_logged());
  cr_assert_eq(r.n_prompts, 1);
  cr_assert_not_null(r.messages);
  cr_assert_not_null(
      strstr(r.messages, "The sign-in was denied at the identity provider."),
      "%s", r.messages);
  cr_assert_eq(emu_count(emu, "/api/me"), 0);
  cr_assert_eq(device_polls(), 1);
  assert_nothing_kept(TA_USER);
  pt_run_clear(&r);
}

Test(device, a_code_the_provider_expired_is_refused_with_the_reason)
{
  struct phone ph = {.think_s = 1.5};
  struct pt_run r;

  /* The provider says 30 s and lets the code die after 1 s, before the
     user comes back to press Enter. */
  cr_assert_eq(emu_ctl(emu, "POST", "/oauth2",
                       "{\"device_expires_in\":1,"
                       "\"device_expires_in_said\":30}",
                       NULL),
               200);
  service("token_store=file");
  pt_run_hook(pt, TA_USER, enters, phone_hook, &ph, &r);
  cr_assert_eq(r.auth, PAM_AUTH_ERR, "%s", pt_logged());
  cr_assert_eq(r.n_prompts, 1);
  cr_assert_not_null(r.messages);
  cr_assert_not_null(strstr(r.messages, "The code expired before it was "
                                        "approved"),
                     "%s", r.messages);
  assert_nothing_kept(TA_USER);
  pt_run_clear(&r);
}

/* Enter at every prompt, nothing approved: refused "not approved in
   time" within about limit seconds of the first prompt, after at least
   asked prompts. No prompt asks for an Enter that can no longer help.
   With expiry (the limit is the code's own life), a last poll that
   reaches the provider just as the code dies is told "expired_token",
   and the user reads that instead: as true. */
static void assert_waits_at_most(long limit, int asked, bool expiry)
{
  struct phone ph = {0};
  char want[64];
  double t0 = tu_now();
  struct pt_run r;

  pt_run_hook(pt, TA_USER, enters, phone_hook, &ph, &r);
  cr_assert_eq(r.auth, PAM_AUTH_ERR, "%s", pt_logged());
  snprintf(want, sizeof(want), "The code is valid for 0:%02ld.", limit);
  cr_assert_not_null(strstr(r.prompts, want), "%s", r.prompts);
  cr_assert_geq(r.n_prompts, asked, "%s", r.prompts);
  cr_assert_null(strstr(r.prompts, " 0:00 left)"), "%s", r.prompts);
  cr_assert_null(strstr(r.prompts, ":-"), "%s", r.prompts);
  cr_assert_not_null(r.messages);
  cr_assert(strstr(r.messages, "The code was not approved in time") != NULL ||
                (expiry && strstr(r.messages, "The code expired before it "
                                              "was approved") != NULL),
            "%s", r.messages);
  cr_assert_leq(tu_now() - t0, (double)limit + 1.5);
  cr_assert_geq(device_polls(), 1);
  cr_assert_leq(device_polls(), limit);
  assert_nothing_kept(TA_USER);
  pt_run_clear(&r);
}

Test(device, a_short_lived_code_ends_the_wait_when_it_expires)
{
  cr_assert_eq(
      emu_ctl(emu, "POST", "/oauth2", "{\"device_expires_in\":2}", NULL), 200);
  service("token_store=file");
  assert_waits_at_most(2, 1, true);
}

Test(device, device_timeout_ends_the_wait)
{
  service("token_store=file device_timeout=3");
  assert_waits_at_most(3, 2, false);
  cr_assert_not_null(strstr(pt_logged(), "device code shown"));
}

/* --- polling ------------------------------------------------------------- */

Test(device, slow_down_adds_five_seconds_before_the_next_poll)
{
  struct phone ph = {.act_at = 1, .action = "approve", .as = "alice"};
  double took;
  struct pt_run r;

  /* Approved before the first poll, which is told to slow down: the
     next one comes 1 + 5 s after it. */
  cr_assert_eq(emu_ctl(emu, "POST", "/oauth2",
                       "{\"device_slow_down\":1,\"device_expires_in\":20}",
                       NULL),
               200);
  service("token_store=file");
  pt_run_hook(pt, TA_USER, enters, phone_hook, &ph, &r);
  took = tu_now() - ph.answered;
  cr_assert_eq(r.auth, PAM_SUCCESS, "%s", pt_logged());
  cr_assert_eq(r.n_prompts, 1, "slow_down asked the user again");
  cr_assert_geq(took, 6.0, "signed in %.2f s after Enter", took);
  cr_assert_lt(took, 9.0, "signed in %.2f s after Enter", took);
  cr_assert_eq(device_polls(), 2);
  pt_run_clear(&r);
}

Test(device, pending_asks_again_and_signs_in_once_approved)
{
  struct phone ph = {.act_at = 2, .action = "approve", .as = "alice"};
  char want[128];
  struct pt_run r;

  service("token_store=file");
  pt_run_hook(pt, TA_USER, enters, phone_hook, &ph, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS, "%s", pt_logged());
  cr_assert_eq(r.n_prompts, 2, "%s", r.prompts);
  cr_assert_eq(r.n_echo_on, 2);
  snprintf(want, sizeof(want), "\nNot approved yet (code %s, 0:", ph.code);
  cr_assert_not_null(strstr(r.prompts, want), "%s", r.prompts);
  cr_assert_not_null(strstr(r.prompts, " left). Press Enter once you have "
                                       "approved the sign-in: "));
  cr_assert_eq(device_polls(), 2);
  cr_assert_str_eq(r.env_username, "alice");
  pt_run_clear(&r);
}

Test(device, a_conversation_that_ends_stops_the_polling)
{
  struct phone ph = {.hang_up_at = 2};
  struct pt_run r;
  long polls;

  service("token_store=file");
  pt_run_hook(pt, TA_USER, enters, phone_hook, &ph, &r);
  cr_assert_eq(r.auth, PAM_CONV_ERR, "%s", pt_logged());
  cr_assert_eq(r.n_prompts, 2);
  polls = device_polls();
  cr_assert_eq(polls, 1);
  /* Longer than the interval: nothing polls on behind the user's back. */
  sleep(2);
  cr_assert_eq(device_polls(), polls);
  cr_assert_not_null(strstr(pt_logged(), "the conversation ended"), "%s",
                     pt_logged());
  assert_nothing_kept(TA_USER);
  pt_run_clear(&r);
}

/* --- approved, and still refused ----------------------------------------- */

Test(device, approved_for_another_dhis2_user_is_refused)
{
  struct phone ph = {.act_at = 1, .action = "approve", .as = "bob"};
  struct pt_run r;

  /* DHIS2 finds bob (no e-mail) by his username claim. */
  cr_assert_eq(emu_ctl(emu, "POST", "/oauth2",
                       "{\"idp_mapping_claim\":\"username\"}", NULL),
               200);
  service("token_store=file");
  pt_run_hook(pt, TA_USER, enters, phone_hook, &ph, &r);
  cr_assert_eq(r.auth, PAM_AUTH_ERR, "%s", pt_logged());
  cr_assert_not_null(r.messages);
  cr_assert_not_null(
      strstr(r.messages, "That sign-in was for DHIS2 user bob, not alice."),
      "%s", r.messages);
  cr_assert_not_null(strstr(pt_logged(), "answered for user bob, not alice"),
                     "%s", pt_logged());
  cr_assert_eq(emu_count(emu, "/api/me"), 1);
  assert_nothing_kept(TA_USER);
  pt_run_clear(&r);
}

Test(device, a_user_outside_require_group_is_denied_and_keeps_nothing)
{
  struct phone ph = {.act_at = 1, .action = "approve", .as = "alice"};
  struct pt_run r;

  service("token_store=file require_group=DataMgrsGrp");
  pt_run_hook(pt, TA_USER, enters, phone_hook, &ph, &r);
  cr_assert_eq(r.auth, PAM_PERM_DENIED, "%s", pt_logged());
  cr_assert_not_null(r.messages);
  cr_assert_not_null(strstr(r.messages, "Access denied: DHIS2 user alice"),
                     "%s", r.messages);
  cr_assert_null(r.env_username);
  assert_nothing_kept(TA_USER);
  pt_run_clear(&r);
}

/* Occurrences of needle in haystack. */
static int count_in(const char *haystack, const char *needle)
{
  int n = 0;

  for (const char *p = haystack; (p = strstr(p, needle)) != NULL; p++)
    n++;
  return n;
}

/* The IdP's tokens spoilt in one way at a time (the emulator's bad_token):
   each time the id_token is refused before DHIS2 is asked, and nothing is
   kept. One test, so that the valgrind tier starts one emulator for the
   four. */
Test(device, an_id_token_that_fails_any_check_is_refused)
{
  static const char *const how[] = {"signature", "iss", "aud", "expired"};

  service("token_store=file");
  for (int i = 0; i < 4; i++) {
    struct phone ph = {.act_at = 1, .action = "approve", .as = "alice"};
    char body[64];
    struct pt_run r;

    snprintf(body, sizeof(body), "{\"bad_token\":\"%s\"}", how[i]);
    cr_assert_eq(emu_ctl(emu, "POST", "/oauth2", body, NULL), 200);
    pt_run_hook(pt, TA_USER, enters, phone_hook, &ph, &r);
    cr_assert_eq(r.auth, PAM_AUTH_ERR, "%s: %s", how[i], pt_logged());
    cr_assert_not_null(r.messages, "%s", how[i]);
    cr_assert_not_null(
        strstr(r.messages, "The identity provider's answer is not valid."),
        "%s: %s", how[i], r.messages);
    cr_assert_eq(count_in(pt_logged(), "the id_token is not valid"), i + 1,
                 "%s: %s", how[i], pt_logged());
    cr_assert_eq(emu_count(emu, "/api/me"), 0, "%s", how[i]);
    assert_nothing_kept(TA_USER);
    pt_run_clear(&r);
  }
}

Test(device, an_idp_user_dhis2_does_not_know_is_refused)
{
  struct phone ph = {.act_at = 1, .action = "approve", .as = "alice"};
  struct pt_run r;

  /* Without oidc.jwt.token.authentication.enabled DHIS2 takes no IdP
     token at all. */
  cr_assert_eq(emu_ctl(emu, "POST", "/oauth2", "{\"jwt_bearer\":false}", NULL),
               200);
  service("token_store=file");
  pt_run_hook(pt, TA_USER, enters, phone_hook, &ph, &r);
  cr_assert_eq(r.auth, PAM_AUTH_ERR, "%s", pt_logged());
  cr_assert_not_null(r.messages);
  cr_assert_not_null(strstr(r.messages, "DHIS2 does not accept this sign-in"),
                     "%s", r.messages);
  cr_assert_eq(emu_count(emu, "/api/me"), 1);
  assert_nothing_kept(TA_USER);
  pt_run_clear(&r);
}

Test(device, an_unreachable_idp_falls_through_without_a_prompt)
{
  struct pt_run r;

  pt_service_raw(pt, "auth required @MOD@ @ARGS@ methods=device "
                     "oauth2=oidc issuer=https://127.0.0.1:1/realms/dhis2 "
                     "client_id=dhis2-auth scope=openid\n");
  pt_run(pt, TA_USER, enters, &r);
  cr_assert_eq(r.auth, PAM_AUTHINFO_UNAVAIL, "%s", pt_logged());
  cr_assert_eq(r.n_prompts, 0);
  cr_assert_not_null(strstr(pt_logged(), "device sign-in not offered: "), "%s",
                     pt_logged());
  pt_run_clear(&r);
}

/* --- not offered --------------------------------------------------------- */

/* How often needle occurs in hay. */
static int occurrences(const char *hay, const char *needle)
{
  int n = 0;

  for (const char *p = strstr(hay, needle); p != NULL;
       p = strstr(p + 1, needle))
    n++;
  return n;
}

Test(device, with_dhis2s_own_oauth2_device_is_not_offered)
{
  struct pt_run r;

  pt_service_raw(pt, "auth required @MOD@ @ARGS@ methods=device "
                     "oauth2=dhis2 client_id=dhis2-auth\n");
  pt_run(pt, TA_USER, enters, &r);
  cr_assert_eq(r.auth, PAM_AUTHINFO_UNAVAIL, "%s", pt_logged());
  cr_assert_eq(r.n_prompts, 0);
  cr_assert_eq(occurrences(pt_logged(), "methods: device needs oauth2 = oidc"),
               1, "%s", pt_logged());
  cr_assert_eq(emu_count(emu, NULL), 0);
  cr_assert_eq(idp_count("/", NULL), 0);
  pt_run_clear(&r);
}

Test(device, an_idp_without_the_device_endpoint_is_not_offered)
{
  struct pt_run r;

  cr_assert_eq(emu_ctl(emu, "POST", "/oauth2", "{\"idp_device\":false}", NULL),
               200);
  service("token_store=file");
  pt_run(pt, TA_USER, enters, &r);
  cr_assert_eq(r.auth, PAM_AUTHINFO_UNAVAIL, "%s", pt_logged());
  cr_assert_eq(r.n_prompts, 0);
  cr_assert_not_null(strstr(pt_logged(), "device sign-in not offered: "), "%s",
                     pt_logged());
  cr_assert_not_null(
      strstr(pt_logged(), "offers no device_authorization_endpoint"));
  cr_assert_eq(device_starts(), 0);
  cr_assert_eq(emu_count(emu, NULL), 0);
  pt_run_clear(&r);
}

/* --- beside a password --------------------------------------------------- */

#define MIXED_PROMPT "Password, or press Enter for a code on another device: "

Test(device, enter_at_the_password_prompt_starts_the_device_flow)
{
  struct phone ph = {.act_at = 2, .action = "approve", .as = "alice"};
  struct pt_run r;

  service("token_store=file methods=password,pat,device");
  pt_run_hook(pt, TA_USER, enters, phone_hook, &ph, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS, "%s", pt_logged());
  cr_assert_eq(r.n_prompts, 2, "%s", r.prompts);
  cr_assert_eq(r.n_echo_on, 1, "the password prompt echoed");
  cr_assert_eq(strncmp(r.prompts, MIXED_PROMPT "\n", strlen(MIXED_PROMPT) + 1),
               0, "%s", r.prompts);
  cr_assert_not_null(strstr(r.prompts, "Sign in to DHIS2 on another device"));
  cr_assert_not_null(strstr(pt_logged(), "method=device: success"), "%s",
                     pt_logged());
  cr_assert_eq(emu_count(emu, "/api/auth/login"), 0);
  pt_run_clear(&r);
}

Test(device, a_typed_password_signs_in_without_a_code)
{
  const char *answers[] = {tu_fixture_string("alice", "password"), NULL};
  struct pt_run r;

  service("token_store=file methods=password,pat,device");
  pt_run(pt, TA_USER, answers, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS, "%s", pt_logged());
  cr_assert_eq(r.n_prompts, 1);
  cr_assert_eq(r.n_echo_on, 0);
  cr_assert_str_eq(r.prompts, MIXED_PROMPT);
  cr_assert_not_null(strstr(pt_logged(), "method=password: success"), "%s",
                     pt_logged());
  cr_assert_eq(device_starts(), 0);
  assert_nothing_kept(TA_USER);
  pt_run_clear(&r);
}

/* --- waiting sign-ins of one name ---------------------------------------- */

/* Takes device slot i of DHIS2 name (lower-cased) as another waiting
   sign-in would: the descriptor holding the lock. */
static int hold_slot(const char *name, int i)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  char hex[65];
  char path[700];
  int fd;

  cr_assert_eq(EVP_Digest(name, strlen(name), md, &mdlen, EVP_sha256(), NULL),
               1);
  for (unsigned k = 0; k < 32; k++)
    snprintf(hex + 2 * k, 3, "%02x", md[k]);
  snprintf(path, sizeof(path), "%s/state", pt_dir(pt));
  cr_assert(mkdir(path, 0700) == 0 || errno == EEXIST);
  snprintf(path, sizeof(path), "%s/state/device", pt_dir(pt));
  cr_assert(mkdir(path, 0700) == 0 || errno == EEXIST);
  snprintf(path, sizeof(path), "%s/state/device/%s.%d", pt_dir(pt), hex, i);
  fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
  cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
  return fd;
}

Test(device, two_waiting_sign_ins_of_a_name_hold_back_a_third)
{
  struct phone ph = {.act_at = 1, .action = "approve", .as = "alice"};
  int a = hold_slot("alice", 0);
  int b = hold_slot("alice", 1);
  struct pt_run r;

  service("token_store=file");
  pt_run(pt, TA_USER, enters, &r);
  cr_assert_eq(r.auth, PAM_MAXTRIES, "%s", pt_logged());
  cr_assert_eq(r.n_prompts, 0);
  cr_assert_not_null(r.messages);
  cr_assert_not_null(strstr(r.messages, "Other sign-ins of alice on another "
                                        "device are still waiting"),
                     "%s", r.messages);
  cr_assert_eq(device_starts(), 0);
  pt_run_clear(&r);
  /* One of them ends: there is room again. */
  close(b);
  pt_run_hook(pt, TA_USER, enters, phone_hook, &ph, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS, "%s", pt_logged());
  cr_assert_eq(device_starts(), 1);
  close(a);
  pt_run_clear(&r);
}

/* --- the user's paths, written only with the user's rights --------------- */

/*
 * account's path below its home (".local/state" or
 * ".local/state/dhis2-auth") is a symlink to a root-owned 0755 directory:
 * the sign-in stands, the tokens are not kept, nothing lands there.
 */
static void assert_symlink_not_followed_as_root(const char *account,
                                                const char *below, int nth)
{
  struct phone ph = {.act_at = 1, .action = "approve", .as = "alice"};
  uid_t uid = ta_uid(account);
  char target[600];
  char link[700];
  char map[200];
  struct pt_run r;
  int entries = 0;
  DIR *d;

  snprintf(target, sizeof(target), "%s/roots-%s", pt_dir(pt), account);
  cr_assert_eq(mkdir(target, 0755), 0);
  snprintf(link, sizeof(link), "%s/.local", ta_home(account));
  cr_assert(mkdir(link, 0700) == 0 || errno == EEXIST);
  cr_assert_eq(chown(link, uid, gid_of(account)), 0);
  if (strcmp(below, ".local/state/dhis2-auth") == 0) {
    snprintf(link, sizeof(link), "%s/.local/state", ta_home(account));
    cr_assert(mkdir(link, 0700) == 0 || errno == EEXIST);
    cr_assert_eq(chown(link, uid, gid_of(account)), 0);
  }
  snprintf(link, sizeof(link), "%s/%s", ta_home(account), below);
  cr_assert_eq(symlink(target, link), 0, "%s: %s", link, strerror(errno));
  snprintf(map, sizeof(map), "alice %s\n", account);
  pt_write_map(pt, map);
  service("token_store=file");
  pt_run_hook(pt, account, enters, phone_hook, &ph, &r);
  unlink(link);
  cr_assert_eq(r.auth, PAM_SUCCESS, "%s", pt_logged());
  cr_assert_eq(r.session, PAM_SUCCESS);
  cr_assert_eq(count_in(pt_logged(), "the tokens could not be kept: "), nth,
               "%s", pt_logged());
  d = opendir(target);
  cr_assert_not_null(d);
  for (struct dirent *e = readdir(d); e != NULL; e = readdir(d))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      entries++;
  closedir(d);
  cr_assert_eq(entries, 0, "something was written in root's directory");
  pt_run_clear(&r);
}

Test(device, a_symlinked_state_or_store_dir_is_not_written_as_root)
{
  assert_symlink_not_followed_as_root(TA_SAME, ".local/state", 1);
  assert_symlink_not_followed_as_root(TA_JOHN, ".local/state/dhis2-auth", 2);
}
