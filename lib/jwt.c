/* JWT and JWKS verification with OpenSSL 3: RS256 and ES256, nothing else. */

/* Nothing OpenSSL 3.0 deprecates may be used here (no RSA_*, EC_KEY_*). */
#ifndef OPENSSL_API_COMPAT
#define OPENSSL_API_COMPAT 30000
#endif
#ifndef OPENSSL_NO_DEPRECATED
#define OPENSSL_NO_DEPRECATED
#endif

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "dhis2/json.h"
#include "dhis2/jwt.h"
#include "dhis2/log.h"
#include "dhis2/secret.h"

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 16384
#define P256_COORD_LEN 32

/* The latest NumericDate taken: 9999-12-31, or what a 32-bit time_t holds. */
#define NUMERIC_DATE_MAX                                                      \
  (sizeof(time_t) >= 8 ? 253402300799.0 : (double)INT32_MAX)

/* What a key verifies: RS256 needs an RSA key, ES256 a P-256 one. */
enum jwk_type {
  JWK_RSA,
  JWK_EC,
};

struct jwk {
  enum jwk_type type;
  char *kid; /* NULL when the JWK has none */
  EVP_PKEY *pkey;
};

struct dhis2_jwks {
  struct jwk *keys;
  size_t n;
};

/* A token cut at its dots: pointers into the caller's token. */
struct jws_parts {
  const char *seg[3];
  size_t len[3];
};

static const char b64url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "abcdefghijklmnopqrstuvwxyz0123456789-_";

static void say(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes a reason into why, when the caller wants one. */
static void say(char *why, size_t whylen, const char *fmt, ...)
{
  va_list ap;

  if (why == NULL || whylen == 0)
    return;
  va_start(ap, fmt);
  vsnprintf(why, whylen, fmt, ap);
  va_end(ap);
}

/* --- base64url ---------------------------------------------------------- */

static int b64url_value(unsigned char ch)
{
  if (ch >= 'A' && ch <= 'Z')
    return ch - 'A';
  if (ch >= 'a' && ch <= 'z')
    return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9')
    return ch - '0' + 52;
  if (ch == '-')
    return 62;
  if (ch == '_')
    return 63;
  return -1;
}

/*
 * Decodes len characters of unpadded base64url (RFC 7515 2). Sets *out
 * (NULL on entry) to *outlen bytes and a NUL, which the caller releases
 * with dhis2_secret_free_n(*out, *outlen + 1). DHIS2_ERR_MALFORMED for a
 * character outside the alphabet ('=' included), a length no encoding has,
 * or leftover bits that are not zero (a second spelling of the same
 * bytes); DHIS2_ERR_NOMEM.
 */
static enum dhis2_err b64url_decode(const char *in, size_t len,
                                    unsigned char **out, size_t *outlen)
{
  enum dhis2_err rc = DHIS2_ERR_MALFORMED;
  size_t cap = len / 4 * 3 + (len % 4 > 1 ? len % 4 - 1 : 0);
  unsigned char *buf = NULL;
  uint32_t acc = 0;
  unsigned bits = 0;
  size_t o = 0;

  *out = NULL;
  *outlen = 0;
  if (len % 4 == 1)
    goto out;
  rc = DHIS2_ERR_NOMEM;
  buf = malloc(cap + 1);
  if (buf == NULL)
    goto out;
  rc = DHIS2_ERR_MALFORMED;
  for (size_t i = 0; i < len; i++) {
    int v = b64url_value((unsigned char)in[i]);

    if (v < 0)
      goto out;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      buf[o++] = (unsigned char)(acc >> bits);
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0)
    goto out;
  buf[o] = '\0';
  *out = buf;
  *outlen = o;
  buf = NULL; /* transferred */
  rc = DHIS2_OK;
out:
  dhis2_secret_free_n(buf, cap + 1);
  return rc;
}

/* --- JSON --------------------------------------------------------------- */

/* The string in o, or NULL when o is not a string or holds a NUL (then
   the C string would say less than the JSON did). Borrowed. */
static const char *string_of(struct json_object *o)
{
  const char *s;

  if (o == NULL || !json_object_is_type(o, json_type_string))
    return NULL;
  s = json_object_get_string(o);
  if (s == NULL || strlen(s) != (size_t)json_object_get_string_len(o))
    return NULL;
  return s;
}

/* The member name of obj, or NULL (also for a JSON null). Borrowed. */
static struct json_object *member(struct json_object *obj, const char *name)
{
  struct json_object *v = NULL;

  if (!json_object_object_get_ex(obj, name, &v))
    return NULL;
  return v;
}

/* True when obj has a member name, even one that is null. */
static bool has(struct json_object *obj, const char *name)
{
  return json_object_object_get_ex(obj, name, NULL) != 0;
}

/* --- JWKS --------------------------------------------------------------- */

/*
 * Decodes the base64url string member name of obj into *buf (NULL on
 * entry; free with dhis2_secret_free_n(*buf, *len + 1)). DHIS2_ERR_INVAL
 * when it is absent, not a string or does not decode; DHIS2_ERR_NOMEM.
 */
static enum dhis2_err b64_member(struct json_object *obj, const char *name,
                                 unsigned char **buf, size_t *len)
{
  const char *s = string_of(member(obj, name));
  enum dhis2_err rc;

  *buf = NULL;
  *len = 0;
  if (s == NULL)
    return DHIS2_ERR_INVAL;
  rc = b64url_decode(s, strlen(s), buf, len);
  if (rc == DHIS2_ERR_MALFORMED || (rc == DHIS2_OK && *len == 0)) {
    dhis2_secret_free_n(*buf, *len + 1);
    *buf = NULL;
    rc = DHIS2_ERR_INVAL;
  }
  return rc;
}

/*
 * Makes a public key of type name ("RSA", "EC") from params and checks it
 * as OpenSSL checks public keys (RSA: odd modulus and exponent, no small
 * factors; EC: the point is on the curve). Sets *out (NULL on entry).
 * DHIS2_ERR_INVAL when the key is refused; DHIS2_ERR_INTERNAL when
 * OpenSSL cannot make such keys at all.
 */
static enum dhis2_err pkey_from(const char *name, OSSL_PARAM *params,
                                EVP_PKEY **out)
{
  enum dhis2_err rc = DHIS2_ERR_INTERNAL;
  EVP_PKEY_CTX *ctx = NULL;
  EVP_PKEY_CTX *check = NULL;
  EVP_PKEY *pkey = NULL;

  *out = NULL;
  ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);
  if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1)
    goto out;
  rc = DHIS2_ERR_INVAL;
  if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    goto out;
  rc = DHIS2_ERR_INTERNAL;
  check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
  if (check == NULL)
    goto out;
  rc = DHIS2_ERR_INVAL;
  if (EVP_PKEY_public_check(check) != 1)
    goto out;
  *out = pkey;
  pkey = NULL; /* transferred */
  rc = DHIS2_OK;
