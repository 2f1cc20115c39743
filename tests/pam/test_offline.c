/* Offline sign-in through the real libpam: an online sign-in, then DHIS2
   goes away (DESIGN.md section 11). The module's clock is this process's
   time(), interposed below, so the tests can move it. */
#include <dlfcn.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <crypt.h>

#include <criterion/criterion.h>
#include <security/pam_appl.h>

#include "accounts.h"
#include "dhis2/cache.h"
#include "emulator.h"
#include "pamtest.h"
#include "testutil.h"

/* --- the clock the module sees ------------------------------------------ */

static time_t clock_offset;

/* The module calls time() through the PLT, so this executable's exported
   definition is the one it gets (Makefile: --export-dynamic-symbol). */
__attribute__((visibility("default"))) time_t time(time_t *out)
{
  struct timespec ts;
  time_t t;

  clock_gettime(CLOCK_REALTIME, &ts);
  t = ts.tv_sec + clock_offset;
  if (out != NULL)
    *out = t;
  return t;
}

/* --- set-up ------------------------------------------------------------- */

static struct emu *emu;
static struct pt *pt;

/* Cost 3 keeps these tests quick, valgrind's run too; one test below
   checks the default. */
#define OFFLINE "offline=yes offline_hash_cost=3 "

static void service(const char *extra)
{
  char args[512];

  snprintf(args, sizeof(args), OFFLINE "%s", extra ? extra : "");
  pt_service(pt, args);
}

static void start(void)
{
  clock_offset = 0;
  emu = emu_start("2.42", true);
  pt = pt_new(emu);
  pt_write_map(pt, "alice " TA_USER "\ncarol " TA_SAME "\nbob " TA_BOB "\n");
  service(NULL);
}

static void stop(void)
{
  clock_offset = 0;
  pt_free(pt);
  pt = NULL;
  emu_stop(emu);
  emu = NULL;
}

TestSuite(offline, .init = start, .fini = stop, .timeout = 90);

/* DHIS2 stops answering: every request fails as the mode says. */
static void outage(const char *how)
{
  if (strcmp(how, "503") == 0)
    emu_fault(emu, "{\"mode\":\"status\",\"code\":503}");
  else if (strcmp(how, "close") == 0)
    emu_fault(emu, "{\"mode\":\"close\"}");
  else
    emu_outage(emu, how); /* "refuse" or "hang" */
}

static void back_online(void)
{
  emu_reset(emu);
}

/* Signs user in online with secret; asserts it worked. */
static void online(const char *user, const char *secret)
{
  struct pt_run r;
  const char *answers[] = {secret, NULL};

  pt_run(pt, user, answers, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS, "online sign-in: %s",
               r.messages ? r.messages : "");
  cr_assert_null(r.messages ? strstr(r.messages, "offline") : NULL);
  pt_run_clear(&r);
}

static int run(const char *user, const char *secret, struct pt_run *r)
{
  const char *answers[] = {secret, NULL};

  pt_run(pt, user, answers, r);
  return r->auth;
}

static bool shown(const struct pt_run *r, const char *s)
{
  return r->messages != NULL && strstr(r->messages, s) != NULL;
}

/* Files in state_dir/offline that are records (not lock files). */
static int records(void)
{
  char path[4096];
  DIR *d;
  struct dirent *e;
  int n = 0;

  snprintf(path, sizeof(path), "%s/state/offline", pt_dir(pt));
  d = opendir(path);
  if (d == NULL)
    return 0;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.' && strstr(e->d_name, ".lock") == NULL &&
        strchr(e->d_name, '.') == NULL)
      n++;
  closedir(d);
  return n;
}

/* --- signed in offline --------------------------------------------------- */

