/* Verifying JWTs (compact JWS, RS256 and ES256) against a JWKS. */
#ifndef DHIS2_JWT_H
#define DHIS2_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "dhis2/err.h"

/* The longest token accepted, in bytes: real ones are 1-2 KiB. */
#define DHIS2_JWT_MAX_LEN (16 * 1024)

/* The largest JWKS document accepted, in bytes (the reply cap). */
#define DHIS2_JWKS_MAX_LEN (1024 * 1024)

/* The default leeway for exp and nbf, in seconds (DESIGN.md 3). */
#define DHIS2_JWT_SKEW 60

/* The largest leeway accepted, in seconds. */
#define DHIS2_JWT_MAX_SKEW 3600

/*
 * A set of verification keys read from a JWKS document (RFC 7517). Opaque,
 * owned by the caller, read-only once parsed: one set may be used by many
 * verifications at once.
 */
struct dhis2_jwks;

/*
 * Parses a JWKS document of len bytes (need not be NUL-terminated). Keeps
 * RSA keys (n, e; 2048 to 16384 bits) and EC keys on P-256 (crv "P-256",
 * x, y) that OpenSSL finds valid public keys, each with its kid (if any).
 * Skips, without failing, every key it cannot use for RS256 or ES256: a
 * "use" other than "sig", an "alg" other than RS256 (RSA) or ES256 (EC),
 * another kty (oct, OKP, ...) or curve, members missing or not decoding.
 * Sets *out (NULL on entry) on DHIS2_OK, also when no key was kept: then
 * dhis2_jwks_count() is 0 and every verification answers
 * DHIS2_ERR_UNKNOWN_KEY. Returns DHIS2_ERR_MALFORMED when the document is
 * not a JSON object with a "keys" array or is over DHIS2_JWKS_MAX_LEN,
 * DHIS2_ERR_NOMEM, DHIS2_ERR_INTERNAL when OpenSSL fails otherwise.
 */
enum dhis2_err dhis2_jwks_parse(const char *json, size_t len,
                                struct dhis2_jwks **out);

/* The number of keys kept in ks; 0 for NULL. */
size_t dhis2_jwks_count(const struct dhis2_jwks *ks);

/* Frees ks and its keys. NULL ok. */
void dhis2_jwks_free(struct dhis2_jwks *ks);

/*
 * The claims of a token. Every string is a copy owned by the struct (NULL
 * when the claim is absent); free it all with dhis2_jwt_claims_free().
 * A NumericDate claim that is absent reads as 0.
 */
struct dhis2_jwt_claims {
  char *iss;
  char *sub;  /* DHIS2's own server: the DHIS2 username */
  char **aud; /* n_aud audiences; a string "aud" is one of them */
  size_t n_aud;
  char *azp;
  char *nonce;
  char *username; /* DHIS2's "username" claim (username scope) */
  char *email;
  char *scope; /* a string, or an array joined with spaces */
  char *jti;
  time_t exp; /* seconds since the epoch, 0: absent */
  time_t nbf;
  time_t iat;
};

/* Frees c and every string it owns. NULL ok. */
void dhis2_jwt_claims_free(struct dhis2_jwt_claims *c);

/*
 * What a token must say to be accepted. The strings are borrowed: they
 * must outlive the call that reads them.
 */
struct dhis2_jwt_expect {
  const char *iss;   /* required: "iss" must equal it */
  const char *aud;   /* required: the client id "aud" must contain */
  const char *nonce; /* NULL: not checked; else "nonce" must equal it */
  time_t now;        /* the time to judge exp and nbf by; 0: time(NULL) */
  long skew; /* leeway for exp and nbf, 0 to DHIS2_JWT_MAX_SKEW seconds */
};

/*
 * Fills e for issuer iss and client id aud (both borrowed), no nonce, now
 * 0 (the current time) and skew DHIS2_JWT_SKEW.
 */
void dhis2_jwt_expect_init(struct dhis2_jwt_expect *e, const char *iss,
                           const char *aud);

