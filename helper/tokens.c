/* dhis2-auth status, token, whoami and logout: using the stored tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "dhis2/secret.h"
#include "helper.h"

/* Refresh when the access token has less than this left (DESIGN.md 6). */
#define REFRESH_MARGIN 60

static const char *backend_name(enum dhis2_token_store b)
{
  return b == DHIS2_STORE_KEYRING ? "keyring" : "file";
}

const char *location_text(const struct dhis2_store_where *w)
{
  static const char prefix[] = "keyring: ";

  /* The store names the backend first; our sentences already do. */
  if (strncmp(w->location, prefix, sizeof(prefix) - 1) == 0)
    return w->location + sizeof(prefix) - 1;
  return w->location;
}

static void format_time(time_t t, char *buf, size_t len)
{
  struct tm tm;

  if (t == 0 || localtime_r(&t, &tm) == NULL)
    snprintf(buf, len, "unknown");
  else
    strftime(buf, len, "%Y-%m-%d %H:%M:%S %Z", &tm);
}

int cmd_status(struct run *r)
{
  struct dhis2_token_record *rec = NULL;
  struct dhis2_store_where w;
  char err[512] = "";
  char when[64];
  enum dhis2_err rc;
  bool valid;
  time_t now = time(NULL);

  rc =
      dhis2_store_load(&r->store, r->cfg->profile, &rec, &w, err, sizeof(err));
  if (rc != DHIS2_OK) {
    say_error("%s", err[0] ? err : dhis2_strerror(rc));
    return exit_code_of(rc);
  }
  valid = rec != NULL && (rec->expires_at == 0 || rec->expires_at > now ||
                          rec->refresh_token != NULL);
  format_time(rec ? rec->expires_at : 0, when, sizeof(when));
  if (r->json) {
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "signed_in", json_object_new_boolean(valid));
    json_object_object_add(o, "profile",
                           json_object_new_string(r->cfg->profile));
    if (rec != NULL) {
      json_object_object_add(o, "url", json_object_new_string(rec->url));
      json_object_object_add(o, "username",
                             json_object_new_string(rec->username));
      json_object_object_add(o, "backend",
                             json_object_new_string(backend_name(w.backend)));
      json_object_object_add(o, "location",
                             json_object_new_string(w.location));
      json_object_object_add(o, "expires_at",
                             json_object_new_int64(rec->expires_at));
      json_object_object_add(
          o, "refreshable",
          json_object_new_boolean(rec->refresh_token != NULL));
    }
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
    json_object_put(o);
  } else if (rec == NULL) {
    printf("Not signed in (profile %s). Run: dhis2-auth login\n",
           r->cfg->profile);
  } else {
    /* The record is only the user's word (the file is theirs): shown
       through the same filter as any text from outside. */
    printf("Signed in to %s as %s (profile %s)\n",
           dhis2_log_untrusted(rec->url), dhis2_log_untrusted(rec->username),
           r->cfg->profile);
    printf("Token kept in the %s: %s\n", backend_name(w.backend),
           location_text(&w));
    printf("Access token %s %s%s\n",
           rec->expires_at != 0 && rec->expires_at <= now ? "expired"
                                                          : "valid until",
           when,
           rec->refresh_token ? "; refreshed on use" : "; no refresh token");
    if (!valid)
      printf("Run: dhis2-auth login\n");
  }
  dhis2_token_record_free(rec);
  return valid ? EXIT_OK : EXIT_NOT_LOGGED_IN;
}

/* What the locked refresh step needs and gives back. */
struct refresh_ctx {
  struct run *r;
  struct dhis2_oauth2_endpoints ep;
  bool have_ep;
  char *access; /* out: the token to use (secret) */
  char *username;
  enum dhis2_err err;
  char why[512];
};

/* Runs under the store's lock: refresh only if still needed, so of many
   concurrent callers only the first refreshes and the rest reuse it. */