static void signs_in_offline(const char *how)
{
  struct pt_run r;

  online(TA_USER, "Alice-pw-1");
  outage(how);
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_SUCCESS, "%s",
               r.messages ? r.messages : "");
  cr_assert(shown(&r, "DHIS2 is unreachable: signed in offline with the "
                      "sign-in checked on "),
            "%s", r.messages);
  cr_assert_eq(r.acct, PAM_SUCCESS);
  cr_assert_eq(r.session, PAM_SUCCESS);
  cr_assert_str_eq(r.env_username, "alice");
  cr_assert_str_eq(r.env_user_id, "AliceUsr001");
  cr_assert(strstr(pt_logged(), "signed in offline") != NULL);
  pt_run_clear(&r);
}

Test(offline, right_password_signs_in_when_the_server_answers_503)
{
  signs_in_offline("503");
}

Test(offline, right_password_signs_in_when_the_connection_drops)
{
  signs_in_offline("close");
}

Test(offline, right_password_signs_in_when_nothing_listens)
{
  signs_in_offline("refuse");
}

Test(offline, right_password_signs_in_when_dhis2_never_answers)
{
  service("timeout=2");
  signs_in_offline("hang");
}

Test(offline, wrong_password_is_refused_offline)
{
  struct pt_run r;

  online(TA_USER, "Alice-pw-1");
  outage("503");
  cr_assert_eq(run(TA_USER, "Alice-pw-2", &r), PAM_AUTH_ERR);
  cr_assert_not(shown(&r, "signed in offline"));
  pt_run_clear(&r);
  cr_assert_eq(run(TA_USER, "alice-pw-1", &r), PAM_AUTH_ERR, "case matters");
  pt_run_clear(&r);
}

Test(offline, a_user_never_seen_here_is_not_signed_in)
{
  struct pt_run r;

  online(TA_USER, "Alice-pw-1");
  outage("503");
  cr_assert_eq(run(TA_BOB, "Bob-pw-1", &r), PAM_AUTHINFO_UNAVAIL);
  cr_assert(shown(&r, "has not signed in here before"), "%s", r.messages);
  pt_run_clear(&r);
}

Test(offline, the_pat_slot_and_the_password_slot_are_apart)
{
  char *pat = tu_fixture_pat("alice", 1);
  struct pt_run r;

  online(TA_USER, pat);
  outage("503");
  cr_assert_eq(run(TA_USER, pat, &r), PAM_SUCCESS, "%s", r.messages);
  pt_run_clear(&r);
  /* Only the PAT worked online: the password has no slot yet. */
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_AUTHINFO_UNAVAIL);
  pt_run_clear(&r);
  back_online();
  online(TA_USER, "Alice-pw-1");
  outage("503");
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_SUCCESS);
  pt_run_clear(&r);
  cr_assert_eq(run(TA_USER, pat, &r), PAM_SUCCESS, "the PAT slot was kept");
  pt_run_clear(&r);
  free(pat);
}

Test(offline, off_by_default_dhis2_down_is_authinfo_unavail)
{
  struct pt_run r;

  pt_service(pt, NULL);
  online(TA_USER, "Alice-pw-1");
  cr_assert_eq(records(), 0, "nothing kept without offline = yes");
  outage("503");
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_AUTHINFO_UNAVAIL);
  cr_assert_not(shown(&r, "offline"));
  pt_run_clear(&r);
}

Test(offline, an_answer_that_is_not_an_outage_never_goes_offline)
{
  struct pt_run r;

  online(TA_USER, "Alice-pw-1");
  emu_fault(emu, "{\"mode\":\"redirect\"}");
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_AUTHINFO_UNAVAIL);
  cr_assert_not(shown(&r, "signed in offline"));
  pt_run_clear(&r);
  emu_fault(emu, "{\"mode\":\"malformed\"}");
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_AUTHINFO_UNAVAIL);
  cr_assert_not(shown(&r, "signed in offline"));
  pt_run_clear(&r);
}

