/* Handling of secrets: passwords, PATs, tokens, codes, cookies. */
#ifndef DHIS2_SECRET_H
#define DHIS2_SECRET_H

#include <stddef.h>

/* Overwrites len bytes at p so the compiler cannot elide it. NULL ok. */
void dhis2_secret_wipe(void *p, size_t len);

/* Wipes the NUL-terminated string s, then frees it. NULL ok. */
void dhis2_secret_free(char *s);

/* Wipes len bytes at p, then frees p. NULL ok. */
void dhis2_secret_free_n(void *p, size_t len);

/*
 * Returns a malloc'd copy of s that the caller owns and must release with
 * dhis2_secret_free(); NULL when s is NULL or memory is exhausted.
 */
char *dhis2_secret_dup(const char *s);

#endif /* DHIS2_SECRET_H */
