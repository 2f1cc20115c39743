/* DHIS2's authentication API: /api/me, /api/auth/login, logout. */
#ifndef DHIS2_API_H
#define DHIS2_API_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "dhis2/config.h"
#include "dhis2/err.h"
#include "dhis2/http.h"
#include "dhis2/log.h"

/* The fields every /api/me read asks for: every version's shape. */
#define DHIS2_ME_FIELDS                                                       \
  "id,username,displayName,twoFactorType,userGroups[id,name],"                \
  "userRoles[id,name],authorities,organisationUnits[id,path],"                \
  "userCredentials[username,userRoles[id,name]]"

/* An id + name pair: a user group or role. Both owned by the holder. */
struct dhis2_named {
  char *id;
  char *name;
};

/* An organisation unit a user is assigned to: its UID and its path, the
   UIDs from the root down to it ("/ImspTQPwCqd/O6uvpzGd5pu/DiszpKrYNg8").
   Both owned by the holder; path may be NULL when DHIS2 sent none. */
struct dhis2_orgunit {
  char *id;
  char *path;
};

/*
 * Who DHIS2 says the user is, merged from whatever /api/me shape the
 * server sent. Owned by the caller; free with dhis2_identity_free().
 * username is never NULL in a parsed identity; the other strings may be.
 */
struct dhis2_identity {
  char *id;
  char *username;
  char *display_name;
  struct dhis2_named *groups;
  size_t n_groups;
  struct dhis2_named *roles;
  size_t n_roles;
  char **authorities;
  size_t n_authorities;
  struct dhis2_orgunit *orgunits; /* organisationUnits[id,path] */
  size_t n_orgunits;
};

void dhis2_identity_free(struct dhis2_identity *id);

/*
 * Parses an /api/me body of any version: username at the top level
 * (2.38+) or under userCredentials (<= 2.37); roles at the top level or
 * under userCredentials (merged, no duplicates by id); groups; authorities;
 * organisation units (top level in every release).
 * Sets *out (NULL on entry) to a new identity on DHIS2_OK; returns
 * DHIS2_ERR_MALFORMED for invalid JSON, a non-object, or no username, and
 * DHIS2_ERR_NOMEM.
 */
enum dhis2_err dhis2_identity_parse(const char *json, size_t len,
                                    struct dhis2_identity **out);

/* True when s is shaped like a DHIS2 UID: 11 ASCII letters and digits, a
   letter first. */
bool dhis2_uid_shaped(const char *s);

/*
 * True when id is in a group (role) that value names (DESIGN.md section 3):
 * "id:X" matches ids, "name:X" names; a bare value shaped like a UID
 * matches ids only, any other bare value names only. Always exact and
 * case-sensitive: DHIS2 names are, and a group anyone may create could
 * otherwise pass for another by its name.
 */
bool dhis2_identity_has_group(const struct dhis2_identity *id,
                              const char *value);
bool dhis2_identity_has_role(const struct dhis2_identity *id,
                             const char *value);

/* True when the bare UID-shaped value matched no id of id's groups (roles)
   but is exactly the name of one: refused, and worth a log line saying
   "name:" would allow it. */
bool dhis2_identity_group_name_only(const struct dhis2_identity *id,
                                    const char *value);
bool dhis2_identity_role_name_only(const struct dhis2_identity *id,
                                   const char *value);

/* True when one of id's units is the unit uid or lies below it: uid is a
   whole segment of the unit's path (or the unit's id when it has no
   path). require_orgunit. */
bool dhis2_identity_orgunit_within(const struct dhis2_identity *id,
                                   const char *uid);

/* True when one of id's units is on host_path, the path of the host's
   unit: the host unit itself or one above it (a whole segment of
   host_path). host_orgunit. */
bool dhis2_identity_orgunit_over(const struct dhis2_identity *id,
                                 const char *host_path);

/* True when id holds exactly the authority s. */
bool dhis2_identity_has_authority(const struct dhis2_identity *id,
                                  const char *s);

/*
 * The reply table: maps an HTTP status and DHIS2 WebMessage body (may be
 * NULL) from an /api request authenticated with a credential to an error:
 * 2xx -> DHIS2_OK; 3xx -> REDIRECT; 401/403 by message ("Account locked",
 * "Account disabled", the PAT messages, else REJECTED); 400 PAT malformed
 * -> TOKEN_MALFORMED, checksum -> TOKEN_CHECKSUM; 404/405 -> UNSUPPORTED;
 * other 4xx -> HTTP;
 * 5xx -> SERVER.
 */
