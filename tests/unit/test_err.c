/* Every error has a sentence and a class that tells callers what to do. */
#include <string.h>

#include <criterion/criterion.h>

#include "dhis2/err.h"

Test(err, every_value_has_its_own_sentence)
{
  for (int e = DHIS2_OK; e <= DHIS2_ERR_LOOKUP_DENIED; e++) {
    const char *s = dhis2_strerror((enum dhis2_err)e);

    cr_assert_str_neq(s, "unknown error", "error %d", e);
    for (int f = DHIS2_OK; f < e; f++)
      cr_assert_str_neq(s, dhis2_strerror((enum dhis2_err)f),
                        "errors %d and %d read alike", e, f);
  }
  cr_assert_str_eq(dhis2_strerror((enum dhis2_err)9999), "unknown error");
}

Test(err, classes_separate_rejected_from_unavailable)
{
  cr_assert_eq(dhis2_err_class(DHIS2_OK), DHIS2_CLASS_OK);
  cr_assert_eq(dhis2_err_class(DHIS2_ERR_REJECTED), DHIS2_CLASS_REJECTED);
  cr_assert_eq(dhis2_err_class(DHIS2_ERR_IDENTITY), DHIS2_CLASS_REJECTED);
  cr_assert_eq(dhis2_err_class(DHIS2_ERR_LOCKED), DHIS2_CLASS_ACCOUNT);
  cr_assert_eq(dhis2_err_class(DHIS2_ERR_PASSWORD_EXPIRED),
               DHIS2_CLASS_ACCOUNT);
  cr_assert_eq(dhis2_err_class(DHIS2_ERR_2FA_REQUIRED),
               DHIS2_CLASS_NEEDS_CODE);
  cr_assert_eq(dhis2_err_class(DHIS2_ERR_2FA_CODE_SENT),
               DHIS2_CLASS_NEEDS_CODE);
  cr_assert_eq(dhis2_err_class(DHIS2_ERR_PENDING), DHIS2_CLASS_WAIT);
  for (int e = DHIS2_ERR_CONNECT; e <= DHIS2_ERR_UNSUPPORTED; e++)
    cr_assert_eq(dhis2_err_class((enum dhis2_err)e), DHIS2_CLASS_UNAVAILABLE,
                 "error %d", e);
  cr_assert_eq(dhis2_err_class(DHIS2_ERR_CONFIG), DHIS2_CLASS_LOCAL);
}

Test(err, a_missing_user_is_the_account_and_a_refused_lookup_is_ours)
{
  cr_assert_eq(dhis2_err_class(DHIS2_ERR_NO_USER), DHIS2_CLASS_ACCOUNT);
  cr_assert_eq(dhis2_err_class(DHIS2_ERR_LOOKUP_DENIED), DHIS2_CLASS_LOCAL);
  cr_assert(strstr(dhis2_strerror(DHIS2_ERR_LOOKUP_DENIED), "F_USER_VIEW"));
}
