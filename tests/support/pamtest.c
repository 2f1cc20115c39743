/* Running the module through the real libpam with a scripted conversation. */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <security/pam_appl.h>

#include "emulator.h"
#include "pamtest.h"

#ifndef DHIS2_MODULE_PATH
#define DHIS2_MODULE_PATH "build/pam_dhis2.so"
#endif

static void append(char **to, const char *line);

/* Every line the module logged in this process: libpam's pam_vsyslog()
   formats the line and hands it to glibc's __syslog_chk() (what syslog()
   becomes with _FORTIFY_SOURCE), which this definition interposes. */
static char *logged;

__attribute__((visibility("default"))) void __syslog_chk(int prio, int flag,
                                                         const char *fmt, ...);

void __syslog_chk(int prio, int flag, const char *fmt, ...)
{
  char *line = NULL;
  va_list ap;
  int n;

  (void)prio;
  (void)flag;
  va_start(ap, fmt);
  n = vasprintf(&line, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  append(&logged, line);
  free(line);
}

const char *pt_logged(void)
{
  return logged ? logged : "";
}

struct pt {
  char dir[256];
  char args[2048];
  bool has_map;
};

struct pt *pt_new(struct emu *e)
{
  struct pt *p = calloc(1, sizeof(*p));
  char state[300];

  cr_assert_not_null(p);
  snprintf(p->dir, sizeof(p->dir), "/tmp/pam_dhis2-test-XXXXXX");
  cr_assert_not_null(mkdtemp(p->dir));
  snprintf(state, sizeof(state), "%s/state", p->dir);
  snprintf(p->args, sizeof(p->args), "url=%s state_dir=%s%s%s%s", emu_url(e),
           state, emu_ca_file(e) ? " ca_file=" : "",
           emu_ca_file(e) ? emu_ca_file(e) : "",
           strncmp(emu_url(e), "http:", 5) == 0 ? " allow_http=yes" : "");
  return p;
}

void pt_free(struct pt *p)
{
  char cmd[300];

  if (p == NULL)
    return;
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p->dir);
  if (system(cmd) != 0)
    fprintf(stderr, "cannot remove %s\n", p->dir);
  free(p);
}

const char *pt_dir(const struct pt *p)
{
  return p->dir;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
  FILE *f = fopen(path, "w");

  cr_assert_not_null(f, "cannot write %s", path);
  fputs(text, f);
  fclose(f);
  chmod(path, mode);
}

void pt_write_map(struct pt *p, const char *text)
{
  char path[300];

  snprintf(path, sizeof(path), "%s/user_map", p->dir);
  write_file(path, text, 0600);
  if (!p->has_map) {
    size_t n = strlen(p->args);
    snprintf(p->args + n, sizeof(p->args) - n, " user_map=%s", path);
    p->has_map = true;
  }
}

/* Replaces every @MOD@ and @ARGS@ in raw. */
static char *expand(const struct pt *p, const char *raw)
{
  size_t cap = strlen(raw) * 8 + 4096;
  char *out = calloc(1, cap);
  size_t n = 0;

  cr_assert_not_null(out);
  while (*raw) {
    const char *with = NULL;
    size_t skip = 0;

    if (strncmp(raw, "@MOD@", 5) == 0) {
      with = DHIS2_MODULE_PATH;
      skip = 5;
    } else if (strncmp(raw, "@ARGS@", 6) == 0) {
      with = p->args;
      skip = 6;
    }
    if (with != NULL) {
      n += (size_t)snprintf(out + n, cap - n, "%s", with);
      raw += skip;
    } else {
      out[n++] = *raw++;
    }
    cr_assert_lt(n, cap - 1);
  }
  return out;
}

void pt_service_raw(struct pt *p, const char *raw)
{
  char path[300];
  char *text = expand(p, raw);

  snprintf(path, sizeof(path), "%s/dhis2-test", p->dir);
  write_file(path, text, 0644);
  free(text);
}

void pt_service(struct pt *p, const char *extra)
{
  char raw[4096];
  const char *x = extra ? extra : "";

  snprintf(raw, sizeof(raw),
           "auth     required @MOD@ @ARGS@ %s\n"
           "account  required @MOD@ @ARGS@ %s\n"
           "session  required @MOD@ @ARGS@ %s\n",
           x, x, x);
  pt_service_raw(p, raw);
}

/* The scripted conversation's state. */
struct script {
  const char *const *answers;
  size_t next;
  struct pt_run *out;
  enum pt_hook_verdict (*hook)(const char *prompt, void *ctx);
  void *ctx;
};

