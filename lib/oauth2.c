/* OAuth2 for terminal users: discovery, PKCE, the loopback receiver. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "dhis2/ascii.h"
#include "dhis2/http.h"
#include "dhis2/json.h"
#include "dhis2/log.h"
#include "dhis2/oauth2.h"
#include "dhis2/secret.h"
#include "oauth2_internal.h"

/* Each connection to the loopback receiver: how long it may take (its
   request head's cap is in oauth2_internal.h). LOOPBACK_CONNS are served
   at once. */
#define LOOPBACK_CONN_TIMEOUT 10
#define LOOPBACK_CONNS 8

void dhis2_oauth2_endpoints_clear(struct dhis2_oauth2_endpoints *ep)
{
  free(ep->issuer);
  free(ep->authorization);
  free(ep->token);
  free(ep->jwks);
  free(ep->revocation);
  free(ep->device_authorization);
  free(ep->userinfo);
  memset(ep, 0, sizeof(*ep));
}

/* A string member of obj copied out, or NULL. */
static char *member(struct json_object *obj, const char *name)
{
  struct json_object *v;

  if (!json_object_object_get_ex(obj, name, &v) ||
      !json_object_is_type(v, json_type_string))
    return NULL;
  return strdup(json_object_get_string(v));
}

/* True when the discovery document lists client_secret_post and not
   client_secret_basic (absent means basic, RFC 8414's default). */
static bool secret_post_only(struct json_object *root)
{
  struct json_object *list;
  bool basic = false;
  bool post = false;

  if (!json_object_object_get_ex(root, "token_endpoint_auth_methods_supported",
                                 &list) ||
      !json_object_is_type(list, json_type_array))
    return false;
  for (size_t i = 0; i < json_object_array_length(list); i++) {
    const char *m = json_object_get_string(json_object_array_get_idx(list, i));

    basic = basic || (m && strcmp(m, "client_secret_basic") == 0);
    post = post || (m && strcmp(m, "client_secret_post") == 0);
  }
  return post && !basic;
}

/* The fixed endpoints of DHIS2's legacy (<= 2.40) authorization server. */
static enum dhis2_err uaa_endpoints(const struct dhis2_config *cfg,
                                    struct dhis2_oauth2_endpoints *ep)
{
  ep->issuer = strdup(cfg->url);
  ep->authorization = dhis2_url_join(cfg->url, "/uaa/oauth/authorize");
  ep->token = dhis2_url_join(cfg->url, "/uaa/oauth/token");
  if (ep->issuer == NULL || ep->authorization == NULL || ep->token == NULL)
    return DHIS2_ERR_NOMEM;
  return DHIS2_OK;
}

enum dhis2_err dhis2_oauth2_discovery_parse(const struct dhis2_config *cfg,
                                            const char *url, const char *body,
                                            size_t len,
                                            struct dhis2_oauth2_endpoints *ep,
                                            char *why, size_t whylen)
{
  enum dhis2_err rc;
  bool dhis2 = cfg->oauth2 == DHIS2_OAUTH2_DHIS2;
  struct json_object *root = NULL;

  memset(ep, 0, sizeof(*ep));
  if (whylen > 0)
    why[0] = '\0';
  rc = dhis2_json_parse_object(body, len, &root);
  if (rc == DHIS2_ERR_NOMEM)
    goto out;
  rc = DHIS2_ERR_CONFIG;
  if (root == NULL) {
    snprintf(why, whylen, "%s is not a JSON discovery document", url);
    goto out;
  }
  ep->issuer = member(root, "issuer");
  ep->authorization = member(root, "authorization_endpoint");
  ep->token = member(root, "token_endpoint");
  ep->jwks = member(root, "jwks_uri");
  ep->revocation = member(root, "revocation_endpoint");
  ep->device_authorization = member(root, "device_authorization_endpoint");
  ep->userinfo = member(root, "userinfo_endpoint");
  ep->secret_post = secret_post_only(root);
  if (ep->issuer == NULL || ep->authorization == NULL || ep->token == NULL) {
    snprintf(why, whylen,
             "%s lacks issuer, authorization_endpoint or "
             "token_endpoint",
             url);
    goto out;
  }
  if (ep->jwks == NULL) {
    snprintf(why, whylen,
             "%s has no jwks_uri: id_tokens could not be "
             "verified",
             url);
    goto out;
  }
  if (!dhis2_oauth2_browser_url_ok(cfg, ep->authorization)) {
    snprintf(why, whylen,
             "%s names authorization_endpoint %s: the browser goes only "
             "to an https URL (http only to loopback with allow_http)",
             url, dhis2_log_untrusted(ep->authorization));
    goto out;
  }
  /* The issuer baked into tokens comes from server.base.url (2.42.2+;
     2.42.5+ appends "/"), or from the request (2.42.0, 2.42.1): one that
     is not this server's url makes /api refuse every token later, so say
     it now. */
  if (dhis2 && !dhis2_oauth2_issuer_is_url(ep->issuer, cfg->url)) {
    snprintf(why, whylen,
             "the server's issuer is %s, not %s: set server.base.url = %s "
             "in dhis.conf (DHIS2 2.42.2 and later; 2.42.0 and 2.42.1 take "
             "the issuer from the address a request came to, so a proxy "
             "must pass on the host and scheme it was reached with), or "
             "url here to match",
             dhis2_log_untrusted(ep->issuer), cfg->url, cfg->url);
    goto out;
  }
  rc = DHIS2_OK;
out:
  if (rc != DHIS2_OK)
    dhis2_oauth2_endpoints_clear(ep);
  json_object_put(root);
  return rc;
}

