/* The libpam tests' own local accounts, through cwrap's nss_wrapper. */
#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "accounts.h"

#define NSS_WRAPPER "libnss_wrapper.so"
#define BLOCK 10          /* uids a run holds */
#define FIRST_BASE 20000u /* blocks lie in [20000, 60000): max_uid */
#define N_BLOCKS 4000u

/* Where the files are, and which process made them (and removes them). */
#define ENV_DIR "DHIS2_TEST_ACCOUNTS"
#define ENV_OWNER "DHIS2_TEST_ACCOUNTS_OWNER"
#define ENV_BASE "DHIS2_TEST_ACCOUNTS_BASE"

struct account {
  const char *name;
  long uid; /* >= 0: fixed; < 0: -1 - offset in the block */
};

static const struct account accounts[] = {
    {"root", 0},      {TA_USER, -1},     {TA_ALIAS, -1}, {TA_KIOSK, -2},
    {TA_SAME, -3},    {TA_BOB, -4},      {TA_JOHN, -5},  {TA_LOW, 999},
    {TA_HIGH, 60001}, {"nobody", 65534},
};

#define N_ACCOUNTS (sizeof(accounts) / sizeof(accounts[0]))

static int case_insensitive;

static void die(const char *what)
{
  fprintf(stderr, "test accounts: %s: %s\n", what, strerror(errno));
  exit(2);
}

static uid_t uid_of(const struct account *a, unsigned base)
{
  return a->uid >= 0 ? (uid_t)a->uid : (uid_t)(base + (unsigned)(-1 - a->uid));
}

/* Holds a uid block for as long as this process and its children live:
   an abstract socket name is unique on the machine (per network
   namespace) and vanishes with its last holder, leaving no file. */
static unsigned reserve_block(void)
{
  unsigned r = 0;

  if (getrandom(&r, sizeof(r), 0) != sizeof(r))
    die("getrandom");
  for (unsigned i = 0; i < N_BLOCKS; i++) {
    unsigned base = FIRST_BASE + ((r + i) % N_BLOCKS) * BLOCK;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0); /* inherited by exec */
    int n;

    if (fd < 0)
      die("socket");
    n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1,
                 "pam_dhis2-test-uids-%u", base);
    if (bind(fd, (struct sockaddr *)&sa,
             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                         (size_t)n)) == 0)
      return base;
    close(fd);
  }
  errno = EBUSY;
  die("no free uid block");
  return 0;
}

static void write_files(const char *dir, unsigned base)
{
  char path[PATH_MAX];
  FILE *pw;
  FILE *gr;

  snprintf(path, sizeof(path), "%s/passwd", dir);
  pw = fopen(path, "w");
  snprintf(path, sizeof(path), "%s/group", dir);
  gr = fopen(path, "w");
  if (pw == NULL || gr == NULL)
    die("writing passwd and group");
  for (size_t i = 0; i < N_ACCOUNTS; i++) {
    const struct account *a = &accounts[i];
    uid_t uid = uid_of(a, base);
    char home[PATH_MAX];

    if (uid == 0) {
      snprintf(home, sizeof(home), "/root");
    } else {
      snprintf(home, sizeof(home), "%s/home/%s", dir, a->name);
      if (mkdir(home, 0700) != 0 || chown(home, uid, uid) != 0)
        die(home);
    }
    fprintf(pw, "%s:x:%u:%u:pam_dhis2 test:%s:/bin/sh\n", a->name,
            (unsigned)uid, (unsigned)uid, home);
    fprintf(gr, "%s:x:%u:\n", uid == 65534 ? "nogroup" : a->name,
            (unsigned)uid);
  }
  if (fclose(pw) != 0 || fclose(gr) != 0)
    die("writing passwd and group");
}

static int rm_entry(const char *path, const struct stat *st, int type,
                    struct FTW *ftw)
{
  (void)st;
  (void)ftw;
  return type == FTW_DP ? rmdir(path) : unlink(path);
}

