/* The PAM conversation: the secret, the verification code, messages. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <security/pam_ext.h>

#include "dhis2/secret.h"
#include "module.h"

int conv_get_secret(struct module *m, const char *prompt, char **out)
{
  const void *item = NULL;
  char *typed = NULL;
  int rc;

  *out = NULL;
  if (m->cfg->use_first_pass || m->cfg->try_first_pass) {
    rc = pam_get_item(m->pamh, PAM_AUTHTOK, &item);
    if (rc == PAM_SUCCESS && item != NULL) {
      *out = dhis2_secret_dup(item);
      return *out != NULL ? PAM_SUCCESS : PAM_BUF_ERR;
    }
    if (m->cfg->use_first_pass) {
      dhis2_debug(&m->log, "use_first_pass: no password from an earlier "
                           "module");
      return PAM_AUTH_ERR;
    }
  }
  rc = pam_prompt(m->pamh, PAM_PROMPT_ECHO_OFF, &typed, "%s", prompt);
  if (rc != PAM_SUCCESS)
    return rc == PAM_CONV_AGAIN ? PAM_INCOMPLETE : rc;
  if (typed == NULL)
    return PAM_CONV_ERR;
  /* Hand it on to the modules after us, as pam_unix does. */
  rc = pam_set_item(m->pamh, PAM_AUTHTOK, typed);
  if (rc != PAM_SUCCESS) {
    dhis2_secret_free(typed);
    return rc;
  }
  *out = typed; /* transferred */
  return PAM_SUCCESS;
}

int conv_get_code(struct module *m, char **out)
{
  char *typed = NULL;
  int rc;

  *out = NULL;
  rc = pam_prompt(m->pamh, PAM_PROMPT_ECHO_ON, &typed,
                  "DHIS2 verification code: ");
  if (rc != PAM_SUCCESS)
    return rc == PAM_CONV_AGAIN ? PAM_INCOMPLETE : rc;
  if (typed == NULL)
    return PAM_CONV_ERR;
  *out = typed;
  return PAM_SUCCESS;
}

void conv_error(struct module *m, const char *fmt, ...)
{
  char msg[512];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  pam_error(m->pamh, "%s", msg);
}
