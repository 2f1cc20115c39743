/* The user map: which DHIS2 name a PAM user authenticates as. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dhis2/ascii.h"
#include "dhis2/file.h"
#include "module.h"
#include "usermap.h"

#define USER_MAP_MAX (1024 * 1024)

/* The kernel's overflow uid, nobody: files of unmapped ids belong to it,
   so it is never anyone's to sign in as. */
#define OVERFLOW_UID ((uid_t)65534)

/* A local account as the name service gave it. */
struct local {
  char name[256]; /* canonical pw_name */
  uid_t uid;
};

/* Looks up name; returns 1 found (a set), 0 absent, -1 error. */
static int local_get(const char *name, struct local *a)
{
  struct passwd pw;
  struct passwd *res = NULL;
  char buf[4096];
  int rc = getpwnam_r(name, &pw, buf, sizeof(buf), &res);

  if (rc != 0 && rc != ENOENT && rc != ESRCH)
    return -1;
  if (res == NULL)
    return 0;
  if (snprintf(a->name, sizeof(a->name), "%s", pw.pw_name) >=
      (int)sizeof(a->name))
    return -1;
  a->uid = pw.pw_uid;
  return 1;
}

long user_map_parse(char *buf, struct map_line *lines, size_t max, size_t *bad)
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

/* The DHIS2 name the map gives the local account a, or NULL: its line
   names it, or (as toor is root) another name of the same uid. */
static const char *mapped_name(const struct local *a,
                               const struct map_line *lines, size_t n)
{
  struct local other;

  for (size_t i = 0; i < n; i++)
    if (strcmp(lines[i].dhis2, "*") != 0 &&
        strcmp(lines[i].local, a->name) == 0)
      return lines[i].dhis2;
  for (size_t i = 0; i < n; i++)
    if (strcmp(lines[i].dhis2, "*") != 0 &&
        local_get(lines[i].local, &other) == 1 && other.uid == a->uid)
      return lines[i].dhis2;
  return NULL;
}

/* PAM_USER user is the local account a. */
static int resolve_local(struct module *m, const char *user,
                         const struct local *a, const struct map_line *lines,
                         size_t n, const char *star, struct user_target *t)
{
  const char *dhis2 = NULL;
  struct local kiosk;

  if (strcmp(a->name, user) != 0) {
    /* A name service that ignores case (sssd's case_sensitive = false)
       would make "JOHN" the account john and slip past john's line. */
    dhis2_log(&m->log, LOG_NOTICE,
              "%s is the local account %s by another name: refused", user,
              a->name);
    return PAM_USER_UNKNOWN;
  }
  if (a->uid == OVERFLOW_UID) {
    dhis2_debug(&m->log, "%s: the overflow uid is never signed in", user);
    return PAM_USER_UNKNOWN;
  }
  dhis2 = mapped_name(a, lines, n);
  if (dhis2 != NULL) {
    t->dhis2_name = strdup(dhis2);
    return t->dhis2_name ? PAM_SUCCESS : PAM_BUF_ERR;
  }
  for (size_t i = 0; i < n; i++) {
    /* A mapped DHIS2 name signs in as its local account only. */
    if (strcmp(lines[i].dhis2, "*") != 0 &&
        dhis2_ascii_case_eq(lines[i].dhis2, user)) {
      dhis2_debug(&m->log, "%s is mapped to local %s only", user,
                  lines[i].local);
      return PAM_USER_UNKNOWN;
    }
  }
  if (star != NULL && local_get(star, &kiosk) == 1 && kiosk.uid == a->uid) {
    dhis2_debug(&m->log, "%s is the kiosk account itself", user);
    return PAM_USER_UNKNOWN;
  }
  if (a->uid < m->cfg->min_uid || a->uid > m->cfg->max_uid) {
    dhis2_debug(&m->log, "%s: uid %u outside min_uid %u .. max_uid %u", user,
                (unsigned)a->uid, (unsigned)m->cfg->min_uid,
                (unsigned)m->cfg->max_uid);
    return PAM_USER_UNKNOWN;
  }
  t->dhis2_name = strdup(a->name);
  return t->dhis2_name ? PAM_SUCCESS : PAM_BUF_ERR;
}

static int resolve(struct module *m, const char *user,
                   const struct map_line *lines, size_t n,
                   struct user_target *t)
{
  const char *star = NULL;
  struct local a;
  struct local kiosk;
  int found;

  for (size_t i = 0; i < n && star == NULL; i++)
    if (strcmp(lines[i].dhis2, "*") == 0)
      star = lines[i].local;
  found = local_get(user, &a);
  if (found < 0)
    return PAM_AUTHINFO_UNAVAIL;
  if (found)
    return resolve_local(m, user, &a, lines, n, star, t);
  for (size_t i = 0; i < n; i++) {
    if (strcmp(lines[i].dhis2, "*") != 0 &&
        dhis2_ascii_case_eq(lines[i].dhis2, user)) {
      dhis2_debug(&m->log, "%s is mapped to local %s only", user,
                  lines[i].local);
      return PAM_USER_UNKNOWN;
    }
  }
  if (star == NULL) {
    dhis2_debug(&m->log, "%s: no local account and no '*' map line", user);
    return PAM_USER_UNKNOWN;
  }
  found = local_get(star, &kiosk);
  if (found <= 0) {
    dhis2_log(&m->log, LOG_ERR, "user_map: kiosk account %s does not exist",
              star);
    return PAM_AUTHINFO_UNAVAIL;
  }
  if (kiosk.uid == OVERFLOW_UID) {
    dhis2_log(&m->log, LOG_ERR,
              "user_map: kiosk account %s has the overflow uid %u: refused",
              star, (unsigned)OVERFLOW_UID);
    return PAM_AUTHINFO_UNAVAIL;
  }
  t->dhis2_name = strdup(user);
  t->kiosk_user = strdup(kiosk.name);
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
    n = user_map_parse(buf, lines, len / 2 + 1, &bad);
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
