/* Unit tests of lib/cache.c: the offline sign-in records and their rules. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <crypt.h>
#include <openssl/evp.h>

#include <criterion/criterion.h>

#include "dhis2/cache.h"

#define URL "https://dhis2.example.org/dhis"
#define OTHER_URL "https://other.example.org"
#define PW "district-Secret1"
#define PAT_SECRET "d2p_dGVzdHRva2VuMTIzNDU2Nzg5MA"
#define TTL (7 * 24 * 3600)
#define DELAY 300
#define T0 ((time_t)1780000000) /* 2026-05-28 */
#define T2040 ((time_t)2209000000)
#define NOBODY 65534

static char tmpdir[] = "/tmp/test_cache.XXXXXX";
static char dir[256];
static char logs[8192]; /* what the cache logged in this test */

static void capture(void *ctx, int prio, const char *fmt, va_list ap)
{
  size_t n = strlen(logs);

  (void)ctx;
  (void)prio;
  if (n + 2 < sizeof(logs)) {
    vsnprintf(logs + n, sizeof(logs) - n - 1, fmt, ap);
    strcat(logs, "\n");
  }
}

static const struct dhis2_log quiet = {capture, NULL, "test", true};

static struct dhis2_cache cache;

static int rm_entry(const char *path, const struct stat *st, int type,
                    struct FTW *ftw)
{
  (void)st;
  (void)ftw;
  return type == FTW_DP ? rmdir(path) : unlink(path);
}

static void setup(void)
{
  cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
  snprintf(dir, sizeof(dir), "%s/offline", tmpdir);
  logs[0] = '\0';
  cache = (struct dhis2_cache){
      .dir = dir,
      .url = URL,
      .ttl = TTL,
      .failure_limit = 3,
      .failure_delay = DELAY,
      .cost = 1, /* the cheapest yescrypt: these tests hash hundreds */
      .log = &quiet,
  };
}

static void teardown(void)
{
  nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(cache, .init = setup, .fini = teardown);
TestSuite(window, .init = setup, .fini = teardown);
TestSuite(failures, .init = setup, .fini = teardown);
TestSuite(invalidation, .init = setup, .fini = teardown);
TestSuite(unsafe, .init = setup, .fini = teardown);
TestSuite(snapshot, .init = setup, .fini = teardown);
TestSuite(record);

static struct dhis2_identity *alice(void)
{
  static const char me[] =
      "{\"id\":\"xE7jOejl9FI\",\"username\":\"alice\",\"displayName\":"
      "\"Alice A\",\"userGroups\":[{\"id\":\"Kk12LkEWtXp\",\"name\":"
      "\"Nurses\"}],\"userRoles\":[{\"id\":\"yrB6vc5Ip3r\",\"name\":"
      "\"Superuser\"}],\"authorities\":[\"ALL\"],\"organisationUnits\":"
      "[{\"id\":\"DiszpKrYNg8\",\"path\":\"/ImspTQPwCqd/O6uvpzGd5pu/"
      "DiszpKrYNg8\"},{\"id\":\"fdc6uOvgoji\"}]}";
  struct dhis2_identity *id = NULL;

  cr_assert_eq(dhis2_identity_parse(me, strlen(me), &id), DHIS2_OK);
  return id;
}

static void store_at(enum dhis2_cache_slot slot, const char *secret,
                     bool twofactor, time_t now, time_t server_date)
{
  struct dhis2_identity *id = alice();
  enum dhis2_err rc = dhis2_cache_store(&cache, "alice", slot, secret, id,
                                        twofactor, now, server_date);

  cr_assert_eq(rc, DHIS2_OK, "store: %s", dhis2_strerror(rc));
  dhis2_identity_free(id);
}

static void store(enum dhis2_cache_slot slot, const char *secret)
{
  store_at(slot, secret, false, T0, T0);
}

static enum dhis2_cache_verdict check_at(enum dhis2_cache_slot slot,
                                         const char *secret, time_t now,
                                         struct dhis2_cache_result *r)
{
  struct dhis2_cache_result mine;
  enum dhis2_cache_verdict v;

  if (r == NULL)
    r = &mine;
  v = dhis2_cache_check(&cache, "alice", slot, secret, now, r);
  if (r == &mine)
    dhis2_identity_free(mine.id);
  return v;
}

/* The path of alice's record for url. */
static void record_path(const char *url, char *out, size_t outlen)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  char key[256];
  char hex[65];

  snprintf(key, sizeof(key), "%s\nalice", url);
  cr_assert_eq(EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha256(), NULL),
               1);
  for (unsigned int i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", md[i]);
  snprintf(out, outlen, "%s/%s", dir, hex);
}

static char *slurp(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  char *buf = calloc(1, 70000);
  size_t n;

  cr_assert_not_null(f, "%s: %s", path, strerror(errno));
  n = fread(buf, 1, 69999, f);
  fclose(f);
  if (len != NULL)
    *len = n;
  return buf;
}

static void spit(const char *path, const char *buf, size_t len, mode_t mode)
{
  FILE *f;

  unlink(path);
  f = fopen(path, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(buf, 1, len, f), len);
  fclose(f);
  cr_assert_eq(chmod(path, mode), 0);
}

/* --- signing in --- */

