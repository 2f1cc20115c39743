/* A QR code drawn with text, for the device flow's verification URL. */
#ifndef DHIS2_QR_H
#define DHIS2_QR_H

/*
 * Draws text (a URL) as a QR code of Unicode half blocks: two modules per
 * character cell, dark on light as scanners expect, with a quiet zone of
 * two modules, one '\n'-ended line per row pair. Returns the drawing as a
 * malloc'd string (about 3 * (width + 4) bytes a line), or NULL when text
 * cannot be encoded or memory runs out. dhis2-auth prints it on a
 * terminal; pam_dhis2 puts it inside the device prompt.
 */
char *dhis2_qr_draw(const char *text);

#endif /* DHIS2_QR_H */
