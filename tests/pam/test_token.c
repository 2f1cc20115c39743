/* The token method through the real libpam: a dhis2-auth token stored for
   the local user is checked with DHIS2 (/api/me) or against the server's
   keys, without a prompt; every token that cannot be used falls through
   with PAM_AUTHINFO_UNAVAIL. */
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>
#include <security/pam_appl.h>

#include "dhis2/store.h"
#include "accounts.h"
#include "emulator.h"
#include "pamtest.h"
#include "testutil.h"

static struct emu *emu;
static struct pt *pt;
static char me[256]; /* the local account of this test process */

/* A record for the local account: the file store of this process's own
   uid, kept under the test's directory through XDG_STATE_HOME. */
static void start(void)
{
  struct passwd pwbuf;
  struct passwd *pw = NULL;
  char buf[4096];
  char xdg[400];
  char map[400];

  getpwuid_r(geteuid(), &pwbuf, buf, sizeof(buf), &pw);
  cr_assert_not_null(pw);
  snprintf(me, sizeof(me), "%s", pw->pw_name);
  emu = emu_start("2.42", true);
  pt = pt_new(emu);
  snprintf(xdg, sizeof(xdg), "%s/xdg", pt_dir(pt));
  cr_assert_eq(mkdir(xdg, 0700), 0);
  setenv("XDG_STATE_HOME", xdg, 1);
  snprintf(map, sizeof(map), "alice %s\n", me);
  pt_write_map(pt, map);
  /* DHIS2 2.42 takes its own JWTs on /api only with this on. */
  cr_assert_eq(emu_ctl(emu, "POST", "/oauth2", "{\"jwt_bearer\":true}", NULL),
               200);
}

static void stop(void)
{
  pt_free(pt);
  pt = NULL;
  emu_stop(emu);
  emu = NULL;
}

TestSuite(token, .init = start, .fini = stop, .timeout = 60);

/* An access token from the emulator's authorization server for user;
   body_extra adds members to the mint request (e.g. "\"exp_in\":-600").
   Sets *exp to its expiry when exp is not NULL. */
static char *mint(const char *user, const char *body_extra, time_t *exp)
{
  char body[512];
  char *reply = NULL;
  struct json_object *j;
  struct json_object *v;
  char *token;

  snprintf(body, sizeof(body), "{\"username\":\"%s\"%s%s}", user,
           body_extra ? "," : "", body_extra ? body_extra : "");
  cr_assert_eq(emu_ctl(emu, "POST", "/oauth2/mint", body, &reply), 200, "%s",
               reply ? reply : "");
  j = json_tokener_parse(reply);
  cr_assert_not_null(j);
  cr_assert(json_object_object_get_ex(j, "access_token", &v));
  token = strdup(json_object_get_string(v));
  if (exp != NULL) {
    cr_assert(json_object_object_get_ex(j, "expires_at", &v));
    *exp = (time_t)json_object_get_int64(v);
  }
  json_object_put(j);
  free(reply);
  return token;
}

/* Stores a record for uid (forking to that uid when it is not ours, as
   dhis2-auth run by that user would) in backend, with the store's lock
   files in dir (NULL: the default). */
static void plant_as(uid_t uid, enum dhis2_token_store backend,
                     const char *dir, const char *url, const char *username,
                     const char *token, time_t expires_at)
{
  struct dhis2_token_record rec = {
      .url = (char *)url,
      .username = (char *)username,
      .access_token = (char *)token,
      .expires_at = expires_at,
      .obtained_at = time(NULL),
  };
  struct dhis2_store_opts o = {.backend = backend, .uid = uid, .dir = dir};
  char err[512] = "";
  pid_t pid;
  int status = 0;

  if (uid == geteuid()) {
    cr_assert_eq(dhis2_store_save(&o, "default", &rec, 0, err, sizeof(err)),
                 DHIS2_OK, "%s", err);
    return;
  }
  pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    struct passwd pwbuf;
    struct passwd *pw = NULL;
    char buf[4096];

    getpwuid_r(uid, &pwbuf, buf, sizeof(buf), &pw);
    if (pw == NULL || setgroups(0, NULL) != 0 ||
        setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
        setresuid(uid, uid, uid) != 0)
      _exit(3);
    _exit(dhis2_store_save(&o, "default", &rec, 0, err, sizeof(err)) ==
                  DHIS2_OK
              ? 0
              : 4);
  }
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
            "planting as uid %u failed", (unsigned)uid);
}

