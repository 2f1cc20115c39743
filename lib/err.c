/* Messages and classes of enum dhis2_err. */
#include "dhis2/err.h"

const char *dhis2_strerror(enum dhis2_err err)
{
  switch (err) {
  case DHIS2_OK:
    return "success";
  case DHIS2_ERR_NOMEM:
    return "out of memory";
  case DHIS2_ERR_INVAL:
    return "invalid input";
  case DHIS2_ERR_CONFIG:
    return "configuration error";
  case DHIS2_ERR_IO:
    return "local file error";
  case DHIS2_ERR_INTERNAL:
    return "internal error";
  case DHIS2_ERR_REJECTED:
    return "DHIS2 rejected the credentials";
  case DHIS2_ERR_LOCKED:
    return "the DHIS2 account is locked";
  case DHIS2_ERR_DISABLED:
    return "the DHIS2 account is disabled";
  case DHIS2_ERR_EXPIRED:
    return "the DHIS2 account has expired";
  case DHIS2_ERR_PASSWORD_EXPIRED:
    return "the DHIS2 password has expired; change it in DHIS2";
  case DHIS2_ERR_TOKEN_EXPIRED:
    return "the DHIS2 access token has expired";
  case DHIS2_ERR_TOKEN_DENIED:
    return "the DHIS2 access token is not allowed from here";
  case DHIS2_ERR_TOKEN_MALFORMED:
    return "the DHIS2 access token is malformed";
  case DHIS2_ERR_TOKEN_CHECKSUM:
    return "the access token's checksum was refused (tokens made before "
           "DHIS2 2.41 stop working after an upgrade to it): create a new "
           "token";
  case DHIS2_ERR_TOKEN_OWNER:
    return "access tokens of this DHIS2 account are refused: it is "
           "disabled, locked or expired, or uses two-factor authentication";
  case DHIS2_ERR_IDENTITY:
    return "DHIS2 accepted the credentials for a different user";
  case DHIS2_ERR_2FA_ENROL:
    return "the DHIS2 account must enrol in two-factor authentication";
  case DHIS2_ERR_2FA_BAD_CODE:
    return "the DHIS2 verification code is wrong";
  case DHIS2_ERR_BAD_TOKEN:
    return "the token's signature or claims are not valid";
  case DHIS2_ERR_UNKNOWN_KEY:
    return "the token is signed with a key the server does not list";
  case DHIS2_ERR_NO_USER:
    return "no DHIS2 user of that name";
  case DHIS2_ERR_PENDING:
    return "waiting for the user to approve the sign-in";
  case DHIS2_ERR_SLOW_DOWN:
    return "the server asks to poll more slowly";
  case DHIS2_ERR_2FA_REQUIRED:
    return "DHIS2 requires a verification code";
  case DHIS2_ERR_2FA_CODE_SENT:
    return "DHIS2 sent a verification code by e-mail";
  case DHIS2_ERR_CONNECT:
    return "cannot connect to the DHIS2 server";
  case DHIS2_ERR_TIMEOUT:
    return "the DHIS2 server did not answer in time";
  case DHIS2_ERR_TLS:
    return "TLS failure talking to the DHIS2 server";
  case DHIS2_ERR_REDIRECT:
    return "the DHIS2 server answered with a redirect";
  case DHIS2_ERR_SERVER:
    return "the DHIS2 server failed (5xx)";
  case DHIS2_ERR_HTTP:
    return "unexpected HTTP status from the DHIS2 server";
  case DHIS2_ERR_TOO_LARGE:
    return "the DHIS2 server's reply is too large";
  case DHIS2_ERR_MALFORMED:
    return "the DHIS2 server's reply is malformed";
  case DHIS2_ERR_UNSUPPORTED:
    return "the DHIS2 server does not offer this";
  case DHIS2_ERR_LOOKUP_DENIED:
    return "DHIS2 refused the account lookup token, or it lacks the "
           "F_USER_VIEW authority";
  }
  return "unknown error";
}

enum dhis2_err_class dhis2_err_class(enum dhis2_err err)
{
  switch (err) {
  case DHIS2_OK:
    return DHIS2_CLASS_OK;
  case DHIS2_ERR_NOMEM:
  case DHIS2_ERR_INVAL:
  case DHIS2_ERR_CONFIG:
  case DHIS2_ERR_IO:
  case DHIS2_ERR_INTERNAL:
  case DHIS2_ERR_LOOKUP_DENIED: /* our service token: a setup problem */
    return DHIS2_CLASS_LOCAL;
  case DHIS2_ERR_REJECTED:
  case DHIS2_ERR_TOKEN_EXPIRED:
  case DHIS2_ERR_TOKEN_DENIED:
  case DHIS2_ERR_TOKEN_MALFORMED:
  case DHIS2_ERR_TOKEN_CHECKSUM:
  case DHIS2_ERR_TOKEN_OWNER:
  case DHIS2_ERR_IDENTITY:
  case DHIS2_ERR_2FA_BAD_CODE:
  case DHIS2_ERR_BAD_TOKEN:
  case DHIS2_ERR_UNKNOWN_KEY:
    return DHIS2_CLASS_REJECTED;
  case DHIS2_ERR_PENDING:
  case DHIS2_ERR_SLOW_DOWN:
    return DHIS2_CLASS_WAIT;
  case DHIS2_ERR_LOCKED:
  case DHIS2_ERR_DISABLED:
  case DHIS2_ERR_EXPIRED:
  case DHIS2_ERR_PASSWORD_EXPIRED:
  case DHIS2_ERR_2FA_ENROL:
  case DHIS2_ERR_NO_USER:
    return DHIS2_CLASS_ACCOUNT;
  case DHIS2_ERR_2FA_REQUIRED:
  case DHIS2_ERR_2FA_CODE_SENT:
    return DHIS2_CLASS_NEEDS_CODE;
  case DHIS2_ERR_CONNECT:
  case DHIS2_ERR_TIMEOUT:
  case DHIS2_ERR_TLS:
  case DHIS2_ERR_REDIRECT:
  case DHIS2_ERR_SERVER:
  case DHIS2_ERR_HTTP:
  case DHIS2_ERR_TOO_LARGE:
  case DHIS2_ERR_MALFORMED:
  case DHIS2_ERR_UNSUPPORTED:
    return DHIS2_CLASS_UNAVAILABLE;
  }
  return DHIS2_CLASS_LOCAL;
}
