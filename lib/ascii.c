/* Locale-free character and name comparisons (see dhis2/ascii.h). */
#include "dhis2/ascii.h"

char dhis2_ascii_lower(char c)
{
  return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

int dhis2_ascii_ncasecmp(const char *a, const char *b, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    unsigned char x = (unsigned char)dhis2_ascii_lower(a[i]);
    unsigned char y = (unsigned char)dhis2_ascii_lower(b[i]);

    if (x != y)
      return x < y ? -1 : 1;
    if (x == '\0')
      break;
  }
  return 0;
}

int dhis2_ascii_casecmp(const char *a, const char *b)
{
  return dhis2_ascii_ncasecmp(a, b, (size_t)-1);
}

bool dhis2_ascii_case_eq(const char *a, const char *b)
{
  return a != NULL && b != NULL && dhis2_ascii_casecmp(a, b) == 0;
}