out:
  EVP_PKEY_CTX_free(check);
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  return rc;
}

/* An RSA public key from the JWK's n and e. Errors as pkey_from(). */
static enum dhis2_err rsa_key(struct json_object *jwk, EVP_PKEY **out)
{
  enum dhis2_err rc;
  unsigned char *n = NULL;
  unsigned char *e = NULL;
  size_t nlen = 0;
  size_t elen = 0;
  BIGNUM *bn_n = NULL;
  BIGNUM *bn_e = NULL;
  OSSL_PARAM_BLD *bld = NULL;
  OSSL_PARAM *params = NULL;

  *out = NULL;
  rc = b64_member(jwk, "n", &n, &nlen);
  if (rc == DHIS2_OK)
    rc = b64_member(jwk, "e", &e, &elen);
  if (rc != DHIS2_OK)
    goto out;
  rc = DHIS2_ERR_NOMEM;
  bn_n = BN_bin2bn(n, (int)nlen, NULL);
  bn_e = BN_bin2bn(e, (int)elen, NULL);
  if (bn_n == NULL || bn_e == NULL)
    goto out;
  rc = DHIS2_ERR_INVAL;
  if (BN_num_bits(bn_n) < RSA_MIN_BITS || BN_num_bits(bn_n) > RSA_MAX_BITS)
    goto out;
  rc = DHIS2_ERR_NOMEM;
  bld = OSSL_PARAM_BLD_new();
  if (bld == NULL ||
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1)
    goto out;
  params = OSSL_PARAM_BLD_to_param(bld);
  if (params == NULL)
    goto out;
  rc = pkey_from("RSA", params, out);
out:
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn_n);
  BN_free(bn_e);
  dhis2_secret_free_n(n, nlen + 1);
  dhis2_secret_free_n(e, elen + 1);
  return rc;
}

/* A P-256 public key from the JWK's x and y. Errors as pkey_from(). */
static enum dhis2_err ec_key(struct json_object *jwk, EVP_PKEY **out)
{
  enum dhis2_err rc;
  unsigned char *x = NULL;
  unsigned char *y = NULL;
  size_t xlen = 0;
  size_t ylen = 0;
  unsigned char pub[1 + 2 * P256_COORD_LEN];
  OSSL_PARAM_BLD *bld = NULL;
  OSSL_PARAM *params = NULL;

