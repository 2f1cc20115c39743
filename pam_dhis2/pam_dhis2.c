/* pam_dhis2.so: the PAM entry points, each a thin shell over the core. */
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "module.h"

DHIS2_EXPORT int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
                                     const char **argv)
{
  struct module m;
  int rc;

  (void)flags;
  rc = module_open(&m, pamh, argc, argv);
  if (rc == PAM_SUCCESS)
    rc = module_authenticate(&m);
  module_close(&m);
  return rc;
}

DHIS2_EXPORT int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc,
                                const char **argv)
{
  (void)pamh;
  (void)flags;
  (void)argc;
  (void)argv;
  return PAM_SUCCESS;
}

DHIS2_EXPORT int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc,
                                  const char **argv)
{
  struct module m;
  const void *data = NULL;
  int rc;

  (void)flags;
  rc = module_open(&m, pamh, argc, argv);
  if (rc == PAM_SUCCESS)
    rc = module_account(&m);
  else if (pam_get_data(pamh, DHIS2_PAM_IDENTITY, &data) != PAM_SUCCESS ||
           data == NULL)
    rc = PAM_IGNORE; /* not ours to judge; break-glass keys keep working */
  module_close(&m);
  return rc;
}

DHIS2_EXPORT int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc,
                                     const char **argv)
{
  struct module m;
  const void *data = NULL;
  int rc;

  (void)flags;
  if (pam_get_data(pamh, DHIS2_PAM_IDENTITY, &data) != PAM_SUCCESS ||
      data == NULL)
    return PAM_IGNORE;
  rc = module_open(&m, pamh, argc, argv);
  if (rc == PAM_SUCCESS)
    rc = module_export_env(&m, data);
  module_close(&m);
  return rc;
}

DHIS2_EXPORT int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc,
                                      const char **argv)
{
  (void)pamh;
  (void)flags;
  (void)argc;
  (void)argv;
  return PAM_SUCCESS;
}
