/* Helpers shared by the Criterion tests: fixture data and a client. */
#ifndef DHIS2_TESTUTIL_H
#define DHIS2_TESTUTIL_H

#include "dhis2/api.h"
#include "dhis2/config.h"

struct emu;

/*
 * Returns the index-th PAT token (malloc'd) of the fixture user, as the
 * emulator's fixture file lists it; aborts the test if there is none.
 */
char *tu_fixture_pat(const char *username, size_t index);

/* The PAT whose fixture id is id (malloc'd). */
char *tu_fixture_pat_named(const char *username, const char *id);

/* A top-level string of the fixture user ("password", "secret"); kept
   until the test process ends. */
const char *tu_fixture_string(const char *username, const char *key);

/* A well-formed V2 PAT that was never issued (malloc'd). */
char *tu_fresh_pat_v2(void);

/*
 * Fills cfg (zeroed first) for the emulator e with the given timeout in
 * seconds: its URL, its CA and allow_http for plain HTTP. Strings in cfg
 * are malloc'd: release with tu_config_clear().
 */
void tu_config_for(struct dhis2_config *cfg, struct emu *e, long timeout);
void tu_config_clear(struct dhis2_config *cfg);

/* A client for e; aborts the test on failure. Free with
   dhis2_client_free(). */
struct dhis2_client *tu_client(struct emu *e, long timeout);

/* Monotonic seconds. */
double tu_now(void);

#endif /* DHIS2_TESTUTIL_H */
