/* Loading pam_dhis2.conf: files, [profile] sections and module arguments. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dhis2/api.h"
#include "dhis2/ascii.h"
#include "dhis2/cache.h"
#include "dhis2/cache.h"
#include "dhis2/config.h"
#include "dhis2/file.h"
#include "dhis2/secret.h"

#ifndef DHIS2_STATE_DIR
#define DHIS2_STATE_DIR "/var/lib/pam_dhis2"
#endif

#define CONF_FILE_MAX (64 * 1024) /* bytes in one configuration file */
#define CONF_LINE_MAX 4096        /* bytes in one line, newline excluded */
#define CONF_TIMEOUT_MAX 300L     /* s: a login must not hang longer */
#define CONF_FAILURE_LIMIT_MAX 1000u
/* An offline window longer than this is a stale account, not a trip. */
#define CONF_OFFLINE_TTL_MAX (90L * 86400)
/* Past a day a wrong-secret delay only locks the user out of the host. */
#define CONF_OFFLINE_DELAY_MAX 86400L
#define CONF_DEVICE_TIMEOUT_MAX 900L
#define CONF_UID_MAX 4294967294ul /* (uid_t)-1 means "no uid" */

enum key_id {
  KEY_URL,
  KEY_CA_FILE,
  KEY_PINNED_PUBKEY,
  KEY_ALLOW_HTTP,
  KEY_CONNECT_TIMEOUT,
  KEY_TIMEOUT,
  KEY_METHODS,
  KEY_TWOFACTOR,
  KEY_USER_MAP,
  KEY_MIN_UID,
  KEY_MAX_UID,
  KEY_REQUIRE_GROUP,
  KEY_REQUIRE_ROLE,
  KEY_REQUIRE_AUTHORITY,
  KEY_REQUIRE_ORGUNIT,
  KEY_HOST_ORGUNIT,
  KEY_ACCOUNT_CHECK,
  KEY_LOOKUP_PAT_FILE,
  KEY_ACCOUNT_UNAVAILABLE,
  KEY_FAILURE_LIMIT,
  KEY_FAILURE_WINDOW,
  KEY_STATE_DIR,
  KEY_OFFLINE,
  KEY_OFFLINE_TTL,
  KEY_OFFLINE_FAILURE_LIMIT,
  KEY_OFFLINE_HASH_COST,
  KEY_OFFLINE_FAILURE_DELAY,
  KEY_OFFLINE_TWOFACTOR,
  KEY_DEVICE_TIMEOUT,
  KEY_STORE_TOKENS,
  KEY_OAUTH2,
  KEY_ISSUER,
  KEY_CLIENT_ID,
  KEY_CLIENT_SECRET,
  KEY_SCOPE,
  KEY_REDIRECT_PORT,
  KEY_TOKEN_STORE,
  KEY_TOKEN_VALIDATION,
  KEY_DEBUG
};

static const struct key_name {
  const char *name;
  enum key_id id;
} key_names[] = {
    {"url", KEY_URL},
    {"ca_file", KEY_CA_FILE},
    {"pinned_pubkey", KEY_PINNED_PUBKEY},
    {"allow_http", KEY_ALLOW_HTTP},
    {"connect_timeout", KEY_CONNECT_TIMEOUT},
    {"timeout", KEY_TIMEOUT},
    {"methods", KEY_METHODS},
    {"twofactor", KEY_TWOFACTOR},
    {"user_map", KEY_USER_MAP},
    {"min_uid", KEY_MIN_UID},
    {"max_uid", KEY_MAX_UID},
    {"require_group", KEY_REQUIRE_GROUP},
    {"require_role", KEY_REQUIRE_ROLE},
    {"require_authority", KEY_REQUIRE_AUTHORITY},
    {"require_orgunit", KEY_REQUIRE_ORGUNIT},
    {"host_orgunit", KEY_HOST_ORGUNIT},
    {"account_check", KEY_ACCOUNT_CHECK},
    {"lookup_pat_file", KEY_LOOKUP_PAT_FILE},
    {"account_unavailable", KEY_ACCOUNT_UNAVAILABLE},
    {"failure_limit", KEY_FAILURE_LIMIT},
    {"failure_window", KEY_FAILURE_WINDOW},
    {"state_dir", KEY_STATE_DIR},
    {"offline", KEY_OFFLINE},
    {"offline_ttl", KEY_OFFLINE_TTL},
    {"offline_failure_limit", KEY_OFFLINE_FAILURE_LIMIT},
    {"offline_hash_cost", KEY_OFFLINE_HASH_COST},
    {"offline_failure_delay", KEY_OFFLINE_FAILURE_DELAY},
    {"offline_twofactor", KEY_OFFLINE_TWOFACTOR},
    {"device_timeout", KEY_DEVICE_TIMEOUT},
    {"store_tokens", KEY_STORE_TOKENS},
    {"oauth2", KEY_OAUTH2},
    {"issuer", KEY_ISSUER},
    {"client_id", KEY_CLIENT_ID},
    {"client_secret", KEY_CLIENT_SECRET},
    {"scope", KEY_SCOPE},
    {"redirect_port", KEY_REDIRECT_PORT},
    {"token_store", KEY_TOKEN_STORE},
    {"token_validation", KEY_TOKEN_VALIDATION},
    {"debug", KEY_DEBUG},
};

/* Words that are module arguments only, never file keys. */
static const char *const arg_only[] = {"use_first_pass", "try_first_pass",
                                       "conf", "profile"};

/* Where a value came from: a file line, or (file NULL) a module argument. */
struct where {
  const char *file;
  unsigned line;
};

/* A configuration being built, and where url, issuer and account_check
   were last set. */
struct target {
  struct dhis2_config *cfg;
  struct where url_at;
  struct where issuer_at;
  struct where account_check_at;
};

/*
 * State of one dhis2_config_load() call. Sections other than the selected
 * profile are parsed into scratch so that their mistakes are reported too.
 */
struct loader {
  const char *profile; /* the selected profile */
  struct target real;  /* the selected profile */
  struct target scratch;
  bool found;           /* a file has a [profile] section */
  bool file_has;        /* the file being read has one */
  const char *source;   /* the last file that gave the profile */
  const char *files[2]; /* the files that were read, for messages */
  char *err;
  size_t errlen;
};

