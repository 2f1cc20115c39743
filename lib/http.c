/* The libcurl wrapper that enforces the transport rules of DESIGN.md 5. */
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "dhis2/ascii.h"
#include "dhis2/config.h"
#include "dhis2/http.h"
#include "dhis2/secret.h"
#include "http_internal.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

/*
 * libcurl and OpenSSL read their environment once, at initialisation:
 * SSLKEYLOGFILE (libcurl opens it for appending and writes every TLS
 * secret there), OPENSSL_CONF, OPENSSL_CONF_INCLUDE, OPENSSL_MODULES and
 * OPENSSL_ENGINES (code OpenSSL loads). su and sudo run PAM with the
 * caller's environment, so they see none of it: environ points at an
 * empty one meanwhile and at the host's own again afterwards. OpenSSL then
 * loads the system configuration file, as it would for a daemon.
 */
static void curl_init_once(void)
{
  static char *no_env[] = {NULL};
  char **host_env = environ;

  environ = no_env;
  /* Explicitly, in case libcurl was built not to load it: the first
     crypto call anywhere in the process would load it from the caller's
     environment. */
  OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
  curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  environ = host_env;
}

enum dhis2_err dhis2_http_global_init(void)
{
  if (pthread_once(&curl_once, curl_init_once) != 0)
    return DHIS2_ERR_INTERNAL;
  return curl_init_rc == CURLE_OK ? DHIS2_OK : DHIS2_ERR_INTERNAL;
}

/*
 * OpenSSL 3 loads its configuration at the first crypto call of the
 * process, whoever makes it: in the module that is a SHA-256 of the user
 * name for the throttle, long before the first request. So the clean
 * initialisation runs when the code is loaded, before any of it can run,
 * in every process: the library cannot tell the module's host from a
 * program the user runs as themselves, and it costs under a millisecond.
 * An error is kept and returned by dhis2_http_global_init().
 */
__attribute__((constructor)) static void init_on_load(void)
{
  (void)dhis2_http_global_init();
}

/*
 * Runs for every TLS connection, after libcurl set up its context: a key
 * log callback there comes from SSLKEYLOGFILE read when someone else
 * initialised libcurl in this process first; the secrets of a login go to
 * no file.
 */
static CURLcode no_key_log(CURL *curl, void *ssl_ctx, void *arg)
{
  (void)curl;
  (void)arg;
  SSL_CTX_set_keylog_callback(ssl_ctx, NULL);
  return CURLE_OK;
}

char *dhis2_url_join(const char *base, const char *path)
{
  size_t blen;
  char *out;

  if (base == NULL || path == NULL || path[0] != '/')
    return NULL;
  blen = strlen(base);
  while (blen > 0 && base[blen - 1] == '/')
    blen--;
  if (blen == 0)
    return NULL;
  if (asprintf(&out, "%.*s%s", (int)blen, base, path) < 0)
    return NULL;
  return out;
}

enum dhis2_err dhis2_http_check_url(const char *url, bool allow_http)
{
  enum dhis2_err rc = DHIS2_ERR_INVAL;
  CURLU *u = NULL;
  char *scheme = NULL;
  char *host = NULL;
  char *user = NULL;

  if (url == NULL)
    goto out;
  u = curl_url();
  if (u == NULL) {
    rc = DHIS2_ERR_NOMEM;
    goto out;
  }
  if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
    goto out;
  if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
    goto out;
  /* Credentials belong in headers, never in a URL that may be logged. */
  if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
    goto out;
  if (dhis2_ascii_casecmp(scheme, "https") == 0)
    rc = DHIS2_OK;
  else if (dhis2_ascii_casecmp(scheme, "http") == 0 && allow_http &&
           dhis2_url_is_loopback(url))
    rc = DHIS2_OK;
out:
  curl_free(user);
  curl_free(host);
  curl_free(scheme);
  curl_url_cleanup(u);
  return rc;
}

/* What the write and header callbacks fill while a transfer runs. */
struct sink {
  struct dhis2_http_resp *resp;
  size_t cap;     /* allocated bytes of resp->body */
  size_t max;     /* body cap */
  bool too_large; /* the cap stopped the transfer */
  bool oom;       /* an allocation failed */
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
  struct sink *s = arg;
  struct dhis2_http_resp *r = s->resp;
  size_t n = size * nmemb;

