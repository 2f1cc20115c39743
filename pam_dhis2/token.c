/* The token method: the dhis2-auth token stored for PAM_USER, checked with
   DHIS2 (/api/me) or locally against the server's keys. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "dhis2/json.h"
#include "dhis2/jwt.h"
#include "dhis2/oauth2.h"
#include "dhis2/secret.h"
#include "dhis2/store.h"
#include "module.h"

/* The issuer and JWKS read from state_dir are used for this long; then
   (or at once, for a token signed by a key they lack) they are asked
   again. */
#define JWKS_MAX_AGE 3600

/* The cache file: {"issuer", "jwks_uri", "fetched_at", "jwks": {...}}. */
#define JWKS_CACHE_PREFIX "jwks"
#define JWKS_CACHE_MAX (DHIS2_JWKS_MAX_LEN + 8192)

/* The server's keys as one verification needs them. */
struct keys {
  struct dhis2_oauth2_endpoints ep; /* issuer and jwks only from a cache */
  struct dhis2_jwks *ks;
  bool fetched; /* asked of the server during this call */
};

static void keys_clear(struct keys *k)
{
  dhis2_oauth2_endpoints_clear(&k->ep);
  dhis2_jwks_free(k->ks);
  memset(k, 0, sizeof(*k));
}

/* The cache key: whatever names the server and how it is found. */
static char *cache_key(const struct dhis2_config *cfg)
{
  char *key = NULL;

  if (asprintf(&key, "%d\n%s\n%s", (int)cfg->oauth2, cfg->url,
               cfg->issuer ? cfg->issuer : "") < 0)
    return NULL;
  return key;
}

static char *json_string_member(struct json_object *o, const char *name)
{
  struct json_object *v = NULL;

  if (!json_object_object_get_ex(o, name, &v) ||
      !json_object_is_type(v, json_type_string))
    return NULL;
  return strdup(json_object_get_string(v));
}

/* Reads the cached issuer and keys into k; false when there are none
   fresh (k is then left empty). */
static bool keys_from_cache(struct module *m, const char *key, struct keys *k)
{
  struct json_object *root = NULL;
  struct json_object *v = NULL;
  char *buf = NULL;
  size_t len = 0;
  time_t now = time(NULL);
  int64_t at;
  bool ok = false;

  if (!state_cache_get(m, JWKS_CACHE_PREFIX, key, JWKS_CACHE_MAX, &buf, &len))
    return false;
  if (dhis2_json_parse_object(buf, len, &root) != DHIS2_OK ||
      !json_object_object_get_ex(root, "fetched_at", &v) ||
      !json_object_is_type(v, json_type_int))
    goto out;
  at = json_object_get_int64(v);
  if (at > now + DHIS2_JWT_SKEW || now - at > JWKS_MAX_AGE)
    goto out;
  k->ep.issuer = json_string_member(root, "issuer");
  k->ep.jwks = json_string_member(root, "jwks_uri");
  if (k->ep.issuer == NULL || k->ep.jwks == NULL ||
      !json_object_object_get_ex(root, "jwks", &v) ||
      !json_object_is_type(v, json_type_object))
    goto out;
  {
    size_t n = 0;
    const char *doc =
        json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN, &n);

    ok = doc != NULL && dhis2_jwks_parse(doc, n, &k->ks) == DHIS2_OK;
  }
out:
  if (!ok)
    keys_clear(k);
  json_object_put(root);
  free(buf);
  return ok;
}

static void keys_to_cache(struct module *m, const char *key,
                          const struct keys *k, const char *doc, size_t len)
{
  struct json_object *root = json_object_new_object();
  struct json_object *jwks = NULL;
  const char *out;

  if (root == NULL || dhis2_json_parse_object(doc, len, &jwks) != DHIS2_OK)
    goto done;
  json_object_object_add(root, "issuer", json_object_new_string(k->ep.issuer));
  json_object_object_add(root, "jwks_uri", json_object_new_string(k->ep.jwks));
  json_object_object_add(root, "fetched_at",
                         json_object_new_int64((int64_t)time(NULL)));
  json_object_object_add(root, "jwks", jwks);
  jwks = NULL;
  out = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
  if (out != NULL)
    state_cache_put(m, JWKS_CACHE_PREFIX, key, out, strlen(out));
done:
  json_object_put(jwks);
  json_object_put(root);
}

/*
 * Fills k with the server's issuer and keys: from the cache when fresh
 * (refetch false); else asks the server: discovery (refetch false) and
 * the JWKS (refetch: at the endpoint already in k), and caches them.
 */
