/* DHIS2's auth API through the library against the emulator: every reply
   shape and every reply mapped to its error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "api_internal.h"
#include "dhis2/api.h"
#include "dhis2/secret.h"
#include "emulator.h"
#include "testutil.h"

static struct emu *emu;
static struct dhis2_client *client;

static void start(const char *version)
{
  emu = emu_start(version, true);
  client = tu_client(emu, 5);
}

static void start_242(void)
{
  start("2.42");
}

static void start_241(void)
{
  start("2.41");
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

static void stop(void)
{
  dhis2_client_free(client);
  client = NULL;
  emu_stop(emu);
  emu = NULL;
}

/* Basic /api/me for user; the identity is freed unless out is given. */
static enum dhis2_err me_basic(const char *user, const char *pw,
                               struct dhis2_identity **out)
{
  struct dhis2_identity *id = NULL;
  enum dhis2_err rc = dhis2_api_me(client, DHIS2_AUTH_BASIC, user, pw, &id);

  if (out != NULL)
    *out = id;
  else
    dhis2_identity_free(id);
  return rc;
}

static enum dhis2_err me_token(enum dhis2_auth kind, const char *secret,
                               char **username)
{
  struct dhis2_identity *id = NULL;
  enum dhis2_err rc = dhis2_api_me(client, kind, NULL, secret, &id);

  if (username != NULL)
    *username = id ? strdup(id->username) : NULL;
  dhis2_identity_free(id);
  return rc;
}

static enum dhis2_err login(const char *user, const char *pw, const char *code)
{
  char *cookies = NULL;
  enum dhis2_err rc = dhis2_api_login(client, user, pw, code, &cookies);

  if (rc == DHIS2_OK) {
    cr_assert_not_null(cookies);
    dhis2_api_logout(client, cookies);
  }
  dhis2_secret_free(cookies);
  return rc;
}

/* --- /api/me shapes, one per version ----------------------------------- */

static void assert_admin(const struct dhis2_identity *id)
{
  cr_assert_not_null(id);
  cr_assert_str_eq(id->username, "admin");
  cr_assert_str_eq(id->id, "xE7jOejl9FI");
  cr_assert(dhis2_identity_has_role(id, "Superuser"));
  cr_assert(dhis2_identity_has_group(id, "Administrators"));
}

TestSuite(api_242, .init = start_242, .fini = stop, .timeout = 30);
TestSuite(api_241, .init = start_241, .fini = stop, .timeout = 30);
TestSuite(api_240, .init = start_240, .fini = stop, .timeout = 30);
TestSuite(api_237, .init = start_237, .fini = stop, .timeout = 30);
TestSuite(api_23710, .init = start_23710, .fini = stop, .timeout = 30);

Test(api_242, me_with_basic_reads_the_242_shape)
{
  struct dhis2_identity *id = NULL;

  cr_assert_eq(me_basic("admin", "district", &id), DHIS2_OK);
  assert_admin(id);
  cr_assert(dhis2_identity_has_authority(id, "ALL"));
  dhis2_identity_free(id);
  cr_assert_eq(emu_count(emu, "/api/me"), 1);
}

Test(api_240, me_with_basic_reads_the_240_shape)
{
  struct dhis2_identity *id = NULL;

  cr_assert_eq(me_basic("admin", "district", &id), DHIS2_OK);
  assert_admin(id);
  dhis2_identity_free(id);
}

Test(api_237, me_with_basic_reads_the_237_shape)
{
  struct dhis2_identity *id = NULL;

  cr_assert_eq(me_basic("admin", "district", &id), DHIS2_OK);
  assert_admin(id);
  dhis2_identity_free(id);
}

Test(api_242, me_asks_for_the_fields_every_version_needs)
{
  char *log = NULL;

  cr_assert_eq(me_basic("admin", "district", NULL), DHIS2_OK);
  emu_ctl(emu, "GET", "/requests", NULL, &log);
  cr_assert_not_null(strstr(log, "fields=id,username,"), "%s", log);
  cr_assert_not_null(strstr(log, "userCredentials%5Busername"), "%s", log);
  free(log);
}

/* --- Basic: each refusal ------------------------------------------------ */

Test(api_242, wrong_password_is_rejected_with_one_request)
{
  cr_assert_eq(me_basic("alice", "not-her-password", NULL),
               DHIS2_ERR_REJECTED);
  cr_assert_eq(emu_count(emu, NULL), 1);
}

Test(api_242, unknown_user_is_rejected)
{
  cr_assert_eq(me_basic("nobody", "whatever", NULL), DHIS2_ERR_REJECTED);
}

Test(api_240, disabled_account_is_reported_as_disabled)
{
  cr_assert_eq(me_basic("erin", tu_fixture_string("erin", "password"), NULL),
               DHIS2_ERR_DISABLED);
}

Test(api_240, locked_account_is_reported_as_locked)
{
  cr_assert_eq(me_basic("frank", tu_fixture_string("frank", "password"), NULL),
               DHIS2_ERR_LOCKED);
}

Test(api_240, two_factor_user_cannot_use_basic)
{
  cr_assert_eq(me_basic("carol", tu_fixture_string("carol", "password"), NULL),
               DHIS2_ERR_REJECTED);
}

Test(api_242, password_with_colon_and_non_ascii_works)
{
  const char *pw = tu_fixture_string("uma", "password");

  cr_assert_not_null(strchr(pw, ':'));
  cr_assert_eq(me_basic("uma", pw, NULL), DHIS2_OK);
}

Test(api_242, four_kib_password_is_sent_and_rejected)
{
  char pw[4097];

  memset(pw, 'x', sizeof(pw) - 1);
  pw[sizeof(pw) - 1] = '\0';
  cr_assert_eq(me_basic("alice", pw, NULL), DHIS2_ERR_REJECTED);
}

