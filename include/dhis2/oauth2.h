/* OAuth2 for terminal users: discovery, PKCE, the loopback receiver. */
#ifndef DHIS2_OAUTH2_H
#define DHIS2_OAUTH2_H

#include <stdbool.h>
#include <stddef.h>

#include "dhis2/api.h"
#include "dhis2/config.h"
#include "dhis2/err.h"
#include "dhis2/jwt.h"

/* Where one OAuth2 server has its endpoints. Strings owned by the struct,
   NULL when the server does not offer that endpoint. */
struct dhis2_oauth2_endpoints {
  char *issuer;
  char *authorization;
  char *token;
  char *jwks;
  char *revocation;
  char *device_authorization;
  char *userinfo;
  /* The server takes client secrets only in the form body
     (token_endpoint_auth_methods_supported lacks client_secret_basic). */
  bool secret_post;
};

void dhis2_oauth2_endpoints_clear(struct dhis2_oauth2_endpoints *ep);

/*
 * Finds the endpoints for cfg->oauth2: "dhis2" reads discovery at
 * url/.well-known/openid-configuration, "oidc" at
 * issuer/.well-known/openid-configuration, "uaa" has fixed paths
 * url/uaa/oauth/authorize and url/uaa/oauth/token (no discovery). One
 * request at most. On DHIS2_ERR_CONFIG (discovery missing or incomplete)
 * writes into why a sentence that says what to change on the server, e.g.
 * which dhis.conf key is missing, or that the authorization_endpoint is
 * not one dhis2_oauth2_browser_url_ok() lets a browser be sent to. Fills
 * *ep (zeroed on entry).
 */
enum dhis2_err dhis2_oauth2_discover(struct dhis2_client *c,
                                     const struct dhis2_config *cfg,
                                     struct dhis2_oauth2_endpoints *ep,
                                     char *why, size_t whylen);

/*
 * True when issuer names the server at url: the same string with one
 * trailing slash ignored on either side (DHIS2 2.42.5+ appends "/" to
 * server.base.url). Tokens' "iss" is still compared exactly, with the
 * discovered issuer.
 */
bool dhis2_oauth2_issuer_is_url(const char *issuer, const char *url);

/*
 * The scope dhis2-auth asks DHIS2's own server for when the configuration
 * sets none, by its release (loginConfig's apiVersion; NULL: unknown):
 * "openid username" on 2.42.5 and later or unknown, "ALL openid" before.
 * Never "email" (2.42.5 fails the grant for a user without an e-mail).
 * A static string.
 */
const char *dhis2_oauth2_dhis2_scope_for(const char *release);

/*
 * GET /api/loginConfig without credentials (anonymous on 2.41+): its
 * apiVersion ("2.42.5", "2.44-SNAPSHOT") into *release (NULL on entry,
 * malloc'd). DHIS2_ERR_UNSUPPORTED when the server does not say (before
 * 2.41); transport errors as dhis2_http_request(). One request.
 */
enum dhis2_err dhis2_oauth2_server_release(struct dhis2_client *c,
                                           char **release);

/*
 * Why /api refuses access_token: GET /api/me with it as Bearer, and the
 * "message" of a 401/403 WebMessage into *message (NULL on entry,
 * malloc'd, text from the server: filter it before printing).
 * DHIS2_ERR_UNSUPPORTED when the reply carries none. One request.
 */
enum dhis2_err dhis2_oauth2_api_refusal(struct dhis2_client *c,
                                        const char *access_token,
                                        char **message);

/*
 * True when url may be handed to a browser (or xdg-open): it starts with
 * "https://", or "http://" to a loopback host with cfg->allow_http, and
 * passes dhis2_http_check_url(). Such a URL can never be read as an
 * option.
 */
bool dhis2_oauth2_browser_url_ok(const struct dhis2_config *cfg,
                                 const char *url);

/*
 * Fills buf (len bytes, len > 0) with a random URL-safe string of len - 1
 * characters from [A-Za-z0-9-._~] (RFC 7636's alphabet) and a NUL, from
 * the kernel's CSPRNG. Returns DHIS2_OK or DHIS2_ERR_INTERNAL.
 */
enum dhis2_err dhis2_oauth2_random(char *buf, size_t len);

/*
 * The PKCE S256 challenge of verifier: BASE64URL(SHA256(verifier)) without
 * padding, 43 characters, into out (at least 44 bytes).
 */
enum dhis2_err dhis2_oauth2_pkce_challenge(const char *verifier, char out[44]);

/* Compares two NUL-terminated strings in time that depends only on their
   lengths: for state values. */
bool dhis2_oauth2_equal_ct(const char *a, const char *b);

/*
 * Percent-encodes s for a query string or form body (RFC 3986 unreserved
 * kept). Returns a malloc'd string or NULL.
 */