  if (n > s->max - r->body_len) {
    s->too_large = true;
    return 0; /* aborts the transfer: nothing past the cap is read */
  }
  if (r->body_len + n + 1 > s->cap) {
    size_t cap = s->cap ? s->cap : 4096;
    char *grown;

    while (cap < r->body_len + n + 1)
      cap *= 2;
    /* Not realloc: the old block may hold a token and must be wiped. */
    grown = malloc(cap);
    if (grown == NULL) {
      s->oom = true;
      return 0;
    }
    if (r->body != NULL) {
      memcpy(grown, r->body, r->body_len);
      dhis2_secret_free_n(r->body, s->cap);
    }
    r->body = grown;
    s->cap = cap;
  }
  memcpy(r->body + r->body_len, data, n);
  r->body_len += n;
  r->body[r->body_len] = '\0';
  return n;
}

/* Copies the value of header line "Name: value\r\n" if its name is name. */
static bool header_value(const char *line, size_t len, const char *name,
                         char **out)
{
  size_t nlen = strlen(name);
  const char *v;
  const char *end = line + len;

  if (len <= nlen || dhis2_ascii_ncasecmp(line, name, nlen) != 0 ||
      line[nlen] != ':')
    return false;
  v = line + nlen + 1;
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
    end--;
  free(*out);
  *out = strndup(v, (size_t)(end - v));
  return true;
}

/* Appends the name=value part of a Set-Cookie value to resp->cookies. */
static bool add_cookie(struct dhis2_http_resp *r, const char *setcookie)
{
  size_t n = strcspn(setcookie, ";");
  size_t old = r->cookies ? strlen(r->cookies) : 0;
  char *joined;

  if (n == 0 || memchr(setcookie, '=', n) == NULL)
    return true;
  joined = malloc(old + 2 + n + 1);
  if (joined == NULL)
    return false;
  if (old > 0) {
    memcpy(joined, r->cookies, old);
    memcpy(joined + old, "; ", 2);
    old += 2;
  }
  memcpy(joined + old, setcookie, n);
  joined[old + n] = '\0';
  dhis2_secret_free(r->cookies);
  r->cookies = joined;
  return true;
}

/*
 * The Date header as a time, 0 when unreadable. curl_getdate() takes the
 * three HTTP forms (RFC 9110 5.6.7) and more; a time before 1970 or one
 * it cannot read (-1) is no date at all.
 */
static time_t parse_date(const char *v)
{
  time_t t = curl_getdate(v, NULL);

  return t > 0 ? t : 0;
}

bool dhis2_http_header_line(struct dhis2_http_resp *r, const char *line,
                            size_t len)
{
  char *cookie = NULL;
  char *date = NULL;
  bool ok;

  if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
    /* A new response (after a 100 Continue): forget the interim one. */
    free(r->content_type);
    free(r->location);
    free(r->www_authenticate);
    dhis2_secret_free(r->cookies);
    r->content_type = r->location = r->www_authenticate = r->cookies = NULL;
    r->date = 0;
    return true;
  }
  if (header_value(line, len, "Date", &date)) {
    r->date = date != NULL ? parse_date(date) : 0;
    free(date);
    return true;
  }
  if (header_value(line, len, "Set-Cookie", &cookie)) {
    ok = cookie != NULL && add_cookie(r, cookie);
    dhis2_secret_free(cookie);
    return ok;
  }
  if (!header_value(line, len, "Content-Type", &r->content_type) &&
      !header_value(line, len, "Location", &r->location))
    header_value(line, len, "WWW-Authenticate", &r->www_authenticate);
  return true;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
  struct sink *s = arg;
  size_t n = size * nmemb;

  if (!dhis2_http_header_line(s->resp, data, n)) {
    s->oom = true;
    return 0;
  }
  return n;
}

static enum dhis2_err from_curl(CURLcode cc, const struct sink *s)
{
  if (s->too_large)
    return DHIS2_ERR_TOO_LARGE;
  if (s->oom)
    return DHIS2_ERR_NOMEM;
  switch (cc) {
  case CURLE_OK:
    return DHIS2_OK;
  case CURLE_OPERATION_TIMEDOUT:
    return DHIS2_ERR_TIMEOUT;
  case CURLE_FILESIZE_EXCEEDED:
    return DHIS2_ERR_TOO_LARGE;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_CONNECT:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
    return DHIS2_ERR_CONNECT;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_USE_SSL_FAILED:
    return DHIS2_ERR_TLS;
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT:
    return DHIS2_ERR_INVAL;
  case CURLE_OUT_OF_MEMORY:
    return DHIS2_ERR_NOMEM;
  default:
    return DHIS2_ERR_INTERNAL;
  }
}

