/* What DHIS2's answers mean: HTTP status + WebMessage, loginStatus. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "dhis2/api.h"
#include "dhis2/ascii.h"
#include "dhis2/json.h"

/* ASCII case-insensitive strstr(): strcasestr() follows the locale. */
static bool contains(const char *hay, const char *needle)
{
  size_t n = strlen(needle);

  for (; *hay != '\0'; hay++) {
    size_t i = 0;

    while (i < n && hay[i] != '\0' &&
           dhis2_ascii_lower(hay[i]) == dhis2_ascii_lower(needle[i]))
      i++;
    if (i == n)
      return true;
  }
  return false;
}

/*
 * Sets *out (NULL on entry) to a malloc'd copy of the "message" of the
 * WebMessage in body[0..len), or leaves it NULL when the body is absent,
 * not a JSON object or has no string message. DHIS2_ERR_NOMEM or DHIS2_OK.
 */
static enum dhis2_err web_message(const char *body, size_t len, char **out)
{
  struct json_object *root = NULL;
  struct json_object *msg;
  enum dhis2_err rc = DHIS2_OK;

  *out = NULL;
  /* No body or not a WebMessage: no message, not an error. */
  if (dhis2_json_parse_object(body, len, &root) == DHIS2_ERR_NOMEM)
    return DHIS2_ERR_NOMEM;
  if (root != NULL && json_object_object_get_ex(root, "message", &msg) &&
      json_object_is_type(msg, json_type_string)) {
    *out = strdup(json_object_get_string(msg));
    if (*out == NULL)
      rc = DHIS2_ERR_NOMEM;
  }
  json_object_put(root);
  return rc;
}

/*
 * 401/403. Messages as dhis2-core writes them:
 * FormLoginBasicAuthenticationEntryPoint: "Account locked", "Account
 * disabled", else "Unauthorized"; ApiTokenAuthManager: "Failed to
 * authenticate API token, token has expired.", "The API token does not
 * exists", "The API token is disabled, locked or 2FA is enabled." (one
 * message for disabled, locked, expired and 2FA owners, from 2.37.0: no
 * finer reason can be told, but that much can); Dhis2ApiTokenFilter: "Failed
 * to authenticate API token, request ip address|http method|http referrer ...
 * not allowed."; ApiTokenResolver before 2.41: "Api token is malformed" as a
 * 401.
 */
static enum dhis2_err denied(const char *msg)
{
  if (msg == NULL)
    return DHIS2_ERR_REJECTED;
  if (contains(msg, "account locked"))
    return DHIS2_ERR_LOCKED;
  if (contains(msg, "account disabled"))
    return DHIS2_ERR_DISABLED;
  if (contains(msg, "account expired"))
    return DHIS2_ERR_EXPIRED;
  if (contains(msg, "token") && contains(msg, "expired"))
    return DHIS2_ERR_TOKEN_EXPIRED;
  if (contains(msg, "api token") && contains(msg, "not allowed"))
    return DHIS2_ERR_TOKEN_DENIED;
  if (contains(msg, "api token is disabled, locked or 2fa"))
    return DHIS2_ERR_TOKEN_OWNER;
  if (contains(msg, "token") && contains(msg, "malformed"))
    return DHIS2_ERR_TOKEN_MALFORMED;
  return DHIS2_ERR_REJECTED;
}

/*
 * 400. ApiTokenResolver: "Checksum validation failed" (2.41+; "... for
 * token" before), "Api token is malformed" (2.41+), "Could not resolve
 * token type" (a prefix it does not know). Anything else is our request's
 * fault, not the token's. The checksum failure has its own error: 2.41+
 * checks a checksum 2.37-2.40 never did and computed differently, so it is
 * what every token made before the upgrade gets.
 */
