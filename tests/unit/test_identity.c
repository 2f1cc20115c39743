/* Unit tests of lib/identity.c: /api/me of every shape, and the lookups. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "dhis2/api.h"

/* Reads tests/unit/data/name (from $DHIS2_SRCDIR, else the current
   directory, which is the top of the tree under make and run-tests). */
static char *fixture(const char *name, size_t *len)
{
  const char *top = getenv("DHIS2_SRCDIR");
  char path[4096];
  FILE *f;
  char *buf;
  long n;

  snprintf(path, sizeof(path), "%s/tests/unit/data/%s", top ? top : ".", name);
  f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot open %s", path);
  cr_assert_eq(fseek(f, 0, SEEK_END), 0);
  n = ftell(f);
  cr_assert(n > 0);
  rewind(f);
  buf = malloc((size_t)n);
  cr_assert_not_null(buf);
  cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n; /* deliberately not NUL-terminated */
  return buf;
}

static struct dhis2_identity *parse_fixture(const char *name)
{
  struct dhis2_identity *id = NULL;
  size_t len;
  char *body = fixture(name, &len);
  enum dhis2_err rc = dhis2_identity_parse(body, len, &id);

  free(body);
  cr_assert_eq(rc, DHIS2_OK, "%s: %s", name, dhis2_strerror(rc));
  cr_assert_not_null(id);
  return id;
}

static struct dhis2_identity *parse_ok(const char *json)
{
  struct dhis2_identity *id = NULL;
  enum dhis2_err rc = dhis2_identity_parse(json, strlen(json), &id);

  cr_assert_eq(rc, DHIS2_OK, "%s: %s", json, dhis2_strerror(rc));
  cr_assert_not_null(id);
  cr_assert_not_null(id->username);
  return id;
}

/* The error of parsing body[0..len); checks *out stays NULL on error. */
static enum dhis2_err parse_n(const char *body, size_t len)
{
  struct dhis2_identity *id = (struct dhis2_identity *)&id;
  enum dhis2_err rc = dhis2_identity_parse(body, len, &id);

  if (rc != DHIS2_OK)
    cr_assert_null(id, "out set although parse failed");
  dhis2_identity_free(id);
  return rc;
}

static enum dhis2_err parse_rc(const char *json)
{
  return parse_n(json, strlen(json));
}

/* The three shapes */

Test(identity, dhis2_2_42_shape_parses)
{
  struct dhis2_identity *id = parse_fixture("me-2.42.json");

  cr_assert_str_eq(id->username, "admin");
  cr_assert_str_eq(id->id, "xE7jOejl9FI");
  cr_assert_str_eq(id->display_name, "John Traore");
  cr_assert_eq(id->n_groups, 3);
  cr_assert_str_eq(id->groups[0].id, "wl5cDMuUhmF");
  cr_assert_str_eq(id->groups[0].name, "Administrators");
  cr_assert_str_eq(id->groups[2].name, "Africare HQ");
  cr_assert_eq(id->n_roles, 2);
  cr_assert_str_eq(id->roles[0].name, "Superuser");
  cr_assert_str_eq(id->roles[1].id, "Euq3XfEIEbx");
  cr_assert_eq(id->n_authorities, 4);
  cr_assert_str_eq(id->authorities[0], "ALL");
  cr_assert_str_eq(id->authorities[3], "M_dhis-web-dashboard");
  cr_assert_eq(id->n_orgunits, 2);
  cr_assert_str_eq(id->orgunits[0].id, "DiszpKrYNg8");
  cr_assert_str_eq(id->orgunits[0].path,
                   "/ImspTQPwCqd/O6uvpzGd5pu/YuQRtpLP10I/DiszpKrYNg8");
  cr_assert_str_eq(id->orgunits[1].id, "fdc6uOvgoji");
  dhis2_identity_free(id);
}

Test(identity, dhis2_2_40_shape_merges_roles_without_duplicates)
{
  struct dhis2_identity *id = parse_fixture("me-2.40.json");

  cr_assert_str_eq(id->username, "admin");
  cr_assert_eq(id->n_groups, 2);
  cr_assert_eq(id->n_roles, 2);
  cr_assert_str_eq(id->roles[0].id, "yrB6vc5Ip3r");
  cr_assert_str_eq(id->roles[1].id, "Euq3XfEIEbx");
  cr_assert_eq(id->n_authorities, 2);
  dhis2_identity_free(id);
}

