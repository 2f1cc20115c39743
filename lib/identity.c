/* Parsing /api/me bodies of every DHIS2 version into a dhis2_identity. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api_internal.h"
#include "dhis2/api.h"
#include "dhis2/json.h"

/* A growing array of id + name pairs. */
struct named_vec {
  struct dhis2_named *v;
  size_t n;
  size_t cap;
};

static void named_clear(struct dhis2_named *v, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free(v[i].id);
    free(v[i].name);
  }
  free(v);
}

void dhis2_identity_free(struct dhis2_identity *id)
{
  if (id == NULL)
    return;
  free(id->id);
  free(id->username);
  free(id->display_name);
  named_clear(id->groups, id->n_groups);
  named_clear(id->roles, id->n_roles);
  for (size_t i = 0; i < id->n_authorities; i++)
    free(id->authorities[i]);
  free(id->authorities);
  for (size_t i = 0; i < id->n_orgunits; i++) {
    free(id->orgunits[i].id);
    free(id->orgunits[i].path);
  }
  free(id->orgunits);
  free(id);
}

/* The string value of o, or NULL when o is not a string or holds a NUL
   (which would make the C string say less than DHIS2 did). Borrowed. */
static const char *string_of(struct json_object *o)
{
  const char *s;

  if (o == NULL || !json_object_is_type(o, json_type_string))
    return NULL;
  s = json_object_get_string(o);
  if (s == NULL || strlen(s) != (size_t)json_object_get_string_len(o))
    return NULL;
  return s;
}

/* The string member key of obj (see string_of), or NULL. Borrowed. */
static const char *member_string(struct json_object *obj, const char *key)
{
  struct json_object *v;

  if (obj == NULL || !json_object_is_type(obj, json_type_object) ||
      !json_object_object_get_ex(obj, key, &v))
    return NULL;
  return string_of(v);
}

/* The array member key of obj, or NULL. Borrowed. */
static struct json_object *member_array(struct json_object *obj,
                                        const char *key)
{
  struct json_object *v;

  if (obj == NULL || !json_object_is_type(obj, json_type_object) ||
      !json_object_object_get_ex(obj, key, &v) ||
      !json_object_is_type(v, json_type_array))
    return NULL;
  return v;
}

/* Sets *out to a copy of s (NULL stays NULL). */
static enum dhis2_err dup_opt(const char *s, char **out)
{
  *out = NULL;
  if (s == NULL)
    return DHIS2_OK;
  *out = strdup(s);
  return *out != NULL ? DHIS2_OK : DHIS2_ERR_NOMEM;
}

/*
 * Appends the {id, name} objects of arr (may be NULL) to vec. Entries that
 * are not objects, or have neither a string id nor a string name, are
 * skipped: a stray entry must not cost the user every other group.
 */
static enum dhis2_err named_append(struct named_vec *vec,
                                   struct json_object *arr)
{
  size_t len = arr != NULL ? json_object_array_length(arr) : 0;

  for (size_t i = 0; i < len; i++) {
    struct json_object *e = json_object_array_get_idx(arr, i);
    const char *id = member_string(e, "id");
    const char *name = member_string(e, "name");
    struct dhis2_named item = {NULL, NULL};

    if (id == NULL && name == NULL)
      continue;
    if (vec->n == vec->cap) {
      size_t cap = vec->cap ? vec->cap * 2 : 8;
      struct dhis2_named *v;

      if (cap > SIZE_MAX / sizeof(*v))
        return DHIS2_ERR_NOMEM;
      v = realloc(vec->v, cap * sizeof(*v));
      if (v == NULL)
        return DHIS2_ERR_NOMEM;
      vec->v = v;
      vec->cap = cap;
    }
    if (dup_opt(id, &item.id) != DHIS2_OK ||
        dup_opt(name, &item.name) != DHIS2_OK) {
      free(item.id);
      return DHIS2_ERR_NOMEM;
    }
    vec->v[vec->n++] = item; /* transferred */
  }
  return DHIS2_OK;
}

