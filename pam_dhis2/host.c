/* The path of this host's organisation unit (host_orgunit), read from
   DHIS2 once and kept in state_dir. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dhis2/secret.h"
#include "module.h"

/* How long a kept path is used before DHIS2 is asked again: units move
   seldom, but they do. */
#define HOST_PATH_MAX_AGE (24 * 3600)
#define HOST_PATH_MAX 4096

/* The kept path, and when it was read; false when there is none. */
static bool kept(struct module *m, const char *key, char **path, time_t *at)
{
  char *buf = NULL;
  size_t len = 0;
  long long t = 0;
  int used = 0;

  if (!state_cache_get(m, "orgunit", key, HOST_PATH_MAX + 32, &buf, &len))
    return false;
  if (sscanf(buf, "%lld %n", &t, &used) != 1 || used <= 0 ||
      buf[used] != '/' || strchr(buf + used, '\n') == NULL) {
    free(buf);
    return false;
  }
  buf[strcspn(buf, "\n")] = '\0';
  *path = strdup(buf + used);
  *at = (time_t)t;
  free(buf);
  return *path != NULL;
}

void host_path_fetch(struct module *m, struct dhis2_client *c,
                     enum dhis2_auth auth, const char *user,
                     const char *secret)
{
  const char *uid = m->cfg->host_orgunit;
  char key[1024];
  char *path = NULL;
  char *line = NULL;
  time_t at = 0;
  time_t now = time(NULL);
  enum dhis2_err rc;

  if (uid == NULL || m->host_path != NULL)
    return;
  snprintf(key, sizeof(key), "%s\n%s", m->cfg->url, uid);
  if (kept(m, key, &path, &at)) {
    /* Fresh enough, or the best there is when DHIS2 is not asked. */
    if (c == NULL || (now >= at && now - at < HOST_PATH_MAX_AGE)) {
      m->host_path = path;
      return;
    }
  }
  if (c == NULL) {
    dhis2_log(&m->log, LOG_NOTICE,
              "host_orgunit %s: its path was never read from DHIS2", uid);
    return;
  }
  free(path);
  path = NULL;
  rc = dhis2_api_orgunit_path(c, auth, user, secret, uid, &path);
  if (rc != DHIS2_OK) {
    dhis2_log(&m->log, LOG_ERR,
              "host_orgunit %s: its path could not be read: %s%s", uid,
              dhis2_strerror(rc),
              rc == DHIS2_ERR_UNSUPPORTED
                  ? " (no such unit, or the user may not read it)"
                  : "");
    return;
  }
  if (asprintf(&line, "%lld %s\n", (long long)now, path) > 0) {
    state_cache_put(m, "orgunit", key, line, strlen(line));
    free(line);
  }
  dhis2_debug(&m->log, "host_orgunit %s is %s", uid, path);
  m->host_path = path;
}
