/* The per-user OAuth2 token store: kernel keyring or a file, one API. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <json-c/printbuf.h>
#include <keyutils.h>

#include "dhis2/secret.h"
#include "dhis2/store.h"

#define STORE_RECORD_MAX (64 * 1024) /* bytes of one record, file or key */
#define STORE_PROFILE_MAX 64
#define STORE_KEY_PREFIX "dhis2-auth:"
#define STORE_KEY_PERM (KEY_POS_ALL | KEY_USR_VIEW | KEY_USR_READ)
#define STORE_SUBDIR "dhis2-auth"
#define STORE_HOME_SUBDIR "/.local/state/" STORE_SUBDIR

/* File names of one profile in the store's directory. */
struct names {
  char record[STORE_PROFILE_MAX + 16]; /* PROFILE.json */
  char tmp[STORE_PROFILE_MAX + 16];    /* PROFILE.json.tmp */
  char lock[STORE_PROFILE_MAX + 16];   /* PROFILE.lock */
  char key[STORE_PROFILE_MAX + 16];    /* dhis2-auth:PROFILE */
};

/* What one operation works on. */
struct op {
  const struct dhis2_store_opts *o;
  const char *profile;
  struct names n;
  bool own;           /* o->uid is this process's euid */
  char dir[PATH_MAX]; /* the file backend's directory, "" until needed */
  char *err;
  size_t errlen;
};

/* ---- the record ---- */

void dhis2_token_record_free(struct dhis2_token_record *rec)
{
  if (rec == NULL)
    return;
  free(rec->url);
  free(rec->username);
  dhis2_secret_free(rec->access_token);
  dhis2_secret_free(rec->refresh_token);
  dhis2_secret_free(rec->id_token);
  free(rec->scope);
  free(rec);
}

/* *dst = a copy of src (NULL stays NULL). Returns false on no memory. */
static bool copy_str(char **dst, const char *src)
{
  *dst = NULL;
  if (src == NULL)
    return true;
  *dst = strdup(src);
  return *dst != NULL;
}

struct dhis2_token_record *
dhis2_token_record_dup(const struct dhis2_token_record *rec)
{
  struct dhis2_token_record *r = calloc(1, sizeof(*r));

  if (r == NULL)
    return NULL;
  if (!copy_str(&r->url, rec->url) || !copy_str(&r->username, rec->username) ||
      !copy_str(&r->access_token, rec->access_token) ||
      !copy_str(&r->refresh_token, rec->refresh_token) ||
      !copy_str(&r->id_token, rec->id_token) ||
      !copy_str(&r->scope, rec->scope)) {
    dhis2_token_record_free(r);
    return NULL;
  }
  r->expires_at = rec->expires_at;
  r->obtained_at = rec->obtained_at;
  return r;
}

/*
 * The writer is ours, not json-c's: json-c grows its print buffer with
 * realloc() and frees the old blocks unwiped, which would scatter tokens
 * over the heap. Ours measures first (b NULL), then writes into one block.
 */
static size_t put(char *b, size_t pos, const char *s, size_t n)
{
  if (b != NULL)
    memcpy(b + pos, s, n);
  return pos + n;
}

/* Appends "key": and the JSON string s, or null when s is NULL. */
static size_t put_str(char *b, size_t pos, const char *key, const char *s)
{
  static const char hex[] = "0123456789abcdef";

  pos = put(b, pos, "\"", 1);
  pos = put(b, pos, key, strlen(key));
  pos = put(b, pos, "\":", 2);
  if (s == NULL)
    return put(b, pos, "null", 4);
  pos = put(b, pos, "\"", 1);
  for (; *s != '\0'; s++) {
    unsigned char c = (unsigned char)*s;
    char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};

    if (c == '"' || c == '\\') {
      e[1] = (char)c;
      pos = put(b, pos, e, 2);
    } else if (c < 0x20) {
      pos = put(b, pos, e, sizeof(e));
    } else {
      pos = put(b, pos, s, 1);
    }
  }
  return put(b, pos, "\"", 1);
}

static size_t put_time(char *b, size_t pos, const char *key, time_t t)
{
  char num[32];
  int n = snprintf(num, sizeof(num), "%lld", (long long)t);

  pos = put(b, pos, "\"", 1);
  pos = put(b, pos, key, strlen(key));
  pos = put(b, pos, "\":", 2);
  return put(b, pos, num, (size_t)n);
}

static size_t put_record(char *b, const struct dhis2_token_record *r)
{
  size_t pos = put(b, 0, "{", 1);

  pos = put_str(b, pos, "url", r->url);
  pos = put(b, pos, ",", 1);
  pos = put_str(b, pos, "username", r->username);
  pos = put(b, pos, ",", 1);
  pos = put_str(b, pos, "access_token", r->access_token);
  pos = put(b, pos, ",", 1);
  pos = put_str(b, pos, "refresh_token", r->refresh_token);
  pos = put(b, pos, ",", 1);
  pos = put_str(b, pos, "id_token", r->id_token);
  pos = put(b, pos, ",", 1);
  pos = put_time(b, pos, "expires_at", r->expires_at);
  pos = put(b, pos, ",", 1);
  pos = put_str(b, pos, "scope", r->scope);
  pos = put(b, pos, ",", 1);
  pos = put_time(b, pos, "obtained_at", r->obtained_at);
  return put(b, pos, "}\n", 2);
}

enum dhis2_err dhis2_token_record_to_json(const struct dhis2_token_record *rec,
                                          char **out, size_t *len)
{
  size_t n;
  char *b;

  *out = NULL;
  *len = 0;
  if (rec == NULL || rec->url == NULL || rec->username == NULL ||
      rec->access_token == NULL || rec->expires_at < 0 || rec->obtained_at < 0)
    return DHIS2_ERR_INVAL;
  n = put_record(NULL, rec);
  b = malloc(n + 1);
  if (b == NULL)
    return DHIS2_ERR_NOMEM;
  put_record(b, rec);
  b[n] = '\0';
  *out = b; /* transferred */
  *len = n;
  return DHIS2_OK;
}

