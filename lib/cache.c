/* The offline sign-in cache: one yescrypt-hashed record a user (cache.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <crypt.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "dhis2/cache.h"
#include "dhis2/file.h"
#include "dhis2/json.h"
#include "dhis2/secret.h"

#define RECORD_MAX (64 * 1024)
#define RECORD_VERSION 1
/* A yescrypt string is about 73 bytes; room for higher parameters. */
#define HASH_MAX 128
/* 9999-12-31: a time beyond is refused, so sums of two never overflow. */
#define TIME_MAX ((time_t)253402300799LL)
#define FAILURES_MAX 1000000
#define SALT_BYTES 16

/* --- the record's bytes --- */

void dhis2_cache_record_free(struct dhis2_cache_record *r)
{
  if (r == NULL)
    return;
  free(r->url);
  free(r->username);
  dhis2_secret_free(r->password_hash);
  dhis2_secret_free(r->pat_hash);
  dhis2_identity_free(r->id);
  free(r);
}

/* "$y$" and crypt's alphabet: what crypt_rn made, nothing to misparse. */
static bool hash_shaped(const char *s)
{
  size_t n = strlen(s);

  if (n < 4 || n > HASH_MAX || strncmp(s, "$y$", 3) != 0)
    return false;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];

    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || ch == '.' || ch == '/' || ch == '$'))
      return false;
  }
  return true;
}

/* The member key of obj, which must be there; NULL when it is not. */
static struct json_object *member(struct json_object *obj, const char *key)
{
  struct json_object *v = NULL;

  if (!json_object_object_get_ex(obj, key, &v))
    return NULL;
  return v;
}

/*
 * Sets *out to a copy of the string member key (NULL for JSON null when
 * nullable). DHIS2_ERR_MALFORMED when absent, of another type, or holding
 * a NUL byte; DHIS2_ERR_NOMEM.
 */
static enum dhis2_err get_string(struct json_object *obj, const char *key,
                                 bool nullable, char **out)
{
  struct json_object *v = NULL;
  const char *s;

  *out = NULL;
  if (!json_object_object_get_ex(obj, key, &v))
    return DHIS2_ERR_MALFORMED;
  if (v == NULL)
    return nullable ? DHIS2_OK : DHIS2_ERR_MALFORMED;
  if (!json_object_is_type(v, json_type_string))
    return DHIS2_ERR_MALFORMED;
  s = json_object_get_string(v);
  if (s == NULL || strlen(s) != (size_t)json_object_get_string_len(v))
    return DHIS2_ERR_MALFORMED;
  *out = strdup(s);
  return *out != NULL ? DHIS2_OK : DHIS2_ERR_NOMEM;
}

/* An integer member in [0, max]. */
static bool get_int(struct json_object *obj, const char *key, int64_t max,
                    int64_t *out)
{
  struct json_object *v = member(obj, key);
  int64_t n;

  if (v == NULL || !json_object_is_type(v, json_type_int))
    return false;
  errno = 0;
  n = json_object_get_int64(v);
  if (errno != 0 || n < 0 || n > max)
    return false;
  *out = n;
  return true;
}

static bool get_time(struct json_object *obj, const char *key, time_t *out)
{
  int64_t n;

  if (!get_int(obj, key, (int64_t)TIME_MAX, &n))
    return false;
  *out = (time_t)n;
  return true;
}

static enum dhis2_err get_hash(struct json_object *obj, const char *key,
                               char **out)
{
  enum dhis2_err rc = get_string(obj, key, true, out);

  if (rc == DHIS2_OK && *out != NULL && !hash_shaped(*out)) {
    dhis2_secret_free(*out);
    *out = NULL;
    rc = DHIS2_ERR_MALFORMED;
  }
  return rc;
}

/* The snapshot, an /api/me-shaped object, through the /api/me parser. */
static enum dhis2_err get_identity(struct json_object *obj,
                                   struct dhis2_identity **out)
{
  struct json_object *v = member(obj, "identity");
  const char *s;
  size_t len = 0;

  if (v == NULL || !json_object_is_type(v, json_type_object))
    return DHIS2_ERR_MALFORMED;
  s = json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN, &len);
  if (s == NULL)
    return DHIS2_ERR_NOMEM;
  return dhis2_identity_parse(s, len, out);
}

enum dhis2_err dhis2_cache_record_parse(const char *buf, size_t len,
                                        struct dhis2_cache_record **out)
{
  enum dhis2_err rc;
  struct json_object *root = NULL;
  struct dhis2_cache_record *r = NULL;
  int64_t n;

