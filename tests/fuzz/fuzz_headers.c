/* libFuzzer target: the header lines of a reply as a transfer reads them
   (dhis2_http_header_line()): the session cookies, Content-Type, Location
   and WWW-Authenticate. The input is split after each '\n'; every line
   is a buffer of its own, so a read past one is caught. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every "; "-joined cookie is a name=value pair. */
static void check_cookies(const char *cookies)
{
  while (cookies != NULL) {
    size_t n = strcspn(cookies, ";");

    if (n == 0 || memchr(cookies, '=', n) == NULL)
      abort();
    if (cookies[n] == '\0')
      break;
    if (cookies[n + 1] != ' ')
      abort();
    cookies += n + 2;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct dhis2_http_resp r = {0};
  size_t off = 0;

  while (off < size) {
    const uint8_t *nl = memchr(data + off, '\n', size - off);
    size_t n = nl ? (size_t)(nl - (data + off)) + 1 : size - off;
    char *line = malloc(n ? n : 1);

    if (line == NULL)
      break;
    memcpy(line, data + off, n);
    if (!dhis2_http_header_line(&r, line, n)) {
      free(line);
      break;
    }
    free(line);
    off += n;
  }
  check_cookies(r.cookies);
  dhis2_http_resp_clear(&r);
  return 0;
}
