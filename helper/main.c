/* dhis2-auth: OAuth2 sign-in to DHIS2 for terminal users, like kinit. */
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helper.h"

static const char usage_text[] =
    "Usage: dhis2-auth [--profile P] [--config FILE] COMMAND [options]\n"
    "       (--profile and --config may also follow the command)\n"
    "\n"
    "Commands:\n"
    "  login   sign in to DHIS2 and keep the tokens in your keyring\n"
    "          [--browser | --no-browser | --device | --paste] [--timeout S]\n"
    "  status  say whether you are signed in, where the token is kept and\n"
    "          when it expires [--json]; exit 0 signed in, 1 not\n"
    "  token   print a valid access token (refreshed when < 60 s left)\n"
    "  whoami  who DHIS2 says you are, read with the token [--json]\n"
    "  logout  revoke the tokens where the server can, then delete them\n"
    "\n"
    "Options:\n"
    "  --profile P    use section [P] of the configuration\n"
    "  --config FILE  read FILE instead of /etc/security/pam_dhis2.conf\n"
    "  -h, --help     this text; 'dhis2-auth COMMAND --help' for one\n"
    "\n"
    "Configuration: the system file, then $XDG_CONFIG_HOME/dhis2-auth/"
    "config\n"
    "(key = value lines, see pam_dhis2.conf(5)). DHIS2_AUTH_NO_BROWSER=1 "
    "is\n"
    "--no-browser. Exit codes: 0 ok, 1 not signed in or refused, 2 usage "
    "or\n"
    "configuration, 3 server unreachable.\n";

static const char *const command_help[][2] = {
    {"login",
     "Usage: dhis2-auth login [--browser | --no-browser | --device | "
     "--paste] [--timeout S]\n"
     "Signs in with OAuth2 (PKCE) and stores the tokens.\n"
     "  --browser     open a browser and wait on 127.0.0.1:redirect_port\n"
     "  --no-browser  print the URL to open instead, and still wait there\n"
     "  --device      device code: a code and a QR code to use on another\n"
     "                device (oauth2 = oidc: identity providers offer it;\n"
     "                DHIS2's own server cannot)\n"
     "  --paste       for a terminal on another machine: open the URL\n"
     "                anywhere, then paste the address the browser ends on\n"
     "  --timeout S   how long to wait for you (default 300)\n"
     "Without a flag: --device with oauth2 = oidc when the provider offers\n"
     "it, else --browser with a display, else --no-browser.\n"},
    {"status", "Usage: dhis2-auth status [--json]\n"
               "Exit 0 when signed in (a token, or a refresh token), 1 when "
               "not.\n"},
    {"token", "Usage: dhis2-auth token\n"
              "Prints a valid access token, refreshing it first when it "
              "expires\nwithin 60 s. Use it as: Authorization: Bearer "
              "$(dhis2-auth token)\n"},
    {"whoami", "Usage: dhis2-auth whoami [--json]\n"
               "Reads /api/me with the token: name, groups, roles.\n"},
    {"logout", "Usage: dhis2-auth logout\n"
               "Revokes the tokens where the server offers revocation, then "
               "deletes\nthem from the keyring or file.\n"},
};

void say_error(const char *fmt, ...)
{
  char line[1024];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  fprintf(stderr, "dhis2-auth: %s\n", line);
}

int exit_code_of(enum dhis2_err err)
{
  switch (dhis2_err_class(err)) {
  case DHIS2_CLASS_OK:
    return EXIT_OK;
  case DHIS2_CLASS_UNAVAILABLE:
    return EXIT_UNREACHABLE;
  case DHIS2_CLASS_LOCAL:
    return err == DHIS2_ERR_CONFIG || err == DHIS2_ERR_INVAL ? EXIT_USAGE : 1;
  default:
    return EXIT_NOT_LOGGED_IN;
  }
}

/* The per-user configuration file, or NULL. */
static char *user_config_path(void)
{
  const char *xdg = getenv("XDG_CONFIG_HOME");
  const char *home = getenv("HOME");
  char *path = NULL;

  if (xdg != NULL && xdg[0] == '/')
    return asprintf(&path, "%s/dhis2-auth/config", xdg) < 0 ? NULL : path;
  if (home != NULL && home[0] == '/')
    return asprintf(&path, "%s/.config/dhis2-auth/config", home) < 0 ? NULL
                                                                     : path;
  return NULL;
}

