/* The module's state in state_dir: the throttle and the server memo. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "dhis2/ascii.h"
#include "dhis2/file.h"
#include "module.h"

/* A server memo older than this is asked again: servers get upgraded. */
#define MEMO_MAX_AGE (24 * 3600)
#define THROTTLE_MAX_ENTRIES 1000

/* Lower-case hex SHA-256 of s, lower-cased first when fold is set. */
static bool hash_name(const char *s, bool fold, char out[65])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  size_t n = strlen(s);
  char *copy = strdup(s);
  bool ok;

  if (copy == NULL)
    return false;
  for (size_t i = 0; fold && i < n; i++)
    copy[i] = dhis2_ascii_lower(copy[i]);
  ok = EVP_Digest(copy, n, md, &mdlen, EVP_sha256(), NULL) == 1;
  free(copy);
  for (unsigned int i = 0; ok && i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
  return ok;
}

bool state_path(struct module *m, const char *sub, char *out, size_t outlen)
{
  const char *dir = m->cfg->state_dir;
  enum dhis2_err rc = dhis2_dir_ensure(dir, geteuid());

  if (rc == DHIS2_OK && sub != NULL) {
    if (snprintf(out, outlen, "%s/%s", dir, sub) >= (int)outlen)
      return false;
    rc = dhis2_dir_ensure(out, geteuid());
  } else if (rc == DHIS2_OK) {
    snprintf(out, outlen, "%s", dir);
  }
  if (rc != DHIS2_OK) {
    dhis2_log(&m->log, LOG_ERR,
              "state_dir %s: %s (must be a directory of uid %u with mode "
              "0700)",
              dir, rc == DHIS2_ERR_IO ? strerror(errno) : "unsafe",
              (unsigned)geteuid());
    return false;
  }
  return true;
}

/* False when state_dir does not exist: nothing was kept yet, and a read
   (of a memo, by the module or dhis2-pamctl check) makes nothing. */
static bool state_exists(struct module *m)
{
  struct stat st;

  return lstat(m->cfg->state_dir, &st) == 0 || errno != ENOENT;
}

/*
 * The throttle keeps one file per DHIS2 name in state_dir/throttle, named
 * by the hash of the name in lower case, a line an attempt within the
 * window: "TIME" for a rejected password, "TIME ID" for one still in
 * flight; and first a line "user NAME", the name as last typed, so that
 * dhis2-pamctl can say whose it is (a reader that predates it skips the
 * line: it does not start with a number). Every change is made under an
 * exclusive flock; a file left with no attempt is removed, so names that
 * never failed leave nothing behind.
 */

#define THROTTLE_USER "user "

/* The throttle directory and the path of name's file in it. */
static bool throttle_path(struct module *m, const char *name, char *dir,
                          size_t dirlen, char *path, size_t pathlen)
{
  char hex[65];

  if (!state_path(m, "throttle", dir, dirlen) || !hash_name(name, true, hex))
    return false;
  return snprintf(path, pathlen, "%s/%s", dir, hex) < (int)pathlen;
}

/*
 * Opens path locked exclusively; creates it only when create is set.
 * Returns the descriptor, -1 when it is absent (and not to be created) or
 * unusable (logged). The lock is taken on the file the path still names:
 * another process may have removed it while we waited.
 */
static int throttle_open(struct module *m, const char *path, bool create)
{
  struct stat st;
  struct stat now;
  int fd;

  for (int tries = 0; tries < 10; tries++) {
    fd = open(path,
              O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
                  (create ? O_CREAT : 0),
              0600);
    if (fd < 0) {
      if (errno != ENOENT)
        dhis2_log(&m->log, LOG_ERR, "throttle %s: %s", path, strerror(errno));
      return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
      dhis2_log(&m->log, LOG_ERR, "throttle %s: unsafe file", path);
      close(fd);
      return -1;
    }
    while (flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) {
        close(fd);
        return -1;
      }
    }
    if (lstat(path, &now) == 0 && now.st_ino == st.st_ino &&
        now.st_dev == st.st_dev)
      return fd;
    close(fd); /* removed or replaced meanwhile: open what is there now */
  }
  return -1;
}

/* Room for a file: the name line and every entry. */
#define THROTTLE_FILE_MAX                                                     \
  (sizeof(THROTTLE_USER) + 256 +                                              \
   THROTTLE_MAX_ENTRIES * (21 + THROTTLE_ID_LEN + 2) + 1)

/* Reads the entries still within the window into e, and the name line
   into name (namelen bytes; "" when none; name may be NULL); returns the
   count of entries. */
