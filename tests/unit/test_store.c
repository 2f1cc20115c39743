/* Unit tests of lib/store.c: the record, the file and keyring backends. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <keyutils.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <criterion/criterion.h>

#include "dhis2/secret.h"
#include "dhis2/store.h"

#define URL "https://dhis2.example.org/dhis"
#define NOBODY 65534 /* an unprivileged uid that owns nothing */
#define OTHER 65533  /* another one */
#define UPDATERS 20

static char tmpdir[] = "/tmp/test_store.XXXXXX";
static char dir[PATH_MAX]; /* the file backend's directory in tmpdir */
static char err[1024];

static pid_t test_pid; /* the test's process, not a child it forks */

/* Profile names are unique per test: the keyring is shared by all
   processes of a uid, and Criterion runs tests in parallel. */
static const char *profile(const char *name)
{
  static char pool[4][80];
  static unsigned next;
  char *p = pool[next++ % 4];

  snprintf(p, 80, "t%ld-%s", (long)test_pid, name);
  return p;
}

static int rm_entry(const char *path, const struct stat *st, int type,
                    struct FTW *ftw)
{
  (void)st;
  (void)ftw;
  return type == FTW_DP ? rmdir(path) : unlink(path);
}

static void setup(void)
{
  test_pid = getpid();
  cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
  /* Traversable by the unprivileged uid of the root-only tests. */
  cr_assert_eq(chmod(tmpdir, 0755), 0);
  snprintf(dir, sizeof(dir), "%s/state/dhis2-auth", tmpdir);
  unsetenv("XDG_STATE_HOME");
}

static void teardown(void)
{
  struct dhis2_store_opts o = {
      .backend = DHIS2_STORE_KEYRING, .uid = geteuid(), .dir = dir};
  static const char *const names[] = {"a", "b", "count", "timeout", "auto"};

  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    dhis2_store_delete(&o, profile(names[i]), err, sizeof(err));
  nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(record);
TestSuite(file, .init = setup, .fini = teardown);
TestSuite(keyring, .init = setup, .fini = teardown);
TestSuite(foreign, .init = setup, .fini = teardown);

static struct dhis2_token_record sample(void)
{
  struct dhis2_token_record r = {
      .url = URL,
      .username = "jdoe",
      .access_token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJqZG9lIn0.c2ln",
      .refresh_token = "r3fr3sh-t0k3n",
      .id_token = "eyJhbGciOiJSUzI1NiJ9.eyJub25jZSI6Im4ifQ.aWQ",
      .expires_at = 1893456000,
      .scope = "openid ALL",
      .obtained_at = 1893452400,
  };

  return r;
}

static void assert_str(const char *a, const char *b, const char *what)
{
  if (a == NULL || b == NULL)
    cr_assert(a == b, "%s: %s vs %s", what, a ? a : "NULL", b ? b : "NULL");
  else
    cr_assert_str_eq(a, b, "%s", what);
}

static void assert_same(const struct dhis2_token_record *a,
                        const struct dhis2_token_record *b)
{
  cr_assert_not_null(a);
  cr_assert_not_null(b);
  assert_str(a->url, b->url, "url");
  assert_str(a->username, b->username, "username");
  assert_str(a->access_token, b->access_token, "access_token");
  assert_str(a->refresh_token, b->refresh_token, "refresh_token");
  assert_str(a->id_token, b->id_token, "id_token");
  assert_str(a->scope, b->scope, "scope");
  cr_assert_eq(a->expires_at, b->expires_at);
  cr_assert_eq(a->obtained_at, b->obtained_at);
}

static struct dhis2_store_opts file_opts(void)
{
  struct dhis2_store_opts o = {
      .backend = DHIS2_STORE_FILE, .uid = geteuid(), .dir = dir};

  return o;
}

/* d/name; valid for the next three calls. */
static const char *path_in(const char *d, const char *name)
{
  static char pool[4][PATH_MAX + 128];
  static unsigned next;
  char *p = pool[next++ % 4];

  snprintf(p, PATH_MAX + 128, "%s/%s", d, name);
  return p;
}

/* d/PROFILE + suffix; valid for the next three calls. */
static const char *record_path(const char *d, const char *prof,
                               const char *suffix)
{
  static char pool[4][PATH_MAX + 128];
  static unsigned next;
  char *p = pool[next++ % 4];

  snprintf(p, PATH_MAX + 128, "%s/%s%s", d, prof, suffix);
  return p;
}

static void save_ok(const struct dhis2_store_opts *o, const char *prof,
                    const struct dhis2_token_record *r, long keep_for)
{
  enum dhis2_err rc = dhis2_store_save(o, prof, r, keep_for, err, sizeof(err));

  cr_assert_eq(rc, DHIS2_OK, "save %s: %s: %s", prof, dhis2_strerror(rc), err);
}

/* Loads, asserting success; NULL when there is no record. */
static struct dhis2_token_record *load_ok(const struct dhis2_store_opts *o,
                                          const char *prof,
                                          struct dhis2_store_where *w)
{
  struct dhis2_token_record *r = NULL;
  enum dhis2_err rc = dhis2_store_load(o, prof, &r, w, err, sizeof(err));

  cr_assert_eq(rc, DHIS2_OK, "load %s: %s: %s", prof, dhis2_strerror(rc), err);
  return r;
}

static enum dhis2_err load_rc(const struct dhis2_store_opts *o,
                              const char *prof)
{
  struct dhis2_token_record *r = NULL;
  enum dhis2_err rc = dhis2_store_load(o, prof, &r, NULL, err, sizeof(err));

  cr_assert_null(r);
  return rc;
}

static mode_t mode_of(const char *path)
{
  struct stat st;

  cr_assert_eq(lstat(path, &st), 0, "%s: %s", path, strerror(errno));
  return st.st_mode & 07777;
}

static bool exists(const char *path)
{
  struct stat st;

  return lstat(path, &st) == 0;
}

static void write_text(const char *path, mode_t mode, const char *text)
{
  size_t len = strlen(text);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
  cr_assert_eq(write(fd, text, len), (ssize_t)len);
  cr_assert_eq(fchmod(fd, mode), 0);
  cr_assert_eq(close(fd), 0);
}

/* Waits for pid; returns its exit status, failing the test if it was
   killed. */
static int wait_exit(pid_t pid)
{
  int status = 0;

  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status), "child %ld ended by signal %d", (long)pid,
            WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return WEXITSTATUS(status);
}

