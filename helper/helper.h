/* Internal interfaces of dhis2-auth between its few source files. */
#ifndef DHIS2_HELPER_H
#define DHIS2_HELPER_H

#include <stdbool.h>

#include "dhis2/api.h"
#include "dhis2/config.h"
#include "dhis2/log.h"
#include "dhis2/oauth2.h"
#include "dhis2/store.h"

/* Exit codes (DESIGN.md section 6). */
#define EXIT_OK 0
#define EXIT_NOT_LOGGED_IN 1 /* also: rejected */
#define EXIT_USAGE 2         /* also: configuration */
#define EXIT_UNREACHABLE 3

/* How login runs the flow. */
enum flow {
  FLOW_AUTO,
  FLOW_BROWSER,    /* loopback, open the browser */
  FLOW_NO_BROWSER, /* loopback, URL on stderr */
  FLOW_DEVICE,
  FLOW_PASTE,
};

/* One run of the helper: options, configuration, connection, store. */
struct run {
  const char *profile;
  const char *config_path; /* --config: replaces the system file */
  bool json;
  enum flow flow;
  int timeout; /* seconds to wait for the user in a flow */
  struct dhis2_config *cfg;
  struct dhis2_client *client;
  struct dhis2_log log;
  struct dhis2_store_opts store;
};

/* Maps a library error to an exit code. */
int exit_code_of(enum dhis2_err err);

/* Prints "dhis2-auth: " + message to stderr. */
void say_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The subcommands; each returns an exit code. */
int cmd_login(struct run *r);
int cmd_status(struct run *r);
int cmd_token(struct run *r);
int cmd_whoami(struct run *r);
int cmd_logout(struct run *r);

/*
 * Gets a usable access token for r's profile: refreshes it under the
 * store's lock when it expires within 60 s. *access (NULL on entry) is a
 * secret the caller frees with dhis2_secret_free(); *username (NULL ok)
 * gets a copy of the record's user. Returns an exit code and says why on
 * stderr when it is not EXIT_OK.
 */
int valid_token(struct run *r, char **access, char **username);

/* Where a record is, for a sentence: the store's location without its
   "keyring: " prefix ("key 123 \"dhis2-auth:default\" in the ..."), or
   the file's path. Points into w. */
const char *location_text(const struct dhis2_store_where *w);

/* Draws text as a QR code on the terminal (stdout is a tty) or does
   nothing; returns false when it could not. */
bool show_qr(const char *text);

#endif /* DHIS2_HELPER_H */