Test(identity, dhis2_2_37_shape_takes_username_from_user_credentials)
{
  struct dhis2_identity *id = parse_fixture("me-2.37.json");

  cr_assert_str_eq(id->username, "admin");
  cr_assert_str_eq(id->id, "xE7jOejl9FI");
  cr_assert_eq(id->n_groups, 2);
  cr_assert_eq(id->n_roles, 2);
  cr_assert_str_eq(id->roles[0].name, "Superuser");
  cr_assert(dhis2_identity_has_role(id, "Data entry clerk"));
  cr_assert(dhis2_identity_has_authority(id, "ALL"));
  dhis2_identity_free(id);
}

Test(identity, username_only_in_user_credentials_is_enough)
{
  struct dhis2_identity *id =
      parse_ok("{\"userCredentials\":{\"username\":\"district\"}}");

  cr_assert_str_eq(id->username, "district");
  cr_assert_null(id->id);
  cr_assert_null(id->display_name);
  cr_assert_eq(id->n_groups, 0);
  cr_assert_eq(id->n_roles, 0);
  cr_assert_eq(id->n_authorities, 0);
  dhis2_identity_free(id);
}

Test(identity, username_alone_is_enough)
{
  struct dhis2_identity *id = parse_ok("{\"username\":\"admin\"}");

  cr_assert_str_eq(id->username, "admin");
  dhis2_identity_free(id);
}

/* Username problems */

Test(identity, missing_username_is_malformed)
{
  cr_assert_eq(parse_rc("{\"id\":\"xE7jOejl9FI\",\"displayName\":\"John\"}"),
               DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_rc("{\"userCredentials\":{\"userRoles\":[]}}"),
               DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_rc("{}"), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_rc("{\"username\":null}"), DHIS2_ERR_MALFORMED);
}

Test(identity, username_of_the_wrong_type_is_malformed)
{
  cr_assert_eq(parse_rc("{\"username\":42}"), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_rc("{\"username\":true}"), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_rc("{\"username\":[\"admin\"]}"), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_rc("{\"username\":{\"name\":\"admin\"}}"),
               DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_rc("{\"userCredentials\":{\"username\":7}}"),
               DHIS2_ERR_MALFORMED);
  /* A broken top-level name is not papered over by the old one. */
  cr_assert_eq(
      parse_rc("{\"username\":7,\"userCredentials\":{\"username\":\"a\"}}"),
      DHIS2_ERR_MALFORMED);
}

Test(identity, empty_username_is_malformed)
{
  cr_assert_eq(parse_rc("{\"username\":\"\"}"), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_rc("{\"userCredentials\":{\"username\":\"\"}}"),
               DHIS2_ERR_MALFORMED);
}

Test(identity, username_with_a_nul_or_control_character_is_malformed)
{
  cr_assert_eq(parse_rc("{\"username\":\"admin\\u0000root\"}"),
               DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_rc("{\"username\":\"admin\\nroot\"}"),
               DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_rc("{\"username\":\"ad:min\"}"), DHIS2_ERR_MALFORMED);
}

Test(identity, two_different_usernames_are_malformed)
{
  cr_assert_eq(parse_rc("{\"username\":\"admin\",\"userCredentials\":"
                        "{\"username\":\"root\"}}"),
               DHIS2_ERR_MALFORMED);
}

Test(identity, null_top_level_username_falls_back_to_user_credentials)
{
  struct dhis2_identity *id = parse_ok(
      "{\"username\":null,\"userCredentials\":{\"username\":\"admin\"}}");

  cr_assert_str_eq(id->username, "admin");
  dhis2_identity_free(id);
}

Test(identity, utf8_username_is_kept)
{
  struct dhis2_identity *id = parse_ok("{\"username\":\"j\\u00f6hn\"}");

  cr_assert_str_eq(id->username, "j\xc3\xb6hn");
  dhis2_identity_free(id);
}

/* Roles */