  *out = NULL;
  rc = dhis2_json_parse_object(buf, len, &root);
  if (rc != DHIS2_OK)
    goto out;
  rc = DHIS2_ERR_MALFORMED;
  if (!get_int(root, "version", INT_MAX, &n) || n != RECORD_VERSION)
    goto out;
  rc = DHIS2_ERR_NOMEM;
  r = calloc(1, sizeof(*r));
  if (r == NULL)
    goto out;
  rc = get_string(root, "url", false, &r->url);
  if (rc == DHIS2_OK)
    rc = get_string(root, "username", false, &r->username);
  if (rc == DHIS2_OK)
    rc = get_hash(root, "password_hash", &r->password_hash);
  if (rc == DHIS2_OK)
    rc = get_hash(root, "pat_hash", &r->pat_hash);
  if (rc == DHIS2_OK)
    rc = get_identity(root, &r->id);
  if (rc != DHIS2_OK)
    goto out;
  rc = DHIS2_ERR_MALFORMED;
  if (!dhis2_username_valid(r->username) ||
      !get_time(root, "checked_local", &r->checked_local) ||
      !get_time(root, "checked_server", &r->checked_server) ||
      !get_time(root, "mark", &r->mark) ||
      !get_time(root, "failed_at", &r->failed_at) ||
      !get_int(root, "failures", FAILURES_MAX, &n))
    goto out;
  r->failures = (unsigned)n;
  if (member(root, "twofactor") == NULL ||
      !json_object_is_type(member(root, "twofactor"), json_type_boolean))
    goto out;
  r->twofactor = json_object_get_boolean(member(root, "twofactor"));
  *out = r;
  r = NULL; /* transferred */
  rc = DHIS2_OK;
out:
  dhis2_cache_record_free(r);
  json_object_put(root);
  return rc;
}

time_t dhis2_cache_record_end(const struct dhis2_cache_record *r, long ttl)
{
  time_t checked = r->checked_local;

  if (r->checked_server != 0 && r->checked_server < checked)
    checked = r->checked_server;
  if (ttl < 0)
    ttl = 0;
  if (ttl > TIME_MAX)
    ttl = TIME_MAX;
  return checked + (time_t)ttl; /* both at most TIME_MAX */
}

/* Adds key: value to obj; false (value put) when value is NULL or on
   failure. */
static bool put(struct json_object *obj, const char *key,
                struct json_object *value)
{
  if (value == NULL)
    return false;
  if (json_object_object_add(obj, key, value) != 0) {
    json_object_put(value);
    return false;
  }
  return true;
}

/* key: s, or nothing when s is NULL (nullable: JSON null). */
static bool put_string(struct json_object *obj, const char *key, const char *s,
                       bool nullable)
{
  if (s == NULL)
    return !nullable || json_object_object_add(obj, key, NULL) == 0;
  return put(obj, key, json_object_new_string(s));
}

static struct json_object *named_json(const struct dhis2_named *v, size_t n)
{
  struct json_object *arr = json_object_new_array();

  for (size_t i = 0; arr != NULL && i < n; i++) {
    struct json_object *e = json_object_new_object();

    if (e == NULL || !put_string(e, "id", v[i].id, false) ||
        !put_string(e, "name", v[i].name, false) ||
        json_object_array_add(arr, e) != 0) {
      json_object_put(e);
      json_object_put(arr);
      return NULL;
    }
  }
  return arr;
}

static struct json_object *orgunits_json(const struct dhis2_orgunit *v,
                                         size_t n)
{
  struct json_object *arr = json_object_new_array();

  for (size_t i = 0; arr != NULL && i < n; i++) {
    struct json_object *e = json_object_new_object();

    if (e == NULL || !put_string(e, "id", v[i].id, false) ||
        !put_string(e, "path", v[i].path, false) ||
        json_object_array_add(arr, e) != 0) {
      json_object_put(e);
      json_object_put(arr);
      return NULL;
    }
  }
  return arr;
}

/* id as /api/me (2.38+) shows it, for dhis2_identity_parse() to read
   (records written before org units were kept have none: no unit). */
static struct json_object *identity_json(const struct dhis2_identity *id)
{
  struct json_object *o = json_object_new_object();
  struct json_object *auth = NULL;
  bool ok = o != NULL;

  ok =
      ok && put_string(o, "id", id->id, false) &&
      put_string(o, "username", id->username, false) &&
      put_string(o, "displayName", id->display_name, false) &&
      put(o, "userGroups", named_json(id->groups, id->n_groups)) &&
      put(o, "userRoles", named_json(id->roles, id->n_roles)) &&
      put(o, "organisationUnits", orgunits_json(id->orgunits, id->n_orgunits));
  if (ok) {
    auth = json_object_new_array();
    for (size_t i = 0; auth != NULL && i < id->n_authorities; i++) {
      if (json_object_array_add(
              auth, json_object_new_string(id->authorities[i])) != 0) {
        json_object_put(auth);
        auth = NULL;
      }
    }
    ok = put(o, "authorities", auth);
  }
  if (!ok) {
    json_object_put(o);
    return NULL;
  }
  return o;
}

/* The record as JSON; NULL when memory is exhausted. */
static struct json_object *record_json(const struct dhis2_cache_record *r)
{
  struct json_object *o = json_object_new_object();
  bool ok = o != NULL;