static void append(char **to, const char *line)
{
  size_t old = *to ? strlen(*to) : 0;
  char *s = realloc(*to, old + strlen(line) + 2);

  cr_assert_not_null(s);
  if (old > 0)
    s[old++] = '\n';
  memcpy(s + old, line, strlen(line) + 1);
  *to = s;
}

static int converse(int n, const struct pam_message **msg,
                    struct pam_response **resp, void *arg)
{
  struct script *sc = arg;
  struct pam_response *r = calloc((size_t)n, sizeof(*r));

  if (r == NULL)
    return PAM_BUF_ERR;
  for (int i = 0; i < n; i++) {
    switch (msg[i]->msg_style) {
    case PAM_PROMPT_ECHO_OFF:
    case PAM_PROMPT_ECHO_ON:
      append(&sc->out->prompts, msg[i]->msg);
      sc->out->n_prompts++;
      if (msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
        sc->out->n_echo_on++;
      if ((sc->hook != NULL && sc->hook(msg[i]->msg, sc->ctx) == PT_HANG_UP) ||
          sc->answers == NULL || sc->answers[sc->next] == NULL) {
        for (int j = 0; j < i; j++)
          free(r[j].resp);
        free(r);
        return PAM_CONV_ERR;
      }
      r[i].resp = strdup(sc->answers[sc->next++]);
      break;
    case PAM_ERROR_MSG:
    case PAM_TEXT_INFO:
      append(&sc->out->messages, msg[i]->msg);
      break;
    default:
      break;
    }
  }
  *resp = r;
  return PAM_SUCCESS;
}

static char *env_dup(pam_handle_t *h, const char *name)
{
  const char *v = pam_getenv(h, name);

  return v ? strdup(v) : NULL;
}

void pt_run(struct pt *p, const char *user, const char *const *answers,
            struct pt_run *out)
{
  pt_run_hook(p, user, answers, NULL, NULL, out);
}

void pt_run_hook(struct pt *p, const char *user, const char *const *answers,
                 enum pt_hook_verdict (*hook)(const char *prompt, void *ctx),
                 void *ctx, struct pt_run *out)
{
  struct script sc = {
      .answers = answers, .out = out, .hook = hook, .ctx = ctx};
  struct pam_conv conv = {.conv = converse, .appdata_ptr = &sc};
  pam_handle_t *h = NULL;
  const void *item = NULL;
  int rc;

  memset(out, 0, sizeof(*out));
  out->acct = out->session = -1;
  rc = pam_start_confdir("dhis2-test", user, &conv, p->dir, &h);
  cr_assert_eq(rc, PAM_SUCCESS, "pam_start_confdir: %d", rc);
  out->auth = pam_authenticate(h, 0);
  if (out->auth == PAM_SUCCESS) {
    out->acct = pam_acct_mgmt(h, 0);
    if (out->acct == PAM_SUCCESS) {
      out->session = pam_open_session(h, 0);
      out->env_username = env_dup(h, "DHIS2_USERNAME");
      out->env_user_id = env_dup(h, "DHIS2_USER_ID");
      out->env_url = env_dup(h, "DHIS2_URL");
      if (out->session == PAM_SUCCESS)
        pam_close_session(h, 0);
    }
  }
  if (pam_get_item(h, PAM_USER, &item) == PAM_SUCCESS && item != NULL)
    out->user = strdup(item);
  pam_end(h, out->auth);
}

void pt_acct(struct pt *p, const char *user, struct pt_run *out)
{
  struct script sc = {.answers = NULL, .out = out};
  struct pam_conv conv = {.conv = converse, .appdata_ptr = &sc};
  pam_handle_t *h = NULL;
  int rc;

  memset(out, 0, sizeof(*out));
  out->auth = out->session = -1;
  rc = pam_start_confdir("dhis2-test", user, &conv, p->dir, &h);
  cr_assert_eq(rc, PAM_SUCCESS, "pam_start_confdir: %d", rc);
  out->acct = pam_acct_mgmt(h, 0);
  pam_end(h, out->acct);
}

void pt_run_clear(struct pt_run *r)
{
  free(r->user);
  free(r->messages);
  free(r->prompts);
  free(r->env_username);
  free(r->env_user_id);
  free(r->env_url);
  memset(r, 0, sizeof(*r));
}

int pt_auth(struct pt *p, const char *user, const char *secret)
{
  const char *answers[] = {secret, NULL};
  struct pt_run r;
  int rc;

  pt_run(p, user, answers, &r);
  rc = r.auth;
  pt_run_clear(&r);
  return rc;
}