Test(identity, roles_from_both_places_merge_in_order_without_duplicates)
{
  struct dhis2_identity *id = parse_ok(
      "{\"username\":\"u\",\"userRoles\":[{\"id\":\"A\",\"name\":\"Ra\"},"
      "{\"id\":\"B\",\"name\":\"Rb\"}],\"userCredentials\":{\"username\":"
      "\"u\",\"userRoles\":[{\"id\":\"B\",\"name\":\"Rb\"},{\"id\":\"C\","
      "\"name\":\"Rc\"},{\"id\":\"A\",\"name\":\"Ra\"}]}}");

  cr_assert_eq(id->n_roles, 3);
  cr_assert_str_eq(id->roles[0].id, "A");
  cr_assert_str_eq(id->roles[1].id, "B");
  cr_assert_str_eq(id->roles[2].id, "C");
  dhis2_identity_free(id);
}

Test(identity, roles_are_the_same_when_their_ids_are)
{
  struct dhis2_identity *id = parse_ok(
      "{\"username\":\"u\",\"userRoles\":[{\"id\":\"A\",\"name\":\"Old\"}],"
      "\"userCredentials\":{\"userRoles\":[{\"id\":\"A\",\"name\":\"New\"},"
      "{\"id\":\"B\",\"name\":\"Old\"}]}}");

  cr_assert_eq(id->n_roles, 2);
  cr_assert_str_eq(id->roles[0].name, "Old");
  cr_assert_str_eq(id->roles[1].id, "B");
  dhis2_identity_free(id);
}

Test(identity, roles_without_ids_are_the_same_when_their_names_are)
{
  struct dhis2_identity *id =
      parse_ok("{\"username\":\"u\",\"userRoles\":[{\"name\":\"Superuser\"}],"
               "\"userCredentials\":{\"userRoles\":[{\"name\":\"Superuser\"},"
               "{\"name\":\"Clerk\"},{\"id\":\"Superuser\"}]}}");

  cr_assert_eq(id->n_roles, 3);
  cr_assert_str_eq(id->roles[0].name, "Superuser");
  cr_assert_str_eq(id->roles[1].name, "Clerk");
  cr_assert_str_eq(id->roles[2].id, "Superuser");
  dhis2_identity_free(id);
}

Test(identity, many_duplicate_roles_merge_quickly)
{
  size_t n = 20000;
  size_t cap = n * 2 * 40 + 128;
  char *body = malloc(cap);
  size_t len = 0;
  struct dhis2_identity *id;

  cr_assert_not_null(body);
  len += (size_t)snprintf(body + len, cap - len,
                          "{\"username\":\"u\",\"userRoles\":[");
  for (size_t i = 0; i < n; i++)
    len += (size_t)snprintf(body + len, cap - len,
                            "%s{\"id\":\"r%zu\",\"name\":\"R\"}", i ? "," : "",
                            i);
  len += (size_t)snprintf(body + len, cap - len,
                          "],\"userCredentials\":{\"userRoles\":[");
  for (size_t i = n; i > 0; i--)
    len += (size_t)snprintf(body + len, cap - len, "%s{\"id\":\"r%zu\"}",
                            i != n ? "," : "", i - 1);
  len += (size_t)snprintf(body + len, cap - len, "]}}");
  cr_assert(len < cap);
  id = parse_ok(body);
  cr_assert_eq(id->n_roles, n);
  cr_assert_str_eq(id->roles[0].id, "r0");
  cr_assert_str_eq(id->roles[n - 1].id, "r19999");
  dhis2_identity_free(id);
  free(body);
}

/* Empty, odd and wrong-typed members */

Test(identity, empty_arrays_give_empty_lists)
{
  struct dhis2_identity *id =
      parse_ok("{\"username\":\"admin\",\"userGroups\":[],\"userRoles\":[],"
               "\"authorities\":[],\"userCredentials\":{\"username\":"
               "\"admin\",\"userRoles\":[]}}");

  cr_assert_eq(id->n_groups, 0);
  cr_assert_eq(id->n_roles, 0);
  cr_assert_eq(id->n_authorities, 0);
  cr_assert_not(dhis2_identity_has_group(id, "Administrators"));
  cr_assert_not(dhis2_identity_has_role(id, "Superuser"));
  cr_assert_not(dhis2_identity_has_authority(id, "ALL"));
  dhis2_identity_free(id);
}