enum dhis2_err dhis2_reply_to_err(long status, const char *body, size_t len);

/*
 * Maps a /api/auth/login loginStatus string to an error. code_sent tells
 * whether a twoFactorCode was in the request: an INCORRECT_TWO_FACTOR_CODE*
 * status without one means a code is required (2FA_REQUIRED), with one that
 * it was wrong (2FA_BAD_CODE). Unknown strings -> DHIS2_ERR_MALFORMED.
 */
enum dhis2_err dhis2_login_status_to_err(const char *status, bool code_sent);

/* True when name is acceptable to send to DHIS2: 1..255 bytes, no control
   characters (bytes < 0x20 and 0x7f) and no ':'. */
bool dhis2_username_valid(const char *name);

/* A connection to one DHIS2 server (and the IdP beside it) for one login
   or one dhis2-auth command. Owned by the caller. */
struct dhis2_client {
  char *url; /* base URL, owned */
  struct dhis2_http_opts http;
  char *ca_file;                /* owned storage behind http.ca_file */
  char *pinned_pubkey;          /* owned storage behind http.pinned_pubkey */
  const struct dhis2_log *log;  /* borrowed, may be NULL */
  struct dhis2_http_conn *conn; /* owned; made by the first request */
  time_t server_date; /* the Date of the latest reply, 0 if none had one */
};

/*
 * Makes a client from cfg (copied; cfg may be freed afterwards) and lg
 * (borrowed: must outlive the client). Checks the URL policy. Sets *out
 * (NULL on entry) on DHIS2_OK; DHIS2_ERR_CONFIG for a refused URL.
 */
enum dhis2_err dhis2_client_new(const struct dhis2_config *cfg,
                                const struct dhis2_log *lg,
                                struct dhis2_client **out);
/* Closes the client's connection and frees it. NULL is a no-op. */
void dhis2_client_free(struct dhis2_client *c);

/*
 * Every request of the client goes here: dhis2_http_conn_request() on the
 * client's one connection (made at the first request), so the requests of
 * a login share one TCP connection and one TLS handshake. Same results.
 * A reply with a readable Date sets c->server_date to it.
 */
enum dhis2_err dhis2_client_request(struct dhis2_client *c,
                                    const struct dhis2_http_req *req,
                                    struct dhis2_http_resp *resp);

/* How /api/me is authenticated. */
enum dhis2_auth {
  DHIS2_AUTH_BASIC,    /* user + secret as HTTP Basic */
  DHIS2_AUTH_APITOKEN, /* secret is a PAT: "Authorization: ApiToken" */
  DHIS2_AUTH_BEARER,   /* secret is an OAuth2 access token */
  DHIS2_AUTH_SESSION,  /* secret is a cookie string from dhis2_api_login */
};

/*
 * GET /api/me?fields=DHIS2_ME_FIELDS with the credential. user is needed
 * for BASIC only (and must pass dhis2_username_valid()). On DHIS2_OK sets
 * *out (NULL on entry) to the parsed identity. Errors per
 * dhis2_reply_to_err(), the transport errors of dhis2_http_request(), and
 * DHIS2_ERR_MALFORMED for a 2xx that does not parse. Exactly one request.
 */
enum dhis2_err dhis2_api_me(struct dhis2_client *c, enum dhis2_auth auth,
                            const char *user, const char *secret,
                            struct dhis2_identity **out);

/*
 * POST /api/auth/login (DHIS2 2.41+) with {"username","password"} and
 * "twoFactorCode" when code is not NULL. Exactly one request. On
 * DHIS2_OK (loginStatus SUCCESS) sets *cookies (NULL on entry) to the
 * session cookie string, a secret the caller frees with
 * dhis2_secret_free(). Otherwise the loginStatus mapped by
 * dhis2_login_status_to_err(), DHIS2_ERR_REJECTED for 401, and
 * DHIS2_ERR_UNSUPPORTED when the server has no such endpoint (404/405: an
 * older DHIS2; nothing was checked, so the caller may use Basic).
 */
enum dhis2_err dhis2_api_login(struct dhis2_client *c, const char *user,
                               const char *password, const char *code,
                               char **cookies);

/* Which way a server takes passwords. */
enum dhis2_server_kind {
  DHIS2_SERVER_LOGIN_API,  /* 2.41+: POST /api/auth/login */
  DHIS2_SERVER_BASIC_ONLY, /* older: HTTP Basic on /api/me */
};

/* Room for a release string such as "2.42.5.2" or "2.44-SNAPSHOT". */
#define DHIS2_RELEASE_MAX 32

