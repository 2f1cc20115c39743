/* The offline sign-in cache (DESIGN.md section 11): what lets a user who
   signed in online before sign in while DHIS2 cannot be reached. */
#ifndef DHIS2_CACHE_H
#define DHIS2_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "dhis2/api.h"
#include "dhis2/err.h"
#include "dhis2/log.h"

/*
 * One record a DHIS2 user (of one server URL), in dir (state_dir/offline,
 * root-only): a JSON file named by the SHA-256 of "URL\nNAME", written
 * atomically (temporary file, fsync, rename), mode 0600. It holds:
 * yescrypt hashes (libxcrypt, as /etc/shadow) of the last password and of
 * the last PAT that DHIS2 accepted, each in its own slot; the identity
 * snapshot (/api/me-shaped: id, username, groups, roles, authorities, org
 * units; or only the snapshot, for a user an account lookup checked);
 * when the last online check was, by the local clock and by the server's
 * Date header; the high-water mark of every time seen; whether DHIS2 asked
 * for a verification code; and the offline failure counter. Never a
 * plaintext secret, never a token.
 *
 * Every change of a user's record is made holding an exclusive flock on
 * the user's lock file beside it (NAME-HASH.lock), so two sign-ins of one
 * user at once are judged one after the other and the failure count is
 * exact. A record file that is a symlink, not a regular file, not owned by
 * us, readable or writable by group or others, over 64 KiB, or that does
 * not parse, is ignored and logged: never a crash, never a sign-in.
 *
 * Clocks: now is passed in (tests inject it). The window of a record is
 *   [mark - DHIS2_CACHE_SKEW, checked + ttl]
 * where checked is the earlier of the local and the server time of the
 * last online check, and mark the latest time seen for the user (local
 * clock, server Date, every offline sign-in) since the last online check
 * that had a server Date: DHIS2's Date vouches for the time, so a mark
 * left by a clock once far ahead ends there. Rolling the clock back
 * below the mark, or forward past the end, never opens the window.
 */

/* How far behind the latest time seen the local clock may be (s). */
#define DHIS2_CACHE_SKEW 300
/* The yescrypt cost used for new hashes (crypt_gensalt "$y$" count): 7
   is N = 2^14, r = 32, 64 MiB and about 0.1 s a verification on a
   2-core VM (make bench); 8 doubles both, too near a 0.3 s budget. */
#define DHIS2_CACHE_COST 7

struct dhis2_cache {
  const char *dir;             /* absolute; made 0700 when missing */
  const char *url;             /* the DHIS2 base URL the record belongs to */
  long ttl;                    /* offline_ttl, seconds */
  unsigned failure_limit;      /* offline_failure_limit; 0: no limit */
  long failure_delay;          /* offline_failure_delay, seconds */
  bool twofactor_password;     /* offline_twofactor = password */
  unsigned cost;               /* yescrypt cost of new hashes, 1..11;
                                  0: DHIS2_CACHE_COST (tests go lower) */
  const struct dhis2_log *log; /* may be NULL */
};

/* Which secret a slot holds. */
enum dhis2_cache_slot { DHIS2_CACHE_PASSWORD, DHIS2_CACHE_PAT };

/*
 * After DHIS2 accepted secret for name: replaces the slot's hash, the
 * snapshot of id, the check times (server_date 0: the server sent none),
 * the 2FA flag (twofactor: DHIS2 asked a verification code in this
 * sign-in, or id says the user has 2FA; a PAT sign-in, which asks no
 * code, only ever sets it) and clears the failure counter; the other
 * slot is kept. Atomic: on any error (disk full) the old record
 * stays whole. Returns DHIS2_OK, DHIS2_ERR_IO, DHIS2_ERR_CONFIG (an unsafe
 * directory), DHIS2_ERR_NOMEM or DHIS2_ERR_INTERNAL (hashing failed).
 */
enum dhis2_err dhis2_cache_store(const struct dhis2_cache *c, const char *name,
                                 enum dhis2_cache_slot slot,
                                 const char *secret,
                                 const struct dhis2_identity *id,
                                 bool twofactor, time_t now,
                                 time_t server_date);

/*
 * DHIS2 answered that secret is wrong for name: when it matches the slot's
 * hash, the secret was changed on DHIS2 and the slot is deleted (a typo
 * that does not match leaves it). Returns DHIS2_OK either way (also with
 * no record), or an error as dhis2_cache_store().
 */
enum dhis2_err dhis2_cache_rejected(const struct dhis2_cache *c,
                                    const char *name,
                                    enum dhis2_cache_slot slot,
                                    const char *secret);

/* DHIS2 said the account cannot sign in (disabled, locked, expired):
   deletes name's record at once. DHIS2_OK also when there was none. */
enum dhis2_err dhis2_cache_forget(const struct dhis2_cache *c,
                                  const char *name);

/* What an offline check decided. */
enum dhis2_cache_verdict {
  DHIS2_CACHE_OK,         /* signed in offline: *id and *checked set */
  DHIS2_CACHE_NONE,       /* no usable record or slot for this user */
  DHIS2_CACHE_WRONG,      /* the secret does not match: a failure counted */
  DHIS2_CACHE_DELAYED,    /* too many failures: refused until *until */
  DHIS2_CACHE_TOO_OLD,    /* the clock is past checked + ttl */
  DHIS2_CACHE_CLOCK_BACK, /* the clock is before the mark (- skew) */
  DHIS2_CACHE_TWOFACTOR,  /* a 2FA user, a password, and not allowed */
  DHIS2_CACHE_ERROR,      /* the record could not be read or updated */
};

