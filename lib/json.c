/* Reading a reply body as one JSON object, strictly, for every part. */
#include <limits.h>
#include <string.h>

#include "dhis2/json.h"

enum dhis2_err dhis2_json_parse_object(const char *buf, size_t len,
                                       struct json_object **out)
{
  enum dhis2_err rc = DHIS2_ERR_MALFORMED;
  struct json_tokener *tok = NULL;
  struct json_object *root = NULL;
  int flags = JSON_TOKENER_STRICT;

  *out = NULL;
  if (buf == NULL || len == 0 || len > INT_MAX ||
      memchr(buf, '\0', len) != NULL)
    goto out;
  rc = DHIS2_ERR_NOMEM;
  tok = json_tokener_new();
  if (tok == NULL)
    goto out;
#ifdef JSON_TOKENER_VALIDATE_UTF8
  flags |= JSON_TOKENER_VALIDATE_UTF8;
#endif
  json_tokener_set_flags(tok, flags);
  rc = DHIS2_ERR_MALFORMED;
  root = json_tokener_parse_ex(tok, buf, (int)len);
  if (root == NULL || json_tokener_get_error(tok) != json_tokener_success ||
      json_tokener_get_parse_end(tok) != len ||
      !json_object_is_type(root, json_type_object))
    goto out;
  *out = root;
  root = NULL; /* transferred */
  rc = DHIS2_OK;
out:
  json_object_put(root);
  if (tok != NULL)
    json_tokener_free(tok);
  return rc;
}
