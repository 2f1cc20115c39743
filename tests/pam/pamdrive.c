/* A minimal libpam application for tests that must run the module in a
 * process of their own making (a setuid-root copy, a chosen environment):
 *
 *   pamdrive [--host-curl] CONFDIR SERVICE USER SECRET
 *
 * runs pam_authenticate for USER with the service file CONFDIR/SERVICE,
 * answers every hidden prompt with SECRET, and prints "auth=N NAME" (N the
 * PAM code), then "environ=same" or "environ=changed": whether the
 * process environment is, entry for entry, what it was before pam_start.
 * With --host-curl it first initialises libcurl itself, as a host program
 * that uses libcurl would, with its environment. Exits 0 when libpam ran,
 * 2 on usage. It links only libpam, so a setuid copy loads nothing of the
 * test harness.
 */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <security/pam_appl.h>

/* Answers hidden prompts with the secret, visible ones with nothing. */
static int converse(int n, const struct pam_message **msg,
                    struct pam_response **resp, void *data)
{
  const char *secret = data;
  struct pam_response *r;

  if (n <= 0)
    return PAM_CONV_ERR;
  r = calloc((size_t)n, sizeof(*r));
  if (r == NULL)
    return PAM_BUF_ERR;
  for (int i = 0; i < n; i++) {
    const char *answer = NULL;

    if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF)
      answer = secret;
    else if (msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
      answer = "";
    else
      fprintf(stderr, "pamdrive: %s\n", msg[i]->msg);
    if (answer != NULL) {
      r[i].resp = strdup(answer);
      if (r[i].resp == NULL) {
        for (int j = 0; j < i; j++)
          free(r[j].resp);
        free(r);
        return PAM_BUF_ERR;
      }
    }
  }
  *resp = r; /* transferred: libpam frees it */
  return PAM_SUCCESS;
}

/* A malloc'd copy of the environment's entries, NULL-terminated. */
static char **env_copy(void)
{
  size_t n = 0;
  char **copy;

  while (environ[n] != NULL)
    n++;
  copy = calloc(n + 1, sizeof(*copy));
  for (size_t i = 0; copy != NULL && i < n; i++) {
    copy[i] = strdup(environ[i]);
    if (copy[i] == NULL)
      return NULL; /* the test fails: no need to free */
  }
  return copy;
}

static bool env_same(char *const *before)
{
  size_t i = 0;

  for (; before[i] != NULL && environ[i] != NULL; i++)
    if (strcmp(before[i], environ[i]) != 0)
      return false;
  return before[i] == NULL && environ[i] == NULL;
}

/* curl_global_init(CURL_GLOBAL_DEFAULT), libcurl loaded at run time. */
static bool host_curl_init(void)
{
  void *curl = dlopen("libcurl.so.4", RTLD_NOW | RTLD_GLOBAL);
  int (*init)(long);

  if (curl == NULL)
    return false;
  *(void **)&init = dlsym(curl, "curl_global_init");
  return init != NULL && init(3L) == 0; /* CURL_GLOBAL_DEFAULT, CURLE_OK */
}

int main(int argc, char **argv)
{
  char **before = env_copy();
  struct pam_conv conv = {.conv = converse};
  pam_handle_t *h = NULL;
  int rc;

  if (argc == 6 && strcmp(argv[1], "--host-curl") == 0) {
    if (!host_curl_init()) {
      fprintf(stderr, "pamdrive: cannot initialise libcurl\n");
      return 1;
    }
    argc--;
    argv++;
  }
  if (argc != 5) {
    fprintf(stderr,
            "usage: pamdrive [--host-curl] CONFDIR SERVICE USER SECRET\n");
    return 2;
  }
  if (before == NULL)
    return 1;
  conv.appdata_ptr = argv[4];
  rc = pam_start_confdir(argv[2], argv[3], &conv, argv[1], &h);
  if (rc != PAM_SUCCESS) {
    printf("start=%d %s\n", rc, pam_strerror(NULL, rc));
    return 1;
  }
  rc = pam_authenticate(h, 0);
  printf("auth=%d %s\n", rc, pam_strerror(h, rc));
  pam_end(h, rc);
  printf("environ=%s\n", env_same(before) ? "same" : "changed");
  return 0;
}