/* json-c keeps the strings it parses in its tokener's buffer and in each
   string object, and frees both unwiped: wipe the secret ones first. The
   bytes are json-c's writable heap; only its API hands them out const. */
static void wipe_member(struct json_object *root, const char *key)
{
  struct json_object *m = NULL;

  if (json_object_object_get_ex(root, key, &m) &&
      json_object_is_type(m, json_type_string))
    dhis2_secret_wipe((char *)json_object_get_string(m),
                      (size_t)json_object_get_string_len(m));
}

/*
 * The tokener's own buffer. json-c (through 0.18 at least) still declares
 * struct json_tokener, marking the fields "do not access": it is the only
 * way to wipe the last strings parsed, and to size the buffer up front so
 * that no realloc() leaves a partial token behind.
 */
static struct printbuf *tokener_buffer(struct json_tokener *tok)
{
  return tok->pb;
}

/* Copies member key of root into *dst: a string, or (optional) null or
   absent. Returns NULL on success, else what is wrong with it. */
static const char *take_str(struct json_object *root, const char *key,
                            bool required, char **dst, bool *nomem)
{
  struct json_object *m = NULL;
  const char *s;
  size_t n;

  *dst = NULL;
  if (!json_object_object_get_ex(root, key, &m) ||
      json_object_is_type(m, json_type_null))
    return required ? "missing" : NULL;
  if (!json_object_is_type(m, json_type_string))
    return "not a string";
  s = json_object_get_string(m);
  n = (size_t)json_object_get_string_len(m);
  if (strlen(s) != n)
    return "holds a NUL";
  if (required && n == 0)
    return "empty";
  *dst = strdup(s);
  if (*dst == NULL)
    *nomem = true;
  return NULL;
}

static const char *take_time(struct json_object *root, const char *key,
                             time_t *dst)
{
  struct json_object *m = NULL;
  int64_t v;

  *dst = 0;
  if (!json_object_object_get_ex(root, key, &m) ||
      json_object_is_type(m, json_type_null))
    return NULL;
  if (!json_object_is_type(m, json_type_int))
    return "not an integer";
  errno = 0;
  v = json_object_get_int64(m);
  if (v < 0 || errno != 0)
    return "out of range";
  *dst = (time_t)v;
  return NULL;
}

enum dhis2_err dhis2_token_record_from_json(const char *json, size_t len,
                                            struct dhis2_token_record **out,
                                            char *err, size_t errlen)
{
  static const char *const secrets[] = {"access_token", "refresh_token",
                                        "id_token"};
  enum dhis2_err rc = DHIS2_ERR_NOMEM;
  struct dhis2_token_record *r = NULL;
  struct json_tokener *tok = NULL;
  struct json_object *root = NULL;
  struct printbuf *pb = NULL;
  const char *why = NULL;
  const char *bad = NULL;
  bool nomem = false;

  *out = NULL;
  if (errlen > 0)
    err[0] = '\0';
  if (len > STORE_RECORD_MAX) {
    snprintf(err, errlen, "the record is larger than %d bytes",
             STORE_RECORD_MAX);
    return DHIS2_ERR_INVAL;
  }
  r = calloc(1, sizeof(*r));
  tok = json_tokener_new();
  if (r == NULL || tok == NULL)
    goto out;
  pb = tokener_buffer(tok);
  if (printbuf_memset(pb, 0, 0, STORE_RECORD_MAX + 1) != 0)
    goto out;
  printbuf_reset(pb);
  json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
  rc = DHIS2_ERR_INVAL;
  root = json_tokener_parse_ex(tok, json, (int)len);
  if (root == NULL || json_tokener_get_error(tok) != json_tokener_success ||
      json_tokener_get_parse_end(tok) != len ||
      !json_object_is_type(root, json_type_object)) {
    snprintf(err, errlen, "the record is not a JSON object");
    goto out;
  }
  {
    const struct {
      const char *key;
      bool required;
      char **dst;
    } strs[] = {{"url", true, &r->url},
                {"username", true, &r->username},
                {"access_token", true, &r->access_token},
                {"refresh_token", false, &r->refresh_token},
                {"id_token", false, &r->id_token},
                {"scope", false, &r->scope}};

    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
      bad = strs[i].key;
      why = take_str(root, bad, strs[i].required, strs[i].dst, &nomem);
      if (why != NULL || nomem)
        break;
    }
  }
  if (why == NULL && !nomem) {
    bad = "expires_at";
    why = take_time(root, bad, &r->expires_at);
  }
  if (why == NULL && !nomem) {
    bad = "obtained_at";
    why = take_time(root, bad, &r->obtained_at);
  }
  if (nomem) {
    rc = DHIS2_ERR_NOMEM;
    goto out;
  }
  if (why != NULL) {
    snprintf(err, errlen, "the record's %s is %s", bad, why);
    goto out;
  }
  *out = r;
  r = NULL; /* transferred */
  rc = DHIS2_OK;
out:
  if (root != NULL) {
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
      wipe_member(root, secrets[i]);
    json_object_put(root);
  }
  if (pb != NULL && pb->buf != NULL)
    dhis2_secret_wipe(pb->buf, (size_t)pb->size);
  if (tok != NULL)
    json_tokener_free(tok);
  dhis2_token_record_free(r);
  return rc;
}

bool dhis2_store_profile_valid(const char *profile)
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "abcdefghijklmnopqrstuvwxyz0123456789_.-";
  size_t n;

  if (profile == NULL)
    return false;
  n = strspn(profile, alphabet);
  return n >= 1 && n <= STORE_PROFILE_MAX && profile[n] == '\0';
}

/* ---- setting up an operation ---- */