/* One entry of a vec as the dedup sort sees it. */
struct keyed {
  const struct dhis2_named *e;
  size_t pos;
};

/* The key of e: its id, or its name when it has no id. Kinds differ. */
static int key_cmp_named(const struct dhis2_named *x,
                         const struct dhis2_named *y)
{
  int c = (x->id == NULL) - (y->id == NULL);

  if (c == 0)
    c = strcmp(x->id ? x->id : x->name, y->id ? y->id : y->name);
  return c;
}

/* By key, then by position, so the first of equal keys sorts first. */
static int keyed_cmp(const void *a, const void *b)
{
  const struct keyed *x = a;
  const struct keyed *y = b;
  int c = key_cmp_named(x->e, y->e);

  if (c == 0)
    c = (x->pos > y->pos) - (x->pos < y->pos);
  return c;
}

/*
 * Drops later duplicates (same id; same name for entries without an id)
 * from vec, keeping the order of the rest. O(n log n): a 1 MiB body can
 * carry tens of thousands of entries.
 */
static enum dhis2_err named_dedup(struct named_vec *vec)
{
  enum dhis2_err rc = DHIS2_ERR_NOMEM;
  struct keyed *keys = NULL;
  bool *drop = NULL;
  size_t k = 0;

  if (vec->n < 2)
    return DHIS2_OK;
  keys = calloc(vec->n, sizeof(*keys));
  drop = calloc(vec->n, sizeof(*drop));
  if (keys == NULL || drop == NULL)
    goto out;
  for (size_t i = 0; i < vec->n; i++) {
    keys[i].e = &vec->v[i];
    keys[i].pos = i;
  }
  qsort(keys, vec->n, sizeof(*keys), keyed_cmp);
  for (size_t i = 1; i < vec->n; i++)
    if (key_cmp_named(keys[i - 1].e, keys[i].e) == 0)
      drop[keys[i].pos] = true;
  for (size_t i = 0; i < vec->n; i++) {
    if (drop[i]) {
      free(vec->v[i].id);
      free(vec->v[i].name);
      continue;
    }
    vec->v[k++] = vec->v[i];
  }
  vec->n = k;
  rc = DHIS2_OK;
out:
  free(keys);
  free(drop);
  return rc;
}

/* Copies the strings of arr (may be NULL) into *out / *n; other entries
   are skipped. */
static enum dhis2_err strings_copy(struct json_object *arr, char ***out,
                                   size_t *n)
{
  size_t len = arr != NULL ? json_object_array_length(arr) : 0;

  *out = NULL;
  *n = 0;
  if (len == 0)
    return DHIS2_OK;
  *out = calloc(len, sizeof(**out));
  if (*out == NULL)
    return DHIS2_ERR_NOMEM;
  for (size_t i = 0; i < len; i++) {
    const char *s = string_of(json_object_array_get_idx(arr, i));

    if (s == NULL)
      continue;
    (*out)[*n] = strdup(s);
    if ((*out)[*n] == NULL)
      return DHIS2_ERR_NOMEM; /* the caller frees the *n copied so far */
    (*n)++;
  }
  return DHIS2_OK;
}

/*
 * Copies the {id, path} objects of arr (may be NULL) into *out / *n.
 * Entries without a string id are skipped; a path is kept as sent (the
 * predicates match whole segments only, so a strange one matches nothing
 * it should not).
 */
static enum dhis2_err orgunits_copy(struct json_object *arr,
                                    struct dhis2_orgunit **out, size_t *n)
{
  size_t len = arr != NULL ? json_object_array_length(arr) : 0;

