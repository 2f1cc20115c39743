/* Unit tests of lib/reply.c: the reply table, loginStatus, usernames. */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "dhis2/api.h"

/* The reply to a request with status and a DHIS2 WebMessage carrying msg,
   serialised the way DHIS2 does (nulls omitted). */
static enum dhis2_err web(long status, const char *msg)
{
  char body[512];
  int n = snprintf(body, sizeof(body),
                   "{\"httpStatus\":\"Unauthorized\",\"httpStatusCode\":%ld,"
                   "\"status\":\"ERROR\",\"message\":\"%s\"}",
                   status, msg);

  cr_assert(n > 0 && (size_t)n < sizeof(body));
  return dhis2_reply_to_err(status, body, (size_t)n);
}

static enum dhis2_err raw(long status, const char *body)
{
  return dhis2_reply_to_err(status, body, body ? strlen(body) : 0);
}

/* 2xx, 3xx */

Test(reply, every_2xx_is_ok_whatever_the_body)
{
  for (long s = 200; s <= 299; s++) {
    cr_assert_eq(raw(s, NULL), DHIS2_OK, "%ld", s);
    cr_assert_eq(web(s, "Account locked"), DHIS2_OK, "%ld", s);
    cr_assert_eq(raw(s, "<html>"), DHIS2_OK, "%ld", s);
  }
}

Test(reply, every_3xx_is_a_redirect)
{
  for (long s = 300; s <= 399; s++) {
    cr_assert_eq(raw(s, NULL), DHIS2_ERR_REDIRECT, "%ld", s);
    cr_assert_eq(web(s, "Unauthorized"), DHIS2_ERR_REDIRECT, "%ld", s);
  }
}

/* 401 and 403: Basic (FormLoginBasicAuthenticationEntryPoint) */

Test(reply, unauthorized_is_rejected)
{
  cr_assert_eq(web(401, "Unauthorized"), DHIS2_ERR_REJECTED);
  cr_assert_eq(web(403, "Unauthorized"), DHIS2_ERR_REJECTED);
}

Test(reply, bad_credentials_is_rejected)
{
  cr_assert_eq(web(401, "Bad credentials"), DHIS2_ERR_REJECTED);
}

Test(reply, denied_without_a_body_is_rejected)
{
  cr_assert_eq(raw(401, NULL), DHIS2_ERR_REJECTED);
  cr_assert_eq(raw(403, NULL), DHIS2_ERR_REJECTED);
  cr_assert_eq(dhis2_reply_to_err(401, "", 0), DHIS2_ERR_REJECTED);
}

Test(reply, denied_with_a_non_json_body_is_rejected)
{
  /* Only a WebMessage is believed: plain text naming a reason is not. */
  cr_assert_eq(raw(401, "Account locked"), DHIS2_ERR_REJECTED);
  cr_assert_eq(raw(401, "<html><body>Account locked</body></html>"),
               DHIS2_ERR_REJECTED);
  cr_assert_eq(raw(401, "{\"message\":\"Account locked\""),
               DHIS2_ERR_REJECTED);
  cr_assert_eq(raw(401, "{\"message\":\"Account locked\"} trailing"),
               DHIS2_ERR_REJECTED);
  cr_assert_eq(raw(401, "[\"Account locked\"]"), DHIS2_ERR_REJECTED);
  cr_assert_eq(raw(401, "{\"message\":42}"), DHIS2_ERR_REJECTED);
  cr_assert_eq(raw(401, "{}"), DHIS2_ERR_REJECTED);
}

Test(reply, account_locked_is_locked)
{
  cr_assert_eq(web(401, "Account locked"), DHIS2_ERR_LOCKED);
  cr_assert_eq(web(403, "Account locked"), DHIS2_ERR_LOCKED);
}

Test(reply, account_disabled_is_disabled)
{
  cr_assert_eq(web(401, "Account disabled"), DHIS2_ERR_DISABLED);
  cr_assert_eq(web(403, "Account disabled"), DHIS2_ERR_DISABLED);
}

Test(reply, account_expired_is_expired)
{
  cr_assert_eq(web(401, "Account expired"), DHIS2_ERR_EXPIRED);
  cr_assert_eq(web(403, "Account expired"), DHIS2_ERR_EXPIRED);
}

