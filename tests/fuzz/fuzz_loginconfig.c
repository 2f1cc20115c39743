/* libFuzzer target: a /api/loginConfig body, read for the release by
   dhis2-auth (dhis2_oauth2_release_parse(), then the scope it picks) and
   by the module (dhis2_api_login_config_parse(), then the /api/me
   sharing rule it picks). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "dhis2/oauth2.h"
#include "oauth2_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the module keeps: digits, letters, '.' and '-', shorter than len. */
static void check_release(const char *release, size_t len)
{
  if (strlen(release) >= len ||
      strspn(release, "0123456789.-abcdefghijklmnopqrstuvwxyz"
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(release))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *body = (const char *)data;
  char *release = NULL;
  char kept[DHIS2_RELEASE_MAX];
  char tiny[4];
  enum dhis2_server_kind kind;

  if (dhis2_oauth2_release_parse(body, size, &release) == DHIS2_OK) {
    if (release == NULL)
      abort();
    (void)dhis2_oauth2_dhis2_scope_for(release);
    free(release);
  } else if (release != NULL) {
    abort();
  }
  if (dhis2_api_login_config_parse(body, size, &kind, kept, sizeof(kept)) !=
      DHIS2_OK)
    return 0;
  check_release(kept, sizeof(kept));
  if (kind == DHIS2_SERVER_BASIC_ONLY && kept[0] != '\0')
    abort();
  (void)dhis2_release_me_acl(kept);
  if (dhis2_api_login_config_parse(body, size, &kind, tiny, sizeof(tiny)) ==
      DHIS2_OK)
    check_release(tiny, sizeof(tiny));
  return 0;
}
