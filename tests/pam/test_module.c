/* pam_dhis2.so through the real libpam against the emulator: the return
   code table, bad input, 2FA, kiosk, policy, throttle, environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>
#include <security/pam_appl.h>

#include "accounts.h"
#include "emulator.h"
#include "pamtest.h"
#include "testutil.h"

static struct emu *emu;
static struct pt *pt;

static void start(const char *version)
{
  emu = emu_start(version, true);
  pt = pt_new(emu);
  /* The local account TA_USER stands for a DHIS2 user in most tests. */
  pt_write_map(pt, "alice " TA_USER "\n");
  pt_service(pt, NULL);
}

static void start_242(void)
{
  start("2.42");
}

static void start_240(void)
{
  start("2.40");
}

static void start_237(void)
{
  start("2.37");
}

static void start_23710(void)
{
  start("2.37.10");
}

static void start_2425(void)
{
  start("2.42.5");
}

static void stop(void)
{
  pt_free(pt);
  pt = NULL;
  emu_stop(emu);
  emu = NULL;
}

TestSuite(pam, .init = start_242, .fini = stop, .timeout = 60);
TestSuite(pam_240, .init = start_240, .fini = stop, .timeout = 60);
TestSuite(pam_237, .init = start_237, .fini = stop, .timeout = 60);
TestSuite(pam_23710, .init = start_23710, .fini = stop, .timeout = 60);
TestSuite(pam_2425, .init = start_2425, .fini = stop, .timeout = 60);

/* --- success ------------------------------------------------------------ */

Test(pam, password_logs_in_with_login_me_and_logout)
{
  struct pt_run r;
  const char *answers[] = {"Alice-pw-1", NULL};

  pt_run(pt, TA_USER, answers, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS, "%s", r.messages ? r.messages : "");
  cr_assert_eq(r.acct, PAM_SUCCESS);
  cr_assert_eq(r.n_prompts, 1);
  cr_assert_eq(emu_count(emu, "/api/loginConfig"), 1);
  cr_assert_eq(emu_count(emu, "/api/auth/login"), 1);
  cr_assert_eq(emu_count(emu, "/api/me"), 1);
  cr_assert_eq(emu_count(emu, NULL), 4, "probe, login, me and logout");
  pt_run_clear(&r);
}

Test(pam, later_password_logins_send_three_requests)
{
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_SUCCESS);
  emu_reset(emu);
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_SUCCESS);
  cr_assert_eq(emu_count(emu, NULL), 3, "login, me and logout");
}

Test(pam, session_exports_the_dhis2_identity)
{
  struct pt_run r;
  const char *answers[] = {"Alice-pw-1", NULL};

  pt_run(pt, TA_USER, answers, &r);
  cr_assert_eq(r.session, PAM_SUCCESS);
  cr_assert_str_eq(r.env_username, "alice");
  cr_assert_not_null(r.env_user_id);
  cr_assert_eq(strlen(r.env_user_id), 11);
  cr_assert_str_eq(r.env_url, emu_url(emu));
  pt_run_clear(&r);
}

Test(pam, v1_and_v2_pats_log_in_with_one_request_each)
{
  char *v1 = tu_fixture_pat("alice", 0);
  char *v2 = tu_fixture_pat("alice", 1);

  cr_assert_eq(pt_auth(pt, TA_USER, v1), PAM_SUCCESS);
  cr_assert_eq(emu_count(emu, NULL), 1);
  cr_assert_eq(pt_auth(pt, TA_USER, v2), PAM_SUCCESS);
  cr_assert_eq(emu_count(emu, NULL), 2);
  free(v1);
  free(v2);
}

Test(pam_240, older_server_uses_basic_and_remembers_it)
{
  /* First login: the anonymous probe, then Basic. Then Basic only. */
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_SUCCESS);
  cr_assert_eq(emu_count(emu, "/api/loginConfig"), 1);
  cr_assert_eq(emu_count(emu, "/api/auth/login"), 0);
  cr_assert_eq(emu_count(emu, NULL), 2);
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_SUCCESS);
  cr_assert_eq(emu_count(emu, NULL), 3, "asked again");
}

Test(pam_237, the_237_reply_shape_logs_in)
{
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_SUCCESS);
}

Test(pam, password_with_colon_and_non_ascii_logs_in)
{
  pt_write_map(pt, "uma " TA_USER "\n");
  cr_assert_eq(pt_auth(pt, TA_USER, tu_fixture_string("uma", "password")),
               PAM_SUCCESS);
}

/* --- rejected ------------------------------------------------------------ */

Test(pam, wrong_password_is_auth_err)
{
  cr_assert_eq(pt_auth(pt, TA_USER, "wrong"), PAM_AUTH_ERR);
  cr_assert_eq(emu_count(emu, "/api/auth/login"), 1);
}

Test(pam, empty_password_is_auth_err_without_a_request)
{
  cr_assert_eq(pt_auth(pt, TA_USER, ""), PAM_AUTH_ERR);
  cr_assert_eq(emu_count(emu, NULL), 0);
}

Test(pam, four_kib_password_is_auth_err)
{
  char pw[4097];

  memset(pw, 'p', sizeof(pw) - 1);
  pw[sizeof(pw) - 1] = '\0';
  cr_assert_eq(pt_auth(pt, TA_USER, pw), PAM_AUTH_ERR);
}