Test(api_242, bad_usernames_are_refused_before_any_request)
{
  char longname[301];

  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  cr_assert_eq(me_basic("al:ice", "x", NULL), DHIS2_ERR_INVAL);
  cr_assert_eq(me_basic("al\nice", "x", NULL), DHIS2_ERR_INVAL);
  cr_assert_eq(me_basic(longname, "x", NULL), DHIS2_ERR_INVAL);
  cr_assert_eq(me_basic("", "x", NULL), DHIS2_ERR_INVAL);
  cr_assert_eq(emu_count(emu, NULL), 0);
}

Test(api_242, secret_with_a_newline_is_refused_before_any_request)
{
  cr_assert_eq(me_token(DHIS2_AUTH_BEARER, "abc\r\nX-Evil: 1", NULL),
               DHIS2_ERR_INVAL);
  cr_assert_eq(emu_count(emu, NULL), 0);
}

/* --- PATs ---------------------------------------------------------------- */

Test(api_242, v1_pat_reads_its_owner)
{
  char *pat = tu_fixture_pat("alice", 0);
  char *who = NULL;

  cr_assert(strncmp(pat, "d2pat_", 6) == 0);
  cr_assert_eq(me_token(DHIS2_AUTH_APITOKEN, pat, &who), DHIS2_OK);
  cr_assert_str_eq(who, "alice");
  free(who);
  free(pat);
}

Test(api_242, v2_pat_reads_its_owner)
{
  char *pat = tu_fixture_pat("alice", 1);
  char *who = NULL;

  cr_assert(strncmp(pat, "d2p_", 4) == 0);
  cr_assert_eq(me_token(DHIS2_AUTH_APITOKEN, pat, &who), DHIS2_OK);
  cr_assert_str_eq(who, "alice");
  free(who);
  free(pat);
}

Test(api_242, another_users_pat_reads_that_user)
{
  char *pat = tu_fixture_pat("bob", 0);
  char *who = NULL;

  /* The library reports who DHIS2 says it is; binding it is the caller's
     job, and this is what the caller compares. */
  cr_assert_eq(me_token(DHIS2_AUTH_APITOKEN, pat, &who), DHIS2_OK);
  cr_assert_str_eq(who, "bob");
  free(who);
  free(pat);
}

Test(api_242, expired_pat_is_reported_as_expired)
{
  char *pat = tu_fixture_pat_named("judy", "JudyPatExpd");

  cr_assert_eq(me_token(DHIS2_AUTH_APITOKEN, pat, NULL),
               DHIS2_ERR_TOKEN_EXPIRED);
  free(pat);
}

Test(api_242, pat_from_a_disallowed_ip_is_denied)
{
  char *pat = tu_fixture_pat_named("judy", "JudyPatIpOn");

  cr_assert_eq(me_token(DHIS2_AUTH_APITOKEN, pat, NULL),
               DHIS2_ERR_TOKEN_DENIED);
  free(pat);
}

Test(api_242, pat_for_another_method_is_denied)
{
  char *pat = tu_fixture_pat_named("judy", "JudyPatPost");

  cr_assert_eq(me_token(DHIS2_AUTH_APITOKEN, pat, NULL),
               DHIS2_ERR_TOKEN_DENIED);
  free(pat);
}

Test(api_242, pat_with_a_bad_checksum_is_token_checksum)
{
  char *pat = tu_fixture_pat("alice", 1);

  pat[strlen(pat) - 1] = pat[strlen(pat) - 1] == 'A' ? 'B' : 'A';
  cr_assert_eq(me_token(DHIS2_AUTH_APITOKEN, pat, NULL),
               DHIS2_ERR_TOKEN_CHECKSUM);
  free(pat);
}

Test(api_242, pat_issued_by_240_is_token_checksum)
{
  char *pat = tu_fixture_pat("bob", 1); /* plain CRC, as 2.37-2.40 made */

  cr_assert_eq(me_token(DHIS2_AUTH_APITOKEN, pat, NULL),
               DHIS2_ERR_TOKEN_CHECKSUM);
  free(pat);
}

Test(api_242, unknown_pat_is_rejected)
{
  /* Well formed, right checksum, never issued. */
  char *pat = tu_fresh_pat_v2();

  cr_assert_eq(me_token(DHIS2_AUTH_APITOKEN, pat, NULL), DHIS2_ERR_REJECTED);
  free(pat);
}

/* --- POST /api/auth/login ----------------------------------------------- */

Test(api_242, login_gives_a_session_that_reads_me_until_logout)
{
  char *cookies = NULL;
  char *who = NULL;

  cr_assert_eq(dhis2_api_login(client, "alice", "Alice-pw-1", NULL, &cookies),
               DHIS2_OK);
  cr_assert_eq(me_token(DHIS2_AUTH_SESSION, cookies, &who), DHIS2_OK);
  cr_assert_str_eq(who, "alice");
  free(who);
  cr_assert_eq(dhis2_api_logout(client, cookies), DHIS2_OK);
  cr_assert_eq(me_token(DHIS2_AUTH_SESSION, cookies, NULL),
               DHIS2_ERR_REJECTED);
  dhis2_secret_free(cookies);
  cr_assert_eq(emu_count(emu, "/api/auth/login"), 1);
}

Test(api_242, login_wrong_password_is_rejected)
{
  cr_assert_eq(login("alice", "wrong", NULL), DHIS2_ERR_REJECTED);
  cr_assert_eq(emu_count(emu, NULL), 1);
}

Test(api_242, login_reports_each_account_state)
{
  cr_assert_eq(login("erin", tu_fixture_string("erin", "password"), NULL),
               DHIS2_ERR_DISABLED);
  cr_assert_eq(login("frank", tu_fixture_string("frank", "password"), NULL),
               DHIS2_ERR_LOCKED);
  cr_assert_eq(login("grace", tu_fixture_string("grace", "password"), NULL),
               DHIS2_ERR_EXPIRED);
  cr_assert_eq(login("heidi", tu_fixture_string("heidi", "password"), NULL),
               DHIS2_ERR_PASSWORD_EXPIRED);
  cr_assert_eq(login("ivan", tu_fixture_string("ivan", "password"), NULL),
               DHIS2_ERR_2FA_ENROL);
}