Test(cache, the_right_password_signs_in_with_the_snapshot)
{
  struct dhis2_cache_result r;

  store(DHIS2_CACHE_PASSWORD, PW);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + 60, &r),
               DHIS2_CACHE_OK);
  cr_assert_not_null(r.id);
  cr_assert_str_eq(r.id->username, "alice");
  cr_assert_str_eq(r.id->id, "xE7jOejl9FI");
  cr_assert_eq(r.id->n_groups, 1);
  cr_assert_str_eq(r.id->groups[0].name, "Nurses");
  cr_assert_eq(r.id->n_roles, 1);
  cr_assert_eq(r.id->n_authorities, 1);
  cr_assert_eq(r.id->n_orgunits, 2);
  cr_assert_str_eq(r.id->orgunits[0].path,
                   "/ImspTQPwCqd/O6uvpzGd5pu/DiszpKrYNg8");
  cr_assert_null(r.id->orgunits[1].path);
  cr_assert_eq(r.checked, T0);
  cr_assert_eq(r.failures, 0);
  dhis2_identity_free(r.id);
}

Test(cache, a_wrong_password_is_wrong_and_counted)
{
  struct dhis2_cache_result r;

  store(DHIS2_CACHE_PASSWORD, PW);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, "district-secret1", T0, &r),
               DHIS2_CACHE_WRONG);
  cr_assert_null(r.id);
  cr_assert_eq(r.failures, 1);
}

Test(cache, no_record_is_none)
{
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0, NULL), DHIS2_CACHE_NONE);
}

Test(cache, names_never_signed_in_here_leave_no_file)
{
  struct dhis2_cache_result r;
  DIR *d;
  struct dirent *e;
  int n = 0;

  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0, NULL), DHIS2_CACHE_NONE);
  cr_assert_eq(dhis2_cache_snapshot(&cache, "alice", T0, &r),
               DHIS2_CACHE_NONE);
  cr_assert_eq(dhis2_cache_rejected(&cache, "alice", DHIS2_CACHE_PASSWORD, PW),
               DHIS2_OK);
  cr_assert_eq(dhis2_cache_forget(&cache, "alice"), DHIS2_OK);
  d = opendir(dir);
  if (d != NULL) {
    while ((e = readdir(d)) != NULL)
      n += e->d_name[0] != '.';
    closedir(d);
  }
  cr_assert_eq(n, 0, "%d files for a name never signed in", n);
}

Test(cache, the_record_is_private_named_by_hash_and_holds_no_secret)
{
  char path[PATH_MAX];
  struct stat st;
  char *buf;

  store(DHIS2_CACHE_PASSWORD, PW);
  store(DHIS2_CACHE_PAT, PAT_SECRET);
  record_path(URL, path, sizeof(path));
  cr_assert_eq(lstat(path, &st), 0, "%s: %s", path, strerror(errno));
  cr_assert(S_ISREG(st.st_mode));
  cr_assert_eq(st.st_mode & 07777, 0600);
  cr_assert_eq(stat(dir, &st), 0);
  cr_assert_eq(st.st_mode & 07777, 0700);
  buf = slurp(path, NULL);
  cr_assert_null(strstr(buf, PW));
  cr_assert_null(strstr(buf, PAT_SECRET));
  cr_assert_not_null(strstr(buf, "\"$y$"));
  free(buf);
}

Test(cache, password_and_pat_slots_are_independent)
{
  store(DHIS2_CACHE_PASSWORD, PW);
  cr_assert_eq(check_at(DHIS2_CACHE_PAT, PAT_SECRET, T0, NULL),
               DHIS2_CACHE_NONE);
  store(DHIS2_CACHE_PAT, PAT_SECRET);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0, NULL), DHIS2_CACHE_OK);
  cr_assert_eq(check_at(DHIS2_CACHE_PAT, PAT_SECRET, T0, NULL),
               DHIS2_CACHE_OK);
  cr_assert_eq(check_at(DHIS2_CACHE_PAT, PW, T0, NULL), DHIS2_CACHE_WRONG);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PAT_SECRET, T0, NULL),
               DHIS2_CACHE_WRONG);
}

Test(cache, a_new_password_replaces_the_old)
{
  store(DHIS2_CACHE_PASSWORD, PW);
  store(DHIS2_CACHE_PASSWORD, "new-Secret2");
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0, NULL),
               DHIS2_CACHE_WRONG);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, "new-Secret2", T0, NULL),
               DHIS2_CACHE_OK);
}

Test(cache, a_record_of_another_url_is_not_used)
{
  char mine[PATH_MAX];
  char theirs[PATH_MAX];
  size_t len;
  char *buf;

  store(DHIS2_CACHE_PASSWORD, PW);
  cache.url = OTHER_URL;
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0, NULL), DHIS2_CACHE_NONE);
  /* Even copied under the other URL's name. */
  record_path(URL, mine, sizeof(mine));
  record_path(OTHER_URL, theirs, sizeof(theirs));
  buf = slurp(mine, &len);
  spit(theirs, buf, len, 0600);
  free(buf);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0, NULL), DHIS2_CACHE_NONE);
  cr_assert_not_null(strstr(logs, "another URL"), "%s", logs);
}