enum dhis2_err dhis2_oauth2_discover(struct dhis2_client *c,
                                     const struct dhis2_config *cfg,
                                     struct dhis2_oauth2_endpoints *ep,
                                     char *why, size_t whylen)
{
  enum dhis2_err rc = DHIS2_ERR_NOMEM;
  bool dhis2 = cfg->oauth2 == DHIS2_OAUTH2_DHIS2;
  const char *base = dhis2 ? cfg->url : cfg->issuer;
  struct dhis2_http_resp resp = {0};
  char *url = NULL;

  memset(ep, 0, sizeof(*ep));
  if (whylen > 0)
    why[0] = '\0';
  if (cfg->oauth2 == DHIS2_OAUTH2_UAA)
    return uaa_endpoints(cfg, ep);
  if (base == NULL) {
    snprintf(why, whylen,
             "oauth2 = oidc needs issuer = the identity "
             "provider's URL");
    return DHIS2_ERR_CONFIG;
  }
  url = dhis2_url_join(base, "/.well-known/openid-configuration");
  if (url == NULL)
    goto out;
  {
    struct dhis2_http_req req = {.method = "GET", .url = url};

    rc = dhis2_client_request(c, &req, &resp);
  }
  if (rc != DHIS2_OK)
    goto out;
  rc = DHIS2_ERR_CONFIG;
  if (resp.status != 200) {
    if (dhis2)
      snprintf(why, whylen,
               "%s answers %ld: DHIS2's OAuth2 server is off; set "
               "oauth2.server.enabled = on in dhis.conf (DHIS2 2.42+), or "
               "use oauth2 = uaa for an older server",
               url, resp.status);
    else
      snprintf(why, whylen,
               "%s answers %ld: no OpenID discovery there; "
               "check issuer",
               url, resp.status);
    goto out;
  }
  rc = dhis2_oauth2_discovery_parse(cfg, url, resp.body, resp.body_len, ep,
                                    why, whylen);
out:
  if (rc != DHIS2_OK)
    dhis2_oauth2_endpoints_clear(ep);
  dhis2_http_resp_clear(&resp);
  free(url);
  return rc;
}

bool dhis2_oauth2_issuer_is_url(const char *issuer, const char *url)
{
  size_t il;
  size_t ul;

  if (issuer == NULL || url == NULL)
    return false;
  il = strlen(issuer);
  ul = strlen(url);
  /* One trailing slash on either side, never more: "https://h/dhis" and
     "https://h/dhis/" name the same server, "https://h/dhis//" does not. */
  if (il > 0 && issuer[il - 1] == '/')
    il--;
  if (ul > 0 && url[ul - 1] == '/')
    ul--;
  return il == ul && il > 0 && strncmp(issuer, url, il) == 0 &&
         issuer[il - 1] != '/';
}

/* "2.42.4.1" -> 24204, "2.44-SNAPSHOT" -> 24400; -1 when not a version. */
static long release_number(const char *v)
{
  long part[3] = {0, 0, 0};
  const char *p = v;

  for (int i = 0; i < 3; i++) {
    char *end;

    if (*p < '0' || *p > '9')
      return i >= 2 ? part[0] * 10000 + part[1] * 100 : -1;
    part[i] = strtol(p, &end, 10);
    if (part[i] > 99)
      return -1;
    p = end;
    if (*p != '.')
      return i >= 1 ? part[0] * 10000 + part[1] * 100 + part[2] : -1;
    p++;
  }
  return part[0] * 10000 + part[1] * 100 + part[2];
}

const char *dhis2_oauth2_dhis2_scope_for(const char *release)
{
  long n = release ? release_number(release) : -1;

  /* 2.42.0-2.42.4 find the user by mapping_claim (default email) in the
     OpenID field: the username scope does nothing there, and email is
     the user's to ask for (2.42.5 fails the grant without an e-mail).
     2.42.5+ find the user by the username claim, and the newest code
     refuses ALL. An unknown answer is taken as a newer server. */
  if (n >= 0 && n < 24205)
    return "ALL openid";
  return "openid username";
}

enum dhis2_err dhis2_oauth2_release_parse(const char *body, size_t len,
                                          char **release)
{
  enum dhis2_err rc = DHIS2_ERR_UNSUPPORTED; /* before 2.41: a login page */
  struct json_object *root = NULL;

  *release = NULL;
  if (dhis2_json_parse_object(body, len, &root) != DHIS2_OK || root == NULL)
    goto out;
  *release = member(root, "apiVersion");
  if (*release != NULL)
    rc = DHIS2_OK;
out:
  json_object_put(root);
  return rc;
}

enum dhis2_err dhis2_oauth2_server_release(struct dhis2_client *c,
                                           char **release)
{
  enum dhis2_err rc = DHIS2_ERR_NOMEM;
  struct dhis2_http_resp resp = {0};
  char *url = dhis2_url_join(c->url, "/api/loginConfig");

  *release = NULL;
  if (url == NULL)
    goto out;
  {
    struct dhis2_http_req req = {.method = "GET", .url = url};

    rc = dhis2_client_request(c, &req, &resp);
  }
  if (rc != DHIS2_OK)
    goto out;
  rc = DHIS2_ERR_UNSUPPORTED; /* before 2.41: 401 or a login page */
  if (resp.status != 200)
    goto out;
  rc = dhis2_oauth2_release_parse(resp.body, resp.body_len, release);
out:
  dhis2_http_resp_clear(&resp);
  free(url);
  return rc;
}

enum dhis2_err dhis2_oauth2_refusal_parse(const char *body, size_t len,
                                          char **message)
{
  enum dhis2_err rc = DHIS2_ERR_UNSUPPORTED; /* no WebMessage */
  struct json_object *root = NULL;

  *message = NULL;
  if (dhis2_json_parse_object(body, len, &root) != DHIS2_OK || root == NULL)
    goto out;
  *message = member(root, "message");
  if (*message != NULL)
    rc = DHIS2_OK;
out:
  json_object_put(root);
  return rc;
}

