/* Requests to DHIS2's API: /api/me, login, logout, lookups, org units. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <syslog.h>

#include <json-c/json.h>

#include "api_internal.h"
#include "dhis2/api.h"
#include "dhis2/json.h"
#include "dhis2/secret.h"

/* Spring Security's logout URL in every DHIS2 from 2.37 on; there is no
   /api/auth/logout. Any method while CSRF protection is off (default). */
#define DHIS2_LOGOUT_PATH "/dhis-web-commons-security/logout.action"

enum dhis2_err dhis2_client_new(const struct dhis2_config *cfg,
                                const struct dhis2_log *lg,
                                struct dhis2_client **out)
{
  enum dhis2_err rc = DHIS2_ERR_NOMEM;
  struct dhis2_client *c = NULL;

  *out = NULL;
  if (cfg == NULL || cfg->url == NULL)
    return DHIS2_ERR_CONFIG;
  if (dhis2_http_check_url(cfg->url, cfg->allow_http) != DHIS2_OK) {
    dhis2_log(lg, LOG_ERR,
              "url %s: https required (http only to loopback "
              "with allow_http)",
              cfg->url);
    return DHIS2_ERR_CONFIG;
  }
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    goto out;
  c->url = strdup(cfg->url);
  if (c->url == NULL)
    goto out;
  if (cfg->ca_file != NULL) {
    c->ca_file = strdup(cfg->ca_file);
    if (c->ca_file == NULL)
      goto out;
  }
  if (cfg->pinned_pubkey != NULL) {
    c->pinned_pubkey = strdup(cfg->pinned_pubkey);
    if (c->pinned_pubkey == NULL)
      goto out;
  }
  c->http.ca_file = c->ca_file;
  c->http.pinned_pubkey = c->pinned_pubkey;
  c->http.connect_timeout = cfg->connect_timeout;
  c->http.timeout = cfg->timeout;
  c->http.allow_http = cfg->allow_http;
  c->http.max_body = DHIS2_HTTP_MAX_BODY;
  c->log = lg;
  *out = c;
  c = NULL; /* transferred */
  rc = DHIS2_OK;
out:
  dhis2_client_free(c);
  return rc;
}

void dhis2_client_free(struct dhis2_client *c)
{
  if (c == NULL)
    return;
  dhis2_http_conn_free(c->conn);
  free(c->url);
  free(c->ca_file);
  free(c->pinned_pubkey);
  free(c);
}

enum dhis2_err dhis2_client_request(struct dhis2_client *c,
                                    const struct dhis2_http_req *req,
                                    struct dhis2_http_resp *resp)
{
  enum dhis2_err rc;

  memset(resp, 0, sizeof(*resp));
  if (c->conn == NULL) {
    rc = dhis2_http_conn_new(&c->http, &c->conn);
    if (rc != DHIS2_OK)
      return rc;
  }
  rc = dhis2_http_conn_request(c->conn, req, resp, c->log);
  /* The server's clock, for the offline cache's high-water mark: a reply
     without a Date leaves the one seen before. */
  if (rc == DHIS2_OK && resp->date != 0)
    c->server_date = resp->date;
  return rc;
}

/* Appends s to buf at *n, percent-encoding every byte but the unreserved
   ones (RFC 3986) and those in keep; buf has room for 3 * strlen(s). */
static void pct_put(char *buf, size_t *n, const char *s, const char *keep)
{
  static const char hex[] = "0123456789ABCDEF";

  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
        (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
        *p == '~' || (*p != '\0' && strchr(keep, *p) != NULL)) {
      buf[(*n)++] = (char)*p;
    } else {
      buf[(*n)++] = '%';
      buf[(*n)++] = hex[*p >> 4];
      buf[(*n)++] = hex[*p & 15];
    }
  }
  buf[*n] = '\0';
}

/* A malloc'd copy of s with pct_put()'s encoding. */
static char *pct_dup(const char *s, const char *keep)
{
  size_t len = strlen(s);
  size_t n = 0;
  char *buf;

  if (len > (SIZE_MAX - 1) / 3)
    return NULL;
  buf = malloc(3 * len + 1);
  if (buf != NULL)
    pct_put(buf, &n, s, keep);
  return buf;
}

