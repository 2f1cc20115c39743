/* libFuzzer target: a request head as the loopback receiver judges it
   (dhis2_loopback_judge()). The answer goes to one end of a socketpair
   that is drained and closed: no network. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dhis2/secret.h"
#include "oauth2_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct lb_conn c;
  char *code = NULL;
  char why[256];
  char sink[4096];
  enum dhis2_err rc = DHIS2_OK;
  unsigned refused = 0;
  int sv[2];

  /* conn_read() hands over at most this much, NUL-terminated. */
  if (size > LOOPBACK_MAX_REQUEST)
    return 0;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    abort();
  memset(&c, 0, sizeof(c));
  c.fd = sv[0];
  memcpy(c.req, data, size);
  c.got = size;
  c.req[size] = '\0';
  if (dhis2_loopback_judge(&c, "fuzzstate0123456789", &code, &rc, why,
                           sizeof(why), &refused)) {
    if ((rc == DHIS2_OK) != (code != NULL))
      abort();
  } else if (refused != 1) {
    abort();
  }
  if (c.fd != -1)
    abort(); /* every request is answered and closed */
  while (read(sv[1], sink, sizeof(sink)) > 0)
    ;
  close(sv[1]);
  dhis2_secret_free(code);
  return 0;
}