Test(pam, another_users_pat_never_logs_in)
{
  char *bob = tu_fixture_pat("bob", 0);

  cr_assert_eq(pt_auth(pt, TA_USER, bob), PAM_AUTH_ERR);
  free(bob);
}

Test(pam, expired_pat_is_auth_err_with_the_reason)
{
  char *pat = tu_fixture_pat_named("judy", "JudyPatExpd");
  const char *answers[] = {pat, NULL};
  struct pt_run r;

  pt_write_map(pt, "judy " TA_USER "\n");
  pt_run(pt, TA_USER, answers, &r);
  cr_assert_eq(r.auth, PAM_AUTH_ERR);
  cr_assert_not_null(r.messages);
  cr_assert_not_null(strstr(r.messages, "expired"), "%s", r.messages);
  pt_run_clear(&r);
  free(pat);
}

Test(pam, pat_from_a_disallowed_ip_is_auth_err)
{
  char *pat = tu_fixture_pat_named("judy", "JudyPatIpOn");

  pt_write_map(pt, "judy " TA_USER "\n");
  cr_assert_eq(pt_auth(pt, TA_USER, pat), PAM_AUTH_ERR);
  free(pat);
}

Test(pam, dhis2_reasons_are_shown_to_the_user)
{
  const char *users[] = {"erin", "frank", "grace", "heidi", "ivan"};
  const char *words[] = {"disabled", "locked", "expired", "password", "enrol"};

  for (size_t i = 0; i < 5; i++) {
    char map[64];
    const char *answers[] = {tu_fixture_string(users[i], "password"), NULL};
    struct pt_run r;

    snprintf(map, sizeof(map), "%s " TA_USER "\n", users[i]);
    pt_write_map(pt, map);
    pt_run(pt, TA_USER, answers, &r);
    cr_assert_eq(r.auth, PAM_AUTH_ERR, "%s", users[i]);
    cr_assert_not_null(r.messages, "%s: no message", users[i]);
    cr_assert_not_null(strstr(r.messages, words[i]), "%s: %s", users[i],
                       r.messages);
    pt_run_clear(&r);
  }
}

/* --- 2FA ----------------------------------------------------------------- */

Test(pam, totp_user_is_asked_for_a_code_and_logs_in)
{
  char code[7];
  struct pt_run r;

  pt_write_map(pt, "carol " TA_USER "\n");
  emu_totp(tu_fixture_string("carol", "secret"), time(NULL), code);
  {
    const char *answers[] = {tu_fixture_string("carol", "password"), code,
                             NULL};
    pt_run(pt, TA_USER, answers, &r);
  }
  cr_assert_eq(r.auth, PAM_SUCCESS, "%s", r.messages ? r.messages : "");
  cr_assert_eq(r.n_prompts, 2);
  cr_assert_not_null(strstr(r.prompts, "DHIS2 verification code: "));
  cr_assert_eq(emu_count(emu, "/api/auth/login"), 2);
  pt_run_clear(&r);
}

Test(pam, totp_wrong_code_is_auth_err)
{
  const char *answers[] = {tu_fixture_string("carol", "password"), "000000",
                           NULL};
  struct pt_run r;

  pt_write_map(pt, "carol " TA_USER "\n");
  pt_run(pt, TA_USER, answers, &r);
  cr_assert_eq(r.auth, PAM_AUTH_ERR);
  pt_run_clear(&r);
}

Test(pam, twofactor_deny_refuses_without_asking)
{
  const char *answers[] = {tu_fixture_string("carol", "password"), NULL};
  struct pt_run r;

  pt_write_map(pt, "carol " TA_USER "\n");
  pt_service(pt, "twofactor=deny");
  pt_run(pt, TA_USER, answers, &r);
  cr_assert_eq(r.auth, PAM_AUTH_ERR);
  cr_assert_eq(r.n_prompts, 1);
  pt_run_clear(&r);
}

Test(pam, email_code_user_is_told_and_logs_in)
{
  /* The code exists only after the first call: answer the prompt with a
     conversation that fetches it. Here: two runs, the second with the
     code the first one caused to be sent. */
  const char *pw = tu_fixture_string("dave", "password");
  const char *first[] = {pw, "000000", NULL};
  struct pt_run r;
  char *code;

  pt_write_map(pt, "dave " TA_USER "\n");
  /* login.security.email_2fa.enabled: off in a stock DHIS2. */
  cr_assert_eq(emu_ctl(emu, "POST", "/settings", "{\"email_2fa\":true}", NULL),
               200);
  pt_run(pt, TA_USER, first, &r);
  cr_assert_eq(r.auth, PAM_AUTH_ERR);
  cr_assert_not_null(strstr(r.messages, "e-mail"), "%s", r.messages);
  pt_run_clear(&r);
  code = emu_email_code(emu, "dave");
  cr_assert_not_null(code);
  {
    const char *second[] = {pw, code, NULL};
    pt_run(pt, TA_USER, second, &r);
  }
  /* The first call of the second run sends a new code: DHIS2 replaces
     it. Whether the old one still counts is DHIS2's business; the module
     must have shown the prompt and sent what it was given. */
  cr_assert_eq(r.n_prompts, 2);
  pt_run_clear(&r);
  free(code);
}

