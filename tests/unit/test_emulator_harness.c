/* Tests of the DHIS2 emulator harness (tests/support/emulator.c) against
   the real emulator, over plain HTTP and TLS. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "emulator.h"

struct reply {
  long status;
  char *body;
  size_t len;
};

static size_t collect(char *data, size_t size, size_t nmemb, void *userp)
{
  struct reply *r = userp;
  size_t n = size * nmemb;
  char *p = realloc(r->body, r->len + n + 1);

  if (!p)
    return 0;
  memcpy(p + r->len, data, n);
  r->len += n;
  p[r->len] = '\0';
  r->body = p;
  return n;
}

/* One request to the emulator's main listener, as the project's client
   would make it: no redirects followed, TLS verified against ca (if any).
   Returns the curl code; r->body is malloc'd. */
static CURLcode get(const char *url, const char *userpwd, const char *ca,
                    struct reply *r)
{
  CURL *c = curl_easy_init();
  struct curl_slist *h = NULL;
  CURLcode rc;

  cr_assert_not_null(c);
  memset(r, 0, sizeof *r);
  h = curl_slist_append(h, "X-Requested-With: XMLHttpRequest");
  h = curl_slist_append(h, "Accept: application/json");
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  if (userpwd)
    curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
  if (ca)
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
  rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return rc;
}

static struct emu *emu;

static void start_plain(void)
{
  emu = emu_start(NULL, false);
}

static void start_tls(void)
{
  emu = emu_start("2.42", true);
}

static void stop(void)
{
  emu_stop(emu);
  emu = NULL;
}

Test(emulator_harness, plain_start_gives_http_urls_and_no_ca,
     .init = start_plain, .fini = stop)
{
  cr_assert_eq(strncmp(emu_url(emu), "http://127.0.0.1:", 17), 0);
  cr_assert_eq(strncmp(emu_sink_url(emu), "http://127.0.0.1:", 17), 0);
  cr_assert_str_neq(emu_url(emu), emu_sink_url(emu));
  cr_assert_null(emu_ca_file(emu));
  cr_assert_eq(emu_ctl(emu, "GET", "/health", NULL, NULL), 200);
}

Test(emulator_harness, basic_login_reaches_api_me, .init = start_plain,
     .fini = stop)
{
  struct reply r;
  char url[128];

  snprintf(url, sizeof url, "%s/api/me?fields=username", emu_url(emu));
  cr_assert_eq(get(url, "admin:district", NULL, &r), CURLE_OK);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body, "{\"username\":\"admin\"}");
  free(r.body);
}

Test(emulator_harness, tls_is_verified_with_the_test_ca, .init = start_tls,
     .fini = stop)
{
  struct reply r;
  char url[128];

  cr_assert_eq(strncmp(emu_url(emu), "https://127.0.0.1:", 18), 0);
  cr_assert_not_null(emu_ca_file(emu));
  snprintf(url, sizeof url, "%s/api/me?fields=username", emu_url(emu));
  cr_assert_eq(get(url, "admin:district", emu_ca_file(emu), &r), CURLE_OK);
  cr_assert_eq(r.status, 200);
  free(r.body);
  /* The unrelated CA does not vouch for the server. */
  cr_assert_neq(get(url, "admin:district", emu_other_ca_file(emu), &r),
                CURLE_OK);
  free(r.body);
}

Test(emulator_harness, counters_count_by_path_and_reset_clears_them,
     .init = start_plain, .fini = stop)
{
  struct reply r;
  char url[128];

  snprintf(url, sizeof url, "%s/api/me?fields=id", emu_url(emu));
  get(url, "admin:district", NULL, &r);
  free(r.body);
  get(url, "admin:wrong", NULL, &r);
  cr_assert_eq(r.status, 401);
  free(r.body);
  cr_assert_eq(emu_count(emu, "/api/me"), 2);
  cr_assert_eq(emu_count(emu, NULL), 2);
  cr_assert_eq(emu_count(emu, "/api/auth/login"), 0);
  emu_reset(emu);
  cr_assert_eq(emu_count(emu, NULL), 0);
}

Test(emulator_harness, fault_round_trip_status_then_redirect,
     .init = start_plain, .fini = stop)
{
  struct reply r;
  char url[128];

  snprintf(url, sizeof url, "%s/api/me", emu_url(emu));
  emu_fault(emu, "{\"mode\":\"status\",\"code\":503,\"times\":1}");
  get(url, "admin:district", NULL, &r);
  cr_assert_eq(r.status, 503);
  free(r.body);
  get(url, "admin:district", NULL, &r);
  cr_assert_eq(r.status, 200, "times=1 fires once");
  free(r.body);

  emu_fault(emu, "{\"mode\":\"redirect\"}");
  get(url, "admin:district", NULL, &r);
  cr_assert_eq(r.status, 302);
  free(r.body);
  cr_assert_eq(emu_sink_count(emu), 0, "a 302 is not followed");
}

Test(emulator_harness, bad_fault_is_refused_by_the_control_api,
     .init = start_plain, .fini = stop)
{
  char *reply = NULL;

  cr_assert_eq(
      emu_ctl(emu, "POST", "/fault", "{\"mode\":\"explode\"}", &reply), 400);
  cr_assert_not_null(reply);
  free(reply);
}

Test(emulator_harness, email_code_round_trip, .init = start_plain,
     .fini = stop)
{
  struct reply r;
  CURL *c = curl_easy_init();
  char url[128];
  struct curl_slist *h = NULL;
  char *code = NULL;

  cr_assert_null(emu_email_code(emu, "dave"));
  cr_assert_eq(emu_ctl(emu, "POST", "/settings", "{\"email_2fa\":true}", NULL),
               200);
  /* dave's first login without a code makes the emulator "send" one. */
  snprintf(url, sizeof url, "%s/api/auth/login", emu_url(emu));
  h = curl_slist_append(h, "Content-Type: application/json");
  memset(&r, 0, sizeof r);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS,
                   "{\"username\":\"dave\",\"password\":\"Dave-pw-1\"}");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
  cr_assert_eq(curl_easy_perform(c), CURLE_OK);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  cr_assert_str_eq(r.body, "{\"loginStatus\":\"EMAIL_TWO_FACTOR_CODE_SENT\"}");
  free(r.body);

  code = emu_email_code(emu, "dave");
  cr_assert_not_null(code);
  cr_assert_eq(strlen(code), 6);
  cr_assert_eq(strspn(code, "0123456789"), 6);
  free(code);
}

Test(emulator_harness, totp_matches_rfc6238_sha1_vector)
{
  char out[7];

  /* base32("12345678901234567890"); RFC 6238: t=59 -> 94287082. */
  emu_totp("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 59, out);
  cr_assert_str_eq(out, "287082");
  emu_totp("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 1111111109, out);
  cr_assert_str_eq(out, "081804");
  emu_totp("gezdgnbvgy3tqojqgezdgnbvgy3tqojq", 1234567890, out);
  cr_assert_str_eq(out, "005924");
  emu_totp("not base32!", 59, out);
  cr_assert_str_eq(out, "");
}

Test(emulator_harness, stop_of_null_is_a_no_op)
{
  emu_stop(NULL);
}