static enum dhis2_err op_init(struct op *op, const struct dhis2_store_opts *o,
                              const char *profile, char *err, size_t errlen)
{
  memset(op, 0, sizeof(*op));
  op->o = o;
  op->profile = profile;
  op->err = err;
  op->errlen = errlen;
  if (errlen > 0)
    err[0] = '\0';
  if (o == NULL || !dhis2_store_profile_valid(profile)) {
    snprintf(err, errlen, "invalid profile name (want [A-Za-z0-9_.-]{1,%d})",
             STORE_PROFILE_MAX);
    return DHIS2_ERR_INVAL;
  }
  if (o->backend != DHIS2_STORE_AUTO && o->backend != DHIS2_STORE_KEYRING &&
      o->backend != DHIS2_STORE_FILE) {
    snprintf(err, errlen, "unknown token store backend");
    return DHIS2_ERR_INVAL;
  }
  op->own = o->uid == geteuid();
  snprintf(op->n.record, sizeof(op->n.record), "%s.json", profile);
  snprintf(op->n.tmp, sizeof(op->n.tmp), "%s.json.tmp", profile);
  snprintf(op->n.lock, sizeof(op->n.lock), "%s.lock", profile);
  snprintf(op->n.key, sizeof(op->n.key), STORE_KEY_PREFIX "%s", profile);
  return DHIS2_OK;
}

/* The length of home without trailing slashes ("/" stays 1). */
static size_t home_len(const char *home)
{
  size_t n = strlen(home);

  while (n > 1 && home[n - 1] == '/')
    n--;
  return n;
}

/* Fills op->dir from the options, the environment (own records only) or
   the password database. */
static enum dhis2_err op_dir(struct op *op)
{
  const struct dhis2_store_opts *o = op->o;
  const char *state = NULL;
  const char *home = o->home;
  struct passwd pw, *pwp = NULL;
  char pwbuf[4096];
  int n;

  if (op->dir[0] != '\0')
    return DHIS2_OK;
  if (o->dir != NULL) {
    if (o->dir[0] != '/') {
      snprintf(op->err, op->errlen,
               "%s: the store directory must be an absolute path", o->dir);
      return DHIS2_ERR_INVAL;
    }
    n = snprintf(op->dir, sizeof(op->dir), "%s", o->dir);
  } else if (!op->own) {
    if (home == NULL || home[0] != '/') {
      snprintf(op->err, op->errlen,
               "reading the records of uid %u needs its home directory or the "
               "store directory",
               (unsigned)o->uid);
      return DHIS2_ERR_INVAL;
    }
    n = snprintf(op->dir, sizeof(op->dir), "%.*s" STORE_HOME_SUBDIR,
                 (int)home_len(home), home);
  } else {
    /* XDG: a relative value is invalid and must be ignored. */
    state = secure_getenv("XDG_STATE_HOME");
    if (state != NULL && state[0] == '/') {
      n = snprintf(op->dir, sizeof(op->dir), "%s/" STORE_SUBDIR, state);
    } else {
      const char *env = secure_getenv("HOME");

      if (env != NULL && env[0] == '/')
        home = env;
      if ((home == NULL || home[0] != '/') &&
          getpwuid_r(o->uid, &pw, pwbuf, sizeof(pwbuf), &pwp) == 0 &&
          pwp != NULL)
        home = pw.pw_dir;
      if (home == NULL || home[0] != '/') {
        snprintf(op->err, op->errlen,
                 "no home directory for uid %u: set HOME or XDG_STATE_HOME",
                 (unsigned)o->uid);
        return DHIS2_ERR_CONFIG;
      }
      n = snprintf(op->dir, sizeof(op->dir), "%.*s" STORE_HOME_SUBDIR,
                   (int)home_len(home), home);
    }
  }
  if (n < 0 || (size_t)n >= sizeof(op->dir)) {
    op->dir[0] = '\0';
    snprintf(op->err, op->errlen, "the store directory's path is too long");
    return DHIS2_ERR_INVAL;
  }
  return DHIS2_OK;
}

/* ---- the keyring backend ---- */

/* Errors of keyctl_get_persistent() that mean "no keyring here". */
static bool keyring_unavailable(int e)
{
  return e == EOPNOTSUPP || e == ENOSYS || e == EPERM || e == EACCES ||
         e == EDQUOT;
}

/*
 * Links uid's persistent keyring into this thread's keyring, which makes
 * the keys in it possessed (readable under possessor permissions). Sets
 * *unlink_after unless it was linked there already, so that keyring_close()
 * leaves the thread's keyrings as they were. Returns the keyring's serial,
 * or -1 with errno set.
 */
static key_serial_t keyring_open(uid_t uid, bool *unlink_after)
{
  void *list = NULL;
  long n = keyctl_read_alloc(KEY_SPEC_THREAD_KEYRING, &list);
  key_serial_t kr =
      (key_serial_t)keyctl_get_persistent(uid, KEY_SPEC_THREAD_KEYRING);
  int saved = errno;

  *unlink_after = kr >= 0;
  for (long i = 0; kr >= 0 && n > 0 && i < n / (long)sizeof(key_serial_t); i++)
    if (((key_serial_t *)list)[i] == kr)
      *unlink_after = false;
  free(list);
  errno = saved;
  return kr;
}

static void keyring_close(key_serial_t kr, bool unlink_after)
{
  int saved = errno;

  if (kr >= 0 && unlink_after)
    keyctl_unlink(kr, KEY_SPEC_THREAD_KEYRING);
  errno = saved;
}

/* keyring_open() for op, with its error in op->err. *skip is set (and
   DHIS2_OK returned) when AUTO should use the file instead. */
