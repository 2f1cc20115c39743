/* Internal interfaces of pam_dhis2.so between its few source files. */
#ifndef DHIS2_MODULE_H
#define DHIS2_MODULE_H

#include <stdbool.h>
#include <time.h>

#include <security/pam_modules.h>

#include "dhis2/api.h"
#include "dhis2/cache.h"
#include "dhis2/config.h"
#include "dhis2/log.h"
#include "dhis2/oauth2.h"

/* The module's entry points are its only exported symbols. */
#define DHIS2_EXPORT __attribute__((visibility("default")))

/* pam_set_data name of the verified identity (struct dhis2_identity). */
#define DHIS2_PAM_IDENTITY "pam_dhis2_identity"
/* pam_set_data name set (to a static marker) when the identity was just
   checked with DHIS2 by password or PAT, or offline: the account phase
   then asks DHIS2 nothing more. Unset after the token method. */
#define DHIS2_PAM_CHECKED "pam_dhis2_checked"

/* Everything one entry point needs, on its stack. */
struct module {
  pam_handle_t *pamh;
  struct dhis2_config *cfg;
  struct dhis2_log log;
  char *host_path; /* host_orgunit's path, once read (host.c) */
};

/*
 * Loads the configuration for one call into m (the log goes to pam_syslog
 * of pamh). Returns a PAM code: PAM_SUCCESS, or PAM_AUTHINFO_UNAVAIL with
 * the reason logged. Release with module_close().
 */
int module_open(struct module *m, pam_handle_t *pamh, int argc,
                const char **argv);
void module_close(struct module *m);

/* The auth phase (auth.c): returns the PAM code of pam_sm_authenticate. */
int module_authenticate(struct module *m);

/* Exports DHIS2_USERNAME, DHIS2_USER_ID and DHIS2_URL (auth.c). */
int module_export_env(struct module *m, const struct dhis2_identity *id);

/* True when DHIS2 answered for exactly the DHIS2 name wanted; otherwise
   logs the refusal and the user_map line that would allow it. */
bool module_same_dhis2_user(struct module *m, const char *answered,
                            const char *wanted);

/* The one place PAM codes are made from library errors. */
int dhis2_err_to_pam(enum dhis2_err err);

/* --- user map (usermap.c) --- */

/* How PAM_USER relates to a DHIS2 name. Strings owned by the struct. */
struct user_target {
  char *dhis2_name; /* the name to authenticate at DHIS2 */
  char *kiosk_user; /* set: on success PAM_USER becomes this account */
};

/*
 * Resolves pam_user per the user map and min_uid (DESIGN.md section 3).
 * Returns PAM_SUCCESS and fills t, PAM_USER_UNKNOWN when the user is not
 * to be authenticated by DHIS2, or PAM_AUTHINFO_UNAVAIL when the map
 * cannot be read. Release t with user_target_clear().
 */
int user_map_resolve(struct module *m, const char *pam_user,
                     struct user_target *t);
void user_target_clear(struct user_target *t);

/* --- conversation (conv.c) --- */

/*
 * Gets the secret for this attempt honouring use_first_pass and
 * try_first_pass, asking with prompt ("Password: "); a prompted secret is
 * also stored as PAM_AUTHTOK for the modules after us. *out is a copy the
 * caller frees with dhis2_secret_free(). Returns a PAM code.
 */
int conv_get_secret(struct module *m, const char *prompt, char **out);

/* Asks for a DHIS2 verification code; *out as above. */
int conv_get_code(struct module *m, char **out);

