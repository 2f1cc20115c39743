/* JWT and JWKS verification: keys made and tokens signed here with
   OpenSSL, then every attack and claim rule of DESIGN.md 7. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "dhis2/jwt.h"

#define NOW 1700000000L
#define ISS "https://dhis2.example.org/dhis"
#define CLIENT "dhis2-auth"
#define KEYDIR_ENV "DHIS2_TEST_JWT_KEYS"

/* --- keys --------------------------------------------------------------- */

/*
 * The keys every test signs with. RSA generation takes seconds under
 * valgrind, so the runner makes them once (PRE_ALL) into a private temp
 * dir and each test process reads the PEM files back.
 */
enum key { RSA_A, RSA_B, EC_A, EC_B, EC_384, RSA_1024, N_KEYS };

static const char *const key_file[N_KEYS] = {"rsa-a.pem",  "rsa-b.pem",
                                             "ec-a.pem",   "ec-b.pem",
                                             "ec-384.pem", "rsa-1024.pem"};
static EVP_PKEY *keys[N_KEYS];

static EVP_PKEY *generate(enum key k)
{
  switch (k) {
  case RSA_A:
  case RSA_B:
    return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
  case EC_A:
  case EC_B:
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  case EC_384:
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
  default:
    return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
  }
}

static void key_path(char *buf, size_t len, const char *dir, enum key k)
{
  snprintf(buf, len, "%s/%s", dir, key_file[k]);
}

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
  const char *tmp = getenv("TMPDIR");
  char dir[2048];
  char path[4096];

  (void)set;
  snprintf(dir, sizeof(dir), "%s/test_jwt.XXXXXX", tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("test_jwt: mkdtemp");
    exit(1);
  }
  for (int k = 0; k < N_KEYS; k++) {
    EVP_PKEY *pkey = generate((enum key)k);
    FILE *f;

    key_path(path, sizeof(path), dir, (enum key)k);
    f = fopen(path, "w");
    if (pkey == NULL || f == NULL ||
        PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) != 1) {
      fprintf(stderr, "test_jwt: cannot make %s\n", path);
      exit(1);
    }
    fclose(f);
    EVP_PKEY_free(pkey);
  }
  setenv(KEYDIR_ENV, dir, 1);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
  const char *dir = getenv(KEYDIR_ENV);
  char path[4096];

  (void)stats;
  if (dir == NULL)
    return;
  for (int k = 0; k < N_KEYS; k++) {
    key_path(path, sizeof(path), dir, (enum key)k);
    unlink(path);
  }
  rmdir(dir);
}

static EVP_PKEY *key(enum key k)
{
  const char *dir = getenv(KEYDIR_ENV);
  char path[4096];
  FILE *f;

  if (keys[k] != NULL)
    return keys[k];
  cr_assert_not_null(dir, "the PRE_ALL hook made no keys");
  key_path(path, sizeof(path), dir, k);
  f = fopen(path, "r");
  cr_assert_not_null(f, "cannot open %s", path);
  keys[k] = PEM_read_PrivateKey(f, NULL, NULL, NULL);
  fclose(f);
  cr_assert_not_null(keys[k]);
  return keys[k];
}

static void free_keys(void)
{
  for (int k = 0; k < N_KEYS; k++) {
    EVP_PKEY_free(keys[k]);
    keys[k] = NULL;
  }
}

TestSuite(jws, .fini = free_keys);
TestSuite(claims, .fini = free_keys);
TestSuite(form, .fini = free_keys);
TestSuite(peek, .fini = free_keys);
TestSuite(jwks, .fini = free_keys);

/* --- encoding and JSON -------------------------------------------------- */

static char *b64url(const unsigned char *buf, size_t len)
{
  static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
                          "wxyz0123456789-_";
  char *out = malloc(len / 3 * 4 + 5);
  size_t o = 0;

  cr_assert_not_null(out);
  for (size_t i = 0; i < len; i += 3) {
    unsigned long v = (unsigned long)buf[i] << 16;
    size_t n = len - i < 3 ? len - i : 3;

    if (n > 1)
      v |= (unsigned long)buf[i + 1] << 8;
    if (n > 2)
      v |= buf[i + 2];
    for (size_t j = 0; j <= n; j++)
      out[o++] = a[(v >> (18 - 6 * j)) & 63];
  }
  out[o] = '\0';
  return out;
}

static char *b64url_str(const char *s)
{
  return b64url((const unsigned char *)s, strlen(s));
}

/* A printf into a new string. */
static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static char *fmt(const char *f, ...)
{
  va_list ap;
  char *s = NULL;
  int n;

  va_start(ap, f);
  n = vasprintf(&s, f, ap);
  va_end(ap);
  cr_assert(n >= 0);
  return s;
}

/* The big-endian bytes of BIGNUM param name of k, padded to len bytes
   (0: no padding), base64url. */
static char *bn_param(enum key k, const char *name, int len)
{
  BIGNUM *bn = NULL;
  unsigned char buf[1024];
  int n;

  cr_assert_eq(EVP_PKEY_get_bn_param(key(k), name, &bn), 1);
  n = len > 0 ? BN_bn2binpad(bn, buf, len) : BN_bn2bin(bn, buf);
  BN_free(bn);
  cr_assert(n > 0);
  return b64url(buf, (size_t)n);
}

/* The public JWK of k as JSON: kid (NULL: none), then extra members
   ("" or starting with ','). */
static char *jwk(enum key k, const char *kid, const char *extra)
{
  char *kidm = kid ? fmt("\"kid\":\"%s\",", kid) : strdup("");
  char *s;

  if (EVP_PKEY_is_a(key(k), "RSA")) {
    char *n = bn_param(k, OSSL_PKEY_PARAM_RSA_N, 0);
    char *e = bn_param(k, OSSL_PKEY_PARAM_RSA_E, 0);

    s = fmt("{%s\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"%s}", kidm, n, e,
            extra);
    free(n);
    free(e);
  } else {
    int len = k == EC_384 ? 48 : 32;
    char *x = bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, len);
    char *y = bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, len);

    s = fmt("{%s\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"%s}",
            kidm, k == EC_384 ? "P-384" : "P-256", x, y, extra);
    free(x);
    free(y);
  }
  free(kidm);
  return s;
}

/* The JWKS document of n JWKs (each freed here). */
static char *jwks_doc(int n, ...)
{
  va_list ap;
  char *doc = strdup("{\"keys\":[");

  va_start(ap, n);
  for (int i = 0; i < n; i++) {
    char *one = va_arg(ap, char *);
    char *next = fmt("%s%s%s", doc, i > 0 ? "," : "", one);

    free(doc);
    free(one);
    doc = next;
  }
  va_end(ap);
  {
    char *next = fmt("%s]}", doc);

    free(doc);
    doc = next;
  }
  return doc;
}

/* Parses doc (freed here), which must succeed. */
static struct dhis2_jwks *parse_jwks(char *doc)
{
  struct dhis2_jwks *ks = NULL;
  enum dhis2_err rc = dhis2_jwks_parse(doc, strlen(doc), &ks);

  cr_assert_eq(rc, DHIS2_OK, "%s: %s", dhis2_strerror(rc), doc);
  cr_assert_not_null(ks);
  free(doc);
  return ks;
}

/* How many keys of doc (freed here) are kept. */
static size_t kept(char *doc)
{
  struct dhis2_jwks *ks = parse_jwks(doc);
  size_t n = dhis2_jwks_count(ks);

  dhis2_jwks_free(ks);
  return n;
}