/* The /api/me path, with the brackets of DHIS2_ME_FIELDS percent-encoded:
   Tomcat refuses raw '[' and ']' in a request target by default. */
static char *me_path(void)
{
  char *fields = pct_dup(DHIS2_ME_FIELDS, ",");
  char *path = NULL;

  if (fields != NULL && asprintf(&path, "/api/me?fields=%s", fields) < 0)
    path = NULL;
  free(fields);
  return path;
}

/* Makes the header line that carries the credential; a secret. */
static char *auth_header(enum dhis2_auth auth, const char *user,
                         const char *cred)
{
  char *hdr = NULL;
  int n = -1;

  switch (auth) {
  case DHIS2_AUTH_BASIC:
    return dhis2_http_basic_header(user, cred);
  case DHIS2_AUTH_APITOKEN:
    n = asprintf(&hdr, "Authorization: ApiToken %s", cred);
    break;
  case DHIS2_AUTH_BEARER:
    n = asprintf(&hdr, "Authorization: Bearer %s", cred);
    break;
  case DHIS2_AUTH_SESSION:
    n = asprintf(&hdr, "Cookie: %s", cred);
    break;
  }
  return n < 0 ? NULL : hdr;
}

/*
 * The two headers that pass DHIS2's CSRF check on POSTs (2.42+ with
 * http.security.csrf.enabled = on; off by default): Spring's
 * CookieCsrfTokenRepository keeps no state and compares the X-XSRF-TOKEN
 * header with the XSRF-TOKEN cookie, so the same fresh random value in both
 * is what a browser would send back. Harmless where the check is off.
 * session (may be NULL) is the session's cookie string, sent after ours
 * (Spring reads the first cookie of a name). Both outputs are secrets.
 */
static enum dhis2_err csrf_headers(const char *session, char **cookie_hdr,
                                   char **token_hdr)
{
  unsigned char raw[16];
  char token[sizeof(raw) * 2 + 1];

  *cookie_hdr = *token_hdr = NULL;
  if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
    return DHIS2_ERR_INTERNAL;
  for (size_t i = 0; i < sizeof(raw); i++)
    snprintf(token + 2 * i, 3, "%02x", raw[i]);
  if (asprintf(cookie_hdr, "Cookie: XSRF-TOKEN=%s%s%s", token,
               session ? "; " : "", session ? session : "") < 0)
    *cookie_hdr = NULL;
  if (asprintf(token_hdr, "X-XSRF-TOKEN: %s", token) < 0)
    *token_hdr = NULL;
  dhis2_secret_wipe(token, sizeof(token));
  if (*cookie_hdr == NULL || *token_hdr == NULL) {
    dhis2_secret_free(*cookie_hdr);
    dhis2_secret_free(*token_hdr);
    *cookie_hdr = *token_hdr = NULL;
    return DHIS2_ERR_NOMEM;
  }
  return DHIS2_OK;
}

/* Header values must not let a secret smuggle in another header line. */
static bool header_safe(const char *s)
{
  for (; *s; s++)
    if (*s == '\r' || *s == '\n')
      return false;
  return true;
}

/*
 * GET path with the credential, as dhis2_api_me() sends it; *resp is the
 * reply whatever its status (the caller clears it). Transport errors, and
 * DHIS2_ERR_INVAL for a credential that cannot be sent.
 */
static enum dhis2_err auth_get(struct dhis2_client *c, enum dhis2_auth auth,
                               const char *user, const char *secret,
                               const char *path, struct dhis2_http_resp *resp)
{
  enum dhis2_err rc = DHIS2_ERR_INVAL;
  char *url = NULL;
  char *hdr = NULL;

  memset(resp, 0, sizeof(*resp));
  if (secret == NULL || !header_safe(secret))
    goto out;
  if (auth == DHIS2_AUTH_BASIC &&
      (user == NULL || !dhis2_username_valid(user)))
    goto out;
  rc = DHIS2_ERR_NOMEM;
  url = dhis2_url_join(c->url, path);
  hdr = auth_header(auth, user, secret);
  if (url == NULL || hdr == NULL)
    goto out;
  {
    const char *headers[] = {hdr, NULL};
    struct dhis2_http_req req = {
        .method = "GET", .url = url, .headers = headers};

    rc = dhis2_client_request(c, &req, resp);
  }
out:
  dhis2_secret_free(hdr);
  free(url);
  return rc;
}