/* ---- the record ---- */

Test(record, json_round_trip_keeps_every_field)
{
  struct dhis2_token_record in = sample();
  struct dhis2_token_record *out = NULL;
  char *json = NULL;
  size_t len = 0;

  cr_assert_eq(dhis2_token_record_to_json(&in, &json, &len), DHIS2_OK);
  cr_assert_eq(strlen(json), len);
  cr_assert_eq(dhis2_token_record_from_json(json, len, &out, err, sizeof(err)),
               DHIS2_OK, "%s", err);
  assert_same(&in, out);
  dhis2_token_record_free(out);
  dhis2_secret_free_n(json, len);
}

Test(record, json_escapes_quotes_backslashes_and_control_characters)
{
  struct dhis2_token_record in = sample();
  struct dhis2_token_record *out = NULL;
  char *json = NULL;
  size_t len = 0;

  in.username = "j\"doe\\\x01\t\n";
  in.scope = "caf\xc3\xa9 \xe2\x9c\x93 /api";
  cr_assert_eq(dhis2_token_record_to_json(&in, &json, &len), DHIS2_OK);
  cr_assert_not_null(strstr(json, "\"j\\\"doe\\\\\\u0001\\u0009\\u000a\""),
                     "%s", json);
  cr_assert_eq(dhis2_token_record_from_json(json, len, &out, err, sizeof(err)),
               DHIS2_OK, "%s", err);
  assert_same(&in, out);
  dhis2_token_record_free(out);
  dhis2_secret_free_n(json, len);
}

Test(record, absent_optional_fields_are_written_as_null_and_read_back)
{
  struct dhis2_token_record in = sample();
  struct dhis2_token_record *out = NULL;
  char *json = NULL;
  size_t len = 0;

  in.refresh_token = NULL;
  in.id_token = NULL;
  in.scope = NULL;
  in.expires_at = 0;
  cr_assert_eq(dhis2_token_record_to_json(&in, &json, &len), DHIS2_OK);
  cr_assert_not_null(strstr(json, "\"refresh_token\":null"), "%s", json);
  cr_assert_eq(dhis2_token_record_from_json(json, len, &out, err, sizeof(err)),
               DHIS2_OK, "%s", err);
  assert_same(&in, out);
  dhis2_token_record_free(out);
  dhis2_secret_free_n(json, len);
}

Test(record, parser_takes_a_minimal_record_and_ignores_unknown_members)
{
  static const char j[] = "{\"url\":\"" URL "\",\"username\":\"a\","
                          "\"access_token\":\"t\",\"future\":[1,2]}";
  struct dhis2_token_record *out = NULL;

  cr_assert_eq(
      dhis2_token_record_from_json(j, strlen(j), &out, err, sizeof(err)),
      DHIS2_OK, "%s", err);
  cr_assert_str_eq(out->access_token, "t");
  cr_assert_null(out->refresh_token);
  cr_assert_eq(out->expires_at, 0);
  dhis2_token_record_free(out);
}

Test(record, parser_refuses_malformed_records)
{
  static const char *const bad[] = {
      "",
      "[]",
      "{\"url\":\"u\",\"username\":\"a\"}",
      "{\"url\":\"u\",\"username\":\"a\",\"access_token\":\"\"}",
      "{\"url\":1,\"username\":\"a\",\"access_token\":\"t\"}",
      "{\"url\":\"u\",\"username\":\"a\",\"access_token\":\"t\","
      "\"expires_at\":-5}",
      "{\"url\":\"u\",\"username\":\"a\",\"access_token\":\"t\","
      "\"expires_at\":\"soon\"}",
      "{\"url\":\"u\",\"username\":\"a\",\"access_token\":\"t\","
      "\"scope\":false}",
      "{\"url\":\"u\",\"username\":\"a\\u0000b\",\"access_token\":\"t\"}",
      "{\"url\":\"u\",\"username\":\"a\",\"access_token\":\"t\"} x",
      "{\"url\":\"u\",\"username\":\"a\",\"access_token\":\"t\",}",
  };

  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct dhis2_token_record *out = NULL;

    err[0] = '\0';
    cr_expect_eq(dhis2_token_record_from_json(bad[i], strlen(bad[i]), &out,
                                              err, sizeof(err)),
                 DHIS2_ERR_INVAL, "accepted: %s", bad[i]);
    cr_expect_null(out);
    cr_expect_neq(err[0], '\0', "no reason for: %s", bad[i]);
    dhis2_token_record_free(out);
  }
}

Test(record, serializer_needs_url_username_and_access_token)
{
  struct dhis2_token_record in = sample();
  char *json = NULL;
  size_t len = 0;

  in.access_token = NULL;
  cr_assert_eq(dhis2_token_record_to_json(&in, &json, &len), DHIS2_ERR_INVAL);
  cr_assert_null(json);
}

Test(record, dup_is_a_deep_copy)
{
  struct dhis2_token_record in = sample();
  struct dhis2_token_record *copy = dhis2_token_record_dup(&in);

  assert_same(&in, copy);
  cr_assert_neq(copy->access_token, in.access_token);
  dhis2_token_record_free(copy);
}

Test(record, profile_names_are_a_safe_alphabet_of_1_to_64)
{
  char longest[66];

  memset(longest, 'p', 64);
  longest[64] = '\0';
  cr_assert(dhis2_store_profile_valid("default"));
  cr_assert(dhis2_store_profile_valid("prod.eu-1_A"));
  cr_assert(dhis2_store_profile_valid(longest));
  longest[64] = 'p';
  longest[65] = '\0';
  cr_assert_not(dhis2_store_profile_valid(longest));
  cr_assert_not(dhis2_store_profile_valid(""));
  cr_assert_not(dhis2_store_profile_valid(NULL));
  cr_assert_not(dhis2_store_profile_valid("../etc"));
  cr_assert_not(dhis2_store_profile_valid("a/b"));
  cr_assert_not(dhis2_store_profile_valid("a b"));
  cr_assert_not(dhis2_store_profile_valid("a:b"));
}