/* The usual set: RSA_A as "rsa-a" and EC_A as "ec-a". */
static struct dhis2_jwks *std_jwks(void)
{
  return parse_jwks(
      jwks_doc(2, jwk(RSA_A, "rsa-a", ",\"use\":\"sig\",\"alg\":\"RS256\""),
               jwk(EC_A, "ec-a", ",\"use\":\"sig\",\"alg\":\"ES256\"")));
}

/* --- signing ------------------------------------------------------------ */

#define FLIP_BIT 1u /* flip one bit of the signature */
#define ES_DER 2u   /* leave an ECDSA signature in DER, not r||s */

/*
 * Signs the JSON texts header and payload with k, whatever the header
 * says: an RSA key signs RSASSA-PKCS1-v1_5 SHA-256, an EC key ECDSA
 * SHA-256 as r||s. Returns the compact token (malloc'd).
 */
static char *token_ex(const char *header, const char *payload, enum key k,
                      unsigned flags)
{
  char *h = b64url_str(header);
  char *p = b64url_str(payload);
  char *input = fmt("%s.%s", h, p);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  unsigned char sig[1024];
  size_t siglen = sizeof(sig);
  char *s;
  char *tok;

  cr_assert_eq(
      EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, key(k), NULL), 1);
  cr_assert_eq(
      EVP_DigestSign(md, sig, &siglen, (unsigned char *)input, strlen(input)),
      1);
  EVP_MD_CTX_free(md);
  if (EVP_PKEY_is_a(key(k), "EC") && !(flags & ES_DER)) {
    const unsigned char *der = sig;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &der, (long)siglen);
    const BIGNUM *r;
    const BIGNUM *sv;

    cr_assert_not_null(es);
    ECDSA_SIG_get0(es, &r, &sv);
    cr_assert_eq(BN_bn2binpad(r, sig, 32), 32);
    cr_assert_eq(BN_bn2binpad(sv, sig + 32, 32), 32);
    siglen = 64;
    ECDSA_SIG_free(es);
  }
  if (flags & FLIP_BIT)
    sig[siglen / 2] ^= 0x10;
  s = b64url(sig, siglen);
  tok = fmt("%s.%s", input, s);
  free(h);
  free(p);
  free(input);
  free(s);
  return tok;
}

static char *token(const char *header, const char *payload, enum key k)
{
  return token_ex(header, payload, k, 0);
}

/* The claims of a token that passes: iss ISS, aud CLIENT, exp NOW + 300,
   then extra ("" or starting with ','). */
static char *claims_with(const char *extra)
{
  return fmt("{\"iss\":\"" ISS "\",\"sub\":\"jdoe\",\"aud\":\"" CLIENT
             "\",\"exp\":%ld,\"iat\":%ld%s}",
             NOW + 300, NOW - 10, extra);
}

/* As claims_with() with extra members from a printf format. */
static char *claims_withf(const char *f, ...)
    __attribute__((format(printf, 1, 2)));

static char *claims_withf(const char *f, ...)
{
  va_list ap;
  char *extra = NULL;
  char *s;

  va_start(ap, f);
  cr_assert(vasprintf(&extra, f, ap) >= 0);
  va_end(ap);
  s = claims_with(extra);
  free(extra);
  return s;
}

/* A well-signed token of payload with alg and kid matching k. */
static char *signed_as(enum key k, const char *payload)
{
  const char *hdr = k == RSA_A ? "{\"alg\":\"RS256\",\"kid\":\"rsa-a\"}"
                               : "{\"alg\":\"ES256\",\"kid\":\"ec-a\"}";

  return token(hdr, payload, k);
}

/* A token from RSA_A with payload (freed here). */
static char *rsa_token(char *payload)
{
  char *t = signed_as(RSA_A, payload);

  free(payload);
  return t;
}

/* The reason the last verify() gave. */
static char last_why[256];

/* True when the last reason contains s. */
static bool said(const char *s)
{
  return strstr(last_why, s) != NULL;
}

/* The error of verifying tok (freed here) with ks as ISS / CLIENT at NOW,
   nonce expected when not NULL. Checks out is set exactly on success. */
static enum dhis2_err verify_nonce(char *tok, const struct dhis2_jwks *ks,
                                   const char *nonce)
{
  struct dhis2_jwt_expect e;
  struct dhis2_jwt_claims *c = (struct dhis2_jwt_claims *)&c;
  enum dhis2_err rc;

  dhis2_jwt_expect_init(&e, ISS, CLIENT);
  e.now = NOW;
  e.nonce = nonce;
  rc = dhis2_jwt_verify(tok, ks, &e, &c, last_why, sizeof(last_why));
  if (rc == DHIS2_OK) {
    cr_assert_not_null(c);
    cr_assert_str_empty(last_why);
  } else {
    cr_assert_null(c, "claims set although verification failed");
    cr_assert_str_not_empty(last_why, "no reason given");
    if (strlen(tok) > 8)
      cr_assert_null(strstr(last_why, tok), "the reason quotes the token");
  }
  dhis2_jwt_claims_free(c);
  free(tok);
  return rc;
}

static enum dhis2_err verify(char *tok, const struct dhis2_jwks *ks)
{
  return verify_nonce(tok, ks, NULL);
}

/* Verifies a token from RSA_A with payload (freed) against the usual set. */
static enum dhis2_err verify_claims(char *payload)
{
  struct dhis2_jwks *ks = std_jwks();
  enum dhis2_err rc = verify(rsa_token(payload), ks);

  dhis2_jwks_free(ks);
  return rc;
}

/* --- signatures and algs ------------------------------------------------ */

Test(jws, rs256_signed_by_the_listed_key_verifies)
{
  struct dhis2_jwks *ks = std_jwks();
  struct dhis2_jwt_expect e;
  struct dhis2_jwt_claims *c = NULL;
  char *payload = claims_with("");
  char *tok = signed_as(RSA_A, payload);

  dhis2_jwt_expect_init(&e, ISS, CLIENT);
  e.now = NOW;
  cr_assert_eq(dhis2_jwt_verify(tok, ks, &e, &c, NULL, 0), DHIS2_OK);
  cr_assert_str_eq(c->sub, "jdoe");
  cr_assert_eq(c->exp, NOW + 300);
  dhis2_jwt_claims_free(c);
  free(tok);
  free(payload);
  dhis2_jwks_free(ks);
}

Test(jws, es256_signed_by_the_listed_key_verifies)
{
  struct dhis2_jwks *ks = std_jwks();
  char *payload = claims_with("");

  cr_assert_eq(verify(signed_as(EC_A, payload), ks), DHIS2_OK);
  free(payload);
  dhis2_jwks_free(ks);
}

Test(jws, claims_are_optional_output)
{
  struct dhis2_jwks *ks = std_jwks();
  struct dhis2_jwt_expect e;
  char *tok = rsa_token(claims_with(""));

  dhis2_jwt_expect_init(&e, ISS, CLIENT);
  e.now = NOW;
  cr_assert_eq(dhis2_jwt_verify(tok, ks, &e, NULL, NULL, 0), DHIS2_OK);
  free(tok);
  dhis2_jwks_free(ks);
}

Test(jws, rs256_signature_with_one_bit_flipped_is_refused)
{
  struct dhis2_jwks *ks = std_jwks();
  char *payload = claims_with("");
  char *tok = token_ex("{\"alg\":\"RS256\",\"kid\":\"rsa-a\"}", payload, RSA_A,
                       FLIP_BIT);

  cr_assert_eq(verify(tok, ks), DHIS2_ERR_BAD_TOKEN);
  cr_assert(said("does not verify"), "%s", last_why);
  free(payload);
  dhis2_jwks_free(ks);
}