Test(cache, new_hashes_use_the_default_cost)
{
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  char path[PATH_MAX];
  char *params;
  char *buf;

  cache.cost = 0;
  store(DHIS2_CACHE_PASSWORD, PW);
  record_path(URL, path, sizeof(path));
  buf = slurp(path, NULL);
  /* "$y$PARAMS$": what crypt_gensalt makes of DHIS2_CACHE_COST. */
  cr_assert_not_null(crypt_gensalt_rn("$y$", DHIS2_CACHE_COST, NULL, 0,
                                      setting, sizeof(setting)));
  *strchr(setting + 3, '$') = '\0';
  params = strstr(buf, "\"password_hash\":\"");
  cr_assert_not_null(params);
  params += strlen("\"password_hash\":\"");
  cr_assert_eq(strncmp(params, setting, strlen(setting)), 0, "%s vs %s",
               params, setting);
  cr_assert_eq(params[strlen(setting)], '$');
  free(buf);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0, NULL), DHIS2_CACHE_OK);
}

Test(cache, an_unsafe_directory_is_an_error)
{
  struct dhis2_identity *id = alice();
  struct dhis2_cache_result r;

  cr_assert_eq(mkdir(dir, 0755), 0);
  cr_assert_eq(dhis2_cache_store(&cache, "alice", DHIS2_CACHE_PASSWORD, PW, id,
                                 false, T0, T0),
               DHIS2_ERR_CONFIG);
  cr_assert_eq(
      dhis2_cache_check(&cache, "alice", DHIS2_CACHE_PASSWORD, PW, T0, &r),
      DHIS2_CACHE_ERROR);
  cr_assert_not_null(strstr(logs, "mode 0700"), "%s", logs);
  dhis2_identity_free(id);
}

/* --- the window --- */

Test(window, ends_exactly_at_checked_plus_ttl)
{
  struct dhis2_cache_result r;

  store(DHIS2_CACHE_PASSWORD, PW);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + TTL, NULL),
               DHIS2_CACHE_OK);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + TTL + 1, &r),
               DHIS2_CACHE_TOO_OLD);
  cr_assert_eq(r.until, T0 + TTL);
  cr_assert_eq(r.checked, T0);
}

Test(window, starts_exactly_skew_before_the_mark)
{
  struct dhis2_cache_result r;

  store(DHIS2_CACHE_PASSWORD, PW);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 - DHIS2_CACHE_SKEW, NULL),
               DHIS2_CACHE_OK);
  cr_assert_eq(
      check_at(DHIS2_CACHE_PASSWORD, PW, T0 - DHIS2_CACHE_SKEW - 1, &r),
      DHIS2_CACHE_CLOCK_BACK);
  cr_assert_eq(r.mark, T0);
}

Test(window, an_offline_sign_in_raises_the_mark)
{
  struct dhis2_cache_result r;
  time_t later = T0 + 3600;

  store(DHIS2_CACHE_PASSWORD, PW);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, later, NULL),
               DHIS2_CACHE_OK);
  /* Within the skew of the new mark: still fine. */
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, later - 200, NULL),
               DHIS2_CACHE_OK);
  /* A clock rolled back an hour, to the time of the online check. */
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0, &r),
               DHIS2_CACHE_CLOCK_BACK);
  cr_assert_eq(r.mark, later);
}

Test(window, rolled_back_then_forward_never_extends_it)
{
  store(DHIS2_CACHE_PASSWORD, PW);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + TTL - 10, NULL),
               DHIS2_CACHE_OK);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + 100, NULL),
               DHIS2_CACHE_CLOCK_BACK);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + TTL + 1, NULL),
               DHIS2_CACHE_TOO_OLD);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + 10 * TTL, NULL),
               DHIS2_CACHE_TOO_OLD);
}

Test(window, a_server_date_a_little_ahead_is_within_the_skew)
{
  struct dhis2_cache_result r;

  store_at(DHIS2_CACHE_PASSWORD, PW, false, T0, T0 + 200);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + 10, &r),
               DHIS2_CACHE_OK);
  cr_assert_eq(r.checked, T0); /* the earlier of the two */
  dhis2_identity_free(r.id);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + TTL + 1, NULL),
               DHIS2_CACHE_TOO_OLD);
}

Test(window, a_server_date_far_ahead_is_the_mark)
{
  struct dhis2_cache_result r;

  store_at(DHIS2_CACHE_PASSWORD, PW, false, T0, T0 + 1000);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + 10, &r),
               DHIS2_CACHE_CLOCK_BACK);
  cr_assert_eq(r.mark, T0 + 1000);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + 1000, NULL),
               DHIS2_CACHE_OK);
}

Test(window, a_local_clock_in_2040_ends_at_the_server_date_plus_ttl)
{
  struct dhis2_cache_record *rec = NULL;
  struct dhis2_cache_result r;
  char path[PATH_MAX];
  size_t len;
  char *buf;

  store_at(DHIS2_CACHE_PASSWORD, PW, false, T2040, T0);
  record_path(URL, path, sizeof(path));
  buf = slurp(path, &len);
  cr_assert_eq(dhis2_cache_record_parse(buf, len, &rec), DHIS2_OK);
  free(buf);
  cr_assert_eq(rec->checked_local, T2040);
  cr_assert_eq(rec->checked_server, T0);
  cr_assert_eq(rec->mark, T2040);
  cr_assert_eq(dhis2_cache_record_end(rec, TTL), T0 + TTL);
  dhis2_cache_record_free(rec);
  /* Back in 2026 the 2040 mark refuses; in 2040 the window is long over. */
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + 10, NULL),
               DHIS2_CACHE_CLOCK_BACK);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T2040, &r),
               DHIS2_CACHE_TOO_OLD);
  cr_assert_eq(r.until, T0 + TTL);
}