/* The usual record: alice's token in this process's own file store. */
static void plant(const char *username, const char *token, time_t exp)
{
  plant_as(geteuid(), DHIS2_STORE_FILE, NULL, emu_url(emu), username, token,
           exp);
}

/* The token service: a methods=token line and its account line. */
static void service(const char *extra)
{
  char raw[10240];

  snprintf(raw, sizeof(raw),
           "auth     required @MOD@ @ARGS@ methods=token token_store=file "
           "client_id=dhis2-auth debug %s\n"
           "account  required @MOD@ @ARGS@ %s\n"
           "session  required @MOD@ @ARGS@\n",
           extra ? extra : "", extra ? extra : "");
  pt_service_raw(pt, raw);
}

/* Runs the token service for the local user and asserts it fell through:
   PAM_AUTHINFO_UNAVAIL, no prompt, and why in the debug log. */
static void assert_unavailable(const char *why)
{
  struct pt_run r;

  pt_run(pt, me, NULL, &r);
  cr_assert_eq(r.auth, PAM_AUTHINFO_UNAVAIL, "auth %d: %s", r.auth,
               pt_logged());
  cr_assert_eq(r.n_prompts, 0);
  cr_assert_not_null(strstr(pt_logged(), why), "no '%s' in the log:\n%s", why,
                     pt_logged());
  pt_run_clear(&r);
}

/* --- api ----------------------------------------------------------------- */

Test(token, api_valid_token_logs_in_without_a_prompt)
{
  time_t exp;
  char *t = mint("alice", NULL, &exp);
  struct pt_run r;

  plant("alice", t, exp);
  service("token_validation=api require_group=LinuxAdmGrp");
  emu_reset(emu);
  cr_assert_eq(emu_ctl(emu, "POST", "/oauth2", "{\"jwt_bearer\":true}", NULL),
               200);
  pt_run(pt, me, NULL, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS, "%s", pt_logged());
  cr_assert_eq(r.acct, PAM_SUCCESS);
  cr_assert_eq(r.n_prompts, 0);
  cr_assert_null(r.messages);
  cr_assert_str_eq(r.env_username, "alice");
  cr_assert_not_null(r.env_user_id, "/api/me gave the id");
  cr_assert_eq(emu_count(emu, "/api/me"), 1);
  cr_assert_eq(emu_count(emu, NULL), 1);
  cr_assert_null(strstr(pt_logged(), t), "the token was logged");
  cr_assert_not_null(strstr(pt_logged(), "method=token: success"));
  pt_run_clear(&r);
  free(t);
}

Test(token, the_record_is_never_rewritten)
{
  time_t exp;
  char *t = mint("alice", NULL, &exp);
  char path[600];
  struct stat before;
  struct stat after;

  plant("alice", t, exp);
  snprintf(path, sizeof(path), "%s/xdg/dhis2-auth/default.json", pt_dir(pt));
  cr_assert_eq(stat(path, &before), 0);
  sleep(1);
  service("token_validation=api");
  cr_assert_eq(pt_auth(pt, me, NULL), PAM_SUCCESS, "%s", pt_logged());
  cr_assert_eq(stat(path, &after), 0);
  cr_assert_eq(before.st_ino, after.st_ino);
  cr_assert_eq(before.st_mtime, after.st_mtime);
  free(t);
}

Test(token, no_stored_token_falls_through)
{
  service("token_validation=api");
  assert_unavailable("no token stored for profile default");
  cr_assert_eq(emu_count(emu, NULL), 0);
}

Test(token, a_record_past_its_expiry_is_not_sent)
{
  char *t = mint("alice", NULL, NULL);

  plant("alice", t, time(NULL) - 30);
  service("token_validation=api");
  assert_unavailable("the stored token expired");
  cr_assert_eq(emu_count(emu, NULL), 0);
  free(t);
}

Test(token, api_expired_token_is_refused_by_dhis2)
{
  /* The record lies about the expiry: DHIS2 decides. */
  char *t = mint("alice", "\"exp_in\":-600", NULL);

  plant("alice", t, time(NULL) + 300);
  service("token_validation=api");
  assert_unavailable("DHIS2 refused it");
  cr_assert_eq(emu_count(emu, "/api/me"), 1);
  free(t);
}

