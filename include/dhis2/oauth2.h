/* OAuth2 for terminal users: discovery, PKCE, the loopback receiver. */
#ifndef DHIS2_OAUTH2_H
#define DHIS2_OAUTH2_H

#include <stdbool.h>
#include <stddef.h>

#include "dhis2/api.h"
#include "dhis2/config.h"
#include "dhis2/err.h"

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
};

void dhis2_oauth2_endpoints_clear(struct dhis2_oauth2_endpoints *ep);

/*
 * Finds the endpoints for cfg->oauth2: "dhis2" reads discovery at
 * url/.well-known/openid-configuration, "oidc" at
 * issuer/.well-known/openid-configuration, "uaa" has fixed paths
 * url/uaa/oauth/authorize and url/uaa/oauth/token (no discovery). One
 * request at most. On DHIS2_ERR_CONFIG (discovery missing or incomplete)
 * writes into why a sentence that says what to change on the server, e.g.
 * which dhis.conf key is missing. Fills *ep (zeroed on entry).
 */
enum dhis2_err dhis2_oauth2_discover(struct dhis2_client *c,
                                     const struct dhis2_config *cfg,
                                     struct dhis2_oauth2_endpoints *ep,
                                     char *why, size_t whylen);

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
 * Accepts one request within timeout seconds: reads at most 8 KiB of the
 * request head, answers a small HTML page telling the user to return to
 * the terminal, and closes. The request must be "GET /callback?..." with
 * state equal (constant time) to expect_state. Sets *code (NULL on entry,
 * a secret the caller frees with dhis2_secret_free()) on DHIS2_OK.
 * Returns DHIS2_ERR_TIMEOUT, DHIS2_ERR_REJECTED (wrong or missing state, an
 * error= redirect: its text goes into why), DHIS2_ERR_MALFORMED (not such
 * a request, or too large). Later requests are never accepted: the socket
 * is closed on return.
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

#endif /* DHIS2_OAUTH2_H */