static enum dhis2_err refresh_step(const struct dhis2_token_record *cur,
                                   struct dhis2_token_record **next,
                                   long *keep_for, void *arg)
{
  struct refresh_ctx *x = arg;
  struct dhis2_tokens t;
  struct dhis2_token_record *rec;
  time_t now = time(NULL);
  enum dhis2_err rc;

  if (cur == NULL)
    return DHIS2_ERR_REJECTED;
  x->username = strdup(cur->username);
  if (cur->expires_at == 0 || cur->expires_at - now > REFRESH_MARGIN) {
    x->access = dhis2_secret_dup(cur->access_token);
    return x->access ? DHIS2_OK : DHIS2_ERR_NOMEM;
  }
  if (cur->refresh_token == NULL) {
    snprintf(x->why, sizeof(x->why),
             "the token expired and cannot be "
             "refreshed");
    return DHIS2_ERR_TOKEN_EXPIRED;
  }
  if (!x->have_ep) {
    rc = dhis2_oauth2_discover(x->r->client, x->r->cfg, &x->ep, x->why,
                               sizeof(x->why));
    if (rc != DHIS2_OK)
      return rc;
    x->have_ep = true;
  }
  rc = dhis2_oauth2_refresh(x->r->client, x->r->cfg, &x->ep,
                            cur->refresh_token, &t, x->why, sizeof(x->why));
  if (rc != DHIS2_OK)
    return rc;
  rec = dhis2_token_record_dup(cur);
  if (rec == NULL) {
    dhis2_tokens_clear(&t);
    return DHIS2_ERR_NOMEM;
  }
  dhis2_secret_free(rec->access_token);
  rec->access_token = t.access_token;
  t.access_token = NULL; /* transferred */
  if (t.refresh_token != NULL) {
    dhis2_secret_free(rec->refresh_token);
    rec->refresh_token = t.refresh_token; /* rotated */
    t.refresh_token = NULL;
  }
  if (t.id_token != NULL) {
    dhis2_secret_free(rec->id_token);
    rec->id_token = t.id_token;
    t.id_token = NULL;
  }
  rec->obtained_at = now;
  rec->expires_at = t.expires_in > 0 ? now + t.expires_in : 0;
  /* A refresh token kept from before: its life is what this reply says,
     or unknown. */
  *keep_for = dhis2_tokens_keep_for(&t, rec->refresh_token != NULL);
  dhis2_tokens_clear(&t);
  x->access = dhis2_secret_dup(rec->access_token);
  if (x->access == NULL) {
    dhis2_token_record_free(rec);
    return DHIS2_ERR_NOMEM;
  }
  *next = rec; /* transferred to the store */
  return DHIS2_OK;
}

int valid_token(struct run *r, char **access, char **username)
{
  struct refresh_ctx x = {.r = r};
  char err[512] = "";
  enum dhis2_err rc;
  int ex = EXIT_OK;

  *access = NULL;
  rc = dhis2_store_update(&r->store, r->cfg->profile, refresh_step, &x, err,
                          sizeof(err));
  if (rc == DHIS2_OK) {
    *access = x.access;
    x.access = NULL; /* transferred */
    if (username != NULL) {
      *username = x.username;
      x.username = NULL;
    }
  } else if (x.username == NULL && rc == DHIS2_ERR_REJECTED) {
    say_error("not signed in (profile %s); run: dhis2-auth login",
              r->cfg->profile);
    ex = EXIT_NOT_LOGGED_IN;
  } else if (dhis2_err_class(rc) == DHIS2_CLASS_UNAVAILABLE) {
    say_error("cannot refresh the token: %s",
              x.why[0] ? x.why : dhis2_strerror(rc));
    ex = EXIT_UNREACHABLE;
  } else if (err[0] != '\0' && x.why[0] == '\0') {
    say_error("%s", err);
    ex = exit_code_of(rc);
  } else {
    say_error("the session has ended (%s); run: dhis2-auth login",
              x.why[0] ? x.why : dhis2_strerror(rc));
    ex = EXIT_NOT_LOGGED_IN;
  }
  dhis2_secret_free(x.access);
  free(x.username);
  dhis2_oauth2_endpoints_clear(&x.ep);
  return ex;
}

int cmd_token(struct run *r)
{
  char *access = NULL;
  int ex = valid_token(r, &access, NULL);

  if (ex == EXIT_OK)
    printf("%s\n", access);
  dhis2_secret_free(access);
  return ex;
}

