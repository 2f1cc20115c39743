/* The per-user OAuth2 token store: kernel keyring or a file, one API. */
#ifndef DHIS2_STORE_H
#define DHIS2_STORE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "dhis2/config.h"
#include "dhis2/err.h"

/*
 * One stored login. The JSON form is
 *   {"url","username","access_token","refresh_token","id_token",
 *    "expires_at","scope","obtained_at"}
 * with the times in epoch seconds. Every string is owned by the record and
 * released by dhis2_token_record_free(); the three tokens are secrets.
 */
struct dhis2_token_record {
  char *url;           /* required: the DHIS2 base URL the tokens are for */
  char *username;      /* required: the DHIS2 username they belong to */
  char *access_token;  /* required; secret */
  char *refresh_token; /* secret; NULL: none */
  char *id_token;      /* secret; NULL: none */
  time_t expires_at;   /* the access token's expiry; 0: unknown */
  char *scope;         /* NULL: none */
  time_t obtained_at;  /* when the tokens were obtained; 0: unknown */
};

/* Wipes the secrets, frees every string and rec itself. NULL ok. */
void dhis2_token_record_free(struct dhis2_token_record *rec);

/*
 * Returns a deep copy of rec that the caller frees with
 * dhis2_token_record_free(); NULL when memory is exhausted.
 */
struct dhis2_token_record *
dhis2_token_record_dup(const struct dhis2_token_record *rec);

/*
 * Serializes rec (url, username and access_token non-NULL; absent strings
 * are written as null) into *out (NULL on entry): a malloc'd
 * NUL-terminated string of *len bytes holding secrets, which the caller
 * releases with dhis2_secret_free_n(*out, *len). json-c's own copies are
 * wiped before it frees them. Returns DHIS2_OK, DHIS2_ERR_INVAL or
 * DHIS2_ERR_NOMEM.
 */
enum dhis2_err dhis2_token_record_to_json(const struct dhis2_token_record *rec,
                                          char **out, size_t *len);

/*
 * Parses the len bytes at json into *out (NULL on entry; the caller frees
 * it with dhis2_token_record_free()). url, username and access_token must
 * be non-empty strings; refresh_token, id_token and scope strings, null or
 * absent; the times non-negative integers or absent (0); other members are
 * ignored. The input is not modified: the caller wipes it. Returns
 * DHIS2_OK, DHIS2_ERR_NOMEM, or DHIS2_ERR_INVAL with a reason in err
 * (errlen bytes, NUL-terminated; never a secret).
 */
enum dhis2_err dhis2_token_record_from_json(const char *json, size_t len,
                                            struct dhis2_token_record **out,
                                            char *err, size_t errlen);

/* True when profile matches [A-Za-z0-9_.-]{1,64}, the names the store
   accepts (they become file names and key descriptions). */
bool dhis2_store_profile_valid(const char *profile);

/*
 * Where and whose records are. Fill every member; zero means "no" for the
 * hook and NULL "derive it" for the paths.
 *
 * backend: DHIS2_STORE_KEYRING, DHIS2_STORE_FILE, or DHIS2_STORE_AUTO
 * (the keyring when keyctl_get_persistent() works for uid, else the file).
 *
 * uid: whose records. When uid is geteuid() the records are "own": they
 * can be read and written, and dir defaults to $XDG_STATE_HOME/dhis2-auth
 * or $HOME/.local/state/dhis2-auth (secure_getenv(), so never from the
 * environment of a setuid program). For any other uid (pam_dhis2 as root)
 * they are read-only, and dir defaults to home/.local/state/dhis2-auth.
 *
 * dir: the file backend's directory, absolute; also where the lock files
 * of both backends live. The file backend keeps PROFILE.json (0600) in it,
 * created 0700 as needed, with PROFILE.lock beside it; PROFILE.json.tmp
 * exists only while a save is under way (or after a crash in one: the next
 * save or delete removes it).
 *
 * home: uid's home directory, from the password database; for another
 * uid, dir must lie under it. Reading another uid's file opens home (the
 * administrator's path, symlinks followed), then every component below it
 * down to the record with openat(O_NOFOLLOW): each directory must be owned
 * by uid or root and not writable by group or others, and the record a
 * regular file owned by uid with no group or other access. A path the user
 * swaps mid-read therefore cannot redirect root anywhere else. With home
 * NULL the walk starts at "/" under the same rules.
 *
 * before_rename: a test hook, NULL in production. The file backend calls
 * it with the temporary file's path and hook_arg after the new record is
 * written and fsync'd and before the rename, so a test can kill the
 * process there. A per-call pointer rather than an environment variable or
 * a global: the library runs inside setuid PAM stacks (su, sudo) whose
 * environment the user controls, and the module has no mutable globals.
 */
struct dhis2_store_opts {
  enum dhis2_token_store backend;
  uid_t uid;
  const char *dir;
  const char *home;
  void (*before_rename)(const char *tmp_path, void *hook_arg);
  void *hook_arg;
};