Test(reply, messages_match_whatever_their_case)
{
  cr_assert_eq(web(401, "ACCOUNT LOCKED"), DHIS2_ERR_LOCKED);
  cr_assert_eq(web(401, "account disabled"), DHIS2_ERR_DISABLED);
}

Test(reply, body_is_read_only_up_to_len)
{
  const char buf[] = "{\"message\":\"Account locked\"}GARBAGE";
  size_t json_len = strlen("{\"message\":\"Account locked\"}");

  cr_assert_eq(dhis2_reply_to_err(401, buf, json_len), DHIS2_ERR_LOCKED);
  cr_assert_eq(dhis2_reply_to_err(401, buf, strlen(buf)), DHIS2_ERR_REJECTED);
}

Test(reply, trailing_whitespace_after_the_body_is_fine)
{
  cr_assert_eq(raw(401, "{\"message\":\"Account locked\"}\r\n"),
               DHIS2_ERR_LOCKED);
}

/* 401 and 403: PATs (ApiTokenAuthManager, Dhis2ApiTokenFilter) */

Test(reply, expired_pat_is_token_expired)
{
  cr_assert_eq(
      web(401, "Failed to authenticate API token, token has expired."),
      DHIS2_ERR_TOKEN_EXPIRED);
}

Test(reply, unknown_pat_is_rejected)
{
  cr_assert_eq(web(401, "The API token does not exists"), DHIS2_ERR_REJECTED);
}

Test(reply, pat_of_a_disabled_locked_or_2fa_owner_is_token_owner)
{
  /* One message for every owner state DHIS2 refuses tokens for: the user
     can be told that much, 2FA included (refused from 2.37.0). */
  cr_assert_eq(
      web(401, "The API token is disabled, locked or 2FA is enabled."),
      DHIS2_ERR_TOKEN_OWNER);
}

Test(reply, pat_without_a_usable_owner_is_rejected)
{
  cr_assert_eq(web(401, "The API token does not have any owner."),
               DHIS2_ERR_REJECTED);
  cr_assert_eq(web(401, "The API token owner does not exists."),
               DHIS2_ERR_REJECTED);
}

Test(reply, pat_from_a_refused_ip_method_or_referrer_is_token_denied)
{
  cr_assert_eq(web(401, "Failed to authenticate API token, request ip "
                        "address is not allowed."),
               DHIS2_ERR_TOKEN_DENIED);
  cr_assert_eq(web(401, "Failed to authenticate API token, request http "
                        "method is not allowed."),
               DHIS2_ERR_TOKEN_DENIED);
  cr_assert_eq(web(401, "Failed to authenticate API token, request http "
                        "referrer is missing or not allowed."),
               DHIS2_ERR_TOKEN_DENIED);
  cr_assert_eq(web(403, "Failed to authenticate API token, request ip "
                        "address is not allowed."),
               DHIS2_ERR_TOKEN_DENIED);
}

Test(reply, malformed_pat_as_401_is_token_malformed)
{
  /* ApiTokenResolver before 2.41 answered this one with 401. */
  cr_assert_eq(web(401, "Api token is malformed"), DHIS2_ERR_TOKEN_MALFORMED);
}

/* 400 */

Test(reply, checksum_failure_is_token_checksum)
{
  /* 2.41+ refuses every token 2.37-2.40 issued (plain CRC) this way. */
  cr_assert_eq(web(400, "Checksum validation failed"),
               DHIS2_ERR_TOKEN_CHECKSUM);
  cr_assert_eq(web(400, "Checksum validation failed for token"),
               DHIS2_ERR_TOKEN_CHECKSUM);
}

Test(reply, malformed_pat_is_token_malformed)
{
  cr_assert_eq(web(400, "Api token is malformed"), DHIS2_ERR_TOKEN_MALFORMED);
  cr_assert_eq(web(400, "Could not resolve token type"),
               DHIS2_ERR_TOKEN_MALFORMED);
}