enum dhis2_err dhis2_oauth2_api_refusal(struct dhis2_client *c,
                                        const char *access_token,
                                        char **message)
{
  enum dhis2_err rc = DHIS2_ERR_NOMEM;
  struct dhis2_http_resp resp = {0};
  char *url = dhis2_url_join(c->url, "/api/me?fields=username");
  char *hdr = NULL;

  *message = NULL;
  if (url == NULL ||
      asprintf(&hdr, "Authorization: Bearer %s", access_token) < 0) {
    hdr = NULL;
    goto out;
  }
  {
    const char *headers[] = {hdr, NULL};
    struct dhis2_http_req req = {
        .method = "GET", .url = url, .headers = headers};

    rc = dhis2_client_request(c, &req, &resp);
  }
  if (rc != DHIS2_OK)
    goto out;
  rc = DHIS2_ERR_UNSUPPORTED; /* accepted now */
  if (resp.status != 401 && resp.status != 403)
    goto out;
  rc = dhis2_oauth2_refusal_parse(resp.body, resp.body_len, message);
out:
  dhis2_http_resp_clear(&resp);
  dhis2_secret_free(hdr);
  free(url);
  return rc;
}

bool dhis2_oauth2_browser_url_ok(const struct dhis2_config *cfg,
                                 const char *url)
{
  /* The scheme first, literally: xdg-open and browsers read an argument
     that starts with '-' as an option, and Debian's xdg-open has no
     "--" to end them. */
  return url != NULL &&
         (dhis2_ascii_ncasecmp(url, "https://", 8) == 0 ||
          dhis2_ascii_ncasecmp(url, "http://", 7) == 0) &&
         dhis2_http_check_url(url, cfg->allow_http) == DHIS2_OK;
}

enum dhis2_err dhis2_oauth2_random(char *buf, size_t len)
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "abcdefghijklmnopqrstuvwxyz0123456789-._~";
  unsigned char r[256];
  size_t n = len - 1;

  if (len == 0 || n > sizeof(r))
    return DHIS2_ERR_INVAL;
  if (getrandom(r, n, 0) != (ssize_t)n)
    return DHIS2_ERR_INTERNAL;
  /* 66 symbols: the bias of r % 66 is under 1 %, and every string is
     still far beyond guessing (43 chars carry > 250 bits). */
  for (size_t i = 0; i < n; i++)
    buf[i] = alphabet[r[i] % (sizeof(alphabet) - 1)];
  buf[n] = '\0';
  dhis2_secret_wipe(r, n);
  return DHIS2_OK;
}

enum dhis2_err dhis2_oauth2_pkce_challenge(const char *verifier, char out[44])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  unsigned char b64[48];
  int n;

  if (EVP_Digest(verifier, strlen(verifier), md, &mdlen, EVP_sha256(), NULL) !=
          1 ||
      mdlen != 32)
    return DHIS2_ERR_INTERNAL;
  n = EVP_EncodeBlock(b64, md, 32); /* 44 chars, one '=' */
  for (int i = 0; i < n && i < 43; i++)
    out[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
  out[43] = '\0';
  return DHIS2_OK;
}

bool dhis2_oauth2_equal_ct(const char *a, const char *b)
{
  size_t la = strlen(a);
  size_t lb = strlen(b);
  unsigned char d = la != lb;

  for (size_t i = 0; i < la && i < lb; i++)
    d |= (unsigned char)(a[i] ^ b[i]);
  return d == 0;
}

char *dhis2_oauth2_urlencode(const char *s)
{
  static const char hex[] = "0123456789ABCDEF";
  char *out = malloc(3 * strlen(s) + 1);
  char *p = out;

  if (out == NULL)
    return NULL;
  for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
    if ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') ||
        (*q >= '0' && *q <= '9') || *q == '-' || *q == '.' || *q == '_' ||
        *q == '~') {
      *p++ = (char)*q;
    } else {
      *p++ = '%';
      *p++ = hex[*q >> 4];
      *p++ = hex[*q & 15];
    }
  }
  *p = '\0';
  return out;
}

static int hexval(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Decodes n bytes of a query value ('+' is a space); NULL on bad escapes
   or an escaped NUL. */
static char *urldecode(const char *s, size_t n)
{
  char *out = malloc(n + 1);
  size_t o = 0;

  if (out == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    int hi, lo;

    if (s[i] != '%') {
      out[o++] = s[i] == '+' ? ' ' : s[i];
      continue;
    }
    hi = i + 2 < n ? hexval(s[i + 1]) : -1;
    lo = i + 2 < n ? hexval(s[i + 2]) : -1;
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
      dhis2_secret_free_n(out, n + 1);
      return NULL;
    }
    out[o++] = (char)(hi * 16 + lo);
    i += 2;
  }
  out[o] = '\0';
  return out;
}

char *dhis2_oauth2_query_get(const char *q, const char *name)
{
  size_t nlen = strlen(name);

  while (q != NULL && *q) {
    size_t len = strcspn(q, "&#");

    if (len > nlen && strncmp(q, name, nlen) == 0 && q[nlen] == '=')
      return urldecode(q + nlen + 1, len - nlen - 1);
    q += len;
    if (*q != '&')
      break;
    q++;
  }
  return NULL;
}

/* The redirect's query: state check, error= report, code out. */
static enum dhis2_err take_code(const char *query, const char *expect_state,
                                char **code, char *why, size_t whylen)
{
  enum dhis2_err rc = DHIS2_ERR_REJECTED;
  char *state = dhis2_oauth2_query_get(query, "state");
  char *error = dhis2_oauth2_query_get(query, "error");
  char *desc = dhis2_oauth2_query_get(query, "error_description");

  if (state == NULL || !dhis2_oauth2_equal_ct(state, expect_state)) {
    snprintf(why, whylen,
             "the redirect's state does not match this login "
             "(a stale or forged redirect)");
    goto out;
  }
  if (error != NULL) {
    snprintf(why, whylen, "the server refused: %s%s%s", error,
             desc ? ": " : "", desc ? desc : "");
    goto out;
  }
  *code = dhis2_oauth2_query_get(query, "code");
  if (*code == NULL || (*code)[0] == '\0') {
    dhis2_secret_free(*code);
    *code = NULL;
    rc = DHIS2_ERR_MALFORMED;
    snprintf(why, whylen, "the redirect carries no code");
    goto out;
  }
  rc = DHIS2_OK;
out:
  free(state);
  free(error);
  free(desc);
  return rc;
}