static size_t throttle_read(struct module *m, int fd, struct throttle_entry *e,
                            size_t max, char *name, size_t namelen)
{
  char buf[THROTTLE_FILE_MAX];
  time_t now = time(NULL);
  ssize_t got = pread(fd, buf, sizeof(buf) - 1, 0);
  size_t n = 0;
  char *save = NULL;

  if (name != NULL && namelen > 0)
    name[0] = '\0';
  if (got <= 0)
    return 0;
  buf[got] = '\0';
  for (char *l = strtok_r(buf, "\n", &save); l != NULL && n < max;
       l = strtok_r(NULL, "\n", &save)) {
    char *end;
    long long v;
    size_t idlen = 0;

    if (strncmp(l, THROTTLE_USER, strlen(THROTTLE_USER)) == 0) {
      const char *u = l + strlen(THROTTLE_USER);

      if (name != NULL && dhis2_username_valid(u) && strlen(u) < namelen)
        memcpy(name, u, strlen(u) + 1);
      continue;
    }
    v = strtoll(l, &end, 10);

    if (v <= 0 || (*end != '\0' && *end != ' '))
      continue;
    if (*end == ' ') {
      idlen = strlen(end + 1);
      if (idlen != THROTTLE_ID_LEN)
        continue;
    }
    if ((time_t)v <= now - m->cfg->failure_window || (time_t)v > now)
      continue;
    e[n].t = (time_t)v;
    memcpy(e[n].id, idlen ? end + 1 : "", idlen + 1);
    n++;
  }
  return n;
}

/* Rewrites the file with name's line and the n entries, or removes it
   when n is 0. */
static void throttle_write(struct module *m, int fd, const char *path,
                           const char *name, const struct throttle_entry *e,
                           size_t n)
{
  char buf[THROTTLE_FILE_MAX];
  size_t len = 0;

  if (n == 0) {
    if (unlink(path) != 0 && errno != ENOENT)
      dhis2_log(&m->log, LOG_ERR, "throttle %s: %s", path, strerror(errno));
    return;
  }
  if (dhis2_username_valid(name) && strlen(name) < 256)
    len = (size_t)snprintf(buf, sizeof(buf), THROTTLE_USER "%s\n", name);
  for (size_t i = 0; i < n; i++)
    len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%lld%s%s\n",
                            (long long)e[i].t, e[i].id[0] ? " " : "", e[i].id);
  if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, len, 0) != (ssize_t)len)
    dhis2_log(&m->log, LOG_ERR, "throttle %s: cannot record: %s", path,
              strerror(errno));
}

/* Removes the files in dir whose last change is older than the window:
   every line in them is. Names typed once at a kiosk leave nothing. */
static void throttle_sweep(struct module *m, const char *dir)
{
  time_t limit = time(NULL) - m->cfg->failure_window;
  DIR *d = opendir(dir);
  struct dirent *de;

  if (d == NULL)
    return;
  while ((de = readdir(d)) != NULL) {
    struct stat st;

    if (strlen(de->d_name) != 64 ||
        fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode) || st.st_mtime >= limit)
      continue;
    /* A reserve that opened it meanwhile notices and opens anew. */
    unlinkat(dirfd(d), de->d_name, 0);
  }
  closedir(d);
}

bool throttle_reserve(struct module *m, const char *name,
                      struct throttle_slot *slot)
{
  struct throttle_entry e[THROTTLE_MAX_ENTRIES];
  unsigned char raw[THROTTLE_ID_LEN / 2];
  char dir[4096];
  char path[4200];
  size_t n;
  int fd;

  memset(slot, 0, sizeof(*slot));
  if (m->cfg->failure_limit == 0)
    return true;
  if (!throttle_path(m, name, dir, sizeof(dir), path, sizeof(path)))
    return true; /* logged: a broken disk must not lock everyone out */
  throttle_sweep(m, dir);
  fd = throttle_open(m, path, true);
  if (fd < 0)
    return true;
  n = throttle_read(m, fd, e, THROTTLE_MAX_ENTRIES, NULL, 0);
  if (n >= m->cfg->failure_limit) {
    throttle_write(m, fd, path, name, e, n);
    close(fd);
    return false;
  }
  if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
    throttle_write(m, fd, path, name, e, n);
    close(fd);
    return true;
  }
  for (size_t i = 0; i < sizeof(raw); i++)
    snprintf(slot->id + 2 * i, 3, "%02x", raw[i]);
  e[n].t = time(NULL);
  memcpy(e[n].id, slot->id, sizeof(e[n].id));
  throttle_write(m, fd, path, name, e, n + 1);
  close(fd);
  slot->held = true;
  return true;
}

void throttle_settle(struct module *m, const char *name,
                     struct throttle_slot *slot, enum throttle_outcome how)
{
  struct throttle_entry e[THROTTLE_MAX_ENTRIES];
  char dir[4096];
  char path[4200];
  size_t n;
  size_t kept = 0;
  bool found = false;
  int fd;

