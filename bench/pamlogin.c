/* One login through libpam, for the benchmark:
 *
 *   pamlogin CONFDIR SERVICE USER SECRET [acct]
 *
 * runs pam_authenticate for USER with the service file CONFDIR/SERVICE,
 * answering every hidden prompt with SECRET; with "acct", pam_acct_mgmt
 * alone instead (an SSH key login's account phase). Prints one line,
 * "pamlogin auth=N inproc_us=W inproc_cpu_us=C": the PAM result and what
 * pam_start .. pam_end cost inside this process (wall and CPU), the
 * module's loading included. Exits 0 on PAM_SUCCESS, 1 otherwise. What
 * the module logs at LOG_NOTICE or above goes to stderr, so a failed run
 * says why (libpam formats the line and hands it to __syslog_chk, which
 * this definition interposes).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <syslog.h>

#include <security/pam_appl.h>

__attribute__((visibility("default"))) void __syslog_chk(int prio, int flag,
                                                         const char *fmt, ...);

void __syslog_chk(int prio, int flag, const char *fmt, ...)
{
  va_list ap;

  (void)flag;
  if (LOG_PRI(prio) > LOG_NOTICE)
    return;
  fputs("pamlogin log: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

static int converse(int n, const struct pam_message **msg,
                    struct pam_response **resp, void *data)
{
  struct pam_response *r;

  if (n <= 0)
    return PAM_CONV_ERR;
  r = calloc((size_t)n, sizeof(*r));
  if (r == NULL)
    return PAM_BUF_ERR;
  for (int i = 0; i < n; i++)
    if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ||
        msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
      r[i].resp = strdup(
          msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ? (const char *)data : "");
  *resp = r; /* transferred: libpam frees it */
  return PAM_SUCCESS;
}

static long long wall_us(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long long cpu_us(void)
{
  struct rusage ru;

  getrusage(RUSAGE_SELF, &ru);
  return (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
         ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

int main(int argc, char **argv)
{
  struct pam_conv conv = {.conv = converse};
  pam_handle_t *h = NULL;
  long long w0;
  long long c0;
  int rc;

  if (argc != 5 && !(argc == 6 && strcmp(argv[5], "acct") == 0)) {
    fprintf(stderr, "usage: pamlogin CONFDIR SERVICE USER SECRET [acct]\n");
    return 2;
  }
  conv.appdata_ptr = argv[4];
  w0 = wall_us();
  c0 = cpu_us();
  rc = pam_start_confdir(argv[2], argv[3], &conv, argv[1], &h);
  if (rc == PAM_SUCCESS) {
    rc = argc == 6 ? pam_acct_mgmt(h, 0) : pam_authenticate(h, 0);
    pam_end(h, rc);
  }
  printf("pamlogin auth=%d inproc_us=%lld inproc_cpu_us=%lld\n", rc,
         wall_us() - w0, cpu_us() - c0);
  return rc == PAM_SUCCESS ? 0 : 1;
}
