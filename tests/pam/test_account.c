/* The account phase through the real libpam: account_check = lookup for
   users DHIS2 did not just check (an SSH key: pam_acct_mgmt alone), and
   the organisation-unit policies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <security/pam_appl.h>

#include "accounts.h"
#include "emulator.h"
#include "pamtest.h"
#include "testutil.h"

/* The emulator's organisation units (DHIS2's demo database ids). */
#define NATIONAL "ImspTQPwCqd"
#define BO "O6uvpzGd5pu"
#define NGELEHUN "DiszpKrYNg8"
#define BOMBALI "fdc6uOvgoji"

static struct emu *emu;
static struct pt *pt;
static char pat_file[4096];

/* Writes the service PAT of fixture user owner (token id) to pat_file. */
static void write_pat(const char *owner, const char *id)
{
  char *pat = tu_fixture_pat_named(owner, id);
  FILE *f;

  snprintf(pat_file, sizeof(pat_file), "%s/lookup.pat", pt_dir(pt));
  f = fopen(pat_file, "w");
  cr_assert_not_null(f);
  fprintf(f, "%s\n", pat);
  fclose(f);
  cr_assert_eq(chmod(pat_file, 0600), 0);
  free(pat);
}

/* The service with account_check = lookup and extra arguments. */
static void service(const char *extra)
{
  char args[8192];

  snprintf(args, sizeof(args), "account_check=lookup lookup_pat_file=%s %s",
           pat_file, extra ? extra : "");
  pt_service(pt, args);
}

/* As sshd's stack for keys: our account line may say PAM_IGNORE, which
   pam_permit after it turns into success; any refusal ends the stack. */
static void service_then_permit(const char *extra)
{
  char raw[8192];

  snprintf(raw, sizeof(raw),
           "auth required @MOD@ @ARGS@\n"
           "account [success=ok ignore=ignore default=die] @MOD@ @ARGS@ "
           "%s\n"
           "account required pam_permit.so\n",
           extra);
  pt_service_raw(pt, raw);
}

static void start_with(const char *version)
{
  emu = emu_start(version, true);
  pt = pt_new(emu);
  pt_write_map(pt, "alice " TA_USER "\nbob " TA_BOB "\nghost " TA_JOHN "\n");
  write_pat("svclookup", "SvcLookPat1");
  service(NULL);
}

static void start(void)
{
  start_with("2.42");
}

static void start_237(void)
{
  start_with("2.37");
}

static void start_240(void)
{
  start_with("2.40");
}

static void stop(void)
{
  pt_free(pt);
  pt = NULL;
  emu_stop(emu);
  emu = NULL;
}

TestSuite(account, .init = start, .fini = stop, .timeout = 60);
TestSuite(account_237, .init = start_237, .fini = stop, .timeout = 60);
TestSuite(account_240, .init = start_240, .fini = stop, .timeout = 60);

static bool shown(const struct pt_run *r, const char *s)
{
  return r->messages != NULL && strstr(r->messages, s) != NULL;
}

/* pam_acct_mgmt alone, as after an SSH key; returns its code. */
static int key_login(const char *user, struct pt_run *r)
{
  pt_acct(pt, user, r);
  cr_assert_eq(r->n_prompts, 0, "the account phase prompted");
  return r->acct;
}

/* --- an SSH key: the account phase alone ------------------------------- */

static void active_member_passes(void)
{
  struct pt_run r;

  service("require_group=LinuxAdmGrp");
  cr_assert_eq(key_login(TA_USER, &r), PAM_SUCCESS, "%s\n%s",
               r.messages ? r.messages : "", pt_logged());
  pt_run_clear(&r);
  /* The first lookup may learn which filter the release takes (2.37:
     a 409, then userCredentials.username); then one request each. */
  emu_reset(emu);
  cr_assert_eq(key_login(TA_USER, &r), PAM_SUCCESS);
  pt_run_clear(&r);
  cr_assert_eq(emu_count(emu, "/api/users"), 1);
  cr_assert_eq(emu_count(emu, NULL), 1, "one request an account phase");
}