char *dhis2_oauth2_urlencode(const char *s);

/*
 * Finds the value of name in the query string q ("a=1&b=2", no leading
 * '?'), percent-decoded, malloc'd; NULL when absent or malformed.
 */
char *dhis2_oauth2_query_get(const char *q, const char *name);

/* A loopback redirect receiver: one listening socket on 127.0.0.1. */
struct dhis2_loopback;

/*
 * Listens on 127.0.0.1:port (0: any free port; the port is kept in
 * *bound). The socket is close-on-exec. Sets *out (NULL on entry).
 * DHIS2_ERR_IO when the port is taken.
 */
enum dhis2_err dhis2_loopback_open(unsigned port, unsigned *bound,
                                   struct dhis2_loopback **out);

/*
 * Serves the port for at most timeout seconds, until a request
 * "GET /callback?..." carries a state equal (constant time) to
 * expect_state. That one is answered with a small HTML page telling the
 * user to return to the terminal, and ends the wait: DHIS2_OK with *code
 * (NULL on entry, a secret the caller frees with dhis2_secret_free()),
 * DHIS2_ERR_REJECTED for an error= redirect (its text goes into why),
 * DHIS2_ERR_MALFORMED when it has no code. Any other request (another
 * path or method, a wrong or missing state, junk, a head over 8 KiB, a
 * client silent for 10 s) is answered with a 4xx page, closed and
 * ignored; up to 8 connections are read at once, the oldest dropped for
 * a new one, so none can hold the port. DHIS2_ERR_TIMEOUT (why counts
 * the requests refused), DHIS2_ERR_IO, DHIS2_ERR_NOMEM. Later requests
 * are never accepted: the socket is closed on return.
 */
enum dhis2_err dhis2_loopback_wait(struct dhis2_loopback *lb,
                                   const char *expect_state, int timeout,
                                   char **code, char *why, size_t whylen);

void dhis2_loopback_free(struct dhis2_loopback *lb);

/*
 * Reads the code out of a pasted redirect URL ("http://127.0.0.1:8765/
 * callback?code=...&state=..."): the same state and error= checks as
 * dhis2_loopback_wait(). *code as there.
 */
enum dhis2_err dhis2_oauth2_parse_redirect(const char *url,
                                           const char *expect_state,
                                           char **code, char *why,
                                           size_t whylen);

/* A token endpoint's answer. Strings owned; tokens are secrets. */
struct dhis2_tokens {
  char *access_token;
  char *refresh_token;
  char *id_token;
  char *token_type;
  char *scope;
  long expires_in; /* seconds, 0 when the server did not say */
  /* The refresh token's remaining life in seconds, as Keycloak says in
     refresh_expires_in; 0 when the server did not say (Spring AS, uaa)
     or said 0 (Keycloak's offline tokens: no expiry). */
  long refresh_expires_in;
};

/* Wipes and frees what t owns, and zeroes it. */
void dhis2_tokens_clear(struct dhis2_tokens *t);

/*
 * Parses a token endpoint's 2xx reply (len bytes of JSON at body) into
 * *out (zeroed on entry; clear it with dhis2_tokens_clear()): the tokens,
 * token_type, scope, expires_in and refresh_expires_in (numbers or numeric
 * strings; negative ones read as 0). Returns DHIS2_OK, DHIS2_ERR_NOMEM, or
 * DHIS2_ERR_MALFORMED with a reason in why when the reply is not a JSON
 * object or has no access_token.
 */
enum dhis2_err dhis2_oauth2_parse_tokens(const char *body, size_t len,
                                         struct dhis2_tokens *out, char *why,
                                         size_t whylen);

/*
 * How long a store should keep a login made of t (seconds; 0: no limit),
 * where refreshable says whether a refresh token will be stored with it
 * (t's own, or an earlier one a refresh did not replace): the refresh
 * token's life when the server said it; no limit when there is a refresh
 * token of unknown life; else the access token's life, after which the
 * record is of no use (0 when that is unknown too).
 */
long dhis2_tokens_keep_for(const struct dhis2_tokens *t, bool refreshable);

/*
 * The authorization URL for the code flow with PKCE S256: endpoint plus
 * response_type=code, client_id, redirect_uri, scope, state, nonce (when
 * not NULL) and the challenge of verifier. Returns a malloc'd URL or NULL.
 */
char *dhis2_oauth2_authorize_url(const struct dhis2_oauth2_endpoints *ep,
                                 const struct dhis2_config *cfg,
                                 const char *redirect_uri, const char *state,
                                 const char *nonce, const char *verifier);