Test(reply, other_bad_requests_are_http)
{
  cr_assert_eq(web(400, "Found multiple tokens in the request"),
               DHIS2_ERR_HTTP);
  cr_assert_eq(web(400, "JSON parse error"), DHIS2_ERR_HTTP);
  cr_assert_eq(raw(400, NULL), DHIS2_ERR_HTTP);
  cr_assert_eq(raw(400, "Checksum validation failed"), DHIS2_ERR_HTTP);
}

/* Other statuses */

Test(reply, not_found_and_method_not_allowed_are_unsupported)
{
  cr_assert_eq(raw(404, NULL), DHIS2_ERR_UNSUPPORTED);
  cr_assert_eq(raw(405, NULL), DHIS2_ERR_UNSUPPORTED);
  cr_assert_eq(web(404, "Not Found"), DHIS2_ERR_UNSUPPORTED);
  cr_assert_eq(web(405, "Request method 'POST' not supported"),
               DHIS2_ERR_UNSUPPORTED);
}

Test(reply, other_4xx_are_http)
{
  for (long s = 400; s <= 499; s++) {
    if (s == 400 || s == 401 || s == 403 || s == 404 || s == 405)
      continue;
    cr_assert_eq(raw(s, NULL), DHIS2_ERR_HTTP, "%ld", s);
    cr_assert_eq(web(s, "Account locked"), DHIS2_ERR_HTTP, "%ld", s);
  }
}

Test(reply, every_5xx_is_server)
{
  for (long s = 500; s <= 599; s++) {
    cr_assert_eq(raw(s, NULL), DHIS2_ERR_SERVER, "%ld", s);
    cr_assert_eq(web(s, "Account locked"), DHIS2_ERR_SERVER, "%ld", s);
  }
}

Test(reply, informational_zero_and_out_of_range_are_http)
{
  const long odd[] = {-1, 0, 1, 99, 100, 101, 102, 103, 199, 600, 999, 1000};

  for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
    cr_assert_eq(raw(odd[i], NULL), DHIS2_ERR_HTTP, "%ld", odd[i]);
    cr_assert_eq(web(odd[i], "Account locked"), DHIS2_ERR_HTTP, "%ld", odd[i]);
  }
}

/* loginStatus */

Test(login_status, success_is_ok)
{
  cr_assert_eq(dhis2_login_status_to_err("SUCCESS", false), DHIS2_OK);
  cr_assert_eq(dhis2_login_status_to_err("SUCCESS", true), DHIS2_OK);
}

Test(login_status, account_states_map_to_their_errors)
{
  for (int sent = 0; sent < 2; sent++) {
    cr_assert_eq(dhis2_login_status_to_err("ACCOUNT_DISABLED", sent),
                 DHIS2_ERR_DISABLED);
    cr_assert_eq(dhis2_login_status_to_err("ACCOUNT_LOCKED", sent),
                 DHIS2_ERR_LOCKED);
    cr_assert_eq(dhis2_login_status_to_err("ACCOUNT_EXPIRED", sent),
                 DHIS2_ERR_EXPIRED);
    cr_assert_eq(dhis2_login_status_to_err("PASSWORD_EXPIRED", sent),
                 DHIS2_ERR_PASSWORD_EXPIRED);
  }
}

Test(login_status, incorrect_code_without_one_sent_means_code_required)
{
  cr_assert_eq(dhis2_login_status_to_err("INCORRECT_TWO_FACTOR_CODE", false),
               DHIS2_ERR_2FA_REQUIRED);
  cr_assert_eq(
      dhis2_login_status_to_err("INCORRECT_TWO_FACTOR_CODE_TOTP", false),
      DHIS2_ERR_2FA_REQUIRED);
  cr_assert_eq(
      dhis2_login_status_to_err("INCORRECT_TWO_FACTOR_CODE_EMAIL", false),
      DHIS2_ERR_2FA_REQUIRED);
  cr_assert_eq(
      dhis2_login_status_to_err("INCORRECT_TWO_FACTOR_CODE_SMS", false),
      DHIS2_ERR_2FA_REQUIRED);
}