/* What dhis2_store_where() and dhis2_store_load() say about a record. */
struct dhis2_store_where {
  bool found;                     /* false: no record in any backend */
  enum dhis2_token_store backend; /* KEYRING or FILE: where it was found */
  long key_id;                    /* the key's serial (keyring), else 0 */
  time_t expires_at;              /* of the access token, 0: unknown */
  time_t obtained_at;             /* 0: unknown */
  char location[PATH_MAX + 128];  /* "keyring: ..." or the file's path */
};

/*
 * Checks whether the persistent keyring of uid can be used by this
 * process: keyctl_get_persistent() fails with EOPNOTSUPP when the kernel
 * lacks CONFIG_PERSISTENT_KEYRINGS, with EPERM or ENOSYS under a seccomp
 * policy that blocks keyctl (as container runtimes' defaults do), and with
 * EPERM for another uid without CAP_SETUID. Returns DHIS2_OK, or
 * DHIS2_ERR_CONFIG with the reason in err; errno is kept from the call.
 *
 * The keyring backend keeps a record as a "user" key named
 * "dhis2-auth:PROFILE" in uid's persistent keyring, owned by uid (a key
 * of any other owner found there is refused), permissions possessor: all,
 * owner: view and read, group and others: nothing, with a timeout of
 * keep_for seconds. The persistent keyring is linked into the calling
 * thread's keyring only while an operation runs, which is what makes the
 * key "possessed" and so readable; root reads another uid's key this way
 * (keyctl_get_persistent() for another uid needs CAP_SETUID). The kernel
 * drops a persistent keyring, with its keys, when nothing has asked for it
 * for /proc/sys/kernel/keys/persistent_keyring_expiry seconds (3 days by
 * default); every operation here renews that.
 */
enum dhis2_err dhis2_store_keyring_probe(uid_t uid, char *err, size_t errlen);

/*
 * Reads the record of profile for o->uid into *rec (NULL on entry, the
 * caller frees it with dhis2_token_record_free()); where (NULL ok) gets
 * where it was. AUTO reads the keyring first and then the file. Takes no
 * lock: a save replaces a record atomically, so a reader sees the old or
 * the new one. Returns DHIS2_OK with *rec NULL (and where->found false)
 * when there is no record. Errors: DHIS2_ERR_INVAL (bad profile or
 * options), DHIS2_ERR_CONFIG (the keyring was asked for and is not usable,
 * or a path or record failed a check: a symlink, a wrong owner, group or
 * other access), DHIS2_ERR_IO, DHIS2_ERR_NOMEM; err says which and why.
 */
enum dhis2_err dhis2_store_load(const struct dhis2_store_opts *o,
                                const char *profile,
                                struct dhis2_token_record **rec,
                                struct dhis2_store_where *where, char *err,
                                size_t errlen);

/* As dhis2_store_load() without handing out the secrets: for status. */
enum dhis2_err dhis2_store_where(const struct dhis2_store_opts *o,
                                 const char *profile,
                                 struct dhis2_store_where *where, char *err,
                                 size_t errlen);

/*
 * Replaces the record of profile with rec, under the profile's lock. Own
 * records only (DHIS2_ERR_INVAL otherwise). keep_for is the refresh
 * token's remaining life in seconds (<= 0: no limit): the keyring key
 * expires then; the file backend keeps the file until deleted. The file
 * is written to PROFILE.json.tmp, fsync'd, renamed over PROFILE.json and
 * the directory fsync'd. AUTO saves to the keyring when usable (falling
 * back to the file when the key quota is exhausted) and then removes the
 * copy in the other backend, so a stale record never shadows a fresh one.
 * Returns DHIS2_OK or an error as dhis2_store_load().
 */
enum dhis2_err dhis2_store_save(const struct dhis2_store_opts *o,
                                const char *profile,
                                const struct dhis2_token_record *rec,
                                long keep_for, char *err, size_t errlen);

/*
 * A locked read-modify-write of an own record: under the profile's lock
 * (flock on PROFILE.lock, held against every other save, update and
 * delete), reads the record, calls fn with it (NULL when there is none)
 * and, when fn returns DHIS2_OK with *next set (NULL on entry; ownership
 * passes to the store) saves *next with *keep_for (0 on entry) as
 * dhis2_store_save() would. fn returning DHIS2_OK with *next NULL leaves
 * the record alone; an error from fn is returned as it is, nothing saved.
 * cur is only valid during the call. Concurrent updaters run one after
 * another, so none loses another's change, and fn may take its time: a
 * token refresh belongs inside it, so that two processes never spend the
 * same (possibly rotating, single-use) refresh token. Readers do not wait.
 */
enum dhis2_err
dhis2_store_update(const struct dhis2_store_opts *o, const char *profile,
                   enum dhis2_err (*fn)(const struct dhis2_token_record *cur,
                                        struct dhis2_token_record **next,
                                        long *keep_for, void *arg),
                   void *arg, char *err, size_t errlen);

/*
 * Removes the own record of profile under its lock: the key is
 * invalidated (the kernel wipes it at once), and PROFILE.json, a leftover
 * PROFILE.json.tmp and PROFILE.lock are unlinked. AUTO removes from both
 * backends. DHIS2_OK also when there was nothing to remove.
 */
enum dhis2_err dhis2_store_delete(const struct dhis2_store_opts *o,
                                  const char *profile, char *err,
                                  size_t errlen);

#endif /* DHIS2_STORE_H */
