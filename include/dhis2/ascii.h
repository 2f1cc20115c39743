/* Locale-free character and name comparisons. */
#ifndef DHIS2_ASCII_H
#define DHIS2_ASCII_H

#include <stdbool.h>
#include <stddef.h>

/*
 * A PAM module runs in whatever locale its host set (su and sudo call
 * setlocale() from the caller's environment), and strcasecmp(), tolower()
 * and friends follow it: in a Turkish single-byte locale "I" does not fold
 * to "i". Every case-insensitive comparison in pam_dhis2 goes through
 * these, which fold A-Z only.
 */

/* c with A-Z folded to a-z; every other byte unchanged. */
char dhis2_ascii_lower(char c);

/* As strcasecmp() and strncasecmp() in the "C" locale: <0, 0 or >0. */
int dhis2_ascii_casecmp(const char *a, const char *b);
int dhis2_ascii_ncasecmp(const char *a, const char *b, size_t n);

/* True when a and b are equal, A-Z folded. NULL equals nothing. */
bool dhis2_ascii_case_eq(const char *a, const char *b);

#endif /* DHIS2_ASCII_H */