Test(pam, email_2fa_switched_off_signs_in_with_the_password_alone)
{
  /* login.security.email_2fa.enabled is off by default: DHIS2 asks no
     code, so neither may the module. */
  const char *answers[] = {tu_fixture_string("dave", "password"), NULL};
  struct pt_run r;

  pt_write_map(pt, "dave " TA_USER "\n");
  pt_run(pt, TA_USER, answers, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS, "%s", pt_logged());
  cr_assert_eq(r.n_prompts, 1, "%s", r.prompts);
  cr_assert_eq(emu_count(emu, "/api/auth/login"), 1);
  pt_run_clear(&r);
}

/* --- older releases ------------------------------------------------------ */

Test(pam_23710, password_logs_in_by_basic_after_a_bare_401_probe)
{
  /* 2.37.10 answers the anonymous probe with 401 and a Basic challenge,
     never a redirect: still "Basic only". */
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_SUCCESS, "%s",
               pt_logged());
  cr_assert_eq(emu_count(emu, "/api/loginConfig"), 1);
  cr_assert_eq(emu_count(emu, "/api/auth/login"), 0);
  cr_assert_eq(emu_count(emu, NULL), 2, "probe and Basic");
}

Test(pam_23710, wrong_password_is_an_auth_error_not_unavailable)
{
  /* The refusal is Spring's bare 401 (no WebMessage). */
  cr_assert_eq(pt_auth(pt, TA_USER, "Wrong-pw-9"), PAM_AUTH_ERR);
}

Test(pam_237, twofactor_owners_pat_is_refused_with_the_reason)
{
  char *pat = tu_fixture_pat("carol", 0);
  const char *answers[] = {pat, NULL};
  struct pt_run r;

  pt_write_map(pt, "carol " TA_USER "\n");
  pt_run(pt, TA_USER, answers, &r);
  cr_assert_eq(r.auth, PAM_AUTH_ERR);
  cr_assert_not_null(r.messages && strstr(r.messages, "two-factor"), "%s",
                     r.messages ? r.messages : "");
  pt_run_clear(&r);
  free(pat);
}

Test(pam, pat_from_before_241_is_refused_with_create_a_new_token)
{
  /* bob's second token is 2.40-made (plain CRC): 2.41+ refuses it with
     400 "Checksum validation failed". */
  char *pat = tu_fixture_pat("bob", 1);
  const char *answers[] = {pat, NULL};
  struct pt_run r;

  pt_write_map(pt, "bob " TA_USER "\n");
  pt_run(pt, TA_USER, answers, &r);
  cr_assert_eq(r.auth, PAM_AUTH_ERR);
  cr_assert_not_null(r.messages && strstr(r.messages, "create a new"), "%s",
                     r.messages ? r.messages : "");
  cr_assert_not_null(strstr(pt_logged(), "create a new"), "%s", pt_logged());
  pt_run_clear(&r);
  free(pat);
}

/* --- user mapping -------------------------------------------------------- */

Test(pam, unknown_unmapped_user_is_user_unknown_without_a_request)
{
  cr_assert_eq(pt_auth(pt, "no-such-user-here", "x"), PAM_USER_UNKNOWN);
  cr_assert_eq(emu_count(emu, NULL), 0);
}

Test(pam, local_user_below_min_uid_is_user_unknown)
{
  cr_assert_eq(pt_auth(pt, TA_LOW, "x"), PAM_USER_UNKNOWN);
  cr_assert_eq(emu_count(emu, NULL), 0);
}

Test(pam, malformed_user_names_are_refused_without_a_request)
{
  char longname[301];

  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  pt_write_map(pt, "* " TA_KIOSK "\n");
  cr_assert_eq(pt_auth(pt, "al:ice", "x"), PAM_USER_UNKNOWN);
  cr_assert_eq(pt_auth(pt, "al\001ice", "x"), PAM_USER_UNKNOWN);
  cr_assert_eq(pt_auth(pt, longname, "x"), PAM_USER_UNKNOWN);
  cr_assert_eq(emu_count(emu, NULL), 0);
}

Test(pam, kiosk_line_signs_any_dhis2_user_in_as_the_kiosk_account)
{
  struct pt_run r;
  const char *answers[] = {"Alice-pw-1", NULL};

  pt_write_map(pt, "* " TA_KIOSK "\n");
  pt_run(pt, "alice", answers, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS, "%s", r.messages ? r.messages : "");
  cr_assert_str_eq(r.user, TA_KIOSK);
  cr_assert_str_eq(r.env_username, "alice");
  pt_run_clear(&r);
}

Test(pam, kiosk_account_itself_cannot_be_a_dhis2_name)
{
  pt_write_map(pt, "* " TA_KIOSK "\n");
  cr_assert_eq(pt_auth(pt, TA_KIOSK, "Alice-pw-1"), PAM_USER_UNKNOWN);
}

Test(pam, local_user_above_max_uid_is_user_unknown)
{
  pt_write_map(pt, "");
  cr_assert_eq(pt_auth(pt, TA_HIGH, "x"), PAM_USER_UNKNOWN);
  cr_assert_eq(emu_count(emu, NULL), 0);
  /* max_uid moves the bound like min_uid. */
  pt_service(pt, "max_uid=70000");
  cr_assert_eq(pt_auth(pt, TA_HIGH, "x"), PAM_AUTH_ERR);
}