Test(api_242, totp_user_needs_a_code_and_the_right_one_logs_in)
{
  const char *pw = tu_fixture_string("carol", "password");
  char code[7];

  cr_assert_eq(login("carol", pw, NULL), DHIS2_ERR_2FA_REQUIRED);
  cr_assert_eq(login("carol", pw, "000000"), DHIS2_ERR_2FA_BAD_CODE);
  emu_totp(tu_fixture_string("carol", "secret"), time(NULL), code);
  cr_assert_eq(login("carol", pw, code), DHIS2_OK);
}

Test(api_242, email_user_is_sent_a_code_and_it_logs_in)
{
  const char *pw = tu_fixture_string("dave", "password");
  char *code;

  /* login.security.email_2fa.enabled: off in a stock DHIS2. */
  cr_assert_eq(emu_ctl(emu, "POST", "/settings", "{\"email_2fa\":true}", NULL),
               200);
  cr_assert_eq(login("dave", pw, NULL), DHIS2_ERR_2FA_CODE_SENT);
  code = emu_email_code(emu, "dave");
  cr_assert_not_null(code);
  cr_assert_eq(login("dave", pw, code), DHIS2_OK);
  free(code);
}

Test(api_242, lockout_after_four_failures_refuses_the_right_password)
{
  const char *pw = tu_fixture_string("mallory", "password");

  for (int i = 0; i < 4; i++)
    cr_assert_eq(login("mallory", "wrong", NULL), DHIS2_ERR_REJECTED);
  cr_assert_eq(login("mallory", pw, NULL), DHIS2_ERR_LOCKED);
  emu_ctl(emu, "POST", "/clock", "{\"offset_s\":901}", NULL);
  cr_assert_eq(login("mallory", pw, NULL), DHIS2_OK);
}

Test(api_242, client_keeps_the_date_of_the_latest_reply_that_had_one)
{
  time_t ahead;

  cr_assert_eq(client->server_date, 0, "no reply yet");
  emu_clock(emu, 86400);
  cr_assert_eq(me_basic("alice", "Alice-pw-1", NULL), DHIS2_OK);
  ahead = client->server_date;
  cr_assert_lt(labs((long)(ahead - (time(NULL) + 86400))), 5, "date %lld",
               (long long)ahead);
  /* A reply without a Date leaves the one seen before. */
  emu_fault(emu, "{\"mode\":\"date\"}");
  cr_assert_eq(me_basic("alice", "Alice-pw-1", NULL), DHIS2_OK);
  cr_assert_eq(client->server_date, ahead);
  /* Nor does a server that cannot be reached. */
  emu_outage(emu, "refuse");
  cr_assert_eq(me_basic("alice", "Alice-pw-1", NULL), DHIS2_ERR_CONNECT);
  cr_assert_eq(client->server_date, ahead);
}

Test(api_241, login_works_on_241)
{
  cr_assert_eq(login("alice", "Alice-pw-1", NULL), DHIS2_OK);
}

Test(api_240, login_endpoint_answers_401_before_241)
{
  /* Not 404: the path is behind authentication on older servers, which
     is why the server kind is probed without a credential first. */
  cr_assert_eq(login("alice", "Alice-pw-1", NULL), DHIS2_ERR_REJECTED);
}

static void assert_kind(enum dhis2_server_kind want)
{
  enum dhis2_server_kind kind;
  char release[DHIS2_RELEASE_MAX];
  char *log = NULL;

  cr_assert_eq(dhis2_api_server_kind(client, &kind, release, sizeof(release)),
               DHIS2_OK);
  cr_assert_eq(kind, want);
  cr_assert_eq(emu_count(emu, NULL), 1);
  emu_ctl(emu, "GET", "/requests", NULL, &log);
  cr_assert_null(strstr(log, "\"authorization\""), "a credential was sent");
  free(log);
}

Test(api_242, server_kind_of_242_is_login_api)
{
  assert_kind(DHIS2_SERVER_LOGIN_API);
}

Test(api_241, server_kind_of_241_is_login_api)
{
  assert_kind(DHIS2_SERVER_LOGIN_API);
}

Test(api_240, server_kind_of_240_is_basic_only)
{
  assert_kind(DHIS2_SERVER_BASIC_ONLY);
}

Test(api_237, server_kind_of_237_is_basic_only)
{
  assert_kind(DHIS2_SERVER_BASIC_ONLY);
}

Test(api_23710, server_kind_of_23710_is_basic_only_despite_the_bare_401)
{
  assert_kind(DHIS2_SERVER_BASIC_ONLY);
}

Test(api_242, server_kind_also_tells_the_release)
{
  enum dhis2_server_kind kind;
  char release[DHIS2_RELEASE_MAX];

  emu_ctl(emu, "POST", "/version", "{\"version\":\"2.42.5\"}", NULL);
  cr_assert_eq(dhis2_api_server_kind(client, &kind, release, sizeof(release)),
               DHIS2_OK);
  cr_assert_str_eq(release, "2.42.5");
  emu_ctl(emu, "POST", "/version", "{\"version\":\"2.37\"}", NULL);
  cr_assert_eq(dhis2_api_server_kind(client, &kind, release, sizeof(release)),
               DHIS2_OK);
  cr_assert_str_eq(release, "", "an older server does not say");
}