  *out = NULL;
  *n = 0;
  if (len == 0)
    return DHIS2_OK;
  *out = calloc(len, sizeof(**out));
  if (*out == NULL)
    return DHIS2_ERR_NOMEM;
  for (size_t i = 0; i < len; i++) {
    struct json_object *e = json_object_array_get_idx(arr, i);
    const char *uid = member_string(e, "id");
    struct dhis2_orgunit *u = &(*out)[*n];

    if (uid == NULL)
      continue;
    if (dup_opt(uid, &u->id) != DHIS2_OK ||
        dup_opt(member_string(e, "path"), &u->path) != DHIS2_OK) {
      free(u->id);
      u->id = NULL;
      return DHIS2_ERR_NOMEM; /* the caller frees the *n copied so far */
    }
    (*n)++;
  }
  return DHIS2_OK;
}

/*
 * Sets *name (borrowed from obj) to obj's "username": NULL when absent or
 * JSON null. DHIS2_ERR_MALFORMED when present but not a usable string.
 */
static enum dhis2_err username_in(struct json_object *obj, const char **name)
{
  struct json_object *v = NULL;

  *name = NULL;
  if (obj == NULL || !json_object_is_type(obj, json_type_object) ||
      !json_object_object_get_ex(obj, "username", &v) || v == NULL)
    return DHIS2_OK;
  *name = string_of(v);
  return *name != NULL ? DHIS2_OK : DHIS2_ERR_MALFORMED;
}

/*
 * The username DHIS2 vouches for: top level (2.38+) or
 * userCredentials.username (<= 2.37; both in 2.38-2.41, where they are one
 * field). Two different names are an answer we cannot bind a login to.
 */
static enum dhis2_err username_of(struct json_object *root,
                                  struct json_object *creds, const char **name)
{
  const char *top = NULL;
  const char *old = NULL;

  *name = NULL;
  if (username_in(root, &top) != DHIS2_OK ||
      username_in(creds, &old) != DHIS2_OK)
    return DHIS2_ERR_MALFORMED;
  if (top != NULL && old != NULL && strcmp(top, old) != 0)
    return DHIS2_ERR_MALFORMED;
  *name = top != NULL ? top : old;
  /* The name goes to logs, pam_putenv and comparisons: same rules as the
     names we send. */
  if (*name == NULL || !dhis2_username_valid(*name)) {
    *name = NULL;
    return DHIS2_ERR_MALFORMED;
  }
  return DHIS2_OK;
}

/*
 * Appends the authorities of the role objects in arr (may be NULL) to vec
 * as nameless entries, so named_dedup() can drop the repeats: a user's
 * authorities are the union of its roles'.
 */
static enum dhis2_err role_authorities_append(struct named_vec *vec,
                                              struct json_object *arr)
{
  size_t len = arr != NULL ? json_object_array_length(arr) : 0;

  for (size_t i = 0; i < len; i++) {
    struct json_object *auths =
        member_array(json_object_array_get_idx(arr, i), "authorities");
    size_t n = auths != NULL ? json_object_array_length(auths) : 0;

    for (size_t j = 0; j < n; j++) {
      const char *s = string_of(json_object_array_get_idx(auths, j));
      struct dhis2_named *v;

      if (s == NULL)
        continue;
      if (vec->n == vec->cap) {
        size_t cap = vec->cap ? vec->cap * 2 : 8;

        if (cap > SIZE_MAX / sizeof(*v))
          return DHIS2_ERR_NOMEM;
        v = realloc(vec->v, cap * sizeof(*v));
        if (v == NULL)
          return DHIS2_ERR_NOMEM;
        vec->v = v;
        vec->cap = cap;
      }
      v = &vec->v[vec->n];
      v->id = NULL;
      v->name = strdup(s);
      if (v->name == NULL)
        return DHIS2_ERR_NOMEM;
      vec->n++;
    }
  }
  return DHIS2_OK;
}

/* Moves the names of vec (nameless entries from
   role_authorities_append()) into id's authorities. */