Test(jws, es256_signature_with_one_bit_flipped_is_refused)
{
  struct dhis2_jwks *ks = std_jwks();
  char *payload = claims_with("");
  char *tok = token_ex("{\"alg\":\"ES256\",\"kid\":\"ec-a\"}", payload, EC_A,
                       FLIP_BIT);

  cr_assert_eq(verify(tok, ks), DHIS2_ERR_BAD_TOKEN);
  cr_assert(said("does not verify"), "%s", last_why);
  free(payload);
  dhis2_jwks_free(ks);
}

Test(jws, es256_signature_in_der_rather_than_r_s_is_refused)
{
  struct dhis2_jwks *ks = std_jwks();
  char *payload = claims_with("");
  char *tok =
      token_ex("{\"alg\":\"ES256\",\"kid\":\"ec-a\"}", payload, EC_A, ES_DER);

  cr_assert_eq(verify(tok, ks), DHIS2_ERR_BAD_TOKEN);
  cr_assert(said("does not verify"), "%s", last_why);
  free(payload);
  dhis2_jwks_free(ks);
}

Test(jws, a_payload_changed_after_signing_is_refused)
{
  struct dhis2_jwks *ks = std_jwks();
  char *tok = rsa_token(claims_with(""));
  char *other =
      b64url_str("{\"iss\":\"" ISS "\",\"sub\":\"root\",\"aud\":\"" CLIENT
                 "\",\"exp\":1700000300}");
  char *dot1 = strchr(tok, '.');
  char *dot2 = strchr(dot1 + 1, '.');
  char *forged;

  *dot1 = '\0';
  forged = fmt("%s.%s%s", tok, other, dot2);
  cr_assert_eq(verify(forged, ks), DHIS2_ERR_BAD_TOKEN);
  cr_assert(said("does not verify"), "%s", last_why);
  free(other);
  free(tok);
  dhis2_jwks_free(ks);
}

Test(jws, signed_by_another_key_with_the_same_kid_is_refused)
{
  struct dhis2_jwks *ks = std_jwks();
  char *payload = claims_with("");

  cr_assert_eq(
      verify(token("{\"alg\":\"RS256\",\"kid\":\"rsa-a\"}", payload, RSA_B),
             ks),
      DHIS2_ERR_BAD_TOKEN);
  cr_assert(said("does not verify"), "%s", last_why);
  cr_assert_eq(
      verify(token("{\"alg\":\"ES256\",\"kid\":\"ec-a\"}", payload, EC_B), ks),
      DHIS2_ERR_BAD_TOKEN);
  cr_assert(said("does not verify"), "%s", last_why);
  free(payload);
  dhis2_jwks_free(ks);
}

Test(jws, a_key_embedded_in_the_header_is_never_used)
{
  struct dhis2_jwks *ks = std_jwks();
  char *payload = claims_with("");
  char *own = jwk(RSA_B, "rsa-a", "");
  char *hdr = fmt("{\"alg\":\"RS256\",\"kid\":\"rsa-a\",\"jwk\":%s,"
                  "\"jku\":\"https://evil.example/jwks\"}",
                  own);

  cr_assert_eq(verify(token(hdr, payload, RSA_B), ks), DHIS2_ERR_BAD_TOKEN);
  cr_assert(said("does not verify"), "%s", last_why);
  free(hdr);
  free(own);
  free(payload);
  dhis2_jwks_free(ks);
}

Test(jws, alg_none_is_refused_with_or_without_a_signature)
{
  struct dhis2_jwks *ks = std_jwks();
  char *h = b64url_str("{\"alg\":\"none\"}");
  char *hk = b64url_str("{\"alg\":\"none\",\"kid\":\"rsa-a\"}");
  char *p = b64url_str("{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT
                       "\",\"exp\":1700000300}");
  char *valid = rsa_token(claims_with(""));
  char *sig = strrchr(valid, '.') + 1;

  cr_assert_eq(verify(fmt("%s.%s.", h, p), ks), DHIS2_ERR_BAD_TOKEN);
  cr_assert(said("is not accepted"), "%s", last_why);
  cr_assert_eq(verify(fmt("%s.%s.", hk, p), ks), DHIS2_ERR_BAD_TOKEN);
  cr_assert(said("is not accepted"), "%s", last_why);
  cr_assert_eq(verify(fmt("%s.%s.%s", hk, p, sig), ks), DHIS2_ERR_BAD_TOKEN);
  cr_assert(said("is not accepted"), "%s", last_why);
  free(h);
  h = b64url_str("{\"alg\":\"None\"}");
  cr_assert_eq(verify(fmt("%s.%s.", h, p), ks), DHIS2_ERR_BAD_TOKEN);
  cr_assert(said("is not accepted"), "%s", last_why);
  free(valid);
  free(h);
  free(hk);
  free(p);
  dhis2_jwks_free(ks);
}

/* The classic confusion: a verifier that takes the key "as a secret" for
   HS256 accepts a MAC made with the public key everyone can read. */
Test(jws, hs256_keyed_with_the_rsa_public_key_is_refused)
{
  struct dhis2_jwks *ks = std_jwks();
  BIO *bio = BIO_new(BIO_s_mem());
  char *pem;
  long pemlen;
  char *h = b64url_str("{\"alg\":\"HS256\",\"kid\":\"rsa-a\"}");
  char *payload = claims_with("");
  char *p = b64url_str(payload);
  char *input = fmt("%s.%s", h, p);
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t maclen = 0;
  char *m;

  cr_assert_eq(PEM_write_bio_PUBKEY(bio, key(RSA_A)), 1);
  pemlen = BIO_get_mem_data(bio, &pem);
  cr_assert_not_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, pem,
                               (size_t)pemlen, (unsigned char *)input,
                               strlen(input), mac, sizeof(mac), &maclen));
  m = b64url(mac, maclen);
  cr_assert_eq(verify(fmt("%s.%s", input, m), ks), DHIS2_ERR_BAD_TOKEN);
  cr_assert(said("alg HS256 is not accepted"), "%s", last_why);
  free(m);
  free(input);
  free(p);
  free(payload);
  free(h);
  BIO_free(bio);
  dhis2_jwks_free(ks);
}

Test(jws, other_algs_are_refused)
{
  static const char *const algs[] = {"HS256", "HS512", "RS384", "RS512",
                                     "PS256", "ES384", "ES512", "EdDSA",
                                     "rs256", ""};
  struct dhis2_jwks *ks = std_jwks();
  char *payload = claims_with("");

  for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
    char *hdr = fmt("{\"alg\":\"%s\",\"kid\":\"rsa-a\"}", algs[i]);

    cr_assert_eq(verify(token(hdr, payload, RSA_A), ks), DHIS2_ERR_BAD_TOKEN,
                 "alg %s", algs[i]);
    cr_assert(said("is not accepted"), "%s", last_why);
    free(hdr);
  }
  free(payload);
  dhis2_jwks_free(ks);
}

Test(jws, rs256_header_naming_an_ec_key_is_refused)
{
  struct dhis2_jwks *ks = std_jwks();
  char *payload = claims_with("");

  cr_assert_eq(
      verify(token("{\"alg\":\"RS256\",\"kid\":\"ec-a\"}", payload, RSA_A),
             ks),
      DHIS2_ERR_BAD_TOKEN);
  cr_assert(said("alg RS256 does not fit key ec-a"), "%s", last_why);
  free(payload);
  dhis2_jwks_free(ks);
}