Test(identity, unknown_fields_are_ignored)
{
  struct dhis2_identity *id = parse_ok(
      "{\"username\":\"admin\",\"settings\":{\"keyUiLocale\":\"en\"},"
      "\"organisationUnits\":[{\"id\":\"ImspTQPwCqd\"}],\"patTokens\":[],"
      "\"impersonation\":null,\"emailVerified\":false,\"x\":[[[1]]]}");

  cr_assert_str_eq(id->username, "admin");
  dhis2_identity_free(id);
}

Test(identity, lists_of_the_wrong_type_are_ignored)
{
  struct dhis2_identity *id =
      parse_ok("{\"username\":\"admin\",\"userGroups\":{\"id\":\"g\"},"
               "\"userRoles\":\"Superuser\",\"authorities\":\"ALL\","
               "\"userCredentials\":[{\"username\":\"root\"}]}");

  cr_assert_str_eq(id->username, "admin");
  cr_assert_eq(id->n_groups, 0);
  cr_assert_eq(id->n_roles, 0);
  cr_assert_eq(id->n_authorities, 0);
  dhis2_identity_free(id);
}

Test(identity, entries_that_are_not_objects_are_skipped)
{
  struct dhis2_identity *id = parse_ok(
      "{\"username\":\"admin\",\"userGroups\":[\"Administrators\",42,null,"
      "[],{\"id\":\"wl5cDMuUhmF\",\"name\":\"Administrators\"},true],"
      "\"authorities\":[\"ALL\",1,null,{\"a\":1},\"F_USER_ADD\"]}");

  cr_assert_eq(id->n_groups, 1);
  cr_assert_str_eq(id->groups[0].id, "wl5cDMuUhmF");
  cr_assert_eq(id->n_authorities, 2);
  cr_assert_str_eq(id->authorities[1], "F_USER_ADD");
  dhis2_identity_free(id);
}

Test(identity, entries_with_only_an_id_or_a_name_are_kept)
{
  struct dhis2_identity *id =
      parse_ok("{\"username\":\"admin\",\"userGroups\":[{\"id\":\"g1\"},"
               "{\"name\":\"Two\"},{\"id\":5,\"name\":\"Three\"},"
               "{\"id\":\"g4\",\"name\":null},{},{\"id\":1,\"name\":2}]}");

  cr_assert_eq(id->n_groups, 4);
  cr_assert_str_eq(id->groups[0].id, "g1");
  cr_assert_null(id->groups[0].name);
  cr_assert_null(id->groups[1].id);
  cr_assert_str_eq(id->groups[1].name, "Two");
  cr_assert_null(id->groups[2].id);
  cr_assert_str_eq(id->groups[3].id, "g4");
  cr_assert(dhis2_identity_has_group(id, "id:g1"));
  cr_assert(dhis2_identity_has_group(id, "Two"));
  cr_assert(dhis2_identity_has_group(id, "Three"));
  cr_assert_not(dhis2_identity_has_group(id, "5"));
  dhis2_identity_free(id);
}

Test(identity, other_fields_of_the_wrong_type_are_null)
{
  struct dhis2_identity *id =
      parse_ok("{\"id\":12,\"username\":\"admin\",\"displayName\":[]}");

  cr_assert_null(id->id);
  cr_assert_null(id->display_name);
  dhis2_identity_free(id);
}

Test(identity, a_hundred_groups_parse)
{
  char body[16384];
  size_t len = 0;
  struct dhis2_identity *id;

  len += (size_t)snprintf(body, sizeof(body),
                          "{\"username\":\"admin\",\"userGroups\":[");
  for (int i = 0; i < 100; i++)
    len += (size_t)snprintf(body + len, sizeof(body) - len,
                            "%s{\"id\":\"grp%08d\",\"name\":\"Group %d\"}",
                            i ? "," : "", i, i);
  len += (size_t)snprintf(body + len, sizeof(body) - len, "]}");
  cr_assert(len < sizeof(body));
  id = parse_ok(body);
  cr_assert_eq(id->n_groups, 100);
  cr_assert_str_eq(id->groups[99].name, "Group 99");
  cr_assert(dhis2_identity_has_group(id, "Group 57"));
  cr_assert(dhis2_identity_has_group(id, "id:grp00000099"));
  cr_assert_not(dhis2_identity_has_group(id, "Group 100"));
  dhis2_identity_free(id);
}

