/* The user map: which DHIS2 name a PAM user authenticates as. */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dhis2/file.h"
#include "module.h"

#define USER_MAP_MAX (1024 * 1024)

/* One parsed line; pointers into the file buffer. */
struct map_line {
  const char *dhis2;
  const char *local;
};

/* Looks up name; returns 1 found (uid set), 0 absent, -1 error. */
static int local_uid(const char *name, uid_t *uid)
{
  struct passwd pw;
  struct passwd *res = NULL;
  char buf[4096];
  int rc = getpwnam_r(name, &pw, buf, sizeof(buf), &res);

  if (rc != 0 && rc != ENOENT && rc != ESRCH)
    return -1;
  if (res == NULL)
    return 0;
  *uid = pw.pw_uid;
  return 1;
}

/* Splits buf into lines of two fields; returns the count or -1 with the
   bad line number in *bad. */
static long parse_map(char *buf, struct map_line *lines, size_t max,
                      size_t *bad)
{
  size_t n = 0;
  size_t lineno = 0;
  char *save = NULL;

  for (char *l = strtok_r(buf, "\n", &save); l != NULL;
       l = strtok_r(NULL, "\n", &save)) {
    char *f1, *f2, *f3, *fs = NULL;

    lineno++;
    l[strcspn(l, "#")] = '\0';
    f1 = strtok_r(l, " \t\r", &fs);
    if (f1 == NULL)
      continue;
    f2 = strtok_r(NULL, " \t\r", &fs);
    f3 = strtok_r(NULL, " \t\r", &fs);
    if (f2 == NULL || f3 != NULL || n == max) {
      *bad = lineno;
      return -1;
    }
    lines[n].dhis2 = f1;
    lines[n].local = f2;
    n++;
  }
  return (long)n;
}

static int resolve(struct module *m, const char *user,
                   const struct map_line *lines, size_t n,
                   struct user_target *t)
{
  const char *star = NULL;
  uid_t uid;
  int found;

  for (size_t i = 0; i < n; i++) {
    if (strcmp(lines[i].dhis2, "*") == 0) {
      if (star == NULL)
        star = lines[i].local;
      continue;
    }
    /* A mapped local account authenticates its DHIS2 name. */
    if (strcmp(lines[i].local, user) == 0) {
      t->dhis2_name = strdup(lines[i].dhis2);
      return t->dhis2_name ? PAM_SUCCESS : PAM_BUF_ERR;
    }
  }
  for (size_t i = 0; i < n; i++) {
    /* A mapped DHIS2 name signs in as its local account only. */
    if (strcmp(lines[i].dhis2, "*") != 0 &&
        strcasecmp(lines[i].dhis2, user) == 0) {
      dhis2_debug(&m->log, "%s is mapped to local %s only", user,
                  lines[i].local);
      return PAM_USER_UNKNOWN;
    }
  }
  found = local_uid(user, &uid);
  if (found < 0)
    return PAM_AUTHINFO_UNAVAIL;
  if (found) {
    if (star != NULL && strcmp(user, star) == 0) {
      dhis2_debug(&m->log, "%s is the kiosk account itself", user);
      return PAM_USER_UNKNOWN;
    }
    if (uid < m->cfg->min_uid) {
      dhis2_debug(&m->log, "%s: uid %u below min_uid %u", user, (unsigned)uid,
                  (unsigned)m->cfg->min_uid);
      return PAM_USER_UNKNOWN;
    }
    t->dhis2_name = strdup(user);
    return t->dhis2_name ? PAM_SUCCESS : PAM_BUF_ERR;
  }
  if (star == NULL) {
    dhis2_debug(&m->log, "%s: no local account and no '*' map line", user);
    return PAM_USER_UNKNOWN;
  }
  found = local_uid(star, &uid);
  if (found <= 0) {
    dhis2_log(&m->log, LOG_ERR, "user_map: kiosk account %s does not exist",
              star);
    return PAM_AUTHINFO_UNAVAIL;
  }
  t->dhis2_name = strdup(user);
  t->kiosk_user = strdup(star);
  return t->dhis2_name && t->kiosk_user ? PAM_SUCCESS : PAM_BUF_ERR;
}

int user_map_resolve(struct module *m, const char *user, struct user_target *t)
{
  struct map_line *lines = NULL;
  char *buf = NULL;
  size_t len = 0;
  size_t bad = 0;
  char err[512];
  long n = 0;
  int rc = PAM_AUTHINFO_UNAVAIL;

  memset(t, 0, sizeof(*t));
  if (m->cfg->user_map != NULL) {
    if (dhis2_file_read(m->cfg->user_map, geteuid(), 1, USER_MAP_MAX, &buf,
                        &len, err, sizeof(err)) != DHIS2_OK) {
      dhis2_log(&m->log, LOG_ERR, "user_map: %s", err);
      goto out;
    }
    lines = calloc(len / 2 + 1, sizeof(*lines));
    if (lines == NULL) {
      rc = PAM_BUF_ERR;
      goto out;
    }
    n = parse_map(buf, lines, len / 2 + 1, &bad);
    if (n < 0) {
      dhis2_log(&m->log, LOG_ERR,
                "user_map: %s:%zu: expected 'DHIS2_USERNAME LOCAL_USER'",
                m->cfg->user_map, bad);
      goto out;
    }
  }
  rc = resolve(m, user, lines, (size_t)n, t);
out:
  if (rc != PAM_SUCCESS)
    user_target_clear(t);
  free(lines);
  free(buf);
  return rc;
}

void user_target_clear(struct user_target *t)
{
  free(t->dhis2_name);
  free(t->kiosk_user);
  memset(t, 0, sizeof(*t));
}