Test(window, an_online_check_with_a_server_date_ends_a_wrong_mark)
{
  /* Checked once with the clock in 2040; then the clock is set right. */
  store_at(DHIS2_CACHE_PASSWORD, PW, false, T2040, T0);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + 10, NULL),
               DHIS2_CACHE_CLOCK_BACK);
  /* Without a server Date the mark stays: nothing vouches for the time. */
  store_at(DHIS2_CACHE_PASSWORD, PW, false, T0 + 20, 0);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + 30, NULL),
               DHIS2_CACHE_CLOCK_BACK);
  /* DHIS2's Date says when it is: the 2040 mark is gone. */
  store_at(DHIS2_CACHE_PASSWORD, PW, false, T0 + 40, T0 + 41);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + 50, NULL),
               DHIS2_CACHE_OK);
}

Test(window, no_server_date_uses_the_local_clock)
{
  store_at(DHIS2_CACHE_PASSWORD, PW, false, T0, 0);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + TTL, NULL),
               DHIS2_CACHE_OK);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + TTL + 1, NULL),
               DHIS2_CACHE_TOO_OLD);
}

/* --- failures --- */

Test(failures, the_limit_delays_even_the_right_password)
{
  struct dhis2_cache_result r;
  time_t until = 0;

  store(DHIS2_CACHE_PASSWORD, PW);
  for (int i = 1; i <= 3; i++) {
    cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, "typo", T0 + i, &r),
                 DHIS2_CACHE_WRONG);
    cr_assert_eq(r.failures, (unsigned)i);
  }
  cr_assert_eq(r.until, T0 + 3 + DELAY);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + 10, &r),
               DHIS2_CACHE_DELAYED);
  cr_assert_null(r.id);
  cr_assert_eq(r.until, T0 + 3 + DELAY);
  cr_assert_eq(r.failures, 3);
  cr_assert(dhis2_cache_delayed(&cache, "alice", T0 + 10, &until));
  cr_assert_eq(until, T0 + 3 + DELAY);
  /* An online success clears the counter. */
  store(DHIS2_CACHE_PASSWORD, PW);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + 10, NULL),
               DHIS2_CACHE_OK);
}

Test(failures, the_delay_ends)
{
  time_t until = 0;

  store(DHIS2_CACHE_PASSWORD, PW);
  for (int i = 0; i < 3; i++)
    cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, "typo", T0, NULL),
                 DHIS2_CACHE_WRONG);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + DELAY - 1, NULL),
               DHIS2_CACHE_DELAYED);
  cr_assert_not(dhis2_cache_delayed(&cache, "alice", T0 + DELAY, &until));
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + DELAY, NULL),
               DHIS2_CACHE_OK);
}

Test(failures, after_the_delay_each_wrong_attempt_delays_again)
{
  struct dhis2_cache_result r;

  store(DHIS2_CACHE_PASSWORD, PW);
  for (int i = 0; i < 3; i++)
    cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, "typo", T0, NULL),
                 DHIS2_CACHE_WRONG);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, "typo", T0 + DELAY, &r),
               DHIS2_CACHE_WRONG);
  cr_assert_eq(r.failures, 4);
  cr_assert_eq(r.until, T0 + 2 * DELAY);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + DELAY + 1, NULL),
               DHIS2_CACHE_DELAYED);
}

Test(failures, a_clock_rolled_back_keeps_the_delay)
{
  store(DHIS2_CACHE_PASSWORD, PW);
  for (int i = 0; i < 3; i++)
    cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, "typo", T0 + 100, NULL),
                 DHIS2_CACHE_WRONG);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0, NULL),
               DHIS2_CACHE_DELAYED);
}

Test(failures, a_success_clears_the_counter)
{
  struct dhis2_cache_result r;

  store(DHIS2_CACHE_PASSWORD, PW);
  for (int i = 0; i < 2; i++)
    cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, "typo", T0, NULL),
                 DHIS2_CACHE_WRONG);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0, NULL), DHIS2_CACHE_OK);
  for (int i = 0; i < 2; i++)
    cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, "typo", T0, &r),
                 DHIS2_CACHE_WRONG);
  cr_assert_eq(r.failures, 2);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0, NULL), DHIS2_CACHE_OK);
}

Test(failures, no_limit_never_delays)
{
  cache.failure_limit = 0;
  store(DHIS2_CACHE_PASSWORD, PW);
  for (int i = 0; i < 5; i++)
    cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, "typo", T0, NULL),
                 DHIS2_CACHE_WRONG);
  cr_assert_not(dhis2_cache_delayed(&cache, "alice", T0, NULL));
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0, NULL), DHIS2_CACHE_OK);
}