  *out = NULL;
  rc = b64_member(jwk, "x", &x, &xlen);
  if (rc == DHIS2_OK)
    rc = b64_member(jwk, "y", &y, &ylen);
  if (rc != DHIS2_OK)
    goto out;
  /* RFC 7518 6.2.1.2: each coordinate is exactly the field's size. */
  rc = DHIS2_ERR_INVAL;
  if (xlen != P256_COORD_LEN || ylen != P256_COORD_LEN)
    goto out;
  pub[0] = POINT_CONVERSION_UNCOMPRESSED;
  memcpy(pub + 1, x, P256_COORD_LEN);
  memcpy(pub + 1 + P256_COORD_LEN, y, P256_COORD_LEN);
  rc = DHIS2_ERR_NOMEM;
  bld = OSSL_PARAM_BLD_new();
  if (bld == NULL ||
      OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                      SN_X9_62_prime256v1, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub,
                                       sizeof(pub)) != 1)
    goto out;
  params = OSSL_PARAM_BLD_to_param(bld);
  if (params == NULL)
    goto out;
  rc = pkey_from("EC", params, out);
out:
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  dhis2_secret_free_n(x, xlen + 1);
  dhis2_secret_free_n(y, ylen + 1);
  return rc;
}

/* True when the JWK's "key_ops", if any, lists "verify". */
static bool ops_allow_verify(struct json_object *jwk)
{
  struct json_object *ops = member(jwk, "key_ops");

  if (!has(jwk, "key_ops"))
    return true;
  if (ops == NULL || !json_object_is_type(ops, json_type_array))
    return false;
  for (size_t i = 0; i < json_object_array_length(ops); i++) {
    const char *op = string_of(json_object_array_get_idx(ops, i));

    if (op != NULL && strcmp(op, "verify") == 0)
      return true;
  }
  return false;
}

/*
 * Reads one JWK into *k (zeroed on entry). DHIS2_ERR_UNSUPPORTED when the
 * key is not one to keep (the caller skips it); DHIS2_ERR_NOMEM and
 * DHIS2_ERR_INTERNAL are failures of the whole parse.
 */
static enum dhis2_err jwk_read(struct json_object *jwk, struct jwk *k)
{
  enum dhis2_err rc = DHIS2_ERR_UNSUPPORTED;
  struct json_object *use;
  struct json_object *alg;
  struct json_object *kid;
  const char *kty;
  const char *want_alg;

  memset(k, 0, sizeof(*k));
  if (!json_object_is_type(jwk, json_type_object))
    goto out;
  kty = string_of(member(jwk, "kty"));
  use = member(jwk, "use");
  alg = member(jwk, "alg");
  kid = member(jwk, "kid");
  if (kty == NULL || !ops_allow_verify(jwk))
    goto out;
  if (has(jwk, "use") &&
      (string_of(use) == NULL || strcmp(string_of(use), "sig") != 0))
    goto out;
  if (has(jwk, "kid") && string_of(kid) == NULL)
    goto out;
  if (strcmp(kty, "RSA") == 0) {
    k->type = JWK_RSA;
    want_alg = "RS256";
  } else if (strcmp(kty, "EC") == 0) {
    const char *crv = string_of(member(jwk, "crv"));

    if (crv == NULL || strcmp(crv, "P-256") != 0)
      goto out;
    k->type = JWK_EC;
    want_alg = "ES256";
  } else {
    goto out;
  }
  if (has(jwk, "alg") &&
      (string_of(alg) == NULL || strcmp(string_of(alg), want_alg) != 0))
    goto out;
  rc = k->type == JWK_RSA ? rsa_key(jwk, &k->pkey) : ec_key(jwk, &k->pkey);
  if (rc == DHIS2_ERR_INVAL)
    rc = DHIS2_ERR_UNSUPPORTED;
  if (rc != DHIS2_OK)
    goto out;
  if (kid != NULL) {
    rc = DHIS2_ERR_NOMEM;
    k->kid = strdup(string_of(kid));
    if (k->kid == NULL)
      goto out;
  }
  rc = DHIS2_OK;
out:
  if (rc != DHIS2_OK) {
    EVP_PKEY_free(k->pkey);
    free(k->kid);
    memset(k, 0, sizeof(*k));
  }
  return rc;
}

void dhis2_jwks_free(struct dhis2_jwks *ks)
{
  if (ks == NULL)
    return;
  for (size_t i = 0; i < ks->n; i++) {
    EVP_PKEY_free(ks->keys[i].pkey);
    free(ks->keys[i].kid);
  }
  free(ks->keys);
  free(ks);
}

size_t dhis2_jwks_count(const struct dhis2_jwks *ks)
{
  return ks != NULL ? ks->n : 0;
}

enum dhis2_err dhis2_jwks_parse(const char *json, size_t len,
                                struct dhis2_jwks **out)
{
  enum dhis2_err rc = DHIS2_ERR_INVAL;
  struct json_object *root = NULL;
  struct json_object *keys;
  struct dhis2_jwks *ks = NULL;
  size_t n;