enum dhis2_err dhis2_api_me(struct dhis2_client *c, enum dhis2_auth auth,
                            const char *user, const char *secret,
                            struct dhis2_identity **out)
{
  enum dhis2_err rc = DHIS2_ERR_NOMEM;
  struct dhis2_http_resp resp = {0};
  char *path = NULL;

  *out = NULL;
  path = me_path();
  if (path == NULL)
    goto out;
  rc = auth_get(c, auth, user, secret, path, &resp);
  if (rc != DHIS2_OK)
    goto out;
  rc = dhis2_reply_to_err(resp.status, resp.body, resp.body_len);
  if (rc != DHIS2_OK)
    goto out;
  rc = dhis2_identity_parse(resp.body, resp.body_len, out);
out:
  dhis2_http_resp_clear(&resp);
  free(path);
  return rc;
}

/* Appends s to buf as the body of a JSON string; returns the new length or
   0 when it does not fit. Our own, so no json-c copy of a password exists. */
static size_t json_put(char *buf, size_t len, size_t cap, const char *s)
{
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char esc[8];
    size_t n;

    if (*p == '"' || *p == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*p;
      n = 2;
    } else if (*p < 0x20 || *p == 0x7f) {
      n = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", *p);
    } else {
      esc[0] = (char)*p;
      n = 1;
    }
    if (len + n >= cap)
      return 0;
    memcpy(buf + len, esc, n);
    len += n;
  }
  buf[len] = '\0';
  return len;
}

/* Builds the login body {"username":..,"password":..[,"twoFactorCode":..]}
   into a malloc'd secret buffer; *len gets its length. */
static char *login_body(const char *user, const char *password,
                        const char *code, size_t *len)
{
  static const char pw_key[] = "\",\"password\":\"";
  size_t cap =
      64 + 6 * (strlen(user) + strlen(password) + (code ? strlen(code) : 0));
  char *buf = malloc(cap);
  size_t n;

  if (buf == NULL)
    return NULL;
  n = (size_t)snprintf(buf, cap, "{\"username\":\"");
  n = json_put(buf, n, cap, user);
  if (n == 0 || n + 16 >= cap)
    goto fail;
  n += (size_t)snprintf(buf + n, cap - n, "%s", pw_key);
  n = json_put(buf, n, cap, password);
  if (n == 0 || n + 24 >= cap)
    goto fail;
  if (code != NULL) {
    n += (size_t)snprintf(buf + n, cap - n, "\",\"twoFactorCode\":\"");
    n = json_put(buf, n, cap, code);
    if (n == 0 || n + 3 >= cap)
      goto fail;
  }
  n += (size_t)snprintf(buf + n, cap - n, "\"}");
  *len = n;
  return buf;
fail:
  dhis2_secret_free_n(buf, cap);
  return NULL;
}

/* Reads loginStatus out of a 2xx /api/auth/login reply. */
static enum dhis2_err login_status(const struct dhis2_http_resp *resp,
                                   bool code_sent)
{
  struct json_object *root = NULL;
  struct json_object *st;
  enum dhis2_err rc;

  rc = dhis2_json_parse_object(resp->body, resp->body_len, &root);
  if (rc != DHIS2_OK)
    return rc;
  rc = DHIS2_ERR_MALFORMED;
  if (json_object_object_get_ex(root, "loginStatus", &st) &&
      json_object_is_type(st, json_type_string))
    rc = dhis2_login_status_to_err(json_object_get_string(st), code_sent);
  json_object_put(root);
  return rc;
}