  ok = ok && put(o, "version", json_object_new_int(RECORD_VERSION)) &&
       put_string(o, "url", r->url, false) &&
       put_string(o, "username", r->username, false) &&
       put_string(o, "password_hash", r->password_hash, true) &&
       put_string(o, "pat_hash", r->pat_hash, true) &&
       put(o, "checked_local", json_object_new_int64(r->checked_local)) &&
       put(o, "checked_server", json_object_new_int64(r->checked_server)) &&
       put(o, "mark", json_object_new_int64(r->mark)) &&
       put(o, "twofactor", json_object_new_boolean(r->twofactor)) &&
       put(o, "failures", json_object_new_int64(r->failures)) &&
       put(o, "failed_at", json_object_new_int64(r->failed_at)) &&
       put(o, "identity", identity_json(r->id));
  if (!ok) {
    json_object_put(o);
    return NULL;
  }
  return o;
}

/* --- hashing --- */

static enum dhis2_err hash_new(const struct dhis2_cache *c, const char *secret,
                               char out[HASH_MAX + 1])
{
  enum dhis2_err rc = DHIS2_ERR_INTERNAL;
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  unsigned char rnd[SALT_BYTES];
  struct crypt_data *cd = NULL;
  unsigned long cost = c->cost != 0 ? c->cost : DHIS2_CACHE_COST;

  if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd) ||
      crypt_gensalt_rn("$y$", cost, (const char *)rnd, sizeof(rnd), setting,
                       sizeof(setting)) == NULL)
    goto out;
  rc = DHIS2_ERR_NOMEM;
  cd = calloc(1, sizeof(*cd)); /* 32 KiB: not on a PAM stack */
  if (cd == NULL)
    goto out;
  rc = DHIS2_ERR_INTERNAL;
  if (crypt_rn(secret, setting, cd, sizeof(*cd)) == NULL ||
      !hash_shaped(cd->output))
    goto out;
  memcpy(out, cd->output, strlen(cd->output) + 1);
  rc = DHIS2_OK;
out:
  dhis2_secret_wipe(rnd, sizeof(rnd));
  dhis2_secret_free_n(cd, sizeof(*cd));
  return rc;
}

/* 1 when secret hashes to hash, 0 when not, -1 when hashing failed. The
   results are compared in constant time. */
static int hash_matches(const char *hash, const char *secret)
{
  struct crypt_data *cd = calloc(1, sizeof(*cd));
  int rc = -1;
  size_t n = strlen(hash);

  if (cd == NULL)
    return -1;
  if (crypt_rn(secret, hash, cd, sizeof(*cd)) != NULL && cd->output[0] == '$')
    rc = strlen(cd->output) == n && CRYPTO_memcmp(cd->output, hash, n) == 0;
  dhis2_secret_free_n(cd, sizeof(*cd));
  return rc;
}

/* --- the files --- */

/* Where a user's record and lock are. */
struct where {
  char hex[65];    /* the record's file name */
  char path[4096]; /* dir/HEX */
  char lock[4096]; /* dir/HEX.lock */
};

/* Lower-case hex SHA-256 of "URL\nNAME". */
static bool record_name(const char *url, const char *name, char out[65])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  bool ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
            EVP_DigestUpdate(ctx, url, strlen(url)) == 1 &&
            EVP_DigestUpdate(ctx, "\n", 1) == 1 &&
            EVP_DigestUpdate(ctx, name, strlen(name)) == 1 &&
            EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;

  EVP_MD_CTX_free(ctx);
  for (unsigned int i = 0; ok && i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
  return ok;
}

/* The directory made safe and name's paths in it; logged on failure. */
static enum dhis2_err where_of(const struct dhis2_cache *c, const char *name,
                               struct where *w)
{
  enum dhis2_err rc;

  if (c->dir == NULL || c->dir[0] != '/' || c->url == NULL) {
    dhis2_log(c->log, LOG_ERR, "offline cache: no absolute directory");
    return DHIS2_ERR_CONFIG;
  }
  rc = dhis2_dir_ensure(c->dir, geteuid());
  if (rc != DHIS2_OK) {
    dhis2_log(c->log, LOG_ERR,
              "offline cache %s: %s (must be a directory of uid %u with "
              "mode 0700)",
              c->dir, rc == DHIS2_ERR_IO ? strerror(errno) : "unsafe",
              (unsigned)geteuid());
    return rc;
  }
  if (!record_name(c->url, name, w->hex))
    return DHIS2_ERR_INTERNAL;
  if (snprintf(w->path, sizeof(w->path), "%s/%s", c->dir, w->hex) >=
          (int)sizeof(w->path) ||
      snprintf(w->lock, sizeof(w->lock), "%s/%s.lock", c->dir, w->hex) >=
          (int)sizeof(w->lock))
    return DHIS2_ERR_CONFIG;
  return DHIS2_OK;
}