  if (out == NULL)
    return DHIS2_ERR_INVAL;
  *out = NULL;
  ERR_set_mark();
  if (json == NULL)
    goto out;
  rc = DHIS2_ERR_MALFORMED;
  if (len > DHIS2_JWKS_MAX_LEN)
    goto out;
  rc = dhis2_json_parse_object(json, len, &root);
  if (rc != DHIS2_OK)
    goto out;
  rc = DHIS2_ERR_MALFORMED;
  keys = member(root, "keys");
  if (keys == NULL || !json_object_is_type(keys, json_type_array))
    goto out;
  n = json_object_array_length(keys);
  rc = DHIS2_ERR_NOMEM;
  ks = calloc(1, sizeof(*ks));
  if (ks == NULL)
    goto out;
  ks->keys = calloc(n > 0 ? n : 1, sizeof(*ks->keys));
  if (ks->keys == NULL)
    goto out;
  for (size_t i = 0; i < n; i++) {
    rc = jwk_read(json_object_array_get_idx(keys, i), &ks->keys[ks->n]);
    if (rc == DHIS2_OK)
      ks->n++;
    else if (rc != DHIS2_ERR_UNSUPPORTED)
      goto out;
  }
  *out = ks;
  ks = NULL; /* transferred */
  rc = DHIS2_OK;
out:
  dhis2_jwks_free(ks);
  json_object_put(root);
  ERR_pop_to_mark();
  return rc;
}

/* --- claims ------------------------------------------------------------- */

void dhis2_jwt_claims_free(struct dhis2_jwt_claims *c)
{
  if (c == NULL)
    return;
  dhis2_secret_free(c->iss);
  dhis2_secret_free(c->sub);
  for (size_t i = 0; i < c->n_aud; i++)
    dhis2_secret_free(c->aud[i]);
  free(c->aud);
  dhis2_secret_free(c->azp);
  dhis2_secret_free(c->nonce);
  dhis2_secret_free(c->username);
  dhis2_secret_free(c->email);
  dhis2_secret_free(c->scope);
  dhis2_secret_free(c->jti);
  free(c);
}

/*
 * Copies the string claim name of root into *out (NULL on entry, and left
 * NULL when absent). A value that is not a string is DHIS2_ERR_MALFORMED
 * when strict (a registered claim), else ignored; DHIS2_ERR_NOMEM.
 */
static enum dhis2_err string_claim(struct json_object *root, const char *name,
                                   bool strict, char **out)
{
  struct json_object *v = member(root, name);
  const char *s = string_of(v);

  *out = NULL;
  if (!has(root, name) || (s == NULL && !strict))
    return DHIS2_OK;
  if (s == NULL)
    return DHIS2_ERR_MALFORMED;
  *out = dhis2_secret_dup(s);
  return *out != NULL ? DHIS2_OK : DHIS2_ERR_NOMEM;
}

/* Reads the NumericDate claim name of root into *out (0 when absent).
   DHIS2_ERR_MALFORMED for anything but a number from 0 to 9999-12-31. */
static enum dhis2_err date_claim(struct json_object *root, const char *name,
                                 time_t *out)
{
  struct json_object *v = member(root, name);
  double d;

  *out = 0;
  if (!has(root, name))
    return DHIS2_OK;
  if (json_object_is_type(v, json_type_int)) {
    int64_t i = json_object_get_int64(v);

    if (i < 0 || (double)i > NUMERIC_DATE_MAX)
      return DHIS2_ERR_MALFORMED;
    *out = (time_t)i;
    return DHIS2_OK;
  }
  if (!json_object_is_type(v, json_type_double))
    return DHIS2_ERR_MALFORMED;
  /* RFC 7519 allows fractions: the whole seconds are enough. */
  d = json_object_get_double(v);
  if (!(d >= 0 && d <= NUMERIC_DATE_MAX))
    return DHIS2_ERR_MALFORMED;
  *out = (time_t)d;
  return DHIS2_OK;
}

/* Reads "aud", a string or an array of strings, into c. */
static enum dhis2_err aud_claim(struct json_object *root,
                                struct dhis2_jwt_claims *c)
{
  struct json_object *v = member(root, "aud");
  size_t n;

  if (!has(root, "aud"))
    return DHIS2_OK;
  if (json_object_is_type(v, json_type_string)) {
    if (string_of(v) == NULL)
      return DHIS2_ERR_MALFORMED;
    c->aud = calloc(1, sizeof(*c->aud));
    if (c->aud == NULL)
      return DHIS2_ERR_NOMEM;
    c->aud[0] = dhis2_secret_dup(string_of(v));
    if (c->aud[0] == NULL)
      return DHIS2_ERR_NOMEM;
    c->n_aud = 1;
    return DHIS2_OK;
  }
  if (!json_object_is_type(v, json_type_array))
    return DHIS2_ERR_MALFORMED;
  n = json_object_array_length(v);
  c->aud = calloc(n > 0 ? n : 1, sizeof(*c->aud));
  if (c->aud == NULL)
    return DHIS2_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    const char *s = string_of(json_object_array_get_idx(v, i));