Test(jws, es256_header_naming_an_rsa_key_is_refused)
{
  struct dhis2_jwks *ks = std_jwks();
  char *payload = claims_with("");

  cr_assert_eq(
      verify(token("{\"alg\":\"ES256\",\"kid\":\"rsa-a\"}", payload, EC_A),
             ks),
      DHIS2_ERR_BAD_TOKEN);
  cr_assert(said("alg ES256 does not fit key rsa-a"), "%s", last_why);
  free(payload);
  dhis2_jwks_free(ks);
}

Test(jws, an_unknown_kid_asks_for_a_jwks_refetch)
{
  struct dhis2_jwks *ks = std_jwks();
  char *payload = claims_with("");

  cr_assert_eq(
      verify(token("{\"alg\":\"RS256\",\"kid\":\"rotated\"}", payload, RSA_A),
             ks),
      DHIS2_ERR_UNKNOWN_KEY);
  cr_assert(said("key rotated is not in the JWKS"), "%s", last_why);
  free(payload);
  dhis2_jwks_free(ks);
}

Test(jws, an_empty_jwks_asks_for_a_refetch)
{
  struct dhis2_jwks *ks = parse_jwks(strdup("{\"keys\":[]}"));
  char *payload = claims_with("");

  cr_assert_eq(verify(signed_as(RSA_A, payload), ks), DHIS2_ERR_UNKNOWN_KEY);
  cr_assert_eq(verify(token("{\"alg\":\"RS256\"}", payload, RSA_A), ks),
               DHIS2_ERR_UNKNOWN_KEY);
  free(payload);
  dhis2_jwks_free(ks);
}

Test(jws, no_kid_and_one_key_uses_that_key)
{
  struct dhis2_jwks *ks = parse_jwks(jwks_doc(1, jwk(RSA_A, NULL, "")));
  char *payload = claims_with("");

  cr_assert_eq(verify(token("{\"alg\":\"RS256\"}", payload, RSA_A), ks),
               DHIS2_OK);
  cr_assert_eq(verify(token("{\"alg\":\"RS256\"}", payload, RSA_B), ks),
               DHIS2_ERR_BAD_TOKEN);
  free(payload);
  dhis2_jwks_free(ks);
}

Test(jws, no_kid_and_one_key_of_the_alg_type_uses_that_key)
{
  struct dhis2_jwks *ks = std_jwks();
  char *payload = claims_with("");

  cr_assert_eq(verify(token("{\"alg\":\"ES256\"}", payload, EC_A), ks),
               DHIS2_OK);
  free(payload);
  dhis2_jwks_free(ks);
}

Test(jws, no_kid_and_several_keys_of_the_type_is_refused)
{
  struct dhis2_jwks *ks = parse_jwks(
      jwks_doc(2, jwk(RSA_A, "rsa-a", ""), jwk(RSA_B, "rsa-b", "")));
  char *payload = claims_with("");

  cr_assert_eq(verify(token("{\"alg\":\"RS256\"}", payload, RSA_A), ks),
               DHIS2_ERR_BAD_TOKEN);
  cr_assert(said("several"), "%s", last_why);
  free(payload);
  dhis2_jwks_free(ks);
}

Test(jws, no_kid_and_no_key_of_the_type_is_refused)
{
  struct dhis2_jwks *ks = parse_jwks(jwks_doc(1, jwk(EC_A, "ec-a", "")));
  char *payload = claims_with("");

  cr_assert_eq(verify(token("{\"alg\":\"RS256\"}", payload, RSA_A), ks),
               DHIS2_ERR_BAD_TOKEN);
  free(payload);
  dhis2_jwks_free(ks);
}

Test(jws, the_kid_picks_among_several_keys)
{
  struct dhis2_jwks *ks =
      parse_jwks(jwks_doc(4, jwk(RSA_A, "rsa-a", ""), jwk(RSA_B, "rsa-b", ""),
                          jwk(EC_A, "ec-a", ""), jwk(EC_B, "ec-b", "")));
  char *payload = claims_with("");

  cr_assert_eq(
      verify(token("{\"alg\":\"RS256\",\"kid\":\"rsa-b\"}", payload, RSA_B),
             ks),
      DHIS2_OK);
  cr_assert_eq(
      verify(token("{\"alg\":\"ES256\",\"kid\":\"ec-b\"}", payload, EC_B), ks),
      DHIS2_OK);
  cr_assert_eq(
      verify(token("{\"alg\":\"ES256\",\"kid\":\"ec-a\"}", payload, EC_B), ks),
      DHIS2_ERR_BAD_TOKEN);
  free(payload);
  dhis2_jwks_free(ks);
}

Test(jws, a_crit_header_is_refused)
{
  struct dhis2_jwks *ks = std_jwks();
  char *payload = claims_with("");

  cr_assert_eq(verify(token("{\"alg\":\"RS256\",\"kid\":\"rsa-a\","
                            "\"crit\":[\"b64\"],\"b64\":false}",
                            payload, RSA_A),
                      ks),
               DHIS2_ERR_BAD_TOKEN);
  cr_assert(said("crit"), "%s", last_why);
  free(payload);
  dhis2_jwks_free(ks);
}

Test(jws, openssl_error_queue_is_left_as_found)
{
  struct dhis2_jwks *ks = std_jwks();
  char *payload = claims_with("");

  ERR_clear_error();
  cr_assert_eq(verify(token_ex("{\"alg\":\"RS256\",\"kid\":\"rsa-a\"}",
                               payload, RSA_A, FLIP_BIT),
                      ks),
               DHIS2_ERR_BAD_TOKEN);
  cr_assert_eq(verify(token_ex("{\"alg\":\"ES256\",\"kid\":\"ec-a\"}", payload,
                               EC_A, ES_DER | FLIP_BIT),
                      ks),
               DHIS2_ERR_BAD_TOKEN);
  cr_assert_eq(ERR_peek_error(), 0);
  free(payload);
  dhis2_jwks_free(ks);
}

Test(jws, missing_arguments_are_invalid)
{
  struct dhis2_jwks *ks = std_jwks();
  struct dhis2_jwt_expect e;
  struct dhis2_jwt_claims *c = NULL;
  char *tok = rsa_token(claims_with(""));

  dhis2_jwt_expect_init(&e, ISS, CLIENT);
  cr_assert_eq(dhis2_jwt_verify(NULL, ks, &e, &c, NULL, 0), DHIS2_ERR_INVAL);
  cr_assert_eq(dhis2_jwt_verify(tok, NULL, &e, &c, NULL, 0), DHIS2_ERR_INVAL);
  cr_assert_eq(dhis2_jwt_verify(tok, ks, NULL, &c, NULL, 0), DHIS2_ERR_INVAL);
  dhis2_jwt_expect_init(&e, NULL, CLIENT);
  cr_assert_eq(dhis2_jwt_verify(tok, ks, &e, &c, NULL, 0), DHIS2_ERR_INVAL);
  dhis2_jwt_expect_init(&e, ISS, "");
  cr_assert_eq(dhis2_jwt_verify(tok, ks, &e, &c, NULL, 0), DHIS2_ERR_INVAL);
  dhis2_jwt_expect_init(&e, ISS, CLIENT);
  e.skew = -1;
  cr_assert_eq(dhis2_jwt_verify(tok, ks, &e, &c, NULL, 0), DHIS2_ERR_INVAL);
  e.skew = DHIS2_JWT_MAX_SKEW + 1;
  cr_assert_eq(dhis2_jwt_verify(tok, ks, &e, &c, NULL, 0), DHIS2_ERR_INVAL);
  cr_assert_null(c);
  free(tok);
  dhis2_jwks_free(ks);
}

