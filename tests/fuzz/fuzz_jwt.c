/* libFuzzer target: a compact JWS as the module and dhis2-auth read it:
   dhis2_jwt_is_jws(), dhis2_jwt_peek_unverified() and its claims checked,
   and dhis2_jwt_verify() against a fixed JWKS (an RSA and a P-256 key,
   made by mkjwt.py, which also signed the seeds). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dhis2/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char jwks_doc[] =
    "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"rsa-1\",\"use\":\"sig\",\"alg\":"
    "\"RS256\",\"n"
    "\":\"j-Gm_YnxD01LP3_ViMwlhybMAlHavA7cDTBr35a7PpELVlSyMpLEDXP7rOLWw"
    "T3jVaKvjLj5hQMUm0FweG29f77B8ymgwN1yMv3-YQPI6lzyRHPr0wfK4cAz3uQfi"
    "XQwRxykA-3b0MiXyn3w-VaR7sVQ8hDKupCJBE16iQEzBxKl_HJUbtHTnmxgQmVkT"
    "UPwzlDOOiJUpZef8sAOUh6GYeQ5KhBtbkWAwkxzNAVAv-3nVJEku5sUrvNwJcGs1"
    "2P3EzhaEbQIZ-qhrmv_iyVQ-Enpt5DrTGzv0-XolJj2AFrX0fBCUzDMlqpnsbl6K"
    "E3OaO1nlCDRwD0yzZAjx4NLDQ\",\"e\":\"AQAB\"},{\"kty\":\"EC\",\"kid\":\"ec-"
    "1\","
    "\"use\":\"sig\",\"alg\":\"ES256\",\"crv\":\"P-256\",\"x\":\"32W9DkdsqK_"
    "hqyuC2al"
    "fhr0FjRj0kY9YfKK1ceh5-hw\",\"y\":\"PbwFzfcdaj3HhSAztVxsKu46sFKOwg2Fq"
    "jVxVeqknrg\"}]}";

static void expect(struct dhis2_jwt_expect *e)
{
  dhis2_jwt_expect_init(e, "https://127.0.0.1:8443", "dhis2-auth");
  e->nonce = "n-0S6_WzA2Mj";
  e->now = 1767225600; /* the seeds' tokens are valid then */
  e->skew = 60;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct dhis2_jwks *ks;
  struct dhis2_jwt_claims *c = NULL;
  struct dhis2_jwt_expect e;
  char why[512];
  char *token;

  if (ks == NULL &&
      (dhis2_jwks_parse(jwks_doc, strlen(jwks_doc), &ks) != DHIS2_OK ||
       dhis2_jwks_count(ks) != 2))
    abort();
  token = malloc(size + 1);
  if (token == NULL)
    return 0;
  memcpy(token, data, size);
  token[size] = '\0';
  expect(&e);
  (void)dhis2_jwt_is_jws(token);
  if (dhis2_jwt_peek_unverified(token, &c) == DHIS2_OK)
    (void)dhis2_jwt_check_claims(c, &e, why, sizeof(why));
  dhis2_jwt_claims_free(c);
  c = NULL;
  if (dhis2_jwt_verify(token, ks, &e, &c, why, sizeof(why)) == DHIS2_OK &&
      c == NULL)
    abort();
  dhis2_jwt_claims_free(c);
  free(token);
  return 0;
}
