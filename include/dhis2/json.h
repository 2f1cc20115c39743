/* Reading a reply body as one JSON object, strictly, for every part. */
#ifndef DHIS2_JSON_H
#define DHIS2_JSON_H

#include <stdbool.h>
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

/*
 * As dhis2_json_parse_object(), for bodies that carry secrets (token
 * endpoint replies). json-c copies every string it parses twice, into its
 * tokener's buffer and into the string object, and frees both unwiped.
 * Here the tokener's buffer is sized to the input first (no realloc()
 * leaves a partial copy behind) and wiped before it is freed; the caller
 * releases *out with dhis2_json_put_secret(), never json_object_put().
 * The input is not touched: the caller wipes it.
 */
enum dhis2_err dhis2_json_parse_secret_object(const char *buf, size_t len,
                                              struct json_object **out);

/* Wipes every string value in obj, at any depth, then puts obj (the
   caller's reference). NULL ok. */
void dhis2_json_put_secret(struct json_object *obj);

#endif /* DHIS2_JSON_H */