static void *wrong_twice(void *arg)
{
  struct dhis2_cache_result r;

  (void)arg;
  for (int i = 0; i < 2; i++) {
    if (dhis2_cache_check(&cache, "alice", DHIS2_CACHE_PASSWORD, "typo", T0,
                          &r) != DHIS2_CACHE_WRONG)
      return (void *)1;
  }
  return NULL;
}

Test(failures, wrong_passwords_at_once_in_threads_all_count)
{
  pthread_t t[4];
  struct dhis2_cache_result r;
  void *res;

  cache.failure_limit = 0;
  store(DHIS2_CACHE_PASSWORD, PW);
  for (int i = 0; i < 4; i++)
    cr_assert_eq(pthread_create(&t[i], NULL, wrong_twice, NULL), 0);
  for (int i = 0; i < 4; i++) {
    cr_assert_eq(pthread_join(t[i], &res), 0);
    cr_assert_null(res);
  }
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, "typo", T0, &r),
               DHIS2_CACHE_WRONG);
  cr_assert_eq(r.failures, 9);
}

Test(failures, wrong_passwords_at_once_in_processes_all_count)
{
  struct dhis2_cache_result r;
  pid_t pid[2];
  int st;

  cache.failure_limit = 0;
  cache.cost = 3; /* long enough for the two to overlap */
  store(DHIS2_CACHE_PASSWORD, PW);
  for (int i = 0; i < 2; i++) {
    pid[i] = fork();
    cr_assert_neq(pid[i], -1);
    if (pid[i] == 0)
      _exit(wrong_twice(NULL) == NULL ? 0 : 1);
  }
  for (int i = 0; i < 2; i++) {
    cr_assert_eq(waitpid(pid[i], &st, 0), pid[i]);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, "typo", T0, &r),
               DHIS2_CACHE_WRONG);
  cr_assert_eq(r.failures, 5);
}

/* --- invalidation and 2FA --- */

Test(invalidation, a_rejected_matching_password_deletes_its_slot)
{
  store(DHIS2_CACHE_PASSWORD, PW);
  store(DHIS2_CACHE_PAT, PAT_SECRET);
  cr_assert_eq(dhis2_cache_rejected(&cache, "alice", DHIS2_CACHE_PASSWORD, PW),
               DHIS2_OK);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0, NULL), DHIS2_CACHE_NONE);
  cr_assert_eq(check_at(DHIS2_CACHE_PAT, PAT_SECRET, T0, NULL),
               DHIS2_CACHE_OK);
}

Test(invalidation, a_rejected_typo_keeps_the_slot)
{
  store(DHIS2_CACHE_PASSWORD, PW);
  cr_assert_eq(dhis2_cache_rejected(&cache, "alice", DHIS2_CACHE_PASSWORD,
                                    "district-secret1"),
               DHIS2_OK);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0, NULL), DHIS2_CACHE_OK);
}

Test(invalidation, the_last_slot_deleted_removes_the_record)
{
  char path[PATH_MAX];

  store(DHIS2_CACHE_PAT, PAT_SECRET);
  cr_assert_eq(
      dhis2_cache_rejected(&cache, "alice", DHIS2_CACHE_PAT, PAT_SECRET),
      DHIS2_OK);
  record_path(URL, path, sizeof(path));
  cr_assert_eq(access(path, F_OK), -1);
  cr_assert_eq(errno, ENOENT);
}

Test(invalidation, rejected_without_a_record_is_ok)
{
  cr_assert_eq(dhis2_cache_rejected(&cache, "alice", DHIS2_CACHE_PASSWORD, PW),
               DHIS2_OK);
}

Test(invalidation, forget_deletes_the_record)
{
  char path[PATH_MAX];

  store(DHIS2_CACHE_PASSWORD, PW);
  store(DHIS2_CACHE_PAT, PAT_SECRET);
  cr_assert_eq(dhis2_cache_forget(&cache, "alice"), DHIS2_OK);
  record_path(URL, path, sizeof(path));
  cr_assert_eq(access(path, F_OK), -1);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0, NULL), DHIS2_CACHE_NONE);
  cr_assert_eq(check_at(DHIS2_CACHE_PAT, PAT_SECRET, T0, NULL),
               DHIS2_CACHE_NONE);
  cr_assert_eq(dhis2_cache_forget(&cache, "alice"), DHIS2_OK);
}

Test(invalidation, a_twofactor_password_is_refused_unless_allowed)
{
  store_at(DHIS2_CACHE_PASSWORD, PW, true, T0, T0);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0, NULL),
               DHIS2_CACHE_TWOFACTOR);
  cache.twofactor_password = true;
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0, NULL), DHIS2_CACHE_OK);
}

Test(invalidation, a_twofactor_pat_is_allowed)
{
  store_at(DHIS2_CACHE_PASSWORD, PW, true, T0, T0);
  /* A PAT sign-in asks no code: it does not turn the flag off. */
  store_at(DHIS2_CACHE_PAT, PAT_SECRET, false, T0, T0);
  cr_assert_eq(check_at(DHIS2_CACHE_PAT, PAT_SECRET, T0, NULL),
               DHIS2_CACHE_OK);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0, NULL),
               DHIS2_CACHE_TWOFACTOR);
}

/* --- unsafe files --- */

static void assert_ignored(const char *why)
{
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0, NULL), DHIS2_CACHE_NONE);
  cr_assert_not_null(strstr(logs, why), "log: %s", logs);
  cr_assert_null(strstr(logs, PW));
}