static void remove_files(void)
{
  const char *dir = getenv(ENV_DIR);
  const char *owner = getenv(ENV_OWNER);

  /* Only the process that made them: not the workers Criterion forks. */
  if (dir != NULL && owner != NULL && atol(owner) == (long)getpid())
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Runs before main: once to set up and re-execute, and again (in the new
   image, or in a worker Criterion starts) to find it done. */
__attribute__((constructor)) static void accounts_init(int argc, char **argv)
{
  char dir[] = "/tmp/pam_dhis2-accounts.XXXXXX";
  char sub[PATH_MAX];
  char exe[PATH_MAX];
  char value[PATH_MAX + 64];
  const char *preload = getenv("LD_PRELOAD");
  unsigned base;
  ssize_t n;

  (void)argc;
  if (getenv(ENV_DIR) != NULL) {
    atexit(remove_files);
    return;
  }
  base = reserve_block();
  if (mkdtemp(dir) == NULL || chmod(dir, 0755) != 0)
    die("mkdtemp");
  snprintf(sub, sizeof(sub), "%s/home", dir);
  if (mkdir(sub, 0755) != 0)
    die(sub);
  write_files(dir, base);
  n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0)
    die("/proc/self/exe");
  exe[n] = '\0';
  snprintf(value, sizeof(value), "%s%s%s", NSS_WRAPPER,
           preload && *preload ? ":" : "", preload ? preload : "");
  setenv("LD_PRELOAD", value, 1);
  snprintf(sub, sizeof(sub), "%s/passwd", dir);
  setenv("NSS_WRAPPER_PASSWD", sub, 1);
  snprintf(sub, sizeof(sub), "%s/group", dir);
  setenv("NSS_WRAPPER_GROUP", sub, 1);
  setenv(ENV_DIR, dir, 1);
  snprintf(value, sizeof(value), "%ld", (long)getpid());
  setenv(ENV_OWNER, value, 1);
  snprintf(value, sizeof(value), "%u", base);
  setenv(ENV_BASE, value, 1);
  execv(exe, argv);
  die("re-executing under nss_wrapper");
}

uid_t ta_uid(const char *name)
{
  const char *b = getenv(ENV_BASE);

  for (size_t i = 0; b != NULL && i < N_ACCOUNTS; i++)
    if (strcmp(accounts[i].name, name) == 0)
      return uid_of(&accounts[i], (unsigned)atol(b));
  fprintf(stderr, "test accounts: no account %s\n", name);
  abort();
}

const char *ta_home(const char *name)
{
  static char home[PATH_MAX];

  if (strcmp(name, "root") == 0)
    return "/root";
  (void)ta_uid(name);
  snprintf(home, sizeof(home), "%s/home/%s", getenv(ENV_DIR), name);
  return home;
}

void ta_case_insensitive_nss(int on)
{
  case_insensitive = on;
}

/* Exported from the test executable (see the Makefile), so it comes
   before nss_wrapper's in every lookup, the module's included. */
__attribute__((visibility("default"))) int getpwnam_r(const char *name,
                                                      struct passwd *pwd,
                                                      char *buf, size_t buflen,
                                                      struct passwd **result);

int getpwnam_r(const char *name, struct passwd *pwd, char *buf, size_t buflen,
               struct passwd **result)
{
  static int (*next)(const char *, struct passwd *, char *, size_t,
                     struct passwd **);
  char folded[256];

  if (next == NULL)
    *(void **)&next = dlsym(RTLD_NEXT, "getpwnam_r");
  if (next == NULL)
    return ENOSYS;
  if (case_insensitive && strlen(name) < sizeof(folded)) {
    size_t i;

    for (i = 0; name[i] != '\0'; i++)
      folded[i] = name[i] >= 'A' && name[i] <= 'Z'
                      ? (char)(name[i] - 'A' + 'a')
                      : name[i];
    folded[i] = '\0';
    name = folded;
  }
  return next(name, pwd, buf, buflen, result);
}