static enum dhis2_err bad_request(const char *msg)
{
  if (msg == NULL)
    return DHIS2_ERR_HTTP;
  if (contains(msg, "checksum validation failed"))
    return DHIS2_ERR_TOKEN_CHECKSUM;
  if ((contains(msg, "token") && contains(msg, "malformed")) ||
      contains(msg, "could not resolve token type"))
    return DHIS2_ERR_TOKEN_MALFORMED;
  return DHIS2_ERR_HTTP;
}

enum dhis2_err dhis2_reply_to_err(long status, const char *body, size_t len)
{
  enum dhis2_err rc = DHIS2_ERR_HTTP;
  char *msg = NULL;

  if (status >= 200 && status <= 299) {
    rc = DHIS2_OK;
    goto out;
  }
  if (status >= 300 && status <= 399) {
    rc = DHIS2_ERR_REDIRECT;
    goto out;
  }
  if (status >= 500 && status <= 599) {
    rc = DHIS2_ERR_SERVER;
    goto out;
  }
  if (status == 404 || status == 405) {
    rc = DHIS2_ERR_UNSUPPORTED;
    goto out;
  }
  if (status != 400 && status != 401 && status != 403)
    goto out; /* other 4xx, 1xx and nonsense: DHIS2_ERR_HTTP */
  rc = web_message(body, len, &msg);
  if (rc != DHIS2_OK)
    goto out;
  rc = status == 400 ? bad_request(msg) : denied(msg);
out:
  free(msg);
  return rc;
}

/* loginStatus values of dhis2-core LoginResponse.STATUS (2.41: plain
   INCORRECT_TWO_FACTOR_CODE; 2.42+: _TOTP/_EMAIL, EMAIL_..._SENT) and the
   SMS ones of the EyeSeeTea fork, which speaks the same protocol. */
enum dhis2_err dhis2_login_status_to_err(const char *status, bool code_sent)
{
  static const struct {
    const char *name;
    enum dhis2_err err;
  } fixed[] = {
      {"SUCCESS", DHIS2_OK},
      {"ACCOUNT_DISABLED", DHIS2_ERR_DISABLED},
      {"ACCOUNT_LOCKED", DHIS2_ERR_LOCKED},
      {"ACCOUNT_EXPIRED", DHIS2_ERR_EXPIRED},
      {"PASSWORD_EXPIRED", DHIS2_ERR_PASSWORD_EXPIRED},
      {"EMAIL_TWO_FACTOR_CODE_SENT", DHIS2_ERR_2FA_CODE_SENT},
      {"SMS_TWO_FACTOR_CODE_SENT", DHIS2_ERR_2FA_CODE_SENT},
      {"REQUIRES_TWO_FACTOR_ENROLMENT", DHIS2_ERR_2FA_ENROL},
  };
  static const char *const incorrect[] = {
      "INCORRECT_TWO_FACTOR_CODE",
      "INCORRECT_TWO_FACTOR_CODE_TOTP",
      "INCORRECT_TWO_FACTOR_CODE_EMAIL",
      "INCORRECT_TWO_FACTOR_CODE_SMS",
  };

  if (status == NULL)
    return DHIS2_ERR_MALFORMED;
  for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
    if (strcmp(status, fixed[i].name) == 0)
      return fixed[i].err;
  /* DHIS2 says "incorrect" both for a wrong code and for none at all. */
  for (size_t i = 0; i < sizeof(incorrect) / sizeof(incorrect[0]); i++)
    if (strcmp(status, incorrect[i]) == 0)
      return code_sent ? DHIS2_ERR_2FA_BAD_CODE : DHIS2_ERR_2FA_REQUIRED;
  return DHIS2_ERR_MALFORMED;
}

bool dhis2_username_valid(const char *name)
{
  size_t len;

  if (name == NULL)
    return false;
  len = strnlen(name, 256);
  if (len == 0 || len > 255)
    return false;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)name[i];

    if (c < 0x20 || c == 0x7f || c == ':')
      return false;
  }
  return true;
}
