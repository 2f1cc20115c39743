/* Logging to a caller's sink (pam_syslog in the module) or to stderr. */
#include <stdio.h>

#include "dhis2/log.h"

void dhis2_vlog(const struct dhis2_log *lg, int prio, const char *fmt,
                va_list ap)
{
  if (prio == LOG_DEBUG && (lg == NULL || !lg->debug))
    return;
  if (lg != NULL && lg->sink != NULL) {
    lg->sink(lg->ctx, prio, fmt, ap);
    return;
  }
  /* One fprintf per part; stderr is unbuffered, so build the line first
     to keep concurrent writers from interleaving mid-line. */
  char line[1024];
  int n =
      snprintf(line, sizeof(line),
               "%s: ", lg != NULL && lg->ident != NULL ? lg->ident : "dhis2");
  if (n < 0 || (size_t)n >= sizeof(line))
    n = 0;
  vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
  fprintf(stderr, "%s\n", line);
}

void dhis2_log(const struct dhis2_log *lg, int prio, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  dhis2_vlog(lg, prio, fmt, ap);
  va_end(ap);
}

const char *dhis2_log_untrusted(const char *s)
{
  size_t n = 0;

  if (s == NULL)
    return "(none)";
  for (; s[n] != '\0'; n++)
    if (n >= 128 || s[n] < 0x20 || s[n] > 0x7e)
      return "(unprintable)";
  return s;
}