/* Opens the user's lock file, made when missing, and holds an exclusive
   flock on it until the descriptor is closed; -1 (logged) on failure. */
static int lock_user(const struct dhis2_cache *c, const struct where *w)
{
  struct stat st;
  struct stat now;
  int fd = -1;

  /* dhis2_cache_purge() removes lock files: the lock counts only on the
     file the path still names, so a waiter on a removed one opens anew. */
  for (int tries = 0; tries < 10; tries++) {
    fd = open(w->lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
              0600);
    if (fd < 0) {
      dhis2_log(c->log, LOG_ERR, "offline cache %s: %s", w->lock,
                strerror(errno));
      return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
      dhis2_log(c->log, LOG_ERR, "offline cache %s: unsafe lock file",
                w->lock);
      close(fd);
      return -1;
    }
    while (flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) {
        dhis2_log(c->log, LOG_ERR, "offline cache %s: %s", w->lock,
                  strerror(errno));
        close(fd);
        return -1;
      }
    }
    if (lstat(w->lock, &now) == 0 && now.st_ino == st.st_ino &&
        now.st_dev == st.st_dev)
      return fd;
    close(fd);
  }
  dhis2_log(c->log, LOG_ERR, "offline cache %s: lock file keeps changing",
            w->lock);
  return -1;
}

/* What reading a record gave. */
enum load {
  LOAD_OK,    /* *out set */
  LOAD_NONE,  /* no record, or one ignored (logged) */
  LOAD_ERROR, /* it could not be read (logged) */
};

/* Reads and checks the file at w->path: ours, private, regular, small,
   and (name not NULL) of c->url and name. */
static enum load record_load(const struct dhis2_cache *c,
                             const struct where *w, const char *name,
                             struct dhis2_cache_record **out)
{
  enum load rc = LOAD_NONE;
  const char *why = NULL;
  struct stat st;
  char *buf = NULL;
  size_t got = 0;
  enum dhis2_err perr;
  int fd;

  *out = NULL;
  /* O_NONBLOCK: a FIFO put there must not hang the sign-in. */
  fd =
      open(w->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT)
      return LOAD_NONE;
    if (errno == ELOOP) {
      why = "a symbolic link";
      goto out;
    }
    dhis2_log(c->log, LOG_ERR, "offline record %s: %s", w->path,
              strerror(errno));
    return LOAD_ERROR;
  }
  if (fstat(fd, &st) != 0) {
    rc = LOAD_ERROR;
    dhis2_log(c->log, LOG_ERR, "offline record %s: %s", w->path,
              strerror(errno));
    goto out;
  }
  if (!S_ISREG(st.st_mode))
    why = "not a regular file";
  else if (st.st_uid != geteuid())
    why = "owned by another user";
  else if ((st.st_mode & 077) != 0)
    why = "open to group or others";
  else if (st.st_size > RECORD_MAX)
    why = "too large";
  if (why != NULL)
    goto out;
  buf = malloc(RECORD_MAX + 1);
  if (buf == NULL) {
    rc = LOAD_ERROR;
    goto out;
  }
  for (;;) {
    ssize_t n = read(fd, buf + got, RECORD_MAX + 1 - got);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      rc = LOAD_ERROR;
      dhis2_log(c->log, LOG_ERR, "offline record %s: %s", w->path,
                strerror(errno));
      goto out;
    }
    if (n == 0)
      break;
    got += (size_t)n;
    if (got > RECORD_MAX) {
      why = "too large";
      goto out;
    }
  }
  perr = dhis2_cache_record_parse(buf, got, out);
  if (perr == DHIS2_ERR_NOMEM) {
    rc = LOAD_ERROR;
  } else if (perr != DHIS2_OK) {
    why = "does not parse";
  } else if (name != NULL && (strcmp((*out)->url, c->url) != 0 ||
                              strcmp((*out)->username, name) != 0)) {
    why = "of another URL or user";
  } else {
    rc = LOAD_OK;
  }
out:
  if (why != NULL)
    dhis2_log(c->log, LOG_WARNING, "offline record %s: ignored: %s", w->path,
              why);
  if (rc != LOAD_OK) {
    dhis2_cache_record_free(*out);
    *out = NULL;
  }
  if (buf != NULL)
    dhis2_secret_free_n(buf, RECORD_MAX + 1);
  if (fd >= 0)
    close(fd);
  return rc;
}

/* Replaces the user's record with r, atomically; logged on failure. */
static enum dhis2_err record_write(const struct dhis2_cache *c,
                                   const struct where *w,
                                   const struct dhis2_cache_record *r)
{
  enum dhis2_err rc = DHIS2_ERR_NOMEM;
  struct json_object *o = record_json(r);
  const char *s = NULL;
  size_t len = 0;

  if (o != NULL)
    s = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
  if (s != NULL)
    rc = dhis2_file_replace(c->dir, w->hex, s, len, 0600);
  if (rc == DHIS2_ERR_IO)
    dhis2_log(c->log, LOG_ERR, "offline record %s: cannot write: %s", w->path,
              strerror(errno));
  json_object_put(o);
  return rc;
}

