/* The configuration of pam_dhis2 and dhis2-auth: file, profiles, arguments. */
#ifndef DHIS2_CONFIG_H
#define DHIS2_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "dhis2/err.h"

#ifndef DHIS2_SYSCONF_FILE
#define DHIS2_SYSCONF_FILE "/etc/security/pam_dhis2.conf"
#endif

/* Bits of dhis2_config.methods. */
#define DHIS2_METHOD_PASSWORD 0x1u
#define DHIS2_METHOD_PAT 0x2u
#define DHIS2_METHOD_TOKEN 0x4u
#define DHIS2_METHOD_DEVICE 0x8u

enum dhis2_twofactor { DHIS2_TWOFACTOR_PROMPT, DHIS2_TWOFACTOR_DENY };
enum dhis2_oauth2 { DHIS2_OAUTH2_DHIS2, DHIS2_OAUTH2_UAA, DHIS2_OAUTH2_OIDC };
enum dhis2_token_store {
  DHIS2_STORE_AUTO,
  DHIS2_STORE_KEYRING,
  DHIS2_STORE_FILE
};
enum dhis2_token_validation {
  DHIS2_VALIDATE_AUTO,
  DHIS2_VALIDATE_API,
  DHIS2_VALIDATE_JWKS
};

/* A comma list (require_group and friends), items trimmed, none empty. */
struct dhis2_strlist {
  char **v;
  size_t n;
};

/*
 * One resolved profile. Every string is owned by the struct and released by
 * dhis2_config_free(); NULL means "not set" (the key's default is "none").
 * client_secret is a secret: freed with dhis2_secret_free().
 */
struct dhis2_config {
  char *profile; /* the profile that was selected, "default" if none */
  char *source;  /* the file the profile came from, NULL if only args */

  char *url; /* required; no trailing slash kept */
  char *ca_file;
  char *pinned_pubkey;
  bool allow_http;      /* http:// allowed, and then only to loopback */
  long connect_timeout; /* seconds, default 5, at most 300 */
  long timeout;         /* seconds, default 10, at most 300 */

  unsigned methods; /* DHIS2_METHOD_*, default password|pat */
  enum dhis2_twofactor twofactor;
  char *user_map;
  uid_t min_uid; /* default 1000 */
  uid_t max_uid; /* default 60000 */
  struct dhis2_strlist require_group;
  struct dhis2_strlist require_role;
  struct dhis2_strlist require_authority;
  struct dhis2_strlist require_orgunit; /* UIDs */
  char *host_orgunit;                   /* a UID, or NULL */
  bool account_check_lookup;      /* account_check = lookup (default none) */
  char *lookup_pat_file;          /* absolute; required with lookup */
  bool account_unavailable_allow; /* account_unavailable = allow (default
                                     deny) */
  unsigned failure_limit;         /* default 3; 0 turns the throttle off */
  long failure_window;            /* seconds, default 900 */
  char *state_dir;                /* default /var/lib/pam_dhis2 */

  /* Offline sign-in (DESIGN.md section 11). */
  bool offline;                    /* default no */
  long offline_ttl;                /* seconds, default 7d, 1 s to 90d */
  unsigned offline_failure_limit;  /* default 5, at most 1000; 0: no limit */
  unsigned offline_hash_cost;      /* yescrypt cost, 3 to 11, default 7 */
  long offline_failure_delay;      /* seconds, default 5m, 1 s to 1d */
  bool offline_twofactor_password; /* offline_twofactor = password; default
                                      deny (false) */

  /* The device method (DESIGN.md sections 3 and 4). */
  long device_timeout; /* seconds, default 120, 1 s to 15m */
  bool store_tokens;   /* default yes */

  enum dhis2_oauth2 oauth2;
  char *issuer;
  char *client_id;
  char *client_secret;
  char *scope; /* default "ALL" (uaa), "openid" (oidc); NULL (dhis2: by
                  the server's release, dhis2_oauth2_dhis2_scope_for()) */
  unsigned redirect_port; /* default 8765 */
  enum dhis2_token_store token_store;
  enum dhis2_token_validation token_validation;

