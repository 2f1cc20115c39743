/* libFuzzer target: a device authorization reply (RFC 8628 3.2) as
   dhis2-auth and pam_dhis2 read it (dhis2_oauth2_device_parse()). */
#include <stdint.h>
#include <stdlib.h>

#include "oauth2_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct dhis2_device d;
  char why[256];

  if (dhis2_oauth2_device_parse((const char *)data, size, &d, why,
                                sizeof(why)) != DHIS2_OK) {
    if (d.device_code != NULL || d.user_code != NULL || why[0] == '\0')
      abort();
    return 0;
  }
  if (d.device_code == NULL || d.user_code == NULL ||
      d.verification_uri == NULL || d.expires_in <= 0 || d.interval <= 0)
    abort();
  /* What reaches a terminal or a PAM prompt is printable ASCII. */
  for (const char *s = d.user_code; *s; s++)
    if (*s < 0x20 || *s > 0x7e)
      abort();
  for (const char *s = d.verification_uri; *s; s++)
    if (*s <= 0x20 || *s > 0x7e)
      abort();
  dhis2_device_clear(&d);
  return 0;
}