Test(token, api_bad_signature_is_refused)
{
  time_t exp;
  char *t = mint("alice", "\"spoil\":\"signature\"", &exp);

  plant("alice", t, exp);
  service("token_validation=api");
  assert_unavailable("DHIS2 refused it");
  free(t);
}

Test(token, api_another_users_token_in_the_store_is_refused)
{
  time_t exp;
  char *t = mint("bob", NULL, &exp);

  /* The record claims alice; the token is bob's. */
  plant("alice", t, exp);
  service("token_validation=api");
  assert_unavailable("the token is DHIS2 user bob's");
  cr_assert_not_null(strstr(pt_logged(), "refused"));
  free(t);
}

Test(token, a_record_of_another_dhis2_user_is_not_sent)
{
  time_t exp;
  char *t = mint("bob", NULL, &exp);

  plant("bob", t, exp);
  service("token_validation=api");
  assert_unavailable("the stored token is DHIS2 user bob's, not alice's");
  cr_assert_eq(emu_count(emu, NULL), 0);
  free(t);
}

Test(token, a_record_for_another_server_is_not_sent)
{
  time_t exp;
  char *t = mint("alice", NULL, &exp);

  plant_as(geteuid(), DHIS2_STORE_FILE, NULL, "https://dhis2.invalid", "alice",
           t, exp);
  service("token_validation=api");
  assert_unavailable("the stored token is for https://dhis2.invalid");
  cr_assert_eq(emu_count(emu, NULL), 0);
  free(t);
}

Test(token, a_symlinked_record_is_refused)
{
  char dir[600];
  char path[700];

  snprintf(dir, sizeof(dir), "%s/xdg/dhis2-auth", pt_dir(pt));
  cr_assert_eq(mkdir(dir, 0700), 0);
  snprintf(path, sizeof(path), "%s/default.json", dir);
  cr_assert_eq(symlink("/etc/passwd", path), 0);
  service("token_validation=api");
  assert_unavailable("token store:");
  cr_assert_eq(emu_count(emu, NULL), 0);
}

/* --- jwks ---------------------------------------------------------------- */

/* --- per release ----------------------------------------------------------
 */

/* The emulator as DHIS2 release v with /api taking the server's own JWTs:
   2.42.5+ as it ships; 2.42.4 with the JWT filter on and a mapping claim
   its tokens carry (sub, the users' OpenID being their usernames). */
static void release_is(const char *v)
{
  char body[64];
  const char *sw = strcmp(v, "2.42.4") == 0
                       ? "{\"jwt_bearer\":true,\"mapping_claim\":\"sub\","
                         "\"openid_field\":\"username\"}"
                       : "{\"jwt_bearer\":false}";

  snprintf(body, sizeof(body), "{\"version\":\"%s\"}", v);
  cr_assert_eq(emu_ctl(emu, "POST", "/version", body, NULL), 200);
  cr_assert_eq(emu_ctl(emu, "POST", "/oauth2", sw, NULL), 200);
}

/* The token passes with either validation on each 2.42 release: 2.42.5+
   put a "/" after the issuer (server.base.url + "/"), which the url in
   the configuration need not have. */
static void passes_on_release(const char *v)
{
  const char *modes[] = {"token_validation=jwks require_group=LinuxAdmGrp",
                         "token_validation=api require_group=LinuxAdmGrp"};

  release_is(v);
  for (size_t i = 0; i < 2; i++) {
    time_t exp;
    char *t = mint("alice", NULL, &exp);
    struct pt_run r;

    plant("alice", t, exp);
    service(modes[i]);
    pt_run(pt, me, NULL, &r);
    cr_assert_eq(r.auth, PAM_SUCCESS, "%s, %s: %s", v, modes[i], pt_logged());
    cr_assert_eq(r.acct, PAM_SUCCESS);
    cr_assert_str_eq(r.env_username, "alice");
    pt_run_clear(&r);
    free(t);
  }
}

Test(token, passes_on_2_42_4)
{
  passes_on_release("2.42.4");
}

Test(token, passes_on_2_42_5)
{
  passes_on_release("2.42.5");
}

Test(token, passes_on_master)
{
  passes_on_release("master");
}

