/* The one libcurl wrapper: every request to DHIS2 or an IdP goes through it.
 */
#ifndef DHIS2_HTTP_H
#define DHIS2_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "dhis2/err.h"
#include "dhis2/log.h"

#define DHIS2_HTTP_MAX_BODY (1024 * 1024)

/* Transport policy, the same for every request of one client. No proxy,
   and trust only as named here: the environment is never consulted. */
struct dhis2_http_opts {
  const char *ca_file;       /* PEM bundle, NULL: system store */
  const char *pinned_pubkey; /* "sha256//BASE64", NULL: none */
  long connect_timeout;      /* seconds, > 0 */
  long timeout;              /* seconds, > 0: bounds the whole request */
  bool allow_http;           /* http:// allowed, and only to loopback */
  size_t max_body;           /* 0: DHIS2_HTTP_MAX_BODY */
};

/*
 * One request. headers is a NULL-terminated array of "Name: value" lines
 * added to the fixed ones (Accept: application/json, X-Requested-With:
 * XMLHttpRequest); they may carry secrets (Authorization, Cookie): the
 * wrapper wipes its own copies. body (body_len bytes) is sent with
 * content_type for POST. Nothing is kept after the call.
 */
struct dhis2_http_req {
  const char *method; /* "GET" or "POST"; NULL: GET */
  const char *url;
  const char *const *headers;
  const char *body;
  size_t body_len;
  const char *content_type;
};

/*
 * A complete reply. All strings are owned by the struct and released with
 * dhis2_http_resp_clear(); cookies holds the "name=value" pairs of every
 * Set-Cookie joined with "; " (a secret: wiped on clear), NULL if none.
 */
struct dhis2_http_resp {
  long status;
  char *body; /* NUL-terminated, body_len bytes before the NUL */
  size_t body_len;
  char *content_type;
  char *location;
  char *www_authenticate;
  char *cookies;
  time_t date;    /* the Date header as a time, 0 when absent or unreadable */
  double seconds; /* total time of the transfer */
};

/*
 * Initialises OpenSSL and libcurl once per process (pthread_once), with
 * the process environment out of their sight: no variable of the caller
 * (SSLKEYLOGFILE, OPENSSL_CONF, OPENSSL_MODULES, OPENSSL_ENGINES...)
 * changes what they do; OpenSSL loads the system configuration file.
 * environ is pointed at an empty environment for the call and restored
 * after it, so the host's environment is unchanged, but another thread
 * must not read or change the environment meanwhile. Runs by itself when
 * the code is loaded (a constructor: OpenSSL would otherwise load its
 * configuration at whatever crypto call comes first), so a program that
 * links the library, dhis2-auth too, ignores SSLKEYLOGFILE and the like
 * even for its own user. If the host initialised libcurl or OpenSSL
 * before, they stay as the host set them up (its key log file is its own
 * business; requests made here never write to it), and
 * curl_global_init_mem() called by the host afterwards has no effect.
 * Never calls curl_global_cleanup: a PAM module cannot know whether the
 * application uses libcurl too. Called by dhis2_http_conn_new() itself.
 */
enum dhis2_err dhis2_http_global_init(void);

/*
 * One connection to a server: a libcurl easy handle, whose connection,
 * DNS answer and TLS session serve every request made on it, so a login's
 * requests cost one TCP and one TLS handshake between them. Every request
 * on it is under the opts it was made with. Not for two threads at once.
 */
struct dhis2_http_conn;

/*
 * Makes a handle under opts (copied: opts may go afterwards). Sets *out
 * (NULL on entry) on DHIS2_OK; DHIS2_ERR_NOMEM, DHIS2_ERR_INTERNAL. Opens
 * no connection yet: the first request does.
 */
enum dhis2_err dhis2_http_conn_new(const struct dhis2_http_opts *opts,
                                   struct dhis2_http_conn **out);

/* Closes the connection and frees conn. NULL is a no-op. */
void dhis2_http_conn_free(struct dhis2_http_conn *conn);

/*
 * Performs req on conn and fills *resp (zeroed on entry; clear it even on
 * error), reusing the connection of the request before when the server
 * kept it open, else opening one. Nothing of one request (method, body,
 * headers, cookies) carries over to the next: the cookie engine is off,
 * so a session goes only where a Cookie header in req puts it. Returns
 * DHIS2_OK whenever a complete HTTP reply arrived, whatever its status
 * (redirects are never followed: a 3xx is returned with its location),
 * else DHIS2_ERR_INVAL (a URL whose scheme or host the policy refuses;
 * nothing is sent), DHIS2_ERR_CONNECT, DHIS2_ERR_TIMEOUT (opts.timeout
 * bounds each request by itself), DHIS2_ERR_TLS, DHIS2_ERR_TOO_LARGE
 * (more than max_body bytes: reading stops there) or DHIS2_ERR_INTERNAL.
 * Logs the method, URL path, status and time at debug level; never
 * headers or bodies.
 */
enum dhis2_err dhis2_http_conn_request(struct dhis2_http_conn *conn,
                                       const struct dhis2_http_req *req,
                                       struct dhis2_http_resp *resp,
                                       const struct dhis2_log *lg);

/* One request on a connection of its own, closed after it: as
   dhis2_http_conn_request() on a fresh dhis2_http_conn_new(opts). */
enum dhis2_err dhis2_http_request(const struct dhis2_http_opts *opts,
                                  const struct dhis2_http_req *req,
                                  struct dhis2_http_resp *resp,
                                  const struct dhis2_log *lg);

/* Releases what resp owns (wiping cookies and body) and zeroes it. */
void dhis2_http_resp_clear(struct dhis2_http_resp *resp);

/*
 * Joins base (a DHIS2 URL, possibly with a context path and trailing
 * slashes) and path (starting with '/'), so that "https://h/dhis/" +
 * "/api/me" is "https://h/dhis/api/me". Returns a malloc'd string the
 * caller frees, or NULL on bad input or no memory.
 */
char *dhis2_url_join(const char *base, const char *path);

/*
 * Checks url against the policy without sending anything: http or https
 * only, https unless allow_http and the host is loopback, no user:password
 * part, a host present. Returns DHIS2_OK or DHIS2_ERR_INVAL.
 */
enum dhis2_err dhis2_http_check_url(const char *url, bool allow_http);

/*
 * Makes the header line "Authorization: Basic base64(user:pass)", a secret
 * the caller frees with dhis2_secret_free(); NULL when out of memory or
 * the pair exceeds 64 KiB. user must not contain ':'.
 */
char *dhis2_http_basic_header(const char *user, const char *pass);

#endif /* DHIS2_HTTP_H */
