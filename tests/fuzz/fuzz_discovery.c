/* libFuzzer target: an OpenID discovery document as dhis2-auth reads it
   (dhis2_oauth2_discovery_parse()), for DHIS2's own server and for an
   external issuer. */
#include <stdint.h>
#include <stdlib.h>

#include "dhis2/config.h"
#include "oauth2_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dhis2_config *config(const char *const *argv, int argc)
{
  struct dhis2_config_opts o = {.system_path = "/nonexistent/pam_dhis2.conf",
                                .argc = argc,
                                .argv = argv};
  struct dhis2_config *cfg = NULL;

  if (dhis2_config_load(&o, &cfg, NULL, 0) != DHIS2_OK)
    abort();
  return cfg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char *const own[] = {"url=https://127.0.0.1:8443",
                                    "oauth2=dhis2"};
  static const char *const idp[] = {
      "url=https://127.0.0.1:8443", "oauth2=oidc",
      "issuer=https://127.0.0.1:9443/realms/d", "client_id=dhis2-auth"};
  static struct dhis2_config *cfg[2];
  struct dhis2_oauth2_endpoints ep;
  char why[512];

  if (cfg[0] == NULL) {
    cfg[0] = config(own, 2);
    cfg[1] = config(idp, 4);
  }
  for (int i = 0; i < 2; i++) {
    if (dhis2_oauth2_discovery_parse(
            cfg[i], "https://127.0.0.1/.well-known/openid-configuration",
            (const char *)data, size, &ep, why, sizeof(why)) == DHIS2_OK &&
        (ep.issuer == NULL || ep.token == NULL || ep.jwks == NULL))
      abort();
    dhis2_oauth2_endpoints_clear(&ep);
  }
  return 0;
}
