/* A QR code drawn with text, for the device flow's verification URL. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>

#include "dhis2/qr.h"

static bool dark(const QRcode *qr, int x, int y)
{
  return y >= 0 && y < qr->width && x >= 0 && x < qr->width &&
         (qr->data[y * qr->width + x] & 1);
}

char *dhis2_qr_draw(const char *text)
{
  static const char full[] = "\u2588", upper[] = "\u2580", lower[] = "\u2584";
  QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
  size_t cols, rows, cap, n = 0;
  char *out;

  if (qr == NULL)
    return NULL;
  cols = (size_t)qr->width + 4;
  rows = ((size_t)qr->width + 5) / 2;
  cap = rows * (cols * 3 + 1) + 1;
  out = malloc(cap);
  if (out == NULL) {
    QRcode_free(qr);
    return NULL;
  }
  /* A light module is drawn, a dark one left blank: on a dark terminal
     that reads as dark on light. */
  for (int y = -2; y < qr->width + 2; y += 2) {
    for (int x = -2; x < qr->width + 2; x++) {
      bool top = dark(qr, x, y);
      bool bot = dark(qr, x, y + 1);
      const char *cell = top && bot ? " " : top ? lower : bot ? upper : full;
      size_t len = strlen(cell);

      memcpy(out + n, cell, len);
      n += len;
    }
    out[n++] = '\n';
  }
  out[n] = '\0';
  QRcode_free(qr);
  return out;
}
