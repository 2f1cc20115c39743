/* Test harness for the DHIS2 emulator (tests/dhis2-emulator): start, control,
   stop, from Criterion tests. */
#ifndef DHIS2_TEST_EMULATOR_H
#define DHIS2_TEST_EMULATOR_H

#include <stdbool.h>
#include <time.h>

/* One running emulator: a node child process and its three ports. */
struct emu;

/*
 * Spawns `node tests/dhis2-emulator/server.js` (node found on PATH) with the
 * committed fixture, version (NULL: the emulator's default, "2.42") and, when
 * tls is true, the test PKI from $DHIS2_TEST_PKI (default build/test-pki
 * under the source tree), made by tests/support/mkpki.sh if missing. The
 * source tree is $DHIS2_SRCDIR, else the current directory. The child's
 * stdin is a pipe we hold, so it exits when this process does, however that
 * happens. Waits at most 10 s for the ready line.
 * Returns the emulator, owned by the caller (free with emu_stop). Never
 * returns NULL: on any failure the current test fails and is aborted with
 * a message saying why.
 */
struct emu *emu_start(const char *version, bool tls);

/* SIGTERM by pid, waits for the exit (SIGKILL after 5 s), frees e.
   NULL is a no-op. */
void emu_stop(struct emu *e);

/* "https://127.0.0.1:PORT" (or http), no trailing slash. Owned by e. */
const char *emu_url(const struct emu *e);

/* The sink listener's base URL ("another host"), same form. Owned by e. */
const char *emu_sink_url(const struct emu *e);

/* The external identity provider's listener (lib/oauth2.js: the device
   flow's IdP, issuer at .../realms/dhis2), same form. Owned by e. */
const char *emu_idp_url(const struct emu *e);

/* Path of the CA certificate that signed the emulator's server certificate,
   or NULL for plain http. Owned by e. */
const char *emu_ca_file(const struct emu *e);

/* Path of an unrelated CA certificate (for "wrong CA" tests), or NULL for
   plain http. Owned by e. */
const char *emu_other_ca_file(const struct emu *e);

/*
 * One request to the control API: method ("GET"/"POST"), path ("/reset"),
 * json_body (NULL for none). Returns the HTTP status, or -1 when the
 * request could not be made. If reply is not NULL, *reply is set to the
 * body, NUL-terminated and malloc'd (caller frees), or NULL when there was
 * none or on error.
 */
int emu_ctl(struct emu *e, const char *method, const char *path,
            const char *json_body, char **reply);

/* POST /reset: faults, outage, counters, logs, lockouts, email codes,
   clock, sessions and version back to the start. Fails the test on
   error. */
void emu_reset(struct emu *e);

/* POST /fault with json, e.g. {"mode":"delay","ms":2000}. Fails the test
   if the emulator refuses it. */
void emu_fault(struct emu *e, const char *json);

/* POST /user with json: an administrator's change to a fixture user until
   the next reset, e.g. {"username":"alice","disabled":true}; keys
   password, disabled, accountExpiry, userGroups. Fails the test if the
   emulator refuses it. */
void emu_user(struct emu *e, const char *json);

/*
 * POST /outage {"mode":mode}: "refuse" closes the main listener and cuts
 * its open connections (a client gets "connection refused"), "hang"
 * accepts and never answers (a client times out), "off" serves again on
 * the same port, as emu_reset() does. Returns once the listener is so.
 * Fails the test on error.
 */
void emu_outage(struct emu *e, const char *mode);

/* POST /clock {"offset_s":offset_s}: the emulator's "now" (its Date
   header, lockouts, expiry, codes) is ours plus offset_s. Fails the test
   on error. */
void emu_clock(struct emu *e, long offset_s);

/* Requests the main listener saw for path (without query), or in total
   when path is NULL. Fails the test on error. */
long emu_count(struct emu *e, const char *path);

/* Requests the sink saw. Fails the test on error. */
long emu_sink_count(struct emu *e);

/* The email 2FA code last "sent" to username: malloc'd, caller frees; NULL
   when none was sent. Fails the test on other errors. */
char *emu_email_code(struct emu *e, const char *username);

/* RFC 6238 TOTP (HMAC-SHA1, 30 s steps, 6 digits) of a base32 secret at
   time t, written as a NUL-terminated string to out. An undecodable secret
   gives "". */
void emu_totp(const char *base32_secret, time_t t, char out[7]);

#endif /* DHIS2_TEST_EMULATOR_H */
