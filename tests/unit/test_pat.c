/* Unit tests of lib/pat.c: PAT shapes and their advisory CRC32 check. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "dhis2/pat.h"

/*
 * Known-good tokens, computed by hand with python3 (zlib.crc32 is the same
 * CRC-32 as java.util.zip.CRC32), independently of lib/pat.c:
 *   c = b"Xq7Lm2Pz9Rt4Vb8Nc1Kd5Hf3Jg6Ws0Ya"
 *   "%010d" % zlib.crc32(c)              -> 1718758996 (plain)
 *   "%010d" % zlib.crc32(c + b"\0" * 3)  -> 0569919012 (2.41+ variant)
 *   c = b"pW3eR7tY1uI5oP9aS2dF6gH0jK4lZ8xC3vB7nM1qE5wQ"
 *   base62(zlib.crc32(c), 6)             -> 0EhFls (plain)
 *   base62(zlib.crc32(c + b"\0" * 4), 6) -> 0cSSmY (2.41+ variant)
 * with base62 over 0-9A-Za-z, most significant digit first, '0'-padded.
 */
static const char v1_plain[] =
    "d2pat_Xq7Lm2Pz9Rt4Vb8Nc1Kd5Hf3Jg6Ws0Ya1718758996";
static const char v1_padded[] =
    "d2pat_Xq7Lm2Pz9Rt4Vb8Nc1Kd5Hf3Jg6Ws0Ya0569919012";
static const char v2_plain[] =
    "d2p_pW3eR7tY1uI5oP9aS2dF6gH0jK4lZ8xC3vB7nM1qE5wQ0EhFls";
static const char v2_padded[] =
    "d2p_pW3eR7tY1uI5oP9aS2dF6gH0jK4lZ8xC3vB7nM1qE5wQ0cSSmY";

/* VALID_TOKEN of dhis2-core's ApiTokenResolverTest.java: a token DHIS2's
   own tests accept; python3 confirms it is the zero-padded variant. */
static const char v2_dhis2_core[] =
    "d2p_lyt5j9WqXaVzJsUhvGJ1w0Ea5GL4jkszazPSWo5HWLFC1QnPCi";

static const char alnum[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* The test's own CRC-32, table-driven, so it checks lib/pat.c's bitwise
   one rather than repeating it. */
static uint32_t test_crc32(const unsigned char *p, size_t n, size_t zeros)
{
  static uint32_t table[256];
  uint32_t crc = 0xFFFFFFFFu;

  if (table[1] == 0)
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;

      for (int k = 0; k < 8; k++)
        c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
  for (size_t i = 0; i < n + zeros; i++) {
    unsigned char b = i < n ? p[i] : 0;

    crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8);
  }
  return crc ^ 0xFFFFFFFFu;
}

/* A small deterministic generator, so failures can be replayed. */
static uint32_t next_rand(uint32_t *state)
{
  *state = *state * 1103515245u + 12345u;
  return *state >> 8;
}

/* Writes a V1 (v2 false) or V2 token with a pseudo-random code into out
   (at least 55 bytes); zero_pad picks the 2.41+ checksum variant. */
static void make_token(char *out, bool v2, bool zero_pad, uint32_t *state)
{
  const char *prefix = v2 ? "d2p_" : "d2pat_";
  size_t plen = strlen(prefix);
  size_t clen = v2 ? 44 : 32;
  uint32_t crc;

  memcpy(out, prefix, plen);
  for (size_t i = 0; i < clen; i++)
    out[plen + i] = alnum[next_rand(state) % 62];
  crc = test_crc32((const unsigned char *)out + plen, clen,
                   zero_pad ? (v2 ? 4 : 3) : 0);
  if (!v2) {
    snprintf(out + plen + clen, 11, "%010lu", (unsigned long)crc);
    return;
  }
  for (size_t i = 6; i > 0; i--) {
    out[plen + clen + i - 1] = alnum[crc % 62];
    crc /= 62;
  }
  out[plen + clen + 6] = '\0';
}

Test(pat, test_crc_matches_the_standard_check_value)
{
  cr_assert_eq(test_crc32((const unsigned char *)"123456789", 9, 0),
               0xCBF43926u);
}

Test(pat, v1_token_is_v1)
{
  cr_assert_eq(dhis2_pat_classify(v1_plain), DHIS2_PAT_V1);
  cr_assert_eq(dhis2_pat_classify(v1_padded), DHIS2_PAT_V1);
}