static enum dhis2_err authorities_take(struct named_vec *vec,
                                       struct dhis2_identity *id)
{
  if (vec->n == 0)
    return DHIS2_OK;
  id->authorities = calloc(vec->n, sizeof(*id->authorities));
  if (id->authorities == NULL)
    return DHIS2_ERR_NOMEM;
  for (size_t i = 0; i < vec->n; i++) {
    id->authorities[i] = vec->v[i].name;
    vec->v[i].name = NULL; /* transferred */
  }
  id->n_authorities = vec->n;
  return DHIS2_OK;
}

enum dhis2_err dhis2_identity_from_object(struct json_object *root,
                                          bool role_authorities,
                                          struct dhis2_identity **out)
{
  enum dhis2_err rc = DHIS2_ERR_MALFORMED;
  struct json_object *creds = NULL;
  struct dhis2_identity *id = NULL;
  struct named_vec groups = {NULL, 0, 0};
  struct named_vec roles = {NULL, 0, 0};
  struct named_vec auths = {NULL, 0, 0};
  const char *name;

  *out = NULL;
  if (root == NULL || !json_object_is_type(root, json_type_object))
    goto out;
  if (!json_object_object_get_ex(root, "userCredentials", &creds) ||
      !json_object_is_type(creds, json_type_object))
    creds = NULL;
  rc = username_of(root, creds, &name);
  if (rc != DHIS2_OK)
    goto out;
  rc = DHIS2_ERR_NOMEM;
  id = calloc(1, sizeof(*id));
  if (id == NULL)
    goto out;
  if (dup_opt(name, &id->username) != DHIS2_OK ||
      dup_opt(member_string(root, "id"), &id->id) != DHIS2_OK ||
      dup_opt(member_string(root, "displayName"), &id->display_name) !=
          DHIS2_OK)
    goto out;
  if (named_append(&groups, member_array(root, "userGroups")) != DHIS2_OK)
    goto out;
  /* Roles: top level (2.38+) and userCredentials (<= 2.41), merged. */
  if (named_append(&roles, member_array(root, "userRoles")) != DHIS2_OK ||
      named_append(&roles, member_array(creds, "userRoles")) != DHIS2_OK ||
      named_dedup(&roles) != DHIS2_OK)
    goto out;
  if (role_authorities) {
    if (role_authorities_append(&auths, member_array(root, "userRoles")) !=
            DHIS2_OK ||
        role_authorities_append(&auths, member_array(creds, "userRoles")) !=
            DHIS2_OK ||
        named_dedup(&auths) != DHIS2_OK ||
        authorities_take(&auths, id) != DHIS2_OK)
      goto out;
  } else if (strings_copy(member_array(root, "authorities"), &id->authorities,
                          &id->n_authorities) != DHIS2_OK) {
    goto out;
  }
  /* Top level in every release. */
  if (orgunits_copy(member_array(root, "organisationUnits"), &id->orgunits,
                    &id->n_orgunits) != DHIS2_OK)
    goto out;
  id->groups = groups.v;
  id->n_groups = groups.n;
  groups.v = NULL; /* transferred */
  groups.n = 0;
  id->roles = roles.v;
  id->n_roles = roles.n;
  roles.v = NULL; /* transferred */
  roles.n = 0;
  *out = id;
  id = NULL; /* transferred */
  rc = DHIS2_OK;
out:
  named_clear(groups.v, groups.n);
  named_clear(roles.v, roles.n);
  named_clear(auths.v, auths.n);
  dhis2_identity_free(id);
  return rc;
}

enum dhis2_err dhis2_identity_parse(const char *json, size_t len,
                                    struct dhis2_identity **out)
{
  enum dhis2_err rc;
  struct json_object *root = NULL;

  *out = NULL;
  rc = dhis2_json_parse_object(json, len, &root);
  if (rc == DHIS2_OK)
    rc = dhis2_identity_from_object(root, false, out);
  json_object_put(root);
  return rc;
}

bool dhis2_uid_shaped(const char *s)
{
  size_t i;

  if (s == NULL ||
      !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
    return false;
  for (i = 1; s[i] != '\0'; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
          (s[i] >= '0' && s[i] <= '9')))
      return false;
  return i == 11;
}

