/* libFuzzer target: the QR drawing (dhis2_qr_draw()) of the verification
   address an identity provider sends, which the module puts in its device
   prompt and dhis2-auth on the terminal. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dhis2/qr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s;
  char *drawing;
  size_t rows = 0;
  size_t width = 0;

  if (size > 2048) /* the reply parser's bound on an address */
    return 0;
  s = malloc(size + 1);
  if (s == NULL)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  drawing = dhis2_qr_draw(s);
  /* A drawing is rows of equal width ending in '\n', made only of the
     three block characters (3 bytes each in UTF-8) and spaces. */
  for (const char *p = drawing; p != NULL && *p != '\0'; rows++) {
    size_t cells = 0;

    while (*p != '\n') {
      if (*p == ' ') {
        p++;
      } else if (strncmp(p, "\u2588", 3) == 0 ||
                 strncmp(p, "\u2580", 3) == 0 ||
                 strncmp(p, "\u2584", 3) == 0) {
        p += 3;
      } else {
        abort();
      }
      cells++;
    }
    p++;
    if (rows == 0)
      width = cells;
    else if (cells != width)
      abort();
  }
  if (drawing != NULL && (width < 25 || rows < 13))
    abort(); /* version 1 is 21 modules, plus the quiet zone */
  free(drawing);
  free(s);
  return 0;
}