/*
 * POSTs a grant to the token endpoint: form is the grant's own fields
 * ("grant_type=...&..." already URL-encoded, a secret); the client is
 * authenticated per cfg: client_secret set -> HTTP Basic
 * (client_secret_basic), or with post in the form (client_secret_post);
 * no secret -> client_id in the form (a public client). Fills *out (zeroed on
 * entry). Errors: DHIS2_ERR_REJECTED for invalid_grant and access_denied,
 * DHIS2_ERR_PENDING / DHIS2_ERR_SLOW_DOWN for a device poll,
 * DHIS2_ERR_TOKEN_EXPIRED for expired_token, DHIS2_ERR_CONFIG for
 * invalid_client / unauthorized_client (why says so), transport errors as
 * dhis2_http_request(), DHIS2_ERR_MALFORMED for a reply without
 * access_token.
 */
enum dhis2_err dhis2_oauth2_token(struct dhis2_client *c,
                                  const struct dhis2_config *cfg,
                                  const char *endpoint, bool post,
                                  const char *form, struct dhis2_tokens *out,
                                  char *why, size_t whylen);

/* The code exchange: grant_type=authorization_code with code, redirect_uri
   and code_verifier. As dhis2_oauth2_token(). */
enum dhis2_err
dhis2_oauth2_exchange(struct dhis2_client *c, const struct dhis2_config *cfg,
                      const struct dhis2_oauth2_endpoints *ep,
                      const char *code, const char *redirect_uri,
                      const char *verifier, struct dhis2_tokens *out,
                      char *why, size_t whylen);

/* grant_type=refresh_token. As dhis2_oauth2_token(). */
enum dhis2_err dhis2_oauth2_refresh(struct dhis2_client *c,
                                    const struct dhis2_config *cfg,
                                    const struct dhis2_oauth2_endpoints *ep,
                                    const char *refresh_token,
                                    struct dhis2_tokens *out, char *why,
                                    size_t whylen);

/*
 * RFC 7009 revocation of token (hint "refresh_token" or "access_token").
 * DHIS2_ERR_UNSUPPORTED when the server has no revocation endpoint.
 */
enum dhis2_err dhis2_oauth2_revoke(struct dhis2_client *c,
                                   const struct dhis2_config *cfg,
                                   const struct dhis2_oauth2_endpoints *ep,
                                   const char *token, const char *hint);

/* An RFC 8628 device authorization. Strings owned; device_code secret. */
struct dhis2_device {
  char *device_code;
  char *user_code;
  char *verification_uri;
  char *verification_uri_complete; /* may be NULL */
  long expires_in;                 /* seconds */
  long interval;                   /* seconds, 5 when not given */
};

void dhis2_device_clear(struct dhis2_device *d);

/* Starts a device flow at ep->device_authorization (DHIS2_ERR_UNSUPPORTED
   when there is none). Fills *out (zeroed on entry). */
enum dhis2_err
dhis2_oauth2_device_start(struct dhis2_client *c,
                          const struct dhis2_config *cfg,
                          const struct dhis2_oauth2_endpoints *ep,
                          struct dhis2_device *out, char *why, size_t whylen);

/* One poll of the token endpoint for d: DHIS2_OK with *out, or
   DHIS2_ERR_PENDING, DHIS2_ERR_SLOW_DOWN, DHIS2_ERR_REJECTED (denied),
   DHIS2_ERR_TOKEN_EXPIRED (the code expired), as dhis2_oauth2_token(). */
enum dhis2_err dhis2_oauth2_device_poll(
    struct dhis2_client *c, const struct dhis2_config *cfg,
    const struct dhis2_oauth2_endpoints *ep, const struct dhis2_device *d,
    struct dhis2_tokens *out, char *why, size_t whylen);

/*
 * Fetches and parses the server's JWKS (ep->jwks) into *out (NULL on
 * entry; free with dhis2_jwks_free()). One request. DHIS2_ERR_UNSUPPORTED
 * when discovery named no jwks_uri.
 */
enum dhis2_err dhis2_oauth2_fetch_jwks(struct dhis2_client *c,
                                       const struct dhis2_oauth2_endpoints *ep,
                                       struct dhis2_jwks **out);

/*
 * As dhis2_oauth2_fetch_jwks(), and also hands out the document itself
 * (for a cache): on DHIS2_OK *doc (NULL on entry, doc may be NULL) gets
 * a malloc'd NUL-terminated copy of the *doc_len bytes that parsed into
 * *out. Returns DHIS2_ERR_MALFORMED when it is not a JWKS.
 */
enum dhis2_err dhis2_oauth2_fetch_jwks_doc(
    struct dhis2_client *c, const struct dhis2_oauth2_endpoints *ep,
    struct dhis2_jwks **out, char **doc, size_t *doc_len);

#endif /* DHIS2_OAUTH2_H */