enum dhis2_err dhis2_oauth2_parse_redirect(const char *url,
                                           const char *expect_state,
                                           char **code, char *why,
                                           size_t whylen)
{
  const char *q = strchr(url, '?');

  *code = NULL;
  if (whylen > 0)
    why[0] = '\0';
  if (q == NULL) {
    snprintf(why, whylen, "that is not the redirected URL: it has no '?'");
    return DHIS2_ERR_MALFORMED;
  }
  return take_code(q + 1, expect_state, code, why, whylen);
}

struct dhis2_loopback {
  int fd;
};

enum dhis2_err dhis2_loopback_open(unsigned port, unsigned *bound,
                                   struct dhis2_loopback **out)
{
  struct sockaddr_in sa = {.sin_family = AF_INET};
  socklen_t salen = sizeof(sa);
  struct dhis2_loopback *lb;
  int one = 1;

  *out = NULL;
  if (port > 65535)
    return DHIS2_ERR_INVAL;
  lb = calloc(1, sizeof(*lb));
  if (lb == NULL)
    return DHIS2_ERR_NOMEM;
  /* Non-blocking: a connection that goes away between poll() and
     accept() must not stall the receiver. */
  lb->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sa.sin_port = htons((unsigned short)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (lb->fd < 0 ||
      setsockopt(lb->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(lb->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
      listen(lb->fd, LOOPBACK_CONNS) != 0 ||
      getsockname(lb->fd, (struct sockaddr *)&sa, &salen) != 0) {
    int saved = errno;

    dhis2_loopback_free(lb);
    errno = saved;
    return DHIS2_ERR_IO;
  }
  *bound = ntohs(sa.sin_port);
  *out = lb;
  return DHIS2_OK;
}

void dhis2_loopback_free(struct dhis2_loopback *lb)
{
  if (lb == NULL)
    return;
  if (lb->fd >= 0)
    close(lb->fd);
  free(lb);
}

static double now_s(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Answers a small page in one send; never raises SIGPIPE. */
static void respond(int fd, const char *status, const char *text)
{
  char page[768];
  char buf[1280];
  int p = snprintf(page, sizeof(page),
                   "<!doctype html><meta charset=utf-8><title>dhis2-auth"
                   "</title><p>%s</p>\n",
                   text);
  int n = snprintf(buf, sizeof(buf),
                   "HTTP/1.1 %s\r\nContent-Type: text/html; charset=utf-8"
                   "\r\nContent-Length: %d\r\nConnection: close\r\n"
                   "Cache-Control: no-store\r\n\r\n%s",
                   status, p, page);

  if (p > 0 && (size_t)p < sizeof(page) && n > 0 && (size_t)n < sizeof(buf) &&
      send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
    return; /* the client went away: nothing to tell it */
}

/* Closes c (answering status first, when not NULL) and wipes what it
   read: a request head may hold a code. */
static void conn_close(struct lb_conn *c, const char *status, const char *text)
{
  if (c->fd < 0)
    return;
  if (status != NULL)
    respond(c->fd, status, text);
  close(c->fd);
  c->fd = -1;
  dhis2_secret_wipe(c->req, c->got);
  c->got = 0;
}

/* True when query carries state= equal, in constant time, to expect. */
static bool state_is(const char *query, const char *expect)
{
  char *state = dhis2_oauth2_query_get(query, "state");
  bool same = state != NULL && dhis2_oauth2_equal_ct(state, expect);

  free(state);
  return same;
}

bool dhis2_loopback_judge(struct lb_conn *c, const char *expect_state,
                          char **code, enum dhis2_err *rc, char *why,
                          size_t whylen, unsigned *refused)
{
  char *query = c->req + 14;

  (*refused)++;
  if (strncmp(c->req, "GET /callback?", 14) != 0) {
    if (strncmp(c->req, "GET /", 5) == 0)
      conn_close(c, "404 Not Found", "Not the sign-in redirect.");
    else
      conn_close(c, "400 Bad Request", "Not the sign-in redirect.");
    return false;
  }
  query[strcspn(query, " \r\n")] = '\0';
  if (!state_is(query, expect_state)) {
    conn_close(c, "400 Bad Request",
               "This is not the redirect of the sign-in that dhis2-auth "
               "is waiting for (a stale or forged one).");
    return false;
  }
  (*refused)--;
  *rc = take_code(query, expect_state, code, why, whylen);
  if (*rc == DHIS2_OK)
    conn_close(c, "200 OK",
               "Signed in to DHIS2. You can close this tab and return to "
               "the terminal.");
  else
    conn_close(c, "400 Bad Request",
               "Sign-in failed; see the terminal for why.");
  return true;
}

/* Reads what c has; true when its request head is complete. A client
   that closes, errs or sends too much is answered and dropped. */
static bool conn_read(struct lb_conn *c, unsigned *refused)
{
  for (;;) {
    ssize_t n;

    if (memmem(c->req, c->got, "\r\n\r\n", 4) != NULL) {
      c->req[c->got] = '\0';
      return true;
    }
    if (c->got == LOOPBACK_MAX_REQUEST) {
      (*refused)++;
      conn_close(c, "431 Request Header Fields Too Large", "Too large.");
      return false;
    }
    n = read(c->fd, c->req + c->got, LOOPBACK_MAX_REQUEST - c->got);
    if (n > 0) {
      c->got += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return false; /* more later */
    (*refused)++;
    conn_close(c, NULL, NULL);
    return false;
  }
}

/* Takes a new connection into a free slot, or into the oldest one's:
   connections that send nothing cannot crowd the browser out. */
static enum dhis2_err conn_accept(int lfd, struct lb_conn *conns, double now,
                                  unsigned *refused)
{
  struct lb_conn *slot = &conns[0];
  int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

  if (fd < 0)
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                   errno == ECONNABORTED
               ? DHIS2_OK
               : DHIS2_ERR_IO;
  for (size_t i = 0; i < LOOPBACK_CONNS; i++) {
    if (conns[i].fd < 0) {
      slot = &conns[i];
      break;
    }
    if (conns[i].deadline < slot->deadline)
      slot = &conns[i];
  }
  if (slot->fd >= 0) {
    (*refused)++;
    conn_close(slot, slot->got > 0 ? "408 Request Timeout" : NULL,
               "Too slow.");
  }
  slot->fd = fd;
  slot->got = 0;
  slot->deadline = now + LOOPBACK_CONN_TIMEOUT;
  return DHIS2_OK;
}

enum dhis2_err dhis2_loopback_wait(struct dhis2_loopback *lb,
                                   const char *expect_state, int timeout,
                                   char **code, char *why, size_t whylen)
{
  enum dhis2_err rc = DHIS2_ERR_NOMEM;
  double deadline = now_s() + timeout;
  struct lb_conn *conns = calloc(LOOPBACK_CONNS, sizeof(*conns));
  unsigned refused = 0;
  bool done = false;

  *code = NULL;
  if (whylen > 0)
    why[0] = '\0';
  if (conns == NULL)
    goto out;
  for (size_t i = 0; i < LOOPBACK_CONNS; i++)
    conns[i].fd = -1;
  rc = DHIS2_ERR_IO;
  if (lb->fd < 0)
    goto out;
  while (!done) {
    struct pollfd p[LOOPBACK_CONNS + 1];
    double now = now_s();
    double wake = deadline;
    int n;

    if (now >= deadline) {
      rc = DHIS2_ERR_TIMEOUT;
      snprintf(why, whylen, "no browser came back within %d s", timeout);
      if (refused > 0)
        snprintf(why + strlen(why), whylen - strlen(why),
                 " (%u other request%s to the port %s refused: a stale "
                 "tab or another program)",
                 refused, refused == 1 ? "" : "s",
                 refused == 1 ? "was" : "were");
      goto out;
    }
    p[0] = (struct pollfd){.fd = lb->fd, .events = POLLIN};
    for (size_t i = 0; i < LOOPBACK_CONNS; i++) {
      struct lb_conn *c = &conns[i];

      if (c->fd >= 0 && c->deadline <= now) {
        refused++;
        conn_close(c, c->got > 0 ? "408 Request Timeout" : NULL, "Too slow.");
      }
      if (c->fd >= 0 && c->deadline < wake)
        wake = c->deadline;
      p[i + 1] = (struct pollfd){.fd = c->fd, .events = POLLIN};
    }
    n = poll(p, LOOPBACK_CONNS + 1, (int)((wake - now) * 1000) + 1);
    if (n < 0 && errno != EINTR)
      goto out; /* DHIS2_ERR_IO */
    if (n <= 0)
      continue;
    for (size_t i = 0; i < LOOPBACK_CONNS && !done; i++) {
      struct lb_conn *c = &conns[i];

      if (c->fd >= 0 && p[i + 1].revents != 0 && conn_read(c, &refused))
        done = dhis2_loopback_judge(c, expect_state, code, &rc, why, whylen,
                                    &refused);
    }
    if (!done && (p[0].revents & POLLIN) != 0 &&
        conn_accept(lb->fd, conns, now_s(), &refused) != DHIS2_OK)
      goto out; /* DHIS2_ERR_IO */
  }
out:
  if (conns != NULL) {
    for (size_t i = 0; i < LOOPBACK_CONNS; i++)
      conn_close(&conns[i], NULL, NULL);
    dhis2_secret_free_n(conns, LOOPBACK_CONNS * sizeof(*conns));
  }
  /* The wait is over: nothing else is ever accepted on this port. */
  if (lb->fd >= 0) {
    close(lb->fd);
    lb->fd = -1;
  }
  return rc;
}

void dhis2_tokens_clear(struct dhis2_tokens *t)
{
  dhis2_secret_free(t->access_token);
  dhis2_secret_free(t->refresh_token);
  dhis2_secret_free(t->id_token);
  free(t->token_type);
  free(t->scope);
  memset(t, 0, sizeof(*t));
}

void dhis2_device_clear(struct dhis2_device *d)
{
  dhis2_secret_free(d->device_code);
  free(d->user_code);
  free(d->verification_uri);
  free(d->verification_uri_complete);
  memset(d, 0, sizeof(*d));
}

/* "a=b&c=d..." from pairs (names plain, values encoded here); NULL ends.
   A secret: the caller frees it with dhis2_secret_free(). */
static char *form_of(const char *const *pairs)
{
  size_t cap = 1;
  char *out;
  size_t n = 0;

  for (size_t i = 0; pairs[i] != NULL; i += 2)
    if (pairs[i + 1] != NULL)
      cap += strlen(pairs[i]) + 2 + 3 * strlen(pairs[i + 1]);
  out = malloc(cap);
  if (out == NULL)
    return NULL;
  out[0] = '\0';
  for (size_t i = 0; pairs[i] != NULL; i += 2) {
    char *v;

    if (pairs[i + 1] == NULL)
      continue;
    v = dhis2_oauth2_urlencode(pairs[i + 1]);
    if (v == NULL) {
      dhis2_secret_free_n(out, cap);
      return NULL;
    }
    n += (size_t)snprintf(out + n, cap - n, "%s%s=%s", n ? "&" : "", pairs[i],
                          v);
    dhis2_secret_free(v);
  }
  return out;
}

char *dhis2_oauth2_authorize_url(const struct dhis2_oauth2_endpoints *ep,
                                 const struct dhis2_config *cfg,
                                 const char *redirect_uri, const char *state,
                                 const char *nonce, const char *verifier)
{
  char challenge[44];
  char *query = NULL;
  char *url = NULL;

  if (ep->authorization == NULL || cfg->client_id == NULL ||
      dhis2_oauth2_pkce_challenge(verifier, challenge) != DHIS2_OK)
    return NULL;
  {
    const char *pairs[] = {"response_type",
                           "code",
                           "client_id",
                           cfg->client_id,
                           "redirect_uri",
                           redirect_uri,
                           "scope",
                           cfg->scope,
                           "state",
                           state,
                           "nonce",
                           nonce,
                           "code_challenge",
                           challenge,
                           "code_challenge_method",
                           "S256",
                           NULL};

    query = form_of(pairs);
  }
  if (query != NULL &&
      asprintf(&url, "%s%c%s", ep->authorization,
               strchr(ep->authorization, '?') ? '&' : '?', query) < 0)
    url = NULL;
  free(query);
  return url;
}

/* Maps an OAuth2 error reply ({"error": ...}) to our error. */
static enum dhis2_err token_error(const char *error, const char *desc,
                                  long status, char *why, size_t whylen)
{
  if (error == NULL) {
    snprintf(why, whylen, "the token endpoint answered %ld", status);
    return status >= 500 ? DHIS2_ERR_SERVER : DHIS2_ERR_HTTP;
  }
  snprintf(why, whylen, "%s%s%s", error, desc ? ": " : "", desc ? desc : "");
  if (strcmp(error, "authorization_pending") == 0)
    return DHIS2_ERR_PENDING;
  if (strcmp(error, "slow_down") == 0)
    return DHIS2_ERR_SLOW_DOWN;
  if (strcmp(error, "expired_token") == 0)
    return DHIS2_ERR_TOKEN_EXPIRED;
  if (strcmp(error, "invalid_client") == 0 ||
      strcmp(error, "unauthorized_client") == 0 ||
      strcmp(error, "unsupported_grant_type") == 0 ||
      strcmp(error, "invalid_scope") == 0)
    return DHIS2_ERR_CONFIG;
  return DHIS2_ERR_REJECTED; /* invalid_grant, access_denied, ... */
}

/* Copies a string member out as a secret. */
static char *secret_member(struct json_object *obj, const char *name)
{
  struct json_object *v;

  if (!json_object_object_get_ex(obj, name, &v) ||
      !json_object_is_type(v, json_type_string))
    return NULL;
  return dhis2_secret_dup(json_object_get_string(v));
}

static long long_member(struct json_object *obj, const char *name, long def)
{
  struct json_object *v;

  if (!json_object_object_get_ex(obj, name, &v) ||
      !(json_object_is_type(v, json_type_int) ||
        json_object_is_type(v, json_type_string)))
    return def;
  return (long)json_object_get_int64(v);
}

/* POSTs form to endpoint with the client's authentication; on a 2xx the
   parsed JSON object is handed over in *root, to be released with
   dhis2_json_put_secret(). */
static enum dhis2_err post_form(struct dhis2_client *c,
                                const struct dhis2_config *cfg,
                                const char *endpoint, bool post,
                                const char *form, struct json_object **root,
                                char *why, size_t whylen)
{
  enum dhis2_err rc = DHIS2_ERR_NOMEM;
  bool basic =
      cfg->client_secret != NULL && (cfg->oauth2 == DHIS2_OAUTH2_UAA || !post);
  struct dhis2_http_resp resp = {0};
  struct json_object *obj = NULL;
  char *hdr = NULL;
  char *body = NULL;
  char *id = NULL;
  char *sec = NULL;

  *root = NULL;
  if (whylen > 0)
    why[0] = '\0';
  if (cfg->client_id == NULL) {
    snprintf(why, whylen, "client_id is not configured");
    return DHIS2_ERR_CONFIG;
  }
  if (basic) {
    /* RFC 6749 2.3.1: both parts form-encoded before Basic. */
    id = dhis2_oauth2_urlencode(cfg->client_id);
    sec = dhis2_oauth2_urlencode(cfg->client_secret);
    hdr = id && sec ? dhis2_http_basic_header(id, sec) : NULL;
    body = hdr ? strdup(form) : NULL;
  } else {
    const char *pairs[] = {"client_id", cfg->client_id, "client_secret",
                           cfg->client_secret, NULL};
    char *auth = form_of(pairs);

    if (auth != NULL && asprintf(&body, "%s&%s", form, auth) < 0)
      body = NULL;
    dhis2_secret_free(auth);
  }
  if (body == NULL)
    goto out;
  {
    const char *headers[] = {hdr, NULL};
    struct dhis2_http_req req = {.method = "POST",
                                 .url = endpoint,
                                 .headers = hdr ? headers : NULL,
                                 .body = body,
                                 .body_len = strlen(body),
                                 .content_type =
                                     "application/x-www-form-urlencoded"};

    rc = dhis2_client_request(c, &req, &resp);
  }
  if (rc != DHIS2_OK)
    goto out;
  if (resp.status >= 300 && resp.status < 400) {
    rc = DHIS2_ERR_REDIRECT;
    goto out;
  }
  /* Token replies: json-c's own copies of the tokens are wiped too. */
  rc = dhis2_json_parse_secret_object(resp.body, resp.body_len, &obj);
  if (rc == DHIS2_ERR_NOMEM)
    goto out;
  if (resp.status < 200 || resp.status >= 300) {
    char *error = obj ? member(obj, "error") : NULL;
    char *desc = obj ? member(obj, "error_description") : NULL;

    rc = token_error(error, desc, resp.status, why, whylen);
    free(error);
    free(desc);
    goto out;
  }
  rc = DHIS2_ERR_MALFORMED;
  if (obj == NULL) {
    snprintf(why, whylen, "the token endpoint's reply is not JSON");
    goto out;
  }
  *root = obj;
  obj = NULL; /* transferred */
  rc = DHIS2_OK;
out:
  dhis2_json_put_secret(obj);
  dhis2_http_resp_clear(&resp);
  dhis2_secret_free(hdr);
  dhis2_secret_free(body);
  dhis2_secret_free(id);
  dhis2_secret_free(sec);
  return rc;
}

/* Fills *out from a token reply's object; root stays the caller's. */
static enum dhis2_err tokens_of(struct json_object *root,
                                struct dhis2_tokens *out, char *why,
                                size_t whylen)
{
  out->access_token = secret_member(root, "access_token");
  out->refresh_token = secret_member(root, "refresh_token");
  out->id_token = secret_member(root, "id_token");
  out->token_type = member(root, "token_type");
  out->scope = member(root, "scope");
  out->expires_in = long_member(root, "expires_in", 0);
  out->refresh_expires_in = long_member(root, "refresh_expires_in", 0);
  if (out->expires_in < 0)
    out->expires_in = 0;
  if (out->refresh_expires_in < 0)
    out->refresh_expires_in = 0;
  if (out->access_token == NULL) {
    dhis2_tokens_clear(out);
    snprintf(why, whylen,
             "the token endpoint answered without an access token");
    return DHIS2_ERR_MALFORMED;
  }
  return DHIS2_OK;
}

enum dhis2_err dhis2_oauth2_parse_tokens(const char *body, size_t len,
                                         struct dhis2_tokens *out, char *why,
                                         size_t whylen)
{
  struct json_object *root = NULL;
  enum dhis2_err rc;

  memset(out, 0, sizeof(*out));
  if (whylen > 0)
    why[0] = '\0';
  rc = dhis2_json_parse_secret_object(body, len, &root);
  if (rc == DHIS2_ERR_NOMEM)
    return rc;
  if (root == NULL) {
    snprintf(why, whylen, "the token endpoint's reply is not JSON");
    return DHIS2_ERR_MALFORMED;
  }
  rc = tokens_of(root, out, why, whylen);
  dhis2_json_put_secret(root);
  return rc;
}

long dhis2_tokens_keep_for(const struct dhis2_tokens *t, bool refreshable)
{
  if (refreshable)
    return t->refresh_expires_in;
  return t->expires_in;
}

enum dhis2_err dhis2_oauth2_token(struct dhis2_client *c,
                                  const struct dhis2_config *cfg,
                                  const char *endpoint, bool post,
                                  const char *form, struct dhis2_tokens *out,
                                  char *why, size_t whylen)
{
  struct json_object *root = NULL;
  enum dhis2_err rc;

  memset(out, 0, sizeof(*out));
  rc = post_form(c, cfg, endpoint, post, form, &root, why, whylen);
  if (rc != DHIS2_OK)
    return rc;
  rc = tokens_of(root, out, why, whylen);
  dhis2_json_put_secret(root);
  return rc;
}

/* Runs one grant given as name/value pairs at the token endpoint. */
static enum dhis2_err grant(struct dhis2_client *c,
                            const struct dhis2_config *cfg,
                            const struct dhis2_oauth2_endpoints *ep,
                            const char *const *pairs, struct dhis2_tokens *out,
                            char *why, size_t whylen)
{
  char *form = form_of(pairs);
  enum dhis2_err rc;

  memset(out, 0, sizeof(*out));
  if (form == NULL)
    return DHIS2_ERR_NOMEM;
  rc = dhis2_oauth2_token(c, cfg, ep->token, ep->secret_post, form, out, why,
                          whylen);
  dhis2_secret_free(form);
  return rc;
}

enum dhis2_err
dhis2_oauth2_exchange(struct dhis2_client *c, const struct dhis2_config *cfg,
                      const struct dhis2_oauth2_endpoints *ep,
                      const char *code, const char *redirect_uri,
                      const char *verifier, struct dhis2_tokens *out,
                      char *why, size_t whylen)
{
  const char *pairs[] = {
      "grant_type", "authorization_code", "code",   code, "redirect_uri",
      redirect_uri, "code_verifier",      verifier, NULL};

  return grant(c, cfg, ep, pairs, out, why, whylen);
}

enum dhis2_err dhis2_oauth2_refresh(struct dhis2_client *c,
                                    const struct dhis2_config *cfg,
                                    const struct dhis2_oauth2_endpoints *ep,
                                    const char *refresh_token,
                                    struct dhis2_tokens *out, char *why,
                                    size_t whylen)
{
  const char *pairs[] = {"grant_type", "refresh_token", "refresh_token",
                         refresh_token, NULL};

  return grant(c, cfg, ep, pairs, out, why, whylen);
}

enum dhis2_err dhis2_oauth2_revoke(struct dhis2_client *c,
                                   const struct dhis2_config *cfg,
                                   const struct dhis2_oauth2_endpoints *ep,
                                   const char *token, const char *hint)
{
  const char *pairs[] = {"token", token, "token_type_hint", hint, NULL};
  struct json_object *root = NULL;
  char why[256];
  char *form;
  enum dhis2_err rc;

  if (ep->revocation == NULL)
    return DHIS2_ERR_UNSUPPORTED;
  form = form_of(pairs);
  if (form == NULL)
    return DHIS2_ERR_NOMEM;
  rc = post_form(c, cfg, ep->revocation, false, form, &root, why, sizeof(why));
  /* RFC 7009: 200 with an empty body is the answer; not JSON is fine. */
  if (rc == DHIS2_ERR_MALFORMED)
    rc = DHIS2_OK;
  dhis2_json_put_secret(root);
  dhis2_secret_free(form);
  return rc;
}

/* True when s can be put in front of a user as it is: 1 to max bytes of
   printable ASCII, and no space unless spaces is set. A user code or an
   address reaches a terminal (dhis2-auth) or a PAM prompt that sshd hands
   to the ssh client: no escape sequence, and no second address hidden
   behind blanks. */
static bool showable(const char *s, size_t max, bool spaces)
{
  size_t n = 0;

  for (; s[n] != '\0'; n++) {
    unsigned char ch = (unsigned char)s[n];

    if (n >= max || ch < 0x20 || ch > 0x7e || (ch == ' ' && !spaces))
      return false;
  }
  return n > 0;
}

/* Fills *out from a device authorization reply's object; root stays the
   caller's. */
static enum dhis2_err device_of(struct json_object *root,
                                struct dhis2_device *out, char *why,
                                size_t whylen)
{
  out->device_code = secret_member(root, "device_code");
  out->user_code = member(root, "user_code");
  out->verification_uri = member(root, "verification_uri");
  out->verification_uri_complete = member(root, "verification_uri_complete");
  out->expires_in = long_member(root, "expires_in", 0);
  out->interval = long_member(root, "interval", 5);
  if (out->device_code == NULL || out->user_code == NULL ||
      out->verification_uri == NULL || out->expires_in <= 0) {
    dhis2_device_clear(out);
    snprintf(why, whylen, "the device authorization reply is incomplete");
    return DHIS2_ERR_MALFORMED;
  }
  if (!showable(out->user_code, 64, true) ||
      !showable(out->verification_uri, 2048, false) ||
      (out->verification_uri_complete != NULL &&
       !showable(out->verification_uri_complete, 2048, false))) {
    dhis2_device_clear(out);
    snprintf(why, whylen,
             "the device authorization reply has a user code or address "
             "that cannot be shown (control characters, spaces, not ASCII, "
             "or too long)");
    return DHIS2_ERR_MALFORMED;
  }
  if (out->interval <= 0)
    out->interval = 5;
  return DHIS2_OK;
}

enum dhis2_err dhis2_oauth2_device_parse(const char *body, size_t len,
                                         struct dhis2_device *out, char *why,
                                         size_t whylen)
{
  struct json_object *root = NULL;
  enum dhis2_err rc;

  memset(out, 0, sizeof(*out));
  if (whylen > 0)
    why[0] = '\0';
  /* The device code is a credential: json-c's copies are wiped too. */
  rc = dhis2_json_parse_secret_object(body, len, &root);
  if (rc == DHIS2_ERR_NOMEM)
    return rc;
  if (root == NULL) {
    snprintf(why, whylen, "the device authorization reply is not JSON");
    return DHIS2_ERR_MALFORMED;
  }
  rc = device_of(root, out, why, whylen);
  dhis2_json_put_secret(root);
  return rc;
}

enum dhis2_err
dhis2_oauth2_device_start(struct dhis2_client *c,
                          const struct dhis2_config *cfg,
                          const struct dhis2_oauth2_endpoints *ep,
                          struct dhis2_device *out, char *why, size_t whylen)
{
  const char *pairs[] = {"scope", cfg->scope, NULL};
  struct json_object *root = NULL;
  char *form;
  enum dhis2_err rc;

  memset(out, 0, sizeof(*out));
  if (ep->device_authorization == NULL) {
    snprintf(why, whylen, "the server offers no device authorization");
    return DHIS2_ERR_UNSUPPORTED;
  }
  form = form_of(pairs);
  if (form == NULL)
    return DHIS2_ERR_NOMEM;
  rc = post_form(c, cfg, ep->device_authorization, ep->secret_post, form,
                 &root, why, whylen);
  dhis2_secret_free(form);
  if (rc != DHIS2_OK)
    return rc;
  rc = device_of(root, out, why, whylen);
  dhis2_json_put_secret(root);
  return rc;
}

enum dhis2_err dhis2_oauth2_device_poll(
    struct dhis2_client *c, const struct dhis2_config *cfg,
    const struct dhis2_oauth2_endpoints *ep, const struct dhis2_device *d,
    struct dhis2_tokens *out, char *why, size_t whylen)
{
  const char *pairs[] = {"grant_type",
                         "urn:ietf:params:oauth:grant-type:device_code",
                         "device_code", d->device_code, NULL};

  return grant(c, cfg, ep, pairs, out, why, whylen);
}

enum dhis2_err dhis2_oauth2_fetch_jwks(struct dhis2_client *c,
                                       const struct dhis2_oauth2_endpoints *ep,
                                       struct dhis2_jwks **out)
{
  return dhis2_oauth2_fetch_jwks_doc(c, ep, out, NULL, NULL);
}

enum dhis2_err dhis2_oauth2_fetch_jwks_doc(
    struct dhis2_client *c, const struct dhis2_oauth2_endpoints *ep,
    struct dhis2_jwks **out, char **doc, size_t *doc_len)
{
  struct dhis2_http_resp resp = {0};
  struct dhis2_http_req req = {.method = "GET", .url = ep->jwks};
  enum dhis2_err rc;

  *out = NULL;
  if (ep->jwks == NULL)
    return DHIS2_ERR_UNSUPPORTED;
  rc = dhis2_client_request(c, &req, &resp);
  if (rc == DHIS2_OK && resp.status != 200)
    rc = resp.status >= 500 ? DHIS2_ERR_SERVER : DHIS2_ERR_HTTP;
  if (rc == DHIS2_OK)
    rc = dhis2_jwks_parse(resp.body, resp.body_len, out);
  if (rc == DHIS2_OK && doc != NULL) {
    *doc = strndup(resp.body, resp.body_len);
    *doc_len = resp.body_len;
    if (*doc == NULL) {
      dhis2_jwks_free(*out);
      *out = NULL;
      rc = DHIS2_ERR_NOMEM;
    }
  }
  dhis2_http_resp_clear(&resp);
  return rc;
}
