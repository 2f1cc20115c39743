/* What pam_dhis2.so exports: the PAM entry points and nothing of ours. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

static void *open_module(void)
{
  void *h = dlopen(DHIS2_MODULE_PATH, RTLD_NOW | RTLD_LOCAL);

  cr_assert_not_null(h, "dlopen: %s", dlerror());
  return h;
}

Test(exports, every_pam_entry_point_is_there)
{
  const char *names[] = {"pam_sm_authenticate", "pam_sm_setcred",
                         "pam_sm_acct_mgmt", "pam_sm_open_session",
                         "pam_sm_close_session"};
  void *h = open_module();

  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    cr_assert_not_null(dlsym(h, names[i]), "%s missing", names[i]);
  dlclose(h);
}

Test(exports, no_library_symbol_leaks)
{
  const char *names[] = {"dhis2_config_load",   "dhis2_http_request",
                         "dhis2_api_me",        "dhis2_secret_free",
                         "module_authenticate", "dhis2_err_to_pam",
                         "user_map_resolve"};
  void *h = open_module();

  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    cr_assert_null(dlsym(h, names[i]), "%s is exported", names[i]);
  dlclose(h);
}

Test(exports, dynamic_symbol_table_holds_only_pam_sm)
{
  char cmd[512];
  char line[256];
  FILE *p;
  int n = 0;

  snprintf(cmd, sizeof(cmd), "nm -D --defined-only %s", DHIS2_MODULE_PATH);
  p = popen(cmd, "r");
  cr_assert_not_null(p);
  while (fgets(line, sizeof(line), p) != NULL) {
    char *name = strrchr(line, ' ');

    cr_assert_not_null(name);
    name++;
    name[strcspn(name, "\n")] = '\0';
    cr_assert(strncmp(name, "pam_sm_", 7) == 0, "exported: %s", name);
    n++;
  }
  cr_assert_eq(pclose(p), 0, "nm failed");
  cr_assert_eq(n, 5);
}

Test(exports, no_locale_dependent_comparison_is_imported)
{
  /* su and sudo run the module in the caller's locale: every name and
     keyword comparison must fold A-Z only (dhis2/ascii.h). */
  const char *banned[] = {"strcasecmp",
                          "strncasecmp",
                          "strcasestr",
                          "tolower",
                          "toupper",
                          "__ctype_tolower_loc",
                          "__ctype_toupper_loc",
                          "strcasecmp_l"};
  char cmd[512];
  char line[256];
  FILE *p;

  snprintf(cmd, sizeof(cmd), "nm -D --undefined-only %s", DHIS2_MODULE_PATH);
  p = popen(cmd, "r");
  cr_assert_not_null(p);
  while (fgets(line, sizeof(line), p) != NULL) {
    char *name = strrchr(line, ' ');

    cr_assert_not_null(name);
    name++;
    name[strcspn(name, "@\n")] = '\0';
    for (size_t i = 0; i < sizeof(banned) / sizeof(banned[0]); i++)
      cr_assert(strcmp(name, banned[i]) != 0, "the module imports %s", name);
  }
  cr_assert_eq(pclose(p), 0, "nm failed");
}