    if (s == NULL)
      return DHIS2_ERR_MALFORMED;
    c->aud[i] = dhis2_secret_dup(s);
    if (c->aud[i] == NULL)
      return DHIS2_ERR_NOMEM;
    c->n_aud = i + 1;
  }
  return DHIS2_OK;
}

/* Reads "scope": a string, or an array of strings (Spring Authorization
   Server writes one) joined with spaces; anything else is ignored. */
static enum dhis2_err scope_claim(struct json_object *root, char **out)
{
  struct json_object *v = member(root, "scope");
  size_t len = 0;
  size_t at = 0;
  size_t n;
  char *s;

  *out = NULL;
  if (v == NULL || !json_object_is_type(v, json_type_array))
    return string_claim(root, "scope", false, out);
  n = json_object_array_length(v);
  for (size_t i = 0; i < n; i++) {
    const char *one = string_of(json_object_array_get_idx(v, i));

    if (one != NULL)
      len += strlen(one) + 1;
  }
  s = calloc(1, len + 1);
  if (s == NULL)
    return DHIS2_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    const char *one = string_of(json_object_array_get_idx(v, i));

    size_t k;

    if (one == NULL)
      continue;
    k = strlen(one);
    if (at > 0)
      s[at++] = ' ';
    memcpy(s + at, one, k); /* fits: len counted every part + 1 */
    at += k;
  }
  *out = s;
  return DHIS2_OK;
}

/*
 * Parses a decoded payload into *out (NULL on entry). DHIS2_ERR_MALFORMED
 * when it is not a JSON object or a registered claim has the wrong type;
 * DHIS2_ERR_NOMEM.
 */
static enum dhis2_err claims_parse(const unsigned char *buf, size_t len,
                                   struct dhis2_jwt_claims **out)
{
  enum dhis2_err rc;
  struct json_object *root = NULL;
  struct dhis2_jwt_claims *c = NULL;

  *out = NULL;
  rc = dhis2_json_parse_object((const char *)buf, len, &root);
  if (rc != DHIS2_OK)
    goto out;
  rc = DHIS2_ERR_NOMEM;
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    goto out;
  rc = string_claim(root, "iss", true, &c->iss);
  if (rc == DHIS2_OK)
    rc = string_claim(root, "sub", true, &c->sub);
  if (rc == DHIS2_OK)
    rc = string_claim(root, "azp", true, &c->azp);
  if (rc == DHIS2_OK)
    rc = string_claim(root, "nonce", true, &c->nonce);
  if (rc == DHIS2_OK)
    rc = string_claim(root, "jti", true, &c->jti);
  if (rc == DHIS2_OK)
    rc = string_claim(root, "username", false, &c->username);
  if (rc == DHIS2_OK)
    rc = string_claim(root, "email", false, &c->email);
  if (rc == DHIS2_OK)
    rc = scope_claim(root, &c->scope);
  if (rc == DHIS2_OK)
    rc = aud_claim(root, c);
  if (rc == DHIS2_OK)
    rc = date_claim(root, "exp", &c->exp);
  if (rc == DHIS2_OK)
    rc = date_claim(root, "nbf", &c->nbf);
  if (rc == DHIS2_OK)
    rc = date_claim(root, "iat", &c->iat);
  if (rc != DHIS2_OK)
    goto out;
  *out = c;
  c = NULL; /* transferred */
out:
  dhis2_jwt_claims_free(c);
  json_object_put(root);
  return rc;
}

void dhis2_jwt_expect_init(struct dhis2_jwt_expect *e, const char *iss,
                           const char *aud)
{
  memset(e, 0, sizeof(*e));
  e->iss = iss;
  e->aud = aud;
  e->skew = DHIS2_JWT_SKEW;
}

static bool expect_valid(const struct dhis2_jwt_expect *e)
{
  return e != NULL && e->iss != NULL && e->iss[0] != '\0' && e->aud != NULL &&
         e->aud[0] != '\0' && e->skew >= 0 && e->skew <= DHIS2_JWT_MAX_SKEW;
}