/* Malformed bodies */

Test(identity, truncated_json_is_malformed)
{
  size_t len;
  char *body = fixture("me-2.42.json", &len);
  size_t last = len;

  while (last > 0 && body[last - 1] != '}')
    last--;
  cr_assert(last > 0);
  /* Every prefix that stops short of the closing brace. */
  for (size_t cut = 0; cut < last; cut++)
    cr_assert_eq(parse_n(body, cut), DHIS2_ERR_MALFORMED, "cut at %zu", cut);
  cr_assert_eq(parse_n(body, last), DHIS2_OK);
  free(body);
  cr_assert_eq(parse_rc("{\"username\":\"admin\""), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_rc("{\"username\":\"adm"), DHIS2_ERR_MALFORMED);
}

Test(identity, json_that_is_not_an_object_is_malformed)
{
  cr_assert_eq(parse_rc("[{\"username\":\"admin\"}]"), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_rc("\"admin\""), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_rc("42"), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_rc("null"), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_rc("true"), DHIS2_ERR_MALFORMED);
}

Test(identity, trailing_garbage_is_malformed)
{
  cr_assert_eq(parse_rc("{\"username\":\"admin\"}x"), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_rc("{\"username\":\"admin\"}{}"), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_rc("{\"username\":\"admin\"},"), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_n("{\"username\":\"admin\"}\0x", 22),
               DHIS2_ERR_MALFORMED);
}

Test(identity, trailing_whitespace_is_fine)
{
  struct dhis2_identity *id = parse_ok(" {\"username\":\"admin\"}\r\n\t ");

  cr_assert_str_eq(id->username, "admin");
  dhis2_identity_free(id);
}

Test(identity, non_json_bodies_are_malformed)
{
  cr_assert_eq(parse_rc("<html><body>Login</body></html>"),
               DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_rc("username=admin"), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_rc("{username:\"admin\"}"), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_rc("{\"username\":\"admin\",}"), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_rc("/* c */{\"username\":\"admin\"}"),
               DHIS2_ERR_MALFORMED);
}

Test(identity, empty_or_absent_body_is_malformed)
{
  cr_assert_eq(parse_n("", 0), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_n(NULL, 0), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_rc("   "), DHIS2_ERR_MALFORMED);
}

Test(identity, invalid_utf8_is_malformed)
{
  cr_assert_eq(parse_rc("{\"username\":\"adm\xff\xfein\"}"),
               DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_rc("{\"username\":\"admin\",\"displayName\":\"\xc3\"}"),
               DHIS2_ERR_MALFORMED);
}

Test(identity, too_deep_nesting_is_malformed)
{
  char body[4096];
  size_t len = 0;

  len += (size_t)snprintf(body, sizeof(body), "{\"username\":\"a\",\"x\":");
  for (int i = 0; i < 1000; i++)
    body[len++] = '[';
  for (int i = 0; i < 1000; i++)
    body[len++] = ']';
  body[len++] = '}';
  body[len] = '\0';
  cr_assert_eq(parse_rc(body), DHIS2_ERR_MALFORMED);
}

Test(identity, body_is_read_only_up_to_len)
{
  const char buf[] = "{\"username\":\"admin\"}GARBAGE";
  struct dhis2_identity *id = NULL;

  cr_assert_eq(dhis2_identity_parse(buf, 20, &id), DHIS2_OK);
  cr_assert_str_eq(id->username, "admin");
  dhis2_identity_free(id);
}

/* Lookups */