static enum dhis2_err keys_get(struct module *m, struct dhis2_client *c,
                               struct keys *k, bool refetch, char *why,
                               size_t whylen)
{
  enum dhis2_err rc;
  char *key = cache_key(m->cfg);
  char *doc = NULL;
  size_t len = 0;

  if (key == NULL)
    return DHIS2_ERR_NOMEM;
  if (!refetch) {
    if (keys_from_cache(m, key, k)) {
      dhis2_debug(&m->log, "token: the server's keys from state_dir");
      free(key);
      return DHIS2_OK;
    }
    rc = dhis2_oauth2_discover(c, m->cfg, &k->ep, why, whylen);
    if (rc != DHIS2_OK) {
      if (why[0] == '\0')
        snprintf(why, whylen, "discovery: %s", dhis2_strerror(rc));
      goto out;
    }
  }
  dhis2_jwks_free(k->ks);
  k->ks = NULL;
  rc = dhis2_oauth2_fetch_jwks_doc(c, &k->ep, &k->ks, &doc, &len);
  if (rc != DHIS2_OK) {
    snprintf(why, whylen, "the server's keys (%s): %s", k->ep.jwks,
             dhis2_strerror(rc));
    goto out;
  }
  k->fetched = true;
  dhis2_debug(&m->log, "token: fetched the server's keys from %s", k->ep.jwks);
  keys_to_cache(m, key, k, doc, len);
out:
  free(doc);
  free(key);
  return rc;
}

/* The DHIS2 username a verified token names, or NULL. DHIS2's own server
   puts it in "username" and "sub"; another provider only in "username"
   if at all (its sub is its own). */
static const char *claimed_name(const struct dhis2_config *cfg,
                                const struct dhis2_jwt_claims *cl)
{
  if (cl->username != NULL)
    return cl->username;
  return cfg->oauth2 == DHIS2_OAUTH2_DHIS2 ? cl->sub : NULL;
}

/* token_validation = jwks: the signature, iss, aud, exp/nbf and the name,
   with no request once the keys are cached. */
static enum dhis2_err verify_local(struct module *m, struct dhis2_client *c,
                                   const char *token,
                                   struct dhis2_identity **id, char *why,
                                   size_t whylen)
{
  struct keys k = {0};
  struct dhis2_jwt_expect e;
  struct dhis2_jwt_claims *cl = NULL;
  const char *name;
  enum dhis2_err rc;

  if (m->cfg->client_id == NULL) {
    snprintf(why, whylen,
             "token_validation = jwks needs client_id (the audience)");
    return DHIS2_ERR_CONFIG;
  }
  rc = keys_get(m, c, &k, false, why, whylen);
  if (rc != DHIS2_OK)
    goto out;
  dhis2_jwt_expect_init(&e, k.ep.issuer, m->cfg->client_id);
  rc = dhis2_jwt_verify(token, k.ks, &e, &cl, why, whylen);
  if (rc == DHIS2_ERR_UNKNOWN_KEY && !k.fetched) {
    /* Keys rotate (DHIS2 2.42 makes a new one at each start): once. */
    dhis2_debug(&m->log, "token: signed by a key not cached; asking again");
    rc = keys_get(m, c, &k, true, why, whylen);
    if (rc == DHIS2_OK)
      rc = dhis2_jwt_verify(token, k.ks, &e, &cl, why, whylen);
  }
  if (rc == DHIS2_ERR_UNKNOWN_KEY)
    snprintf(why, whylen, "signed by a key the server does not publish");
  if (rc != DHIS2_OK) {
    if (why[0] == '\0')
      snprintf(why, whylen, "%s", dhis2_strerror(rc));
    goto out;
  }
  name = claimed_name(m->cfg, cl);
  if (name == NULL) {
    snprintf(why, whylen,
             "the token names no DHIS2 username; use token_validation = "
             "api");
    rc = DHIS2_ERR_BAD_TOKEN;
    goto out;
  }
  rc = DHIS2_ERR_NOMEM;
  *id = calloc(1, sizeof(**id));
  if (*id != NULL && ((*id)->username = strdup(name)) != NULL)
    rc = DHIS2_OK;
out:
  if (rc != DHIS2_OK && *id != NULL) {
    dhis2_identity_free(*id);
    *id = NULL;
  }
  dhis2_jwt_claims_free(cl);
  keys_clear(&k);
  return rc;
}

/* token_validation = api: DHIS2 says whose token it is. One request. */
static enum dhis2_err verify_api(struct dhis2_client *c, const char *token,
                                 struct dhis2_identity **id, char *why,
                                 size_t whylen)
{
  enum dhis2_err rc = dhis2_api_me(c, DHIS2_AUTH_BEARER, NULL, token, id);

  if (rc == DHIS2_ERR_REJECTED)
    snprintf(why, whylen,
             "DHIS2 refused it (expired or revoked, or not mapped to a "
             "user: dhis2-auth login says why)");
  else if (rc != DHIS2_OK)
    snprintf(why, whylen, "/api/me: %s", dhis2_strerror(rc));
  return rc;
}

/* The same URL, but for a trailing slash. */
static bool same_url(const char *a, const char *b)
{
  size_t la = strlen(a);
  size_t lb = strlen(b);

  while (la > 0 && a[la - 1] == '/')
    la--;
  while (lb > 0 && b[lb - 1] == '/')
    lb--;
  return la == lb && strncmp(a, b, la) == 0;
}