/* ---- the file backend ---- */

Test(file, save_load_delete)
{
  struct dhis2_store_opts o = file_opts();
  struct dhis2_token_record in = sample();
  struct dhis2_token_record *out;
  struct dhis2_store_where w;

  cr_assert_null(load_ok(&o, profile("a"), &w));
  cr_assert_not(w.found);
  save_ok(&o, profile("a"), &in, 3600);
  out = load_ok(&o, profile("a"), &w);
  assert_same(&in, out);
  dhis2_token_record_free(out);
  cr_assert(w.found);
  cr_assert_eq(w.backend, DHIS2_STORE_FILE);
  cr_assert_eq(w.expires_at, in.expires_at);
  cr_assert_str_eq(w.location, record_path(dir, profile("a"), ".json"));
  cr_assert_eq(dhis2_store_delete(&o, profile("a"), err, sizeof(err)),
               DHIS2_OK, "%s", err);
  cr_assert_null(load_ok(&o, profile("a"), NULL));
  /* Deleting what is not there is not an error (logout twice). */
  cr_assert_eq(dhis2_store_delete(&o, profile("a"), err, sizeof(err)),
               DHIS2_OK, "%s", err);
}

Test(file, where_reports_the_file_and_expiry_without_secrets)
{
  struct dhis2_store_opts o = file_opts();
  struct dhis2_token_record in = sample();
  struct dhis2_store_where w;

  save_ok(&o, profile("a"), &in, 0);
  cr_assert_eq(dhis2_store_where(&o, profile("a"), &w, err, sizeof(err)),
               DHIS2_OK, "%s", err);
  cr_assert(w.found);
  cr_assert_eq(w.backend, DHIS2_STORE_FILE);
  cr_assert_eq(w.key_id, 0);
  cr_assert_eq(w.expires_at, in.expires_at);
  cr_assert_eq(w.obtained_at, in.obtained_at);
}

Test(file, record_is_0600_in_a_0700_directory_whatever_the_umask)
{
  struct dhis2_store_opts o = file_opts();
  struct dhis2_token_record in = sample();

  umask(0);
  save_ok(&o, profile("a"), &in, 0);
  cr_assert_eq(mode_of(dir), 0700);
  cr_assert_eq(mode_of(path_in(tmpdir, "state")), 0700);
  cr_assert_eq(mode_of(record_path(dir, profile("a"), ".json")), 0600);
  cr_assert_eq(mode_of(record_path(dir, profile("a"), ".lock")), 0600);
  cr_assert_not(exists(record_path(dir, profile("a"), ".json.tmp")));
}

Test(file, default_directory_is_xdg_state_home_then_home)
{
  struct dhis2_store_opts o = {.backend = DHIS2_STORE_FILE, .uid = geteuid()};
  struct dhis2_token_record in = sample();
  char p[PATH_MAX];

  snprintf(p, sizeof(p), "%s/xdg", tmpdir);
  cr_assert_eq(setenv("XDG_STATE_HOME", p, 1), 0);
  save_ok(&o, profile("a"), &in, 0);
  cr_assert(
      exists(record_path(path_in(p, "dhis2-auth"), profile("a"), ".json")));
  /* A relative XDG_STATE_HOME is invalid: HOME's default applies. */
  cr_assert_eq(setenv("XDG_STATE_HOME", "relative", 1), 0);
  snprintf(p, sizeof(p), "%s/home", tmpdir);
  cr_assert_eq(setenv("HOME", p, 1), 0);
  save_ok(&o, profile("b"), &in, 0);
  cr_assert(exists(record_path(path_in(p, ".local/state/dhis2-auth"),
                               profile("b"), ".json")));
}

Test(file, symlink_at_record_path_is_refused)
{
  struct dhis2_store_opts o = file_opts();
  struct dhis2_token_record in = sample();

  save_ok(&o, profile("a"), &in, 0);
  /* A valid record of ours, reached through a link: still refused. */
  cr_assert_eq(symlink(record_path(dir, profile("a"), ".json"),
                       record_path(dir, profile("b"), ".json")),
               0);
  cr_assert_eq(load_rc(&o, profile("b")), DHIS2_ERR_CONFIG);
  cr_assert_not_null(strstr(err, "symbolic link"), "%s", err);
}

Test(file, symlinked_store_directory_is_refused)
{
  struct dhis2_store_opts o = file_opts();
  struct dhis2_token_record in = sample();
  char real[PATH_MAX];

  snprintf(real, sizeof(real), "%s/real", tmpdir);
  o.dir = real;
  save_ok(&o, profile("a"), &in, 0);
  cr_assert_eq(mkdir(path_in(tmpdir, "state"), 0700), 0);
  cr_assert_eq(symlink(real, dir), 0);
  o.dir = dir;
  cr_assert_eq(load_rc(&o, profile("a")), DHIS2_ERR_CONFIG);
  cr_assert_eq(dhis2_store_save(&o, profile("a"), &in, 0, err, sizeof(err)),
               DHIS2_ERR_CONFIG);
}

Test(file, record_with_group_or_other_access_is_refused)
{
  struct dhis2_store_opts o = file_opts();
  struct dhis2_token_record in = sample();
  const char *p = record_path(dir, profile("a"), ".json");
  static const mode_t modes[] = {0620, 0640, 0602, 0604};

  save_ok(&o, profile("a"), &in, 0);
  for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
    cr_assert_eq(chmod(p, modes[i]), 0);
    cr_expect_eq(load_rc(&o, profile("a")), DHIS2_ERR_CONFIG, "mode %o",
                 (unsigned)modes[i]);
    cr_expect_not_null(strstr(err, "group or others"), "%s", err);
  }
}

Test(file, fifo_at_record_path_is_refused_without_blocking)
{
  struct dhis2_store_opts o = file_opts();
  struct dhis2_token_record in = sample();

  save_ok(&o, profile("a"), &in, 0);
  cr_assert_eq(mkfifo(record_path(dir, profile("b"), ".json"), 0600), 0);
  cr_assert_eq(load_rc(&o, profile("b")), DHIS2_ERR_CONFIG);
  cr_assert_not_null(strstr(err, "not a regular file"), "%s", err);
}

