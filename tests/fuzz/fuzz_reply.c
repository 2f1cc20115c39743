/* libFuzzer target: the reply table. The first two bytes pick an HTTP
   status (100 to 599), the rest is the body for dhis2_reply_to_err() and,
   as a string, the loginStatus for dhis2_login_status_to_err(). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dhis2/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  long status;
  char *s;

  if (size < 2)
    return 0;
  status = 100 + ((data[0] << 8 | data[1]) % 500);
  data += 2;
  size -= 2;
  (void)dhis2_reply_to_err(status, (const char *)data, size);
  (void)dhis2_reply_to_err(status, NULL, 0);
  s = malloc(size + 1);
  if (s == NULL)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  (void)dhis2_login_status_to_err(s, false);
  (void)dhis2_login_status_to_err(s, true);
  free(s);
  return 0;
}