/* Wipes every header line (they may hold Authorization), then frees. */
static void free_headers(struct curl_slist *list)
{
  for (struct curl_slist *p = list; p != NULL; p = p->next)
    dhis2_secret_wipe(p->data, strlen(p->data));
  curl_slist_free_all(list);
}

static struct curl_slist *build_headers(const struct dhis2_http_req *req)
{
  static const char *const fixed[] = {
      "Accept: application/json",
      /* Without it DHIS2 answers 302 to its login page, not 401. */
      "X-Requested-With: XMLHttpRequest",
      /* No 100-continue round trip for small POST bodies. */
      "Expect:",
  };
  struct curl_slist *list = NULL;
  struct curl_slist *next;
  char ct[256];

  for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
    next = curl_slist_append(list, fixed[i]);
    if (next == NULL)
      goto fail;
    list = next;
  }
  if (req->content_type != NULL) {
    snprintf(ct, sizeof(ct), "Content-Type: %s", req->content_type);
    next = curl_slist_append(list, ct);
    if (next == NULL)
      goto fail;
    list = next;
  }
  for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
    next = curl_slist_append(list, req->headers[i]);
    if (next == NULL)
      goto fail;
    list = next;
  }
  return list;
fail:
  free_headers(list);
  return NULL;
}

/* The URL without its query, for logs. */
static void log_request(const struct dhis2_log *lg, const char *method,
                        const char *url, long status, double secs,
                        enum dhis2_err rc)
{
  int n = (int)strcspn(url, "?#");

  if (rc == DHIS2_OK)
    dhis2_debug(lg, "%s %.*s -> %ld in %.3f s", method, n, url, status, secs);
  else
    dhis2_debug(lg, "%s %.*s -> %s after %.3f s", method, n, url,
                dhis2_strerror(rc), secs);
}

/* True when dir holds the hashed links OpenSSL looks certificates up by
   ("5ad8a5d6.0"), as update-ca-certificates and openssl rehash make. */
static bool hashed_dir(const char *dir)
{
  DIR *d = dir != NULL ? opendir(dir) : NULL;
  struct dirent *e;
  bool found = false;

  if (d == NULL)
    return false;
  while (!found && (e = readdir(d)) != NULL) {
    const char *n = e->d_name;
    size_t hex = strspn(n, "0123456789abcdef");

    found = hex == 8 && n[8] == '.' && n[9] >= '0' && n[9] <= '9';
  }
  closedir(d);
  return found;
}

/*
 * Names what to trust, always: ca_file alone, or else the system store
 * libcurl was built with (its own defaults, made explicit). Nothing is
 * left for OpenSSL to find through SSL_CERT_FILE or SSL_CERT_DIR.
 *
 * The system store is read through its hashed directory when it has one:
 * OpenSSL then reads the one or two certificates a chain needs. Reading
 * the whole bundle (~140 certificates) costs OpenSSL 3.0 about 25 ms of
 * CPU, every login, more than all the rest of a login. On Debian both are
 * made from the same certificates by update-ca-certificates.
 */
static bool set_trust(CURL *curl, const char *ca_file)
{
  const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

  /* ca_file is the whole trust, not more of it: a private CA's server is
     not to be accepted on the strength of any public CA. */
  if (ca_file != NULL)
    return curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_CAPATH, NULL) == CURLE_OK;
  if (hashed_dir(v->capath))
    return curl_easy_setopt(curl, CURLOPT_CAINFO, NULL) == CURLE_OK &&
           curl_easy_setopt(curl, CURLOPT_CAPATH, v->capath) == CURLE_OK;
  return curl_easy_setopt(curl, CURLOPT_CAINFO, v->cainfo) == CURLE_OK &&
         curl_easy_setopt(curl, CURLOPT_CAPATH, v->capath) == CURLE_OK;
}

/* One easy handle and what it was made under. */
struct dhis2_http_conn {
  CURL *curl;
  bool allow_http;
  size_t max_body;
};

/*
 * The policy of DESIGN.md 5, set once on the handle: no request changes
 * any of it, so every request on the handle, the first and the tenth,
 * travels under the same rules.
 */