static time_t later(time_t a, time_t b)
{
  return a > b ? a : b;
}

static bool in_range(time_t t)
{
  return t >= 0 && t <= TIME_MAX;
}

/* --- the entry points --- */

enum dhis2_err dhis2_cache_store(const struct dhis2_cache *c, const char *name,
                                 enum dhis2_cache_slot slot,
                                 const char *secret,
                                 const struct dhis2_identity *id,
                                 bool twofactor, time_t now,
                                 time_t server_date)
{
  enum dhis2_err rc;
  struct dhis2_cache_record *old = NULL;
  struct dhis2_cache_record rec;
  struct where w;
  char hash[HASH_MAX + 1] = "";
  int fd = -1;

  if (name == NULL || !dhis2_username_valid(name) || secret == NULL ||
      id == NULL || !in_range(now))
    return DHIS2_ERR_INVAL;
  if (!in_range(server_date))
    server_date = 0;
  rc = where_of(c, name, &w);
  if (rc != DHIS2_OK)
    goto out;
  /* The slow part first, outside the lock. */
  rc = hash_new(c, secret, hash);
  if (rc != DHIS2_OK)
    goto out;
  rc = DHIS2_ERR_IO;
  fd = lock_user(c, &w);
  if (fd < 0 || record_load(c, &w, name, &old) == LOAD_ERROR)
    goto out;
  /* Borrowed strings: rec is only read. */
  memset(&rec, 0, sizeof(rec));
  rec.url = (char *)c->url;
  rec.username = (char *)name;
  rec.password_hash = old != NULL ? old->password_hash : NULL;
  rec.pat_hash = old != NULL ? old->pat_hash : NULL;
  if (slot == DHIS2_CACHE_PAT)
    rec.pat_hash = hash;
  else
    rec.password_hash = hash;
  rec.checked_local = now;
  rec.checked_server = server_date;
  /* DHIS2's Date vouches for the time: a mark left by a clock that was
     once far ahead (a kiosk booted in 2040) ends with the next online
     check that has one. Without it the mark only ever rises. */
  rec.mark = later(now, server_date);
  if (server_date == 0 && old != NULL)
    rec.mark = later(rec.mark, old->mark);
  /* A PAT sign-in asks no code, so it cannot say 2FA was turned off. */
  rec.twofactor =
      twofactor || (slot == DHIS2_CACHE_PAT && old != NULL && old->twofactor);
  rec.id = (struct dhis2_identity *)id;
  rc = record_write(c, &w, &rec);
out:
  if (fd >= 0)
    close(fd); /* unlocks */
  dhis2_secret_wipe(hash, sizeof(hash));
  dhis2_cache_record_free(old);
  return rc;
}

enum dhis2_err dhis2_cache_rejected(const struct dhis2_cache *c,
                                    const char *name,
                                    enum dhis2_cache_slot slot,
                                    const char *secret)
{
  enum dhis2_err rc;
  struct dhis2_cache_record *rec = NULL;
  enum load got;
  struct where w;
  char **hash;
  int fd = -1;
  int m;

  if (name == NULL || !dhis2_username_valid(name) || secret == NULL)
    return DHIS2_OK; /* nothing of it can be stored */
  rc = where_of(c, name, &w);
  if (rc != DHIS2_OK)
    goto out;
  rc = DHIS2_ERR_IO;
  fd = lock_user(c, &w);
  if (fd < 0)
    goto out;
  got = record_load(c, &w, name, &rec);
  if (got == LOAD_ERROR)
    goto out;
  rc = DHIS2_OK;
  if (got == LOAD_NONE)
    goto out;
  hash = slot == DHIS2_CACHE_PAT ? &rec->pat_hash : &rec->password_hash;
  if (*hash == NULL)
    goto out;
  m = hash_matches(*hash, secret);
  if (m < 0) {
    rc = DHIS2_ERR_INTERNAL;
    goto out;
  }
  if (m == 0)
    goto out; /* a typo: the cached secret may still be the right one */
  dhis2_secret_free(*hash);
  *hash = NULL;
  if (rec->password_hash != NULL || rec->pat_hash != NULL) {
    rc = record_write(c, &w, rec);
  } else if (unlink(w.path) != 0 && errno != ENOENT) {
    dhis2_log(c->log, LOG_ERR, "offline record %s: %s", w.path,
              strerror(errno));
    rc = DHIS2_ERR_IO;
  }
out:
  if (fd >= 0)
    close(fd);
  dhis2_cache_record_free(rec);
  return rc;
}

