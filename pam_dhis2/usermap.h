/*
 * The user map's line parser, out of usermap.c so that tests/fuzz can
 * reach it without a module, a file or a name service. Only usermap.c and
 * tests/ include this header.
 */
#ifndef PAM_DHIS2_USERMAP_H
#define PAM_DHIS2_USERMAP_H

#include <stddef.h>

/* One parsed line; pointers into the file buffer. */
struct map_line {
  const char *dhis2;
  const char *local;
};

/*
 * Splits buf (NUL-terminated, modified) into lines of two fields; returns
 * the count (at most max) or -1 with the bad line number in *bad.
 */
long user_map_parse(char *buf, struct map_line *lines, size_t max,
                    size_t *bad);

#endif /* PAM_DHIS2_USERMAP_H */