static bool set_policy(CURL *curl, const struct dhis2_http_opts *opts,
                       size_t max_body)
{
  bool ok;

  ok = curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR,
                        opts->allow_http ? "http,https" : "https") == CURLE_OK;
  /* Redirects are failures: credentials are never re-sent elsewhere. */
  ok = ok && curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK;
  /* At least TLS 1.2, the newest both ends have (1.3: one round trip for
     the handshake, not two). */
  ok = ok && curl_easy_setopt(curl, CURLOPT_SSLVERSION,
                              (long)(CURL_SSLVERSION_TLSv1_2 |
                                     CURL_SSLVERSION_MAX_DEFAULT)) == CURLE_OK;
  /* No proxy from the environment: in sudo that is the caller's choice.
     NOPROXY too, so not even no_proxy is read. */
  ok = ok && curl_easy_setopt(curl, CURLOPT_PROXY, "") == CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_NOPROXY, "*") == CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, no_key_log) ==
                 CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED) ==
                 CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT,
                              opts->connect_timeout) == CURLE_OK;
  /* Per transfer: each request of a login gets the whole timeout. */
  ok =
      ok && curl_easy_setopt(curl, CURLOPT_TIMEOUT, opts->timeout) == CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                              (curl_off_t)max_body) == CURLE_OK;
  ok =
      ok && curl_easy_setopt(curl, CURLOPT_USERAGENT, "pam_dhis2") == CURLE_OK;
  ok =
      ok && curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK;
  ok = ok &&
       curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK;
  ok = ok && set_trust(curl, opts->ca_file);
  if (ok && opts->pinned_pubkey != NULL)
    ok = curl_easy_setopt(curl, CURLOPT_PINNEDPUBLICKEY,
                          opts->pinned_pubkey) == CURLE_OK;
  /* The cookie engine stays off (no COOKIEFILE): a session cookie goes
     only where a caller puts it, in a header of its own request. */
  return ok;
}

enum dhis2_err dhis2_http_conn_new(const struct dhis2_http_opts *opts,
                                   struct dhis2_http_conn **out)
{
  enum dhis2_err rc;
  struct dhis2_http_conn *conn = NULL;

  *out = NULL;
  rc = dhis2_http_global_init();
  if (rc != DHIS2_OK)
    goto out;
  rc = DHIS2_ERR_NOMEM;
  conn = calloc(1, sizeof(*conn));
  if (conn == NULL)
    goto out;
  conn->allow_http = opts->allow_http;
  conn->max_body = opts->max_body ? opts->max_body : DHIS2_HTTP_MAX_BODY;
  conn->curl = curl_easy_init();
  if (conn->curl == NULL)
    goto out;
  rc = DHIS2_ERR_INTERNAL;
  if (!set_policy(conn->curl, opts, conn->max_body))
    goto out;
  *out = conn;
  conn = NULL; /* transferred */
  rc = DHIS2_OK;
out:
  dhis2_http_conn_free(conn);
  return rc;
}

void dhis2_http_conn_free(struct dhis2_http_conn *conn)
{
  if (conn == NULL)
    return;
  if (conn->curl != NULL)
    curl_easy_cleanup(conn->curl); /* closes the connection */
  free(conn);
}

/*
 * What one request sets: all of it, every time, so nothing of the one
 * before carries over. HTTPGET undoes a POST (its method and body);
 * CUSTOMREQUEST is cleared unless this request names another method.
 */
static bool set_request(CURL *curl, const struct dhis2_http_req *req,
                        const char *method, struct curl_slist *headers,
                        struct sink *s)
{
  bool post = strcmp(method, "POST") == 0;
  bool ok;

  ok = curl_easy_setopt(curl, CURLOPT_URL, req->url) == CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers) == CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_WRITEDATA, s) == CURLE_OK;
  ok = ok && curl_easy_setopt(curl, CURLOPT_HEADERDATA, s) == CURLE_OK;
  if (post) {
    ok = ok && curl_easy_setopt(curl, CURLOPT_POST, 1L) == CURLE_OK;
    ok = ok && curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                                (curl_off_t)req->body_len) == CURLE_OK;
    ok = ok && curl_easy_setopt(curl, CURLOPT_POSTFIELDS,
                                req->body ? req->body : "") == CURLE_OK;
  } else {
    ok = ok && curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L) == CURLE_OK;
  }
  ok = ok &&
       curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST,
                        post || strcmp(method, "GET") == 0 ? NULL : method) ==
           CURLE_OK;
  return ok;
}

