/* libFuzzer target: the user map file's lines (user_map_parse(), sized
   as user_map_resolve() sizes it). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "usermap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *buf = malloc(size + 1);
  struct map_line *lines = calloc(size / 2 + 1, sizeof(*lines));
  size_t bad = 0;
  long n;

  if (buf == NULL || lines == NULL)
    goto out;
  memcpy(buf, data, size);
  buf[size] = '\0';
  n = user_map_parse(buf, lines, size / 2 + 1, &bad);
  for (long i = 0; i < n; i++)
    if (strlen(lines[i].dhis2) == 0 || strlen(lines[i].local) == 0)
      abort();
out:
  free(lines);
  free(buf);
  return 0;
}