enum dhis2_err dhis2_api_login_reply(const struct dhis2_http_resp *resp,
                                     bool code_sent)
{
  enum dhis2_err rc;

  /* The login API answers every verdict on a password with 200 or 401:
     a 403 never means a wrong password, and must not count as one. */
  if (resp->status == 403)
    return DHIS2_ERR_HTTP;
  rc = dhis2_reply_to_err(resp->status, resp->body, resp->body_len);
  if (rc != DHIS2_OK)
    return rc;
  rc = login_status(resp, code_sent);
  if (rc != DHIS2_OK)
    return rc;
  if (resp->cookies == NULL)
    return DHIS2_ERR_MALFORMED; /* SUCCESS without a session is unusable */
  return DHIS2_OK;
}

enum dhis2_err dhis2_api_login(struct dhis2_client *c, const char *user,
                               const char *password, const char *code,
                               char **cookies)
{
  enum dhis2_err rc = DHIS2_ERR_INVAL;
  struct dhis2_http_resp resp = {0};
  char *url = NULL;
  char *body = NULL;
  size_t body_len = 0;
  char *cookie_hdr = NULL;
  char *token_hdr = NULL;

  *cookies = NULL;
  if (user == NULL || password == NULL || !dhis2_username_valid(user))
    goto out;
  rc = csrf_headers(NULL, &cookie_hdr, &token_hdr);
  if (rc != DHIS2_OK)
    goto out;
  rc = DHIS2_ERR_NOMEM;
  url = dhis2_url_join(c->url, "/api/auth/login");
  body = login_body(user, password, code, &body_len);
  if (url == NULL || body == NULL)
    goto out;
  {
    const char *headers[] = {cookie_hdr, token_hdr, NULL};
    struct dhis2_http_req req = {.method = "POST",
                                 .url = url,
                                 .headers = headers,
                                 .body = body,
                                 .body_len = body_len,
                                 .content_type = "application/json"};

    rc = dhis2_client_request(c, &req, &resp);
  }
  if (rc != DHIS2_OK)
    goto out;
  if (resp.status == 403)
    dhis2_log(c->log, LOG_WARNING,
              "DHIS2 refused the login request itself (403 Forbidden): a "
              "proxy or firewall in front of it, or its CSRF check "
              "(http.security.csrf.enabled = on in dhis.conf) refusing our "
              "token");
  rc = dhis2_api_login_reply(&resp, code != NULL);
  if (rc != DHIS2_OK)
    goto out;
  *cookies = resp.cookies;
  resp.cookies = NULL; /* transferred */
out:
  dhis2_http_resp_clear(&resp);
  dhis2_secret_free_n(body, body_len);
  dhis2_secret_free(cookie_hdr);
  dhis2_secret_free(token_hdr);
  free(url);
  return rc;
}

/* Copies an apiVersion into release when it looks like one; else "". */
static void copy_release(struct json_object *v, char *release, size_t len)
{
  const char *s = json_object_get_string(v);
  size_t n = s ? strlen(s) : 0;

  release[0] = '\0';
  if (!json_object_is_type(v, json_type_string) || n == 0 || n >= len)
    return;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
          (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '.' || s[i] == '-'))
      return;
  memcpy(release, s, n + 1);
}

enum dhis2_err dhis2_api_login_config_parse(const char *body, size_t len,
                                            enum dhis2_server_kind *out,
                                            char *release, size_t rlen)
{
  enum dhis2_err rc;
  struct json_object *root = NULL;
  struct json_object *v;

  *out = DHIS2_SERVER_BASIC_ONLY;
  if (rlen > 0)
    release[0] = '\0';
  rc = dhis2_json_parse_object(body, len, &root);
  if (rc == DHIS2_ERR_NOMEM)
    return rc;
  if (root != NULL && json_object_object_get_ex(root, "apiVersion", &v)) {
    *out = DHIS2_SERVER_LOGIN_API;
    if (rlen > 0)
      copy_release(v, release, rlen);
  }
  json_object_put(root);
  return DHIS2_OK;
}