Test(login_status, incorrect_code_with_one_sent_means_bad_code)
{
  cr_assert_eq(dhis2_login_status_to_err("INCORRECT_TWO_FACTOR_CODE", true),
               DHIS2_ERR_2FA_BAD_CODE);
  cr_assert_eq(
      dhis2_login_status_to_err("INCORRECT_TWO_FACTOR_CODE_TOTP", true),
      DHIS2_ERR_2FA_BAD_CODE);
  cr_assert_eq(
      dhis2_login_status_to_err("INCORRECT_TWO_FACTOR_CODE_EMAIL", true),
      DHIS2_ERR_2FA_BAD_CODE);
  cr_assert_eq(
      dhis2_login_status_to_err("INCORRECT_TWO_FACTOR_CODE_SMS", true),
      DHIS2_ERR_2FA_BAD_CODE);
}

Test(login_status, code_sent_is_2fa_code_sent)
{
  for (int sent = 0; sent < 2; sent++) {
    cr_assert_eq(dhis2_login_status_to_err("EMAIL_TWO_FACTOR_CODE_SENT", sent),
                 DHIS2_ERR_2FA_CODE_SENT);
    cr_assert_eq(dhis2_login_status_to_err("SMS_TWO_FACTOR_CODE_SENT", sent),
                 DHIS2_ERR_2FA_CODE_SENT);
  }
}

Test(login_status, enrolment_required_is_2fa_enrol)
{
  for (int sent = 0; sent < 2; sent++)
    cr_assert_eq(
        dhis2_login_status_to_err("REQUIRES_TWO_FACTOR_ENROLMENT", sent),
        DHIS2_ERR_2FA_ENROL);
}

Test(login_status, null_and_unknown_are_malformed)
{
  const char *bad[] = {
      "",         "success",  "SUCCESS ",
      " SUCCESS", "UNKNOWN",  "INCORRECT_TWO_FACTOR",
      "LOGIN_OK", "ACCOUNT_", "REQUIRES_TWO_FACTOR_ENROLLMENT"};

  for (int sent = 0; sent < 2; sent++) {
    cr_assert_eq(dhis2_login_status_to_err(NULL, sent), DHIS2_ERR_MALFORMED);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
      cr_assert_eq(dhis2_login_status_to_err(bad[i], sent),
                   DHIS2_ERR_MALFORMED, "%s", bad[i]);
  }
}

/* Usernames */

Test(username, ordinary_names_are_valid)
{
  cr_assert(dhis2_username_valid("admin"));
  cr_assert(dhis2_username_valid("a"));
  cr_assert(dhis2_username_valid("jane.doe@example.org"));
  cr_assert(dhis2_username_valid("john doe"));
}

Test(username, utf8_names_are_valid)
{
  cr_assert(dhis2_username_valid("j\xc3\xb6hn")); /* "jöhn" */
  cr_assert(dhis2_username_valid("\xe7\x8e\x8b\xe5\xb0\x8f\xe6\x98\x8e"));
}

Test(username, null_and_empty_are_invalid)
{
  cr_assert_not(dhis2_username_valid(NULL));
  cr_assert_not(dhis2_username_valid(""));
}

Test(username, up_to_255_bytes_are_valid)
{
  char name[1024];

  memset(name, 'a', sizeof(name));
  name[255] = '\0';
  cr_assert(dhis2_username_valid(name));
  name[255] = 'a';
  name[256] = '\0';
  cr_assert_not(dhis2_username_valid(name));
  name[256] = 'a';
  name[1023] = '\0';
  cr_assert_not(dhis2_username_valid(name));
}

Test(username, a_colon_is_invalid)
{
  cr_assert_not(dhis2_username_valid("ad:min"));
  cr_assert_not(dhis2_username_valid(":"));
}

Test(username, control_characters_are_invalid)
{
  cr_assert_not(dhis2_username_valid("admin\n"));
  cr_assert_not(dhis2_username_valid("ad\rmin"));
  cr_assert_not(dhis2_username_valid("\tadmin"));
  cr_assert_not(dhis2_username_valid("admin\x1b[0m"));
  cr_assert_not(dhis2_username_valid("\x01"));
  cr_assert_not(dhis2_username_valid("\x1f"));
  cr_assert_not(dhis2_username_valid("admin\x7f"));
}