Test(offline, a_kiosk_signs_in_offline_as_the_kiosk_account)
{
  struct pt_run r;

  pt_write_map(pt, "* " TA_KIOSK "\n");
  online("alice", "Alice-pw-1");
  outage("close");
  cr_assert_eq(run("alice", "Alice-pw-1", &r), PAM_SUCCESS, "%s", r.messages);
  cr_assert_str_eq(r.user, TA_KIOSK);
  cr_assert_str_eq(r.env_username, "alice");
  pt_run_clear(&r);
  cr_assert_eq(run("bob", "Bob-pw-1", &r), PAM_AUTHINFO_UNAVAIL,
               "bob never signed in on this kiosk");
  pt_run_clear(&r);
}

/* --- the window and the clock ---------------------------------------------
 */

Test(offline, refused_after_offline_ttl)
{
  struct pt_run r;

  service("offline_ttl=1h");
  online(TA_USER, "Alice-pw-1");
  outage("503");
  clock_offset = 3600 - 60;
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_SUCCESS, "%s", r.messages);
  pt_run_clear(&r);
  clock_offset = 3600 + 60;
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_AUTHINFO_UNAVAIL);
  cr_assert(shown(&r, "too old to sign in offline"), "%s", r.messages);
  pt_run_clear(&r);
}

Test(offline, a_clock_rolled_back_past_the_last_check_is_refused)
{
  struct pt_run r;

  online(TA_USER, "Alice-pw-1");
  outage("503");
  clock_offset = -86400;
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_AUTHINFO_UNAVAIL);
  cr_assert(shown(&r, "clock is behind"), "%s", r.messages);
  pt_run_clear(&r);
}

Test(offline, rolling_the_clock_back_and_forth_never_extends_the_window)
{
  struct pt_run r;

  service("offline_ttl=1d");
  online(TA_USER, "Alice-pw-1");
  outage("503");
  /* Near the end, a sign-in raises the mark. */
  clock_offset = 86400 - 600;
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_SUCCESS);
  pt_run_clear(&r);
  /* Back to just after the check: behind the mark now. */
  clock_offset = 60;
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_AUTHINFO_UNAVAIL);
  cr_assert(shown(&r, "clock is behind"), "%s", r.messages);
  pt_run_clear(&r);
  /* Forward past the end: the end never moved. */
  clock_offset = 86400 + 600;
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_AUTHINFO_UNAVAIL);
  cr_assert(shown(&r, "too old"), "%s", r.messages);
  pt_run_clear(&r);
}

/* --- two-factor users ------------------------------------------------------
 */

static void carol_online(void)
{
  struct pt_run r;
  char code[7];
  const char *answers[] = {"Carol-pw-1", code, NULL};

  emu_totp(tu_fixture_string("carol", "secret"), time(NULL), code);
  pt_run(pt, TA_SAME, answers, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS, "%s", r.messages ? r.messages : "");
  cr_assert_eq(r.n_prompts, 2);
  pt_run_clear(&r);
}

Test(offline, a_totp_user_is_refused_offline_by_default)
{
  struct pt_run r;

  carol_online();
  outage("503");
  cr_assert_eq(run(TA_SAME, "Carol-pw-1", &r), PAM_AUTHINFO_UNAVAIL);
  cr_assert(shown(&r, "verification code"), "%s", r.messages);
  cr_assert_eq(r.n_prompts, 1, "no code asked offline");
  pt_run_clear(&r);
}

Test(offline, a_totp_user_signs_in_offline_with_offline_twofactor_password)
{
  struct pt_run r;

  service("offline_twofactor=password");
  carol_online();
  outage("503");
  cr_assert_eq(run(TA_SAME, "Carol-pw-1", &r), PAM_SUCCESS, "%s", r.messages);
  pt_run_clear(&r);
}

/* --- failures --------------------------------------------------------------
 */