Test(me_acl, releases_that_filter_me_by_sharing)
{
  const char *filtering[] = {
      "2.40.11",       "2.40.11.1", "2.40.12", "2.41.8", "2.41.8.2",
      "2.42.5",        "2.42.5.2",  "2.42.6",  "2.43.0", "2.43-SNAPSHOT",
      "2.44-SNAPSHOT", "2.45.1",    NULL};
  const char *not_filtering[] = {"2.37.10", "2.39.3",   "2.40.10",
                                 "2.41.0",  "2.41.7",   "2.42.0",
                                 "2.42.4",  "2.42.4.1", NULL};
  const char *unknown[] = {"", "master", "2", "2.x", "3.0.0", NULL};

  for (const char *const *v = filtering; *v; v++)
    cr_assert_eq(dhis2_release_me_acl(*v), DHIS2_ME_ACL_FILTERED, "%s", *v);
  for (const char *const *v = not_filtering; *v; v++)
    cr_assert_eq(dhis2_release_me_acl(*v), DHIS2_ME_ACL_NONE, "%s", *v);
  for (const char *const *v = unknown; *v; v++)
    cr_assert_eq(dhis2_release_me_acl(*v), DHIS2_ME_ACL_UNKNOWN, "%s", *v);
  cr_assert_eq(dhis2_release_me_acl(NULL), DHIS2_ME_ACL_UNKNOWN);
}

Test(api_242, server_kind_probe_fails_on_a_server_error)
{
  enum dhis2_server_kind kind;
  char release[DHIS2_RELEASE_MAX];

  emu_fault(emu, "{\"mode\":\"status\",\"code\":503}");
  cr_assert_eq(dhis2_api_server_kind(client, &kind, release, sizeof(release)),
               DHIS2_ERR_SERVER);
}

Test(api_242, login_body_escapes_quotes_and_backslashes)
{
  /* A password with JSON syntax in it must arrive as that password. */
  cr_assert_eq(login("alice", "\"Alice-pw-1\\", NULL), DHIS2_ERR_REJECTED);
  cr_assert_eq(login("uma", tu_fixture_string("uma", "password"), NULL),
               DHIS2_OK);
}

/* --- Faults: each gives its error within timeout + 1 s ------------------ */

static void assert_fault(const char *fault, enum dhis2_err want)
{
  double t0;
  enum dhis2_err rc;

  emu_fault(emu, fault);
  t0 = tu_now();
  rc = me_basic("alice", "Alice-pw-1", NULL);
  cr_assert_eq(rc, want, "%s: got %s", fault, dhis2_strerror(rc));
  cr_assert_lt(tu_now() - t0, 6.0, "%s took too long", fault);
  cr_assert_eq(dhis2_err_class(rc), DHIS2_CLASS_UNAVAILABLE);
}

Test(api_242, faults_map_to_unavailable_errors)
{
  assert_fault("{\"mode\":\"status\",\"code\":500}", DHIS2_ERR_SERVER);
  assert_fault("{\"mode\":\"status\",\"code\":502}", DHIS2_ERR_SERVER);
  assert_fault("{\"mode\":\"status\",\"code\":503}", DHIS2_ERR_SERVER);
  assert_fault("{\"mode\":\"close\"}", DHIS2_ERR_CONNECT);
  assert_fault("{\"mode\":\"malformed\"}", DHIS2_ERR_MALFORMED);
  assert_fault("{\"mode\":\"huge\",\"bytes\":2097152}", DHIS2_ERR_TOO_LARGE);
  assert_fault("{\"mode\":\"redirect\"}", DHIS2_ERR_REDIRECT);
  cr_assert_eq(emu_sink_count(emu), 0);
}

Test(api_242, slow_server_is_a_timeout_within_timeout_plus_one_second)
{
  struct dhis2_client *fast = tu_client(emu, 1);
  struct dhis2_identity *id = NULL;
  double t0 = tu_now();

  emu_fault(emu, "{\"mode\":\"delay\",\"ms\":4000}");
  cr_assert_eq(
      dhis2_api_me(fast, DHIS2_AUTH_BASIC, "alice", "Alice-pw-1", &id),
      DHIS2_ERR_TIMEOUT);
  cr_assert_lt(tu_now() - t0, 2.0);
  dhis2_client_free(fast);
}

Test(api_242, login_redirect_is_not_followed)
{
  emu_fault(emu, "{\"mode\":\"redirect\"}");
  cr_assert_eq(login("alice", "Alice-pw-1", NULL), DHIS2_ERR_REDIRECT);
  cr_assert_eq(emu_sink_count(emu), 0);
}

Test(api_242, client_refuses_plain_http_to_a_remote_host)
{
  struct dhis2_config cfg = {.url = "http://dhis2.example.org",
                             .allow_http = true,
                             .connect_timeout = 5,
                             .timeout = 5};
  struct dhis2_client *c = NULL;

  cr_assert_eq(dhis2_client_new(&cfg, NULL, &c), DHIS2_ERR_CONFIG);
  cr_assert_null(c);
}

/* --- The login API's replies, without a server --------------------------- */

/* A reply as the transfer would leave it: body and cookies borrowed. */
static struct dhis2_http_resp reply(long status, const char *body,
                                    const char *cookies)
{
  struct dhis2_http_resp r = {.status = status,
                              .body = (char *)body,
                              .body_len = strlen(body),
                              .cookies = (char *)cookies};

  return r;
}

Test(login_reply, success_with_a_session_cookie_signs_in)
{
  struct dhis2_http_resp r =
      reply(200, "{\"loginStatus\":\"SUCCESS\",\"redirectUrl\":\"/\"}",
            "JSESSIONID=0123456789ABCDEF0123456789ABCDEF");

  cr_assert_eq(dhis2_api_login_reply(&r, false), DHIS2_OK);
}

Test(login_reply, success_without_a_session_is_malformed)
{
  struct dhis2_http_resp r =
      reply(200, "{\"loginStatus\":\"SUCCESS\",\"redirectUrl\":\"/\"}", NULL);

  cr_assert_eq(dhis2_api_login_reply(&r, false), DHIS2_ERR_MALFORMED);
}