enum dhis2_err dhis2_api_server_kind(struct dhis2_client *c,
                                     enum dhis2_server_kind *out,
                                     char *release, size_t len)
{
  enum dhis2_err rc = DHIS2_ERR_NOMEM;
  struct dhis2_http_resp resp = {0};
  char *url = dhis2_url_join(c->url, "/api/loginConfig");

  if (len > 0)
    release[0] = '\0';
  if (url == NULL)
    goto out;
  {
    struct dhis2_http_req req = {.method = "GET", .url = url};

    rc = dhis2_client_request(c, &req, &resp);
  }
  if (rc != DHIS2_OK)
    goto out;
  if (resp.status >= 500) {
    rc = DHIS2_ERR_SERVER;
    goto out;
  }
  *out = DHIS2_SERVER_BASIC_ONLY;
  if (resp.status != 200)
    goto out; /* 401, 404 or a login-page redirect: an older server */
  rc = dhis2_api_login_config_parse(resp.body, resp.body_len, out, release,
                                    len);
out:
  dhis2_http_resp_clear(&resp);
  free(url);
  return rc;
}

/* Reads "2.MINOR[.PATCH...]" or "2.MINOR-SNAPSHOT"; false otherwise. */
static bool parse_release(const char *s, long *minor, long *patch)
{
  char *end;

  if (strncmp(s, "2.", 2) != 0 || s[2] < '0' || s[2] > '9')
    return false;
  *minor = strtol(s + 2, &end, 10);
  *patch = 0;
  if (*end == '\0' || *end == '-')
    return true; /* a line's snapshot or its first release */
  if (*end != '.' || end[1] < '0' || end[1] > '9')
    return false;
  *patch = strtol(end + 1, &end, 10);
  return *end == '\0' || *end == '.' || *end == '-';
}

enum dhis2_me_acl dhis2_release_me_acl(const char *release)
{
  /* MeController filters userGroups and userRoles by aclService.canRead
     from these releases of each line, and on every later line. */
  static const struct {
    long minor, patch;
  } first[] = {{40, 11}, {41, 8}, {42, 5}, {43, 0}};
  long minor;
  long patch;

  if (release == NULL || !parse_release(release, &minor, &patch))
    return DHIS2_ME_ACL_UNKNOWN;
  if (minor > 43)
    return DHIS2_ME_ACL_FILTERED;
  for (size_t i = 0; i < sizeof(first) / sizeof(first[0]); i++)
    if (minor == first[i].minor)
      return patch >= first[i].patch ? DHIS2_ME_ACL_FILTERED
                                     : DHIS2_ME_ACL_NONE;
  return DHIS2_ME_ACL_NONE; /* 2.39 and older */
}

enum dhis2_err dhis2_api_logout(struct dhis2_client *c, const char *cookies)
{
  enum dhis2_err rc = DHIS2_ERR_INVAL;
  struct dhis2_http_resp resp = {0};
  char *url = NULL;
  char *hdr = NULL;
  char *token_hdr = NULL;

  if (cookies == NULL || !header_safe(cookies))
    goto out;
  /* With CSRF on, the logout URL logs out only a POST that has the token. */
  rc = csrf_headers(cookies, &hdr, &token_hdr);
  if (rc != DHIS2_OK)
    goto out;
  rc = DHIS2_ERR_NOMEM;
  url = dhis2_url_join(c->url, DHIS2_LOGOUT_PATH);
  if (url == NULL)
    goto out;
  {
    const char *headers[] = {hdr, token_hdr, NULL};
    struct dhis2_http_req req = {
        .method = "POST", .url = url, .headers = headers};

    rc = dhis2_client_request(c, &req, &resp);
  }
  if (rc != DHIS2_OK)
    goto out;
  /* Every release answers 302 to / (logoutSuccessUrl); 2xx is as good:
     either way the session is gone. */
  if (resp.status >= 200 && resp.status < 400)
    rc = DHIS2_OK;
  else
    rc = dhis2_reply_to_err(resp.status, resp.body, resp.body_len);
out:
  dhis2_http_resp_clear(&resp);
  dhis2_secret_free(hdr);
  dhis2_secret_free(token_hdr);
  free(url);
  return rc;
}

/* --- account lookups (/api/users) -------------------------------------- */

void dhis2_account_clear(struct dhis2_account *a)
{
  if (a == NULL)
    return;
  dhis2_identity_free(a->id);
  memset(a, 0, sizeof(*a));
}

