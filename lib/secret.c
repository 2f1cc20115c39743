/* Wiping and freeing secrets. */
#include <stdlib.h>
#include <string.h>

#include "dhis2/secret.h"

void dhis2_secret_wipe(void *p, size_t len)
{
  if (p != NULL && len > 0)
    explicit_bzero(p, len);
}

void dhis2_secret_free(char *s)
{
  if (s == NULL)
    return;
  explicit_bzero(s, strlen(s));
  free(s);
}

void dhis2_secret_free_n(void *p, size_t len)
{
  if (p == NULL)
    return;
  explicit_bzero(p, len);
  free(p);
}

char *dhis2_secret_dup(const char *s)
{
  if (s == NULL)
    return NULL;
  return strdup(s);
}