static enum dhis2_err op_keyring(struct op *op, key_serial_t *kr,
                                 bool *unlink_after, bool *skip)
{
  int e;

  *skip = false;
  *kr = keyring_open(op->o->uid, unlink_after);
  if (*kr >= 0)
    return DHIS2_OK;
  e = errno;
  if (keyring_unavailable(e) && op->o->backend == DHIS2_STORE_AUTO) {
    *skip = true;
    return DHIS2_OK;
  }
  snprintf(op->err, op->errlen,
           "the persistent keyring of uid %u is not usable here "
           "(keyctl_get_persistent: %s)%s",
           (unsigned)op->o->uid, strerror(e),
           keyring_unavailable(e) ? "; use token_store = file or auto" : "");
  return keyring_unavailable(e) ? DHIS2_ERR_CONFIG : DHIS2_ERR_IO;
}

/* The key of op's profile in kr: its serial, 0 when there is none, -1 on
   an error (op->err set). Only a key owned by the record's uid counts. */
static key_serial_t keyring_find(struct op *op, key_serial_t kr)
{
  key_serial_t id = (key_serial_t)keyctl_search(kr, "user", op->n.key, 0);
  char *desc = NULL;
  unsigned long owner = ULONG_MAX;

  if (id < 0) {
    if (errno == ENOKEY || errno == EKEYEXPIRED || errno == EKEYREVOKED)
      return 0;
    snprintf(op->err, op->errlen, "keyring: searching for %s: %s", op->n.key,
             strerror(errno));
    return -1;
  }
  /* "user;UID;GID;PERM;DESCRIPTION" */
  if (keyctl_describe_alloc(id, &desc) >= 0 &&
      strncmp(desc, "user;", 5) == 0) {
    char *end = NULL;

    owner = strtoul(desc + 5, &end, 10);
    if (end == NULL || *end != ';')
      owner = ULONG_MAX;
  }
  free(desc);
  if (owner != (unsigned long)op->o->uid) {
    snprintf(op->err, op->errlen,
             "keyring: refusing key %s: not owned by uid %u", op->n.key,
             (unsigned)op->o->uid);
    return -1;
  }
  return id;
}

/* Reads key id into a buffer of *len bytes the caller wipes and frees. */
static enum dhis2_err keyring_read(struct op *op, key_serial_t id, char **out,
                                   size_t *len)
{
  /* One read into a buffer of the largest payload: keyctl_read_alloc()
     may free a first, too small, buffer unwiped. */
  char *buf = malloc(STORE_RECORD_MAX + 1);
  long n;

  *out = NULL;
  *len = 0;
  if (buf == NULL)
    return DHIS2_ERR_NOMEM;
  n = keyctl_read(id, buf, STORE_RECORD_MAX);
  if (n < 0 || n > STORE_RECORD_MAX) {
    if (n < 0)
      snprintf(op->err, op->errlen, "keyring: reading %s: %s", op->n.key,
               strerror(errno));
    else
      snprintf(op->err, op->errlen, "keyring: %s is larger than %d bytes",
               op->n.key, STORE_RECORD_MAX);
    dhis2_secret_free_n(buf, STORE_RECORD_MAX + 1);
    return DHIS2_ERR_IO;
  }
  buf[n] = '\0';
  *out = buf; /* transferred: STORE_RECORD_MAX + 1 bytes to wipe */
  *len = (size_t)n;
  return DHIS2_OK;
}

/* Stores data as op's key in kr with the store's permissions and a
   timeout of keep_for seconds; *quota is set on EDQUOT. */
static enum dhis2_err keyring_write(struct op *op, key_serial_t kr,
                                    const char *data, size_t len,
                                    long keep_for, bool *quota)
{
  key_serial_t id = add_key("user", op->n.key, data, len, kr);
  unsigned timeout = 0;

  *quota = false;
  if (id < 0) {
    *quota = errno == EDQUOT;
    snprintf(op->err, op->errlen, "keyring: storing %s: %s", op->n.key,
             strerror(errno));
    return DHIS2_ERR_IO;
  }
  if (keep_for > 0)
    timeout = keep_for > (long)UINT_MAX ? UINT_MAX : (unsigned)keep_for;
  if (keyctl_setperm(id, STORE_KEY_PERM) != 0 ||
      keyctl_set_timeout(id, timeout) != 0) {
    snprintf(op->err, op->errlen, "keyring: setting up %s: %s", op->n.key,
             strerror(errno));
    keyctl_invalidate(id);
    return DHIS2_ERR_IO;
  }
  return DHIS2_OK;
}

/* Invalidates op's key in kr if there is one. */
static enum dhis2_err keyring_remove(struct op *op, key_serial_t kr)
{
  key_serial_t id = keyring_find(op, kr);

  if (id < 0)
    return DHIS2_ERR_IO;
  if (id > 0 && keyctl_invalidate(id) != 0 && errno != ENOKEY &&
      errno != EKEYEXPIRED && errno != EKEYREVOKED) {
    snprintf(op->err, op->errlen, "keyring: removing %s: %s", op->n.key,
             strerror(errno));
    return DHIS2_ERR_IO;
  }
  return DHIS2_OK;
}

/* ---- the file backend ---- */

/* Checks a directory on the way to another uid's record. */
static enum dhis2_err check_dir(struct op *op, int fd, const char *path)
{
  struct stat st;

  if (fstat(fd, &st) != 0) {
    snprintf(op->err, op->errlen, "%s: %s", path, strerror(errno));
    return DHIS2_ERR_IO;
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(op->err, op->errlen, "%s: refusing: not a directory", path);
    return DHIS2_ERR_CONFIG;
  }
  if (st.st_uid != op->o->uid && st.st_uid != 0) {
    snprintf(op->err, op->errlen, "%s: refusing: owned by uid %u", path,
             (unsigned)st.st_uid);
    return DHIS2_ERR_CONFIG;
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    snprintf(op->err, op->errlen, "%s: refusing: writable by group or others",
             path);
    return DHIS2_ERR_CONFIG;
  }
  return DHIS2_OK;
}

/*
 * Opens op->dir of another uid for reading, component by component: home
 * as given, below it each component with O_NOFOLLOW, each checked. Sets
 * *out to an O_PATH descriptor, or -1 when a component does not exist.
 */