Test(account, an_active_member_with_a_key_passes_with_one_request)
{
  active_member_passes();
}

Test(account_237, the_237_lookup_shape_passes)
{
  active_member_passes();
}

Test(account_240, the_240_lookup_shape_passes)
{
  active_member_passes();
}

Test(account, a_disabled_user_with_a_key_is_refused)
{
  struct pt_run r;

  emu_user(emu, "{\"username\":\"alice\",\"disabled\":true}");
  cr_assert_eq(key_login(TA_USER, &r), PAM_PERM_DENIED);
  cr_assert(shown(&r, "your DHIS2 account is disabled"), "%s", r.messages);
  pt_run_clear(&r);
  /* Enabled again: in again. */
  emu_user(emu, "{\"username\":\"alice\",\"disabled\":false}");
  cr_assert_eq(key_login(TA_USER, &r), PAM_SUCCESS);
  pt_run_clear(&r);
}

Test(account, an_expired_user_with_a_key_is_acct_expired)
{
  struct pt_run r;

  emu_user(emu,
           "{\"username\":\"alice\",\"accountExpiry\":\"2020-01-01T00:00:00."
           "000\"}");
  cr_assert_eq(key_login(TA_USER, &r), PAM_ACCT_EXPIRED);
  cr_assert(shown(&r, "your DHIS2 account has expired"), "%s", r.messages);
  pt_run_clear(&r);
}

Test(account, a_user_removed_from_the_group_is_refused)
{
  struct pt_run r;

  service("require_group=LinuxAdmGrp");
  emu_user(emu, "{\"username\":\"alice\",\"userGroups\":[]}");
  cr_assert_eq(key_login(TA_USER, &r), PAM_PERM_DENIED);
  cr_assert(shown(&r, "not in a required DHIS2 group"), "%s", r.messages);
  pt_run_clear(&r);
}

Test(account, a_user_dhis2_does_not_have_is_refused)
{
  struct pt_run r;

  cr_assert_eq(key_login(TA_JOHN, &r), PAM_PERM_DENIED);
  cr_assert(shown(&r, "there is no DHIS2 user ghost"), "%s", r.messages);
  pt_run_clear(&r);
}

Test(account, a_local_account_below_min_uid_is_untouched)
{
  char extra[4200];
  struct pt_run r;

  snprintf(extra, sizeof(extra),
           "account_check=lookup lookup_pat_file=%s require_group=LinuxAdmGrp",
           pat_file);
  service_then_permit(extra);
  cr_assert_eq(key_login(TA_LOW, &r), PAM_SUCCESS, "%s", pt_logged());
  pt_run_clear(&r);
  cr_assert_eq(key_login("root", &r), PAM_SUCCESS);
  pt_run_clear(&r);
  cr_assert_eq(emu_count(emu, NULL), 0, "a request was sent");
  /* The same stack refuses a DHIS2 user it should. */
  emu_user(emu, "{\"username\":\"alice\",\"disabled\":true}");
  cr_assert_eq(key_login(TA_USER, &r), PAM_PERM_DENIED);
  pt_run_clear(&r);
}

Test(account, without_lookup_a_key_login_is_ignored_as_before)
{
  struct pt_run r;

  service_then_permit("");
  emu_user(emu, "{\"username\":\"alice\",\"disabled\":true}");
  cr_assert_eq(key_login(TA_USER, &r), PAM_SUCCESS);
  pt_run_clear(&r);
  cr_assert_eq(emu_count(emu, NULL), 0);
}

