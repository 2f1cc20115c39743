/* Reading a reply body as one JSON object, strictly, for every part. */
#ifndef DHIS2_JSON_H
#define DHIS2_JSON_H

#include <stddef.h>

#include <json-c/json.h>

#include "dhis2/err.h"

/*
 * Parses buf[0..len) (not necessarily NUL-terminated) as one JSON object
 * with nothing but whitespace after it, in json-c's strict mode (and with
 * UTF-8 validation where json-c has it). Sets *out (NULL on entry; the
 * caller puts it) on DHIS2_OK; DHIS2_ERR_MALFORMED for anything else,
 * including an empty buffer or a NUL byte anywhere; DHIS2_ERR_NOMEM.
 */
enum dhis2_err dhis2_json_parse_object(const char *buf, size_t len,
                                       struct json_object **out);

#endif /* DHIS2_JSON_H */