Test(file, corrupt_record_is_an_error_that_says_why)
{
  struct dhis2_store_opts o = file_opts();
  struct dhis2_token_record in = sample();

  save_ok(&o, profile("a"), &in, 0);
  write_text(record_path(dir, profile("a"), ".json"), 0600, "{\"url\":");
  cr_assert_eq(load_rc(&o, profile("a")), DHIS2_ERR_INVAL);
  cr_assert_not_null(strstr(err, "not a JSON object"), "%s", err);
  /* A save replaces it. */
  save_ok(&o, profile("a"), &in, 0);
  dhis2_token_record_free(load_ok(&o, profile("a"), NULL));
}

Test(file, bad_profile_names_and_relative_directories_are_refused)
{
  struct dhis2_store_opts o = file_opts();
  struct dhis2_token_record in = sample();

  cr_assert_eq(dhis2_store_save(&o, "../x", &in, 0, err, sizeof(err)),
               DHIS2_ERR_INVAL);
  cr_assert_eq(load_rc(&o, ""), DHIS2_ERR_INVAL);
  o.dir = "relative/dir";
  cr_assert_eq(dhis2_store_save(&o, profile("a"), &in, 0, err, sizeof(err)),
               DHIS2_ERR_INVAL);
}

Test(file, records_of_another_uid_are_read_only)
{
  struct dhis2_store_opts o = file_opts();
  struct dhis2_token_record in = sample();

  o.uid = geteuid() == NOBODY ? OTHER : NOBODY;
  cr_assert_eq(dhis2_store_save(&o, profile("a"), &in, 0, err, sizeof(err)),
               DHIS2_ERR_INVAL);
  cr_assert_not_null(strstr(err, "read-only"), "%s", err);
  cr_assert_eq(dhis2_store_delete(&o, profile("a"), err, sizeof(err)),
               DHIS2_ERR_INVAL);
}

/* An update callback: obtained_at + 1, or a first record at 1. */
static enum dhis2_err increment(const struct dhis2_token_record *cur,
                                struct dhis2_token_record **next,
                                long *keep_for, void *arg)
{
  struct dhis2_token_record fresh = sample();

  (void)arg;
  if (cur == NULL) {
    fresh.obtained_at = 0;
    cur = &fresh;
  }
  *next = dhis2_token_record_dup(cur);
  if (*next == NULL)
    return DHIS2_ERR_NOMEM;
  (*next)->obtained_at = cur->obtained_at + 1;
  *keep_for = 600;
  return DHIS2_OK;
}

/* UPDATERS processes increment at once; every increment must count. */
static void concurrent_updaters(const struct dhis2_store_opts *o,
                                const char *prof)
{
  struct dhis2_token_record *out;
  pid_t pids[UPDATERS];

  for (int i = 0; i < UPDATERS; i++) {
    pids[i] = fork();
    cr_assert(pids[i] >= 0, "fork: %s", strerror(errno));
    if (pids[i] == 0) {
      char e[512];
      enum dhis2_err rc =
          dhis2_store_update(o, prof, increment, NULL, e, sizeof(e));

      if (rc != DHIS2_OK)
        fprintf(stderr, "update: %s: %s\n", dhis2_strerror(rc), e);
      _exit(rc == DHIS2_OK ? 0 : 1);
    }
  }
  for (int i = 0; i < UPDATERS; i++)
    cr_assert_eq(wait_exit(pids[i]), 0, "updater %d failed", i);
  out = load_ok(o, prof, NULL);
  cr_assert_not_null(out);
  cr_assert_eq(out->obtained_at, UPDATERS);
  cr_assert_str_eq(out->access_token, sample().access_token);
  dhis2_token_record_free(out);
}

Test(file, twenty_concurrent_updaters_each_count_once)
{
  struct dhis2_store_opts o = file_opts();

  concurrent_updaters(&o, profile("count"));
  cr_assert_not(exists(record_path(dir, profile("count"), ".json.tmp")));
}

static enum dhis2_err refuse(const struct dhis2_token_record *cur,
                             struct dhis2_token_record **next, long *keep_for,
                             void *arg)
{
  (void)cur;
  (void)keep_for;
  *next = dhis2_token_record_dup(arg); /* made, then not wanted */
  dhis2_token_record_free(*next);
  *next = NULL;
  return DHIS2_ERR_REJECTED;
}

static enum dhis2_err keep(const struct dhis2_token_record *cur,
                           struct dhis2_token_record **next, long *keep_for,
                           void *arg)
{
  (void)keep_for;
  (void)next;
  *(bool *)arg = cur != NULL;
  return DHIS2_OK;
}

Test(file, update_saves_nothing_when_the_callback_fails_or_declines)
{
  struct dhis2_store_opts o = file_opts();
  struct dhis2_token_record in = sample();
  struct dhis2_token_record *out;
  bool saw = false;

  save_ok(&o, profile("a"), &in, 0);
  cr_assert_eq(
      dhis2_store_update(&o, profile("a"), refuse, &in, err, sizeof(err)),
      DHIS2_ERR_REJECTED);
  cr_assert_eq(
      dhis2_store_update(&o, profile("a"), keep, &saw, err, sizeof(err)),
      DHIS2_OK, "%s", err);
  cr_assert(saw);
  out = load_ok(&o, profile("a"), NULL);
  assert_same(&in, out);
  dhis2_token_record_free(out);
}

static void kill_self(const char *tmp_path, void *arg)
{
  (void)tmp_path;
  (void)arg;
  raise(SIGKILL);
}

Test(file, crash_between_write_and_rename_keeps_the_old_record)
{
  struct dhis2_store_opts o = file_opts();
  struct dhis2_token_record old = sample();
  struct dhis2_token_record new = sample();
  struct dhis2_token_record *out;
  const char *tmp = record_path(dir, profile("a"), ".json.tmp");
  int status = 0;
  pid_t pid;

  new.access_token = "the-new-access-token";
  save_ok(&o, profile("a"), &old, 0);
  pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    char e[512];

    o.before_rename = kill_self;
    dhis2_store_save(&o, profile("a"), &new, 0, e, sizeof(e));
    _exit(3); /* not reached */
  }
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
            "the hook did not run: status %#x", (unsigned)status);
  /* The new record was complete on disk, never renamed in; it is no one
     else's to read meanwhile. */
  cr_assert(exists(tmp));
  cr_assert_eq(mode_of(tmp), 0600);
  out = load_ok(&o, profile("a"), NULL);
  assert_same(&old, out);
  dhis2_token_record_free(out);
  /* The leftover neither breaks the next save nor stays. */
  save_ok(&o, profile("a"), &new, 0);
  cr_assert_not(exists(tmp));
  out = load_ok(&o, profile("a"), NULL);
  assert_same(&new, out);
  dhis2_token_record_free(out);
}