Test(login_reply, each_login_status_is_told_apart)
{
  struct dhis2_http_resp r =
      reply(200, "{\"loginStatus\":\"ACCOUNT_LOCKED\"}", NULL);

  cr_assert_eq(dhis2_api_login_reply(&r, false), DHIS2_ERR_LOCKED);
  r = reply(200, "{\"loginStatus\":\"INCORRECT_TWO_FACTOR_CODE_TOTP\"}", NULL);
  cr_assert_eq(dhis2_api_login_reply(&r, false), DHIS2_ERR_2FA_REQUIRED);
  cr_assert_eq(dhis2_api_login_reply(&r, true), DHIS2_ERR_2FA_BAD_CODE);
  r = reply(200, "{\"loginStatus\":\"EMAIL_TWO_FACTOR_CODE_SENT\"}", NULL);
  cr_assert_eq(dhis2_api_login_reply(&r, false), DHIS2_ERR_2FA_CODE_SENT);
}

Test(login_reply, a_reply_without_a_known_login_status_is_malformed)
{
  const char *bodies[] = {"{\"loginStatus\":\"SOMETHING_NEW\"}",
                          "{\"loginStatus\":1}",
                          "{\"redirectUrl\":\"/\"}",
                          "<html>DHIS 2</html>",
                          "",
                          NULL};

  for (const char *const *b = bodies; *b; b++) {
    struct dhis2_http_resp r = reply(200, *b, "JSESSIONID=X");

    cr_assert_eq(dhis2_api_login_reply(&r, false), DHIS2_ERR_MALFORMED, "%s",
                 *b);
  }
}

Test(login_reply, a_403_is_never_a_wrong_password)
{
  struct dhis2_http_resp r =
      reply(403, "{\"httpStatusCode\":403,\"message\":\"Forbidden\"}", NULL);

  cr_assert_eq(dhis2_api_login_reply(&r, false), DHIS2_ERR_HTTP);
}

Test(login_reply, a_401_is_rejected_and_a_404_unsupported)
{
  struct dhis2_http_resp r =
      reply(401,
            "{\"httpStatus\":\"Unauthorized\",\"httpStatusCode\":401,"
            "\"status\":\"ERROR\",\"message\":\"Bad credentials\"}",
            NULL);

  cr_assert_eq(dhis2_api_login_reply(&r, false), DHIS2_ERR_REJECTED);
  r = reply(404, "", NULL);
  cr_assert_eq(dhis2_api_login_reply(&r, false), DHIS2_ERR_UNSUPPORTED);
}

static enum dhis2_server_kind login_config(const char *body, char *release,
                                           size_t len)
{
  enum dhis2_server_kind kind;

  cr_assert_eq(
      dhis2_api_login_config_parse(body, strlen(body), &kind, release, len),
      DHIS2_OK);
  return kind;
}

Test(login_config, an_api_version_means_the_login_api_and_names_the_release)
{
  char release[DHIS2_RELEASE_MAX];

  cr_assert_eq(login_config("{\"applicationTitle\":\"DHIS 2\","
                            "\"apiVersion\":\"2.44-SNAPSHOT\","
                            "\"oidcProviders\":[]}",
                            release, sizeof(release)),
               DHIS2_SERVER_LOGIN_API);
  cr_assert_str_eq(release, "2.44-SNAPSHOT");
}

Test(login_config, an_odd_api_version_still_means_the_login_api_but_no_release)
{
  const char *bodies[] = {
      "{\"apiVersion\":2.42}", "{\"apiVersion\":\"2.42 <b>\"}",
      "{\"apiVersion\":\"\"}",
      "{\"apiVersion\":\"2.42.5.2.2.2.2.2.2.2.2.2.2.2.2\"}", NULL};
  char release[16];

  for (const char *const *b = bodies; *b; b++) {
    cr_assert_eq(login_config(*b, release, sizeof(release)),
                 DHIS2_SERVER_LOGIN_API, "%s", *b);
    cr_assert_str_eq(release, "", "%s", *b);
  }
}

Test(login_config, a_login_page_or_no_api_version_means_basic_only)
{
  const char *bodies[] = {"<!DOCTYPE html><html><title>DHIS 2</title>",
                          "{\"applicationTitle\":\"DHIS 2\"}",
                          "[{\"apiVersion\":\"2.42.5\"}]", "", NULL};
  char release[DHIS2_RELEASE_MAX];

  for (const char *const *b = bodies; *b; b++) {
    cr_assert_eq(login_config(*b, release, sizeof(release)),
                 DHIS2_SERVER_BASIC_ONLY, "%s", *b);
    cr_assert_str_eq(release, "", "%s", *b);
  }
}

/* --- /api/users replies, without a server -------------------------------- */

/* Parses tests/unit/data/name as a lookup of alice. */
static enum dhis2_err users_fixture(const char *name, struct dhis2_account *a)
{
  const char *top = getenv("DHIS2_SRCDIR");
  char path[4096];
  char buf[16384];
  FILE *f;
  size_t n;

  snprintf(path, sizeof(path), "%s/tests/unit/data/%s", top ? top : ".", name);
  f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot open %s", path);
  n = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  cr_assert(n > 0 && n < sizeof(buf));
  return dhis2_users_reply_parse(buf, n, "alice", a);
}

static enum dhis2_err users(const char *json, struct dhis2_account *a)
{
  return dhis2_users_reply_parse(json, strlen(json), "alice", a);
}

/* The error of a lookup reply whose account is not wanted. */
static enum dhis2_err users_rc(const char *json)
{
  struct dhis2_account a;
  enum dhis2_err rc = users(json, &a);

  if (rc != DHIS2_OK)
    cr_assert_null(a.id, "out filled although the parse failed");
  dhis2_account_clear(&a);
  return rc;
}