/* Reads pam_user's record into *rec; DHIS2_OK with *rec NULL: none. */
static enum dhis2_err read_record(struct module *m, const char *pam_user,
                                  struct dhis2_token_record **rec, char *why,
                                  size_t whylen)
{
  struct passwd pw;
  struct passwd *found = NULL;
  struct dhis2_store_opts o = {.backend = m->cfg->token_store};
  struct dhis2_store_where where = {0};
  char buf[16384];
  char err[512] = "";
  enum dhis2_err rc;
  int e = getpwnam_r(pam_user, &pw, buf, sizeof(buf), &found);

  if (found == NULL) {
    snprintf(why, whylen, "no local account %s%s%s", pam_user,
             e != 0 ? ": " : "", e != 0 ? strerror(e) : "");
    return DHIS2_ERR_INVAL;
  }
  o.uid = pw.pw_uid;
  o.home = pw.pw_dir;
  rc = dhis2_store_load(&o, m->cfg->profile, rec, &where, err, sizeof(err));
  if (rc != DHIS2_OK) {
    snprintf(why, whylen, "token store: %s",
             err[0] != '\0' ? err : dhis2_strerror(rc));
    return rc;
  }
  if (*rec == NULL) {
    snprintf(why, whylen,
             "no token stored for profile %s (the user has not run "
             "dhis2-auth login, or logged out)",
             m->cfg->profile);
    return DHIS2_OK;
  }
  dhis2_debug(&m->log, "token: %s's record in %s", pam_user, where.location);
  return DHIS2_OK;
}

enum dhis2_err token_check(struct module *m, const char *pam_user,
                           const char *dhis2_name, struct dhis2_identity **id,
                           char *why, size_t whylen)
{
  struct dhis2_token_record *rec = NULL;
  struct dhis2_client *c = NULL;
  enum dhis2_token_validation mode = m->cfg->token_validation;
  time_t now = time(NULL);
  enum dhis2_err rc;

  why[0] = '\0';
  rc = read_record(m, pam_user, &rec, why, whylen);
  if (rc != DHIS2_OK)
    return rc;
  if (rec == NULL)
    return DHIS2_ERR_REJECTED;
  /* What the record says is only a hint (the user can write it): these
     checks save a request, the server's or the signature's word decides. */
  if (!same_url(rec->url, m->cfg->url)) {
    snprintf(why, whylen, "the stored token is for %s, not %s",
             dhis2_log_untrusted(rec->url), m->cfg->url);
    rc = DHIS2_ERR_REJECTED;
    goto out;
  }
  if (strcmp(rec->username, dhis2_name) != 0) {
    snprintf(why, whylen, "the stored token is DHIS2 user %s's, not %s's",
             dhis2_log_untrusted(rec->username), dhis2_name);
    rc = DHIS2_ERR_IDENTITY;
    goto out;
  }
  if (rec->expires_at != 0 && rec->expires_at <= now) {
    snprintf(why, whylen,
             "the stored token expired %lld s ago (dhis2-auth token "
             "refreshes it)",
             (long long)(now - rec->expires_at));
    rc = DHIS2_ERR_TOKEN_EXPIRED;
    goto out;
  }
  if (mode == DHIS2_VALIDATE_AUTO)
    mode = m->cfg->oauth2 == DHIS2_OAUTH2_DHIS2 && m->cfg->client_id != NULL &&
                   dhis2_jwt_is_jws(rec->access_token)
               ? DHIS2_VALIDATE_JWKS
               : DHIS2_VALIDATE_API;
  if (mode == DHIS2_VALIDATE_JWKS && m->cfg->oauth2 == DHIS2_OAUTH2_UAA) {
    snprintf(why, whylen,
             "oauth2 = uaa tokens are opaque: use token_validation = api");
    rc = DHIS2_ERR_CONFIG;
    goto out;
  }
  rc = dhis2_client_new(m->cfg, &m->log, &c);
  if (rc != DHIS2_OK) {
    snprintf(why, whylen, "url: %s", dhis2_strerror(rc));
    goto out;
  }
  if (mode == DHIS2_VALIDATE_JWKS) {
    rc = verify_local(m, c, rec->access_token, id, why, whylen);
    if (rc == DHIS2_OK && strcmp((*id)->username, dhis2_name) != 0)
      goto identity;
    /* Groups, roles and authorities are in no token: only /api/me has
       them, read with the token itself. */
    if (rc == DHIS2_OK && policy_configured(m->cfg)) {
      dhis2_identity_free(*id);
      *id = NULL;
      rc = verify_api(c, rec->access_token, id, why, whylen);
    }
  } else {
    rc = verify_api(c, rec->access_token, id, why, whylen);
  }
  if (rc == DHIS2_OK && strcmp((*id)->username, dhis2_name) != 0)
    goto identity;
  goto out;
identity:
  /* A token of another user planted in this one's store. */
  dhis2_log(&m->log, LOG_WARNING,
            "stored token of %s: it is DHIS2 user %s's, not %s's: refused",
            pam_user, (*id)->username, dhis2_name);
  snprintf(why, whylen, "the token is DHIS2 user %s's", (*id)->username);
  dhis2_identity_free(*id);
  *id = NULL;
  rc = DHIS2_ERR_IDENTITY;
out:
  dhis2_client_free(c);
  dhis2_token_record_free(rec);
  return rc;
}