/*
 * Checks claims c against e, in this order: iss equal, aud contains
 * e->aud, azp (when present) equal to e->aud (OpenID Connect Core 3.1.3.7),
 * nonce equal when e->nonce is set, exp present, nbf <= now + skew, and
 * last exp > now - skew. Returns DHIS2_OK; DHIS2_ERR_TOKEN_EXPIRED only
 * when every other check passed and exp is past (so an expired token for
 * another issuer is never taken for one worth refreshing);
 * DHIS2_ERR_BAD_TOKEN for any other failure; DHIS2_ERR_INVAL when e lacks
 * iss or aud or its skew is out of range. When why is not NULL, writes
 * into it (whylen bytes) a sentence saying which check failed; it names
 * the issuer and audiences, never the nonce.
 */
enum dhis2_err dhis2_jwt_check_claims(const struct dhis2_jwt_claims *c,
                                      const struct dhis2_jwt_expect *e,
                                      char *why, size_t whylen);

/*
 * Verifies the compact JWS token (a NUL-terminated secret, never copied or
 * logged) with a key of ks, then its claims against e:
 *   - the form: three base64url segments without padding or whitespace,
 *     at most DHIS2_JWT_MAX_LEN bytes, a JSON object header and payload;
 *   - the header's alg must be RS256 or ES256 ("none", HS256 and every
 *     other alg are refused before any key is used) and it must not carry
 *     "crit"; keys it embeds (jwk, jku, x5c, x5u) are ignored;
 *   - the key: the one whose kid equals the header's kid and whose type
 *     fits alg; with no kid in the header, the only key of that type;
 *   - the signature over the first two segments: RSASSA-PKCS1-v1_5 with
 *     SHA-256, or ECDSA P-256 with SHA-256 as raw r||s (64 bytes);
 *   - the claims as dhis2_jwt_check_claims().
 * On DHIS2_OK sets *out (NULL on entry; out may be NULL when the claims
 * are not wanted) to the claims. Returns DHIS2_ERR_MALFORMED for a token
 * whose form is wrong; DHIS2_ERR_UNKNOWN_KEY when its kid is in no key
 * of ks, or ks is empty (the caller may fetch the JWKS again, once, and
 * retry: keys rotate); DHIS2_ERR_BAD_TOKEN for a refused alg, an alg that
 * does not fit the key's type, no kid and not exactly one key of the type,
 * a signature that does not verify, or a claim check that fails;
 * DHIS2_ERR_TOKEN_EXPIRED as dhis2_jwt_check_claims(); DHIS2_ERR_INVAL,
 * DHIS2_ERR_NOMEM, DHIS2_ERR_INTERNAL. why as dhis2_jwt_check_claims();
 * it never quotes the token. Leaves OpenSSL's error queue as it found it.
 */
enum dhis2_err dhis2_jwt_verify(const char *token, const struct dhis2_jwks *ks,
                                const struct dhis2_jwt_expect *e,
                                struct dhis2_jwt_claims **out, char *why,
                                size_t whylen);

/*
 * FOR DISPLAY ONLY: NEVER USE THE RESULT FOR A DECISION. Anyone can write
 * a token that says anything; this decodes the claims of token without
 * checking its signature, alg or any claim, e.g. for `dhis2-auth status`
 * to show when a stored token expires. Sets *out (NULL on entry) on
 * DHIS2_OK; DHIS2_ERR_MALFORMED unless token is three base64url segments
 * (as dhis2_jwt_verify() asks) whose second is a JSON object with claims
 * of the right types; DHIS2_ERR_INVAL, DHIS2_ERR_NOMEM.
 */
enum dhis2_err dhis2_jwt_peek_unverified(const char *token,
                                         struct dhis2_jwt_claims **out);

/*
 * True when token has the form of a compact JWS (three base64url segments,
 * a JSON object header with a string alg), so that token_validation =
 * auto knows to verify it locally; says nothing about its validity.
 */
bool dhis2_jwt_is_jws(const char *token);

#endif /* DHIS2_JWT_H */
