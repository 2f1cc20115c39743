/* Recognising DHIS2 Personal Access Tokens by their shape. */
#ifndef DHIS2_PAT_H
#define DHIS2_PAT_H

#include <stdbool.h>

enum dhis2_pat_kind {
  DHIS2_PAT_NONE = 0, /* not a PAT: treat as a password */
  DHIS2_PAT_V1,       /* "d2pat_" + 32 alphanumerics + 10 digits, 48 chars */
  DHIS2_PAT_V2,       /* "d2p_" + 44 alphanumerics + 6 base62, 54 chars */
};

/*
 * Classifies s by prefix, length and alphabet only. NULL gives
 * DHIS2_PAT_NONE. Does not look at the checksum: a typo'd PAT is still sent
 * as a PAT so that DHIS2, not a password attempt, rejects it.
 */
enum dhis2_pat_kind dhis2_pat_classify(const char *s);

/*
 * Advisory: true when the checksum of a token of the given kind matches
 * either the plain CRC32 of its code (DHIS2 2.37-2.40 tokens) or the CRC32
 * of the code followed by zero bytes (what 2.41+ computes). Never decides a
 * login: DHIS2 is the authority.
 */
bool dhis2_pat_checksum_ok(const char *s);

#endif /* DHIS2_PAT_H */
