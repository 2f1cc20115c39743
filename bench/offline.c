/* What one offline sign-in costs: dhis2_cache_check() with the right
 * password (one yescrypt verification, the record read and rewritten
 * with fsync), at each yescrypt cost given.
 *
 *   offline ROUNDS COST...
 *
 * One line a cost on stdout: "offline cost=C rounds=N wall_us=W
 * cpu_us=U", the medians of ROUNDS checks. Exits 0 when every check
 * signed in.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dhis2/cache.h"

#define PW "district-Secret1"
#define NOW ((time_t)1780000000)

static long long us(clockid_t clock)
{
  struct timespec ts;

  clock_gettime(clock, &ts);
  return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp(const void *a, const void *b)
{
  long long x = *(const long long *)a;
  long long y = *(const long long *)b;

  return (x > y) - (x < y);
}

static int rm_entry(const char *path, const struct stat *st, int type,
                    struct FTW *ftw)
{
  (void)st;
  (void)ftw;
  return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* Signs in rounds times at cost; false when one did not. */
static bool measure(const char *dir, unsigned cost, int rounds)
{
  static const char me[] = "{\"id\":\"xE7jOejl9FI\",\"username\":\"alice\","
                           "\"authorities\":[\"ALL\"]}";
  struct dhis2_cache c = {.dir = dir,
                          .url = "https://dhis2.example.org",
                          .ttl = 7 * 24 * 3600,
                          .failure_limit = 5,
                          .failure_delay = 300,
                          .cost = cost};
  struct dhis2_identity *id = NULL;
  long long *wall = calloc((size_t)rounds, sizeof(*wall));
  long long *cpu = calloc((size_t)rounds, sizeof(*cpu));
  bool ok = wall != NULL && cpu != NULL &&
            dhis2_identity_parse(me, strlen(me), &id) == DHIS2_OK &&
            dhis2_cache_store(&c, "alice", DHIS2_CACHE_PASSWORD, PW, id, false,
                              NOW, NOW) == DHIS2_OK;

  for (int i = 0; ok && i < rounds; i++) {
    struct dhis2_cache_result r;
    long long w0 = us(CLOCK_MONOTONIC);
    long long c0 = us(CLOCK_PROCESS_CPUTIME_ID);

    ok = dhis2_cache_check(&c, "alice", DHIS2_CACHE_PASSWORD, PW, NOW + i,
                           &r) == DHIS2_CACHE_OK;
    wall[i] = us(CLOCK_MONOTONIC) - w0;
    cpu[i] = us(CLOCK_PROCESS_CPUTIME_ID) - c0;
    dhis2_identity_free(r.id);
  }
  if (ok) {
    qsort(wall, (size_t)rounds, sizeof(*wall), cmp);
    qsort(cpu, (size_t)rounds, sizeof(*cpu), cmp);
    printf("offline cost=%u rounds=%d wall_us=%lld cpu_us=%lld\n", cost,
           rounds, wall[rounds / 2], cpu[rounds / 2]);
  }
  dhis2_identity_free(id);
  free(wall);
  free(cpu);
  return ok;
}

int main(int argc, char **argv)
{
  char dir[] = "/tmp/pam_dhis2-offline.XXXXXX";
  char sub[sizeof(dir) + 16];
  int rounds = argc > 1 ? atoi(argv[1]) : 0;
  bool ok = true;

  if (argc < 3 || rounds < 1) {
    fprintf(stderr, "usage: offline ROUNDS COST...\n");
    return 2;
  }
  if (mkdtemp(dir) == NULL) {
    perror("offline: mkdtemp");
    return 1;
  }
  for (int i = 2; ok && i < argc; i++) {
    snprintf(sub, sizeof(sub), "%s/c%d", dir, i);
    ok = measure(sub, (unsigned)atoi(argv[i]), rounds);
    if (!ok)
      fprintf(stderr, "offline: cost %s: a check failed\n", argv[i]);
  }
  nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
  return ok ? 0 : 1;
}