Test(token, jwks_asks_nothing_once_the_keys_are_cached)
{
  time_t exp;
  char *t = mint("alice", NULL, &exp);
  struct pt_run r;

  plant("alice", t, exp);
  service("token_validation=jwks");
  cr_assert_eq(pt_auth(pt, me, NULL), PAM_SUCCESS, "%s", pt_logged());
  cr_assert_eq(emu_count(emu, "/.well-known/openid-configuration"), 1);
  cr_assert_eq(emu_count(emu, "/oauth2/jwks"), 1);
  cr_assert_eq(emu_count(emu, NULL), 2);
  pt_run(pt, me, NULL, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS);
  cr_assert_eq(r.n_prompts, 0);
  cr_assert_str_eq(r.env_username, "alice");
  cr_assert_null(r.env_user_id, "a JWT names no DHIS2 user id");
  cr_assert_eq(emu_count(emu, NULL), 2, "no request with the keys cached");
  pt_run_clear(&r);
  free(t);
}

Test(token, jwks_keeps_working_with_dhis2_down_until_the_token_expires)
{
  time_t exp;
  char *t = mint("alice", "\"exp_in\":300", &exp);
  char *old;

  plant("alice", t, exp);
  service("token_validation=jwks");
  cr_assert_eq(pt_auth(pt, me, NULL), PAM_SUCCESS, "%s", pt_logged());
  /* DHIS2 goes away: nothing listens on its port. */
  emu_outage(emu, "refuse");
  cr_assert_eq(pt_auth(pt, me, NULL), PAM_SUCCESS, "%s", pt_logged());
  cr_assert_eq(pt_auth(pt, me, NULL), PAM_SUCCESS, "%s", pt_logged());
  /* A token past its exp (and the 60 s of skew) is refused, DHIS2 or not. */
  emu_outage(emu, "off");
  old = mint("alice", "\"exp_in\":-120", &exp);
  emu_outage(emu, "refuse");
  plant("alice", old, time(NULL) + 300);
  assert_unavailable("expired");
  free(old);
  free(t);
}

/* Writes the service PAT for account_check = lookup; its path in out. */
static void lookup_pat(char *out, size_t len)
{
  char *pat = tu_fixture_pat_named("svclookup", "SvcLookPat1");
  FILE *f;

  snprintf(out, len, "%s/lookup.pat", pt_dir(pt));
  f = fopen(out, "w");
  cr_assert_not_null(f);
  fprintf(f, "%s\n", pat);
  fclose(f);
  cr_assert_eq(chmod(out, 0600), 0);
  free(pat);
}

Test(token, a_user_disabled_after_the_token_was_issued_is_refused_by_lookup)
{
  time_t exp;
  char *t = mint("alice", NULL, &exp);
  char file[4096];
  char extra[4300];
  struct pt_run r;

  lookup_pat(file, sizeof(file));
  plant("alice", t, exp);
  snprintf(extra, sizeof(extra),
           "token_validation=jwks account_check=lookup lookup_pat_file=%s",
           file);
  service(extra);
  pt_run(pt, me, NULL, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS, "%s", pt_logged());
  cr_assert_eq(r.acct, PAM_SUCCESS, "%s", pt_logged());
  pt_run_clear(&r);
  cr_assert_eq(emu_count(emu, "/api/users"), 1);
  /* Disabled on DHIS2: the JWT still verifies, the lookup says no. */
  emu_user(emu, "{\"username\":\"alice\",\"disabled\":true}");
  pt_run(pt, me, NULL, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS, "the JWT itself is still good");
  cr_assert_eq(r.acct, PAM_PERM_DENIED, "%s", pt_logged());
  cr_assert_not_null(strstr(r.messages, "your DHIS2 account is disabled"));
  pt_run_clear(&r);
  free(t);
}

Test(token, auto_verifies_dhis2_jwts_locally)
{
  time_t exp;
  char *t = mint("alice", NULL, &exp);

  plant("alice", t, exp);
  service(NULL);
  cr_assert_eq(pt_auth(pt, me, NULL), PAM_SUCCESS, "%s", pt_logged());
  cr_assert_eq(emu_count(emu, "/api/me"), 0);
  cr_assert_eq(emu_count(emu, "/oauth2/jwks"), 1);
  free(t);
}