Test(identity, a_plain_value_matches_group_names_exactly)
{
  struct dhis2_identity *id = parse_fixture("me-2.42.json");

  cr_assert(dhis2_identity_has_group(id, "Administrators"));
  cr_assert(dhis2_identity_has_group(id, "System administrators"));
  /* DHIS2 names are case-sensitive: another case is another group. */
  cr_assert_not(dhis2_identity_has_group(id, "administrators"));
  cr_assert_not(dhis2_identity_has_group(id, "SYSTEM ADMINISTRATORS"));
  cr_assert_not(dhis2_identity_has_group(id, "Administrator"));
  cr_assert_not(dhis2_identity_has_group(id, "Administrators "));
  cr_assert_not(dhis2_identity_has_group(id, ""));
  cr_assert_not(dhis2_identity_has_group(id, NULL));
  dhis2_identity_free(id);
}

Test(identity, a_uid_shaped_value_matches_group_ids_exactly)
{
  struct dhis2_identity *id = parse_fixture("me-2.42.json");

  cr_assert(dhis2_identity_has_group(id, "wl5cDMuUhmF"));
  cr_assert(dhis2_identity_has_group(id, "vAvEltyXGbD"));
  cr_assert_not(dhis2_identity_has_group(id, "WL5CDMUUHMF"));
  cr_assert_not(dhis2_identity_has_group(id, "wl5cDMuUhm"));
  dhis2_identity_free(id);
}

/* The look-alike of the issue: a group anyone may create, named like the
   admin group's UID. */
static const char lookalike_me[] =
    "{\"username\":\"mallory\",\"userGroups\":["
    "{\"id\":\"Zq0LookAlk1\",\"name\":\"LinuxAdmGrp\"},"
    "{\"id\":\"Zq0LookAlk2\",\"name\":\"LINUX ADMINS\"}],"
    "\"userRoles\":[{\"id\":\"Zq0LookAlk3\",\"name\":\"SuperRole01\"}]}";

Test(identity, a_group_named_like_a_uid_does_not_match_that_uid)
{
  struct dhis2_identity *id = parse_ok(lookalike_me);

  cr_assert_not(dhis2_identity_has_group(id, "LinuxAdmGrp"));
  cr_assert(dhis2_identity_group_name_only(id, "LinuxAdmGrp"));
  cr_assert_not(dhis2_identity_has_group(id, "Linux admins"));
  cr_assert_not(dhis2_identity_group_name_only(id, "Linux admins"));
  cr_assert_not(dhis2_identity_has_role(id, "SuperRole01"));
  cr_assert(dhis2_identity_role_name_only(id, "SuperRole01"));
  dhis2_identity_free(id);
}

Test(identity, an_id_or_name_prefix_says_which_to_match)
{
  struct dhis2_identity *id = parse_ok(lookalike_me);

  cr_assert(dhis2_identity_has_group(id, "name:LinuxAdmGrp"));
  cr_assert(dhis2_identity_has_group(id, "id:Zq0LookAlk1"));
  cr_assert(dhis2_identity_has_group(id, "name:LINUX ADMINS"));
  cr_assert_not(dhis2_identity_has_group(id, "id:LinuxAdmGrp"));
  cr_assert_not(dhis2_identity_has_group(id, "name:Zq0LookAlk1"));
  cr_assert_not(dhis2_identity_has_group(id, "name:linux admins"));
  cr_assert(dhis2_identity_has_role(id, "name:SuperRole01"));
  cr_assert_not(dhis2_identity_group_name_only(id, "id:LinuxAdmGrp"));
  dhis2_identity_free(id);
}

Test(identity, uid_shape_is_eleven_alphanumerics_with_a_letter_first)
{
  cr_assert(dhis2_uid_shaped("wl5cDMuUhmF"));
  cr_assert(dhis2_uid_shaped("LinuxAdmGrp"));
  cr_assert_not(dhis2_uid_shaped("1l5cDMuUhmF"));
  cr_assert_not(dhis2_uid_shaped("wl5cDMuUhm"));
  cr_assert_not(dhis2_uid_shaped("wl5cDMuUhmFx"));
  cr_assert_not(dhis2_uid_shaped("wl5cDM-UhmF"));
  cr_assert_not(dhis2_uid_shaped("Linux admin"));
  cr_assert_not(dhis2_uid_shaped(""));
  cr_assert_not(dhis2_uid_shaped(NULL));
}

