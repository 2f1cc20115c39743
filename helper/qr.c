/* A QR code on the terminal, for the device flow's verification URL. */
#include <stdio.h>

#include <qrencode.h>

#include "helper.h"

bool show_qr(const char *text)
{
  QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);

  if (qr == NULL)
    return false;
  /* Two modules per character cell (upper and lower half blocks), with a
     quiet zone of two modules, dark on light as scanners expect. */
  for (int y = -2; y < qr->width + 2; y += 2) {
    for (int x = -2; x < qr->width + 2; x++) {
      int top = y >= 0 && y < qr->width && x >= 0 && x < qr->width &&
                (qr->data[y * qr->width + x] & 1);
      int bot = y + 1 >= 0 && y + 1 < qr->width && x >= 0 && x < qr->width &&
                (qr->data[(y + 1) * qr->width + x] & 1);

      fputs(top && bot ? " "
            : top      ? "\u2584"
            : bot      ? "\u2580"
                       : "\u2588",
            stdout);
    }
    fputs("\n", stdout);
  }
  QRcode_free(qr);
  return true;
}
