/* Opening files that decide who may log in, without trusting the path. */
#ifndef DHIS2_FILE_H
#define DHIS2_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "dhis2/err.h"

/*
 * Reads the whole regular file at path into *out (NULL on entry; a malloc'd
 * NUL-terminated copy the caller frees; *len gets its length). The file is
 * opened with O_NOFOLLOW|O_CLOEXEC|O_NOCTTY and checked on the open
 * descriptor: a regular file, owned by owner (or by root when
 * also_root), not writable by group or others, at most max bytes.
 * Returns DHIS2_OK; DHIS2_ERR_IO when it cannot be opened or read (errno
 * is kept, ENOENT for a missing file); DHIS2_ERR_CONFIG when it fails a
 * check. err gets a message naming path (errlen bytes, NUL-terminated).
 */
enum dhis2_err dhis2_file_read(const char *path, uid_t owner, int also_root,
                               size_t max, char **out, size_t *len, char *err,
                               size_t errlen);

/*
 * Makes sure path is a directory owned by owner with no access for group
 * or others, creating it (mode 0700, one level) when missing. A symlink
 * is refused. Returns DHIS2_OK, DHIS2_ERR_IO or DHIS2_ERR_CONFIG.
 */
enum dhis2_err dhis2_dir_ensure(const char *path, uid_t owner);

/*
 * Replaces dir/name with len bytes of data: written to a temporary file in
 * dir with mode, fsync'd, then renamed over the old one, so a reader sees
 * the old or the new content, never a part. Returns DHIS2_OK or
 * DHIS2_ERR_IO.
 */
enum dhis2_err dhis2_file_replace(const char *dir, const char *name,
                                  const void *data, size_t len, mode_t mode);

#endif /* DHIS2_FILE_H */