/* --- claims ------------------------------------------------------------- */

Test(claims, a_wrong_issuer_is_refused)
{
  struct dhis2_jwks *ks = std_jwks();
  char *tok = rsa_token(fmt(
      "{\"iss\":\"https://evil.example\",\"aud\":\"" CLIENT "\",\"exp\":%ld}",
      NOW + 300));

  cr_assert_eq(verify(tok, ks), DHIS2_ERR_BAD_TOKEN);
  dhis2_jwks_free(ks);
}

Test(claims, an_issuer_that_only_starts_like_ours_is_refused)
{
  cr_assert_eq(verify_claims(fmt("{\"iss\":\"" ISS "/\",\"aud\":\"" CLIENT
                                 "\",\"exp\":%ld}",
                                 NOW + 300)),
               DHIS2_ERR_BAD_TOKEN);
}

Test(claims, a_missing_issuer_is_refused)
{
  cr_assert_eq(
      verify_claims(fmt("{\"aud\":\"" CLIENT "\",\"exp\":%ld}", NOW + 300)),
      DHIS2_ERR_BAD_TOKEN);
}

Test(claims, a_wrong_audience_is_refused)
{
  cr_assert_eq(
      verify_claims(fmt("{\"iss\":\"" ISS "\",\"aud\":\"other-client\","
                        "\"exp\":%ld}",
                        NOW + 300)),
      DHIS2_ERR_BAD_TOKEN);
}

Test(claims, a_missing_audience_is_refused)
{
  cr_assert_eq(
      verify_claims(fmt("{\"iss\":\"" ISS "\",\"exp\":%ld}", NOW + 300)),
      DHIS2_ERR_BAD_TOKEN);
}

Test(claims, an_audience_array_containing_the_client_verifies)
{
  cr_assert_eq(
      verify_claims(fmt("{\"iss\":\"" ISS "\",\"aud\":[\"api\",\"" CLIENT
                        "\"],\"exp\":%ld}",
                        NOW + 300)),
      DHIS2_OK);
}

Test(claims, an_audience_array_without_the_client_is_refused)
{
  cr_assert_eq(verify_claims(fmt("{\"iss\":\"" ISS "\",\"aud\":[\"api\","
                                 "\"other\"],\"exp\":%ld}",
                                 NOW + 300)),
               DHIS2_ERR_BAD_TOKEN);
  cr_assert_eq(verify_claims(fmt(
                   "{\"iss\":\"" ISS "\",\"aud\":[],\"exp\":%ld}", NOW + 300)),
               DHIS2_ERR_BAD_TOKEN);
}

Test(claims, azp_of_another_client_is_refused)
{
  cr_assert_eq(verify_claims(claims_with(",\"azp\":\"other\"")),
               DHIS2_ERR_BAD_TOKEN);
  cr_assert_eq(verify_claims(claims_with(",\"azp\":\"" CLIENT "\"")),
               DHIS2_OK);
}

Test(claims, expired_beyond_the_skew_is_token_expired)
{
  cr_assert_eq(verify_claims(fmt("{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT
                                 "\",\"exp\":%ld}",
                                 NOW - 61)),
               DHIS2_ERR_TOKEN_EXPIRED);
  /* exp must be after now - skew: exactly there is too late. */
  cr_assert_eq(verify_claims(fmt("{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT
                                 "\",\"exp\":%ld}",
                                 NOW - 60)),
               DHIS2_ERR_TOKEN_EXPIRED);
}

Test(claims, expired_within_the_skew_is_accepted)
{
  cr_assert_eq(verify_claims(fmt("{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT
                                 "\",\"exp\":%ld}",
                                 NOW - 59)),
               DHIS2_OK);
}

Test(claims, expired_and_for_another_issuer_is_not_worth_a_refresh)
{
  cr_assert_eq(verify_claims(fmt("{\"iss\":\"https://evil.example\",\"aud\":"
                                 "\"" CLIENT "\",\"exp\":%ld}",
                                 NOW - 3600)),
               DHIS2_ERR_BAD_TOKEN);
}

Test(claims, a_token_without_exp_is_refused)
{
  cr_assert_eq(
      verify_claims(strdup("{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT "\"}")),
      DHIS2_ERR_BAD_TOKEN);
}

Test(claims, nbf_beyond_the_skew_is_refused)
{
  cr_assert_eq(verify_claims(claims_withf(",\"nbf\":%ld", NOW + 61)),
               DHIS2_ERR_BAD_TOKEN);
}

Test(claims, nbf_within_the_skew_is_accepted)
{
  cr_assert_eq(verify_claims(claims_withf(",\"nbf\":%ld", NOW + 60)),
               DHIS2_OK);
  cr_assert_eq(verify_claims(claims_withf(",\"nbf\":%ld", NOW - 100)),
               DHIS2_OK);
}

Test(claims, a_wrong_nonce_is_refused_when_one_is_expected)
{
  struct dhis2_jwks *ks = std_jwks();
  char *payload = claims_with(",\"nonce\":\"n-0S6_WzA2Mj\"");

  cr_assert_eq(verify_nonce(signed_as(RSA_A, payload), ks, "another"),
               DHIS2_ERR_BAD_TOKEN);
  cr_assert_eq(verify_nonce(signed_as(RSA_A, payload), ks, "n-0S6_WzA2Mj"),
               DHIS2_OK);
  free(payload);
  dhis2_jwks_free(ks);
}

Test(claims, a_missing_nonce_is_refused_when_one_is_expected)
{
  struct dhis2_jwks *ks = std_jwks();
  char *payload = claims_with("");

  cr_assert_eq(verify_nonce(signed_as(RSA_A, payload), ks, "n-0S6_WzA2Mj"),
               DHIS2_ERR_BAD_TOKEN);
  free(payload);
  dhis2_jwks_free(ks);
}

Test(claims, the_nonce_is_not_checked_when_none_is_expected)
{
  cr_assert_eq(verify_claims(claims_with(",\"nonce\":\"whatever\"")),
               DHIS2_OK);
}

Test(claims, every_claim_is_copied_out)
{
  struct dhis2_jwks *ks = std_jwks();
  struct dhis2_jwt_expect e;
  struct dhis2_jwt_claims *c = NULL;
  char *tok = rsa_token(fmt(
      "{\"iss\":\"" ISS "\",\"sub\":\"admin\",\"aud\":[\"" CLIENT "\",\"x\"],"
      "\"azp\":\"" CLIENT "\",\"nonce\":\"nn\",\"username\":\"admin\","
      "\"email\":\"admin@example.org\",\"scope\":[\"openid\",\"ALL\"],"
      "\"exp\":%ld,\"nbf\":%ld,\"iat\":%ld.75,\"jti\":\"j-1\",\"sid\":\"s\"}",
      NOW + 300, NOW - 5, NOW - 5));

  dhis2_jwt_expect_init(&e, ISS, CLIENT);
  e.now = NOW;
  e.nonce = "nn";
  cr_assert_eq(dhis2_jwt_verify(tok, ks, &e, &c, NULL, 0), DHIS2_OK);
  cr_assert_str_eq(c->iss, ISS);
  cr_assert_str_eq(c->sub, "admin");
  cr_assert_eq(c->n_aud, 2);
  cr_assert_str_eq(c->aud[0], CLIENT);
  cr_assert_str_eq(c->aud[1], "x");
  cr_assert_str_eq(c->azp, CLIENT);
  cr_assert_str_eq(c->nonce, "nn");
  cr_assert_str_eq(c->username, "admin");
  cr_assert_str_eq(c->email, "admin@example.org");
  cr_assert_str_eq(c->scope, "openid ALL");
  cr_assert_str_eq(c->jti, "j-1");
  cr_assert_eq(c->exp, NOW + 300);
  cr_assert_eq(c->nbf, NOW - 5);
  cr_assert_eq(c->iat, NOW - 5);
  dhis2_jwt_claims_free(c);
  free(tok);
  dhis2_jwks_free(ks);
}