static int load_config(struct run *r)
{
  char *user = user_config_path();
  struct dhis2_config_opts opts = {.system_path = r->config_path,
                                   .user_path = user,
                                   .user_uid = getuid(),
                                   .profile = r->profile,
                                   /* a file named by --config must exist */
                                   .system_required = r->config_path != NULL};
  char err[512] = "";
  enum dhis2_err rc = dhis2_config_load(&opts, &r->cfg, err, sizeof(err));

  free(user);
  if (rc != DHIS2_OK) {
    say_error("%s", err[0] ? err : dhis2_strerror(rc));
    if (rc == DHIS2_ERR_CONFIG && strstr(err, "url") != NULL)
      fprintf(stderr, "dhis2-auth: set url = https://your-dhis2/ in "
                      "~/.config/dhis2-auth/config or the system file\n");
    return EXIT_USAGE;
  }
  r->log.debug = r->cfg->debug;
  if (dhis2_client_new(r->cfg, &r->log, &r->client) != DHIS2_OK)
    return EXIT_USAGE;
  r->store.backend = r->cfg->token_store;
  r->store.uid = geteuid();
  return EXIT_OK;
}

static bool wants_help(int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
      return true;
  return false;
}

/* Options after the command. Returns EXIT_OK or EXIT_USAGE. */
static int command_options(struct run *r, const char *cmd, int argc,
                           char **argv)
{
  static const struct option opts[] = {
      {"browser", no_argument, NULL, 'b'},
      {"no-browser", no_argument, NULL, 'n'},
      {"device", no_argument, NULL, 'd'},
      {"paste", no_argument, NULL, 'p'},
      {"timeout", required_argument, NULL, 't'},
      {"json", no_argument, NULL, 'j'},
      /* as before the command (DESIGN.md 6) */
      {"profile", required_argument, NULL, 'P'},
      {"config", required_argument, NULL, 'c'},
      {NULL, 0, NULL, 0},
  };
  bool login = strcmp(cmd, "login") == 0;
  bool json_ok = strcmp(cmd, "status") == 0 || strcmp(cmd, "whoami") == 0;
  int c;

  optind = 1;
  while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
    if (c == 'P') {
      r->profile = optarg;
    } else if (c == 'c') {
      r->config_path = optarg;
    } else if (c == 'j' && json_ok) {
      r->json = true;
    } else if (login && (c == 'b' || c == 'n' || c == 'd' || c == 'p')) {
      if (r->flow != FLOW_AUTO) {
        say_error("login: choose one of --browser, --no-browser, --device "
                  "and --paste");
        return EXIT_USAGE;
      }
      r->flow = c == 'b'   ? FLOW_BROWSER
                : c == 'n' ? FLOW_NO_BROWSER
                : c == 'd' ? FLOW_DEVICE
                           : FLOW_PASTE;
    } else if (login && c == 't') {
      char *end;
      long v = strtol(optarg, &end, 10);

      if (*end != '\0' || v < 1 || v > 3600) {
        say_error("login: --timeout takes seconds from 1 to 3600");
        return EXIT_USAGE;
      }
      r->timeout = (int)v;
    } else {
      say_error("%s: unknown option; see 'dhis2-auth %s --help'", cmd, cmd);
      return EXIT_USAGE;
    }
  }
  if (optind < argc) {
    say_error("%s: unexpected argument '%s'", cmd, argv[optind]);
    return EXIT_USAGE;
  }
  return EXIT_OK;
}

int main(int argc, char **argv)
{
  static const struct option global[] = {
      {"profile", required_argument, NULL, 'P'},
      {"config", required_argument, NULL, 'c'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct run r = {.timeout = 300};
  const char *cmd;
  int rc;
  int c;

  r.log.ident = "dhis2-auth";
  while ((c = getopt_long(argc, argv, "+h", global, NULL)) != -1) {
    if (c == 'P') {
      r.profile = optarg;
    } else if (c == 'c') {
      r.config_path = optarg;
    } else if (c == 'h') {
      fputs(usage_text, stdout);
      return EXIT_OK;
    } else {
      fputs(usage_text, stderr);
      return EXIT_USAGE;
    }
  }
  if (optind >= argc) {
    fputs(usage_text, stderr);
    return EXIT_USAGE;
  }
  cmd = argv[optind];
  argc -= optind;
  argv += optind;
  for (size_t i = 0; i < sizeof(command_help) / sizeof(command_help[0]); i++) {
    if (strcmp(cmd, command_help[i][0]) != 0)
      continue;
    if (wants_help(argc, argv)) {
      fputs(command_help[i][1], stdout);
      return EXIT_OK;
    }
    rc = command_options(&r, cmd, argc, argv);
    if (rc == EXIT_OK)
      rc = load_config(&r);
    if (rc == EXIT_OK) {
      if (strcmp(cmd, "login") == 0)
        rc = cmd_login(&r);
      else if (strcmp(cmd, "status") == 0)
        rc = cmd_status(&r);
      else if (strcmp(cmd, "token") == 0)
        rc = cmd_token(&r);
      else if (strcmp(cmd, "whoami") == 0)
        rc = cmd_whoami(&r);
      else
        rc = cmd_logout(&r);
    }
    dhis2_client_free(r.client);
    dhis2_config_free(r.cfg);
    return rc;
  }
  say_error("unknown command '%s'; see 'dhis2-auth --help'", cmd);
  return EXIT_USAGE;
}