Test(account, a_lookup_token_without_f_user_view_is_authinfo_unavail)
{
  struct pt_run r;

  write_pat("svcweak", "SvcWeakPat1");
  cr_assert_eq(key_login(TA_USER, &r), PAM_AUTHINFO_UNAVAIL);
  cr_assert(strstr(pt_logged(), "F_USER_VIEW") != NULL, "%s", pt_logged());
  pt_run_clear(&r);
}

Test(account, a_lookup_token_file_others_may_read_is_refused)
{
  struct pt_run r;

  cr_assert_eq(chmod(pat_file, 0644), 0);
  cr_assert_eq(key_login(TA_USER, &r), PAM_AUTHINFO_UNAVAIL);
  cr_assert(strstr(pt_logged(), "lookup_pat_file") != NULL, "%s", pt_logged());
  cr_assert_eq(emu_count(emu, NULL), 0, "the token was sent");
}

/* --- DHIS2 down --------------------------------------------------------- */

Test(account, dhis2_down_without_a_snapshot_is_denied)
{
  struct pt_run r;

  emu_outage(emu, "refuse");
  cr_assert_eq(key_login(TA_USER, &r), PAM_AUTHINFO_UNAVAIL);
  cr_assert(shown(&r, "DHIS2 cannot be reached"), "%s", r.messages);
  pt_run_clear(&r);
}

Test(account, dhis2_down_with_account_unavailable_allow_passes)
{
  struct pt_run r;

  service("account_unavailable=allow");
  emu_outage(emu, "refuse");
  cr_assert_eq(key_login(TA_USER, &r), PAM_SUCCESS);
  pt_run_clear(&r);
}

Test(account, dhis2_down_with_a_fresh_snapshot_passes_on_it)
{
  struct pt_run r;

  service("offline=yes offline_hash_cost=3 require_group=LinuxAdmGrp");
  cr_assert_eq(key_login(TA_USER, &r), PAM_SUCCESS);
  pt_run_clear(&r);
  emu_outage(emu, "refuse");
  cr_assert_eq(key_login(TA_USER, &r), PAM_SUCCESS, "%s", pt_logged());
  pt_run_clear(&r);
  /* The snapshot says who alice is: not a kiosk user. */
  service("offline=yes offline_hash_cost=3 require_group=KioskUsrGrp");
  cr_assert_eq(key_login(TA_USER, &r), PAM_PERM_DENIED);
  pt_run_clear(&r);
  /* bob was never looked up: nothing to go on. */
  cr_assert_eq(key_login(TA_BOB, &r), PAM_AUTHINFO_UNAVAIL);
  pt_run_clear(&r);
}

Test(account, a_disabled_lookup_deletes_the_offline_record)
{
  struct pt_run r;

  service("offline=yes offline_hash_cost=3");
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_SUCCESS);
  emu_user(emu, "{\"username\":\"alice\",\"disabled\":true}");
  cr_assert_eq(key_login(TA_USER, &r), PAM_PERM_DENIED);
  pt_run_clear(&r);
  emu_outage(emu, "refuse");
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_AUTHINFO_UNAVAIL,
               "signed in offline after DHIS2 said disabled");
}

/* --- what a password sign-in costs -------------------------------------- */

Test(account, a_password_sign_in_asks_nothing_more)
{
  struct pt_run r;
  const char *answers[] = {"Alice-pw-1", NULL};

  service("require_group=LinuxAdmGrp");
  pt_run(pt, TA_USER, answers, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS);
  cr_assert_eq(r.acct, PAM_SUCCESS);
  pt_run_clear(&r);
  cr_assert_eq(emu_count(emu, "/api/users"), 0, "looked up after a password");
}

/* --- organisation units ----------------------------------------------------
 */

/* Signs user (DHIS2 name dhis2) in by password with the policy args; the
   account phase's code, or the auth code when auth failed. */
