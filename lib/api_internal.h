/*
 * Parts of lib/api.c that are not the library's interface: the readers of
 * the login API's replies, declared here so that tests/fuzz and
 * tests/unit can reach them without a server. Nothing outside lib/ and
 * tests/ includes this header.
 */
#ifndef DHIS2_API_INTERNAL_H
#define DHIS2_API_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "dhis2/api.h"
#include "dhis2/err.h"
#include "dhis2/http.h"

/*
 * The verdict on a /api/auth/login reply, as dhis2_api_login() gives it
 * (code_sent: the request carried a twoFactorCode): DHIS2_OK only for a
 * 2xx whose loginStatus is SUCCESS and that set a cookie (resp->cookies
 * not NULL); DHIS2_ERR_HTTP for a 403 (never a verdict on the password);
 * other statuses per dhis2_reply_to_err(); a loginStatus per
 * dhis2_login_status_to_err(); DHIS2_ERR_MALFORMED for a 2xx that is not
 * a JSON object with a string loginStatus, or a SUCCESS without a
 * session. resp is only read.
 */
enum dhis2_err dhis2_api_login_reply(const struct dhis2_http_resp *resp,
                                     bool code_sent);

/*
 * A 200 /api/loginConfig body of len bytes, read as
 * dhis2_api_server_kind() reads it: *out is DHIS2_SERVER_LOGIN_API when it
 * is a JSON object with an apiVersion, else DHIS2_SERVER_BASIC_ONLY;
 * release[0..rlen) gets the apiVersion when it is a string of digits,
 * letters, '.' and '-' that fits, else "". DHIS2_OK or DHIS2_ERR_NOMEM.
 */
enum dhis2_err dhis2_api_login_config_parse(const char *body, size_t len,
                                            enum dhis2_server_kind *out,
                                            char *release, size_t rlen);

#endif /* DHIS2_API_INTERNAL_H */