Test(token, jwks_with_a_policy_reads_the_groups_with_the_token)
{
  time_t exp;
  char *t = mint("alice", NULL, &exp);

  plant("alice", t, exp);
  service("token_validation=jwks require_group=LinuxAdmGrp");
  cr_assert_eq(pt_auth(pt, me, NULL), PAM_SUCCESS, "%s", pt_logged());
  emu_reset(emu);
  cr_assert_eq(emu_ctl(emu, "POST", "/oauth2", "{\"jwt_bearer\":true}", NULL),
               200);
  cr_assert_eq(pt_auth(pt, me, NULL), PAM_SUCCESS, "%s", pt_logged());
  cr_assert_eq(emu_count(emu, "/api/me"), 1);
  cr_assert_eq(emu_count(emu, NULL), 1);
  free(t);
}

Test(token, a_valid_token_outside_the_group_is_denied)
{
  time_t exp;
  char *t = mint("bob", NULL, &exp);
  char map[400];
  struct pt_run r;

  snprintf(map, sizeof(map), "bob %s\n", me);
  pt_write_map(pt, map);
  plant("bob", t, exp);
  service("token_validation=jwks require_group=LinuxAdmGrp");
  pt_run(pt, me, NULL, &r);
  cr_assert_eq(r.auth, PAM_PERM_DENIED, "%s", pt_logged());
  cr_assert_not_null(r.messages);
  cr_assert_not_null(strstr(r.messages, "not in a required DHIS2 group"));
  pt_run_clear(&r);
  free(t);
}

Test(token, an_unknown_kid_fetches_the_keys_once_more)
{
  time_t exp;
  char *old = mint("alice", NULL, &exp);
  char *fresh;

  plant("alice", old, exp);
  service("token_validation=jwks");
  cr_assert_eq(pt_auth(pt, me, NULL), PAM_SUCCESS, "%s", pt_logged());
  /* The server restarts with a new key: its new tokens need a refetch. */
  cr_assert_eq(emu_ctl(emu, "POST", "/oauth2/rotate", "{}", NULL), 200);
  fresh = mint("alice", NULL, &exp);
  plant("alice", fresh, exp);
  cr_assert_eq(emu_count(emu, NULL), 2, "discovery and keys, before");
  cr_assert_eq(pt_auth(pt, me, NULL), PAM_SUCCESS, "%s", pt_logged());
  cr_assert_eq(emu_count(emu, "/oauth2/jwks"), 2);
  cr_assert_eq(emu_count(emu, NULL), 3, "the keys only, not discovery");
  cr_assert_eq(pt_auth(pt, me, NULL), PAM_SUCCESS);
  cr_assert_eq(emu_count(emu, NULL), 3, "cached again");
  /* A token signed by the key that is gone: one refetch, then refused. */
  plant("alice", old, exp);
  assert_unavailable("signed by a key the server does not publish");
  cr_assert_eq(emu_count(emu, "/oauth2/jwks"), 3);
  cr_assert_eq(emu_count(emu, NULL), 4);
  free(old);
  free(fresh);
}

Test(token, jwks_refuses_each_spoiled_token)
{
  const char *spoil[] = {"signature", "iss", "aud", "expired"};
  const char *why[] = {"signature", "issuer", "audience", "expired"};

  service("token_validation=jwks");
  for (size_t i = 0; i < sizeof(spoil) / sizeof(spoil[0]); i++) {
    char extra[64];
    time_t exp;
    char *t;

    snprintf(extra, sizeof(extra), "\"spoil\":\"%s\"", spoil[i]);
    t = mint("alice", extra, &exp);
    /* The record does not know: only the token says it is expired. */
    plant("alice", t, time(NULL) + 300);
    assert_unavailable(why[i]);
    free(t);
  }
  cr_assert_eq(emu_count(emu, "/api/me"), 0);
}

Test(token, jwks_another_users_token_in_the_store_is_refused)
{
  time_t exp;
  char *t = mint("bob", NULL, &exp);

  plant("alice", t, exp);
  service("token_validation=jwks");
  assert_unavailable("the token is DHIS2 user bob's");
  free(t);
}