Test(users_reply, dhis2_2_37_keeps_the_account_under_user_credentials)
{
  struct dhis2_account a;

  cr_assert_eq(users_fixture("users-2.37.json", &a), DHIS2_OK);
  cr_assert_str_eq(a.id->username, "alice");
  cr_assert_str_eq(a.id->id, "M5zQapPyTZI");
  cr_assert_not(a.disabled);
  cr_assert_eq(a.account_expiry, 1909008000); /* 2030-06-30 UTC */
  cr_assert(dhis2_identity_has_group(a.id, "Administrators"));
  cr_assert(dhis2_identity_has_role(a.id, "UYXOT4A7JMI"));
  cr_assert(dhis2_identity_orgunit_within(a.id, "O6uvpzGd5pu"));
  dhis2_account_clear(&a);
  cr_assert_null(a.id);
}

Test(users_reply, dhis2_2_40_merges_both_copies_of_the_roles)
{
  struct dhis2_account a;

  cr_assert_eq(users_fixture("users-2.40.json", &a), DHIS2_OK);
  cr_assert_eq(a.id->n_roles, 2);
  cr_assert_eq(a.id->n_authorities, 3);
  cr_assert(dhis2_identity_has_authority(a.id, "M_dhis-web-dashboard"));
  cr_assert_eq(a.account_expiry, 0);
  dhis2_account_clear(&a);
}

Test(users_reply, dhis2_2_42_reads_the_top_level_and_only_the_exact_name)
{
  struct dhis2_account a;

  cr_assert_eq(users_fixture("users-2.42.json", &a), DHIS2_OK);
  cr_assert_str_eq(a.id->id, "M5zQapPyTZI"); /* not "Alice" */
  cr_assert(a.disabled);
  cr_assert_eq(a.account_expiry, 1577836800); /* 2020-01-01 UTC */
  cr_assert_eq(a.id->n_groups, 2);
  cr_assert_eq(a.id->n_orgunits, 2);
  dhis2_account_clear(&a);
}

Test(users_reply, authorities_are_the_union_of_the_roles_without_repeats)
{
  struct dhis2_account a;

  cr_assert_eq(users_fixture("users-2.42.json", &a), DHIS2_OK);
  cr_assert_eq(a.id->n_authorities, 3);
  cr_assert_str_eq(a.id->authorities[0], "F_DATAVALUE_ADD");
  cr_assert_str_eq(a.id->authorities[1], "M_dhis-web-dataentry");
  cr_assert_str_eq(a.id->authorities[2], "M_dhis-web-dashboard");
  dhis2_account_clear(&a);
}

Test(users_reply, a_top_level_authorities_list_is_not_the_users)
{
  struct dhis2_account a;

  cr_assert_eq(users("{\"users\":[{\"username\":\"alice\","
                     "\"authorities\":[\"ALL\"]}]}",
                     &a),
               DHIS2_OK);
  cr_assert_eq(a.id->n_authorities, 0);
  dhis2_account_clear(&a);
}

Test(users_reply, disabled_in_either_place_is_disabled)
{
  struct dhis2_account a;

  cr_assert_eq(users("{\"users\":[{\"username\":\"alice\",\"disabled\":false,"
                     "\"userCredentials\":{\"username\":\"alice\","
                     "\"disabled\":true}}]}",
                     &a),
               DHIS2_OK);
  cr_assert(a.disabled);
  dhis2_account_clear(&a);
}

Test(users_reply, the_earlier_of_two_expiries_holds)
{
  struct dhis2_account a;

  cr_assert_eq(
      users(
          "{\"users\":[{\"username\":\"alice\",\"accountExpiry\":"
          "\"2030-01-01T00:00:00.000\",\"userCredentials\":{\"accountExpiry\":"
          "\"2029-01-01T00:00:00.000\"}}]}",
          &a),
      DHIS2_OK);
  cr_assert_eq(a.account_expiry, 1861920000); /* 2029-01-01 UTC */
  dhis2_account_clear(&a);
}

Test(users_reply, a_null_expiry_is_none)
{
  struct dhis2_account a;

  cr_assert_eq(users("{\"users\":[{\"username\":\"alice\","
                     "\"accountExpiry\":null,\"disabled\":null}]}",
                     &a),
               DHIS2_OK);
  cr_assert_eq(a.account_expiry, 0);
  cr_assert_not(a.disabled);
  dhis2_account_clear(&a);
}

Test(users_reply, no_user_of_exactly_that_name_is_no_user)
{
  cr_assert_eq(users_rc("{\"users\":[]}"), DHIS2_ERR_NO_USER);
  cr_assert_eq(users_rc("{\"pager\":{\"total\":0},\"users\":[]}"),
               DHIS2_ERR_NO_USER);
  cr_assert_eq(users_rc("{\"users\":[{\"username\":\"Alice\"},"
                        "{\"username\":\"alice \"},{\"username\":\"alic\"},"
                        "{\"username\":\"alice\\u0000x\"},7,null]}"),
               DHIS2_ERR_NO_USER);
}

Test(users_reply, two_users_of_that_name_are_malformed)
{
  cr_assert_eq(users_rc("{\"users\":[{\"username\":\"alice\"},"
                        "{\"userCredentials\":{\"username\":\"alice\"}}]}"),
               DHIS2_ERR_MALFORMED);
}

Test(users_reply, a_user_whose_two_usernames_disagree_is_malformed)
{
  cr_assert_eq(users_rc("{\"users\":[{\"username\":\"mallory\","
                        "\"userCredentials\":{\"username\":\"alice\"}}]}"),
               DHIS2_ERR_MALFORMED);
  cr_assert_eq(users_rc("{\"users\":[{\"username\":\"alice\","
                        "\"userCredentials\":{\"username\":\"Alice\"}}]}"),
               DHIS2_ERR_MALFORMED);
}

Test(users_reply, account_fields_of_the_wrong_type_are_malformed)
{
  cr_assert_eq(
      users_rc("{\"users\":[{\"username\":\"alice\",\"disabled\":\"no\"}]}"),
      DHIS2_ERR_MALFORMED);
  cr_assert_eq(users_rc("{\"users\":[{\"username\":\"alice\","
                        "\"accountExpiry\":\"next week\"}]}"),
               DHIS2_ERR_MALFORMED);
  cr_assert_eq(users_rc("{\"users\":[{\"username\":\"alice\","
                        "\"accountExpiry\":true}]}"),
               DHIS2_ERR_MALFORMED);
}