static enum dhis2_err walk_dir(struct op *op, int *out)
{
  enum dhis2_err rc = DHIS2_ERR_INVAL;
  const char *home = op->o->home;
  char path[PATH_MAX];
  char rest[PATH_MAX];
  char *save = NULL;
  size_t hl = 1;
  int fd = -1;

  *out = -1;
  if (home != NULL) {
    hl = home_len(home);
    if (home[0] != '/' || strncmp(op->dir, home, hl) != 0 ||
        (hl > 1 && op->dir[hl] != '/' && op->dir[hl] != '\0')) {
      snprintf(op->err, op->errlen, "%s: not under the home directory %s",
               op->dir, home);
      goto out;
    }
  }
  snprintf(path, sizeof(path), "%.*s", (int)hl, home != NULL ? home : "/");
  snprintf(rest, sizeof(rest), "%s", op->dir + hl);
  fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    rc = errno == ENOENT ? DHIS2_OK : DHIS2_ERR_IO;
    snprintf(op->err, op->errlen, "%s: %s", path, strerror(errno));
    goto out;
  }
  rc = check_dir(op, fd, path);
  if (rc != DHIS2_OK)
    goto out;
  for (char *c = strtok_r(rest, "/", &save); c != NULL;
       c = strtok_r(NULL, "/", &save)) {
    size_t used = strlen(path);
    int next;

    if (strcmp(c, ".") == 0)
      continue;
    if (strcmp(c, "..") == 0) {
      rc = DHIS2_ERR_INVAL;
      snprintf(op->err, op->errlen, "%s: refusing \"..\"", op->dir);
      goto out;
    }
    snprintf(path + used, sizeof(path) - used, "%s%s",
             path[used - 1] == '/' ? "" : "/", c);
    next = openat(fd, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) {
      int e = errno;

      rc = e == ENOENT                  ? DHIS2_OK
           : e == ELOOP || e == ENOTDIR ? DHIS2_ERR_CONFIG
                                        : DHIS2_ERR_IO;
      snprintf(op->err, op->errlen, "%s: %s", path,
               rc == DHIS2_ERR_CONFIG
                   ? "refusing: a symbolic link or not a directory"
                   : strerror(e));
      goto out;
    }
    close(fd);
    fd = next;
    rc = check_dir(op, fd, path);
    if (rc != DHIS2_OK)
      goto out;
  }
  *out = fd;
  fd = -1; /* transferred */
  rc = DHIS2_OK;
out:
  if (fd >= 0)
    close(fd);
  if (rc == DHIS2_OK && *out < 0 && op->errlen > 0)
    op->err[0] = '\0'; /* absent is not an error */
  return rc;
}

/*
 * Opens op->dir of the caller's own records (O_NOFOLLOW on the last
 * component), creating missing directories 0700 when create is true. It
 * must be ours and not writable by others. *out is -1 when it does not
 * exist and create is false.
 */
static enum dhis2_err own_dir(struct op *op, bool create, int *out)
{
  char p[PATH_MAX];
  struct stat st;
  bool made = false;
  int fd;

  *out = -1;
  if (create) {
    snprintf(p, sizeof(p), "%s", op->dir);
    for (char *s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
      if (s != NULL)
        *s = '\0';
      if (mkdir(p, 0700) == 0) {
        made = s == NULL;
      } else if (errno != EEXIST) {
        snprintf(op->err, op->errlen, "%s: cannot create: %s", p,
                 strerror(errno));
        return DHIS2_ERR_IO;
      }
      if (s == NULL)
        break;
      *s = '/';
    }
  }
  fd = open(op->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT && !create)
      return DHIS2_OK;
    snprintf(op->err, op->errlen, "%s: %s", op->dir,
             errno == ELOOP || errno == ENOTDIR
                 ? "refusing: a symbolic link or not a directory"
                 : strerror(errno));
    return errno == ELOOP || errno == ENOTDIR ? DHIS2_ERR_CONFIG
                                              : DHIS2_ERR_IO;
  }
  if (made)
    (void)fchmod(fd, 0700); /* whatever the umask */
  if (fstat(fd, &st) != 0 || st.st_uid != geteuid() ||
      (st.st_mode & (S_IWGRP | S_IWOTH))) {
    snprintf(
        op->err, op->errlen,
        "%s: refusing: not owned by uid %u or writable by group or others",
        op->dir, (unsigned)geteuid());
    close(fd);
    return DHIS2_ERR_CONFIG;
  }
  *out = fd;
  return DHIS2_OK;
}

/*
 * Reads the record file name in dfd: a regular file owned by op->o->uid
 * with no access for group or others, never through a symlink, never
 * blocking on a FIFO. *buf is NULL when it does not exist; else malloc'd
 * with *cap bytes to wipe and *len read.
 */