Test(offline, failures_delay_even_the_right_password_and_send_nothing)
{
  struct pt_run r;

  service("offline_failure_limit=3 offline_failure_delay=10m");
  online(TA_USER, "Alice-pw-1");
  outage("503");
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(run(TA_USER, "wrong", &r), PAM_AUTH_ERR);
    pt_run_clear(&r);
  }
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_MAXTRIES);
  cr_assert(shown(&r, "Too many failed sign-ins; try again after"), "%s",
            r.messages);
  pt_run_clear(&r);
  /* DHIS2 is back, but the delay still holds: nothing is sent. */
  back_online();
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_MAXTRIES);
  pt_run_clear(&r);
  cr_assert_eq(emu_count(emu, NULL), 0, "a request was sent");
  /* The online throttle never saw these: nothing was sent. */
  clock_offset = 601;
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_SUCCESS, "%s", r.messages);
  cr_assert_not(shown(&r, "offline"));
  pt_run_clear(&r);
}

Test(offline, two_wrong_sign_ins_at_once_count_two)
{
  pid_t kids[2];
  int status;
  struct pt_run r;

  service("offline_failure_limit=3");
  online(TA_USER, "Alice-pw-1");
  outage("503");
  for (int i = 0; i < 2; i++) {
    kids[i] = fork();
    cr_assert_neq(kids[i], -1);
    if (kids[i] == 0)
      _exit(pt_auth(pt, TA_USER, "wrong") == PAM_AUTH_ERR ? 0 : 1);
  }
  for (int i = 0; i < 2; i++) {
    cr_assert_eq(waitpid(kids[i], &status, 0), kids[i]);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  /* Two counted: a third wrong one reaches the limit of 3. */
  cr_assert_eq(run(TA_USER, "wrong", &r), PAM_AUTH_ERR);
  pt_run_clear(&r);
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_MAXTRIES);
  pt_run_clear(&r);
}

Test(offline, two_right_sign_ins_at_once_both_pass)
{
  pid_t kids[2];
  int status;

  online(TA_USER, "Alice-pw-1");
  outage("close");
  for (int i = 0; i < 2; i++) {
    kids[i] = fork();
    cr_assert_neq(kids[i], -1);
    if (kids[i] == 0)
      _exit(pt_auth(pt, TA_USER, "Alice-pw-1") == PAM_SUCCESS ? 0 : 1);
  }
  for (int i = 0; i < 2; i++) {
    cr_assert_eq(waitpid(kids[i], &status, 0), kids[i]);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
}

/* --- DHIS2 answers again ---------------------------------------------------
 */

Test(offline, a_password_changed_on_dhis2_is_forgotten_a_typo_is_not)
{
  struct pt_run r;

  online(TA_USER, "Alice-pw-1");
  /* A typo, answered by DHIS2: the cached password stays. */
  cr_assert_eq(run(TA_USER, "Alice-pw-X", &r), PAM_AUTH_ERR);
  pt_run_clear(&r);
  outage("503");
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_SUCCESS);
  pt_run_clear(&r);
  /* The administrator changes it; the old one is refused by DHIS2. */
  back_online();
  emu_user(emu, "{\"username\":\"alice\",\"password\":\"Alice-pw-2\"}");
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_AUTH_ERR);
  pt_run_clear(&r);
  outage("503");
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_AUTHINFO_UNAVAIL,
               "the old password signed in offline");
  pt_run_clear(&r);
}

Test(offline, a_disabled_account_loses_its_record)
{
  struct pt_run r;

  online(TA_USER, "Alice-pw-1");
  cr_assert_eq(records(), 1);
  emu_user(emu, "{\"username\":\"alice\",\"disabled\":true}");
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_AUTH_ERR);
  pt_run_clear(&r);
  cr_assert_eq(records(), 0, "the record was kept");
  outage("503");
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_AUTHINFO_UNAVAIL);
  pt_run_clear(&r);
}