/* Shows msg to the user as an error message (best effort). */
void conv_error(struct module *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* --- state in state_dir (state.c) --- */

/*
 * The local throttle, for passwords only (DESIGN.md section 3). Before a
 * password is sent, throttle_reserve() takes a slot for name under an
 * exclusive lock; it is false when failure_limit passwords are already
 * rejected or in flight within failure_window (then nothing may be sent).
 * throttle_settle() then says what came of it: a rejection keeps the slot
 * as a failure, a success clears the name, anything else (DHIS2 gave no
 * verdict) gives the slot back. A state_dir that cannot be used is logged
 * and never blocks a login. Names that never failed leave no file.
 */
#define THROTTLE_ID_LEN 16
struct throttle_slot {
  bool held;
  char id[THROTTLE_ID_LEN + 1];
};
enum throttle_outcome {
  THROTTLE_REJECTED,
  THROTTLE_SUCCESS,
  THROTTLE_NO_VERDICT,
};
bool throttle_reserve(struct module *m, const char *name,
                      struct throttle_slot *slot);
void throttle_settle(struct module *m, const char *name,
                     struct throttle_slot *slot, enum throttle_outcome how);

/* One attempt in a throttle file. */
struct throttle_entry {
  time_t t;
  char id[THROTTLE_ID_LEN + 1]; /* "": a rejection; else still in flight */
};

/* One throttle file as dhis2-pamctl shows it. */
struct throttle_file {
  char hash[65];  /* its file name: SHA-256 of the name in lower case */
  char name[256]; /* the name as last typed; "" in a file written before
                     names were kept */
  const struct throttle_entry *e; /* the attempts within failure_window */
  size_t n;
};

/*
 * dhis2-pamctl: calls fn with name's throttle file (name NULL: every
 * file), each read under its lock; with fn NULL removes them instead, as
 * a success would (a reserve waiting on one opens anew). Names are
 * compared as the throttle does, ASCII case-insensitively. Makes no
 * directory. Returns how many files there were, or -1 (logged) when
 * state_dir cannot be used. f is only lent to fn.
 */
long throttle_each(struct module *m, const char *name,
                   void (*fn)(const struct throttle_file *f, void *ctx),
                   void *ctx);

/* The memo of which kind the server is, and its release when the probe
   told it (else release is ""; len is its size, DHIS2_RELEASE_MAX):
   false when there is none (or it is older than a day: servers get
   upgraded). server_kind_set() takes release NULL or "" when unknown. */
bool server_kind_get(struct module *m, enum dhis2_server_kind *kind,
                     char *release, size_t len);
void server_kind_set(struct module *m, enum dhis2_server_kind kind,
                     const char *release);

/*
 * A cache file in state_dir named PREFIX-<sha256 of key>, owned by us and
 * readable by nobody else. state_cache_get() reads it into *buf (a
 * malloc'd NUL-terminated copy of *len bytes; the caller frees it) and is
 * false when it is missing, unsafe or over max bytes; state_cache_put()
 * replaces it atomically (errors logged).
 */
bool state_cache_get(struct module *m, const char *prefix, const char *key,
                     size_t max, char **buf, size_t *len);
void state_cache_put(struct module *m, const char *prefix, const char *key,
                     const char *buf, size_t len);

/* Takes one of max slots for name's device sign-ins (flock on
   state_dir/device/<hash>.N, released when the returned descriptor is
   closed or the process ends): the descriptor; -1 when all are taken;
   -2 (logged) when state_dir cannot be used, which never blocks. */
int state_device_slot(struct module *m, const char *name, unsigned max);

/* state_dir/sub (sub NULL: state_dir itself), both created root-only;
   false, logged, when unusable. */
bool state_path(struct module *m, const char *sub, char *out, size_t outlen);

/* The offline cache of m's configuration (DESIGN.md section 11), in
   state_dir/offline, into c (pointing at dir, dirlen bytes, which must
   outlive c): made root-only when make is set, else only named (a
   listing changes nothing). False, logged, when unusable. */
bool state_offline_cache(struct module *m, bool make, struct dhis2_cache *c,
                         char *dir, size_t dirlen);

/* --- offline sign-in (offline.c, DESIGN.md section 11) --- */

/* True when DHIS2 gave no answer at all (unreachable, timeout, TLS, 5xx):
   the only errors after which offline sign-in may be tried. */
bool offline_applies(enum dhis2_err err);

/* With offline = yes: true when name's offline failures hold it back (the
   user is told until when; nothing may be sent to DHIS2). */
bool offline_delayed(struct module *m, const char *name);

/*
 * With offline = yes, after DHIS2 judged secret for name online: a success
 * (id set) refreshes the record (twofactor: a code was asked;
 * server_date: the server's Date, 0 if none); a wrong secret deletes the
 * slot it matches; a disabled, locked or expired account deletes the
 * record. Errors are logged, never fatal.
 */
void offline_after_online(struct module *m, const char *name,
                          const char *secret, enum dhis2_err err,
                          const struct dhis2_identity *id, bool twofactor,
                          time_t server_date);

/*
 * With offline = yes and DHIS2 unavailable: judges secret for name
 * against the cache. Returns PAM_SUCCESS with *id (NULL on entry) the
 * snapshot and the user told so; PAM_AUTH_ERR for a wrong secret;
 * PAM_MAXTRIES while the failure delay holds; otherwise
 * PAM_AUTHINFO_UNAVAIL (no record, too old, the clock, 2FA), the reason
 * shown and logged.
 */
int offline_signin(struct module *m, const char *name, const char *secret,
                   struct dhis2_identity **id);

/* --- the token method (token.c) --- */

/*
 * Checks the dhis2-auth token stored for the local account pam_user, for
 * the DHIS2 user dhis2_name, per token_validation (DESIGN.md sections 4
 * and 6); never prompts, never changes the record. On DHIS2_OK sets *id
 * (NULL on entry) to the token's verified identity: groups, roles and
 * authorities only when /api/me was read, which a require_* policy
 * forces. Otherwise writes into why (never a secret) why the token cannot
 * be used.
 */
enum dhis2_err token_check(struct module *m, const char *pam_user,
                           const char *dhis2_name, struct dhis2_identity **id,
                           char *why, size_t whylen);

/* --- the device method (device.c) --- */

/* At most this many device sign-ins of one DHIS2 name wait at a time. */
#define DEVICE_PENDING_MAX 2

/*
 * True when methods holds device and it can be offered: oauth2 = oidc and
 * a client_id. Otherwise false, with one log line saying why when methods
 * holds it (oauth2 = dhis2: DHIS2's own clients cannot hold the grant).
 */
bool device_configured(struct module *m);

/*
 * The device flow at the prompt for the DHIS2 user dhis2_name: discovery
 * at the issuer (no device_authorization_endpoint: logged,
 * PAM_AUTHINFO_UNAVAIL), a free slot of DEVICE_PENDING_MAX for the name
 * (else PAM_MAXTRIES, told), the device authorization, then one echo-on
 * prompt holding the verification URL, the user code and a QR code of
 * verification_uri_complete, which the user answers with Enter once they
 * have approved. Polling honours interval, slow_down (+5 s) and
 * expires_in, and ends at device_timeout; a poll still pending asks again
 * ("Not approved yet ..."), and a conversation that fails ends it all
 * (its PAM code is returned, nothing more is sent). Denied, expired or
 * timed out: PAM_AUTH_ERR with the reason shown. Approved: the id_token
 * verified (JWKS signature, iss, aud, azp, exp; no nonce), /api/me read
 * with the access token (DHIS2 maps the provider's claim to its user)
 * and bound exactly to dhis2_name. PAM_SUCCESS with *id (NULL on entry)
 * and *tokens (zeroed on entry; the caller clears it); other codes as
 * DESIGN.md section 4.
 */
int device_signin(struct module *m, const char *dhis2_name,
                  struct dhis2_identity **id, struct dhis2_tokens *tokens);

/*
 * With store_tokens = yes: keeps tokens for the local account pam_user as
 * `dhis2-auth login` would (the record of profile, url, id's username),
 * written by a child process that has become that user (groups, gid,
 * uid), so that the key or file is the user's own and no path the user
 * controls is followed with root's rights. Failures are logged; the
 * sign-in stands.
 */
void device_keep_tokens(struct module *m, const char *pam_user,
                        const struct dhis2_identity *id,
                        const struct dhis2_tokens *tokens);

/* --- the host's organisation unit (host.c) --- */

/*
 * With host_orgunit set and m->host_path not yet known: takes the unit's
 * path from state_dir when it was read within a day, else asks DHIS2 on c
 * with the credential at hand (auth, user, secret as dhis2_api_me()) and
 * keeps it there. c NULL (DHIS2 is not to be asked): any kept path will
 * do. Leaves m->host_path NULL (logged) when it cannot be had.
 */
void host_path_fetch(struct module *m, struct dhis2_client *c,
                     enum dhis2_auth auth, const char *user,
                     const char *secret);

/* --- the account phase (account.c) --- */

/* pam_sm_acct_mgmt: the policies, and with account_check = lookup the
   lookup of users DHIS2 did not just check (DESIGN.md section 4). */
int module_account(struct module *m);

/* --- the account lookup (lookup.c) --- */

/* The service PAT from lookup_pat_file (root's, 0600 or stricter): a
   secret the caller frees with dhis2_secret_free(); NULL, logged, when
   it cannot be used. */
char *lookup_pat(struct module *m);

/* dhis2_api_user_lookup() of name on c with pat, in the filter form the
   server took last time (kept in state_dir). Same results. */
enum dhis2_err lookup_user(struct module *m, struct dhis2_client *c,
                           const char *pat, const char *name,
                           struct dhis2_account *a);

/* --- account policy (policy.c) --- */

/*
 * Checks require_group / require_role / require_authority against id
 * (values matched as dhis2_identity_has_group() says). Returns true when
 * every configured list has a match; otherwise false, writes which list
 * failed into why (for the user and the log) and logs to lg (may be NULL)
 * any UID-shaped value that only a name matched and, for a missing group
 * or role, whether the server's /api/me may have hidden it (acl: what
 * dhis2_release_me_acl() says of the server).
 */
bool policy_allows(const struct dhis2_config *cfg,
                   const struct dhis2_identity *id, const struct dhis2_log *lg,
                   enum dhis2_me_acl acl, const char *host_path, char *why,
                   size_t whylen);

/* What the server memo says of /api/me's sharing filter (state.c). */
enum dhis2_me_acl policy_server_acl(struct module *m);
bool policy_configured(const struct dhis2_config *cfg);

#endif /* DHIS2_MODULE_H */