static enum dhis2_err read_file_at(struct op *op, int dfd, char **buf,
                                   size_t *cap, size_t *len)
{
  enum dhis2_err rc = DHIS2_ERR_IO;
  struct stat st;
  char *b = NULL;
  size_t got = 0;
  size_t size = 0;
  int fd;

  *buf = NULL;
  *cap = 0;
  *len = 0;
  fd = openat(dfd, op->n.record,
              O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return DHIS2_OK;
    rc = errno == ELOOP ? DHIS2_ERR_CONFIG : DHIS2_ERR_IO;
    snprintf(op->err, op->errlen, "%s/%s: %s", op->dir, op->n.record,
             errno == ELOOP ? "refusing a symbolic link" : strerror(errno));
    return rc;
  }
  if (fstat(fd, &st) != 0) {
    snprintf(op->err, op->errlen, "%s/%s: %s", op->dir, op->n.record,
             strerror(errno));
    goto out;
  }
  rc = DHIS2_ERR_CONFIG;
  if (!S_ISREG(st.st_mode)) {
    snprintf(op->err, op->errlen, "%s/%s: refusing: not a regular file",
             op->dir, op->n.record);
    goto out;
  }
  if (st.st_uid != op->o->uid) {
    snprintf(op->err, op->errlen, "%s/%s: refusing: owned by uid %u", op->dir,
             op->n.record, (unsigned)st.st_uid);
    goto out;
  }
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    snprintf(op->err, op->errlen,
             "%s/%s: refusing: group or others have access (want 0600)",
             op->dir, op->n.record);
    goto out;
  }
  if (st.st_size > STORE_RECORD_MAX) {
    snprintf(op->err, op->errlen, "%s/%s: refusing: larger than %d bytes",
             op->dir, op->n.record, STORE_RECORD_MAX);
    goto out;
  }
  rc = DHIS2_ERR_NOMEM;
  size = (size_t)st.st_size;
  b = malloc(size + 1);
  if (b == NULL)
    goto out;
  rc = DHIS2_ERR_IO;
  for (;;) {
    ssize_t n = read(fd, b + got, size + 1 - got);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      snprintf(op->err, op->errlen, "%s/%s: %s", op->dir, op->n.record,
               strerror(errno));
      goto out;
    }
    if (n == 0)
      break;
    got += (size_t)n;
    if (got > size) {
      snprintf(op->err, op->errlen, "%s/%s: changed while being read", op->dir,
               op->n.record);
      goto out;
    }
  }
  b[got] = '\0';
  *buf = b;
  b = NULL; /* transferred */
  *cap = size + 1;
  *len = got;
  rc = DHIS2_OK;
out:
  dhis2_secret_free_n(b, size + 1);
  close(fd);
  return rc;
}

/* Replaces the record in dfd with data: PROFILE.json.tmp, fsync, the test
   hook, rename, fsync of the directory. Called under the lock. */
static enum dhis2_err write_file_at(struct op *op, int dfd, const char *data,
                                    size_t len)
{
  enum dhis2_err rc = DHIS2_ERR_IO;
  char tmp_path[PATH_MAX + 128];
  const char *p = data;
  int fd;

  snprintf(tmp_path, sizeof(tmp_path), "%s/%s", op->dir, op->n.tmp);
  /* A leftover of a crashed save holds a token: it goes first. */
  if (unlinkat(dfd, op->n.tmp, 0) != 0 && errno != ENOENT) {
    snprintf(op->err, op->errlen, "%s: %s", tmp_path, strerror(errno));
    return DHIS2_ERR_IO;
  }
  fd = openat(dfd, op->n.tmp,
              O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    snprintf(op->err, op->errlen, "%s: %s", tmp_path, strerror(errno));
    return DHIS2_ERR_IO;
  }
  if (fchmod(fd, 0600) != 0)
    goto fail;
  while (len > 0) {
    ssize_t n = write(fd, p, len);

    if (n < 0 && errno == EINTR)
      continue;
    if (n == 0)
      errno = EIO;
    if (n <= 0)
      goto fail;
    p += n;
    len -= (size_t)n;
  }
  if (fsync(fd) != 0)
    goto fail;
  if (close(fd) != 0) {
    fd = -1;
    goto fail;
  }
  fd = -1;
  if (op->o->before_rename != NULL)
    op->o->before_rename(tmp_path, op->o->hook_arg);
  if (renameat(dfd, op->n.tmp, dfd, op->n.record) != 0)
    goto fail;
  /* The rename itself must survive a power cut. */
  if (fsync(dfd) != 0) {
    snprintf(op->err, op->errlen, "%s: fsync: %s", op->dir, strerror(errno));
    return DHIS2_ERR_IO;
  }
  return DHIS2_OK;
fail:
  snprintf(op->err, op->errlen, "%s: %s", tmp_path, strerror(errno));
  if (fd >= 0)
    close(fd);
  unlinkat(dfd, op->n.tmp, 0);
  return rc;
}

/* ---- the profile lock ---- */

/*
 * Takes the exclusive flock on PROFILE.lock in dfd. Delete unlinks the
 * lock file while holding it, so a lock won on a file that is no longer
 * the one at that name is worthless: try again.
 */
static enum dhis2_err lock_take(struct op *op, int dfd, int *out)
{
  *out = -1;
  for (;;) {
    struct stat a, b;
    int fd = openat(dfd, op->n.lock,
                    O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
                        O_CLOEXEC,
                    0600);
    int r;

    if (fd < 0) {
      snprintf(op->err, op->errlen, "%s/%s: %s", op->dir, op->n.lock,
               errno == ELOOP ? "refusing a symbolic link" : strerror(errno));
      return DHIS2_ERR_IO;
    }
    do
      r = flock(fd, LOCK_EX);
    while (r != 0 && errno == EINTR);
    if (r != 0 || fstat(fd, &a) != 0 || !S_ISREG(a.st_mode)) {
      snprintf(op->err, op->errlen, "%s/%s: cannot lock: %s", op->dir,
               op->n.lock, r != 0 ? strerror(errno) : "not a regular file");
      close(fd);
      return DHIS2_ERR_IO;
    }
    if (fstatat(dfd, op->n.lock, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
        a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
      *out = fd;
      return DHIS2_OK;
    }
    close(fd);
  }
}

/* ---- operations ---- */

static void where_clear(struct dhis2_store_where *w)
{
  if (w != NULL)
    memset(w, 0, sizeof(*w));
}

/* Parses a record read from a backend; buf is wiped and freed. */
static enum dhis2_err parse_read(struct op *op, char *buf, size_t cap,
                                 size_t len, const char *where,
                                 struct dhis2_token_record **rec)
{
  char why[256];
  enum dhis2_err rc =
      dhis2_token_record_from_json(buf, len, rec, why, sizeof(why));