/* Reads n decimal digits at *p into *v and advances *p. */
static bool digits(const char **p, int n, int *v)
{
  *v = 0;
  for (int i = 0; i < n; i++) {
    if ((*p)[i] < '0' || (*p)[i] > '9')
      return false;
    *v = *v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  return true;
}

bool dhis2_iso8601_parse(const char *s, time_t *t)
{
  struct tm tm = {0};
  const char *p = s;
  int y, mo, d, h = 0, mi = 0, sec = 0;
  long off = 0;
  time_t r;

  if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) ||
      *p++ != '-' || !digits(&p, 2, &d))
    return false;
  if (*p == 'T') {
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
      return false;
    if (*p == ':') {
      p++;
      if (!digits(&p, 2, &sec))
        return false;
      if (*p == '.') {
        int dummy;

        p++;
        if (!digits(&p, 1, &dummy))
          return false;
        while (*p >= '0' && *p <= '9')
          p++; /* fractions of a second do not matter to an expiry */
      }
    }
    if (*p == 'Z') {
      p++;
    } else if (*p == '+' || *p == '-') {
      int sign = *p++ == '-' ? -1 : 1;
      int oh, om;

      if (!digits(&p, 2, &oh))
        return false;
      if (*p == ':')
        p++;
      if (!digits(&p, 2, &om) || oh > 23 || om > 59)
        return false;
      off = sign * (oh * 3600L + om * 60L);
    }
  }
  if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
      mi > 59 || sec > 60)
    return false;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  r = timegm(&tm);
  if (r == (time_t)-1 && !(y == 1969 && mo == 12 && d == 31))
    return false;
  *t = r - off;
  return true;
}

/* True when obj's string member key is exactly name (no NUL inside). */
static bool member_is(struct json_object *obj, const char *key,
                      const char *name)
{
  struct json_object *v;

  return obj != NULL && json_object_is_type(obj, json_type_object) &&
         json_object_object_get_ex(obj, key, &v) &&
         json_object_is_type(v, json_type_string) &&
         (size_t)json_object_get_string_len(v) == strlen(name) &&
         strcmp(json_object_get_string(v), name) == 0;
}

/* True when the user object e has name as its top-level or
   userCredentials username: the entries the lookup is about. */
static bool user_named(struct json_object *e, const char *name)
{
  struct json_object *creds = NULL;

  if (member_is(e, "username", name))
    return true;
  return json_object_object_get_ex(e, "userCredentials", &creds) &&
         member_is(creds, "username", name);
}

/* ORs obj's boolean "disabled" (absent or null: false) into *disabled.
   false for any other type. */
static bool disabled_in(struct json_object *obj, bool *disabled)
{
  struct json_object *v = NULL;

  if (obj == NULL || !json_object_object_get_ex(obj, "disabled", &v) ||
      v == NULL)
    return true;
  if (!json_object_is_type(v, json_type_boolean))
    return false;
  *disabled = *disabled || json_object_get_boolean(v);
  return true;
}

/* Folds obj's "accountExpiry" (absent or null: none; a date string as
   dhis2_iso8601_parse() reads it; epoch milliseconds, as Jackson writes a
   Date when told to) into *expiry, keeping the earlier. false when it is
   neither. */
static bool expiry_in(struct json_object *obj, time_t *expiry)
{
  struct json_object *v = NULL;
  time_t t;

  if (obj == NULL || !json_object_object_get_ex(obj, "accountExpiry", &v) ||
      v == NULL)
    return true;
  if (json_object_is_type(v, json_type_string)) {
    if (!dhis2_iso8601_parse(json_object_get_string(v), &t))
      return false;
  } else if (json_object_is_type(v, json_type_int)) {
    t = (time_t)(json_object_get_int64(v) / 1000);
  } else {
    return false;
  }
  if (t == 0)
    t = 1; /* 0 says "none": an expiry at the epoch is long past anyway */
  if (*expiry == 0 || t < *expiry)
    *expiry = t;
  return true;
}