enum dhis2_err dhis2_cache_forget(const struct dhis2_cache *c,
                                  const char *name)
{
  enum dhis2_err rc;
  struct where w;
  int fd;

  if (name == NULL || !dhis2_username_valid(name))
    return DHIS2_OK;
  rc = where_of(c, name, &w);
  if (rc != DHIS2_OK)
    return rc;
  fd = lock_user(c, &w);
  if (fd < 0)
    return DHIS2_ERR_IO;
  if (unlink(w.path) != 0 && errno != ENOENT) {
    dhis2_log(c->log, LOG_ERR, "offline record %s: %s", w.path,
              strerror(errno));
    rc = DHIS2_ERR_IO;
  }
  close(fd);
  return rc;
}

/* At the failure limit, and the delay since the latest failure not over:
   a clock rolled back keeps it. */
static bool held(const struct dhis2_cache *c,
                 const struct dhis2_cache_record *rec, time_t now,
                 time_t *until)
{
  long delay = c->failure_delay > 0 ? c->failure_delay : 0;

  if (delay > TIME_MAX)
    delay = TIME_MAX;
  *until = rec->failed_at + (time_t)delay;
  return c->failure_limit != 0 && rec->failures >= c->failure_limit &&
         now < *until;
}

enum dhis2_cache_verdict dhis2_cache_check(const struct dhis2_cache *c,
                                           const char *name,
                                           enum dhis2_cache_slot slot,
                                           const char *secret, time_t now,
                                           struct dhis2_cache_result *r)
{
  enum dhis2_cache_verdict v = DHIS2_CACHE_ERROR;
  struct dhis2_cache_record *rec = NULL;
  enum load got;
  struct where w;
  const char *hash;
  time_t until;
  int fd = -1;
  int m;

  memset(r, 0, sizeof(*r));
  if (name == NULL || !dhis2_username_valid(name) || secret == NULL)
    return DHIS2_CACHE_NONE;
  if (where_of(c, name, &w) != DHIS2_OK)
    goto out;
  /* Held through the verification, so concurrent failures all count. */
  fd = lock_user(c, &w);
  if (fd < 0)
    goto out;
  got = record_load(c, &w, name, &rec);
  if (got == LOAD_ERROR)
    goto out;
  v = DHIS2_CACHE_NONE;
  hash = got == LOAD_NONE          ? NULL
         : slot == DHIS2_CACHE_PAT ? rec->pat_hash
                                   : rec->password_hash;
  if (hash == NULL)
    goto out;
  r->failures = rec->failures;
  r->checked = dhis2_cache_record_end(rec, 0);
  if (held(c, rec, now, &until)) {
    r->until = until;
    v = DHIS2_CACHE_DELAYED;
    goto out;
  }
  if (now < rec->mark - DHIS2_CACHE_SKEW) {
    r->mark = rec->mark;
    v = DHIS2_CACHE_CLOCK_BACK;
    goto out;
  }
  if (now > dhis2_cache_record_end(rec, c->ttl)) {
    r->until = dhis2_cache_record_end(rec, c->ttl);
    v = DHIS2_CACHE_TOO_OLD;
    goto out;
  }
  if (slot == DHIS2_CACHE_PASSWORD && rec->twofactor &&
      !c->twofactor_password) {
    v = DHIS2_CACHE_TWOFACTOR;
    goto out;
  }
  v = DHIS2_CACHE_ERROR;
  m = hash_matches(hash, secret);
  if (m < 0)
    goto out;
  if (m == 0) {
    if (rec->failures < FAILURES_MAX)
      rec->failures++;
    rec->failed_at = later(rec->failed_at, now);
    if (record_write(c, &w, rec) != DHIS2_OK)
      goto out; /* a failure not counted is no reason to say more */
    r->failures = rec->failures;
    if (held(c, rec, now, &until))
      r->until = until;
    v = DHIS2_CACHE_WRONG;
    goto out;
  }
  rec->failures = 0;
  rec->failed_at = 0;
  rec->mark = later(rec->mark, now);
  if (record_write(c, &w, rec) != DHIS2_OK)
    goto out;
  r->failures = 0;
  r->id = rec->id;
  rec->id = NULL; /* transferred */
  v = DHIS2_CACHE_OK;
out:
  if (fd >= 0)
    close(fd);
  dhis2_cache_record_free(rec);
  return v;
}

bool dhis2_cache_delayed(const struct dhis2_cache *c, const char *name,
                         time_t now, time_t *until)
{
  struct dhis2_cache_record *rec = NULL;
  struct where w;
  bool delayed = false;
  time_t end = 0;

  if (name == NULL || !dhis2_username_valid(name) || c->failure_limit == 0 ||
      where_of(c, name, &w) != DHIS2_OK)
    return false;
  /* Records are replaced by rename: one read sees a whole one. */
  if (record_load(c, &w, name, &rec) == LOAD_OK)
    delayed = held(c, rec, now, &end);
  if (delayed && until != NULL)
    *until = end;
  dhis2_cache_record_free(rec);
  return delayed;
}