/*
 * Asks the server, without any credential, which kind it is: GET
 * /api/loginConfig, which 2.41+ serves to anonymous callers (the new
 * login app reads it) with an "apiVersion"; older servers answer 401 (2.37.10
 * a bare one with a Basic challenge) or a redirect to their login page. One
 * request, no secret sent, so the password is then sent exactly once. Sets
 * *out on DHIS2_OK, and release[0..len) to the apiVersion (digits, letters,
 * '.', '-' only; "" when the server did not say or said something else);
 * transport errors and 5xx as dhis2_http_request() and dhis2_reply_to_err().
 */
enum dhis2_err dhis2_api_server_kind(struct dhis2_client *c,
                                     enum dhis2_server_kind *out,
                                     char *release, size_t len);

/* Whether a release lists only the groups and roles the user may read in
   /api/me (2.40.11, 2.41.8, 2.42.5, 2.43.0 and later of each line). */
enum dhis2_me_acl {
  DHIS2_ME_ACL_UNKNOWN,  /* no release, or one we cannot read */
  DHIS2_ME_ACL_NONE,     /* every group and role of the user is listed */
  DHIS2_ME_ACL_FILTERED, /* groups/roles without read sharing are left out */
};
enum dhis2_me_acl dhis2_release_me_acl(const char *release);

/* What an account lookup found: the user, and what /api/me never says. */
struct dhis2_account {
  struct dhis2_identity *id; /* id, username, groups, roles, authorities
                                (the roles' authorities), org units */
  bool disabled;
  time_t account_expiry; /* 0: none */
};
void dhis2_account_clear(struct dhis2_account *a);

/* The fields of a lookup, every release's shape (2.37 keeps username,
   disabled, accountExpiry and roles under userCredentials). */
#define DHIS2_USERS_FIELDS                                                    \
  "id,username,disabled,accountExpiry,userGroups[id,name],"                   \
  "userRoles[id,name,authorities],organisationUnits[id,path],"                \
  "userCredentials[username,disabled,accountExpiry,userRoles[id,name,"        \
  "authorities]]"

/*
 * Looks name up with the service PAT pat: GET
 * /api/users?filter=username:eq:NAME&fields=DHIS2_USERS_FIELDS&paging=false
 * (NAME percent-encoded), "Authorization: ApiToken". One request (two
 * when the filter form is stale, below).
 * DHIS2_OK: exactly one user of exactly that name (case-sensitive; other
 * spellings in the reply are ignored), *out filled (zeroed first; release
 * with dhis2_account_clear()). DHIS2_ERR_NO_USER: none of exactly that
 * name. DHIS2_ERR_LOOKUP_DENIED: DHIS2 refused the token (401, the PAT
 * errors) or it lacks the authority to list users (403).
 * The filter is username:eq:NAME, or with *legacy set
 * userCredentials.username:eq:NAME (2.37, where the top-level form gets
 * 409 "Unknown path property"); a 409 tries the other form once, so a
 * memo that went stale costs one request more, and *legacy (may be NULL:
 * the top-level form first) is left saying which form the server took.
 * DHIS2_ERR_MALFORMED for a reply that does not parse, or two users of
 * that name; transport errors as dhis2_client_request().
 */
enum dhis2_err dhis2_api_user_lookup(struct dhis2_client *c, const char *pat,
                                     const char *name, bool *legacy,
                                     struct dhis2_account *out);

/* The parsing half of dhis2_api_user_lookup(), for a 2xx body: the
   {"users":[...]} envelope (with or without "pager"). Same results. */
enum dhis2_err dhis2_users_reply_parse(const char *json, size_t len,
                                       const char *name,
                                       struct dhis2_account *out);

/*
 * GET /api/organisationUnits/UID?fields=path with the credential (auth
 * and secret as dhis2_api_me(); user for BASIC). On DHIS2_OK sets *path
 * (NULL on entry, malloc'd) to the unit's path, checked to be "/"-joined
 * UIDs ending in uid. 404 -> DHIS2_ERR_UNSUPPORTED (no such unit, or not
 * readable by that user); else as dhis2_api_me().
 */
enum dhis2_err dhis2_api_orgunit_path(struct dhis2_client *c,
                                      enum dhis2_auth auth, const char *user,
                                      const char *secret, const char *uid,
                                      char **path);

/* Ends the session named by cookies. Best effort: one request. */
enum dhis2_err dhis2_api_logout(struct dhis2_client *c, const char *cookies);

#endif /* DHIS2_API_H */