enum dhis2_err dhis2_jwt_check_claims(const struct dhis2_jwt_claims *c,
                                      const struct dhis2_jwt_expect *e,
                                      char *why, size_t whylen)
{
  bool aud_ok = false;
  time_t now;

  say(why, whylen, "%s", "");
  if (c == NULL || !expect_valid(e))
    return DHIS2_ERR_INVAL;
  now = e->now != 0 ? e->now : time(NULL);
  if (c->iss == NULL || strcmp(c->iss, e->iss) != 0) {
    say(why, whylen, "the token's issuer is %s, not %s",
        dhis2_log_untrusted(c->iss), dhis2_log_untrusted(e->iss));
    return DHIS2_ERR_BAD_TOKEN;
  }
  for (size_t i = 0; i < c->n_aud; i++)
    aud_ok = aud_ok || strcmp(c->aud[i], e->aud) == 0;
  if (!aud_ok) {
    say(why, whylen, "the token's audience does not include %s",
        dhis2_log_untrusted(e->aud));
    return DHIS2_ERR_BAD_TOKEN;
  }
  if (c->azp != NULL && strcmp(c->azp, e->aud) != 0) {
    say(why, whylen, "the token was issued to %s, not %s",
        dhis2_log_untrusted(c->azp), dhis2_log_untrusted(e->aud));
    return DHIS2_ERR_BAD_TOKEN;
  }
  if (e->nonce != NULL &&
      (c->nonce == NULL || strcmp(c->nonce, e->nonce) != 0)) {
    say(why, whylen, "the token's nonce is %s",
        c->nonce == NULL ? "missing" : "not the one sent");
    return DHIS2_ERR_BAD_TOKEN;
  }
  if (c->exp == 0) {
    say(why, whylen, "the token has no expiry (exp)");
    return DHIS2_ERR_BAD_TOKEN;
  }
  if (c->nbf != 0 && c->nbf > now + e->skew) {
    say(why, whylen, "the token is not valid before %lld (now %lld)",
        (long long)c->nbf, (long long)now);
    return DHIS2_ERR_BAD_TOKEN;
  }
  if (c->exp <= now - e->skew) {
    say(why, whylen, "the token expired at %lld (now %lld)", (long long)c->exp,
        (long long)now);
    return DHIS2_ERR_TOKEN_EXPIRED;
  }
  return DHIS2_OK;
}

/* --- the token ---------------------------------------------------------- */

/*
 * Cuts token at its two dots into *p. DHIS2_ERR_MALFORMED when it is
 * longer than DHIS2_JWT_MAX_LEN, has another number of segments, an empty
 * header or payload, or any character outside the base64url alphabet
 * (padding and whitespace included). The signature may be empty here:
 * the alg decides.
 */
static enum dhis2_err split(const char *token, struct jws_parts *p)
{
  size_t len = strnlen(token, DHIS2_JWT_MAX_LEN + 1);
  size_t start = 0;

  memset(p, 0, sizeof(*p));
  if (len > DHIS2_JWT_MAX_LEN)
    return DHIS2_ERR_MALFORMED;
  for (int i = 0; i < 3; i++) {
    size_t n = strspn(token + start, b64url_alphabet);

    p->seg[i] = token + start;
    p->len[i] = n;
    start += n;
    if (i < 2) {
      if (token[start] != '.')
        return DHIS2_ERR_MALFORMED;
      start++;
    }
  }
  if (start != len || p->len[0] == 0 || p->len[1] == 0)
    return DHIS2_ERR_MALFORMED;
  return DHIS2_OK;
}

/*
 * Reads the header: *type is the key type its alg needs, *kid (NULL on
 * entry) a copy of its kid or NULL. DHIS2_ERR_MALFORMED when it does not
 * decode to a JSON object with a string alg (and a string kid, if any);
 * DHIS2_ERR_BAD_TOKEN for an alg other than RS256 and ES256, or "crit".
 */
static enum dhis2_err read_header(const struct jws_parts *p,
                                  enum jwk_type *type, char **kid, char *why,
                                  size_t whylen)
{
  enum dhis2_err rc;
  unsigned char *buf = NULL;
  size_t len = 0;
  struct json_object *root = NULL;
  struct json_object *v;
  const char *alg;

  *kid = NULL;
  rc = b64url_decode(p->seg[0], p->len[0], &buf, &len);
  if (rc == DHIS2_OK)
    rc = dhis2_json_parse_object((const char *)buf, len, &root);
  if (rc != DHIS2_OK) {
    say(why, whylen, "the token's header is not a JSON object");
    goto out;
  }
  rc = DHIS2_ERR_MALFORMED;
  alg = string_of(member(root, "alg"));
  v = member(root, "kid");
  if (alg == NULL || (has(root, "kid") && string_of(v) == NULL)) {
    say(why, whylen, "the token's header lacks alg or has a bad kid");
    goto out;
  }
  rc = DHIS2_ERR_BAD_TOKEN;
  /* Only asymmetric algs with a key from the JWKS: never "none", never
     HMAC (a public key used as an HMAC secret forges anything). */
  if (strcmp(alg, "RS256") == 0) {
    *type = JWK_RSA;
  } else if (strcmp(alg, "ES256") == 0) {
    *type = JWK_EC;
  } else {
    say(why, whylen, "the token's alg %s is not accepted",
        dhis2_log_untrusted(alg));
    goto out;
  }
  /* RFC 7515 4.1.11: extensions we do not know must not be ignored. */
  if (has(root, "crit")) {
    say(why, whylen, "the token's header has crit extensions");
    goto out;
  }
  rc = DHIS2_ERR_NOMEM;
  if (v != NULL) {
    *kid = strdup(string_of(v));
    if (*kid == NULL)
      goto out;
  }
  rc = DHIS2_OK;
out:
  json_object_put(root);
  dhis2_secret_free_n(buf, len + 1);
  return rc;
}

