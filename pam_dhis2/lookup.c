/* The account lookup's parts that need no PAM handle: the service PAT
   (lookup_pat_file) and /api/users with its filter form remembered.
   Shared by the account phase and dhis2-pamctl check. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dhis2/file.h"
#include "dhis2/pat.h"
#include "dhis2/secret.h"
#include "module.h"

#define LOOKUP_PAT_MAX 4096

/* True when path gives group and others no access at all. */
static bool private_file(const char *path)
{
  struct stat st;

  return lstat(path, &st) == 0 && (st.st_mode & 077) == 0;
}

/* The service PAT from lookup_pat_file (root's, 0600 or stricter): a
   secret the caller frees with dhis2_secret_free(); NULL, logged, when it
   cannot be used. */
char *lookup_pat(struct module *m)
{
  const char *path = m->cfg->lookup_pat_file;
  char err[512] = "";
  char *buf = NULL;
  size_t len = 0;

  /* Ours (root's, as the module runs), never writable by others; and
     since it is a secret, never readable by them either. */
  if (dhis2_file_read(path, geteuid(), 1, LOOKUP_PAT_MAX, &buf, &len, err,
                      sizeof(err)) != DHIS2_OK) {
    dhis2_log(&m->log, LOG_ERR, "lookup_pat_file: %s", err);
    return NULL;
  }
  if (!private_file(path)) {
    dhis2_log(&m->log, LOG_ERR,
              "lookup_pat_file %s: readable by group or others: refused "
              "(chmod 0600)",
              path);
    dhis2_secret_free(buf);
    return NULL;
  }
  while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
                     buf[len - 1] == ' ' || buf[len - 1] == '\t'))
    buf[--len] = '\0';
  if (dhis2_pat_classify(buf) == DHIS2_PAT_NONE) {
    dhis2_log(&m->log, LOG_ERR,
              "lookup_pat_file %s: not a DHIS2 Personal Access Token", path);
    dhis2_secret_free(buf);
    return NULL;
  }
  return buf;
}

/* Which filter form the server takes (2.37: userCredentials.username),
   remembered so that a lookup costs one request. */
static bool filter_memo(struct module *m)
{
  char *buf = NULL;
  size_t len = 0;
  bool legacy;

  if (!state_cache_get(m, "usersfilter", m->cfg->url, 64, &buf, &len))
    return false;
  legacy = strcmp(buf, "legacy\n") == 0;
  free(buf);
  return legacy;
}

static void filter_memo_set(struct module *m, bool was, bool legacy)
{
  if (was != legacy)
    state_cache_put(m, "usersfilter", m->cfg->url,
                    legacy ? "legacy\n" : "top\n", legacy ? 7 : 4);
}

enum dhis2_err lookup_user(struct module *m, struct dhis2_client *c,
                           const char *pat, const char *name,
                           struct dhis2_account *a)
{
  bool was = filter_memo(m);
  bool legacy = was;
  enum dhis2_err err = dhis2_api_user_lookup(c, pat, name, &legacy, a);

  filter_memo_set(m, was, legacy);
  return err;
}
