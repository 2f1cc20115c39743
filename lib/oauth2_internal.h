/*
 * Parts of lib/oauth2.c that are not the library's interface, declared
 * here so that tests/fuzz and tests/unit can reach the parsers inside
 * them without a server or a socket of their own (DESIGN.md section 8).
 * Nothing outside lib/ and tests/ includes this header.
 */
#ifndef DHIS2_OAUTH2_INTERNAL_H
#define DHIS2_OAUTH2_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "dhis2/config.h"
#include "dhis2/err.h"
#include "dhis2/oauth2.h"

/* The cap on a request head the loopback receiver reads. */
#define LOOPBACK_MAX_REQUEST 8192

/* One connection to the receiver: its request head so far. */
struct lb_conn {
  int fd; /* -1: a free slot */
  double deadline;
  size_t got;
  char req[LOOPBACK_MAX_REQUEST + 1];
};

/*
 * Judges the complete request head in c (NUL-terminated at c->req[got]).
 * A redirect with this login's state ends the wait: returns true with *rc
 * (and *code on DHIS2_OK). Anything else is answered, closed and counted
 * in *refused; false. Either way c->fd is answered and closed.
 */
bool dhis2_loopback_judge(struct lb_conn *c, const char *expect_state,
                          char **code, enum dhis2_err *rc, char *why,
                          size_t whylen, unsigned *refused);

/*
 * The discovery document of len bytes at body, fetched from url (named in
 * why), read as dhis2_oauth2_discover() reads it for cfg: fills *ep
 * (zeroed on entry, cleared again on failure). DHIS2_OK, DHIS2_ERR_CONFIG
 * with a sentence in why, DHIS2_ERR_NOMEM.
 */
enum dhis2_err dhis2_oauth2_discovery_parse(const struct dhis2_config *cfg,
                                            const char *url, const char *body,
                                            size_t len,
                                            struct dhis2_oauth2_endpoints *ep,
                                            char *why, size_t whylen);

/*
 * A /api/loginConfig body of len bytes, read as
 * dhis2_oauth2_server_release() reads a 200: its apiVersion string, as
 * the server wrote it, into *release (NULL on entry, malloc'd).
 * DHIS2_ERR_UNSUPPORTED when the body is not a JSON object with a string
 * apiVersion (a login page, an older server) or there is no memory to
 * copy it.
 */
enum dhis2_err dhis2_oauth2_release_parse(const char *body, size_t len,
                                          char **release);

/*
 * The body of a 401 or 403 from /api, read as dhis2_oauth2_api_refusal()
 * reads it: the WebMessage's "message" into *message (NULL on entry,
 * malloc'd, the server's text: filter it before printing).
 * DHIS2_ERR_UNSUPPORTED when the body carries none.
 */
enum dhis2_err dhis2_oauth2_refusal_parse(const char *body, size_t len,
                                          char **message);

/*
 * A 2xx device authorization reply (RFC 8628 3.2) of len bytes, read as
 * dhis2_oauth2_device_start() reads it: fills *out (zeroed on entry;
 * device_code a secret, json-c's copies wiped). DHIS2_OK;
 * DHIS2_ERR_MALFORMED with a sentence in why when it is not JSON or lacks
 * device_code, user_code, verification_uri or a positive expires_in;
 * DHIS2_ERR_NOMEM.
 */
enum dhis2_err dhis2_oauth2_device_parse(const char *body, size_t len,
                                         struct dhis2_device *out, char *why,
                                         size_t whylen);

#endif /* DHIS2_OAUTH2_INTERNAL_H */