  dhis2_secret_free_n(buf, cap);
  if (rc == DHIS2_ERR_INVAL)
    snprintf(op->err, op->errlen, "%s: %s", where, why);
  return rc;
}

/* Reads from the keyring: *rec stays NULL when there is no key; *skip
   when AUTO finds no usable keyring. */
static enum dhis2_err load_keyring(struct op *op,
                                   struct dhis2_token_record **rec,
                                   struct dhis2_store_where *w, bool *skip)
{
  enum dhis2_err rc;
  bool unlink_after = false;
  key_serial_t kr = -1;
  key_serial_t id;
  char what[128];
  char *buf = NULL;
  size_t len = 0;

  rc = op_keyring(op, &kr, &unlink_after, skip);
  if (rc != DHIS2_OK || *skip)
    return rc;
  id = keyring_find(op, kr);
  rc = DHIS2_ERR_IO;
  if (id < 0)
    goto out;
  rc = DHIS2_OK;
  if (id == 0)
    goto out;
  rc = keyring_read(op, id, &buf, &len);
  if (rc != DHIS2_OK)
    goto out;
  snprintf(what, sizeof(what), "keyring: key %ld (%s)", (long)id, op->n.key);
  rc = parse_read(op, buf, STORE_RECORD_MAX + 1, len, what, rec);
  if (rc == DHIS2_OK && w != NULL) {
    w->found = true;
    w->backend = DHIS2_STORE_KEYRING;
    w->key_id = id;
    snprintf(w->location, sizeof(w->location),
             "keyring: key %ld \"%s\" in the persistent keyring of uid %u",
             (long)id, op->n.key, (unsigned)op->o->uid);
  }
out:
  keyring_close(kr, unlink_after);
  return rc;
}

static enum dhis2_err load_file(struct op *op, struct dhis2_token_record **rec,
                                struct dhis2_store_where *w)
{
  enum dhis2_err rc;
  char path[PATH_MAX + 128];
  char *buf = NULL;
  size_t cap = 0;
  size_t len = 0;
  int dfd = -1;

  rc = op_dir(op);
  if (rc != DHIS2_OK)
    return rc;
  rc = op->own ? own_dir(op, false, &dfd) : walk_dir(op, &dfd);
  if (rc != DHIS2_OK || dfd < 0)
    return rc;
  rc = read_file_at(op, dfd, &buf, &cap, &len);
  close(dfd);
  if (rc != DHIS2_OK || buf == NULL)
    return rc;
  snprintf(path, sizeof(path), "%s/%s", op->dir, op->n.record);
  rc = parse_read(op, buf, cap, len, path, rec);
  if (rc == DHIS2_OK && w != NULL) {
    w->found = true;
    w->backend = DHIS2_STORE_FILE;
    snprintf(w->location, sizeof(w->location), "%s", path);
  }
  return rc;
}

static enum dhis2_err load(struct op *op, struct dhis2_token_record **rec,
                           struct dhis2_store_where *w)
{
  enum dhis2_err rc = DHIS2_OK;
  bool skip = false;

  *rec = NULL;
  where_clear(w);
  if (op->o->backend != DHIS2_STORE_FILE) {
    rc = load_keyring(op, rec, w, &skip);
    if (rc != DHIS2_OK || *rec != NULL ||
        op->o->backend == DHIS2_STORE_KEYRING)
      goto out;
  }
  rc = load_file(op, rec, w);
out:
  if (rc == DHIS2_OK && *rec != NULL && w != NULL) {
    w->expires_at = (*rec)->expires_at;
    w->obtained_at = (*rec)->obtained_at;
  }
  return rc;
}

/* Saves under the lock held on dfd; see dhis2_store_save(). */
static enum dhis2_err save(struct op *op, int dfd,
                           const struct dhis2_token_record *rec, long keep_for)
{
  enum dhis2_err rc;
  bool unlink_after = false;
  bool to_file = op->o->backend == DHIS2_STORE_FILE;
  bool skip = false;
  bool quota = false;
  key_serial_t kr = -1;
  char *data = NULL;
  size_t len = 0;

  rc = dhis2_token_record_to_json(rec, &data, &len);
  if (rc != DHIS2_OK) {
    if (rc == DHIS2_ERR_INVAL)
      snprintf(op->err, op->errlen,
               "the record lacks url, username or access_token, or has a "
               "negative time");
    return rc;
  }
  if (!to_file) {
    rc = op_keyring(op, &kr, &unlink_after, &skip);
    if (rc != DHIS2_OK)
      goto out;
    to_file = skip;
  }
  if (!to_file) {
    rc = keyring_write(op, kr, data, len, keep_for, &quota);
    if (rc == DHIS2_OK) {
      /* A stale file would outlive a logout from the keyring. */
      if (op->o->backend == DHIS2_STORE_AUTO &&
          unlinkat(dfd, op->n.record, 0) != 0 && errno != ENOENT) {
        snprintf(op->err, op->errlen, "%s/%s: %s", op->dir, op->n.record,
                 strerror(errno));
        rc = DHIS2_ERR_IO;
      }
      goto out;
    }
    if (!quota || op->o->backend != DHIS2_STORE_AUTO)
      goto out;
    /* Out of key quota: the file, and no older key to shadow it. */
    rc = keyring_remove(op, kr);
    if (rc != DHIS2_OK)
      goto out;
  }
  rc = write_file_at(op, dfd, data, len);
out:
  keyring_close(kr, unlink_after);
  dhis2_secret_free_n(data, len);
  return rc;
}

/* Opens op's own directory (created) and takes the profile's lock. */
static enum dhis2_err own_locked(struct op *op, int *dfd, int *lfd)
{
  enum dhis2_err rc;