static void print_named(const char *label, const struct dhis2_named *v,
                        size_t n)
{
  printf("%s:", label);
  for (size_t i = 0; i < n; i++)
    printf("%s %s", i ? "," : "", v[i].name ? v[i].name : v[i].id);
  printf("\n");
}

int cmd_whoami(struct run *r)
{
  struct dhis2_identity *id = NULL;
  char *access = NULL;
  enum dhis2_err rc;
  int ex = valid_token(r, &access, NULL);

  if (ex != EXIT_OK)
    return ex;
  rc = dhis2_api_me(r->client, DHIS2_AUTH_BEARER, NULL, access, &id);
  dhis2_secret_free(access);
  if (rc != DHIS2_OK) {
    say_error("/api/me: %s", dhis2_strerror(rc));
    return exit_code_of(rc);
  }
  if (r->json) {
    struct json_object *o = json_object_new_object();
    struct json_object *g = json_object_new_array();
    struct json_object *ro = json_object_new_array();

    json_object_object_add(o, "username",
                           json_object_new_string(id->username));
    if (id->id)
      json_object_object_add(o, "id", json_object_new_string(id->id));
    if (id->display_name)
      json_object_object_add(o, "displayName",
                             json_object_new_string(id->display_name));
    for (size_t i = 0; i < id->n_groups; i++)
      json_object_array_add(g, json_object_new_string(id->groups[i].name
                                                          ? id->groups[i].name
                                                          : id->groups[i].id));
    for (size_t i = 0; i < id->n_roles; i++)
      json_object_array_add(ro, json_object_new_string(id->roles[i].name
                                                           ? id->roles[i].name
                                                           : id->roles[i].id));
    json_object_object_add(o, "groups", g);
    json_object_object_add(o, "roles", ro);
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
    json_object_put(o);
  } else {
    printf("%s (%s)\n", id->username,
           id->display_name ? id->display_name : "-");
    print_named("Groups", id->groups, id->n_groups);
    print_named("Roles", id->roles, id->n_roles);
  }
  dhis2_identity_free(id);
  return EXIT_OK;
}

int cmd_logout(struct run *r)
{
  struct dhis2_token_record *rec = NULL;
  struct dhis2_oauth2_endpoints ep = {0};
  char err[512] = "";
  char why[512] = "";
  enum dhis2_err rc;

  rc = dhis2_store_load(&r->store, r->cfg->profile, &rec, NULL, err,
                        sizeof(err));
  if (rc != DHIS2_OK) {
    say_error("%s", err[0] ? err : dhis2_strerror(rc));
    return exit_code_of(rc);
  }
  if (rec == NULL) {
    printf("Not signed in (profile %s).\n", r->cfg->profile);
    return EXIT_OK;
  }
  /* Revoke first, best effort: the local copy goes whatever happens. */
  if (dhis2_oauth2_discover(r->client, r->cfg, &ep, why, sizeof(why)) ==
      DHIS2_OK) {
    if (rec->refresh_token != NULL)
      rc = dhis2_oauth2_revoke(r->client, r->cfg, &ep, rec->refresh_token,
                               "refresh_token");
    if (rc == DHIS2_OK)
      rc = dhis2_oauth2_revoke(r->client, r->cfg, &ep, rec->access_token,
                               "access_token");
    if (rc == DHIS2_ERR_UNSUPPORTED)
      fprintf(stderr, "The server offers no revocation: the tokens stay "
                      "valid there until they expire.\n");
    else if (rc != DHIS2_OK)
      fprintf(stderr, "Could not revoke the tokens (%s).\n",
              dhis2_strerror(rc));
  }
  dhis2_oauth2_endpoints_clear(&ep);
  dhis2_token_record_free(rec);
  rc = dhis2_store_delete(&r->store, r->cfg->profile, err, sizeof(err));
  if (rc != DHIS2_OK) {
    say_error("%s", err[0] ? err : dhis2_strerror(rc));
    return exit_code_of(rc);
  }
  printf("Signed out (profile %s).\n", r->cfg->profile);
  return EXIT_OK;
}