Test(unsafe, a_symlink_is_ignored)
{
  char path[PATH_MAX];
  char moved[PATH_MAX];

  store(DHIS2_CACHE_PASSWORD, PW);
  record_path(URL, path, sizeof(path));
  snprintf(moved, sizeof(moved), "%s/real", tmpdir);
  cr_assert_eq(rename(path, moved), 0);
  cr_assert_eq(symlink(moved, path), 0);
  assert_ignored("symbolic link");
  /* A new store replaces the link, never writes through it. */
  store(DHIS2_CACHE_PASSWORD, "new-Secret2");
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, "new-Secret2", T0, NULL),
               DHIS2_CACHE_OK);
}

Test(unsafe, a_record_readable_by_others_is_ignored)
{
  char path[PATH_MAX];

  store(DHIS2_CACHE_PASSWORD, PW);
  record_path(URL, path, sizeof(path));
  cr_assert_eq(chmod(path, 0644), 0);
  assert_ignored("group or others");
}

Test(unsafe, a_record_of_another_owner_is_ignored)
{
  char path[PATH_MAX];

  if (geteuid() != 0)
    cr_skip_test("giving a file away needs root");
  store(DHIS2_CACHE_PASSWORD, PW);
  record_path(URL, path, sizeof(path));
  cr_assert_eq(chown(path, NOBODY, NOBODY), 0);
  assert_ignored("another user");
}

Test(unsafe, a_directory_in_its_place_is_ignored)
{
  char path[PATH_MAX];

  store(DHIS2_CACHE_PASSWORD, PW);
  record_path(URL, path, sizeof(path));
  cr_assert_eq(unlink(path), 0);
  cr_assert_eq(mkdir(path, 0700), 0);
  assert_ignored("not a regular file");
}

Test(unsafe, a_truncated_record_is_ignored)
{
  char path[PATH_MAX];
  size_t len;
  char *buf;

  store(DHIS2_CACHE_PASSWORD, PW);
  record_path(URL, path, sizeof(path));
  buf = slurp(path, &len);
  spit(path, buf, len / 2, 0600);
  free(buf);
  assert_ignored("does not parse");
}

Test(unsafe, a_garbage_record_is_ignored)
{
  char path[PATH_MAX];

  store(DHIS2_CACHE_PASSWORD, PW);
  record_path(URL, path, sizeof(path));
  spit(path, "\x01\xff{[}garbage", 12, 0600);
  assert_ignored("does not parse");
}

Test(unsafe, a_huge_record_is_ignored)
{
  char path[PATH_MAX];
  char *buf = malloc(70000);

  store(DHIS2_CACHE_PASSWORD, PW);
  record_path(URL, path, sizeof(path));
  memset(buf, ' ', 70000);
  spit(path, buf, 70000, 0600);
  free(buf);
  assert_ignored("too large");
}

/* A store in a child whose files may not grow past 64 bytes: the write
   fails as on a full disk. Returns the store's result. */
static enum dhis2_err store_on_full_disk(const char *secret)
{
  struct rlimit rl = {64, 64};
  pid_t pid = fork();
  int st;

  cr_assert_neq(pid, -1);
  if (pid == 0) {
    struct dhis2_identity *id = alice();
    enum dhis2_err rc = DHIS2_ERR_INTERNAL;

    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &rl) == 0)
      rc = dhis2_cache_store(&cache, "alice", DHIS2_CACHE_PASSWORD, secret, id,
                             false, T0 + 50, T0 + 50);
    dhis2_identity_free(id);
    if (rc == DHIS2_ERR_IO && strstr(logs, "cannot write") == NULL)
      _exit(101);
    _exit(rc);
  }
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_assert(WIFEXITED(st));
  cr_assert_neq(WEXITSTATUS(st), 101, "the failure was not logged");
  return (enum dhis2_err)WEXITSTATUS(st);
}

Test(unsafe, a_failure_that_cannot_be_counted_is_an_error)
{
  struct rlimit rl = {64, 64};
  pid_t pid;
  int st;

  store(DHIS2_CACHE_PASSWORD, PW);
  pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    struct dhis2_cache_result r;

    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
      _exit(1);
    _exit(dhis2_cache_check(&cache, "alice", DHIS2_CACHE_PASSWORD, "typo", T0,
                            &r) == DHIS2_CACHE_ERROR
              ? 0
              : 2);
  }
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
}

Test(unsafe, a_full_disk_keeps_the_old_record_whole)
{
  DIR *d;
  struct dirent *de;

  store(DHIS2_CACHE_PASSWORD, PW);
  cr_assert_eq(store_on_full_disk("new-Secret2"), DHIS2_ERR_IO);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, "new-Secret2", T0, NULL),
               DHIS2_CACHE_WRONG);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0, NULL), DHIS2_CACHE_OK);
  /* No temporary file left behind. */
  d = opendir(dir);
  cr_assert_not_null(d);
  while ((de = readdir(d)) != NULL)
    cr_assert_neq(de->d_name[0] == '.' && strlen(de->d_name) > 2, true,
                  "left: %s", de->d_name);
  closedir(d);
}

/* --- the snapshot alone (account_check = lookup) --- */

