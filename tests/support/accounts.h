/* The libpam tests' own local accounts, through cwrap's nss_wrapper. */
#ifndef DHIS2_ACCOUNTS_H
#define DHIS2_ACCOUNTS_H

#include <sys/types.h>

/*
 * A test binary that links this file re-executes itself once, before
 * main, under nss_wrapper (LD_PRELOAD=libnss_wrapper.so) with a passwd and
 * group of its own: the machine's accounts are invisible to it, so a host
 * that has an "alice" or a "kiosk" changes nothing, and the uids come from
 * a block that no other test run on the machine holds at the same time
 * (the kernel keeps one persistent keyring per uid for all of them).
 *
 * The accounts, by name (uids from the block unless given):
 *   TA_USER    a local account a DHIS2 user is mapped to
 *   TA_ALIAS   "mallory": TA_USER's uid under another name (as toor is root)
 *   TA_KIOSK   the shared kiosk account
 *   TA_SAME    "carol": a local account named like a DHIS2 user
 *   TA_BOB     "bob": likewise, for binding tests
 *   TA_JOHN    "john": the account of the user map's "jdoe john" line
 *   TA_LOW     uid 999, below min_uid
 *   TA_HIGH    uid 60001, above max_uid
 *   "nobody"   65534, the overflow uid
 *   "root"     0
 */
#define TA_USER "d2t-user"
#define TA_ALIAS "mallory"
#define TA_KIOSK "d2t-kiosk"
#define TA_SAME "carol"
#define TA_BOB "bob"
#define TA_JOHN "john"
#define TA_LOW "d2t-low"
#define TA_HIGH "d2t-high"

/* The uid of one of the accounts above; aborts when there is none. */
uid_t ta_uid(const char *name);

/* Its home directory (exists, owned by it, 0700). */
const char *ta_home(const char *name);

/*
 * While set, getpwnam_r() answers as a case-insensitive name service does
 * (sssd with case_sensitive = false): "JOHN" finds john, whose pw_name
 * says "john". Test-process wide; the module sees it through the
 * executable's own getpwnam_r, which interposes nss_wrapper's.
 */
void ta_case_insensitive_nss(int on);

#endif /* DHIS2_ACCOUNTS_H */