Test(pat, v2_token_is_v2)
{
  cr_assert_eq(dhis2_pat_classify(v2_plain), DHIS2_PAT_V2);
  cr_assert_eq(dhis2_pat_classify(v2_padded), DHIS2_PAT_V2);
  cr_assert_eq(dhis2_pat_classify(v2_dhis2_core), DHIS2_PAT_V2);
}

Test(pat, v1_plain_checksum_is_ok)
{
  cr_assert(dhis2_pat_checksum_ok(v1_plain));
}

Test(pat, v1_zero_padded_checksum_is_ok)
{
  cr_assert(dhis2_pat_checksum_ok(v1_padded));
}

Test(pat, v2_plain_checksum_is_ok)
{
  cr_assert(dhis2_pat_checksum_ok(v2_plain));
}

Test(pat, v2_zero_padded_checksum_is_ok)
{
  cr_assert(dhis2_pat_checksum_ok(v2_padded));
}

Test(pat, dhis2_core_test_token_checksum_is_ok)
{
  cr_assert(dhis2_pat_checksum_ok(v2_dhis2_core));
}

Test(pat, generated_tokens_of_both_versions_and_variants_are_ok)
{
  uint32_t state = 42;
  char tok[64];

  for (int i = 0; i < 500; i++) {
    bool v2 = i % 2;
    bool pad = (i / 2) % 2;

    make_token(tok, v2, pad, &state);
    cr_assert_eq(dhis2_pat_classify(tok), v2 ? DHIS2_PAT_V2 : DHIS2_PAT_V1,
                 "%s", tok);
    cr_assert(dhis2_pat_checksum_ok(tok), "%s", tok);
  }
}

Test(pat, every_changed_checksum_character_is_bad)
{
  const char *good[] = {v1_plain, v1_padded, v2_plain, v2_padded};

  for (size_t t = 0; t < 4; t++) {
    size_t len = strlen(good[t]);
    size_t sum_len = len == 48 ? 10 : 6;

    for (size_t i = len - sum_len; i < len; i++) {
      char tok[64];

      memcpy(tok, good[t], len + 1);
      tok[i] = tok[i] == '9' ? '8' : '9'; /* a digit: valid in both */
      cr_assert_neq(dhis2_pat_classify(tok), DHIS2_PAT_NONE, "%s", tok);
      cr_assert_not(dhis2_pat_checksum_ok(tok), "%s", tok);
    }
  }
}

Test(pat, changed_code_is_bad_but_still_a_pat)
{
  char tok[64];

  memcpy(tok, v2_padded, sizeof(v2_padded));
  tok[10] = tok[10] == 'a' ? 'b' : 'a';
  cr_assert_eq(dhis2_pat_classify(tok), DHIS2_PAT_V2);
  cr_assert_not(dhis2_pat_checksum_ok(tok));
}

Test(pat, checksum_over_prefix_and_code_is_bad)
{
  /* DHIS2's CRC covers the code only; a CRC that includes "d2pat_" must
     not pass. */
  const char *code = "Xq7Lm2Pz9Rt4Vb8Nc1Kd5Hf3Jg6Ws0Ya";
  char whole[64];
  char tok[64];

  snprintf(whole, sizeof(whole), "d2pat_%s", code);
  snprintf(tok, sizeof(tok), "d2pat_%s%010lu", code,
           (unsigned long)test_crc32((const unsigned char *)whole,
                                     strlen(whole), 0));
  cr_assert_eq(dhis2_pat_classify(tok), DHIS2_PAT_V1);
  cr_assert_not(dhis2_pat_checksum_ok(tok));
}

Test(pat, wrong_length_is_none)
{
  char tok[64];

  cr_assert_eq(
      dhis2_pat_classify("d2pat_Xq7Lm2Pz9Rt4Vb8Nc1Kd5Hf3Jg6Ws0Ya17187589"),
      DHIS2_PAT_NONE);
  snprintf(tok, sizeof(tok), "%s0", v1_plain);
  cr_assert_eq(dhis2_pat_classify(tok), DHIS2_PAT_NONE);
  snprintf(tok, sizeof(tok), "%.53s", v2_plain);
  cr_assert_eq(dhis2_pat_classify(tok), DHIS2_PAT_NONE);
  snprintf(tok, sizeof(tok), "%sA", v2_plain);
  cr_assert_eq(dhis2_pat_classify(tok), DHIS2_PAT_NONE);
  snprintf(tok, sizeof(tok), "%s\n", v2_plain);
  cr_assert_eq(dhis2_pat_classify(tok), DHIS2_PAT_NONE);
  cr_assert_not(dhis2_pat_checksum_ok(tok));
}