Test(identity, group_names_compare_bytes_not_letters)
{
  struct dhis2_identity *id = parse_ok(
      "{\"username\":\"u\",\"userGroups\":[{\"name\":\"\\u00c9quipe\"}]}");

  cr_assert(dhis2_identity_has_group(id, "\xc3\x89quipe"));
  cr_assert_not(dhis2_identity_has_group(id, "\xc3\x89QUIPE"));
  cr_assert_not(dhis2_identity_has_group(id, "\xc3\xa9quipe")); /* é */
  dhis2_identity_free(id);
}

Test(identity, has_role_matches_exact_names_and_ids)
{
  struct dhis2_identity *id = parse_fixture("me-2.40.json");

  cr_assert(dhis2_identity_has_role(id, "Superuser"));
  cr_assert(dhis2_identity_has_role(id, "Data entry clerk"));
  cr_assert_not(dhis2_identity_has_role(id, "superuser"));
  cr_assert_not(dhis2_identity_has_role(id, "DATA ENTRY CLERK"));
  cr_assert(dhis2_identity_has_role(id, "yrB6vc5Ip3r"));
  cr_assert_not(dhis2_identity_has_role(id, "YRB6VC5IP3R"));
  cr_assert_not(dhis2_identity_has_role(id, "Administrators"));
  cr_assert_not(dhis2_identity_has_role(id, NULL));
  dhis2_identity_free(id);
}

Test(identity, has_authority_is_exact)
{
  struct dhis2_identity *id = parse_fixture("me-2.42.json");

  cr_assert(dhis2_identity_has_authority(id, "ALL"));
  cr_assert(dhis2_identity_has_authority(id, "F_USER_ADD"));
  cr_assert_not(dhis2_identity_has_authority(id, "all"));
  cr_assert_not(dhis2_identity_has_authority(id, "F_USER"));
  cr_assert_not(dhis2_identity_has_authority(id, "F_USER_ADD "));
  cr_assert_not(dhis2_identity_has_authority(id, NULL));
  dhis2_identity_free(id);
}

/* Organisation units */

Test(identity, dhis2_2_37_shape_has_org_units_at_the_top_level)
{
  struct dhis2_identity *id = parse_fixture("me-2.37.json");

  cr_assert_eq(id->n_orgunits, 1);
  cr_assert_str_eq(id->orgunits[0].id, "ImspTQPwCqd");
  cr_assert_str_eq(id->orgunits[0].path, "/ImspTQPwCqd");
  dhis2_identity_free(id);
}

Test(identity, org_units_without_an_id_are_skipped_and_a_path_is_optional)
{
  struct dhis2_identity *id =
      parse_ok("{\"username\":\"a\",\"organisationUnits\":["
               "{\"path\":\"/ImspTQPwCqd\"},7,{\"id\":5},"
               "{\"id\":\"O6uvpzGd5pu\"},"
               "{\"id\":\"DiszpKrYNg8\",\"path\":null}]}");

  cr_assert_eq(id->n_orgunits, 2);
  cr_assert_str_eq(id->orgunits[0].id, "O6uvpzGd5pu");
  cr_assert_null(id->orgunits[0].path);
  cr_assert_null(id->orgunits[1].path);
  dhis2_identity_free(id);
}

Test(identity, org_units_of_the_wrong_type_are_none)
{
  struct dhis2_identity *id =
      parse_ok("{\"username\":\"a\",\"organisationUnits\":{}}");

  cr_assert_eq(id->n_orgunits, 0);
  cr_assert_null(id->orgunits);
  cr_assert_not(dhis2_identity_orgunit_within(id, "ImspTQPwCqd"));
  cr_assert_not(dhis2_identity_orgunit_over(id, "/ImspTQPwCqd"));
  dhis2_identity_free(id);
}

Test(identity, within_holds_for_the_unit_and_every_unit_above_it)
{
  struct dhis2_identity *id = parse_fixture("me-2.42.json");

  cr_assert(dhis2_identity_orgunit_within(id, "DiszpKrYNg8"));
  cr_assert(dhis2_identity_orgunit_within(id, "YuQRtpLP10I"));
  cr_assert(dhis2_identity_orgunit_within(id, "O6uvpzGd5pu"));
  cr_assert(dhis2_identity_orgunit_within(id, "ImspTQPwCqd"));
  cr_assert(dhis2_identity_orgunit_within(id, "fdc6uOvgoji"));
  cr_assert_not(dhis2_identity_orgunit_within(id, "jUb8gELQApl"));
  dhis2_identity_free(id);
}

