/* The module's state in state_dir: the throttle and the server memo. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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

/* state_dir/sub, created root-only; false (logged) when unusable. */
static bool state_path(struct module *m, const char *sub, char *out,
                       size_t outlen)
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

/* Opens the throttle file of name, locked; -1 when unusable. */
static int throttle_open(struct module *m, const char *name, int lock)
{
  char dir[4096];
  char hex[65];
  char path[4200];
  struct stat st;
  int fd;

  if (!state_path(m, "throttle", dir, sizeof(dir)) ||
      !hash_name(name, true, hex))
    return -1;
  snprintf(path, sizeof(path), "%s/%s", dir, hex);
  fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0) {
    dhis2_log(&m->log, LOG_ERR, "throttle %s: %s", path, strerror(errno));
    return -1;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
    dhis2_log(&m->log, LOG_ERR, "throttle %s: unsafe file", path);
    close(fd);
    return -1;
  }
  while (flock(fd, lock) != 0) {
    if (errno != EINTR) {
      close(fd);
      return -1;
    }
  }
  return fd;
}

/* Reads the failure times in the window into t; returns their count. */
static size_t throttle_read(struct module *m, int fd, time_t *t, size_t max)
{
  char buf[THROTTLE_MAX_ENTRIES * 21 + 1];
  time_t now = time(NULL);
  ssize_t got = pread(fd, buf, sizeof(buf) - 1, 0);
  size_t n = 0;
  char *save = NULL;

  if (got <= 0)
    return 0;
  buf[got] = '\0';
  for (char *l = strtok_r(buf, "\n", &save); l != NULL && n < max;
       l = strtok_r(NULL, "\n", &save)) {
    char *end;
    long long v = strtoll(l, &end, 10);

    if (*end != '\0' || v <= 0)
      continue;
    if ((time_t)v > now - m->cfg->failure_window && (time_t)v <= now)
      t[n++] = (time_t)v;
  }
  return n;
}

bool throttle_tripped(struct module *m, const char *name)
{
  time_t t[THROTTLE_MAX_ENTRIES];
  size_t n;
  int fd;

  if (m->cfg->failure_limit == 0)
    return false;
  fd = throttle_open(m, name, LOCK_SH);
  if (fd < 0)
    return false;
  n = throttle_read(m, fd, t, THROTTLE_MAX_ENTRIES);
  close(fd);
  return n >= m->cfg->failure_limit;
}

void throttle_fail(struct module *m, const char *name)
{
  time_t t[THROTTLE_MAX_ENTRIES];
  char buf[THROTTLE_MAX_ENTRIES * 21 + 1];
  size_t len = 0;
  size_t n;
  size_t first = 0;
  int fd;

  if (m->cfg->failure_limit == 0)
    return;
  fd = throttle_open(m, name, LOCK_EX);
  if (fd < 0)
    return;
  n = throttle_read(m, fd, t, THROTTLE_MAX_ENTRIES);
  if (n == THROTTLE_MAX_ENTRIES)
    first = 1; /* drop the oldest to make room */
  for (size_t i = first; i < n; i++)
    len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%lld\n",
                            (long long)t[i]);
  len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%lld\n",
                          (long long)time(NULL));
  if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, len, 0) != (ssize_t)len)
    dhis2_log(&m->log, LOG_ERR, "throttle: cannot record a failure: %s",
              strerror(errno));
  close(fd);
}

void throttle_reset(struct module *m, const char *name)
{
  int fd;

  if (m->cfg->failure_limit == 0)
    return;
  fd = throttle_open(m, name, LOCK_EX);
  if (fd < 0)
    return;
  if (ftruncate(fd, 0) != 0)
    dhis2_log(&m->log, LOG_ERR, "throttle: cannot reset: %s", strerror(errno));
  close(fd);
}

static bool memo_name(struct module *m, char *out, size_t outlen)
{
  char hex[65];

  if (!hash_name(m->cfg->url, false, hex))
    return false;
  return snprintf(out, outlen, "server-%s", hex) < (int)outlen;
}

bool server_kind_get(struct module *m, enum dhis2_server_kind *kind)
{
  char dir[4096];
  char name[80];
  char path[4200];
  char err[512];
  char *buf = NULL;
  size_t len = 0;
  struct stat st;
  bool known = false;

  if (!state_path(m, NULL, dir, sizeof(dir)) ||
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
  }
  free(buf);
  return known;
}

void server_kind_set(struct module *m, enum dhis2_server_kind kind)
{
  const char *memo = kind == DHIS2_SERVER_BASIC_ONLY ? "basic\n" : "login\n";
  char dir[4096];
  char name[80];

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

  if (!cache_path(m, prefix, key, dir, sizeof(dir), name, sizeof(name)))
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