/* What a lookup found of alice: another group, one unit. */
static struct dhis2_identity *alice_looked_up(void)
{
  static const char me[] =
      "{\"id\":\"xE7jOejl9FI\",\"username\":\"alice\",\"userGroups\":"
      "[{\"id\":\"wl5cDMuUhmF\",\"name\":\"Administrators\"}],"
      "\"organisationUnits\":[{\"id\":\"ImspTQPwCqd\",\"path\":"
      "\"/ImspTQPwCqd\"}]}";
  struct dhis2_identity *id = NULL;

  cr_assert_eq(dhis2_identity_parse(me, strlen(me), &id), DHIS2_OK);
  return id;
}

static void store_snapshot_at(time_t now, time_t server_date)
{
  struct dhis2_identity *id = alice_looked_up();
  enum dhis2_err rc =
      dhis2_cache_store_snapshot(&cache, "alice", id, now, server_date);

  cr_assert_eq(rc, DHIS2_OK, "store_snapshot: %s", dhis2_strerror(rc));
  dhis2_identity_free(id);
}

static enum dhis2_cache_verdict snapshot_at(time_t now,
                                            struct dhis2_cache_result *r)
{
  struct dhis2_cache_result mine;
  enum dhis2_cache_verdict v;

  if (r == NULL)
    r = &mine;
  v = dhis2_cache_snapshot(&cache, "alice", now, r);
  if (v != DHIS2_CACHE_OK)
    cr_assert_null(r->id);
  if (r == &mine)
    dhis2_identity_free(mine.id);
  return v;
}

Test(snapshot, the_snapshot_of_an_online_sign_in_is_there_without_a_secret)
{
  struct dhis2_cache_result r;

  store(DHIS2_CACHE_PASSWORD, PW);
  cr_assert_eq(snapshot_at(T0 + 60, &r), DHIS2_CACHE_OK);
  cr_assert_str_eq(r.id->username, "alice");
  cr_assert_eq(r.id->n_orgunits, 2);
  cr_assert_eq(r.checked, T0);
  dhis2_identity_free(r.id);
}

Test(snapshot, no_record_is_none)
{
  cr_assert_eq(snapshot_at(T0, NULL), DHIS2_CACHE_NONE);
}

Test(snapshot, a_lookup_of_a_new_user_keeps_a_record_no_secret_opens)
{
  struct dhis2_cache_result r;

  store_snapshot_at(T0, T0);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0, NULL), DHIS2_CACHE_NONE);
  cr_assert_eq(check_at(DHIS2_CACHE_PAT, PAT_SECRET, T0, NULL),
               DHIS2_CACHE_NONE);
  cr_assert_eq(snapshot_at(T0 + 60, &r), DHIS2_CACHE_OK);
  cr_assert(dhis2_identity_has_group(r.id, "Administrators"));
  cr_assert(dhis2_identity_orgunit_within(r.id, "ImspTQPwCqd"));
  dhis2_identity_free(r.id);
}

Test(snapshot, a_lookup_replaces_the_snapshot_and_keeps_both_slots)
{
  struct dhis2_cache_result r;

  store(DHIS2_CACHE_PASSWORD, PW);
  store(DHIS2_CACHE_PAT, PAT_SECRET);
  store_snapshot_at(T0 + 3600, T0 + 3600);
  cr_assert_eq(snapshot_at(T0 + 3600, &r), DHIS2_CACHE_OK);
  cr_assert_eq(r.checked, T0, "a lookup moved the secrets' check time");
  cr_assert_not(dhis2_identity_has_group(r.id, "Nurses"));
  cr_assert(dhis2_identity_has_group(r.id, "Administrators"));
  dhis2_identity_free(r.id);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + 3600, &r),
               DHIS2_CACHE_OK);
  cr_assert(dhis2_identity_has_group(r.id, "Administrators"));
  dhis2_identity_free(r.id);
  cr_assert_eq(check_at(DHIS2_CACHE_PAT, PAT_SECRET, T0 + 3600, NULL),
               DHIS2_CACHE_OK);
}

Test(snapshot, a_lookup_never_extends_how_long_a_kept_password_works)
{
  store(DHIS2_CACHE_PASSWORD, PW);
  store_snapshot_at(T0 + TTL - 10, T0 + TTL - 10);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + TTL + 10, NULL),
               DHIS2_CACHE_TOO_OLD);
  cr_assert_eq(snapshot_at(T0 + TTL + 10, NULL), DHIS2_CACHE_TOO_OLD);
}

Test(snapshot, a_lookup_checks_no_secret_so_failures_and_twofactor_stand)
{
  struct dhis2_cache_result r;

  store_at(DHIS2_CACHE_PASSWORD, PW, true, T0, T0);
  cache.twofactor_password = true;
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, "typo", T0, NULL),
               DHIS2_CACHE_WRONG);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, "typo", T0, NULL),
               DHIS2_CACHE_WRONG);
  store_snapshot_at(T0 + 10, T0 + 10);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, "typo", T0 + 10, &r),
               DHIS2_CACHE_WRONG);
  cr_assert_eq(r.failures, 3);
  cache.twofactor_password = false;
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + 10, NULL),
               DHIS2_CACHE_DELAYED);
  cr_assert_eq(check_at(DHIS2_CACHE_PASSWORD, PW, T0 + 10 + DELAY, NULL),
               DHIS2_CACHE_TWOFACTOR);
}

