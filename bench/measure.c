/* Runs one command and says what it cost: wall time, CPU time (user +
 * system) and peak resident memory of the child, from wait4(2).
 *
 *   measure CMD [ARG...]
 *
 * The child's stdout and stderr pass through; then one line on stdout:
 * "measure wall_us=W cpu_us=C maxrss_kb=M status=S" (S the exit status, or
 * 128 + the signal). Exits 0 when the child was run and waited for.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long long tv_us(struct timeval tv)
{
  return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

int main(int argc, char **argv)
{
  struct rusage ru;
  long long t0;
  long long t1;
  pid_t pid;
  int st;
  int status;

  if (argc < 2) {
    fprintf(stderr, "usage: measure CMD [ARG...]\n");
    return 2;
  }
  fflush(stdout);
  t0 = now_us();
  pid = fork();
  if (pid < 0) {
    perror("measure: fork");
    return 1;
  }
  if (pid == 0) {
    execvp(argv[1], argv + 1);
    perror("measure: exec");
    _exit(127);
  }
  if (wait4(pid, &st, 0, &ru) != pid) {
    perror("measure: wait4");
    return 1;
  }
  t1 = now_us();
  status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  printf("measure wall_us=%lld cpu_us=%lld maxrss_kb=%ld status=%d\n", t1 - t0,
         tv_us(ru.ru_utime) + tv_us(ru.ru_stime), ru.ru_maxrss, status);
  return 0;
}