Test(claims, a_scope_string_is_kept_as_is)
{
  struct dhis2_jwt_claims *c = NULL;
  char *payload = claims_with(",\"scope\":\"openid ALL\"");
  char *tok = signed_as(RSA_A, payload);

  cr_assert_eq(dhis2_jwt_peek_unverified(tok, &c), DHIS2_OK);
  cr_assert_str_eq(c->scope, "openid ALL");
  cr_assert_eq(c->n_aud, 1);
  cr_assert_eq(c->nbf, 0);
  cr_assert_null(c->email);
  dhis2_jwt_claims_free(c);
  free(tok);
  free(payload);
}

Test(claims, a_registered_claim_of_the_wrong_type_is_malformed)
{
  static const char *const bad[] = {
      ",\"exp\":\"soon\"", ",\"nbf\":-5",     ",\"iat\":true",
      ",\"sub\":42",       ",\"nonce\":null", ",\"aud\":[\"" CLIENT "\",1]",
      ",\"jti\":{}",       ",\"exp\":1e300",  ",\"azp\":[\"" CLIENT "\"]",
  };

  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_assert_eq(verify_claims(fmt("{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT
                                   "\",\"exp\":%ld%s}",
                                   NOW + 300, bad[i])),
                 DHIS2_ERR_MALFORMED, "%s", bad[i]);
}

Test(claims, an_issuer_with_a_nul_is_malformed)
{
  cr_assert_eq(verify_claims(fmt("{\"iss\":\"" ISS "\\u0000.evil\",\"aud\":"
                                 "\"" CLIENT "\",\"exp\":%ld}",
                                 NOW + 300)),
               DHIS2_ERR_MALFORMED);
}

Test(claims, other_claims_of_unexpected_types_are_ignored)
{
  cr_assert_eq(verify_claims(claims_with(",\"email\":false,\"username\":"
                                         "[1],\"scope\":7,\"extra\":{}")),
               DHIS2_OK);
}

Test(claims, expect_init_uses_the_current_time_and_a_60_s_skew)
{
  struct dhis2_jwt_expect e;
  struct dhis2_jwt_claims c = {0};
  char *aud[] = {CLIENT};

  dhis2_jwt_expect_init(&e, ISS, CLIENT);
  cr_assert_eq(e.skew, 60);
  cr_assert_eq(e.now, 0);
  cr_assert_null(e.nonce);
  c.iss = ISS;
  c.aud = aud;
  c.n_aud = 1;
  c.exp = time(NULL) + 120;
  cr_assert_eq(dhis2_jwt_check_claims(&c, &e, NULL, 0), DHIS2_OK);
  c.exp = time(NULL) - 120;
  cr_assert_eq(dhis2_jwt_check_claims(&c, &e, NULL, 0),
               DHIS2_ERR_TOKEN_EXPIRED);
  e.skew = 0;
  e.now = NOW;
  c.exp = NOW + 1;
  cr_assert_eq(dhis2_jwt_check_claims(&c, &e, NULL, 0), DHIS2_OK);
  c.exp = NOW;
  cr_assert_eq(dhis2_jwt_check_claims(&c, &e, NULL, 0),
               DHIS2_ERR_TOKEN_EXPIRED);
}

Test(claims, the_reason_names_the_issuers)
{
  struct dhis2_jwt_expect e;
  struct dhis2_jwt_claims c = {0};
  char *aud[] = {CLIENT};
  char why[200];

  dhis2_jwt_expect_init(&e, ISS, CLIENT);
  c.iss = "https://other.example\x1b[31m";
  c.aud = aud;
  c.n_aud = 1;
  c.exp = NOW + 100;
  e.now = NOW;
  cr_assert_eq(dhis2_jwt_check_claims(&c, &e, why, sizeof(why)),
               DHIS2_ERR_BAD_TOKEN);
  cr_assert_not_null(strstr(why, ISS), "%s", last_why);
  cr_assert_null(strchr(why, '\x1b'), "control characters in the reason");
  c.iss = ISS;
  cr_assert_eq(dhis2_jwt_check_claims(&c, &e, why, sizeof(why)), DHIS2_OK);
  cr_assert_str_empty(why);
}

/* --- the form of a token ------------------------------------------------ */

/* The error of verifying text (not freed) against the usual set. */
static enum dhis2_err verify_text(const char *text)
{
  struct dhis2_jwks *ks = std_jwks();
  enum dhis2_err rc = verify(strdup(text), ks);

  dhis2_jwks_free(ks);
  return rc;
}

/* A valid token with its segments separated: *h, *p, *s point into it. */
static char *valid_parts(char **h, char **p, char **s)
{
  char *tok = rsa_token(claims_with(""));

  *h = tok;
  *p = strchr(tok, '.');
  **p = '\0';
  (*p)++;
  *s = strchr(*p, '.');
  **s = '\0';
  (*s)++;
  return tok;
}

Test(form, a_valid_token_is_the_control)
{
  char *h, *p, *s;
  char *tok = valid_parts(&h, &p, &s);
  char *t = fmt("%s.%s.%s", h, p, s);

  cr_assert_eq(verify_text(t), DHIS2_OK);
  free(t);
  free(tok);
}

Test(form, two_or_four_segments_are_malformed)
{
  char *h, *p, *s;
  char *tok = valid_parts(&h, &p, &s);
  char *two = fmt("%s.%s", h, p);
  char *four = fmt("%s.%s.%s.%s", h, p, s, s);
  char *five = fmt("%s.%s.%s..", h, p, s);

  cr_assert_eq(verify_text(two), DHIS2_ERR_MALFORMED);
  cr_assert_eq(verify_text(four), DHIS2_ERR_MALFORMED);
  cr_assert_eq(verify_text(five), DHIS2_ERR_MALFORMED);
  cr_assert_eq(verify_text(""), DHIS2_ERR_MALFORMED);
  cr_assert_eq(verify_text(".."), DHIS2_ERR_MALFORMED);
  cr_assert_eq(verify_text("opaque-token-value"), DHIS2_ERR_MALFORMED);
  free(two);
  free(four);
  free(five);
  free(tok);
}

Test(form, empty_header_or_payload_is_malformed)
{
  char *h, *p, *s;
  char *tok = valid_parts(&h, &p, &s);
  char *noh = fmt(".%s.%s", p, s);
  char *nop = fmt("%s..%s", h, s);

  cr_assert_eq(verify_text(noh), DHIS2_ERR_MALFORMED);
  cr_assert_eq(verify_text(nop), DHIS2_ERR_MALFORMED);
  free(noh);
  free(nop);
  free(tok);
}