Test(file, delete_removes_a_crash_leftover_and_the_lock)
{
  struct dhis2_store_opts o = file_opts();
  struct dhis2_token_record in = sample();

  save_ok(&o, profile("a"), &in, 0);
  write_text(record_path(dir, profile("a"), ".json.tmp"), 0600, "{}");
  cr_assert_eq(dhis2_store_delete(&o, profile("a"), err, sizeof(err)),
               DHIS2_OK, "%s", err);
  cr_assert_not(exists(record_path(dir, profile("a"), ".json")));
  cr_assert_not(exists(record_path(dir, profile("a"), ".json.tmp")));
  cr_assert_not(exists(record_path(dir, profile("a"), ".lock")));
}

/* ---- the keyring backend ---- */

/* What keyctl_get_persistent() says here, once per test process. */
static bool keyring_works(void)
{
  static int works = -1;
  char why[256];

  if (works < 0) {
    works = dhis2_store_keyring_probe(geteuid(), why, sizeof(why)) == DHIS2_OK;
    if (!works) {
      int e = errno;
      /* The kernel was built with persistent keyrings when this exists. */
      bool built =
          access("/proc/sys/kernel/keys/persistent_keyring_expiry", F_OK) == 0;

      fprintf(stderr,
              "store: persistent keyrings unusable here (%s; kernel "
              "CONFIG_PERSISTENT_KEYRINGS %s): testing that auto falls back "
              "to the file backend instead\n",
              why, built ? "yes" : "no");
      /* Built in and refused for any reason but a policy (seccomp, no
         keyctl) means the store's use of it is wrong: fail. */
      cr_assert(!built || e == EPERM || e == EACCES || e == ENOSYS,
                "the kernel has persistent keyrings but: %s", why);
    }
  }
  return works;
}

/* With no usable keyring, auto must store in and read from the file. */
static void assert_auto_uses_file(void)
{
  struct dhis2_store_opts o = file_opts();
  struct dhis2_token_record in = sample();
  struct dhis2_token_record *out;
  struct dhis2_store_where w;

  o.backend = DHIS2_STORE_AUTO;
  save_ok(&o, profile("auto"), &in, 60);
  cr_assert(exists(record_path(dir, profile("auto"), ".json")));
  out = load_ok(&o, profile("auto"), &w);
  assert_same(&in, out);
  dhis2_token_record_free(out);
  cr_assert_eq(w.backend, DHIS2_STORE_FILE);
  o.backend = DHIS2_STORE_KEYRING;
  cr_assert_eq(load_rc(&o, profile("auto")), DHIS2_ERR_CONFIG);
  cr_assert_not_null(strstr(err, "keyctl_get_persistent"), "%s", err);
}

/* True when the keyring tests can run; else proves the fallback. */
static bool need_keyring(void)
{
  if (keyring_works())
    return true;
  assert_auto_uses_file();
  return false;
}

static struct dhis2_store_opts keyring_opts(void)
{
  struct dhis2_store_opts o = file_opts();

  o.backend = DHIS2_STORE_KEYRING;
  return o;
}

/* The expiry column of key id in /proc/keys ("perm", "49s", ...). */
static const char *proc_keys_expiry(long id)
{
  static char expiry[32];
  char line[512];
  FILE *f = fopen("/proc/keys", "re");

  cr_assert_not_null(f, "/proc/keys: %s", strerror(errno));
  expiry[0] = '\0';
  while (fgets(line, sizeof(line), f) != NULL) {
    unsigned long serial;
    char flags[16];

    if (sscanf(line, "%lx %15s %*d %31s", &serial, flags, expiry) == 3 &&
        (long)serial == id)
      break;
    expiry[0] = '\0';
  }
  fclose(f);
  cr_assert_neq(expiry[0], '\0', "key %lx not in /proc/keys", id);
  return expiry;
}

Test(keyring, support_is_detected_and_reported)
{
  fprintf(stderr, "store: persistent keyrings %s for uid %u\n",
          keyring_works() ? "work" : "do not work", (unsigned)geteuid());
  if (!keyring_works())
    assert_auto_uses_file();
}

Test(keyring, save_load_delete)
{
  struct dhis2_store_opts o = keyring_opts();
  struct dhis2_token_record in = sample();
  struct dhis2_token_record *out;
  struct dhis2_store_where w;

  if (!need_keyring())
    return;
  cr_assert_null(load_ok(&o, profile("a"), NULL));
  save_ok(&o, profile("a"), &in, 0);
  out = load_ok(&o, profile("a"), &w);
  assert_same(&in, out);
  dhis2_token_record_free(out);
  cr_assert(w.found);
  cr_assert_eq(w.backend, DHIS2_STORE_KEYRING);
  cr_assert_gt(w.key_id, 0);
  cr_assert_eq(w.expires_at, in.expires_at);
  /* Nothing on file: the keyring backend keeps only its lock there. */
  cr_assert_not(exists(record_path(dir, profile("a"), ".json")));
  cr_assert_eq(dhis2_store_delete(&o, profile("a"), err, sizeof(err)),
               DHIS2_OK, "%s", err);
  cr_assert_null(load_ok(&o, profile("a"), NULL));
  cr_assert_eq(dhis2_store_delete(&o, profile("a"), err, sizeof(err)),
               DHIS2_OK, "%s", err);
}