enum dhis2_err dhis2_cache_store_snapshot(const struct dhis2_cache *c,
                                          const char *name,
                                          const struct dhis2_identity *id,
                                          time_t now, time_t server_date)
{
  enum dhis2_err rc;
  struct dhis2_cache_record *old = NULL;
  struct dhis2_cache_record rec;
  struct where w;
  int fd = -1;

  if (name == NULL || !dhis2_username_valid(name) || id == NULL ||
      id->username == NULL || strcmp(id->username, name) != 0 ||
      !in_range(now))
    return DHIS2_ERR_INVAL;
  if (!in_range(server_date))
    server_date = 0;
  rc = where_of(c, name, &w);
  if (rc != DHIS2_OK)
    goto out;
  rc = DHIS2_ERR_IO;
  fd = lock_user(c, &w);
  if (fd < 0 || record_load(c, &w, name, &old) == LOAD_ERROR)
    goto out;
  /* Borrowed strings: rec is only read. */
  memset(&rec, 0, sizeof(rec));
  rec.url = (char *)c->url;
  rec.username = (char *)name;
  rec.id = (struct dhis2_identity *)id;
  rec.checked_local = now;
  rec.checked_server = server_date;
  rec.mark = later(now, server_date); /* as dhis2_cache_store() */
  if (old != NULL) {
    rec.password_hash = old->password_hash;
    rec.pat_hash = old->pat_hash;
    /* A lookup proves the account, not a secret: the window of the kept
       hashes stays that of the sign-in that proved them (a password
       changed on DHIS2 since must not work offline any longer). */
    if (old->password_hash != NULL || old->pat_hash != NULL) {
      rec.checked_local = old->checked_local;
      rec.checked_server = old->checked_server;
    }
    if (server_date == 0)
      rec.mark = later(rec.mark, old->mark);
    /* A lookup checks no secret and asks no code: the failures of wrong
       offline secrets and what DHIS2 last said of 2FA stand. */
    rec.twofactor = old->twofactor;
    rec.failures = old->failures;
    rec.failed_at = old->failed_at;
  }
  rc = record_write(c, &w, &rec);
out:
  if (fd >= 0)
    close(fd); /* unlocks */
  dhis2_cache_record_free(old);
  return rc;
}

enum dhis2_cache_verdict dhis2_cache_snapshot(const struct dhis2_cache *c,
                                              const char *name, time_t now,
                                              struct dhis2_cache_result *r)
{
  enum dhis2_cache_verdict v = DHIS2_CACHE_ERROR;
  struct dhis2_cache_record *rec = NULL;
  enum load got;
  struct where w;
  int fd = -1;

  memset(r, 0, sizeof(*r));
  if (name == NULL || !dhis2_username_valid(name))
    return DHIS2_CACHE_NONE;
  if (where_of(c, name, &w) != DHIS2_OK)
    goto out;
  fd = lock_user(c, &w);
  if (fd < 0)
    goto out;
  got = record_load(c, &w, name, &rec);
  if (got == LOAD_ERROR)
    goto out;
  v = DHIS2_CACHE_NONE;
  if (got == LOAD_NONE)
    goto out;
  r->failures = rec->failures;
  r->checked = dhis2_cache_record_end(rec, 0);
  if (now < rec->mark - DHIS2_CACHE_SKEW) {
    r->mark = rec->mark;
    v = DHIS2_CACHE_CLOCK_BACK;
    goto out;
  }
  if (now > dhis2_cache_record_end(rec, c->ttl)) {
    r->until = dhis2_cache_record_end(rec, c->ttl);
    v = DHIS2_CACHE_TOO_OLD;
    goto out;
  }
  /* Used is seen: the mark rises as with an offline sign-in, so a clock
     rolled back afterwards cannot reuse the window. */
  v = DHIS2_CACHE_ERROR;
  if (now > rec->mark) {
    rec->mark = now;
    if (record_write(c, &w, rec) != DHIS2_OK)
      goto out;
  }
  r->id = rec->id;
  rec->id = NULL; /* transferred */
  v = DHIS2_CACHE_OK;
out:
  if (fd >= 0)
    close(fd);
  dhis2_cache_record_free(rec);
  return v;
}

/* --- dhis2-pamctl: every record of the directory --- */