/* Fills a from the user object e of any release's shape. */
static enum dhis2_err account_of(struct json_object *e, const char *name,
                                 struct dhis2_account *a)
{
  struct json_object *creds;
  enum dhis2_err rc;

  rc = dhis2_identity_from_object(e, true, &a->id);
  if (rc != DHIS2_OK)
    return rc;
  if (strcmp(a->id->username, name) != 0)
    return DHIS2_ERR_MALFORMED; /* its two usernames disagree */
  if (!json_object_object_get_ex(e, "userCredentials", &creds) ||
      !json_object_is_type(creds, json_type_object))
    creds = NULL;
  /* 2.37 keeps these under userCredentials, 2.38-2.41 in both places:
     either saying disabled, or the earlier expiry, wins. */
  if (!disabled_in(e, &a->disabled) || !disabled_in(creds, &a->disabled) ||
      !expiry_in(e, &a->account_expiry) ||
      !expiry_in(creds, &a->account_expiry))
    return DHIS2_ERR_MALFORMED;
  return DHIS2_OK;
}

enum dhis2_err dhis2_users_reply_parse(const char *json, size_t len,
                                       const char *name,
                                       struct dhis2_account *out)
{
  enum dhis2_err rc = DHIS2_ERR_INVAL;
  struct json_object *root = NULL;
  struct json_object *users;
  struct dhis2_account found = {0};
  size_t n;
  bool seen = false;

  memset(out, 0, sizeof(*out));
  if (name == NULL)
    goto out;
  rc = dhis2_json_parse_object(json, len, &root);
  if (rc != DHIS2_OK)
    goto out;
  rc = DHIS2_ERR_MALFORMED;
  if (!json_object_object_get_ex(root, "users", &users) ||
      !json_object_is_type(users, json_type_array))
    goto out;
  n = json_object_array_length(users);
  for (size_t i = 0; i < n; i++) {
    struct json_object *e = json_object_array_get_idx(users, i);

    /* The filter may match other spellings (and a proxy other things):
       only exactly this name is the user asked about. */
    if (e == NULL || !json_object_is_type(e, json_type_object) ||
        !user_named(e, name))
      continue;
    if (seen) {
      rc = DHIS2_ERR_MALFORMED; /* two users of one name: whose account? */
      goto out;
    }
    seen = true;
    rc = account_of(e, name, &found);
    if (rc != DHIS2_OK)
      goto out;
  }
  if (!seen) {
    rc = DHIS2_ERR_NO_USER;
    goto out;
  }
  *out = found;
  memset(&found, 0, sizeof(found)); /* transferred */
  rc = DHIS2_OK;
out:
  dhis2_account_clear(&found);
  json_object_put(root);
  return rc;
}

/* The lookup's path: the name percent-encoded in the filter, the fields'
   brackets too (Tomcat refuses raw ones). */
static char *users_path(const char *name, bool legacy)
{
  char *enc = pct_dup(name, "");
  char *fields = pct_dup(DHIS2_USERS_FIELDS, ",");
  char *path = NULL;

  if (enc != NULL && fields != NULL &&
      asprintf(&path,
               "/api/users?filter=%susername:eq:%s&fields=%s&paging=false",
               legacy ? "userCredentials." : "", enc, fields) < 0)
    path = NULL;
  free(enc);
  free(fields);
  return path;
}

enum dhis2_err dhis2_api_user_lookup(struct dhis2_client *c, const char *pat,
                                     const char *name, bool *legacy,
                                     struct dhis2_account *out)
{
  enum dhis2_err rc = DHIS2_ERR_INVAL;
  struct dhis2_http_resp resp = {0};
  char *path = NULL;
  bool old = legacy != NULL && *legacy;