Test(keyring, key_is_a_user_key_only_its_possessor_and_owner_can_read)
{
  struct dhis2_store_opts o = keyring_opts();
  struct dhis2_token_record in = sample();
  struct dhis2_store_where w;
  unsigned uid = 0;
  unsigned perm = 0;
  char name[128];
  char want[128];
  char *desc = NULL;

  if (!need_keyring())
    return;
  save_ok(&o, profile("a"), &in, 0);
  cr_assert_eq(dhis2_store_where(&o, profile("a"), &w, err, sizeof(err)),
               DHIS2_OK, "%s", err);
  /* The store links the keyring only while it works, so this process
     describes the key as its owner, not as its possessor. */
  cr_assert_geq(keyctl_describe_alloc((key_serial_t)w.key_id, &desc), 0,
                "describe: %s", strerror(errno));
  cr_assert_eq(sscanf(desc, "user;%u;%*u;%x;%127s", &uid, &perm, name), 3,
               "%s", desc);
  free(desc);
  cr_assert_eq(uid, (unsigned)geteuid());
  /* possessor: all; user: view, read; group and others: nothing */
  cr_assert_eq(perm, 0x3f030000u, "perm %08x", perm);
  snprintf(want, sizeof(want), "dhis2-auth:%s", profile("a"));
  cr_assert_str_eq(name, want);
}

Test(keyring, key_timeout_is_the_refresh_tokens_life)
{
  struct dhis2_store_opts o = keyring_opts();
  struct dhis2_token_record in = sample();
  struct dhis2_store_where w;
  const char *e;

  if (!need_keyring())
    return;
  save_ok(&o, profile("timeout"), &in, 50);
  cr_assert_eq(dhis2_store_where(&o, profile("timeout"), &w, err, sizeof(err)),
               DHIS2_OK, "%s", err);
  e = proc_keys_expiry(w.key_id);
  cr_assert(strcmp(e, "50s") == 0 || strcmp(e, "49s") == 0 ||
                strcmp(e, "48s") == 0,
            "expiry %s", e);
  save_ok(&o, profile("timeout"), &in, 0);
  cr_assert_str_eq(proc_keys_expiry(w.key_id), "perm");
  /* And the kernel does drop it then. */
  save_ok(&o, profile("timeout"), &in, 1);
  sleep(2);
  cr_assert_null(load_ok(&o, profile("timeout"), NULL));
}

Test(keyring, twenty_concurrent_updaters_each_count_once)
{
  struct dhis2_store_opts o = keyring_opts();

  if (!need_keyring())
    return;
  concurrent_updaters(&o, profile("count"));
}

Test(keyring, auto_prefers_the_keyring_and_drops_the_file_copy)
{
  struct dhis2_store_opts o = file_opts();
  struct dhis2_token_record old = sample();
  struct dhis2_token_record in = sample();
  struct dhis2_token_record *out;
  struct dhis2_store_where w;

  if (!need_keyring())
    return;
  old.access_token = "older";
  save_ok(&o, profile("auto"), &old, 0);
  o.backend = DHIS2_STORE_AUTO;
  /* An older login on file is read while the keyring has none. */
  out = load_ok(&o, profile("auto"), &w);
  assert_same(&old, out);
  dhis2_token_record_free(out);
  cr_assert_eq(w.backend, DHIS2_STORE_FILE);
  save_ok(&o, profile("auto"), &in, 60);
  cr_assert_not(exists(record_path(dir, profile("auto"), ".json")));
  out = load_ok(&o, profile("auto"), &w);
  assert_same(&in, out);
  dhis2_token_record_free(out);
  cr_assert_eq(w.backend, DHIS2_STORE_KEYRING);
  cr_assert_eq(dhis2_store_delete(&o, profile("auto"), err, sizeof(err)),
               DHIS2_OK, "%s", err);
  cr_assert_null(load_ok(&o, profile("auto"), NULL));
}

/* Makes keyctl and add_key fail with EPERM in this process, as Docker's
   default seccomp profile does. A test's filter: no architecture check. */
static void block_keyctl(void)
{
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_keyctl, 2, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_add_key, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & 0xffff)),
  };
  struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};

  cr_assert_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
  cr_assert_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0,
               "seccomp: %s", strerror(errno));
}

Test(keyring, auto_falls_back_to_the_file_when_keyctl_is_blocked)
{
  block_keyctl();
  cr_assert_neq(dhis2_store_keyring_probe(geteuid(), err, sizeof(err)),
                DHIS2_OK);
  cr_assert_eq(errno, EPERM);
  assert_auto_uses_file();
}

/* ---- another uid's records, read by root ---- */

static void need_root(const char *why)
{
  if (geteuid() != 0) {
    teardown(); /* Criterion skips .fini with the test */
    cr_skip_test("needs root: %s", why);
  }
}

#define AS_NOBODY "becomes uid 65534 to store a record, then reads it as root"

/* A home directory for uid in tmpdir, as useradd makes it. */
static const char *make_home(uid_t uid)
{
  static char home[PATH_MAX];

  snprintf(home, sizeof(home), "%s/home", tmpdir);
  cr_assert_eq(mkdir(home, 0755), 0);
  cr_assert_eq(chown(home, uid, uid), 0);
  return home;
}

struct as_user {
  uid_t uid;
  enum dhis2_token_store backend;
  const char *dir;
  const char *profile;
  enum { STORE, LOAD, DELETE } what;
  const char *access_token; /* to store; NULL: sample()'s */
};

/* In a child: becomes a.uid with its own session keyring, then stores
   sample() in, loads from, or deletes from its store. Returns the exit
   status: 0 ok, 1 the store failed, 2 no record, 9 setup failed; err gets
   what the child said. */