/* True when s is a record's file name: 64 lower-case hex digits. */
static bool record_file_name(const char *s, size_t len)
{
  if (len != 64)
    return false;
  for (size_t i = 0; i < len; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return false;
  return true;
}

/* w for the record file named hex in c->dir. */
static bool where_hex(const struct dhis2_cache *c, const char *hex,
                      struct where *w)
{
  snprintf(w->hex, sizeof(w->hex), "%s", hex);
  return snprintf(w->path, sizeof(w->path), "%s/%s", c->dir, hex) <
             (int)sizeof(w->path) &&
         snprintf(w->lock, sizeof(w->lock), "%s/%s.lock", c->dir, hex) <
             (int)sizeof(w->lock);
}

/* Removes the record and its lock file, holding the lock meanwhile;
 *found tells whether there was a record. */
static enum dhis2_err purge_where(const struct dhis2_cache *c,
                                  const struct where *w, bool *found)
{
  enum dhis2_err rc = DHIS2_OK;
  int fd = lock_user(c, w);

  *found = false;
  if (fd < 0)
    return DHIS2_ERR_IO;
  if (unlink(w->path) == 0)
    *found = true;
  else if (errno != ENOENT)
    rc = DHIS2_ERR_IO;
  /* A waiter on this lock file sees it gone and opens a new one. */
  if (rc == DHIS2_OK && unlink(w->lock) != 0 && errno != ENOENT)
    rc = DHIS2_ERR_IO;
  if (rc != DHIS2_OK)
    dhis2_log(c->log, LOG_ERR, "offline record %s: %s", w->path,
              strerror(errno));
  close(fd);
  return rc;
}

/* Opens c->dir for a walk; NULL with *rc DHIS2_OK when it does not exist
   (nothing was ever kept), else checked as where_of() does. */
static DIR *open_dir(const struct dhis2_cache *c, enum dhis2_err *rc)
{
  struct stat st;
  DIR *d;

  *rc = DHIS2_OK;
  if (c->dir == NULL || c->dir[0] != '/') {
    *rc = DHIS2_ERR_CONFIG;
    return NULL;
  }
  if (lstat(c->dir, &st) != 0 && errno == ENOENT)
    return NULL;
  *rc = dhis2_dir_ensure(c->dir, geteuid());
  if (*rc != DHIS2_OK) {
    dhis2_log(c->log, LOG_ERR,
              "offline cache %s: unsafe (must be a directory of uid %u with "
              "mode 0700)",
              c->dir, (unsigned)geteuid());
    return NULL;
  }
  d = opendir(c->dir);
  if (d == NULL) {
    *rc = DHIS2_ERR_IO;
    dhis2_log(c->log, LOG_ERR, "offline cache %s: %s", c->dir,
              strerror(errno));
  }
  return d;
}

enum dhis2_err dhis2_cache_list(const struct dhis2_cache *c,
                                void (*fn)(const struct dhis2_cache_record *,
                                           void *),
                                void *ctx, unsigned *ignored)
{
  enum dhis2_err rc;
  struct dirent *de;
  DIR *d = open_dir(c, &rc);

  *ignored = 0;
  if (d == NULL)
    return rc;
  while ((de = readdir(d)) != NULL) {
    struct dhis2_cache_record *rec = NULL;
    struct where w;

    if (!record_file_name(de->d_name, strlen(de->d_name)) ||
        !where_hex(c, de->d_name, &w))
      continue;
    /* Records are replaced by rename: a read needs no lock. */
    if (record_load(c, &w, NULL, &rec) != LOAD_OK) {
      (*ignored)++;
      continue;
    }
    fn(rec, ctx);
    dhis2_cache_record_free(rec);
  }
  closedir(d);
  return DHIS2_OK;
}

enum dhis2_err dhis2_cache_purge(const struct dhis2_cache *c, const char *name,
                                 bool *found)
{
  enum dhis2_err rc;
  struct where w;
  struct stat st;

  *found = false;
  if (name == NULL || !dhis2_username_valid(name))
    return DHIS2_ERR_INVAL;
  if (lstat(c->dir, &st) != 0 && errno == ENOENT)
    return DHIS2_OK;
  rc = where_of(c, name, &w);
  if (rc != DHIS2_OK)
    return rc;
  return purge_where(c, &w, found);
}

enum dhis2_err dhis2_cache_purge_all(const struct dhis2_cache *c,
                                     unsigned *count)
{
  enum dhis2_err rc;
  enum dhis2_err one;
  struct dirent *de;
  DIR *d = open_dir(c, &rc);

  *count = 0;
  if (d == NULL)
    return rc;
  while ((de = readdir(d)) != NULL) {
    size_t n = strlen(de->d_name);
    bool lock = n == 69 && strcmp(de->d_name + 64, ".lock") == 0;
    char hex[65];
    struct where w;
    struct stat st;
    bool found = false;

    /* A record is purged by whichever of its two files comes first; a
       lock file alone too (its record went before). Once both are gone
       the other is skipped: a purge would make a lock file anew. */
    if (!record_file_name(de->d_name, lock ? 64 : n))
      continue;
    memcpy(hex, de->d_name, 64);
    hex[64] = '\0';
    if (!where_hex(c, hex, &w) ||
        (lstat(w.path, &st) != 0 && lstat(w.lock, &st) != 0))
      continue;
    one = purge_where(c, &w, &found);
    if (found)
      (*count)++;
    if (one != DHIS2_OK)
      rc = one;
  }
  closedir(d);
  return rc;
}
