/* libFuzzer target: a JWKS document (dhis2_jwks_parse()), then a fixed
   ES256 token (kid "ec-1", made by mkjwt.py) verified against what it
   kept: only the seed's own key may let it pass. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dhis2/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char token[] =
    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImVjLTEiLCJ0eXAiOiJKV1QifQ.eyJpc3MiO"
    "iJodHRwczovLzEyNy4wLjAuMTo4NDQzIiwic3ViIjoiYWRtaW4iLCJhdWQiOiJka"
    "GlzMi1hdXRoIiwiYXpwIjoiZGhpczItYXV0aCIsIm5vbmNlIjoibi0wUzZfV3pBM"
    "k1qIiwidXNlcm5hbWUiOiJhZG1pbiIsInNjb3BlIjoib3BlbmlkIHVzZXJuYW1lI"
    "iwiaWF0IjoxNzY3MjI1NTkwLCJuYmYiOjE3NjcyMjU1OTAsImV4cCI6MTc2NzIyO"
    "TIwMCwianRpIjoiajEifQ.elvI9xTTB_HMAE8L7K9OCcFqY_HQIjJBBSWn-Es2bu"
    "JC7KXc-eQoavHPfqwB46U_eEkZwiD1Wr62zQBc4qCckA";

static void expect(struct dhis2_jwt_expect *e)
{
  dhis2_jwt_expect_init(e, "https://127.0.0.1:8443", "dhis2-auth");
  e->nonce = "n-0S6_WzA2Mj";
  e->now = 1767225600; /* the seeds' tokens are valid then */
  e->skew = 60;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct dhis2_jwks *ks = NULL;
  struct dhis2_jwt_expect e;
  char why[512];

  if (dhis2_jwks_parse((const char *)data, size, &ks) != DHIS2_OK)
    return 0;
  expect(&e);
  (void)dhis2_jwt_verify(token, ks, &e, NULL, why, sizeof(why));
  dhis2_jwks_free(ks);
  return 0;
}
