/* Opening files that decide who may log in, without trusting the path. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dhis2/file.h"

enum dhis2_err dhis2_file_read(const char *path, uid_t owner, int also_root,
                               size_t max, char **out, size_t *len, char *err,
                               size_t errlen)
{
  enum dhis2_err rc = DHIS2_ERR_IO;
  struct stat st;
  char *buf = NULL;
  size_t got = 0;
  int saved = 0;
  int fd;

  *out = NULL;
  *len = 0;
  fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    saved = errno;
    snprintf(err, errlen, "%s: %s", path,
             saved == ELOOP ? "refusing a symbolic link" : strerror(saved));
    rc = saved == ELOOP ? DHIS2_ERR_CONFIG : DHIS2_ERR_IO;
    goto out;
  }
  if (fstat(fd, &st) != 0) {
    saved = errno;
    snprintf(err, errlen, "%s: %s", path, strerror(saved));
    goto out;
  }
  rc = DHIS2_ERR_CONFIG;
  if (!S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "%s: refusing: not a regular file", path);
    goto out;
  }
  if (st.st_uid != owner && !(also_root && st.st_uid == 0)) {
    snprintf(err, errlen, "%s: refusing: owned by uid %u", path,
             (unsigned)st.st_uid);
    goto out;
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    snprintf(err, errlen, "%s: refusing: writable by group or others", path);
    goto out;
  }
  if ((size_t)st.st_size > max) {
    snprintf(err, errlen, "%s: refusing: larger than %zu bytes", path, max);
    goto out;
  }
  rc = DHIS2_ERR_NOMEM;
  buf = malloc(max + 1);
  if (buf == NULL)
    goto out;
  rc = DHIS2_ERR_IO;
  for (;;) {
    ssize_t n = read(fd, buf + got, max + 1 - got);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      saved = errno;
      snprintf(err, errlen, "%s: %s", path, strerror(saved));
      goto out;
    }
    if (n == 0)
      break;
    got += (size_t)n;
    if (got > max) {
      rc = DHIS2_ERR_CONFIG;
      snprintf(err, errlen, "%s: refusing: larger than %zu bytes", path, max);
      goto out;
    }
  }
  buf[got] = '\0';
  *out = buf;
  *len = got;
  buf = NULL; /* transferred */
  rc = DHIS2_OK;
out:
  free(buf);
  if (fd >= 0)
    close(fd);
  if (saved != 0)
    errno = saved;
  return rc;
}

enum dhis2_err dhis2_dir_ensure(const char *path, uid_t owner)
{
  struct stat st;

  if (mkdir(path, 0700) != 0 && errno != EEXIST)
    return DHIS2_ERR_IO;
  if (lstat(path, &st) != 0)
    return DHIS2_ERR_IO;
  if (!S_ISDIR(st.st_mode) || st.st_uid != owner ||
      (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    return DHIS2_ERR_CONFIG;
  return DHIS2_OK;
}

enum dhis2_err dhis2_file_replace(const char *dir, const char *name,
                                  const void *data, size_t len, mode_t mode)
{
  enum dhis2_err rc = DHIS2_ERR_IO;
  char tmp[4096];
  char dst[4096];
  const char *p = data;
  int fd = -1;

  if (snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name) >=
          (int)sizeof(tmp) ||
      snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= (int)sizeof(dst))
    return DHIS2_ERR_INVAL;
  fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0)
    return DHIS2_ERR_IO;
  if (fchmod(fd, mode) != 0)
    goto out;
  while (len > 0) {
    ssize_t n = write(fd, p, len);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      goto out;
    p += n;
    len -= (size_t)n;
  }
  if (fsync(fd) != 0)
    goto out;
  if (close(fd) != 0) {
    fd = -1;
    goto out;
  }
  fd = -1;
  if (rename(tmp, dst) != 0)
    goto out;
  rc = DHIS2_OK;
out:
  if (fd >= 0)
    close(fd);
  if (rc != DHIS2_OK)
    unlink(tmp);
  return rc;
}