/* Writes "FILE:LINE: " or "argument: " and then the message into err. */
static void say(char *err, size_t errlen, const struct where *w,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void say(char *err, size_t errlen, const struct where *w,
                const char *fmt, ...)
{
  va_list ap;
  int n = 0;

  if (errlen == 0)
    return;
  if (w != NULL && w->file != NULL)
    n = snprintf(err, errlen, "%s:%u: ", w->file, w->line);
  else if (w != NULL)
    n = snprintf(err, errlen, "argument: ");
  if (n < 0)
    n = 0;
  if ((size_t)n >= errlen)
    return;
  va_start(ap, fmt);
  vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
  va_end(ap);
}

static bool is_space(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_digit(char c)
{
  return c >= '0' && c <= '9';
}

/* Trims s in place; returns the first non-blank character. */
static char *trim(char *s)
{
  size_t n;

  while (is_space(*s))
    s++;
  n = strlen(s);
  while (n > 0 && is_space(s[n - 1]))
    s[--n] = '\0';
  return s;
}

static bool has_control(const char *s)
{
  for (; *s != '\0'; s++) {
    unsigned char c = (unsigned char)*s;

    if (c < 0x20 || c == 0x7f)
      return true;
  }
  return false;
}

/* Section and profile names: [A-Za-z0-9_.-]+, at most 64 bytes. */
static bool valid_name(const char *s, size_t n)
{
  size_t i;

  if (n == 0 || n > 64)
    return false;
  for (i = 0; i < n; i++) {
    char c = s[i];

    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
          c == '_' || c == '.' || c == '-'))
      return false;
  }
  return true;
}