Test(snapshot, the_window_is_the_offline_window)
{
  struct dhis2_cache_result r;

  store_snapshot_at(T0, T0);
  cr_assert_eq(snapshot_at(T0 + TTL, NULL), DHIS2_CACHE_OK);
  cr_assert_eq(snapshot_at(T0 + TTL + 1, &r), DHIS2_CACHE_TOO_OLD);
  cr_assert_eq(r.until, T0 + TTL);
  cr_assert_eq(snapshot_at(T0 - DHIS2_CACHE_SKEW - 1, &r),
               DHIS2_CACHE_CLOCK_BACK);
  cr_assert_eq(r.mark, T0 + TTL);
}

Test(snapshot, using_it_raises_the_mark)
{
  struct dhis2_cache_result r;
  time_t later = T0 + 3600;

  store_snapshot_at(T0, T0);
  cr_assert_eq(snapshot_at(later, NULL), DHIS2_CACHE_OK);
  cr_assert_eq(snapshot_at(T0, &r), DHIS2_CACHE_CLOCK_BACK);
  cr_assert_eq(r.mark, later);
}

Test(snapshot, a_lookup_without_a_server_date_keeps_the_mark)
{
  struct dhis2_cache_result r;

  store_at(DHIS2_CACHE_PASSWORD, PW, false, T0 + 3600, 0);
  store_snapshot_at(T0, 0);
  cr_assert_eq(snapshot_at(T0, &r), DHIS2_CACHE_CLOCK_BACK);
  cr_assert_eq(r.mark, T0 + 3600);
}

Test(snapshot, an_identity_of_another_name_is_refused)
{
  struct dhis2_identity *id = alice_looked_up();

  cr_assert_eq(dhis2_cache_store_snapshot(&cache, "bob", id, T0, T0),
               DHIS2_ERR_INVAL);
  cr_assert_eq(dhis2_cache_store_snapshot(&cache, "alice", NULL, T0, T0),
               DHIS2_ERR_INVAL);
  dhis2_identity_free(id);
}

/* --- the record's parser --- */

#define HASH                                                                  \
  "$y$j9T$abcdefghijklmnopqrstuv$ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./ab"
#define ME "{\"username\":\"alice\",\"authorities\":[\"ALL\"]}"

static enum dhis2_err parse_with(const char *field, const char *value)
{
  char buf[2048];
  struct dhis2_cache_record *r = NULL;
  enum dhis2_err rc;
  const char *f[][2] = {
      {"version", "1"},          {"url", "\"" URL "\""},
      {"username", "\"alice\""}, {"password_hash", "\"" HASH "\""},
      {"pat_hash", "null"},      {"checked_local", "1780000000"},
      {"checked_server", "0"},   {"mark", "1780000000"},
      {"twofactor", "false"},    {"failures", "0"},
      {"failed_at", "0"},        {"identity", ME},
  };
  size_t n = 0;

  n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{");
  for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
    const char *v = strcmp(f[i][0], field) == 0 ? value : f[i][1];

    if (v == NULL)
      continue; /* left out */
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\"%s\":%s",
                          n > 1 ? "," : "", f[i][0], v);
  }
  snprintf(buf + n, sizeof(buf) - n, "}");
  rc = dhis2_cache_record_parse(buf, strlen(buf), &r);
  cr_assert_eq(rc == DHIS2_OK, r != NULL);
  dhis2_cache_record_free(r);
  return rc;
}

Test(record, a_whole_record_parses)
{
  cr_assert_eq(parse_with("", NULL), DHIS2_OK);
}

Test(record, org_units_are_optional_in_the_snapshot)
{
  /* ME has none: records made before units were kept still parse. */
  cr_assert_eq(parse_with("identity",
                          "{\"username\":\"alice\",\"organisationUnits\":"
                          "[{\"id\":\"ImspTQPwCqd\",\"path\":"
                          "\"/ImspTQPwCqd\"}]}"),
               DHIS2_OK);
}

Test(record, every_field_must_be_there)
{
  static const char *const names[] = {
      "version",   "url",           "username",       "password_hash",
      "pat_hash",  "checked_local", "checked_server", "mark",
      "twofactor", "failures",      "failed_at",      "identity"};

  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    cr_assert_eq(parse_with(names[i], NULL), DHIS2_ERR_MALFORMED, "%s",
                 names[i]);
}

Test(record, fields_of_the_wrong_shape_are_refused)
{
  cr_assert_eq(parse_with("version", "2"), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_with("password_hash", "\"$6$salt$sha512\""),
               DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_with("password_hash", "\"$y$a b\""), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_with("pat_hash", "7"), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_with("mark", "-1"), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_with("mark", "\"1780000000\""), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_with("checked_local", "99999999999999"),
               DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_with("failures", "1.5"), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_with("twofactor", "1"), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_with("username", "\"a:b\""), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_with("url", "\"a\\u0000b\""), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_with("identity", "{\"id\":\"x\"}"), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse_with("identity", "[]"), DHIS2_ERR_MALFORMED);
}

Test(record, both_slots_may_be_empty)
{
  cr_assert_eq(parse_with("password_hash", "null"), DHIS2_OK);
}
