/* Per-call set-up of the module: configuration, logging, PAM codes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <security/pam_ext.h>

#include "dhis2/secret.h"
#include "module.h"

static void syslog_sink(void *ctx, int prio, const char *fmt, va_list ap)
{
  pam_vsyslog((pam_handle_t *)ctx, prio, fmt, ap);
}

int module_open(struct module *m, pam_handle_t *pamh, int argc,
                const char **argv)
{
  struct dhis2_config_opts opts = {.argc = argc, .argv = argv};
  char err[512] = "";
  enum dhis2_err rc;

  memset(m, 0, sizeof(*m));
  m->pamh = pamh;
  m->log.sink = syslog_sink;
  m->log.ctx = pamh;
  rc = dhis2_config_load(&opts, &m->cfg, err, sizeof(err));
  if (rc != DHIS2_OK) {
    pam_syslog(pamh, LOG_ERR, "configuration: %s",
               err[0] ? err : dhis2_strerror(rc));
    return PAM_AUTHINFO_UNAVAIL;
  }
  m->log.debug = m->cfg->debug;
  return PAM_SUCCESS;
}

void module_close(struct module *m)
{
  dhis2_config_free(m->cfg);
  m->cfg = NULL;
  free(m->host_path);
  m->host_path = NULL;
}

int dhis2_err_to_pam(enum dhis2_err err)
{
  switch (err) {
  case DHIS2_OK:
    return PAM_SUCCESS;
  case DHIS2_ERR_NOMEM:
    return PAM_BUF_ERR;
  case DHIS2_ERR_INVAL:
    return PAM_USER_UNKNOWN; /* only a name can be refused as input */
  default:
    break;
  }
  switch (dhis2_err_class(err)) {
  case DHIS2_CLASS_REJECTED:
  case DHIS2_CLASS_ACCOUNT:
  case DHIS2_CLASS_NEEDS_CODE:
    return PAM_AUTH_ERR;
  case DHIS2_CLASS_OK:
    return PAM_SUCCESS;
  case DHIS2_CLASS_LOCAL:
  case DHIS2_CLASS_UNAVAILABLE:
  case DHIS2_CLASS_WAIT:
    break;
  }
  return PAM_AUTHINFO_UNAVAIL;
}