/* What a policy value asks for: an id or a name, and which. */
struct wanted {
  const char *text;
  bool by_id;
};

/* "id:X" and "name:X" say which; else the UID shape decides (ids are
   immutable and unique, names only as unique as DHIS2 keeps them). */
static struct wanted wanted_of(const char *value)
{
  struct wanted w = {value, false};

  if (strncmp(value, "id:", 3) == 0) {
    w.text = value + 3;
    w.by_id = true;
  } else if (strncmp(value, "name:", 5) == 0) {
    w.text = value + 5;
  } else {
    w.by_id = dhis2_uid_shaped(value);
  }
  return w;
}

static bool named_has(const struct dhis2_named *v, size_t n, const char *value)
{
  struct wanted w;

  if (v == NULL || value == NULL)
    return false;
  w = wanted_of(value);
  for (size_t i = 0; i < n; i++) {
    const char *have = w.by_id ? v[i].id : v[i].name;

    if (have != NULL && strcmp(have, w.text) == 0)
      return true;
  }
  return false;
}

/* A bare UID-shaped value that matched no id but is some entry's name. */
static bool named_name_only(const struct dhis2_named *v, size_t n,
                            const char *value)
{
  if (v == NULL || value == NULL || !dhis2_uid_shaped(value) ||
      named_has(v, n, value))
    return false;
  for (size_t i = 0; i < n; i++)
    if (v[i].name != NULL && strcmp(v[i].name, value) == 0)
      return true;
  return false;
}

bool dhis2_identity_has_group(const struct dhis2_identity *id,
                              const char *value)
{
  return id != NULL && named_has(id->groups, id->n_groups, value);
}

bool dhis2_identity_has_role(const struct dhis2_identity *id,
                             const char *value)
{
  return id != NULL && named_has(id->roles, id->n_roles, value);
}

bool dhis2_identity_group_name_only(const struct dhis2_identity *id,
                                    const char *value)
{
  return id != NULL && named_name_only(id->groups, id->n_groups, value);
}

bool dhis2_identity_role_name_only(const struct dhis2_identity *id,
                                   const char *value)
{
  return id != NULL && named_name_only(id->roles, id->n_roles, value);
}

bool dhis2_identity_has_authority(const struct dhis2_identity *id,
                                  const char *s)
{
  if (id == NULL || s == NULL)
    return false;
  for (size_t i = 0; i < id->n_authorities; i++)
    if (strcmp(id->authorities[i], s) == 0)
      return true;
  return false;
}

/* True when seg is a whole "/"-separated segment of path: "/abc" is not
   in "/abcd", nor "b" in "/a/bc". Exact and case-sensitive. */
static bool path_has_segment(const char *path, const char *seg)
{
  size_t n = strlen(seg);

  if (n == 0)
    return false;
  for (const char *p = path; *p != '\0';) {
    const char *end = strchr(p, '/');
    size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

    if (len == n && memcmp(p, seg, n) == 0)
      return true;
    if (end == NULL)
      break;
    p = end + 1;
  }
  return false;
}

bool dhis2_identity_orgunit_within(const struct dhis2_identity *id,
                                   const char *uid)
{
  if (id == NULL || uid == NULL || *uid == '\0')
    return false;
  for (size_t i = 0; i < id->n_orgunits; i++) {
    const struct dhis2_orgunit *u = &id->orgunits[i];

    if (u->path != NULL ? path_has_segment(u->path, uid)
                        : strcmp(u->id, uid) == 0)
      return true;
  }
  return false;
}

bool dhis2_identity_orgunit_over(const struct dhis2_identity *id,
                                 const char *host_path)
{
  if (id == NULL || host_path == NULL)
    return false;
  for (size_t i = 0; i < id->n_orgunits; i++)
    if (path_has_segment(host_path, id->orgunits[i].id))
      return true;
  return false;
}