Test(form, base64_padding_is_malformed)
{
  char *h, *p, *s;
  char *tok = valid_parts(&h, &p, &s);
  /* A 2048-bit signature is 256 bytes: 342 characters, padded with two. */
  char *padded = fmt("%s.%s.%s==", h, p, s);
  char *hpad = fmt("%s=.%s.%s", h, p, s);

  cr_assert_eq(strlen(s) % 4, 2);
  cr_assert_eq(verify_text(padded), DHIS2_ERR_MALFORMED);
  cr_assert_eq(verify_text(hpad), DHIS2_ERR_MALFORMED);
  free(padded);
  free(hpad);
  free(tok);
}

Test(form, characters_outside_base64url_are_malformed)
{
  char *h, *p, *s;
  char *tok = valid_parts(&h, &p, &s);
  char *t;

  /* The standard alphabet's '+' and '/', in place of '-' and '_'. */
  t = fmt("%s.%s.+%s", h, p, s + 1);
  cr_assert_eq(verify_text(t), DHIS2_ERR_MALFORMED);
  free(t);
  t = fmt("%s.%s./%s", h, p, s + 1);
  cr_assert_eq(verify_text(t), DHIS2_ERR_MALFORMED);
  free(t);
  t = fmt("%s.%s!.%s", h, p, s);
  cr_assert_eq(verify_text(t), DHIS2_ERR_MALFORMED);
  free(t);
  t = fmt("%s.%s.%s\xc3\xa9", h, p, s);
  cr_assert_eq(verify_text(t), DHIS2_ERR_MALFORMED);
  free(t);
  free(tok);
}

Test(form, whitespace_anywhere_is_malformed)
{
  static const char *const ws[] = {" ", "\n", "\t", "\r\n"};
  char *h, *p, *s;
  char *tok = valid_parts(&h, &p, &s);

  for (size_t i = 0; i < sizeof(ws) / sizeof(ws[0]); i++) {
    char *lead = fmt("%s%s.%s.%s", ws[i], h, p, s);
    char *trail = fmt("%s.%s.%s%s", h, p, s, ws[i]);
    char *inner = fmt("%s.%s%s.%s", h, ws[i], p, s);

    cr_assert_eq(verify_text(lead), DHIS2_ERR_MALFORMED);
    cr_assert_eq(verify_text(trail), DHIS2_ERR_MALFORMED);
    cr_assert_eq(verify_text(inner), DHIS2_ERR_MALFORMED);
    free(lead);
    free(trail);
    free(inner);
  }
  free(tok);
}

Test(form, an_impossible_base64_length_or_stray_bits_are_malformed)
{
  static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
                          "wxyz0123456789-_";
  char *h, *p, *s;
  char *tok = valid_parts(&h, &p, &s);
  size_t n = strlen(s);
  size_t v;
  char *t;

  /* A 2048-bit signature is 342 characters; 4k + 1 encode nothing. */
  cr_assert_eq(n % 4, 2);
  t = fmt("%s.%s.%sAAA", h, p, s);
  cr_assert_eq(verify_text(t), DHIS2_ERR_MALFORMED);
  free(t);
  /* The last of 4k + 2 characters carries 4 unused bits: a non-zero one
     is a second spelling of the same bytes. */
  v = (size_t)(strchr(a, s[n - 1]) - a);
  cr_assert_eq(v & 15, 0);
  t = fmt("%s.%s.%.*s%c", h, p, (int)(n - 1), s, a[v | 1]);
  cr_assert_eq(verify_text(t), DHIS2_ERR_MALFORMED);
  free(t);
  free(tok);
}

Test(form, a_header_that_is_not_a_json_object_is_malformed)
{
  static const char *const hdrs[] = {
      "not json",
      "[\"RS256\"]",
      "\"RS256\"",
      "{\"alg\":\"RS256\",\"kid\":\"rsa-a\"",
      "{\"alg\":\"RS256\",\"kid\":\"rsa-a\"}x",
      "{'alg':'RS256','kid':'rsa-a'}",
      "{\"alg\":\"RS256\",\"kid\":\"rsa-a\",}",
      "{\"kid\":\"rsa-a\"}",
      "{\"alg\":256,\"kid\":\"rsa-a\"}",
      "{\"alg\":\"RS256\",\"kid\":7}",
  };
  char *payload = claims_with("");

  for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
    char *t = token(hdrs[i], payload, RSA_A);

    cr_assert_eq(verify_text(t), DHIS2_ERR_MALFORMED, "%s", hdrs[i]);
    free(t);
  }
  free(payload);
}

Test(form, a_header_with_a_nul_byte_is_malformed)
{
  unsigned char raw[] = "{\"alg\":\"RS256\"}\0{\"alg\":\"none\"}";
  char *h = b64url(raw, sizeof(raw) - 1);
  char *p = b64url_str("{}");
  char *t = fmt("%s.%s.AAAA", h, p);

  cr_assert_eq(verify_text(t), DHIS2_ERR_MALFORMED);
  free(t);
  free(p);
  free(h);
}

Test(form, a_signed_payload_that_is_not_json_is_malformed)
{
  struct dhis2_jwks *ks = std_jwks();

  cr_assert_eq(verify(signed_as(RSA_A, "not json"), ks), DHIS2_ERR_MALFORMED);
  cr_assert_eq(verify(signed_as(RSA_A, "[1,2]"), ks), DHIS2_ERR_MALFORMED);
  dhis2_jwks_free(ks);
}

Test(form, a_large_token_verifies_and_one_over_16_kib_is_malformed)
{
  struct dhis2_jwks *ks = std_jwks();
  char pad[11000];
  char *payload;
  char *tok;

  memset(pad, 'a', sizeof(pad) - 1);
  pad[sizeof(pad) - 1] = '\0';
  payload = claims_withf(",\"pad\":\"%s\"", pad);
  tok = signed_as(RSA_A, payload);
  cr_assert_lt(strlen(tok), DHIS2_JWT_MAX_LEN);
  cr_assert_eq(verify(tok, ks), DHIS2_OK);
  free(payload);
  payload = claims_withf(",\"pad\":\"%s%s\"", pad, pad);
  tok = signed_as(RSA_A, payload);
  cr_assert_gt(strlen(tok), DHIS2_JWT_MAX_LEN);
  cr_assert_eq(verify(tok, ks), DHIS2_ERR_MALFORMED);
  free(payload);
  dhis2_jwks_free(ks);
}

Test(form, a_huge_input_is_refused_without_reading_it_all)
{
  size_t n = 1024 * 1024;
  char *big = malloc(n + 1);

  cr_assert_not_null(big);
  memset(big, 'A', n);
  big[100] = '.';
  big[200] = '.';
  big[n] = '\0';
  cr_assert_eq(verify_text(big), DHIS2_ERR_MALFORMED);
  free(big);
}

/* --- reading without verifying ------------------------------------------ */

Test(peek, claims_are_read_without_any_check)
{
  struct dhis2_jwt_claims *c = NULL;
  char *payload = fmt("{\"iss\":\"https://anyone.example\",\"sub\":\"admin\","
                      "\"exp\":%ld}",
                      NOW - 3600);
  char *tok = token_ex("{\"alg\":\"none\"}", payload, RSA_B, FLIP_BIT);

  cr_assert_eq(dhis2_jwt_peek_unverified(tok, &c), DHIS2_OK);
  cr_assert_str_eq(c->iss, "https://anyone.example");
  cr_assert_str_eq(c->sub, "admin");
  cr_assert_eq(c->exp, NOW - 3600);
  cr_assert_eq(c->n_aud, 0);
  dhis2_jwt_claims_free(c);
  free(tok);
  free(payload);
}