  *dfd = -1;
  *lfd = -1;
  if (!op->own) {
    snprintf(op->err, op->errlen,
             "the records of uid %u are read-only to this process",
             (unsigned)op->o->uid);
    return DHIS2_ERR_INVAL;
  }
  rc = op_dir(op);
  if (rc == DHIS2_OK)
    rc = own_dir(op, true, dfd);
  if (rc == DHIS2_OK)
    rc = lock_take(op, *dfd, lfd);
  return rc;
}

static void own_unlock(int dfd, int lfd)
{
  if (lfd >= 0)
    close(lfd); /* releases the flock */
  if (dfd >= 0)
    close(dfd);
}

enum dhis2_err dhis2_store_keyring_probe(uid_t uid, char *err, size_t errlen)
{
  bool unlink_after = false;
  key_serial_t kr = keyring_open(uid, &unlink_after);
  int e = errno;

  if (errlen > 0)
    err[0] = '\0';
  if (kr < 0) {
    snprintf(err, errlen, "keyctl_get_persistent(uid %u): %s", (unsigned)uid,
             strerror(e));
    errno = e;
    return DHIS2_ERR_CONFIG;
  }
  keyring_close(kr, unlink_after);
  return DHIS2_OK;
}

enum dhis2_err dhis2_store_load(const struct dhis2_store_opts *o,
                                const char *profile,
                                struct dhis2_token_record **rec,
                                struct dhis2_store_where *where, char *err,
                                size_t errlen)
{
  struct op op;
  enum dhis2_err rc;

  *rec = NULL;
  where_clear(where);
  rc = op_init(&op, o, profile, err, errlen);
  if (rc != DHIS2_OK)
    return rc;
  return load(&op, rec, where);
}

enum dhis2_err dhis2_store_where(const struct dhis2_store_opts *o,
                                 const char *profile,
                                 struct dhis2_store_where *where, char *err,
                                 size_t errlen)
{
  struct dhis2_token_record *rec = NULL;
  enum dhis2_err rc = dhis2_store_load(o, profile, &rec, where, err, errlen);

  dhis2_token_record_free(rec);
  return rc;
}

enum dhis2_err dhis2_store_save(const struct dhis2_store_opts *o,
                                const char *profile,
                                const struct dhis2_token_record *rec,
                                long keep_for, char *err, size_t errlen)
{
  struct op op;
  enum dhis2_err rc;
  int dfd = -1;
  int lfd = -1;

  rc = op_init(&op, o, profile, err, errlen);
  if (rc == DHIS2_OK)
    rc = own_locked(&op, &dfd, &lfd);
  if (rc == DHIS2_OK)
    rc = save(&op, dfd, rec, keep_for);
  own_unlock(dfd, lfd);
  return rc;
}

enum dhis2_err
dhis2_store_update(const struct dhis2_store_opts *o, const char *profile,
                   enum dhis2_err (*fn)(const struct dhis2_token_record *cur,
                                        struct dhis2_token_record **next,
                                        long *keep_for, void *arg),
                   void *arg, char *err, size_t errlen)
{
  struct dhis2_token_record *cur = NULL;
  struct dhis2_token_record *next = NULL;
  struct op op;
  enum dhis2_err rc;
  long keep_for = 0;
  int dfd = -1;
  int lfd = -1;

  rc = op_init(&op, o, profile, err, errlen);
  if (rc == DHIS2_OK)
    rc = own_locked(&op, &dfd, &lfd);
  if (rc == DHIS2_OK)
    rc = load(&op, &cur, NULL);
  if (rc == DHIS2_OK)
    rc = fn(cur, &next, &keep_for, arg);
  if (rc == DHIS2_OK && next != NULL)
    rc = save(&op, dfd, next, keep_for);
  own_unlock(dfd, lfd);
  dhis2_token_record_free(cur);
  dhis2_token_record_free(next);
  return rc;
}

enum dhis2_err dhis2_store_delete(const struct dhis2_store_opts *o,
                                  const char *profile, char *err,
                                  size_t errlen)
{
  struct op op;
  enum dhis2_err rc;
  bool unlink_after = false;
  bool skip = false;
  key_serial_t kr = -1;
  int dfd = -1;
  int lfd = -1;

  rc = op_init(&op, o, profile, err, errlen);
  if (rc != DHIS2_OK)
    return rc;
  if (!op.own) {
    snprintf(err, errlen,
             "the records of uid %u are read-only to this process",
             (unsigned)o->uid);
    return DHIS2_ERR_INVAL;
  }
  rc = op_dir(&op);
  if (rc != DHIS2_OK && o->backend != DHIS2_STORE_KEYRING)
    return rc;
  /* No directory: nothing on file, and no lock to take for the key. */
  if (rc == DHIS2_OK)
    rc = own_dir(&op, false, &dfd);
  if (rc == DHIS2_OK && dfd >= 0)
    rc = lock_take(&op, dfd, &lfd);
  if (rc != DHIS2_OK && o->backend != DHIS2_STORE_KEYRING)
    goto out;
  /* The keyring alone needs neither. */
  rc = DHIS2_OK;
  if (errlen > 0)
    err[0] = '\0';
  if (o->backend != DHIS2_STORE_FILE) {
    rc = op_keyring(&op, &kr, &unlink_after, &skip);
    if (rc == DHIS2_OK && !skip)
      rc = keyring_remove(&op, kr);
    keyring_close(kr, unlink_after);
    if (rc != DHIS2_OK)
      goto out;
  }
  if (dfd < 0)
    goto out;
  if (o->backend != DHIS2_STORE_KEYRING) {
    const char *gone[] = {op.n.record, op.n.tmp};

    for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
      if (unlinkat(dfd, gone[i], 0) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "%s/%s: %s", op.dir, gone[i], strerror(errno));
        rc = DHIS2_ERR_IO;
        goto out;
      }
    }
  }
  /* Last, while still held: see lock_take(). */
  if (lfd >= 0 && unlinkat(dfd, op.n.lock, 0) != 0 && errno != ENOENT) {
    snprintf(err, errlen, "%s/%s: %s", op.dir, op.n.lock, strerror(errno));
    rc = DHIS2_ERR_IO;
  }
out:
  own_unlock(dfd, lfd);
  return rc;
}
