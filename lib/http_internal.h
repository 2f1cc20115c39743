/*
 * Parts of lib/http.c that are not the library's interface: the reader
 * of reply header lines, declared here so that tests/fuzz and tests/unit
 * can reach it without a server. Nothing outside lib/ and tests/ includes
 * this header.
 */
#ifndef DHIS2_HTTP_INTERNAL_H
#define DHIS2_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "dhis2/http.h"

/*
 * One header line of a reply, len bytes at line ("Name: value\r\n", not
 * NUL-terminated), read into r as a transfer reads it: a status line
 * ("HTTP/...") forgets the headers of an interim reply; the name=value
 * part of a Set-Cookie (before any ';') joins r->cookies with "; "
 * between, and one without '=' is ignored; Content-Type, Location and
 * WWW-Authenticate are copied, the last of each winning; other lines are
 * ignored. Names are matched without regard to case. Returns false when
 * out of memory for a cookie (r stays consistent: clear it as usual).
 */
bool dhis2_http_header_line(struct dhis2_http_resp *r, const char *line,
                            size_t len);

#endif /* DHIS2_HTTP_INTERNAL_H */