Test(pam, nobody_is_never_authenticated_even_when_mapped)
{
  pt_write_map(pt, "alice nobody\n");
  pt_service(pt, "max_uid=4294967294");
  cr_assert_eq(pt_auth(pt, "nobody", "Alice-pw-1"), PAM_USER_UNKNOWN);
  cr_assert_eq(emu_count(emu, NULL), 0);
}

Test(pam, nobody_as_the_kiosk_account_is_refused)
{
  pt_write_map(pt, "* nobody\n");
  cr_assert_eq(pt_auth(pt, "alice", "Alice-pw-1"), PAM_AUTHINFO_UNAVAIL);
  cr_assert_eq(emu_count(emu, NULL), 0);
  cr_assert_not_null(strstr(pt_logged(), "nobody"), "%s", pt_logged());
}

/* --- identity binding ---------------------------------------------------- */

Test(pam, dhis2_name_differing_in_case_is_refused)
{
  char *pat = tu_fixture_pat("alice", 1);

  /* DHIS2 names are case-sensitive: "ALICE" is not alice, though alice's
     PAT answers for her. */
  pt_write_map(pt, "ALICE " TA_USER "\n");
  cr_assert_eq(pt_auth(pt, TA_USER, pat), PAM_AUTH_ERR);
  cr_assert_not_null(strstr(pt_logged(), "alice " TA_USER), "%s", pt_logged());
  free(pat);
}

Test(pam, another_users_pat_differing_in_case_does_not_sign_in)
{
  char *big_bob = tu_fixture_pat("Bob", 0);
  char *bob = tu_fixture_pat("bob", 0);

  /* DHIS2 has both "Bob" and "bob"; local bob is bob's. */
  pt_write_map(pt, "");
  cr_assert_eq(pt_auth(pt, TA_BOB, big_bob), PAM_AUTH_ERR);
  cr_assert_not_null(strstr(pt_logged(), "\"Bob bob\""), "%s", pt_logged());
  cr_assert_eq(pt_auth(pt, TA_BOB, bob), PAM_SUCCESS);
  free(big_bob);
  free(bob);
}

Test(pam, case_insensitive_name_service_cannot_escape_the_map)
{
  char *pat = tu_fixture_pat("bob", 0);

  /* sssd with case_sensitive = false: "BOB" is the local account bob,
     which the map gives to alice alone. */
  ta_case_insensitive_nss(1);
  pt_write_map(pt, "alice " TA_BOB "\n");
  cr_assert_eq(pt_auth(pt, "BOB", pat), PAM_USER_UNKNOWN);
  cr_assert_eq(emu_count(emu, NULL), 0);
  cr_assert_eq(pt_auth(pt, TA_BOB, pat), PAM_AUTH_ERR);
  free(pat);
}

Test(pam, an_account_sharing_a_mapped_uid_is_the_mapped_account)
{
  char *mallory = tu_fixture_pat("mallory", 0);
  char *alice = tu_fixture_pat("alice", 1);

  /* TA_ALIAS has TA_USER's uid under another name: it is TA_USER, which
     the map gives to alice alone, not a same-named DHIS2 user's. */
  pt_write_map(pt, "alice " TA_USER "\n");
  cr_assert_eq(pt_auth(pt, TA_ALIAS, mallory), PAM_AUTH_ERR);
  cr_assert_eq(pt_auth(pt, TA_ALIAS, alice), PAM_SUCCESS);
  free(mallory);
  free(alice);
}

/* Answers every prompt with the next string of the NULL-ended array. */
static int answer(int n, const struct pam_message **msg,
                  struct pam_response **resp, void *arg)
{
  const char *const **next = arg;
  struct pam_response *r = calloc((size_t)n, sizeof(*r));

  cr_assert_not_null(r);
  for (int i = 0; i < n; i++)
    if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ||
        msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
      cr_assert_not_null(**next);
      r[i].resp = strdup(*(*next)++);
    }
  *resp = r;
  return PAM_SUCCESS;
}

Test(pam, a_failed_attempt_on_a_reused_handle_leaves_no_identity)
{
  pam_handle_t *h = NULL;
  const char *answers[] = {"Alice-pw-1", "wrong", NULL};
  const char *const *next = answers;
  struct pam_conv conv = {.conv = answer, .appdata_ptr = &next};

  pt_service_raw(pt, "auth required @MOD@ @ARGS@\n"
                     "account required @MOD@ @ARGS@ "
                     "require_group=LinuxAdmGrp\n");
  cr_assert_eq(pam_start_confdir("dhis2-test", TA_USER, &conv, pt_dir(pt), &h),
               PAM_SUCCESS);
  cr_assert_eq(pam_authenticate(h, 0), PAM_SUCCESS);
  cr_assert_eq(pam_authenticate(h, 0), PAM_AUTH_ERR);
  /* The account phase must not pass on the first attempt's identity. */
  cr_assert_neq(pam_acct_mgmt(h, 0), PAM_SUCCESS);
  pam_end(h, PAM_SUCCESS);
}

/* --- account policy ------------------------------------------------------ */