static int orgunit_login(const char *dhis2, const char *password,
                         const char *args)
{
  char map[256];
  char extra[512];
  struct pt_run r;
  const char *answers[] = {password, NULL};
  int rc;

  snprintf(map, sizeof(map), "%s " TA_JOHN "\n", dhis2);
  pt_write_map(pt, map);
  snprintf(extra, sizeof(extra), "%s", args);
  pt_service(pt, extra);
  pt_run(pt, TA_JOHN, answers, &r);
  rc = r.auth == PAM_SUCCESS ? r.acct : r.auth;
  pt_run_clear(&r);
  return rc;
}

struct ou_case {
  const char *user, *password;
  int require_facility, require_district, host_facility, host_district;
};

Test(account, org_units_below_and_above)
{
  static const struct ou_case cases[] = {
      /* user      password        req=fac          req=dist */
      {"nurse", "Nurse-pw-1", PAM_SUCCESS, PAM_SUCCESS, PAM_SUCCESS,
       PAM_PERM_DENIED},
      {"dho", "Dho-pw-1", PAM_PERM_DENIED, PAM_SUCCESS, PAM_SUCCESS,
       PAM_SUCCESS},
      {"moh", "Moh-pw-1", PAM_PERM_DENIED, PAM_PERM_DENIED, PAM_SUCCESS,
       PAM_SUCCESS},
      {"bombali", "Bombali-pw-1", PAM_PERM_DENIED, PAM_PERM_DENIED,
       PAM_PERM_DENIED, PAM_PERM_DENIED},
  };

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const struct ou_case *c = &cases[i];

    cr_expect_eq(
        orgunit_login(c->user, c->password, "require_orgunit=" NGELEHUN),
        c->require_facility, "%s, require_orgunit facility", c->user);
    cr_expect_eq(orgunit_login(c->user, c->password, "require_orgunit=" BO),
                 c->require_district, "%s, require_orgunit district", c->user);
    cr_expect_eq(orgunit_login(c->user, c->password, "host_orgunit=" NGELEHUN),
                 c->host_facility, "%s, host_orgunit facility", c->user);
    cr_expect_eq(orgunit_login(c->user, c->password, "host_orgunit=" BO),
                 c->host_district, "%s, host_orgunit district", c->user);
  }
}

Test(account, the_host_units_path_is_read_once)
{
  cr_assert_eq(orgunit_login("nurse", "Nurse-pw-1", "host_orgunit=" NGELEHUN),
               PAM_SUCCESS);
  cr_assert_eq(emu_count(emu, "/api/organisationUnits/" NGELEHUN), 1);
  cr_assert_eq(orgunit_login("dho", "Dho-pw-1", "host_orgunit=" NGELEHUN),
               PAM_SUCCESS);
  cr_assert_eq(emu_count(emu, "/api/organisationUnits/" NGELEHUN), 1,
               "read again");
}

Test(account, a_user_of_another_district_is_told_why)
{
  char map[256];
  struct pt_run r;
  const char *answers[] = {"Bombali-pw-1", NULL};

  snprintf(map, sizeof(map), "bombali " TA_JOHN "\n");
  pt_write_map(pt, map);
  pt_service(pt, "host_orgunit=" BO);
  pt_run(pt, TA_JOHN, answers, &r);
  cr_assert_eq(r.auth, PAM_PERM_DENIED);
  cr_assert(shown(&r, "not assigned to an organisation unit of this host"),
            "%s", r.messages);
  pt_run_clear(&r);
}

Test(account, a_key_login_is_judged_by_the_units_the_lookup_found)
{
  char map[256];
  struct pt_run r;

  snprintf(map, sizeof(map), "nurse " TA_JOHN "\nbombali " TA_BOB "\n");
  pt_write_map(pt, map);
  service("host_orgunit=" NGELEHUN);
  cr_assert_eq(key_login(TA_JOHN, &r), PAM_SUCCESS, "%s", pt_logged());
  pt_run_clear(&r);
  cr_assert_eq(key_login(TA_BOB, &r), PAM_PERM_DENIED);
  pt_run_clear(&r);
}
