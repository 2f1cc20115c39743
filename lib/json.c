/* Reading a reply body as one JSON object, strictly, for every part. */
#include <limits.h>
#include <string.h>

#include <json-c/json_visit.h>

#include "dhis2/json.h"
#include "dhis2/secret.h"

/*
 * The tokener's own buffer, where json-c copies each string as it parses
 * it. json-c (through 0.18 at least) still declares struct json_tokener,
 * marking the fields "do not access": it is the only way to wipe that
 * copy, and to size the buffer up front so that no realloc() leaves a
 * partial one behind (lib/store.c does the same for its records).
 */
static struct printbuf *tokener_buffer(struct json_tokener *tok)
{
  return tok->pb;
}

/* The parser of both entry points; secret: the tokener's buffer is sized
   first and wiped before it is freed. */
static enum dhis2_err parse(const char *buf, size_t len, bool secret,
                            struct json_object **out)
{
  enum dhis2_err rc = DHIS2_ERR_MALFORMED;
  struct json_tokener *tok = NULL;
  struct json_object *root = NULL;
  struct printbuf *pb = NULL;
  int flags = JSON_TOKENER_STRICT;

  *out = NULL;
  if (buf == NULL || len == 0 || len > INT_MAX - 64 ||
      memchr(buf, '\0', len) != NULL)
    goto out;
  rc = DHIS2_ERR_NOMEM;
  tok = json_tokener_new();
  if (tok == NULL)
    goto out;
  if (secret) {
    /* No string is longer than the input: one block holds them all. */
    pb = tokener_buffer(tok);
    if (printbuf_memset(pb, 0, 0, (int)len + 1) != 0)
      goto out;
    printbuf_reset(pb);
  }
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
  if (secret)
    dhis2_json_put_secret(root);
  else
    json_object_put(root);
  if (pb != NULL && pb->buf != NULL)
    dhis2_secret_wipe(pb->buf, (size_t)pb->size);
  if (tok != NULL)
    json_tokener_free(tok);
  return rc;
}

enum dhis2_err dhis2_json_parse_object(const char *buf, size_t len,
                                       struct json_object **out)
{
  return parse(buf, len, false, out);
}

enum dhis2_err dhis2_json_parse_secret_object(const char *buf, size_t len,
                                              struct json_object **out)
{
  return parse(buf, len, true, out);
}

static int wipe_string(struct json_object *obj, int flags,
                       struct json_object *parent, const char *key,
                       size_t *index, void *arg)
{
  (void)parent;
  (void)key;
  (void)index;
  (void)arg;
  /* The bytes are json-c's writable heap; only its API hands them out
     const. */
  if (flags != JSON_C_VISIT_SECOND &&
      json_object_is_type(obj, json_type_string))
    dhis2_secret_wipe((char *)json_object_get_string(obj),
                      (size_t)json_object_get_string_len(obj));
  return JSON_C_VISIT_RETURN_CONTINUE;
}

void dhis2_json_put_secret(struct json_object *obj)
{
  if (obj == NULL)
    return;
  json_c_visit(obj, 0, wipe_string, NULL);
  json_object_put(obj);
}