  if (!slot->held)
    return;
  slot->held = false;
  if (!throttle_path(m, name, dir, sizeof(dir), path, sizeof(path)))
    return;
  fd = throttle_open(m, path, how == THROTTLE_REJECTED);
  if (fd < 0)
    return;
  n = throttle_read(m, fd, e, THROTTLE_MAX_ENTRIES, NULL, 0);
  if (how == THROTTLE_SUCCESS)
    n = 0; /* the password is right: the name starts afresh */
  for (size_t i = 0; i < n; i++) {
    if (strcmp(e[i].id, slot->id) == 0) {
      found = true;
      if (how != THROTTLE_REJECTED)
        continue; /* given back */
      e[i].id[0] = '\0';
    }
    e[kept++] = e[i];
  }
  if (how == THROTTLE_REJECTED && !found && kept < THROTTLE_MAX_ENTRIES) {
    /* Cleared by a concurrent success meanwhile: still a rejection. */
    e[kept].t = time(NULL);
    e[kept].id[0] = '\0';
    kept++;
  }
  throttle_write(m, fd, path, name, e, kept);
  close(fd);
}

static bool memo_name(struct module *m, char *out, size_t outlen)
{
  char hex[65];

  if (!hash_name(m->cfg->url, false, hex))
    return false;
  return snprintf(out, outlen, "server-%s", hex) < (int)outlen;
}

bool server_kind_get(struct module *m, enum dhis2_server_kind *kind,
                     char *release, size_t relsize)
{
  char dir[4096];
  char name[80];
  char path[4200];
  char err[512];
  char *buf = NULL;
  size_t len = 0;
  struct stat st;
  bool known = false;

  if (relsize > 0)
    release[0] = '\0';
  if (!state_exists(m) || !state_path(m, NULL, dir, sizeof(dir)) ||
      !memo_name(m, name, sizeof(name)))
    return false;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  if (lstat(path, &st) != 0 || time(NULL) - st.st_mtime > MEMO_MAX_AGE)
    return false;
  if (dhis2_file_read(path, geteuid(), 0, 64, &buf, &len, err, sizeof(err)) !=
      DHIS2_OK)
    return false;
  if (strcmp(buf, "basic\n") == 0) {
    *kind = DHIS2_SERVER_BASIC_ONLY;
    known = true;
  } else if (strcmp(buf, "login\n") == 0) {
    *kind = DHIS2_SERVER_LOGIN_API;
    known = true;
  } else if (strncmp(buf, "login ", 6) == 0) {
    /* "login RELEASE\n": the release as the probe checked it. */
    size_t n = strcspn(buf + 6, "\n");

    *kind = DHIS2_SERVER_LOGIN_API;
    known = true;
    if (n > 0 && n < relsize && buf[6 + n] == '\n' && buf[7 + n] == '\0') {
      memcpy(release, buf + 6, n);
      release[n] = '\0';
    }
  }
  free(buf);
  return known;
}

void server_kind_set(struct module *m, enum dhis2_server_kind kind,
                     const char *release)
{
  char memo[DHIS2_RELEASE_MAX + 16];
  char dir[4096];
  char name[80];

  if (kind == DHIS2_SERVER_BASIC_ONLY)
    snprintf(memo, sizeof(memo), "basic\n");
  else if (release != NULL && release[0] != '\0' &&
           strlen(release) < DHIS2_RELEASE_MAX)
    snprintf(memo, sizeof(memo), "login %s\n", release);
  else
    snprintf(memo, sizeof(memo), "login\n");
  if (!state_path(m, NULL, dir, sizeof(dir)) ||
      !memo_name(m, name, sizeof(name)))
    return;
  if (dhis2_file_replace(dir, name, memo, strlen(memo), 0600) != DHIS2_OK)
    dhis2_log(&m->log, LOG_ERR, "state_dir %s: cannot write: %s", dir,
              strerror(errno));
}

/* state_dir/PREFIX-<sha256 of key>. */
static bool cache_path(struct module *m, const char *prefix, const char *key,
                       char *dir, size_t dirlen, char *name, size_t namelen)
{
  char hex[65];

  if (!state_path(m, NULL, dir, dirlen) || !hash_name(key, false, hex))
    return false;
  return snprintf(name, namelen, "%s-%s", prefix, hex) < (int)namelen;
}

bool state_cache_get(struct module *m, const char *prefix, const char *key,
                     size_t max, char **buf, size_t *len)
{
  char dir[4096];
  char name[128];
  char path[4300];
  char err[512];

  if (!state_exists(m) ||
      !cache_path(m, prefix, key, dir, sizeof(dir), name, sizeof(name)))
    return false;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  if (dhis2_file_read(path, geteuid(), 0, max, buf, len, err, sizeof(err)) !=
      DHIS2_OK) {
    if (errno != ENOENT)
      dhis2_debug(&m->log, "%s", err);
    return false;
  }
  return true;
}