Test(pam, require_group_member_passes_account)
{
  struct pt_run r;
  const char *answers[] = {"Alice-pw-1", NULL};

  pt_service(pt, "require_group=Linux\\ admins");
  pt_service_raw(pt, "auth required @MOD@ @ARGS@\n"
                     "account required @MOD@ @ARGS@ "
                     "require_group=LinuxAdmGrp\n");
  pt_run(pt, TA_USER, answers, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS);
  cr_assert_eq(r.acct, PAM_SUCCESS);
  pt_run_clear(&r);
}

Test(pam, require_group_non_member_is_perm_denied_with_a_message)
{
  struct pt_run r;
  const char *answers[] = {tu_fixture_string("bob", "password"), NULL};

  pt_write_map(pt, "bob " TA_USER "\n");
  pt_service_raw(pt, "auth required @MOD@ @ARGS@\n"
                     "account required @MOD@ @ARGS@ "
                     "require_group=LinuxAdmGrp\n");
  pt_run(pt, TA_USER, answers, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS);
  cr_assert_eq(r.acct, PAM_PERM_DENIED);
  cr_assert_not_null(strstr(r.messages, "group"), "%s", r.messages);
  pt_run_clear(&r);
}

/* Runs a password sign-in of DHIS2 user as TA_USER through an account
   line with the policy; returns the account phase's result. */
static int account_with(const char *policy, const char *user,
                        const char *password)
{
  char map[128];
  char raw[512];
  const char *answers[] = {password, NULL};
  struct pt_run r;
  int rc;

  snprintf(map, sizeof(map), "%s " TA_USER "\n", user);
  pt_write_map(pt, map);
  snprintf(raw, sizeof(raw),
           "auth required @MOD@ @ARGS@\n"
           "account required @MOD@ @ARGS@ %s\n",
           policy);
  pt_service_raw(pt, raw);
  pt_run(pt, TA_USER, answers, &r);
  cr_assert_eq(r.auth, PAM_SUCCESS, "%s: %s", user, pt_logged());
  rc = r.acct;
  pt_run_clear(&r);
  return rc;
}

Test(pam_2425, require_group_hidden_by_sharing_is_logged_as_not_visible)
{
  /* peggy is a member of HiddenAdmGp, but its sharing gives its members
     no read access, and 2.42.5 leaves it out of /api/me. */
  cr_assert_eq(
      account_with("require_group=HiddenAdmGp", "peggy", "Peggy-pw-1"),
      PAM_PERM_DENIED);
  cr_assert_not_null(strstr(pt_logged(), "group not visible to the user"),
                     "%s", pt_logged());
  cr_assert_not_null(strstr(pt_logged(), "require_authority"), "%s",
                     pt_logged());
}

Test(pam_2425, require_authority_of_a_hidden_role_still_holds)
{
  cr_assert_eq(account_with("require_authority=M_dhis-web-hidden-app", "peggy",
                            "Peggy-pw-1"),
               PAM_SUCCESS);
  cr_assert_eq(
      account_with("require_group=LinuxAdmGrp", "peggy", "Peggy-pw-1"),
      PAM_SUCCESS);
}

Test(pam, a_missing_group_is_not_blamed_on_sharing_where_none_is_applied)
{
  /* 2.42.0 lists every group of the user: bob is simply not a member. */
  cr_assert_eq(account_with("require_group=LinuxAdmGrp", "bob", "Bob-pw-1"),
               PAM_PERM_DENIED);
  cr_assert_null(strstr(pt_logged(), "not visible"), "%s", pt_logged());
}

Test(pam, a_group_named_like_the_admin_groups_uid_is_refused)
{
  /* mimicgrp made a group named "LinuxAdmGrp" (the admin group's UID)
     and joined it. */
  cr_assert_eq(
      account_with("require_group=LinuxAdmGrp", "mimicgrp", "Mimicgrp-pw-1"),
      PAM_PERM_DENIED);
  cr_assert_not_null(strstr(pt_logged(), "name:LinuxAdmGrp"), "%s",
                     pt_logged());
}

Test(pam, a_group_named_like_the_admin_group_in_another_case_is_refused)
{
  cr_assert_eq(
      account_with("[require_group=Linux admins]", "trudy", "Trudy-pw-1"),
      PAM_PERM_DENIED);
}

Test(pam, the_real_member_passes_by_id_and_by_exact_name)
{
  cr_assert_eq(
      account_with("require_group=LinuxAdmGrp", "alice", "Alice-pw-1"),
      PAM_SUCCESS);
  cr_assert_eq(
      account_with("[require_group=Linux admins]", "alice", "Alice-pw-1"),
      PAM_SUCCESS);
  cr_assert_eq(
      account_with("require_group=id:LinuxAdmGrp", "alice", "Alice-pw-1"),
      PAM_SUCCESS);
  cr_assert_eq(
      account_with("[require_group=name:Linux admins]", "alice", "Alice-pw-1"),
      PAM_SUCCESS);
}

Test(pam, role_look_alikes_are_refused_and_the_real_role_passes)
{
  /* A role named like the Superuser role's UID, and one named like it in
     another case; admin holds the real one. */
  cr_assert_eq(
      account_with("require_role=yrB6vc5Ip3r", "mimicrole", "Mimicrole-pw-1"),
      PAM_PERM_DENIED);
  cr_assert_eq(
      account_with("require_role=Superuser", "trudyrole", "Trudyrole-pw-1"),
      PAM_PERM_DENIED);
  cr_assert_eq(account_with("require_role=yrB6vc5Ip3r", "admin", "district"),
               PAM_SUCCESS);
  cr_assert_eq(account_with("require_role=Superuser", "admin", "district"),
               PAM_SUCCESS);
}