/* The result of dhis2_cache_check(). id is owned (dhis2_identity_free). */
struct dhis2_cache_result {
  struct dhis2_identity *id; /* the snapshot, on DHIS2_CACHE_OK */
  time_t checked;            /* when the last online check was */
  time_t until;              /* DELAYED: when it ends; TOO_OLD: the end */
  time_t mark;               /* CLOCK_BACK: the latest time seen */
  unsigned failures;         /* the offline failures now counted */
};

/*
 * DHIS2 could not be asked: may name sign in with secret (of kind slot) at
 * now? In this order: no record or empty slot -> NONE; failures at the
 * limit within failure_delay -> DELAYED (the right secret too, nothing
 * verified); now before mark - DHIS2_CACHE_SKEW -> CLOCK_BACK; now past
 * checked + ttl -> TOO_OLD; a password of a 2FA user without
 * twofactor_password -> TWOFACTOR; then the hash: wrong -> WRONG (the
 * counter goes up, timestamped), right -> OK (the counter is cleared and
 * the mark raised to now). r is zeroed first; release r->id.
 */
enum dhis2_cache_verdict dhis2_cache_check(const struct dhis2_cache *c,
                                           const char *name,
                                           enum dhis2_cache_slot slot,
                                           const char *secret, time_t now,
                                           struct dhis2_cache_result *r);

/* True when name's offline failures are at the limit within
   failure_delay at now (then *until says when it ends): the module sends
   nothing while it holds. */
bool dhis2_cache_delayed(const struct dhis2_cache *c, const char *name,
                         time_t now, time_t *until);

/*
 * After an account lookup found name active (account_check = lookup):
 * replaces the record's snapshot and raises its mark as
 * dhis2_cache_store() does, keeping both hash slots (a new record has
 * none). The check times become the lookup's only in a record with no
 * hash: a lookup proves the account, not a secret, so it never extends
 * how long a kept password or PAT works offline. Same errors.
 */
enum dhis2_err dhis2_cache_store_snapshot(const struct dhis2_cache *c,
                                          const char *name,
                                          const struct dhis2_identity *id,
                                          time_t now, time_t server_date);

/*
 * DHIS2 could not be asked about name's account: the snapshot of the last
 * online sign-in or lookup, when now is within the record's window (the
 * same clock rules as dhis2_cache_check(); no secret, no failure count).
 * Returns DHIS2_CACHE_OK with r->id and r->checked set, or NONE, TOO_OLD,
 * CLOCK_BACK, ERROR with r as dhis2_cache_check() fills it.
 */
enum dhis2_cache_verdict dhis2_cache_snapshot(const struct dhis2_cache *c,
                                              const char *name, time_t now,
                                              struct dhis2_cache_result *r);

/* --- the record itself (parsed by the fuzz target and dhis2-pamctl) --- */

struct dhis2_cache_record {
  char *url;
  char *username;
  char *password_hash; /* NULL: the slot is empty */
  char *pat_hash;      /* NULL: the slot is empty */
  time_t checked_local;
  time_t checked_server; /* 0: unknown */
  time_t mark;
  bool twofactor;
  unsigned failures;
  time_t failed_at; /* the latest offline failure */
  struct dhis2_identity *id;
};

/*
 * Parses a record file's bytes strictly (one JSON object: version 1, every
 * field of the right type, hashes of yescrypt shape, the snapshot as
 * dhis2_identity_parse() reads it). Sets *out (NULL on entry) on
 * DHIS2_OK; DHIS2_ERR_MALFORMED or DHIS2_ERR_NOMEM otherwise.
 */
enum dhis2_err dhis2_cache_record_parse(const char *buf, size_t len,
                                        struct dhis2_cache_record **out);
void dhis2_cache_record_free(struct dhis2_cache_record *r);

/* The record's window end: min(checked_local, checked_server) + ttl. */
time_t dhis2_cache_record_end(const struct dhis2_cache_record *r, long ttl);

/* --- the whole directory, for dhis2-pamctl --- */

/*
 * Calls fn with every record in c->dir that can be read (of any URL:
 * the caller compares rec->url), in directory order; counts into
 * *ignored the files that are not (unsafe, unparsable: logged). A
 * missing directory holds nothing (DHIS2_OK) and is not made. Returns
 * DHIS2_OK, DHIS2_ERR_CONFIG (an unsafe directory) or DHIS2_ERR_IO.
 * rec is only lent to fn.
 */
enum dhis2_err dhis2_cache_list(const struct dhis2_cache *c,
                                void (*fn)(const struct dhis2_cache_record *,
                                           void *),
                                void *ctx, unsigned *ignored);

/*
 * Removes name's record of c->url and its lock file, holding the lock
 * meanwhile (a sign-in of that user waiting on it goes on with no
 * record). *found says whether there was a record. Returns DHIS2_OK (also
 * when there was none), DHIS2_ERR_INVAL (a name that is no DHIS2 name),
 * DHIS2_ERR_IO, DHIS2_ERR_CONFIG.
 */
enum dhis2_err dhis2_cache_purge(const struct dhis2_cache *c, const char *name,
                                 bool *found);

/* As dhis2_cache_purge() for every record in c->dir, of any URL,
   readable or not; *count gets how many records were removed. */
enum dhis2_err dhis2_cache_purge_all(const struct dhis2_cache *c,
                                     unsigned *count);

#endif /* DHIS2_CACHE_H */