Test(pat, wrong_alphabet_is_none)
{
  char tok[64];

  memcpy(tok, v1_plain, sizeof(v1_plain));
  tok[10] = '-';
  cr_assert_eq(dhis2_pat_classify(tok), DHIS2_PAT_NONE);
  tok[10] = '_';
  cr_assert_eq(dhis2_pat_classify(tok), DHIS2_PAT_NONE);
  tok[10] = (char)0xC3; /* a UTF-8 lead byte */
  cr_assert_eq(dhis2_pat_classify(tok), DHIS2_PAT_NONE);

  /* V1's checksum is decimal only. */
  memcpy(tok, v1_plain, sizeof(v1_plain));
  tok[47] = 'a';
  cr_assert_eq(dhis2_pat_classify(tok), DHIS2_PAT_NONE);

  memcpy(tok, v2_plain, sizeof(v2_plain));
  tok[53] = '+';
  cr_assert_eq(dhis2_pat_classify(tok), DHIS2_PAT_NONE);
  memcpy(tok, v2_plain, sizeof(v2_plain));
  tok[20] = ' ';
  cr_assert_eq(dhis2_pat_classify(tok), DHIS2_PAT_NONE);
}

Test(pat, wrong_prefix_is_none)
{
  char tok[64];

  memcpy(tok, v1_plain, sizeof(v1_plain));
  memcpy(tok, "D2PAT_", 6);
  cr_assert_eq(dhis2_pat_classify(tok), DHIS2_PAT_NONE);
  memcpy(tok, "d2pat-", 6);
  cr_assert_eq(dhis2_pat_classify(tok), DHIS2_PAT_NONE);

  memcpy(tok, v2_plain, sizeof(v2_plain));
  memcpy(tok, "d2q_", 4);
  cr_assert_eq(dhis2_pat_classify(tok), DHIS2_PAT_NONE);
  cr_assert_not(dhis2_pat_checksum_ok(tok));

  /* The V1 prefix at the V2 length, and the V2 prefix at the V1 length. */
  snprintf(tok, sizeof(tok), "d2pat_%.48s", &v2_plain[4]);
  cr_assert_eq(strlen(tok), 54);
  cr_assert_eq(dhis2_pat_classify(tok), DHIS2_PAT_NONE);
  snprintf(tok, sizeof(tok), "d2p_%s00", &v1_plain[6]);
  cr_assert_eq(strlen(tok), 48);
  cr_assert_eq(dhis2_pat_classify(tok), DHIS2_PAT_NONE);
}

Test(pat, null_and_empty_are_none)
{
  cr_assert_eq(dhis2_pat_classify(NULL), DHIS2_PAT_NONE);
  cr_assert_eq(dhis2_pat_classify(""), DHIS2_PAT_NONE);
  cr_assert_not(dhis2_pat_checksum_ok(NULL));
  cr_assert_not(dhis2_pat_checksum_ok(""));
}

Test(pat, password_that_starts_with_a_prefix_stays_a_password)
{
  cr_assert_eq(dhis2_pat_classify("d2pat_"), DHIS2_PAT_NONE);
  cr_assert_eq(dhis2_pat_classify("d2p_"), DHIS2_PAT_NONE);
  cr_assert_eq(dhis2_pat_classify("d2pat_hunter2"), DHIS2_PAT_NONE);
  cr_assert_eq(dhis2_pat_classify("d2p_correct horse battery staple"),
               DHIS2_PAT_NONE);
  cr_assert_not(dhis2_pat_checksum_ok("d2pat_hunter2"));
}

Test(pat, a_long_password_is_none)
{
  char pw[4096];

  memset(pw, 'a', sizeof(pw) - 1);
  pw[sizeof(pw) - 1] = '\0';
  memcpy(pw, "d2pat_", 6);
  cr_assert_eq(dhis2_pat_classify(pw), DHIS2_PAT_NONE);
}