/* Drops the handle's pointers into this request's memory (a body and
   headers that held secrets, a sink on the stack). Setting POSTFIELDS
   makes libcurl's method POST: set_request() sets it again each time. */
static void forget_request(CURL *curl)
{
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, NULL);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, NULL);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, NULL);
}

enum dhis2_err dhis2_http_conn_request(struct dhis2_http_conn *conn,
                                       const struct dhis2_http_req *req,
                                       struct dhis2_http_resp *resp,
                                       const struct dhis2_log *lg)
{
  enum dhis2_err rc = DHIS2_ERR_INTERNAL;
  const char *method = req->method != NULL ? req->method : "GET";
  struct curl_slist *headers = NULL;
  struct sink s = {.resp = resp, .max = conn->max_body};
  CURLcode cc;

  memset(resp, 0, sizeof(*resp));
  rc = dhis2_http_check_url(req->url, conn->allow_http);
  if (rc != DHIS2_OK) {
    dhis2_log(lg, LOG_ERR, "refusing URL %.*s: https required",
              (int)strcspn(req->url ? req->url : "", "?#"),
              req->url ? req->url : "");
    goto out;
  }
  rc = DHIS2_ERR_NOMEM;
  headers = build_headers(req);
  if (headers == NULL)
    goto out;
  rc = DHIS2_ERR_INTERNAL;
  if (!set_request(conn->curl, req, method, headers, &s))
    goto out;

  cc = curl_easy_perform(conn->curl);
  curl_easy_getinfo(conn->curl, CURLINFO_TOTAL_TIME, &resp->seconds);
  rc = from_curl(cc, &s);
  if (rc != DHIS2_OK)
    goto out;
  curl_easy_getinfo(conn->curl, CURLINFO_RESPONSE_CODE, &resp->status);
  if (resp->body == NULL) {
    resp->body = calloc(1, 1);
    if (resp->body == NULL) {
      rc = DHIS2_ERR_NOMEM;
      goto out;
    }
    s.cap = 1;
  }
  rc = DHIS2_OK;
out:
  if (req->url != NULL)
    log_request(lg, method, req->url, resp->status, resp->seconds, rc);
  forget_request(conn->curl);
  free_headers(headers);
  return rc;
}

enum dhis2_err dhis2_http_request(const struct dhis2_http_opts *opts,
                                  const struct dhis2_http_req *req,
                                  struct dhis2_http_resp *resp,
                                  const struct dhis2_log *lg)
{
  enum dhis2_err rc;
  struct dhis2_http_conn *conn = NULL;

  memset(resp, 0, sizeof(*resp));
  rc = dhis2_http_conn_new(opts, &conn);
  if (rc != DHIS2_OK)
    return rc;
  rc = dhis2_http_conn_request(conn, req, resp, lg);
  dhis2_http_conn_free(conn);
  return rc;
}

void dhis2_http_resp_clear(struct dhis2_http_resp *resp)
{
  if (resp == NULL)
    return;
  if (resp->body != NULL)
    dhis2_secret_free_n(resp->body, resp->body_len);
  dhis2_secret_free(resp->cookies);
  free(resp->content_type);
  free(resp->location);
  free(resp->www_authenticate);
  memset(resp, 0, sizeof(*resp));
}

char *dhis2_http_basic_header(const char *user, const char *secret)
{
  static const char name[] = "Authorization: Basic ";
  size_t ulen = strlen(user);
  size_t slen = strlen(secret);
  size_t plain_len = ulen + 1 + slen;
  unsigned char *plain = NULL;
  char *hdr = NULL;

  if (plain_len > 65536)
    return NULL;
  plain = malloc(plain_len);
  hdr = malloc(sizeof(name) + 4 * ((plain_len + 2) / 3) + 1);
  if (plain == NULL || hdr == NULL) {
    free(hdr);
    hdr = NULL;
    goto out;
  }
  memcpy(plain, user, ulen);
  plain[ulen] = ':';
  memcpy(plain + ulen + 1, secret, slen);
  memcpy(hdr, name, sizeof(name) - 1);
  EVP_EncodeBlock((unsigned char *)hdr + sizeof(name) - 1, plain,
                  (int)plain_len);
out:
  dhis2_secret_free_n(plain, plain_len);
  return hdr;
}
