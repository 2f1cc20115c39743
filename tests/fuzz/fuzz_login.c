/* libFuzzer target: a /api/auth/login reply and its verdict
   (dhis2_api_login_reply()). The first two bytes pick an HTTP status (100
   to 599), the third whether a code was sent (bit 0) and a cookie came
   (bit 1); the rest is the body. */
#include <stdint.h>
#include <stdlib.h>

#include "api_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct dhis2_http_resp r = {0};
  char cookie[] = "JSESSIONID=0123456789ABCDEF0123456789ABCDEF";
  bool code_sent;
  enum dhis2_err rc;

  if (size < 3)
    return 0;
  r.status = 100 + ((data[0] << 8 | data[1]) % 500);
  code_sent = data[2] & 1;
  r.cookies = data[2] & 2 ? cookie : NULL;
  r.body = (char *)data + 3;
  r.body_len = size - 3;
  rc = dhis2_api_login_reply(&r, code_sent);
  /* Signed in only with a 2xx and a session to show for it. */
  if (rc == DHIS2_OK &&
      (r.cookies == NULL || r.status < 200 || r.status >= 300))
    abort();
  if (r.status == 403 && rc != DHIS2_ERR_HTTP)
    abort();
  return 0;
}
