/* Helpers shared by the Criterion tests: fixture data and a client. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "emulator.h"
#include "testutil.h"

static char *fixture_path(void)
{
  const char *top = getenv("DHIS2_SRCDIR");
  char *path;

  if (asprintf(&path, "%s/tests/dhis2-emulator/fixtures/users.json",
               top ? top : ".") < 0)
    cr_assert_fail("out of memory");
  return path;
}

/* The fixture's user object named username; a new reference to root is
   kept in *root (put it when done). Aborts the test if absent. */
static struct json_object *fixture_user(const char *username,
                                        struct json_object **root)
{
  char *path = fixture_path();
  struct json_object *users;

  *root = json_object_from_file(path);
  cr_assert_not_null(*root, "cannot read %s", path);
  free(path);
  cr_assert(json_object_object_get_ex(*root, "users", &users));
  for (size_t i = 0; i < json_object_array_length(users); i++) {
    struct json_object *u = json_object_array_get_idx(users, i);
    struct json_object *name;

    if (json_object_object_get_ex(u, "username", &name) &&
        strcmp(json_object_get_string(name), username) == 0)
      return u;
  }
  cr_assert_fail("no user %s in the fixture", username);
  return NULL;
}

/* The token of the fixture user whose index matches, or whose id does. */
static char *fixture_pat(const char *username, size_t index, const char *id)
{
  struct json_object *root;
  struct json_object *u = fixture_user(username, &root);
  struct json_object *tokens, *t, *v;
  char *token = NULL;

  if (json_object_object_get_ex(u, "tokens", &tokens)) {
    for (size_t i = 0; i < json_object_array_length(tokens); i++) {
      t = json_object_array_get_idx(tokens, i);
      if (id != NULL ? (json_object_object_get_ex(t, "id", &v) &&
                        strcmp(json_object_get_string(v), id) == 0)
                     : i == index) {
        if (json_object_object_get_ex(t, "token", &v))
          token = strdup(json_object_get_string(v));
        break;
      }
    }
  }
  json_object_put(root);
  cr_assert_not_null(token, "no such PAT of %s in the fixture", username);
  return token;
}

char *tu_fixture_pat(const char *username, size_t index)
{
  return fixture_pat(username, index, NULL);
}

char *tu_fixture_pat_named(const char *username, const char *id)
{
  return fixture_pat(username, 0, id);
}

/* What tu_fixture_string() handed out: reachable until the process ends. */
static char *fixture_strings[256];
static size_t n_fixture_strings;

__attribute__((destructor)) static void free_fixture_strings(void)
{
  for (size_t i = 0; i < n_fixture_strings; i++)
    free(fixture_strings[i]);
  n_fixture_strings = 0;
}

const char *tu_fixture_string(const char *username, const char *key)
{
  struct json_object *root;
  struct json_object *u = fixture_user(username, &root);
  struct json_object *v;
  char *s = NULL;

  if (json_object_object_get_ex(u, key, &v))
    s = strdup(json_object_get_string(v));
  json_object_put(root);
  cr_assert_not_null(s, "fixture user %s has no %s", username, key);
  cr_assert_lt(n_fixture_strings, 256);
  fixture_strings[n_fixture_strings++] = s;
  return s;
}

char *tu_fresh_pat_v2(void)
{
  char cmd[1024];
  char buf[4096];
  const char *top = getenv("DHIS2_SRCDIR");
  struct json_object *obj, *tok;
  size_t n;
  char *token;
  FILE *p;

  snprintf(cmd, sizeof(cmd),
           "node %s/tests/dhis2-emulator/tools/mkpat.js --v2",
           top ? top : ".");
  p = popen(cmd, "r");
  cr_assert_not_null(p);
  n = fread(buf, 1, sizeof(buf) - 1, p);
  pclose(p);
  buf[n] = '\0';
  obj = json_tokener_parse(buf);
  cr_assert_not_null(obj, "mkpat.js: %s", buf);
  cr_assert(json_object_object_get_ex(obj, "token", &tok));
  token = strdup(json_object_get_string(tok));
  json_object_put(obj);
  cr_assert_eq(strlen(token), 54, "mkpat.js: %s", token);
  return token;
}

void tu_config_for(struct dhis2_config *cfg, struct emu *e, long timeout)
{
  memset(cfg, 0, sizeof(*cfg));
  cfg->url = strdup(emu_url(e));
  if (emu_ca_file(e) != NULL)
    cfg->ca_file = strdup(emu_ca_file(e));
  cfg->allow_http = strncmp(emu_url(e), "http:", 5) == 0;
  cfg->connect_timeout = timeout;
  cfg->timeout = timeout;
}

void tu_config_clear(struct dhis2_config *cfg)
{
  free(cfg->url);
  free(cfg->ca_file);
  memset(cfg, 0, sizeof(*cfg));
}

struct dhis2_client *tu_client(struct emu *e, long timeout)
{
  struct dhis2_config cfg;
  struct dhis2_client *c = NULL;

  tu_config_for(&cfg, e, timeout);
  cr_assert_eq(dhis2_client_new(&cfg, NULL, &c), DHIS2_OK);
  tu_config_clear(&cfg);
  return c;
}

double tu_now(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