Test(offline, a_success_refreshes_the_snapshot)
{
  struct pt_run r;

  service("require_group=LinuxAdmGrp");
  online(TA_USER, "Alice-pw-1");
  /* Removed from the group on DHIS2: the next online sign-in is refused
     by the policy, and the snapshot says so offline too. */
  emu_user(emu, "{\"username\":\"alice\",\"userGroups\":[]}");
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_PERM_DENIED);
  pt_run_clear(&r);
  outage("503");
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_PERM_DENIED);
  pt_run_clear(&r);
}

/* --- the policy on the snapshot
 * ---------------------------------------------- */

Test(offline, require_group_is_applied_to_the_snapshot)
{
  struct pt_run r;

  online(TA_USER, "Alice-pw-1");
  outage("503");
  service("require_group=KioskUsrGrp");
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_PERM_DENIED);
  cr_assert(shown(&r, "Access denied"), "%s", r.messages);
  pt_run_clear(&r);
  service("require_group=LinuxAdmGrp");
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_SUCCESS);
  pt_run_clear(&r);
}

/* --- files that cannot be trusted ------------------------------------------
 */

static void each_record(void (*fn)(const char *path))
{
  char dir[4096];
  char path[8192];
  DIR *d;
  struct dirent *e;

  snprintf(dir, sizeof(dir), "%s/state/offline", pt_dir(pt));
  d = opendir(dir);
  cr_assert_not_null(d);
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || strchr(e->d_name, '.') != NULL)
      continue;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    fn(path);
  }
  closedir(d);
}

static void make_world_readable(const char *path)
{
  cr_assert_eq(chmod(path, 0644), 0);
}

static void make_garbage(const char *path)
{
  FILE *f = fopen(path, "w");

  cr_assert_not_null(f);
  fputs("{\"version\":1,\"username\":", f);
  fclose(f);
}

static void refused_with(void (*spoil)(const char *path))
{
  struct pt_run r;

  online(TA_USER, "Alice-pw-1");
  each_record(spoil);
  outage("503");
  cr_assert_eq(run(TA_USER, "Alice-pw-1", &r), PAM_AUTHINFO_UNAVAIL);
  cr_assert_not(shown(&r, "signed in offline"));
  pt_run_clear(&r);
}

Test(offline, a_world_readable_record_is_ignored)
{
  refused_with(make_world_readable);
}

Test(offline, a_truncated_record_is_ignored)
{
  refused_with(make_garbage);
}

/* --- the hash
 * ---------------------------------------------------------------- */

/* The yescrypt parameters ("$y$j9T$") of a hash or setting. */
static void params(const char *hash, char *out, size_t len)
{
  const char *end = strchr(hash + 3, '$');

  cr_assert_not_null(end, "%s", hash);
  snprintf(out, len, "%.*s", (int)(end - hash + 1), hash);
}

static char kept_hash[256];

static void read_hash(const char *path)
{
  FILE *f = fopen(path, "r");
  char buf[65536];
  size_t n;
  struct dhis2_cache_record *rec = NULL;

  cr_assert_not_null(f);
  n = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  cr_assert_eq(dhis2_cache_record_parse(buf, n, &rec), DHIS2_OK);
  cr_assert_not_null(rec->password_hash);
  snprintf(kept_hash, sizeof(kept_hash), "%s", rec->password_hash);
  dhis2_cache_record_free(rec);
}

Test(offline, the_password_is_kept_as_a_yescrypt_hash_of_the_default_cost)
{
  char want[64];
  char got[64];
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];

  pt_service(pt, "offline=yes");
  online(TA_USER, "Alice-pw-1");
  each_record(read_hash);
  cr_assert_not_null(crypt_gensalt_rn("$y$", DHIS2_CACHE_COST, NULL, 0,
                                      setting, sizeof(setting)));
  params(setting, want, sizeof(want));
  params(kept_hash, got, sizeof(got));
  cr_assert_str_eq(got, want, "cost %d", DHIS2_CACHE_COST);
  cr_assert_null(strstr(kept_hash, "Alice-pw-1"));
}
