/* A QR code on the terminal, for the device flow's verification URL. */
#include <stdio.h>
#include <stdlib.h>

#include "dhis2/qr.h"
#include "helper.h"

bool show_qr(const char *text)
{
  char *drawing = dhis2_qr_draw(text);

  if (drawing == NULL)
    return false;
  fputs(drawing, stdout);
  free(drawing);
  return true;
}