Test(identity, within_matches_whole_segments_exactly)
{
  struct dhis2_identity *id =
      parse_ok("{\"username\":\"a\",\"organisationUnits\":[{\"id\":\"abcd\","
               "\"path\":\"/xabc/abcd/ab\"}]}");

  cr_assert_not(dhis2_identity_orgunit_within(id, "abc"));
  cr_assert_not(dhis2_identity_orgunit_within(id, "bcd"));
  cr_assert_not(dhis2_identity_orgunit_within(id, "ABCD"));
  cr_assert_not(dhis2_identity_orgunit_within(id, "abcd/ab"));
  cr_assert_not(dhis2_identity_orgunit_within(id, ""));
  cr_assert_not(dhis2_identity_orgunit_within(id, NULL));
  cr_assert(dhis2_identity_orgunit_within(id, "abcd"));
  cr_assert(dhis2_identity_orgunit_within(id, "ab"));
  cr_assert(dhis2_identity_orgunit_within(id, "xabc"));
  dhis2_identity_free(id);
}

Test(identity, within_a_unit_without_a_path_is_only_that_unit)
{
  struct dhis2_identity *id =
      parse_ok("{\"username\":\"a\",\"organisationUnits\":"
               "[{\"id\":\"DiszpKrYNg8\"}]}");

  cr_assert(dhis2_identity_orgunit_within(id, "DiszpKrYNg8"));
  cr_assert_not(dhis2_identity_orgunit_within(id, "ImspTQPwCqd"));
  cr_assert_not(dhis2_identity_orgunit_within(id, "DiszpKrYNg"));
  dhis2_identity_free(id);
}

Test(identity, over_holds_for_the_host_unit_and_every_unit_above_it)
{
  struct dhis2_identity *id = parse_fixture("me-2.42.json");
  struct dhis2_identity *national = parse_fixture("me-2.37.json");
  const char *host = "/ImspTQPwCqd/O6uvpzGd5pu/YuQRtpLP10I/DiszpKrYNg8";

  cr_assert(dhis2_identity_orgunit_over(id, host)); /* the unit itself */
  cr_assert(dhis2_identity_orgunit_over(national, host));
  /* A host above the user's unit is not the user's. */
  cr_assert_not(dhis2_identity_orgunit_over(id, "/ImspTQPwCqd/O6uvpzGd5pu"));
  cr_assert_not(dhis2_identity_orgunit_over(id, NULL));
  dhis2_identity_free(id);
  dhis2_identity_free(national);
}

Test(identity, over_matches_whole_segments_exactly)
{
  struct dhis2_identity *id =
      parse_ok("{\"username\":\"a\",\"organisationUnits\":"
               "[{\"id\":\"abc\",\"path\":\"/abc\"}]}");

  cr_assert_not(dhis2_identity_orgunit_over(id, "/abcd"));
  cr_assert_not(dhis2_identity_orgunit_over(id, "/xabc/d"));
  cr_assert_not(dhis2_identity_orgunit_over(id, "/ABC"));
  cr_assert_not(dhis2_identity_orgunit_over(id, ""));
  cr_assert(dhis2_identity_orgunit_over(id, "/abc"));
  cr_assert(dhis2_identity_orgunit_over(id, "/r/abc/d"));
  dhis2_identity_free(id);
}

Test(identity, lookups_on_no_identity_are_false)
{
  cr_assert_not(dhis2_identity_has_group(NULL, "Administrators"));
  cr_assert_not(dhis2_identity_has_role(NULL, "Superuser"));
  cr_assert_not(dhis2_identity_has_authority(NULL, "ALL"));
  cr_assert_not(dhis2_identity_orgunit_within(NULL, "ImspTQPwCqd"));
  cr_assert_not(dhis2_identity_orgunit_over(NULL, "/ImspTQPwCqd"));
  dhis2_identity_free(NULL);
}