Test(pam, account_without_our_identity_is_ignored)
{
  pam_handle_t *h = NULL;
  struct pam_conv conv = {0};

  pt_service_raw(pt, "account required @MOD@ @ARGS@ require_group=x\n"
                     "account required pam_permit.so\n");
  cr_assert_eq(pam_start_confdir("dhis2-test", TA_USER, &conv, pt_dir(pt), &h),
               PAM_SUCCESS);
  cr_assert_eq(pam_acct_mgmt(h, 0), PAM_SUCCESS);
  pam_end(h, PAM_SUCCESS);
}

/* --- throttle ------------------------------------------------------------ */

Test(pam, throttle_stops_asking_dhis2_after_failure_limit)
{
  for (int i = 0; i < 3; i++)
    cr_assert_eq(pt_auth(pt, TA_USER, "wrong"), PAM_AUTH_ERR);
  cr_assert_eq(emu_count(emu, "/api/auth/login"), 3);
  emu_reset(emu);
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_MAXTRIES);
  cr_assert_eq(emu_count(emu, NULL), 0, "a request was sent");
}

Test(pam, throttle_protects_the_account_from_dhis2_lockout)
{
  /* Ten brute-force attempts: DHIS2 locks after four; ours stops at
     three, so the owner can still log in once the window passes. */
  for (int i = 0; i < 10; i++)
    pt_auth(pt, TA_USER, "wrong");
  cr_assert_eq(emu_count(emu, "/api/auth/login"), 3);
  pt_service(pt, "failure_window=1");
  sleep(2);
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_SUCCESS);
}

Test(pam, success_resets_the_throttle)
{
  for (int i = 0; i < 2; i++)
    cr_assert_eq(pt_auth(pt, TA_USER, "wrong"), PAM_AUTH_ERR);
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_SUCCESS);
  for (int i = 0; i < 2; i++)
    cr_assert_eq(pt_auth(pt, TA_USER, "wrong"), PAM_AUTH_ERR);
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_SUCCESS);
}

Test(pam, parallel_wrong_passwords_reach_dhis2_at_most_failure_limit_times)
{
  pid_t kids[8];

  /* Slow logins, so that all eight are in flight at once, as in an SSH
     brute force with many connections. */
  emu_fault(emu, "{\"mode\":\"delay\",\"ms\":1500,"
                 "\"path\":\"/api/auth/login\"}");
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_SUCCESS);
  emu_reset(emu);
  emu_fault(emu, "{\"mode\":\"delay\",\"ms\":1500,"
                 "\"path\":\"/api/auth/login\"}");
  for (int i = 0; i < 8; i++) {
    kids[i] = fork();
    cr_assert_neq(kids[i], -1);
    if (kids[i] == 0)
      _exit(pt_auth(pt, TA_USER, "wrong"));
  }
  for (int i = 0; i < 8; i++) {
    int status;

    cr_assert_eq(waitpid(kids[i], &status, 0), kids[i]);
    cr_assert(WIFEXITED(status));
    cr_assert(WEXITSTATUS(status) == PAM_AUTH_ERR ||
                  WEXITSTATUS(status) == PAM_MAXTRIES,
              "attempt %d: %d", i, WEXITSTATUS(status));
  }
  cr_assert_leq(emu_count(emu, "/api/auth/login"), 3);
}

Test(pam, a_tripped_throttle_still_takes_the_users_pat)
{
  char *pat = tu_fixture_pat("alice", 1);

  for (int i = 0; i < 3; i++)
    cr_assert_eq(pt_auth(pt, TA_USER, "wrong"), PAM_AUTH_ERR);
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_MAXTRIES);
  cr_assert_eq(pt_auth(pt, TA_USER, pat), PAM_SUCCESS, "%s", pt_logged());
  free(pat);
}

/* Files in state_dir/throttle. */
static int throttle_files(void)
{
  char path[512];
  DIR *d;
  struct dirent *de;
  int n = 0;

  snprintf(path, sizeof(path), "%s/state/throttle", pt_dir(pt));
  d = opendir(path);
  if (d == NULL)
    return 0;
  while ((de = readdir(d)) != NULL)
    if (de->d_name[0] != '.')
      n++;
  closedir(d);
  return n;
}

Test(pam, only_rejected_passwords_leave_a_throttle_record)
{
  char *pat = tu_fixture_pat("alice", 1);

  pt_write_map(pt, "alice " TA_USER "\n* " TA_KIOSK "\n");
  cr_assert_eq(pt_auth(pt, TA_USER, pat), PAM_SUCCESS);
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_SUCCESS);
  emu_fault(emu, "{\"mode\":\"status\",\"code\":503}");
  cr_assert_eq(pt_auth(pt, "no-such-name-1", "pw"), PAM_AUTHINFO_UNAVAIL);
  emu_reset(emu);
  cr_assert_eq(throttle_files(), 0);
  /* Kiosk names nobody has: one record each, gone with the window. */
  cr_assert_eq(pt_auth(pt, "no-such-name-2", "pw"), PAM_AUTH_ERR);
  cr_assert_eq(pt_auth(pt, "no-such-name-3", "pw"), PAM_AUTH_ERR);
  cr_assert_eq(throttle_files(), 2);
  pt_service(pt, "failure_window=1");
  sleep(2);
  cr_assert_eq(pt_auth(pt, TA_USER, "wrong"), PAM_AUTH_ERR);
  cr_assert_eq(throttle_files(), 1);
  free(pat);
}