Test(peek, a_malformed_token_is_refused)
{
  struct dhis2_jwt_claims *c = (struct dhis2_jwt_claims *)&c;
  char *p = b64url_str("{\"exp\":\"x\"}");
  char *t = fmt("e30.%s.", p);

  cr_assert_eq(dhis2_jwt_peek_unverified("a.b", &c), DHIS2_ERR_MALFORMED);
  cr_assert_null(c);
  cr_assert_eq(dhis2_jwt_peek_unverified("e30.bm90IGpzb24.", &c),
               DHIS2_ERR_MALFORMED);
  cr_assert_eq(dhis2_jwt_peek_unverified(t, &c), DHIS2_ERR_MALFORMED);
  cr_assert_eq(dhis2_jwt_peek_unverified(NULL, &c), DHIS2_ERR_INVAL);
  cr_assert_null(c);
  free(t);
  free(p);
}

Test(peek, only_jws_shaped_tokens_look_like_jws)
{
  char *payload = claims_with("");
  char *tok = signed_as(EC_A, payload);

  cr_assert(dhis2_jwt_is_jws(tok));
  cr_assert_not(dhis2_jwt_is_jws("d2pat_abcdefghijklmnopqrstuvwxyz0123456789"
                                 "ABCDEFGH"));
  cr_assert_not(dhis2_jwt_is_jws("8b3a1c2e-6f1d-4a5e-9c8b-7d6e5f4a3b2c"));
  cr_assert_not(dhis2_jwt_is_jws("bm90IGpzb24.e30.AAAA"));
  cr_assert_not(dhis2_jwt_is_jws("e30.e30.AAAA"));
  cr_assert_not(dhis2_jwt_is_jws(NULL));
  free(tok);
  free(payload);
}

/* --- JWKS --------------------------------------------------------------- */

Test(jwks, rsa_and_p256_signing_keys_are_kept)
{
  cr_assert_eq(kept(jwks_doc(4, jwk(RSA_A, "a", ",\"use\":\"sig\""),
                             jwk(RSA_B, NULL, ",\"alg\":\"RS256\""),
                             jwk(EC_A, "c", ",\"key_ops\":[\"verify\"]"),
                             jwk(EC_B, "d", ""))),
               4);
}

Test(jwks, encryption_keys_are_skipped)
{
  cr_assert_eq(kept(jwks_doc(3, jwk(RSA_A, "a", ",\"use\":\"enc\""),
                             jwk(EC_A, "b", ",\"use\":\"enc\""),
                             jwk(RSA_B, "c", ",\"use\":\"sig\""))),
               1);
  cr_assert_eq(kept(jwks_doc(2, jwk(RSA_A, "a", ",\"key_ops\":[\"encrypt\"]"),
                             jwk(EC_A, "b", ",\"use\":1"))),
               0);
}

Test(jwks, unknown_key_types_are_skipped)
{
  cr_assert_eq(
      kept(strdup("{\"keys\":["
                  "{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"c2VjcmV0\"},"
                  "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS"
                  "_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"},"
                  "{\"kty\":\"rsa\",\"n\":\"AQAB\",\"e\":\"AQAB\"},"
                  "{\"n\":\"AQAB\",\"e\":\"AQAB\"},"
                  "\"not an object\",42]}")),
      0);
}

Test(jwks, ec_keys_on_other_curves_are_skipped)
{
  char *k256 = jwk(EC_A, "relabelled", "");
  char *crv = strstr(k256, "P-256");

  memcpy(crv, "P-384", 5);
  cr_assert_eq(kept(jwks_doc(2, jwk(EC_384, "p384", ""), k256)), 0);
  cr_assert_eq(kept(jwks_doc(1, jwk(EC_384, "p384", ",\"alg\":\"ES256\""))),
               0);
}

Test(jwks, keys_for_other_algs_are_skipped)
{
  cr_assert_eq(kept(jwks_doc(4, jwk(RSA_A, "a", ",\"alg\":\"PS256\""),
                             jwk(RSA_B, "b", ",\"alg\":\"RS384\""),
                             jwk(EC_A, "c", ",\"alg\":\"ES384\""),
                             jwk(EC_B, "d", ",\"alg\":\"RS256\""))),
               0);
}

Test(jwks, rsa_keys_under_2048_bits_are_skipped)
{
  cr_assert_eq(kept(jwks_doc(1, jwk(RSA_1024, "weak", ""))), 0);
}

Test(jwks, an_ec_point_off_the_curve_is_skipped)
{
  char *k = jwk(EC_A, "bent", "");
  char *y = strstr(k, "\"y\":\"") + 5;

  y[10] = y[10] == 'A' ? 'B' : 'A';
  cr_assert_eq(kept(jwks_doc(1, k)), 0);
}

Test(jwks, keys_with_members_missing_or_not_decoding_are_skipped)
{
  cr_assert_eq(kept(strdup("{\"keys\":["
                           "{\"kty\":\"RSA\",\"e\":\"AQAB\"},"
                           "{\"kty\":\"RSA\",\"n\":\"!!!\",\"e\":\"AQAB\"},"
                           "{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"\"},"
                           "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AQAB\"},"
                           "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AQAB\","
                           "\"y\":\"AQAB\"}]}")),
               0);
}

Test(jwks, a_key_with_a_kid_that_is_not_a_string_is_skipped)
{
  char *k = jwk(RSA_A, NULL, ",\"kid\":5");

  cr_assert_eq(kept(jwks_doc(2, k, jwk(EC_A, "ok", ""))), 1);
}

Test(jwks, an_empty_set_parses_with_no_keys)
{
  cr_assert_eq(kept(strdup("{\"keys\":[]}")), 0);
  cr_assert_eq(dhis2_jwks_count(NULL), 0);
}

Test(jwks, documents_that_are_not_a_key_set_are_malformed)
{
  static const char *const docs[] = {
      "",
      "not json",
      "[]",
      "{}",
      "{\"keys\":{}}",
      "{\"keys\":\"x\"}",
      "{\"keys\":[]",
      "{\"keys\":[]} trailing",
  };

  for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
    struct dhis2_jwks *ks = (struct dhis2_jwks *)&ks;

    cr_assert_eq(dhis2_jwks_parse(docs[i], strlen(docs[i]), &ks),
                 DHIS2_ERR_MALFORMED, "%s", docs[i]);
    cr_assert_null(ks);
  }
}

Test(jwks, a_document_over_1_mib_is_malformed)
{
  size_t n = DHIS2_JWKS_MAX_LEN + 1;
  char *doc = malloc(n);
  struct dhis2_jwks *ks = NULL;

  cr_assert_not_null(doc);
  memset(doc, ' ', n);
  memcpy(doc, "{\"keys\":[]}", 11);
  cr_assert_eq(dhis2_jwks_parse(doc, n, &ks), DHIS2_ERR_MALFORMED);
  cr_assert_null(ks);
  free(doc);
}

Test(jwks, a_document_need_not_end_in_nul)
{
  char *doc = jwks_doc(1, jwk(EC_A, "ec-a", ""));
  size_t len = strlen(doc);
  char *copy = malloc(len);
  struct dhis2_jwks *ks = NULL;

  memcpy(copy, doc, len);
  cr_assert_eq(dhis2_jwks_parse(copy, len, &ks), DHIS2_OK);
  cr_assert_eq(dhis2_jwks_count(ks), 1);
  dhis2_jwks_free(ks);
  free(copy);
  free(doc);
}