static int as_user(const struct as_user *a, uid_t owner)
{
  size_t got = 0;
  int fds[2];
  int status;
  pid_t pid;

  cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
  pid = fork();
  cr_assert(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    struct dhis2_store_opts o = {
        .backend = a->backend, .uid = owner, .dir = a->dir};
    struct dhis2_token_record in = sample();
    struct dhis2_token_record *out = NULL;
    enum dhis2_err rc = DHIS2_ERR_INTERNAL;
    char e[1024] = "";

    close(fds[0]);
    /* Its own session keyring, as a login would give it: root's is not
       the user's to use (and need not exist when keyctl is blocked). */
    if (setgroups(0, NULL) != 0 || setresgid(a->uid, a->uid, a->uid) != 0 ||
        setresuid(a->uid, a->uid, a->uid) != 0 ||
        (keyctl_join_session_keyring(NULL) < 0 &&
         a->backend != DHIS2_STORE_FILE)) {
      snprintf(e, sizeof(e), "becoming uid %u: %s", (unsigned)a->uid,
               strerror(errno));
      rc = DHIS2_ERR_INTERNAL;
    } else {
      if (a->access_token != NULL)
        in.access_token = (char *)a->access_token;
      if (a->what == STORE)
        rc = dhis2_store_save(&o, a->profile, &in, 3600, e, sizeof(e));
      else if (a->what == LOAD)
        rc = dhis2_store_load(&o, a->profile, &out, NULL, e, sizeof(e));
      else
        rc = dhis2_store_delete(&o, a->profile, e, sizeof(e));
    }
    if (write(fds[1], e, strlen(e)) < 0)
      rc = DHIS2_ERR_INTERNAL;
    status = 0;
    if (rc == DHIS2_ERR_INTERNAL)
      status = 9;
    else if (rc != DHIS2_OK)
      status = 1;
    else if (a->what == LOAD && out == NULL)
      status = 2;
    dhis2_token_record_free(out);
    _exit(status);
  }
  close(fds[1]);
  for (;;) {
    ssize_t n = read(fds[0], err + got, sizeof(err) - 1 - got);

    if (n <= 0)
      break;
    got += (size_t)n;
  }
  err[got] = '\0';
  close(fds[0]);
  status = wait_exit(pid);
  cr_assert_neq(status, 9, "%s", err);
  return status;
}

/* Root's options for reading uid's records under home. */
static struct dhis2_store_opts root_opts(enum dhis2_token_store backend,
                                         uid_t uid, const char *home)
{
  struct dhis2_store_opts o = {.backend = backend, .uid = uid, .home = home};

  return o;
}

/* NOBODY stores a file record under a fresh home; returns the home. */
static const char *nobody_stores_a_file_record(const char *prof)
{
  const char *home = make_home(NOBODY);
  struct as_user a = {NOBODY, DHIS2_STORE_FILE, NULL, prof, STORE, NULL};

  snprintf(dir, sizeof(dir), "%s/.local/state/dhis2-auth", home);
  a.dir = dir;
  cr_assert_eq(as_user(&a, NOBODY), 0, "%s", err);
  return home;
}

Test(foreign, root_reads_another_uids_file_record)
{
  struct dhis2_token_record in = sample();
  struct dhis2_token_record *out;
  struct dhis2_store_opts o;
  struct dhis2_store_where w;
  const char *home;

  need_root(AS_NOBODY);
  home = nobody_stores_a_file_record(profile("a"));
  cr_assert_eq(mode_of(dir), 0700);
  o = root_opts(DHIS2_STORE_FILE, NOBODY, home);
  out = load_ok(&o, profile("a"), &w);
  assert_same(&in, out);
  dhis2_token_record_free(out);
  cr_assert_eq(w.backend, DHIS2_STORE_FILE);
  cr_assert_str_eq(w.location, record_path(dir, profile("a"), ".json"));
  /* Read-only to root. */
  cr_assert_eq(dhis2_store_save(&o, profile("a"), &in, 0, err, sizeof(err)),
               DHIS2_ERR_INVAL);
  /* Nothing stored is no record, not an error. */
  cr_assert_null(load_ok(&o, profile("b"), NULL));
}

Test(foreign, root_refuses_another_uids_record_with_group_or_other_access)
{
  struct dhis2_store_opts o;
  const char *home;
  const char *p;

  need_root(AS_NOBODY);
  home = nobody_stores_a_file_record(profile("a"));
  o = root_opts(DHIS2_STORE_FILE, NOBODY, home);
  p = record_path(dir, profile("a"), ".json");
  cr_assert_eq(chmod(p, 0620), 0);
  cr_assert_eq(load_rc(&o, profile("a")), DHIS2_ERR_CONFIG);
  cr_assert_not_null(strstr(err, "group or others"), "%s", err);
  cr_assert_eq(chmod(p, 0644), 0);
  cr_assert_eq(load_rc(&o, profile("a")), DHIS2_ERR_CONFIG);
}

Test(foreign, root_refuses_a_symlink_at_another_uids_record_path)
{
  struct dhis2_store_opts o;
  const char *home;

  need_root(AS_NOBODY);
  home = nobody_stores_a_file_record(profile("a"));
  o = root_opts(DHIS2_STORE_FILE, NOBODY, home);
  /* The user points the record at a file only root may read. */
  cr_assert_eq(symlink("/etc/shadow", record_path(dir, profile("b"), ".json")),
               0);
  cr_assert_eq(lchown(record_path(dir, profile("b"), ".json"), NOBODY, NOBODY),
               0);
  cr_assert_eq(load_rc(&o, profile("b")), DHIS2_ERR_CONFIG);
  cr_assert_not_null(strstr(err, "symbolic link"), "%s", err);
}

Test(foreign, root_refuses_a_record_another_uid_does_not_own)
{
  struct dhis2_store_opts o;
  const char *home;

  need_root(AS_NOBODY);
  home = nobody_stores_a_file_record(profile("a"));
  o = root_opts(DHIS2_STORE_FILE, OTHER, home);
  /* The directories are NOBODY's: wrong for OTHER. */
  cr_assert_eq(load_rc(&o, profile("a")), DHIS2_ERR_CONFIG);
  cr_assert_not_null(strstr(err, "owned by uid"), "%s", err);
  /* NOBODY's own record, but owned by root: not the user's. */
  o = root_opts(DHIS2_STORE_FILE, NOBODY, home);
  cr_assert_eq(chown(record_path(dir, profile("a"), ".json"), 0, 0), 0);
  cr_assert_eq(load_rc(&o, profile("a")), DHIS2_ERR_CONFIG);
  cr_assert_not_null(strstr(err, "owned by uid 0"), "%s", err);
}

