/* Running the module through the real libpam with a scripted conversation. */
#ifndef DHIS2_PAMTEST_H
#define DHIS2_PAMTEST_H

#include <stdbool.h>

struct emu;

/* One test's PAM set-up: a temp dir with the service file, state_dir and
   the user map. */
struct pt;

/* What one transaction showed. Strings malloc'd, freed by pt_run_clear. */
struct pt_run {
  int auth;       /* pam_authenticate */
  int acct;       /* pam_acct_mgmt, -1 when not reached */
  int session;    /* pam_open_session, -1 when not reached */
  char *user;     /* PAM_USER at the end */
  char *messages; /* every PAM_ERROR_MSG and PAM_TEXT_INFO, '\n'-joined */
  char *prompts;  /* every prompt shown, '\n'-joined */
  int n_prompts;
  int n_echo_on;      /* how many of them showed what is typed */
  char *env_username; /* DHIS2_USERNAME etc. after open_session */
  char *env_user_id;
  char *env_url;
};

/* A set-up for the emulator e; aborts the test on failure. */
struct pt *pt_new(struct emu *e);
void pt_free(struct pt *p);

/* The directory (for planting files) and the common module arguments:
   url, ca_file, state_dir, user_map (once written). */
const char *pt_dir(const struct pt *p);

/* Writes the user map, 0600. */
void pt_write_map(struct pt *p, const char *text);

/*
 * Writes service "dhis2-test": auth, account and session lines of the
 * module with the common arguments followed by extra (may be NULL). With
 * raw non-NULL, writes exactly raw instead, after replacing every "@MOD@"
 * by the module's path and "@ARGS@" by the common arguments.
 */
void pt_service(struct pt *p, const char *extra);
void pt_service_raw(struct pt *p, const char *raw);

/* Runs auth, then account and session when auth succeeded, for user with
   the NULL-terminated answers to the prompts in order. */
void pt_run(struct pt *p, const char *user, const char *const *answers,
            struct pt_run *out);
void pt_run_clear(struct pt_run *r);

/* What a prompt hook makes of the prompt it was shown. */
enum pt_hook_verdict {
  PT_ANSWER,  /* give the next scripted answer, as pt_run does */
  PT_HANG_UP, /* the conversation fails (PAM_CONV_ERR), as when the user
                 closes the connection */
};

/*
 * pt_run, with hook(prompt, ctx) called for each prompt before it is
 * answered (hook NULL: pt_run). The test acts there as the user does
 * meanwhile: reads a code out of the prompt and approves it elsewhere,
 * waits, or hangs up. The prompt is only lent to the hook.
 */
void pt_run_hook(struct pt *p, const char *user, const char *const *answers,
                 enum pt_hook_verdict (*hook)(const char *prompt, void *ctx),
                 void *ctx, struct pt_run *out);

/* pam_acct_mgmt alone, as sshd runs it after a public-key login: no auth
   phase, no prompt answered (a prompt shows in out->n_prompts). */
void pt_acct(struct pt *p, const char *user, struct pt_run *out);

/* pt_run with one answer; returns the auth result. */
int pt_auth(struct pt *p, const char *user, const char *secret);

/* Every line the module sent to syslog so far in this test process. */
const char *pt_logged(void);

#endif /* DHIS2_PAMTEST_H */