static void strlist_free(struct dhis2_strlist *l)
{
  size_t i;

  for (i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

/* Appends a copy of the n bytes at s to l. */
static enum dhis2_err strlist_push(struct dhis2_strlist *l, const char *s,
                                   size_t n)
{
  char **v;
  char *copy;

  copy = strndup(s, n);
  if (copy == NULL)
    return DHIS2_ERR_NOMEM;
  v = realloc(l->v, (l->n + 1) * sizeof(*v));
  if (v == NULL) {
    free(copy);
    return DHIS2_ERR_NOMEM;
  }
  v[l->n++] = copy; /* transferred */
  l->v = v;
  return DHIS2_OK;
}

/*
 * Splits the comma list s into *out (empty on entry; the caller frees it
 * with strlist_free), each item trimmed. An empty item sets *why.
 */
static enum dhis2_err split_list(const char *s, struct dhis2_strlist *out,
                                 const char **why)
{
  enum dhis2_err rc = DHIS2_OK;

  for (;;) {
    const char *end = strchr(s, ',');
    size_t n = end != NULL ? (size_t)(end - s) : strlen(s);

    while (n > 0 && is_space(*s)) {
      s++;
      n--;
    }
    while (n > 0 && is_space(s[n - 1]))
      n--;
    if (n == 0) {
      *why = "empty item in the list";
      rc = DHIS2_ERR_CONFIG;
      goto out;
    }
    rc = strlist_push(out, s, n);
    if (rc != DHIS2_OK || end == NULL)
      goto out;
    s = end + 1;
  }
out:
  if (rc != DHIS2_OK)
    strlist_free(out);
  return rc;
}

/* Parses 1 to 10 decimal digits, nothing else, into a value <= max. */
static bool parse_unsigned(const char *s, unsigned long max,
                           unsigned long *out)
{
  unsigned long v = 0;
  size_t i;

  for (i = 0; is_digit(s[i]); i++) {
    if (v > (max - (unsigned long)(s[i] - '0')) / 10)
      return false;
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if (i == 0 || s[i] != '\0')
    return false;
  *out = v;
  return true;
}

enum dhis2_err dhis2_parse_duration(const char *s, long *out)
{
  long unit = 1;
  long v = 0;
  size_t i;

  if (s == NULL)
    return DHIS2_ERR_INVAL;
  for (i = 0; is_digit(s[i]); i++) {
    long d = s[i] - '0';

    if (v > (LONG_MAX - d) / 10)
      return DHIS2_ERR_INVAL;
    v = v * 10 + d;
  }
  if (i == 0)
    return DHIS2_ERR_INVAL;
  switch (s[i]) {
  case '\0':
    break;
  case 's':
    break;
  case 'm':
    unit = 60;
    break;
  case 'h':
    unit = 3600;
    break;
  case 'd':
    unit = 86400;
    break;
  default:
    return DHIS2_ERR_INVAL;
  }
  if (s[i] != '\0' && s[i + 1] != '\0')
    return DHIS2_ERR_INVAL;
  if (v > LONG_MAX / unit)
    return DHIS2_ERR_INVAL;
  *out = v * unit;
  return DHIS2_OK;
}

enum dhis2_err dhis2_parse_bool(const char *s, bool *out)
{
  static const char *const yes[] = {"yes", "true", "on", "1"};
  static const char *const no[] = {"no", "false", "off", "0"};
  size_t i;

  if (s == NULL)
    return DHIS2_ERR_INVAL;
  for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
    if (dhis2_ascii_casecmp(s, yes[i]) == 0) {
      *out = true;
      return DHIS2_OK;
    }
    if (dhis2_ascii_casecmp(s, no[i]) == 0) {
      *out = false;
      return DHIS2_OK;
    }
  }
  return DHIS2_ERR_INVAL;
}

bool dhis2_strlist_contains(const struct dhis2_strlist *list, const char *s)
{
  size_t i;

  if (list == NULL || s == NULL)
    return false;
  for (i = 0; i < list->n; i++)
    if (dhis2_ascii_casecmp(list->v[i], s) == 0)
      return true;
  return false;
}

/* True when the n bytes at s are a port number 1..65535. */
static bool valid_port(const char *s, size_t n)
{
  unsigned long v = 0;
  size_t i;

  if (n == 0 || n > 5)
    return false;
  for (i = 0; i < n; i++) {
    if (!is_digit(s[i]))
      return false;
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  return v >= 1 && v <= 65535;
}

/*
 * Copies the host of url (brackets of an IPv6 literal removed) into host
 * and sets *v6 for a bracketed one. False when url has no scheme, has
 * user information, or its host or port is malformed.
 */
static bool url_host(const char *url, char *host, size_t hostlen, bool *v6)
{
  const char *a = strstr(url, "://");
  const char *end;
  const char *h;
  const char *port;
  size_t n;

  if (a == NULL)
    return false;
  a += 3;
  end = a + strcspn(a, "/?#");
  if (memchr(a, '@', (size_t)(end - a)) != NULL)
    return false;
  *v6 = *a == '[';
  if (*v6) {
    h = a + 1;
    port = memchr(h, ']', (size_t)(end - h));
    if (port == NULL)
      return false;
    n = (size_t)(port - h);
    port++;
  } else {
    h = a;
    port = memchr(h, ':', (size_t)(end - h));
    if (port == NULL)
      port = end;
    n = (size_t)(port - h);
  }
  if (n == 0 || n >= hostlen)
    return false;
  if (port != end &&
      (*port != ':' || !valid_port(port + 1, (size_t)(end - port - 1))))
    return false;
  memcpy(host, h, n);
  host[n] = '\0';
  return true;
}

bool dhis2_url_is_loopback(const char *url)
{
  struct in6_addr a6;
  struct in_addr a4;
  char host[256];
  bool v6 = false;

  if (url == NULL || !url_host(url, host, sizeof(host), &v6))
    return false;
  if (v6)
    return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
  if (dhis2_ascii_casecmp(host, "localhost") == 0)
    return true;
  if (inet_pton(AF_INET, host, &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;
  return false;
}

static bool url_is_http(const char *url)
{
  return dhis2_ascii_ncasecmp(url, "http://", 7) == 0;
}

/*
 * Checks the form of an http(s) URL and stores it without trailing
 * slashes in *dst. Whether http:// is allowed is decided at the end, when
 * allow_http is known.
 */
static enum dhis2_err set_url(char **dst, const char *v, const char **why)
{
  const char *a;
  const char *end;
  char host[256];
  bool v6 = false;
  struct in6_addr a6;
  size_t n;
  char *copy;

  if (dhis2_ascii_ncasecmp(v, "https://", 8) == 0)
    a = v + 8;
  else if (url_is_http(v))
    a = v + 7;
  else {
    *why = "not an http:// or https:// URL";
    return DHIS2_ERR_CONFIG;
  }
  end = a + strcspn(a, "/?#");
  if (memchr(a, '@', (size_t)(end - a)) != NULL) {
    *why = "must not contain user:password@";
    return DHIS2_ERR_CONFIG;
  }
  if (strpbrk(v, "?# ") != NULL) {
    *why = "must not have a space, a query or a fragment";
    return DHIS2_ERR_CONFIG;
  }
  if (!url_host(v, host, sizeof(host), &v6) ||
      (v6 && inet_pton(AF_INET6, host, &a6) != 1) ||
      (!v6 && strspn(host, "abcdefghijklmnopqrstuvwxyz"
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") !=
                  strlen(host))) {
    *why = "no valid host or port";
    return DHIS2_ERR_CONFIG;
  }
  n = strlen(v);
  while (n > (size_t)(end - v) && v[n - 1] == '/')
    n--;
  copy = strndup(v, n);
  if (copy == NULL)
    return DHIS2_ERR_NOMEM;
  for (n = 0; copy[n] != ':'; n++) /* "HTTPS" -> "https" for later checks */
    copy[n] = (char)(copy[n] | 0x20);
  free(*dst);
  *dst = copy; /* transferred */
  return DHIS2_OK;
}

static enum dhis2_err set_string(char **dst, const char *v)
{
  char *copy = strdup(v);

  if (copy == NULL)
    return DHIS2_ERR_NOMEM;
  free(*dst);
  *dst = copy; /* transferred */
  return DHIS2_OK;
}

static enum dhis2_err set_path(char **dst, const char *v, const char **why)
{
  if (v[0] != '/') {
    *why = "not an absolute path";
    return DHIS2_ERR_CONFIG;
  }
  return set_string(dst, v);
}

/* libcurl's pin list: sha256//BASE64, several joined with ';'. */
static enum dhis2_err set_pin(char **dst, const char *v, const char **why)
{
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                            "abcdefghijklmnopqrstuvwxyz0123456789+/=";
  const char *p = v;

  for (;;) {
    size_t n = strcspn(p, ";");
    size_t k;

    if (n <= 8 || strncmp(p, "sha256//", 8) != 0) {
      *why = "not sha256//BASE64";
      return DHIS2_ERR_CONFIG;
    }
    for (k = 8; k < n; k++) {
      if (strchr(b64, p[k]) == NULL) {
        *why = "not sha256//BASE64";
        return DHIS2_ERR_CONFIG;
      }
    }
    if (p[n] == '\0')
      break;
    p += n + 1;
  }
  return set_string(dst, v);
}

static enum dhis2_err set_list(struct dhis2_strlist *dst, const char *v,
                               const char **why)
{
  struct dhis2_strlist l = {NULL, 0};
  enum dhis2_err rc;

  rc = split_list(v, &l, why);
  if (rc != DHIS2_OK)
    return rc;
  strlist_free(dst);
  *dst = l; /* transferred */
  return DHIS2_OK;
}

/* A require_group / require_role list: an "id:" value must be a UID and a
   "name:" value must name something, or the line could never match. (A
   refused value fails the whole load, which frees what was set.) */
static enum dhis2_err set_named_list(struct dhis2_strlist *dst, const char *v,
                                     const char **why)
{
  enum dhis2_err rc = set_list(dst, v, why);

  for (size_t i = 0; rc == DHIS2_OK && i < dst->n; i++) {
    if (strncmp(dst->v[i], "id:", 3) == 0 &&
        !dhis2_uid_shaped(dst->v[i] + 3)) {
      *why = "id: needs a DHIS2 UID (11 letters and digits, a letter first)";
      rc = DHIS2_ERR_CONFIG;
    } else if (strcmp(dst->v[i], "name:") == 0) {
      *why = "name: needs a name";
      rc = DHIS2_ERR_CONFIG;
    }
  }
  return rc;
}

/* A list of org unit UIDs: anything else could never be on a path. */
static enum dhis2_err set_uid_list(struct dhis2_strlist *dst, const char *v,
                                   const char **why)
{
  enum dhis2_err rc = set_list(dst, v, why);

  for (size_t i = 0; rc == DHIS2_OK && i < dst->n; i++) {
    if (!dhis2_uid_shaped(dst->v[i])) {
      *why = "not a list of DHIS2 UIDs (11 letters and digits, a letter "
             "first)";
      rc = DHIS2_ERR_CONFIG;
    }
  }
  return rc;
}

static enum dhis2_err set_methods(unsigned *dst, const char *v,
                                  const char **why)
{
  struct dhis2_strlist l = {NULL, 0};
  enum dhis2_err rc;
  unsigned m = 0;
  size_t i;

  rc = split_list(v, &l, why);
  if (rc != DHIS2_OK)
    goto out;
  rc = DHIS2_ERR_CONFIG;
  for (i = 0; i < l.n; i++) {
    if (strcmp(l.v[i], "password") == 0)
      m |= DHIS2_METHOD_PASSWORD;
    else if (strcmp(l.v[i], "pat") == 0)
      m |= DHIS2_METHOD_PAT;
    else if (strcmp(l.v[i], "token") == 0)
      m |= DHIS2_METHOD_TOKEN;
    else if (strcmp(l.v[i], "device") == 0)
      m |= DHIS2_METHOD_DEVICE;
    else {
      *why = "not a list of password, pat, token, device";
      goto out;
    }
  }
  *dst = m;
  rc = DHIS2_OK;
out:
  strlist_free(&l);
  return rc;
}

/* Index of v in the NULL-terminated list words, or -1. */
static int choice(const char *v, const char *const *words)
{
  int i;

  for (i = 0; words[i] != NULL; i++)
    if (strcmp(v, words[i]) == 0)
      return i;
  return -1;
}

/* A duration above 0 and, when max > 0, at most max; too_long says so. */
static enum dhis2_err set_seconds(long *dst, const char *v, long max,
                                  const char *too_long, const char **why)
{
  long s = 0;

  if (dhis2_parse_duration(v, &s) != DHIS2_OK) {
    *why = "not a duration";
    return DHIS2_ERR_CONFIG;
  }
  if (s == 0) {
    *why = "must be more than 0 seconds";
    return DHIS2_ERR_CONFIG;
  }
  if (max > 0 && s > max) {
    *why = too_long;
    return DHIS2_ERR_CONFIG;
  }
  *dst = s;
  return DHIS2_OK;
}

/* Sets one key of t from v; *why says what is wrong on DHIS2_ERR_CONFIG. */
static enum dhis2_err set_value(struct target *t, const struct where *w,
                                enum key_id id, const char *v,
                                const char **why)
{
  static const char *const twofactor[] = {"prompt", "deny", NULL};
  static const char *const offline_twofactor[] = {"deny", "password", NULL};
  static const char *const oauth2[] = {"dhis2", "uaa", "oidc", NULL};
  static const char *const store[] = {"auto", "keyring", "file", NULL};
  static const char *const validation[] = {"auto", "api", "jwks", NULL};
  static const char *const account_check[] = {"none", "lookup", NULL};
  static const char *const unavailable[] = {"deny", "allow", NULL};
  struct dhis2_config *cfg = t->cfg;
  enum dhis2_err rc = DHIS2_ERR_CONFIG;
  unsigned long u = 0;
  char *secret;
  int c;

  switch (id) {
  case KEY_URL:
    rc = set_url(&cfg->url, v, why);
    if (rc == DHIS2_OK)
      t->url_at = *w;
    break;
  case KEY_CA_FILE:
    rc = set_path(&cfg->ca_file, v, why);
    break;
  case KEY_PINNED_PUBKEY:
    rc = set_pin(&cfg->pinned_pubkey, v, why);
    break;
  case KEY_ALLOW_HTTP:
    if (dhis2_parse_bool(v, &cfg->allow_http) == DHIS2_OK)
      rc = DHIS2_OK;
    else
      *why = "not yes or no";
    break;
  case KEY_DEBUG:
    if (dhis2_parse_bool(v, &cfg->debug) == DHIS2_OK)
      rc = DHIS2_OK;
    else
      *why = "not yes or no";
    break;
  case KEY_CONNECT_TIMEOUT:
    rc = set_seconds(&cfg->connect_timeout, v, CONF_TIMEOUT_MAX,
                     "must be at most 300 seconds", why);
    break;
  case KEY_TIMEOUT:
    rc = set_seconds(&cfg->timeout, v, CONF_TIMEOUT_MAX,
                     "must be at most 300 seconds", why);
    break;
  case KEY_FAILURE_WINDOW:
    rc = set_seconds(&cfg->failure_window, v, 0, NULL, why);
    break;
  case KEY_METHODS:
    rc = set_methods(&cfg->methods, v, why);
    break;
  case KEY_TWOFACTOR:
    c = choice(v, twofactor);
    if (c >= 0) {
      cfg->twofactor = c == 0 ? DHIS2_TWOFACTOR_PROMPT : DHIS2_TWOFACTOR_DENY;
      rc = DHIS2_OK;
    } else
      *why = "not prompt or deny";
    break;
  case KEY_USER_MAP:
    rc = set_path(&cfg->user_map, v, why);
    break;
  case KEY_STATE_DIR:
    rc = set_path(&cfg->state_dir, v, why);
    break;
  case KEY_MIN_UID:
    if (parse_unsigned(v, CONF_UID_MAX, &u)) {
      cfg->min_uid = (uid_t)u;
      rc = DHIS2_OK;
    } else
      *why = "not a uid (0 to 4294967294)";
    break;
  case KEY_MAX_UID:
    if (parse_unsigned(v, CONF_UID_MAX, &u)) {
      cfg->max_uid = (uid_t)u;
      rc = DHIS2_OK;
    } else
      *why = "not a uid (0 to 4294967294)";
    break;
  case KEY_REQUIRE_GROUP:
    rc = set_named_list(&cfg->require_group, v, why);
    break;
  case KEY_REQUIRE_ROLE:
    rc = set_named_list(&cfg->require_role, v, why);
    break;
  case KEY_REQUIRE_AUTHORITY:
    rc = set_list(&cfg->require_authority, v, why);
    break;
  case KEY_REQUIRE_ORGUNIT:
    rc = set_uid_list(&cfg->require_orgunit, v, why);
    break;
  case KEY_HOST_ORGUNIT:
    if (dhis2_uid_shaped(v))
      rc = set_string(&cfg->host_orgunit, v);
    else
      *why = "not a DHIS2 UID (11 letters and digits, a letter first)";
    break;
  case KEY_ACCOUNT_CHECK:
    c = choice(v, account_check);
    if (c >= 0) {
      cfg->account_check_lookup = c == 1;
      t->account_check_at = *w;
      rc = DHIS2_OK;
    } else
      *why = "not none or lookup";
    break;
  case KEY_LOOKUP_PAT_FILE:
    rc = set_path(&cfg->lookup_pat_file, v, why);
    break;
  case KEY_ACCOUNT_UNAVAILABLE:
    c = choice(v, unavailable);
    if (c >= 0) {
      cfg->account_unavailable_allow = c == 1;
      rc = DHIS2_OK;
    } else
      *why = "not deny or allow";
    break;
  case KEY_FAILURE_LIMIT:
    if (parse_unsigned(v, CONF_FAILURE_LIMIT_MAX, &u)) {
      cfg->failure_limit = (unsigned)u;
      rc = DHIS2_OK;
    } else
      *why = "not a number from 0 to 1000";
    break;
  case KEY_OFFLINE:
    if (dhis2_parse_bool(v, &cfg->offline) == DHIS2_OK)
      rc = DHIS2_OK;
    else
      *why = "not yes or no";
    break;
  case KEY_OFFLINE_TTL:
    rc = set_seconds(&cfg->offline_ttl, v, CONF_OFFLINE_TTL_MAX,
                     "must be at most 90d", why);
    break;
  case KEY_OFFLINE_HASH_COST:
    if (parse_unsigned(v, 11, &u) && u >= 3) {
      cfg->offline_hash_cost = (unsigned)u;
      rc = DHIS2_OK;
    } else
      *why = "not a number from 3 to 11";
    break;
  case KEY_OFFLINE_FAILURE_LIMIT:
    if (parse_unsigned(v, CONF_FAILURE_LIMIT_MAX, &u)) {
      cfg->offline_failure_limit = (unsigned)u;
      rc = DHIS2_OK;
    } else
      *why = "not a number from 0 to 1000";
    break;
  case KEY_OFFLINE_FAILURE_DELAY:
    rc = set_seconds(&cfg->offline_failure_delay, v, CONF_OFFLINE_DELAY_MAX,
                     "must be at most 1d", why);
    break;
  case KEY_OFFLINE_TWOFACTOR:
    c = choice(v, offline_twofactor);
    if (c >= 0) {
      cfg->offline_twofactor_password = c == 1;
      rc = DHIS2_OK;
    } else
      *why = "not deny or password";
    break;
  case KEY_DEVICE_TIMEOUT:
    rc = set_seconds(&cfg->device_timeout, v, CONF_DEVICE_TIMEOUT_MAX,
                     "must be at most 15m", why);
    break;
  case KEY_STORE_TOKENS:
    if (dhis2_parse_bool(v, &cfg->store_tokens) == DHIS2_OK)
      rc = DHIS2_OK;
    else
      *why = "not yes or no";
    break;
  case KEY_OAUTH2:
    c = choice(v, oauth2);
    if (c >= 0) {
      cfg->oauth2 = c == 0   ? DHIS2_OAUTH2_DHIS2
                    : c == 1 ? DHIS2_OAUTH2_UAA
                             : DHIS2_OAUTH2_OIDC;
      rc = DHIS2_OK;
    } else
      *why = "not dhis2, uaa or oidc";
    break;
  case KEY_ISSUER:
    rc = set_url(&cfg->issuer, v, why);
    if (rc == DHIS2_OK)
      t->issuer_at = *w;
    break;
  case KEY_CLIENT_ID:
    rc = set_string(&cfg->client_id, v);
    break;
  case KEY_CLIENT_SECRET:
    rc = DHIS2_ERR_NOMEM;
    secret = dhis2_secret_dup(v);
    if (secret != NULL) {
      dhis2_secret_free(cfg->client_secret);
      cfg->client_secret = secret; /* transferred */
      rc = DHIS2_OK;
    }
    break;
  case KEY_SCOPE:
    rc = set_string(&cfg->scope, v);
    break;
  case KEY_REDIRECT_PORT:
    if (parse_unsigned(v, 65535, &u) && u > 0) {
      cfg->redirect_port = (unsigned)u;
      rc = DHIS2_OK;
    } else
      *why = "not a port (1 to 65535)";
    break;
  case KEY_TOKEN_STORE:
    c = choice(v, store);
    if (c >= 0) {
      cfg->token_store = c == 0   ? DHIS2_STORE_AUTO
                         : c == 1 ? DHIS2_STORE_KEYRING
                                  : DHIS2_STORE_FILE;
      rc = DHIS2_OK;
    } else
      *why = "not auto, keyring or file";
    break;
  case KEY_TOKEN_VALIDATION:
    c = choice(v, validation);
    if (c >= 0) {
      cfg->token_validation = c == 0   ? DHIS2_VALIDATE_AUTO
                              : c == 1 ? DHIS2_VALIDATE_API
                                       : DHIS2_VALIDATE_JWKS;
      rc = DHIS2_OK;
    } else
      *why = "not auto, api or jwks";
    break;
  }
  return rc;
}

/*
 * Sets key (known to be valid) from v, or writes into err why not. The
 * value is quoted in the message unless it may hold a secret: never for
 * client_secret, nor for a URL with an '@' (user:password@).
 */
static enum dhis2_err set_key(struct target *t, const struct where *w,
                              const struct key_name *k, const char *v,
                              char *err, size_t errlen)
{
  enum dhis2_err rc = DHIS2_ERR_CONFIG;
  const char *why = "invalid value";
  bool show;

  show = k->id != KEY_CLIENT_SECRET &&
         !((k->id == KEY_URL || k->id == KEY_ISSUER) && strchr(v, '@'));
  if (v[0] == '\0') {
    say(err, errlen, w, "%s: empty value", k->name);
    goto out;
  }
  if (has_control(v)) {
    say(err, errlen, w, "%s: control character in the value", k->name);
    goto out;
  }
  rc = set_value(t, w, k->id, v, &why);
  if (rc == DHIS2_ERR_NOMEM)
    say(err, errlen, w, "%s: out of memory", k->name);
  else if (rc != DHIS2_OK && show)
    say(err, errlen, w, "%s: %s: '%s'", k->name, why, v);
  else if (rc != DHIS2_OK)
    say(err, errlen, w, "%s: %s", k->name, why);
out:
  return rc;
}

static const struct key_name *find_key(const char *name)
{
  size_t i;

  for (i = 0; i < sizeof(key_names) / sizeof(key_names[0]); i++)
    if (strcmp(name, key_names[i].name) == 0)
      return &key_names[i];
  return NULL;
}

static bool is_arg_only(const char *name)
{
  size_t i;

  for (i = 0; i < sizeof(arg_only) / sizeof(arg_only[0]); i++)
    if (strcmp(name, arg_only[i]) == 0)
      return true;
  return false;
}

/* Handles "[NAME]": switches *t to the profile or to scratch. */
static enum dhis2_err parse_section(struct loader *ld, const struct where *w,
                                    char *s, struct dhis2_strlist *seen,
                                    struct target **t)
{
  char *close = strchr(s, ']');
  char *rest;
  size_t n;
  size_t i;

  if (close == NULL) {
    say(ld->err, ld->errlen, w, "section header without ']'");
    return DHIS2_ERR_CONFIG;
  }
  rest = close + 1;
  while (is_space(*rest))
    rest++;
  if (*rest != '\0' && *rest != '#') {
    say(ld->err, ld->errlen, w, "text after the section header");
    return DHIS2_ERR_CONFIG;
  }
  *close = '\0';
  s++;
  n = strlen(s);
  if (!valid_name(s, n)) {
    say(ld->err, ld->errlen, w,
        "invalid section name '%.64s' (want [A-Za-z0-9_.-]+)", s);
    return DHIS2_ERR_CONFIG;
  }
  if (strcmp(s, "default") == 0) {
    say(ld->err, ld->errlen, w,
        "no [default] section: keys before any section are the default "
        "profile");
    return DHIS2_ERR_CONFIG;
  }
  for (i = 0; i < seen->n; i++) {
    if (strcmp(seen->v[i], s) == 0) {
      say(ld->err, ld->errlen, w, "duplicate section [%s]", s);
      return DHIS2_ERR_CONFIG;
    }
  }
  if (strlist_push(seen, s, n) != DHIS2_OK) {
    say(ld->err, ld->errlen, w, "out of memory");
    return DHIS2_ERR_NOMEM;
  }
  if (strcmp(s, ld->profile) == 0) {
    ld->found = true;
    ld->file_has = true;
    *t = &ld->real;
  } else
    *t = &ld->scratch;
  return DHIS2_OK;
}

/*
 * Cuts the value after '=' out of v in place: a double-quoted value keeps
 * everything between the quotes; otherwise a '#' at the start or after a
 * blank begins a comment. Returns NULL (err written) when malformed.
 */
static char *cut_value(struct loader *ld, const struct where *w,
                       const char *key, char *v)
{
  char *p;

  while (is_space(*v))
    v++;
  if (*v == '"') {
    char *q = strchr(v + 1, '"');

    if (q == NULL) {
      say(ld->err, ld->errlen, w, "%s: no closing '\"'", key);
      return NULL;
    }
    *q = '\0';
    for (p = q + 1; is_space(*p); p++)
      ;
    if (*p != '\0' && *p != '#') {
      say(ld->err, ld->errlen, w, "%s: text after the closing '\"'", key);
      return NULL;
    }
    return v + 1;
  }
  for (p = v; *p != '\0'; p++) {
    if (*p == '#' && (p == v || is_space(p[-1]))) {
      *p = '\0';
      break;
    }
  }
  return trim(v);
}

/* One line of a file (NUL-terminated, no newline). */
static enum dhis2_err parse_line(struct loader *ld, const struct where *w,
                                 char *line, struct dhis2_strlist *seen,
                                 struct target **t)
{
  const struct key_name *k;
  char *s = trim(line);
  char *eq;
  char *key;
  char *v;

  if (*s == '\0' || *s == '#')
    return DHIS2_OK;
  if (*s == '[')
    return parse_section(ld, w, s, seen, t);
  eq = strchr(s, '=');
  if (eq == NULL) {
    /* The line is not echoed: it may be "client_secret s3cret". */
    say(ld->err, ld->errlen, w, "expected 'key = value'");
    return DHIS2_ERR_CONFIG;
  }
  *eq = '\0';
  key = trim(s);
  if (*key == '\0') {
    say(ld->err, ld->errlen, w, "no key before '='");
    return DHIS2_ERR_CONFIG;
  }
  k = find_key(key);
  if (k == NULL && is_arg_only(key)) {
    say(ld->err, ld->errlen, w, "%s: only allowed as a module argument", key);
    return DHIS2_ERR_CONFIG;
  }
  if (k == NULL && !valid_name(key, strlen(key))) {
    /* Not echoed: "client_secret s3cret = x" has the secret in the key. */
    say(ld->err, ld->errlen, w, "malformed key before '='");
    return DHIS2_ERR_CONFIG;
  }
  if (k == NULL) {
    say(ld->err, ld->errlen, w, "unknown key '%s'", key);
    return DHIS2_ERR_CONFIG;
  }
  v = cut_value(ld, w, key, eq + 1);
  if (v == NULL)
    return DHIS2_ERR_CONFIG;
  return set_key(*t, w, k, v, ld->err, ld->errlen);
}

/* Parses len bytes of the file path, read into buf. */
static enum dhis2_err parse_file(struct loader *ld, const char *path,
                                 const char *buf, size_t len)
{
  enum dhis2_err rc = DHIS2_OK;
  struct dhis2_strlist seen = {NULL, 0};
  struct target *t = &ld->real; /* keys before any section: "default" */
  struct where w = {path, 0};
  char line[CONF_LINE_MAX + 1];
  size_t pos = 0;

  while (pos < len) {
    const char *nl = memchr(buf + pos, '\n', len - pos);
    size_t n = nl != NULL ? (size_t)(nl - (buf + pos)) : len - pos;

    w.line++;
    rc = DHIS2_ERR_CONFIG;
    if (n > CONF_LINE_MAX) {
      say(ld->err, ld->errlen, &w, "line longer than %d bytes", CONF_LINE_MAX);
      goto out;
    }
    if (memchr(buf + pos, '\0', n) != NULL) {
      say(ld->err, ld->errlen, &w, "NUL byte in the line");
      goto out;
    }
    memcpy(line, buf + pos, n);
    line[n] = '\0';
    pos += n + 1;
    rc = parse_line(ld, &w, line, &seen, &t);
    if (rc != DHIS2_OK)
      goto out;
  }
out:
  dhis2_secret_wipe(line, sizeof(line)); /* may hold client_secret */
  strlist_free(&seen);
  return rc;
}

/*
 * Reads and parses one file that must be owned by owner or root. A
 * missing file is skipped unless required.
 */
static enum dhis2_err read_file(struct loader *ld, const char *path,
                                uid_t owner, bool required)
{
  enum dhis2_err rc;
  char *buf = NULL;
  size_t len = 0;

  rc = dhis2_file_read(path, owner, 1, CONF_FILE_MAX, &buf, &len, ld->err,
                       ld->errlen);
  if (rc == DHIS2_ERR_IO && errno == ENOENT && !required) {
    if (ld->errlen > 0)
      ld->err[0] = '\0';
    rc = DHIS2_OK;
    goto out;
  }
  if (rc != DHIS2_OK)
    goto out;
  ld->file_has = false;
  rc = parse_file(ld, path, buf, len);
  if (rc != DHIS2_OK)
    goto out;
  ld->files[ld->files[0] == NULL ? 0 : 1] = path;
  if (ld->file_has || strcmp(ld->profile, "default") == 0)
    ld->source = path;
out:
  dhis2_secret_free_n(buf, len); /* may hold client_secret */
  return rc;
}

/*
 * First look at the arguments: conf=, profile= and whether url= is there.
 * The last conf= and profile= win, as every other key does.
 */
static enum dhis2_err scan_args(const struct dhis2_config_opts *opts,
                                const char **conf, const char **profile,
                                char *err, size_t errlen)
{
  static const struct where arg = {NULL, 0};
  int i;

  for (i = 0; i < opts->argc; i++) {
    const char *a = opts->argv[i];

    if (a == NULL)
      continue;
    if (strncmp(a, "conf=", 5) == 0) {
      if (a[5] == '\0') {
        say(err, errlen, &arg, "conf: empty value");
        return DHIS2_ERR_CONFIG;
      }
      *conf = a + 5;
    } else if (strncmp(a, "profile=", 8) == 0) {
      if (!valid_name(a + 8, strlen(a + 8))) {
        say(err, errlen, &arg,
            "profile: invalid name '%.64s' (want [A-Za-z0-9_.-]+)", a + 8);
        return DHIS2_ERR_CONFIG;
      }
      *profile = a + 8;
    }
  }
  return DHIS2_OK;
}

/* Applies every argument other than conf= and profile= to the profile. */
static enum dhis2_err apply_args(struct loader *ld,
                                 const struct dhis2_config_opts *opts)
{
  static const struct where arg = {NULL, 0};
  struct dhis2_config *cfg = ld->real.cfg;
  const struct key_name *k;
  enum dhis2_err rc;
  char key[32];
  int i;

  for (i = 0; i < opts->argc; i++) {
    const char *a = opts->argv[i];
    const char *eq;
    size_t n;

    if (a == NULL)
      continue;
    if (strcmp(a, "debug") == 0) {
      cfg->debug = true;
      continue;
    }
    if (strcmp(a, "use_first_pass") == 0) {
      cfg->use_first_pass = true;
      continue;
    }
    if (strcmp(a, "try_first_pass") == 0) {
      cfg->try_first_pass = true;
      continue;
    }
    eq = strchr(a, '=');
    if (eq == NULL) {
      say(ld->err, ld->errlen, &arg, "unknown option '%.64s'", a);
      return DHIS2_ERR_CONFIG;
    }
    /* Only the key is echoed: the value may be a mistyped secret. */
    n = (size_t)(eq - a);
    if (n == 0 || n >= sizeof(key)) {
      say(ld->err, ld->errlen, &arg, "unknown option '%.*s'",
          (int)(n > 64 ? 64 : n), a);
      return DHIS2_ERR_CONFIG;
    }
    memcpy(key, a, n);
    key[n] = '\0';
    if (strcmp(key, "conf") == 0 || strcmp(key, "profile") == 0)
      continue;
    k = find_key(key);
    if (k == NULL && is_arg_only(key)) {
      say(ld->err, ld->errlen, &arg, "%s: takes no value", key);
      return DHIS2_ERR_CONFIG;
    }
    if (k == NULL) {
      say(ld->err, ld->errlen, &arg, "unknown option '%s'", key);
      return DHIS2_ERR_CONFIG;
    }
    rc = set_key(&ld->real, &arg, k, eq + 1, ld->err, ld->errlen);
    if (rc != DHIS2_OK)
      return rc;
  }
  return DHIS2_OK;
}

/* https, or http to loopback with allow_http; writes err when not. */
static enum dhis2_err check_scheme(const struct target *t, const char *key,
                                   const char *url, const struct where *w,
                                   char *err, size_t errlen)
{
  if (!url_is_http(url))
    return DHIS2_OK;
  if (!t->cfg->allow_http) {
    say(err, errlen, w, "%s: http:// needs allow_http = yes: '%s'", key, url);
    return DHIS2_ERR_CONFIG;
  }
  if (!dhis2_url_is_loopback(url)) {
    say(err, errlen, w, "%s: http:// only to a loopback address: '%s'", key,
        url);
    return DHIS2_ERR_CONFIG;
  }
  return DHIS2_OK;
}

/* The checks that need every source applied, then the late defaults. */
static enum dhis2_err finish(struct loader *ld, const char *sys)
{
  struct dhis2_config *cfg = ld->real.cfg;
  enum dhis2_err rc = DHIS2_ERR_CONFIG;

  if (strcmp(ld->profile, "default") != 0 && !ld->found) {
    if (ld->files[0] == NULL)
      say(ld->err, ld->errlen, NULL,
          "profile '%s': no configuration file to define it (%s: %s)",
          ld->profile, sys, strerror(ENOENT));
    else
      say(ld->err, ld->errlen, NULL, "profile '%s': no [%s] section in %s%s%s",
          ld->profile, ld->profile, ld->files[0],
          ld->files[1] != NULL ? " or " : "",
          ld->files[1] != NULL ? ld->files[1] : "");
    goto out;
  }
  if (cfg->url == NULL) {
    if (ld->files[0] == NULL)
      say(ld->err, ld->errlen, NULL, "%s: %s, and no url= argument", sys,
          strerror(ENOENT));
    else
      say(ld->err, ld->errlen, NULL, "%s: url: not set for profile '%s'",
          ld->files[ld->files[1] != NULL ? 1 : 0], ld->profile);
    goto out;
  }
  rc = check_scheme(&ld->real, "url", cfg->url, &ld->real.url_at, ld->err,
                    ld->errlen);
  if (rc != DHIS2_OK)
    goto out;
  if (cfg->issuer != NULL) {
    rc = check_scheme(&ld->real, "issuer", cfg->issuer, &ld->real.issuer_at,
                      ld->err, ld->errlen);
    if (rc != DHIS2_OK)
      goto out;
  }
  /* A lookup without its token could only ever fail, at every sign-in. */
  if (cfg->account_check_lookup && cfg->lookup_pat_file == NULL) {
    say(ld->err, ld->errlen, &ld->real.account_check_at,
        "account_check = lookup: lookup_pat_file is not set for profile "
        "'%s'",
        ld->profile);
    rc = DHIS2_ERR_CONFIG;
    goto out;
  }
  rc = DHIS2_ERR_NOMEM;
  /* DHIS2's own server: no default here, the helper picks one by the
     server's release (dhis2_oauth2_dhis2_scope_for()). */
  if (cfg->scope == NULL && cfg->oauth2 != DHIS2_OAUTH2_DHIS2 &&
      set_string(&cfg->scope,
                 cfg->oauth2 == DHIS2_OAUTH2_OIDC ? "openid" : "ALL") !=
          DHIS2_OK)
    goto out;
  if (set_string(&cfg->profile, ld->profile) != DHIS2_OK)
    goto out;
  if (ld->source != NULL && set_string(&cfg->source, ld->source) != DHIS2_OK)
    goto out;
  rc = DHIS2_OK;
out:
  if (rc == DHIS2_ERR_NOMEM)
    say(ld->err, ld->errlen, NULL, "out of memory");
  return rc;
}

/* A configuration holding every default of DESIGN.md section 3. */
static struct dhis2_config *config_new(void)
{
  struct dhis2_config *cfg = calloc(1, sizeof(*cfg));

  if (cfg == NULL)
    return NULL;
  cfg->connect_timeout = 5;
  cfg->timeout = 10;
  cfg->methods = DHIS2_METHOD_PASSWORD | DHIS2_METHOD_PAT;
  cfg->twofactor = DHIS2_TWOFACTOR_PROMPT;
  cfg->min_uid = 1000;
  cfg->max_uid = 60000;
  cfg->failure_limit = 3;
  cfg->failure_window = 900;
  cfg->offline = false;
  cfg->offline_ttl = 7L * 86400;
  cfg->offline_failure_limit = 5;
  cfg->offline_hash_cost = DHIS2_CACHE_COST;
  cfg->offline_failure_delay = 5L * 60;
  cfg->offline_twofactor_password = false;
  cfg->device_timeout = 120;
  cfg->store_tokens = true;
  cfg->oauth2 = DHIS2_OAUTH2_DHIS2;
  cfg->redirect_port = 8765;
  cfg->token_store = DHIS2_STORE_AUTO;
  cfg->token_validation = DHIS2_VALIDATE_AUTO;
  cfg->state_dir = strdup(DHIS2_STATE_DIR);
  if (cfg->state_dir == NULL) {
    free(cfg);
    return NULL;
  }
  return cfg;
}

enum dhis2_err dhis2_config_load(const struct dhis2_config_opts *opts,
                                 struct dhis2_config **out, char *err,
                                 size_t errlen)
{
  enum dhis2_err rc = DHIS2_ERR_NOMEM;
  struct loader ld;
  const char *conf = NULL;
  const char *profile = NULL;
  const char *sys;

  *out = NULL;
  if (err == NULL)
    errlen = 0;
  if (errlen > 0)
    err[0] = '\0';
  memset(&ld, 0, sizeof(ld));
  ld.err = err;
  ld.errlen = errlen;
  ld.real.cfg = config_new();
  ld.scratch.cfg = config_new();
  if (ld.real.cfg == NULL || ld.scratch.cfg == NULL) {
    say(err, errlen, NULL, "out of memory");
    goto out;
  }
  rc = DHIS2_ERR_CONFIG;
  if (opts->profile != NULL &&
      !valid_name(opts->profile, strlen(opts->profile))) {
    say(err, errlen, NULL,
        "profile: invalid name '%.64s' (want [A-Za-z0-9_.-]+)", opts->profile);
    goto out;
  }
  profile = opts->profile;
  rc = scan_args(opts, &conf, &profile, err, errlen);
  if (rc != DHIS2_OK)
    goto out;
  ld.profile = profile != NULL ? profile : "default";

  /* An explicit conf= must exist, as in pam_faillock. */
  sys = conf != NULL                ? conf
        : opts->system_path != NULL ? opts->system_path
                                    : DHIS2_SYSCONF_FILE;
  rc = read_file(&ld, sys, 0, conf != NULL || opts->system_required);
  if (rc != DHIS2_OK)
    goto out;
  if (opts->user_path != NULL) {
    rc = read_file(&ld, opts->user_path, opts->user_uid, false);
    if (rc != DHIS2_OK)
      goto out;
  }
  rc = apply_args(&ld, opts);
  if (rc != DHIS2_OK)
    goto out;
  rc = finish(&ld, sys);
  if (rc != DHIS2_OK)
    goto out;
  *out = ld.real.cfg;
  ld.real.cfg = NULL; /* transferred */
out:
  dhis2_config_free(ld.real.cfg);
  dhis2_config_free(ld.scratch.cfg);
  return rc;
}

void dhis2_config_free(struct dhis2_config *cfg)
{
  if (cfg == NULL)
    return;
  free(cfg->profile);
  free(cfg->source);
  free(cfg->url);
  free(cfg->ca_file);
  free(cfg->pinned_pubkey);
  free(cfg->user_map);
  strlist_free(&cfg->require_group);
  strlist_free(&cfg->require_role);
  strlist_free(&cfg->require_authority);
  strlist_free(&cfg->require_orgunit);
  free(cfg->host_orgunit);
  free(cfg->lookup_pat_file);
  free(cfg->state_dir);
  free(cfg->issuer);
  free(cfg->client_id);
  dhis2_secret_free(cfg->client_secret);
  free(cfg->scope);
  free(cfg);
}