/* Chooses the key for a token of key type type and kid (may be NULL). */
static enum dhis2_err pick_key(const struct dhis2_jwks *ks, enum jwk_type type,
                               const char *kid, const struct jwk **key,
                               char *why, size_t whylen)
{
  const char *alg = type == JWK_RSA ? "RS256" : "ES256";
  bool named = false;
  size_t fits = 0;

  *key = NULL;
  for (size_t i = 0; i < ks->n; i++) {
    const struct jwk *k = &ks->keys[i];

    if (kid != NULL && (k->kid == NULL || strcmp(k->kid, kid) != 0))
      continue;
    named = true;
    if (k->type != type)
      continue;
    if (*key == NULL)
      *key = k;
    fits++;
  }
  if (kid != NULL && *key != NULL)
    return DHIS2_OK;
  if (kid == NULL && fits == 1)
    return DHIS2_OK;
  *key = NULL;
  if (ks->n == 0) {
    say(why, whylen, "the JWKS has no key this library can use");
    return DHIS2_ERR_UNKNOWN_KEY;
  }
  if (!named) {
    say(why, whylen, "the token's key %s is not in the JWKS",
        dhis2_log_untrusted(kid));
    return DHIS2_ERR_UNKNOWN_KEY;
  }
  if (kid != NULL)
    say(why, whylen, "the token's alg %s does not fit key %s", alg,
        dhis2_log_untrusted(kid));
  else if (fits == 0)
    say(why, whylen, "the JWKS has no key for the token's alg %s", alg);
  else
    say(why, whylen, "the token names no key and the JWKS has several");
  return DHIS2_ERR_BAD_TOKEN;
}

/*
 * Turns a JWS ECDSA signature (r||s, 32 bytes each: RFC 7518 3.4) into
 * the DER that OpenSSL verifies. *der (NULL on entry) is freed with
 * OPENSSL_free(). DHIS2_ERR_BAD_TOKEN for another length.
 */
static enum dhis2_err es256_der(const unsigned char *sig, size_t siglen,
                                unsigned char **der, size_t *derlen)
{
  enum dhis2_err rc = DHIS2_ERR_BAD_TOKEN;
  ECDSA_SIG *es = NULL;
  BIGNUM *r = NULL;
  BIGNUM *s = NULL;
  int n;

  *der = NULL;
  *derlen = 0;
  if (siglen != 2 * P256_COORD_LEN)
    goto out;
  rc = DHIS2_ERR_NOMEM;
  es = ECDSA_SIG_new();
  r = BN_bin2bn(sig, P256_COORD_LEN, NULL);
  s = BN_bin2bn(sig + P256_COORD_LEN, P256_COORD_LEN, NULL);
  if (es == NULL || r == NULL || s == NULL)
    goto out;
  rc = DHIS2_ERR_INTERNAL;
  if (ECDSA_SIG_set0(es, r, s) != 1)
    goto out;
  r = s = NULL; /* transferred */
  n = i2d_ECDSA_SIG(es, der);
  if (n <= 0)
    goto out;
  *derlen = (size_t)n;
  rc = DHIS2_OK;
out:
  BN_free(r);
  BN_free(s);
  ECDSA_SIG_free(es);
  return rc;
}