Test(users_reply, a_reply_without_a_users_list_is_malformed)
{
  cr_assert_eq(users_rc("{}"), DHIS2_ERR_MALFORMED);
  cr_assert_eq(users_rc("{\"users\":{}}"), DHIS2_ERR_MALFORMED);
  cr_assert_eq(users_rc("[{\"username\":\"alice\"}]"), DHIS2_ERR_MALFORMED);
  cr_assert_eq(users_rc("{\"users\":[{\"username\":\"alice\"}"),
               DHIS2_ERR_MALFORMED);
  cr_assert_eq(users_rc(""), DHIS2_ERR_MALFORMED);
}

Test(iso8601, account_expiry_reads_as_utc)
{
  time_t t = 0;

  cr_assert(dhis2_iso8601_parse("2020-01-01T00:00:00.000", &t));
  cr_assert_eq(t, 1577836800);
  cr_assert(dhis2_iso8601_parse("2020-01-01T00:00:00Z", &t));
  cr_assert_eq(t, 1577836800);
  cr_assert(dhis2_iso8601_parse("2020-01-01T01:30:00.5+01:30", &t));
  cr_assert_eq(t, 1577836800);
  cr_assert(dhis2_iso8601_parse("2020-01-01", &t));
  cr_assert_eq(t, 1577836800);
  cr_assert(dhis2_iso8601_parse("2020-01-01T00:00", &t));
  cr_assert_eq(t, 1577836800);
}

Test(iso8601, anything_else_is_refused)
{
  const char *bad[] = {"",
                       "2020",
                       "2020-13-01",
                       "2020-01-00",
                       "2020-01-01T24:00:00",
                       "2020-01-01T00:00:00.",
                       "2020-01-01T00:00:00.000 ",
                       "2020-01-01 00:00:00",
                       "2020-1-1",
                       "1577836800",
                       NULL};
  time_t t;

  for (const char *const *b = bad; *b; b++)
    cr_assert_not(dhis2_iso8601_parse(*b, &t), "%s", *b);
}

/* --- /api/organisationUnits/UID replies, without a server -------------- */

static enum dhis2_err orgunit(const char *json, const char *uid, char **path)
{
  return dhis2_orgunit_path_parse(json, strlen(json), uid, path);
}

Test(orgunit_reply, a_path_of_uids_ending_in_the_unit_is_read)
{
  char *path = NULL;

  cr_assert_eq(
      orgunit("{\"path\":\"/ImspTQPwCqd/O6uvpzGd5pu\"}", "O6uvpzGd5pu", &path),
      DHIS2_OK);
  cr_assert_str_eq(path, "/ImspTQPwCqd/O6uvpzGd5pu");
  free(path);
  path = NULL;
  cr_assert_eq(orgunit("{\"path\":\"/ImspTQPwCqd\"}", "ImspTQPwCqd", &path),
               DHIS2_OK);
  free(path);
}

Test(orgunit_reply, any_other_path_is_malformed)
{
  const char *bad[] = {"{\"path\":\"/ImspTQPwCqd\"}",
                       "{\"path\":\"/O6uvpzGd5pu/ImspTQPwCqd\"}",
                       "{\"path\":\"O6uvpzGd5pu\"}",
                       "{\"path\":\"/ImspTQPwCqd//O6uvpzGd5pu\"}",
                       "{\"path\":\"/ImspTQPwCqd/O6uvpzGd5pu/\"}",
                       "{\"path\":\"/ImspTQPwCq/O6uvpzGd5pu\"}",
                       "{\"path\":\"/../O6uvpzGd5pu\"}",
                       "{\"path\":\"/O6uvpzGd5pu\\u0000/O6uvpzGd5pu\"}",
                       "{\"path\":null}",
                       "{}",
                       "[]",
                       NULL};

  for (const char *const *b = bad; *b; b++) {
    char *path = (char *)"unset";

    cr_assert_eq(orgunit(*b, "O6uvpzGd5pu", &path), DHIS2_ERR_MALFORMED, "%s",
                 *b);
    cr_assert_null(path);
  }
}

/* --- lookups against the emulator ---------------------------------------- */

static enum dhis2_err lookup(const char *pat, const char *name)
{
  struct dhis2_account a;
  enum dhis2_err rc = dhis2_api_user_lookup(client, pat, name, NULL, &a);

  if (rc != DHIS2_OK)
    cr_assert_null(a.id);
  dhis2_account_clear(&a);
  return rc;
}

Test(api_242, lookup_with_a_refused_token_is_lookup_denied_in_one_request)
{
  char *pat = tu_fresh_pat_v2();

  cr_assert_eq(lookup(pat, "alice"), DHIS2_ERR_LOOKUP_DENIED);
  cr_assert_eq(emu_count(emu, NULL), 1);
  cr_assert_eq(dhis2_err_class(DHIS2_ERR_LOOKUP_DENIED), DHIS2_CLASS_LOCAL);
  free(pat);
}

Test(api_242, lookup_with_an_expired_or_unreadable_token_is_lookup_denied)
{
  char *expired = tu_fixture_pat_named("judy", "JudyPatExpd");
  char *bad = tu_fixture_pat("alice", 1);

  bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'A' ? 'B' : 'A';
  cr_assert_eq(lookup(expired, "alice"), DHIS2_ERR_LOOKUP_DENIED);
  cr_assert_eq(lookup(bad, "alice"), DHIS2_ERR_LOOKUP_DENIED);
  free(expired);
  free(bad);
}