void state_cache_put(struct module *m, const char *prefix, const char *key,
                     const char *buf, size_t len)
{
  char dir[4096];
  char name[128];

  if (!cache_path(m, prefix, key, dir, sizeof(dir), name, sizeof(name)))
    return;
  if (dhis2_file_replace(dir, name, buf, len, 0600) != DHIS2_OK)
    dhis2_log(&m->log, LOG_ERR, "state_dir %s: cannot write: %s", dir,
              strerror(errno));
}

/* --- dhis2-pamctl's view of the throttle --- */

/* state_dir/throttle when it exists (checked as state_path() does), else
   "" (nothing was ever throttled); false, logged, when unusable. Makes
   nothing: listing must not change the machine. */
static bool throttle_dir(struct module *m, char *dir, size_t dirlen)
{
  struct stat st;

  if (snprintf(dir, dirlen, "%s/throttle", m->cfg->state_dir) >= (int)dirlen)
    return false;
  if (lstat(dir, &st) != 0 && errno == ENOENT) {
    dir[0] = '\0';
    return true;
  }
  return state_path(m, "throttle", dir, dirlen);
}

/* Shows (fn set) or removes (fn NULL) the file hex in dir under its lock;
   true when there was one. */
static bool throttle_visit(struct module *m, const char *dir, const char *hex,
                           void (*fn)(const struct throttle_file *, void *),
                           void *ctx)
{
  struct throttle_entry e[THROTTLE_MAX_ENTRIES];
  struct throttle_file f = {.e = e};
  char path[4200];
  int fd;

  if (snprintf(path, sizeof(path), "%s/%s", dir, hex) >= (int)sizeof(path))
    return false;
  fd = throttle_open(m, path, false);
  if (fd < 0)
    return false;
  if (fn == NULL) {
    throttle_write(m, fd, path, NULL, NULL, 0);
  } else {
    snprintf(f.hash, sizeof(f.hash), "%s", hex);
    f.n =
        throttle_read(m, fd, e, THROTTLE_MAX_ENTRIES, f.name, sizeof(f.name));
    fn(&f, ctx);
  }
  close(fd);
  return true;
}

long throttle_each(struct module *m, const char *name,
                   void (*fn)(const struct throttle_file *, void *), void *ctx)
{
  char dir[4096];
  char hex[65];
  struct dirent *de;
  DIR *d;
  long count = 0;

  if (!throttle_dir(m, dir, sizeof(dir)))
    return -1;
  if (dir[0] == '\0')
    return 0;
  if (name != NULL) {
    if (!hash_name(name, true, hex))
      return -1;
    return throttle_visit(m, dir, hex, fn, ctx) ? 1 : 0;
  }
  d = opendir(dir);
  if (d == NULL) {
    dhis2_log(&m->log, LOG_ERR, "throttle %s: %s", dir, strerror(errno));
    return -1;
  }
  while ((de = readdir(d)) != NULL) {
    if (strlen(de->d_name) != 64 ||
        strspn(de->d_name, "0123456789abcdef") != 64)
      continue;
    if (throttle_visit(m, dir, de->d_name, fn, ctx))
      count++;
  }
  closedir(d);
  return count;
}

/* --- the offline cache's place (offline.c, account.c, dhis2-pamctl) --- */

bool state_offline_cache(struct module *m, bool make, struct dhis2_cache *c,
                         char *dir, size_t dirlen)
{
  if (make) {
    if (!state_path(m, "offline", dir, dirlen))
      return false;
  } else if (snprintf(dir, dirlen, "%s/offline", m->cfg->state_dir) >=
             (int)dirlen) {
    return false;
  }
  *c = (struct dhis2_cache){
      .dir = dir,
      .url = m->cfg->url,
      .ttl = m->cfg->offline_ttl,
      .failure_limit = m->cfg->offline_failure_limit,
      .failure_delay = m->cfg->offline_failure_delay,
      .twofactor_password = m->cfg->offline_twofactor_password,
      .cost = m->cfg->offline_hash_cost,
      .log = &m->log,
  };
  return true;
}

int state_device_slot(struct module *m, const char *name, unsigned max)
{
  char dir[PATH_MAX];
  char hash[65];

  if (!state_path(m, "device", dir, sizeof(dir)) ||
      !hash_name(name, true, hash))
    return -2;
  for (unsigned i = 0; i < max; i++) {
    char path[PATH_MAX + 80];
    int fd;

    snprintf(path, sizeof(path), "%s/%s.%u", dir, hash, i);
    fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      dhis2_log(&m->log, LOG_ERR, "%s: %s", path, strerror(errno));
      return -2;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) == 0)
      return fd;
    close(fd);
  }
  return -1;
}