Test(foreign, root_refuses_a_writable_or_symlinked_directory_on_the_way)
{
  struct dhis2_store_opts o;
  const char *home;
  char local[PATH_MAX];
  char moved[PATH_MAX];

  need_root(AS_NOBODY);
  home = nobody_stores_a_file_record(profile("a"));
  o = root_opts(DHIS2_STORE_FILE, NOBODY, home);
  snprintf(local, sizeof(local), "%s/.local", home);
  cr_assert_eq(chmod(local, 0770), 0);
  cr_assert_eq(load_rc(&o, profile("a")), DHIS2_ERR_CONFIG);
  cr_assert_not_null(strstr(err, ".local: refusing: writable by group"), "%s",
                     err);
  cr_assert_eq(chmod(local, 0700), 0);
  cr_assert_eq(chmod(home, 0757), 0);
  cr_assert_eq(load_rc(&o, profile("a")), DHIS2_ERR_CONFIG);
  cr_assert_eq(chmod(home, 0755), 0);
  /* The user swaps .local for a link to the same tree: refused too. */
  snprintf(moved, sizeof(moved), "%s/elsewhere", home);
  cr_assert_eq(rename(local, moved), 0);
  cr_assert_eq(symlink(moved, local), 0);
  cr_assert_eq(load_rc(&o, profile("a")), DHIS2_ERR_CONFIG);
  cr_assert_not_null(strstr(err, "symbolic link"), "%s", err);
  /* A directory outside the home is not taken for it. */
  o.dir = "/etc";
  cr_assert_eq(load_rc(&o, profile("a")), DHIS2_ERR_INVAL);
}

Test(foreign, another_uids_records_need_its_home_or_a_directory)
{
  struct dhis2_store_opts o =
      root_opts(DHIS2_STORE_FILE, geteuid() == NOBODY ? OTHER : NOBODY, NULL);

  cr_assert_eq(load_rc(&o, profile("a")), DHIS2_ERR_INVAL);
}

Test(foreign, root_reads_another_uids_keyring_record)
{
  struct dhis2_token_record in = sample();
  struct dhis2_token_record *out;
  struct dhis2_store_opts o;
  struct dhis2_store_where w;
  const char *home;
  struct as_user a = {NOBODY, DHIS2_STORE_KEYRING, NULL, NULL, STORE, NULL};
  char why[256];

  need_root(AS_NOBODY);
  if (!need_keyring())
    return;
  home = make_home(NOBODY);
  snprintf(dir, sizeof(dir), "%s/.local/state/dhis2-auth", home);
  a.dir = dir;
  a.profile = profile("a");
  cr_assert_eq(dhis2_store_keyring_probe(NOBODY, why, sizeof(why)), DHIS2_OK,
               "root cannot reach uid %d's persistent keyring: %s", NOBODY,
               why);
  cr_assert_eq(as_user(&a, NOBODY), 0, "uid %d could not store: %s", NOBODY,
               err);
  o = root_opts(DHIS2_STORE_KEYRING, NOBODY, home);
  out = load_ok(&o, profile("a"), &w);
  assert_same(&in, out);
  dhis2_token_record_free(out);
  cr_assert_eq(w.backend, DHIS2_STORE_KEYRING);
  /* auto finds it in the keyring too. */
  o.backend = DHIS2_STORE_AUTO;
  out = load_ok(&o, profile("a"), &w);
  assert_same(&in, out);
  dhis2_token_record_free(out);
  cr_assert_eq(w.backend, DHIS2_STORE_KEYRING);
  /* Another unprivileged uid cannot get at it (no CAP_SETUID). */
  a.uid = OTHER;
  a.what = LOAD;
  a.dir = NULL;
  cr_assert_eq(as_user(&a, NOBODY), 1);
  cr_assert_not_null(strstr(err, "Operation not permitted"), "%s", err);
  a.uid = NOBODY;
  a.what = DELETE;
  a.dir = dir;
  cr_assert_eq(as_user(&a, NOBODY), 0, "%s", err);
  o.backend = DHIS2_STORE_KEYRING;
  cr_assert_null(load_ok(&o, profile("a"), NULL));
}

Test(foreign, root_ignores_a_key_another_uid_planted_in_the_users_keyring)
{
  struct dhis2_store_opts o;
  struct dhis2_token_record in = sample();
  char *json = NULL;
  size_t len = 0;
  char desc[128];
  long kr;
  key_serial_t id;

  need_root("links a key of its own into uid 65534's keyring");
  if (!need_keyring())
    return;
  /* Root itself links a key it owns into NOBODY's persistent keyring. */
  kr = keyctl_get_persistent(NOBODY, KEY_SPEC_THREAD_KEYRING);
  cr_assert_geq(kr, 0, "%s", strerror(errno));
  cr_assert_eq(dhis2_token_record_to_json(&in, &json, &len), DHIS2_OK);
  snprintf(desc, sizeof(desc), "dhis2-auth:%s", profile("a"));
  id = add_key("user", desc, json, len, (key_serial_t)kr);
  dhis2_secret_free_n(json, len);
  cr_assert_geq(id, 0, "%s", strerror(errno));
  o = root_opts(DHIS2_STORE_KEYRING, NOBODY, "/nonexistent");
  cr_assert_eq(load_rc(&o, profile("a")), DHIS2_ERR_IO);
  cr_assert_not_null(strstr(err, "not owned by uid"), "%s", err);
  keyctl_invalidate(id);
}

Test(foreign, auto_stores_on_file_when_the_users_key_quota_is_full)
{
  static char big[21000]; /* over a user's 20000-byte key quota */
  struct as_user a = {NOBODY, DHIS2_STORE_AUTO, NULL, NULL, STORE, big};
  struct dhis2_token_record *out;
  struct dhis2_store_opts o;
  struct dhis2_store_where w;
  const char *home;

  need_root(AS_NOBODY);
  if (!need_keyring())
    return;
  memset(big, 'A', sizeof(big) - 1);
  home = make_home(NOBODY);
  snprintf(dir, sizeof(dir), "%s/.local/state/dhis2-auth", home);
  a.dir = dir;
  a.profile = profile("a");
  cr_assert_eq(as_user(&a, NOBODY), 0, "%s", err);
  o = root_opts(DHIS2_STORE_AUTO, NOBODY, home);
  out = load_ok(&o, profile("a"), &w);
  cr_assert_not_null(out);
  cr_assert_str_eq(out->access_token, big);
  dhis2_token_record_free(out);
  cr_assert_eq(w.backend, DHIS2_STORE_FILE);
  /* The keyring alone says why it cannot. */
  a.backend = DHIS2_STORE_KEYRING;
  cr_assert_eq(as_user(&a, NOBODY), 1);
  cr_assert_not_null(strstr(err, "quota"), "%s", err);
}