Test(api_242, lookup_sends_the_name_percent_encoded_and_every_field)
{
  char *pat = tu_fresh_pat_v2();
  char *log = NULL;

  lookup(pat, "jo doe&x=1+/é");
  emu_ctl(emu, "GET", "/requests", NULL, &log);
  cr_assert_not_null(
      strstr(log, "/api/users?filter=username:eq:jo%20doe%26x%3D1%2B%2F%C3%A9"
                  "&fields=id,username,"),
      "%s", log);
  cr_assert_not_null(strstr(log, "userCredentials%5Busername"), "%s", log);
  cr_assert_not_null(strstr(log, "&paging=false"), "%s", log);
  free(log);
  free(pat);
}

Test(api_242, lookup_of_a_name_dhis2_cannot_have_sends_nothing)
{
  char *pat = tu_fresh_pat_v2();

  cr_assert_eq(lookup(pat, "a:b"), DHIS2_ERR_INVAL);
  cr_assert_eq(lookup(pat, ""), DHIS2_ERR_INVAL);
  cr_assert_eq(lookup("bad\ntoken", "alice"), DHIS2_ERR_INVAL);
  cr_assert_eq(emu_count(emu, NULL), 0);
  free(pat);
}

Test(api_242, lookup_on_a_failing_server_is_unavailable)
{
  char *pat = tu_fresh_pat_v2();

  emu_fault(emu, "{\"mode\":\"status\",\"code\":503}");
  cr_assert_eq(lookup(pat, "alice"), DHIS2_ERR_SERVER);
  free(pat);
}

Test(api_242, orgunit_path_of_an_unknown_unit_is_unsupported)
{
  char *path = NULL;

  cr_assert_eq(dhis2_api_orgunit_path(client, DHIS2_AUTH_BASIC, "admin",
                                      "district", "XXXXXXXXXXX", &path),
               DHIS2_ERR_UNSUPPORTED);
  cr_assert_null(path);
  cr_assert_eq(emu_count(emu, "/api/organisationUnits/XXXXXXXXXXX"), 1);
}

Test(api_242, orgunit_path_of_a_non_uid_sends_nothing)
{
  char *path = NULL;

  cr_assert_eq(dhis2_api_orgunit_path(client, DHIS2_AUTH_BASIC, "admin",
                                      "district", "../me", &path),
               DHIS2_ERR_INVAL);
  cr_assert_eq(emu_count(emu, NULL), 0);
}

/* --- successful lookups, each release's shape -----------------------------
 */

static struct dhis2_account lookup_ok(const char *name, bool *legacy)
{
  struct dhis2_account a;
  char *pat = tu_fixture_pat_named("svclookup", "SvcLookPat1");
  enum dhis2_err rc = dhis2_api_user_lookup(client, pat, name, legacy, &a);

  free(pat);
  cr_assert_eq(rc, DHIS2_OK, "%s", dhis2_strerror(rc));
  cr_assert_not_null(a.id);
  return a;
}

static void lookup_finds_nurse(void)
{
  struct dhis2_account a = lookup_ok("nurse", NULL);

  cr_assert_str_eq(a.id->username, "nurse");
  cr_assert_not(a.disabled);
  cr_assert_eq(a.account_expiry, 0);
  cr_assert(dhis2_identity_has_group(a.id, "LinuxAdmGrp"));
  cr_assert(dhis2_identity_orgunit_within(a.id, "O6uvpzGd5pu"));
  cr_assert_not(dhis2_identity_orgunit_within(a.id, "fdc6uOvgoji"));
  dhis2_account_clear(&a);
}

Test(api_242, lookup_finds_an_active_user_with_groups_and_units)
{
  lookup_finds_nurse();
  cr_assert_eq(emu_count(emu, "/api/users"), 1);
}

Test(api_240, lookup_finds_an_active_user_in_the_240_shape)
{
  lookup_finds_nurse();
}

Test(api_237, lookup_on_237_takes_the_usercredentials_filter_and_says_so)
{
  bool legacy = false;
  struct dhis2_account a = lookup_ok("nurse", &legacy);

  cr_assert(legacy, "the 2.37 filter was not remembered");
  cr_assert(dhis2_identity_has_group(a.id, "LinuxAdmGrp"));
  dhis2_account_clear(&a);
  cr_assert_eq(emu_count(emu, "/api/users"), 2, "409, then the old form");
  a = lookup_ok("nurse", &legacy);
  dhis2_account_clear(&a);
  cr_assert_eq(emu_count(emu, "/api/users"), 3, "one request with the memo");
}

Test(api_242, lookup_sees_disabled_and_expired_users)
{
  struct dhis2_account a = lookup_ok("erin", NULL);

  cr_assert(a.disabled);
  dhis2_account_clear(&a);
  a = lookup_ok("grace", NULL);
  cr_assert_neq(a.account_expiry, 0);
  cr_assert_lt(a.account_expiry, time(NULL));
  dhis2_account_clear(&a);
}

Test(api_242, lookup_of_a_user_dhis2_does_not_have_is_no_user)
{
  char *pat = tu_fixture_pat_named("svclookup", "SvcLookPat1");

  cr_assert_eq(lookup(pat, "nosuchuser"), DHIS2_ERR_NO_USER);
  cr_assert_eq(lookup(pat, "NURSE"), DHIS2_ERR_NO_USER, "names are exact");
  free(pat);
}

Test(api_242, lookup_with_a_token_lacking_f_user_view_is_lookup_denied)
{
  char *pat = tu_fixture_pat_named("svcweak", "SvcWeakPat1");

  cr_assert_eq(lookup(pat, "nurse"), DHIS2_ERR_LOOKUP_DENIED);
  free(pat);
}

Test(api_242, orgunit_path_is_read_with_a_pat)
{
  char *pat = tu_fixture_pat_named("svclookup", "SvcLookPat1");
  char *path = NULL;

  cr_assert_eq(dhis2_api_orgunit_path(client, DHIS2_AUTH_APITOKEN, NULL, pat,
                                      "DiszpKrYNg8", &path),
               DHIS2_OK);
  cr_assert_str_eq(path, "/ImspTQPwCqd/O6uvpzGd5pu/DiszpKrYNg8");
  free(path);
  free(pat);
}
