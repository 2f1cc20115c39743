/* One logging API for the module (PAM syslog sink) and the helper (stderr). */
#ifndef DHIS2_LOG_H
#define DHIS2_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

/*
 * Where log lines go. With sink NULL, lines go to stderr prefixed with
 * "ident: " (ident NULL means "dhis2"). The module sets sink to a function
 * that calls pam_vsyslog on ctx (its pam_handle_t); lib/ never sees PAM.
 * LOG_DEBUG lines are dropped unless debug is true. A struct dhis2_log is
 * owned by the caller and only read by the library; a NULL pointer to it
 * means "log to stderr, no debug".
 *
 * Never pass a secret as an argument: callers log that a secret was present
 * or its length, never its value.
 */
struct dhis2_log {
  void (*sink)(void *ctx, int prio, const char *fmt, va_list ap);
  void *ctx;
  const char *ident;
  bool debug;
};

/* Logs one line at syslog priority prio. */
void dhis2_log(const struct dhis2_log *lg, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* As dhis2_log() with a va_list. */
void dhis2_vlog(const struct dhis2_log *lg, int prio, const char *fmt,
                va_list ap) __attribute__((format(printf, 3, 0)));

/*
 * s as a log line or a message may show it when it comes from outside: a
 * server's document, a token's claims, a record the user can write. s
 * itself when it is printable ASCII of at most 128 bytes, else
 * "(unprintable)"; "(none)" for NULL. Returns s or a constant, never a
 * copy, so no control character, newline or escape sequence of a sender
 * reaches a log or a terminal.
 */
const char *dhis2_log_untrusted(const char *s);

#define dhis2_debug(lg, ...) dhis2_log((lg), LOG_DEBUG, __VA_ARGS__)

#endif /* DHIS2_LOG_H */
