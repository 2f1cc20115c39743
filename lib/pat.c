/* Recognising DHIS2 Personal Access Tokens and checking their CRC32. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dhis2/pat.h"
#include "dhis2/secret.h"

/*
 * A PAT is prefix + code + checksum (dhis2-core ApiTokenType,
 * ApiKeyTokenGenerator): the CRC32 covers the code only, not the prefix.
 * DHIS2 2.41+ computes it over Charset.encode(code).array(), whose backing
 * array is (int)(len * 1.1f) bytes long: the code followed by pad zero
 * bytes (3 for 32 chars, 4 for 44).
 */
struct pat_shape {
  enum dhis2_pat_kind kind;
  const char *prefix;
  size_t prefix_len;
  size_t code_len;
  size_t sum_len;
  size_t pad;
  bool sum_decimal; /* else base62 */
};

static const struct pat_shape shapes[] = {
    {DHIS2_PAT_V1, "d2pat_", 6, 32, 10, 3, true},
    {DHIS2_PAT_V2, "d2p_", 4, 44, 6, 4, false},
};

#define N_SHAPES (sizeof(shapes) / sizeof(shapes[0]))

/* The longest shape plus one, so strnlen never scans a long password. */
#define PAT_SCAN_MAX 64

static const char base62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* ASCII only: isalnum() would follow the caller's locale. */
static bool is_digit(char c)
{
  return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
  return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static const struct pat_shape *shape_of(const char *s)
{
  size_t len;

  if (s == NULL)
    return NULL;
  len = strnlen(s, PAT_SCAN_MAX);
  for (size_t i = 0; i < N_SHAPES; i++) {
    const struct pat_shape *sh = &shapes[i];
    const char *code = s + sh->prefix_len;
    const char *sum = code + sh->code_len;

    if (len != sh->prefix_len + sh->code_len + sh->sum_len ||
        memcmp(s, sh->prefix, sh->prefix_len) != 0)
      continue;
    for (size_t j = 0; j < sh->code_len; j++)
      if (!is_alnum(code[j]))
        return NULL;
    for (size_t j = 0; j < sh->sum_len; j++)
      if (sh->sum_decimal ? !is_digit(sum[j]) : !is_alnum(sum[j]))
        return NULL;
    return sh;
  }
  return NULL;
}

enum dhis2_pat_kind dhis2_pat_classify(const char *s)
{
  const struct pat_shape *sh = shape_of(s);

  return sh != NULL ? sh->kind : DHIS2_PAT_NONE;
}

/* CRC-32 (IEEE 802.3, reflected, as java.util.zip.CRC32 and zlib), bit by
   bit: a token is a few dozen bytes. Continues from crc (0 to start). */
static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n)
{
  crc = ~crc;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++)
      crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

/* Writes crc as the shape's checksum text into out (sum_len + 1 bytes). */
static void encode_sum(const struct pat_shape *sh, uint32_t crc, char *out)
{
  if (sh->sum_decimal) {
    snprintf(out, sh->sum_len + 1, "%010lu", (unsigned long)crc);
    return;
  }
  for (size_t i = sh->sum_len; i > 0; i--) {
    out[i - 1] = base62[crc % 62];
    crc /= 62;
  }
  out[sh->sum_len] = '\0';
}

bool dhis2_pat_checksum_ok(const char *s)
{
  static const unsigned char zeros[4] = {0, 0, 0, 0};
  const struct pat_shape *sh = shape_of(s);
  const unsigned char *code;
  const char *sum;
  char plain[16];
  char padded[16];
  uint32_t crc;
  bool ok = false;

  if (sh == NULL)
    goto out;
  code = (const unsigned char *)s + sh->prefix_len;
  sum = s + sh->prefix_len + sh->code_len;
  crc = crc32_update(0, code, sh->code_len);
  encode_sum(sh, crc, plain);
  crc = crc32_update(crc, zeros, sh->pad); /* the 2.41+ variant */
  encode_sum(sh, crc, padded);
  ok = memcmp(sum, plain, sh->sum_len) == 0 ||
       memcmp(sum, padded, sh->sum_len) == 0;
out:
  /* The checksums are part of the token: do not leave them around. */
  dhis2_secret_wipe(plain, sizeof(plain));
  dhis2_secret_wipe(padded, sizeof(padded));
  return ok;
}
