/*
 * Parts of lib/api.c and lib/identity.c that are not the library's
 * interface: the readers of DHIS2's replies, declared here so that
 * tests/fuzz and tests/unit can reach them without a server, and so that
 * the user lookup can share the /api/me reader. Nothing outside lib/ and
 * tests/ includes this header.
 */
#ifndef DHIS2_API_INTERNAL_H
#define DHIS2_API_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "dhis2/api.h"
#include "dhis2/err.h"
#include "dhis2/http.h"

struct json_object;

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

/*
 * The identity in one user object root (borrowed) of /api/me or
 * /api/users, of any release's shape, as dhis2_identity_parse() reads it.
 * role_authorities: the authorities are the union of the roles'
 * "authorities" (/api/users) instead of the top-level list (/api/me).
 * Sets *out (NULL on entry) on DHIS2_OK; DHIS2_ERR_MALFORMED for a
 * non-object or no usable username; DHIS2_ERR_NOMEM.
 */
enum dhis2_err dhis2_identity_from_object(struct json_object *root,
                                          bool role_authorities,
                                          struct dhis2_identity **out);

/*
 * A 2xx /api/organisationUnits/UID?fields=path body: sets *path (NULL on
 * entry, malloc'd) to its "path" when that is "/"-joined UIDs ending in
 * uid. DHIS2_ERR_MALFORMED otherwise; DHIS2_ERR_NOMEM.
 */
enum dhis2_err dhis2_orgunit_path_parse(const char *body, size_t len,
                                        const char *uid, char **path);

/*
 * An ISO-8601 date-time as DHIS2 writes accountExpiry
 * ("2020-01-01T00:00:00.000": local time of the server, no zone), read as
 * UTC, into *t; fraction and a trailing "Z" optional, a date alone is its
 * midnight. The server's zone is not in the reply, so an expiry may be
 * off by that zone's offset: hours, against expiries set in days. False
 * when s is not such a date.
 */
bool dhis2_iso8601_parse(const char *s, time_t *t);

#endif /* DHIS2_API_INTERNAL_H */