Test(token, a_token_for_a_name_differing_in_case_is_refused)
{
  char map[400];
  time_t exp;
  char *t = mint("alice", NULL, &exp);

  /* The map says DHIS2 user ALICE, another user than alice: her token,
     stored under either spelling, must not sign ALICE in. */
  snprintf(map, sizeof(map), "ALICE %s\n", me);
  pt_write_map(pt, map);
  plant("ALICE", t, exp);
  service("token_validation=api");
  assert_unavailable("the token is DHIS2 user alice's");
  plant("alice", t, exp);
  assert_unavailable("the stored token is DHIS2 user alice's, not ALICE's");
  free(t);
}

/* --- the stack ----------------------------------------------------------- */

Test(token, no_token_falls_through_to_the_password_line)
{
  struct pt_run r;
  const char *answers[] = {"Alice-pw-1", NULL};

  pt_service_raw(pt, "auth [success=done authinfo_unavail=ignore "
                     "default=die] @MOD@ @ARGS@ methods=token "
                     "token_store=file\n"
                     "auth     required @MOD@ @ARGS@\n"
                     "account  required @MOD@ @ARGS@\n");
  pt_run(pt, me, answers, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS, "%s", pt_logged());
  cr_assert_eq(r.n_prompts, 1);
  cr_assert_eq(r.acct, PAM_SUCCESS);
  pt_run_clear(&r);
}

Test(token, token_and_password_on_one_line_prompts_only_without_a_token)
{
  time_t exp;
  char *t = mint("alice", NULL, &exp);
  const char *answers[] = {"Alice-pw-1", NULL};
  struct pt_run r;

  service("methods=token,password");
  pt_run(pt, me, answers, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS, "%s", pt_logged());
  cr_assert_eq(r.n_prompts, 1);
  pt_run_clear(&r);
  plant("alice", t, exp);
  pt_run(pt, me, answers, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS, "%s", pt_logged());
  cr_assert_eq(r.n_prompts, 0);
  pt_run_clear(&r);
  free(t);
}

/* --- the keyring, read by root for another uid (sudo's case) ------------ */

Test(token, root_reads_another_users_persistent_keyring)
{
  struct passwd pwbuf;
  struct passwd *user = NULL;
  char buf[4096];
  struct dhis2_store_opts o = {.backend = DHIS2_STORE_KEYRING};
  char locks[600];
  char err[512];
  time_t exp;
  char *t;
  struct pt_run r;
  pid_t pid;
  int status;

  if (geteuid() != 0)
    cr_skip_test("reading another uid's keyring needs root; make check "
                 "runs this as root");
  getpwnam_r(TA_USER, &pwbuf, buf, sizeof(buf), &user);
  cr_assert_not_null(user);
  /* The user's dhis2-auth keeps its lock files in a directory of its own,
     inside the test's directory, which goes with the test however it
     ends. */
  snprintf(locks, sizeof(locks), "%s/user", pt_dir(pt));
  cr_assert_eq(chmod(pt_dir(pt), 0711), 0);
  cr_assert_eq(mkdir(locks, 0700), 0);
  cr_assert_eq(chown(locks, user->pw_uid, user->pw_gid), 0);
  t = mint("alice", NULL, &exp);
  pt_write_map(pt, "alice " TA_USER "\n");
  plant_as(user->pw_uid, DHIS2_STORE_KEYRING, locks, emu_url(emu), "alice", t,
           exp);
  pt_service_raw(pt, "auth required @MOD@ @ARGS@ methods=token "
                     "token_store=keyring client_id=dhis2-auth debug\n"
                     "account required @MOD@ @ARGS@\n");
  pt_run(pt, TA_USER, NULL, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS, "%s", pt_logged());
  cr_assert_eq(r.n_prompts, 0);
  pt_run_clear(&r);
  /* Gone from the keyring after the user's logout: falls through. */
  pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    o.uid = user->pw_uid;
    o.dir = locks;
    if (setgroups(0, NULL) != 0 ||
        setresgid(user->pw_gid, user->pw_gid, user->pw_gid) != 0 ||
        setresuid(user->pw_uid, user->pw_uid, user->pw_uid) != 0)
      _exit(3);
    _exit(dhis2_store_delete(&o, "default", err, sizeof(err)) == DHIS2_OK ? 0
                                                                          : 4);
  }
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  pt_run(pt, TA_USER, NULL, &r);
  cr_assert_eq(r.auth, PAM_AUTHINFO_UNAVAIL, "%s", pt_logged());
  cr_assert_not_null(strstr(pt_logged(), "no token stored"));
  pt_run_clear(&r);
  free(t);
}