/* --- unavailable --------------------------------------------------------- */

static void assert_unavailable(const char *fault)
{
  double t0;

  emu_fault(emu, fault);
  t0 = tu_now();
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_AUTHINFO_UNAVAIL, "%s",
               fault);
  /* timeout=2 bounds each request; the slack is for valgrind on a busy
     machine, and still far below the 20 s delay below. */
  cr_assert_lt(tu_now() - t0, 8.0, "%s", fault);
}

Test(pam, server_faults_are_authinfo_unavail)
{
  pt_service(pt, "timeout=2");
  assert_unavailable("{\"mode\":\"status\",\"code\":500}");
  assert_unavailable("{\"mode\":\"close\"}");
  assert_unavailable("{\"mode\":\"malformed\"}");
  assert_unavailable("{\"mode\":\"huge\",\"bytes\":2097152}");
  assert_unavailable("{\"mode\":\"redirect\"}");
  assert_unavailable("{\"mode\":\"delay\",\"ms\":20000}");
  cr_assert_eq(emu_sink_count(emu), 0, "the other host got a request");
}

Test(pam, csrf_protected_server_takes_the_password_once)
{
  /* http.security.csrf.enabled = on (2.42+): every POST needs the token,
     the login and the logout included. */
  cr_assert_eq(emu_ctl(emu, "POST", "/settings", "{\"csrf\":true}", NULL),
               200);
  pt_service(pt, "debug");
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_SUCCESS, "%s",
               pt_logged());
  cr_assert_eq(emu_count(emu, "/api/auth/login"), 1);
  /* The session was logged out, not refused (a 403). */
  cr_assert_not_null(strstr(pt_logged(), "logout.action -> 302"), "%s",
                     pt_logged());
  cr_assert_eq(pt_auth(pt, TA_USER, "wrong"), PAM_AUTH_ERR);
}

Test(pam, a_403_to_the_login_is_unavailable_not_a_wrong_password)
{
  emu_fault(emu, "{\"mode\":\"status\",\"code\":403,"
                 "\"path\":\"/api/auth/login\"}");
  for (int i = 0; i < 4; i++)
    cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_AUTHINFO_UNAVAIL);
  cr_assert_not_null(strstr(pt_logged(), "http.security.csrf.enabled"), "%s",
                     pt_logged());
  /* Not one counted toward the throttle. */
  emu_reset(emu);
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_SUCCESS);
}

Test(pam, server_down_is_authinfo_unavail)
{
  pt_service_raw(pt, "auth required @MOD@ @ARGS@ url=https://127.0.0.1:1\n");
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_AUTHINFO_UNAVAIL);
}

Test(pam, faults_do_not_count_toward_the_throttle)
{
  emu_fault(emu, "{\"mode\":\"status\",\"code\":503}");
  for (int i = 0; i < 4; i++)
    pt_auth(pt, TA_USER, "Alice-pw-1");
  emu_reset(emu);
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_SUCCESS);
}

Test(pam, bad_configuration_is_authinfo_unavail)
{
  pt_service(pt, "timeout=soon");
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_AUTHINFO_UNAVAIL);
  cr_assert_eq(emu_count(emu, NULL), 0);
}

Test(pam, config_file_writable_by_others_is_refused)
{
  char conf[512];
  char raw[1024];
  FILE *f;

  snprintf(conf, sizeof(conf), "%s/pam_dhis2.conf", pt_dir(pt));
  f = fopen(conf, "w");
  cr_assert_not_null(f);
  fprintf(f, "timeout = 5\n");
  fclose(f);
  cr_assert_eq(chmod(conf, 0666), 0);
  snprintf(raw, sizeof(raw), "auth required @MOD@ conf=%s @ARGS@\n", conf);
  pt_service_raw(pt, raw);
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_AUTHINFO_UNAVAIL);
  cr_assert_eq(emu_count(emu, NULL), 0);
}

/* --- use_first_pass ------------------------------------------------------ */

Test(pam, use_first_pass_takes_the_earlier_password_without_a_prompt)
{
  struct pt_run r;
  const char *answers[] = {"Alice-pw-1", NULL};

  pt_service_raw(pt, "auth required @MOD@ @ARGS@ methods=pat\n"
                     "auth required @MOD@ @ARGS@ use_first_pass\n");
  /* The first line prompts and refuses a password (PAT only) but hands
     the password on; the second uses it without asking again. */
  pt_run(pt, TA_USER, answers, &r);
  cr_assert_eq(r.n_prompts, 1);
  cr_assert_eq(emu_count(emu, "/api/auth/login"), 1);
  pt_run_clear(&r);
}

/* --- logs ---------------------------------------------------------------- */