  memset(out, 0, sizeof(*out));
  if (name == NULL || !dhis2_username_valid(name))
    goto out;
  for (int attempt = 0; attempt < 2; attempt++) {
    rc = DHIS2_ERR_NOMEM;
    free(path);
    path = users_path(name, old);
    if (path == NULL)
      goto out;
    dhis2_http_resp_clear(&resp);
    rc = auth_get(c, DHIS2_AUTH_APITOKEN, NULL, pat, path, &resp);
    if (rc != DHIS2_OK)
      goto out;
    /* 409 "Unknown path property": the other release's filter (2.37 has
       the name under userCredentials only; later ones at the top). */
    if (resp.status != 409)
      break;
    old = !old;
  }
  if (legacy != NULL)
    *legacy = old;
  rc = dhis2_reply_to_err(resp.status, resp.body, resp.body_len);
  /* Whatever DHIS2 says about our own token (refused, expired, not from
     here, its owner locked: 401; no F_USER_VIEW: 403; a token it cannot
     read: 400) is the service token's setup, never the user's account. */
  if (resp.status == 401 || resp.status == 403 ||
      rc == DHIS2_ERR_TOKEN_MALFORMED || rc == DHIS2_ERR_TOKEN_CHECKSUM) {
    dhis2_log(c->log, LOG_ERR,
              "DHIS2 refused the account lookup (HTTP %ld): check the "
              "service token in lookup_pat_file and that its user has "
              "F_USER_VIEW",
              resp.status);
    rc = DHIS2_ERR_LOOKUP_DENIED;
  }
  if (rc != DHIS2_OK)
    goto out;
  rc = dhis2_users_reply_parse(resp.body, resp.body_len, name, out);
out:
  dhis2_http_resp_clear(&resp);
  free(path);
  return rc;
}

/* --- organisation units ------------------------------------------------- */

/* True when path is "/UID/UID/.../uid": UIDs joined by "/", ending in
   uid. */
static bool orgunit_path_valid(const char *path, const char *uid)
{
  const char *last = NULL;

  if (path[0] != '/')
    return false;
  for (const char *p = path; *p == '/';) {
    char seg[12];
    size_t n = strcspn(p + 1, "/");

    if (n != 11)
      return false;
    memcpy(seg, p + 1, n);
    seg[n] = '\0';
    if (!dhis2_uid_shaped(seg))
      return false;
    last = p + 1;
    p += 1 + n;
    if (*p == '\0')
      return strcmp(last, uid) == 0;
  }
  return false;
}

enum dhis2_err dhis2_orgunit_path_parse(const char *body, size_t len,
                                        const char *uid, char **path)
{
  enum dhis2_err rc;
  struct json_object *root = NULL;
  struct json_object *v;

  *path = NULL;
  rc = dhis2_json_parse_object(body, len, &root);
  if (rc != DHIS2_OK)
    goto out;
  rc = DHIS2_ERR_MALFORMED;
  if (uid == NULL || !json_object_object_get_ex(root, "path", &v) ||
      !json_object_is_type(v, json_type_string) ||
      strlen(json_object_get_string(v)) !=
          (size_t)json_object_get_string_len(v) ||
      !orgunit_path_valid(json_object_get_string(v), uid))
    goto out;
  rc = DHIS2_ERR_NOMEM;
  *path = strdup(json_object_get_string(v));
  if (*path != NULL)
    rc = DHIS2_OK;
out:
  json_object_put(root);
  return rc;
}

enum dhis2_err dhis2_api_orgunit_path(struct dhis2_client *c,
                                      enum dhis2_auth auth, const char *user,
                                      const char *secret, const char *uid,
                                      char **path)
{
  enum dhis2_err rc = DHIS2_ERR_INVAL;
  struct dhis2_http_resp resp = {0};
  char *p = NULL;

  *path = NULL;
  if (!dhis2_uid_shaped(uid))
    goto out; /* also what keeps the path free of anything to encode */
  rc = DHIS2_ERR_NOMEM;
  if (asprintf(&p, "/api/organisationUnits/%s?fields=path", uid) < 0) {
    p = NULL;
    goto out;
  }
  rc = auth_get(c, auth, user, secret, p, &resp);
  if (rc != DHIS2_OK)
    goto out;
  rc = dhis2_reply_to_err(resp.status, resp.body, resp.body_len);
  if (rc != DHIS2_OK)
    goto out;
  rc = dhis2_orgunit_path_parse(resp.body, resp.body_len, uid, path);
out:
  dhis2_http_resp_clear(&resp);
  free(p);
  return rc;
}