  /* Module flags: arguments only, except that debug = yes|no is also a
     file key. */
  bool debug;
  bool use_first_pass;
  bool try_first_pass;
};

/*
 * Where to read from. Order of application: defaults, then the system file
 * (argument conf=PATH replaces system_path), then user_path if set, then
 * every other argument. The profile is argument profile=NAME, else
 * opts->profile, else "default"; in each file the keys before any [section]
 * form "default", and section NAME starts from those and overrides them
 * (so a user file's default keys apply over the system file's [NAME]).
 * Selecting a profile that no file defines is an error. Profile and
 * section names are [A-Za-z0-9_.-], 1 to 64 bytes; "[default]" is refused.
 */
struct dhis2_config_opts {
  const char *system_path; /* NULL: DHIS2_SYSCONF_FILE */
  const char *user_path;   /* helper's per-user file, or NULL */
  uid_t user_uid;          /* the owner user_path must have (or root) */
  const char *profile;     /* NULL: "default" */
  int argc;                /* module arguments: flags and key=value */
  const char *const *argv;
  bool system_required; /* true: a missing system file is an error even
                           with url= given */
};

/*
 * Loads and validates the configuration into *out (set to NULL on entry;
 * caller owns the result, free with dhis2_config_free()).
 *
 * The system file must be a regular file owned by root and not writable by
 * group or others; the user file must be owned by user_uid or root and not
 * writable by group or others. Both are opened with O_NOFOLLOW|O_CLOEXEC
 * and checked with fstat on the open descriptor (dhis2_file_read()), and
 * hold at most 64 KiB, in lines of at most 4096 bytes. A missing system
 * file is not an error when url= is given otherwise (argument, or the user
 * file), unless system_required; a file named by conf= must exist (as in
 * pam_faillock); a missing user file is never an error.
 *
 * Unknown keys, bad values, duplicate sections and lines without '=' are
 * errors, in every section, selected or not. ca_file, user_map and
 * state_dir must be absolute paths; issuer follows url's https rule. On
 * any error returns DHIS2_ERR_CONFIG (or DHIS2_ERR_NOMEM / DHIS2_ERR_IO)
 * and writes into err (errlen bytes, always NUL-terminated when
 * errlen > 0; err may be NULL when errlen is 0) a message naming the file,
 * line and key, e.g.
 * "/etc/security/pam_dhis2.conf:12: timeout: not a duration: 'ten'"; for
 * an argument the "file" is "argument". err is never given a secret value.
 */
enum dhis2_err dhis2_config_load(const struct dhis2_config_opts *opts,
                                 struct dhis2_config **out, char *err,
                                 size_t errlen);

/* Releases cfg and everything it owns, wiping client_secret. NULL ok. */
void dhis2_config_free(struct dhis2_config *cfg);

/*
 * Parses a duration: a non-negative integer of seconds, optionally followed
 * by one unit s, m, h or d ("900", "15m", "2h", "1d"). Returns DHIS2_OK and
 * sets *out, or DHIS2_ERR_INVAL (overflow, empty, junk, negative).
 */
enum dhis2_err dhis2_parse_duration(const char *s, long *out);

/*
 * Parses a yes/no value: yes|no|true|false|on|off|1|0 (case-insensitive).
 * Returns DHIS2_OK and sets *out, or DHIS2_ERR_INVAL.
 */
enum dhis2_err dhis2_parse_bool(const char *s, bool *out);

/* True when the host of url is 127.0.0.0/8, ::1 or "localhost". */
bool dhis2_url_is_loopback(const char *url);

/* True when s is in list, ASCII case-insensitively. */
bool dhis2_strlist_contains(const struct dhis2_strlist *list, const char *s);

#endif /* DHIS2_CONFIG_H */