Test(pam, debug_logs_outcomes_but_never_a_secret)
{
  char *pat = tu_fixture_pat("alice", 1);
  const char *carol_pw = tu_fixture_string("carol", "password");
  char code[7];
  struct pt_run r;

  pt_service(pt, "debug");
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_SUCCESS);
  cr_assert_eq(pt_auth(pt, TA_USER, "Wrong-pw-9"), PAM_AUTH_ERR);
  cr_assert_eq(pt_auth(pt, TA_USER, pat), PAM_SUCCESS);
  pt_write_map(pt, "carol " TA_USER "\n");
  emu_totp(tu_fixture_string("carol", "secret"), time(NULL), code);
  {
    const char *answers[] = {carol_pw, code, NULL};
    pt_run(pt, TA_USER, answers, &r);
  }
  cr_assert_eq(r.auth, PAM_SUCCESS);
  pt_run_clear(&r);

  cr_assert_not_null(strstr(pt_logged(), "method=password: success"), "%s",
                     pt_logged());
  cr_assert_not_null(strstr(pt_logged(), "method=pat: success"));
  cr_assert_not_null(strstr(pt_logged(), "Authentication failure"));
  cr_assert_null(strstr(pt_logged(), "Alice-pw-1"));
  cr_assert_null(strstr(pt_logged(), "Wrong-pw-9"));
  cr_assert_null(strstr(pt_logged(), carol_pw));
  cr_assert_null(strstr(pt_logged(), code));
  cr_assert_null(strstr(pt_logged(), pat));
  cr_assert_null(strstr(pt_logged(), pat + 4), "part of the PAT logged");
  cr_assert_null(strstr(pt_logged(), "JSESSIONID="), "a session logged");
  free(pat);
}

Test(pam, token_only_falls_through_without_a_prompt_or_request)
{
  struct pt_run r;

  pt_service_raw(pt, "auth [success=done authinfo_unavail=ignore] @MOD@ "
                     "@ARGS@ methods=token\n"
                     "auth required @MOD@ @ARGS@\n");
  {
    const char *answers[] = {"Alice-pw-1", NULL};
    pt_run(pt, TA_USER, answers, &r);
  }
  /* The token line asks nothing and sends nothing; the password line
     after it does the work. */
  cr_assert_eq(r.auth, PAM_SUCCESS);
  cr_assert_eq(r.n_prompts, 1);
  cr_assert_eq(emu_count(emu, "/api/auth/login"), 1);
  pt_run_clear(&r);
}

/* --- one connection a login -------------------------------------------- */

/* The emulator's count of TCP connections to its main listener, and of
   those whose TLS settled on 1.3. */
static void conn_counts(long *connections, long *tls13)
{
  char *reply = NULL;
  struct json_object *root;
  struct json_object *v;
  struct json_object *tv;

  cr_assert_eq(emu_ctl(emu, "GET", "/counters", NULL, &reply), 200);
  root = json_tokener_parse(reply);
  cr_assert_not_null(root, "%s", reply);
  cr_assert(json_object_object_get_ex(root, "connections", &v), "%s", reply);
  *connections = (long)json_object_get_int64(v);
  *tls13 = 0;
  if (json_object_object_get_ex(root, "tls_versions", &tv) &&
      json_object_object_get_ex(tv, "TLSv1.3", &v))
    *tls13 = (long)json_object_get_int64(v);
  json_object_put(root);
  free(reply);
}

static void assert_one_tls13_connection(long requests)
{
  long conns;
  long tls13;

  cr_assert_eq(emu_count(emu, NULL), requests);
  conn_counts(&conns, &tls13);
  cr_assert_eq(conns, 1, "%ld requests over %ld connections", requests, conns);
  cr_assert_eq(tls13, 1, "TLS 1.3 preferred");
}

Test(pam, first_password_login_probes_and_logs_in_over_one_connection)
{
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_SUCCESS);
  assert_one_tls13_connection(4); /* probe, login, me, logout */
}

Test(pam, password_login_is_one_connection)
{
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_SUCCESS);
  emu_reset(emu);
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_SUCCESS);
  assert_one_tls13_connection(3); /* login, me, logout */
}

Test(pam, pat_login_is_one_connection)
{
  char *pat = tu_fixture_pat("alice", 1);

  cr_assert_eq(pt_auth(pt, TA_USER, pat), PAM_SUCCESS);
  assert_one_tls13_connection(1);
  free(pat);
}

Test(pam, wrong_password_is_one_connection)
{
  cr_assert_eq(pt_auth(pt, TA_USER, "Wrong-pw-9"), PAM_AUTH_ERR);
  assert_one_tls13_connection(2); /* probe, login */
}

Test(pam, totp_login_keeps_its_connection_across_the_prompt)
{
  struct pt_run r;
  char code[7];
  const char *carol_pw = tu_fixture_string("carol", "password");

  pt_write_map(pt, "carol " TA_USER "\n");
  emu_totp(tu_fixture_string("carol", "secret"), time(NULL), code);
  {
    const char *answers[] = {carol_pw, code, NULL};
    pt_run(pt, TA_USER, answers, &r);
  }
  cr_assert_eq(r.auth, PAM_SUCCESS, "%s", r.messages ? r.messages : "");
  pt_run_clear(&r);
  /* probe, login without a code, login with it, me, logout */
  assert_one_tls13_connection(5);
}

Test(pam_240, basic_login_probes_and_logs_in_over_one_connection)
{
  cr_assert_eq(pt_auth(pt, TA_USER, "Alice-pw-1"), PAM_SUCCESS);
  assert_one_tls13_connection(2); /* probe, Basic /api/me */
}