/* Verifies sig over msg with key k. DHIS2_ERR_BAD_TOKEN when it fails. */
static enum dhis2_err verify_signature(const struct jwk *k, const char *msg,
                                       size_t msglen, const unsigned char *sig,
                                       size_t siglen)
{
  enum dhis2_err rc;
  unsigned char *der = NULL;
  size_t derlen = 0;
  EVP_MD_CTX *md = NULL;
  EVP_PKEY_CTX *pctx = NULL;

  if (k->type == JWK_EC) {
    rc = es256_der(sig, siglen, &der, &derlen);
    if (rc != DHIS2_OK)
      goto out;
    sig = der;
    siglen = derlen;
  } else {
    rc = DHIS2_ERR_BAD_TOKEN;
    if (siglen != (size_t)EVP_PKEY_get_size(k->pkey))
      goto out;
  }
  rc = DHIS2_ERR_NOMEM;
  md = EVP_MD_CTX_new();
  if (md == NULL)
    goto out;
  rc = DHIS2_ERR_INTERNAL;
  if (EVP_DigestVerifyInit_ex(md, &pctx, "SHA256", NULL, NULL, k->pkey,
                              NULL) != 1)
    goto out;
  if (k->type == JWK_RSA &&
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
    goto out;
  rc = DHIS2_ERR_BAD_TOKEN;
  if (EVP_DigestVerify(md, sig, siglen, (const unsigned char *)msg, msglen) !=
      1)
    goto out;
  rc = DHIS2_OK;
out:
  EVP_MD_CTX_free(md); /* frees pctx too */
  OPENSSL_free(der);
  return rc;
}

enum dhis2_err dhis2_jwt_verify(const char *token, const struct dhis2_jwks *ks,
                                const struct dhis2_jwt_expect *e,
                                struct dhis2_jwt_claims **out, char *why,
                                size_t whylen)
{
  enum dhis2_err rc = DHIS2_ERR_INVAL;
  struct jws_parts p;
  enum jwk_type type = JWK_RSA;
  char *kid = NULL;
  const struct jwk *key = NULL;
  unsigned char *sig = NULL;
  size_t siglen = 0;
  unsigned char *payload = NULL;
  size_t plen = 0;
  struct dhis2_jwt_claims *c = NULL;

  if (out != NULL)
    *out = NULL;
  say(why, whylen, "%s", "");
  ERR_set_mark();
  if (token == NULL || ks == NULL || !expect_valid(e))
    goto out;
  rc = split(token, &p);
  if (rc != DHIS2_OK) {
    say(why, whylen, "the token is not three base64url segments");
    goto out;
  }
  rc = read_header(&p, &type, &kid, why, whylen);
  if (rc != DHIS2_OK)
    goto out;
  rc = pick_key(ks, type, kid, &key, why, whylen);
  if (rc != DHIS2_OK)
    goto out;
  rc = b64url_decode(p.seg[2], p.len[2], &sig, &siglen);
  if (rc == DHIS2_ERR_MALFORMED)
    say(why, whylen, "the token's signature is not base64url");
  if (rc != DHIS2_OK)
    goto out;
  /* The signing input is the token up to the second dot. */
  rc = verify_signature(key, token, p.len[0] + 1 + p.len[1], sig, siglen);
  if (rc == DHIS2_ERR_BAD_TOKEN)
    say(why, whylen, "the token's signature does not verify with key %s",
        dhis2_log_untrusted(key->kid));
  if (rc != DHIS2_OK)
    goto out;
  rc = b64url_decode(p.seg[1], p.len[1], &payload, &plen);
  if (rc == DHIS2_OK)
    rc = claims_parse(payload, plen, &c);
  if (rc == DHIS2_ERR_MALFORMED)
    say(why, whylen, "the token's claims are not the JSON expected");
  if (rc != DHIS2_OK)
    goto out;
  rc = dhis2_jwt_check_claims(c, e, why, whylen);
  if (rc != DHIS2_OK)
    goto out;
  if (out != NULL) {
    *out = c;
    c = NULL; /* transferred */
  }
out:
  dhis2_jwt_claims_free(c);
  dhis2_secret_free_n(payload, plen + 1);
  dhis2_secret_free_n(sig, siglen + 1);
  free(kid);
  ERR_pop_to_mark();
  return rc;
}

enum dhis2_err dhis2_jwt_peek_unverified(const char *token,
                                         struct dhis2_jwt_claims **out)
{
  enum dhis2_err rc = DHIS2_ERR_INVAL;
  struct jws_parts p;
  unsigned char *payload = NULL;
  size_t plen = 0;

  if (out == NULL)
    return DHIS2_ERR_INVAL;
  *out = NULL;
  if (token == NULL)
    goto out;
  rc = split(token, &p);
  if (rc == DHIS2_OK)
    rc = b64url_decode(p.seg[1], p.len[1], &payload, &plen);
  if (rc == DHIS2_OK)
    rc = claims_parse(payload, plen, out);
out:
  dhis2_secret_free_n(payload, plen + 1);
  return rc;
}

bool dhis2_jwt_is_jws(const char *token)
{
  struct jws_parts p;
  unsigned char *buf = NULL;
  size_t len = 0;
  struct json_object *root = NULL;
  bool yes = false;

  if (token == NULL || split(token, &p) != DHIS2_OK ||
      b64url_decode(p.seg[0], p.len[0], &buf, &len) != DHIS2_OK)
    goto out;
  if (dhis2_json_parse_object((const char *)buf, len, &root) == DHIS2_OK)
    yes = string_of(member(root, "alg")) != NULL;
out:
  json_object_put(root);
  dhis2_secret_free_n(buf, len + 1);
  return yes;
}
