/* OAuth2 building blocks: PKCE, state, URL coding, the loopback receiver,
   pasted redirects, and discovery's preflight messages. */
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "dhis2/oauth2.h"
#include "dhis2/secret.h"
#include "emulator.h"
#include "oauth2_internal.h"
#include "testutil.h"

/* --- PKCE and randomness ------------------------------------------------ */

/* The expected value was computed independently with Python:
   base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()), '=' cut. */
Test(pkce, s256_is_base64url_of_sha256_without_padding)
{
  char c[44];

  cr_assert_eq(dhis2_oauth2_pkce_challenge(
                   "dBjftJeZ4CVP-mJ0O9Rkj4qKiX0X0yQWsLv0oTzxhPk", c),
               DHIS2_OK);
  cr_assert_str_eq(c, "PGS2jaB7tKS7lyDAUx59PHuW55bhnAM0DM9Dk5e-PCY");
}

Test(pkce, random_strings_use_the_verifier_alphabet_and_differ)
{
  char a[65], b[65];

  cr_assert_eq(dhis2_oauth2_random(a, sizeof(a)), DHIS2_OK);
  cr_assert_eq(dhis2_oauth2_random(b, sizeof(b)), DHIS2_OK);
  cr_assert_eq(strlen(a), 64);
  cr_assert_eq(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwx"
                         "yz0123456789-._~"),
               64);
  cr_assert_str_neq(a, b);
}

Test(issuer, names_the_url_with_one_trailing_slash_ignored)
{
  /* 2.42.4: server.base.url as is; 2.42.5+: with "/" appended. */
  cr_expect(dhis2_oauth2_issuer_is_url("https://h/dhis", "https://h/dhis"));
  cr_expect(dhis2_oauth2_issuer_is_url("https://h/dhis/", "https://h/dhis"));
  cr_expect(dhis2_oauth2_issuer_is_url("https://h/dhis", "https://h/dhis/"));
  cr_expect(dhis2_oauth2_issuer_is_url("https://h/", "https://h"));
  cr_expect_not(
      dhis2_oauth2_issuer_is_url("https://h/dhis//", "https://h/dhis"));
  cr_expect_not(
      dhis2_oauth2_issuer_is_url("https://h/dhis", "https://h/dhis2"));
  cr_expect_not(dhis2_oauth2_issuer_is_url("http://h/dhis", "https://h/dhis"));
  cr_expect_not(dhis2_oauth2_issuer_is_url("/", "/"));
  cr_expect_not(dhis2_oauth2_issuer_is_url(NULL, "https://h"));
}

Test(scope, default_follows_the_release_and_never_asks_for_email)
{
  cr_expect_str_eq(dhis2_oauth2_dhis2_scope_for("2.42.0"), "ALL openid");
  cr_expect_str_eq(dhis2_oauth2_dhis2_scope_for("2.42.4"), "ALL openid");
  cr_expect_str_eq(dhis2_oauth2_dhis2_scope_for("2.42.4.1"), "ALL openid");
  cr_expect_str_eq(dhis2_oauth2_dhis2_scope_for("2.42.5"), "openid username");
  cr_expect_str_eq(dhis2_oauth2_dhis2_scope_for("2.42.10"), "openid username");
  cr_expect_str_eq(dhis2_oauth2_dhis2_scope_for("2.43.0"), "openid username");
  cr_expect_str_eq(dhis2_oauth2_dhis2_scope_for("2.44-SNAPSHOT"),
                   "openid username");
  /* Unknown: taken as newer. */
  cr_expect_str_eq(dhis2_oauth2_dhis2_scope_for(NULL), "openid username");
  cr_expect_str_eq(dhis2_oauth2_dhis2_scope_for("x"), "openid username");
}

Test(state, comparison_is_exact)
{
  cr_assert(dhis2_oauth2_equal_ct("abc", "abc"));
  cr_assert_not(dhis2_oauth2_equal_ct("abc", "abd"));
  cr_assert_not(dhis2_oauth2_equal_ct("abc", "abcd"));
  cr_assert_not(dhis2_oauth2_equal_ct("", "a"));
  cr_assert(dhis2_oauth2_equal_ct("", ""));
}

/* --- URL coding ------------------------------------------------------------
 */

Test(urlcode, encodes_all_but_unreserved)
{
  char *e = dhis2_oauth2_urlencode("a b&c=d/é~._-");

  cr_assert_str_eq(e, "a%20b%26c%3Dd%2F%C3%A9~._-");
  free(e);
}

Test(urlcode, query_values_are_found_and_decoded)
{
  const char *q = "code=ab%2Fc&state=x+y&empty=&error=access_denied";
  char *v;

  v = dhis2_oauth2_query_get(q, "code");
  cr_assert_str_eq(v, "ab/c");
  free(v);
  v = dhis2_oauth2_query_get(q, "state");
  cr_assert_str_eq(v, "x y");
  free(v);
  v = dhis2_oauth2_query_get(q, "empty");
  cr_assert_str_eq(v, "");
  free(v);
  cr_assert_null(dhis2_oauth2_query_get(q, "cod"));
  cr_assert_null(dhis2_oauth2_query_get("code=%zz", "code"));
  cr_assert_null(dhis2_oauth2_query_get("code=%00", "code"));
  cr_assert_null(dhis2_oauth2_query_get("code=%4", "code"));
}

/* --- pasted redirects (--paste) ------------------------------------------ */

Test(paste, code_comes_out_when_state_matches)
{
  char why[256];
  char *code = NULL;

  cr_assert_eq(dhis2_oauth2_parse_redirect(
                   "http://127.0.0.1:8765/callback?code=c0de&state=S1", "S1",
                   &code, why, sizeof(why)),
               DHIS2_OK);
  cr_assert_str_eq(code, "c0de");
  dhis2_secret_free(code);
}

Test(paste, wrong_or_missing_state_is_refused)
{
  char why[256];
  char *code = NULL;

  cr_assert_eq(dhis2_oauth2_parse_redirect(
                   "http://127.0.0.1:8765/callback?code=c&state=S2", "S1",
                   &code, why, sizeof(why)),
               DHIS2_ERR_REJECTED);
  cr_assert_null(code);
  cr_assert_not_null(strstr(why, "state"));
  cr_assert_eq(
      dhis2_oauth2_parse_redirect("http://127.0.0.1:8765/callback?code=c",
                                  "S1", &code, why, sizeof(why)),
      DHIS2_ERR_REJECTED);
}

Test(paste, error_redirect_is_reported_as_such)
{
  char why[256];
  char *code = NULL;

  cr_assert_eq(dhis2_oauth2_parse_redirect(
                   "http://127.0.0.1:8765/callback?error=access_denied&"
                   "error_description=End-User+denied&state=S1",
                   "S1", &code, why, sizeof(why)),
               DHIS2_ERR_REJECTED);
  cr_assert_not_null(strstr(why, "access_denied: End-User denied"), "%s", why);
}

Test(paste, text_that_is_not_a_redirect_is_malformed)
{
  char why[256];
  char *code = NULL;

  cr_assert_eq(
      dhis2_oauth2_parse_redirect("c0de", "S1", &code, why, sizeof(why)),
      DHIS2_ERR_MALFORMED);
}

/* --- the loopback receiver ---------------------------------------------- */

static int connect_to(unsigned port)
{
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_port = htons((unsigned short)port)};
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  return fd;
}

/* Sends each of raws (NULL ends) to 127.0.0.1:port in turn from a child,
   each on its own connection read to its end; returns the child's pid.
   What the receiver answered goes to reply_fd (-1: nowhere). A raw
   that the receiver cuts short (too large) is no error of the child's.
   Every connection is read to its end: the receiver answers in its own
   time and may be seen in more than one read. */
static pid_t send_requests(unsigned port, const char *const *raws,
                           int reply_fd)
{
  pid_t pid = fork();

  cr_assert_neq(pid, -1);
  if (pid != 0)
    return pid;
  alarm(10); /* never outlive a failed test, holding its pipe */
  for (size_t i = 0; raws[i] != NULL; i++) {
    char buf[4096];
    ssize_t n;
    int fd = connect_to(port);

    if (fd < 0)
      _exit(2);
    if (send(fd, raws[i], strlen(raws[i]), MSG_NOSIGNAL) < 0 &&
        raws[i + 1] == NULL)
      _exit(3);
    while ((n = read(fd, buf, sizeof(buf))) > 0)
      if (reply_fd >= 0 && write(reply_fd, buf, (size_t)n) < 0)
        _exit(4);
    close(fd);
  }
  _exit(0);
}

static pid_t send_request(unsigned port, const char *raw, int reply_fd)
{
  const char *raws[] = {raw, NULL};

  return send_requests(port, raws, reply_fd);
}

/* Everything fd gives until its end: the reply may come in many reads. */
static void read_all(int fd, char *buf, size_t size)
{
  size_t got = 0;
  ssize_t n;

  while (got < size - 1 && (n = read(fd, buf + got, size - 1 - got)) > 0)
    got += (size_t)n;
  buf[got] = '\0';
}

static struct dhis2_loopback *open_any(unsigned *port)
{
  struct dhis2_loopback *lb = NULL;

  cr_assert_eq(dhis2_loopback_open(0, port, &lb), DHIS2_OK);
  cr_assert_gt(*port, 0);
  return lb;
}

/* Runs strays then the real redirect (state S1) against a receiver;
   returns what the clients were answered, in order. */
static void strays_then_redirect(const char *const *strays, char *replies,
                                 size_t size)
{
  unsigned port;
  struct dhis2_loopback *lb = open_any(&port);
  const char *raws[16];
  char why[256];
  char *code = NULL;
  size_t n = 0;
  int p[2];
  pid_t pid;

  while (strays[n] != NULL && n < 14) {
    raws[n] = strays[n];
    n++;
  }
  raws[n++] = "GET /callback?code=the-code&state=S1 HTTP/1.1\r\n\r\n";
  raws[n] = NULL;
  cr_assert_eq(pipe(p), 0);
  pid = send_requests(port, raws, p[1]);
  close(p[1]);
  cr_assert_eq(dhis2_loopback_wait(lb, "S1", 5, &code, why, sizeof(why)),
               DHIS2_OK, "%s", why);
  cr_assert_str_eq(code, "the-code");
  read_all(p[0], replies, size);
  waitpid(pid, NULL, 0);
  close(p[0]);
  dhis2_secret_free(code);
  dhis2_loopback_free(lb);
}

Test(loopback, one_redirect_gives_the_code_and_a_page_for_the_user)
{
  unsigned port;
  struct dhis2_loopback *lb = open_any(&port);
  char why[256];
  char page[4096];
  char *code = NULL;
  int p[2];
  pid_t pid;

  cr_assert_eq(pipe(p), 0);
  pid = send_request(port,
                     "GET /callback?code=the-code&state=S1 HTTP/1.1\r\n"
                     "Host: 127.0.0.1\r\n\r\n",
                     p[1]);
  close(p[1]);
  cr_assert_eq(dhis2_loopback_wait(lb, "S1", 5, &code, why, sizeof(why)),
               DHIS2_OK, "%s", why);
  cr_assert_str_eq(code, "the-code");
  read_all(p[0], page, sizeof(page));
  cr_assert_not_null(strstr(page, "200 OK"), "%s", page);
  cr_assert_not_null(strstr(page, "return to the terminal"), "%s", page);
  waitpid(pid, NULL, 0);
  close(p[0]);
  dhis2_secret_free(code);
  dhis2_loopback_free(lb);
}

Test(loopback, a_second_request_is_refused)
{
  unsigned port;
  struct dhis2_loopback *lb = open_any(&port);
  char why[256];
  char *code = NULL;
  pid_t pid;
  int status;

  pid =
      send_request(port, "GET /callback?code=c&state=S1 HTTP/1.1\r\n\r\n", -1);
  cr_assert_eq(dhis2_loopback_wait(lb, "S1", 5, &code, why, sizeof(why)),
               DHIS2_OK);
  waitpid(pid, NULL, 0);
  /* The port is closed now: a second connection cannot even connect. */
  pid =
      send_request(port, "GET /callback?code=d&state=S1 HTTP/1.1\r\n\r\n", -1);
  waitpid(pid, &status, 0);
  cr_assert_eq(WEXITSTATUS(status), 2, "a second request was accepted");
  dhis2_secret_free(code);
  dhis2_loopback_free(lb);
}

/* A stale tab, another program or a web page's request to the port is
   answered and closed; the real redirect still comes through. */
Test(loopback, wrong_or_missing_state_is_answered_and_the_wait_goes_on)
{
  const char *strays[] = {"GET /callback?code=c&state=FORGED HTTP/1.1\r\n\r\n",
                          "GET /callback?code=c HTTP/1.1\r\n\r\n",
                          "GET /callback?code=c&state=S1x HTTP/1.1\r\n\r\n",
                          NULL};
  char replies[16384];

  strays_then_redirect(strays, replies, sizeof(replies));
  cr_assert_not_null(strstr(replies, "400 Bad Request"), "%s", replies);
  cr_assert_not_null(strstr(replies, "200 OK"), "%s", replies);
}

Test(loopback, other_paths_and_junk_are_answered_and_the_wait_goes_on)
{
  const char *strays[] = {"GET /favicon.ico HTTP/1.1\r\n\r\n",
                          "GET /x HTTP/1.1\r\n\r\n",
                          "POST /callback?state=S1&code=c HTTP/1.1\r\n\r\n",
                          "\x16\x03\x01\x02\x01\x01\xfc\r\n\r\n",
                          "\r\n\r\n",
                          NULL};
  char replies[16384];

  strays_then_redirect(strays, replies, sizeof(replies));
  cr_assert_not_null(strstr(replies, "404 Not Found"), "%s", replies);
  cr_assert_not_null(strstr(replies, "400 Bad Request"), "%s", replies);
  cr_assert_not_null(strstr(replies, "200 OK"), "%s", replies);
}

Test(loopback, oversized_request_is_answered_and_the_wait_goes_on)
{
  char *big = malloc(20000);
  const char *strays[] = {big, NULL};
  char replies[16384];

  memcpy(big, "GET /callback?code=", 19);
  memset(big + 19, 'a', 19980);
  big[19999] = '\0';
  strays_then_redirect(strays, replies, sizeof(replies));
  cr_assert_not_null(strstr(replies, "200 OK"), "%s", replies);
  free(big);
}

/* A connection that sends nothing (or half a request) does not hold the
   port: the browser's redirect on another connection is served at once. */
Test(loopback, a_silent_connection_does_not_block_the_redirect)
{
  unsigned port;
  struct dhis2_loopback *lb = open_any(&port);
  char why[256];
  char *code = NULL;
  int silent = connect_to(port);
  int half = connect_to(port);
  double t0;
  pid_t pid;

  cr_assert_geq(silent, 0);
  cr_assert_geq(half, 0);
  cr_assert_gt(write(half, "GET /callback?co", 16), 0);
  pid = send_request(
      port, "GET /callback?code=the-code&state=S1 HTTP/1.1\r\n\r\n", -1);
  t0 = tu_now();
  cr_assert_eq(dhis2_loopback_wait(lb, "S1", 10, &code, why, sizeof(why)),
               DHIS2_OK, "%s", why);
  cr_assert_lt(tu_now() - t0, 5.0); /* not the 10 s of a stalled client */
  cr_assert_str_eq(code, "the-code");
  waitpid(pid, NULL, 0);
  close(silent);
  close(half);
  dhis2_secret_free(code);
  dhis2_loopback_free(lb);
}

/* More silent connections than the receiver serves at once: the oldest
   make room, so they cannot crowd the browser out. */
Test(loopback, many_silent_connections_cannot_crowd_out_the_redirect)
{
  unsigned port;
  struct dhis2_loopback *lb = open_any(&port);
  char why[256];
  char *code = NULL;
  pid_t pid = fork();

  cr_assert_neq(pid, -1);
  if (pid == 0) {
    const char *raws[] = {
        "GET /callback?code=the-code&state=S1 HTTP/1.1\r\n\r\n", NULL};

    alarm(30);
    for (int i = 0; i < 24; i++)
      if (connect_to(port) < 0) /* held open until the child exits */
        _exit(2);
    pid = send_requests(port, raws, -1);
    waitpid(pid, NULL, 0);
    _exit(0);
  }
  /* No time bound but the wait's: a full accept queue makes the kernel
     drop SYNs, and the clients' retries take their time under load. */
  cr_assert_eq(dhis2_loopback_wait(lb, "S1", 30, &code, why, sizeof(why)),
               DHIS2_OK, "%s", why);
  cr_assert_str_eq(code, "the-code");
  waitpid(pid, NULL, 0);
  dhis2_secret_free(code);
  dhis2_loopback_free(lb);
}

/* A stalled connection cannot keep the receiver past its timeout. */
Test(loopback, a_stalled_connection_ends_with_the_timeout)
{
  unsigned port;
  struct dhis2_loopback *lb = open_any(&port);
  char why[256];
  char *code = NULL;
  int half = connect_to(port);
  double t0 = tu_now();

  cr_assert_geq(half, 0);
  cr_assert_gt(write(half, "GET /callback?co", 16), 0);
  cr_assert_eq(dhis2_loopback_wait(lb, "S1", 1, &code, why, sizeof(why)),
               DHIS2_ERR_TIMEOUT);
  cr_assert_lt(tu_now() - t0, 2.0);
  cr_assert_null(code);
  close(half);
  dhis2_loopback_free(lb);
}

/* Only strays until the timeout: a timeout that says they were refused. */
Test(loopback, strays_alone_end_in_a_timeout_that_says_so)
{
  unsigned port;
  struct dhis2_loopback *lb = open_any(&port);
  char why[256];
  char *code = NULL;
  pid_t pid;

  pid = send_request(port,
                     "GET /callback?code=c&state=FORGED HTTP/1.1\r\n\r\n", -1);
  cr_assert_eq(dhis2_loopback_wait(lb, "S1", 1, &code, why, sizeof(why)),
               DHIS2_ERR_TIMEOUT);
  cr_assert_null(code);
  cr_assert_not_null(strstr(why, "1 other request"), "%s", why);
  waitpid(pid, NULL, 0);
  dhis2_loopback_free(lb);
}

/* The user denied consent: the redirect carries our state and error=. */
Test(loopback, error_redirect_is_reported)
{
  unsigned port;
  struct dhis2_loopback *lb = open_any(&port);
  char why[256];
  char *code = NULL;
  pid_t pid;

  pid = send_request(
      port, "GET /callback?error=access_denied&state=S1 HTTP/1.1\r\n\r\n", -1);
  cr_assert_eq(dhis2_loopback_wait(lb, "S1", 5, &code, why, sizeof(why)),
               DHIS2_ERR_REJECTED);
  cr_assert_not_null(strstr(why, "access_denied"));
  waitpid(pid, NULL, 0);
  dhis2_loopback_free(lb);
}

Test(loopback, nobody_coming_back_is_a_timeout)
{
  unsigned port;
  struct dhis2_loopback *lb = open_any(&port);
  char why[256];
  char *code = NULL;
  double t0 = tu_now();

  cr_assert_eq(dhis2_loopback_wait(lb, "S1", 1, &code, why, sizeof(why)),
               DHIS2_ERR_TIMEOUT);
  cr_assert_lt(tu_now() - t0, 2.0);
  dhis2_loopback_free(lb);
}

Test(loopback, a_taken_port_is_an_io_error)
{
  unsigned port, again;
  struct dhis2_loopback *lb = open_any(&port);
  struct dhis2_loopback *second = NULL;

  cr_assert_eq(dhis2_loopback_open(port, &again, &second), DHIS2_ERR_IO);
  cr_assert_null(second);
  dhis2_loopback_free(lb);
}

/* --- preflight -------------------------------------------------------- */

Test(preflight, uaa_has_fixed_endpoints_and_needs_no_request)
{
  struct dhis2_config cfg = {.url = "https://h/dhis",
                             .oauth2 = DHIS2_OAUTH2_UAA};
  struct dhis2_oauth2_endpoints ep;
  char why[256];

  cr_assert_eq(dhis2_oauth2_discover(NULL, &cfg, &ep, why, sizeof(why)),
               DHIS2_OK);
  cr_assert_str_eq(ep.authorization, "https://h/dhis/uaa/oauth/authorize");
  cr_assert_str_eq(ep.token, "https://h/dhis/uaa/oauth/token");
  dhis2_oauth2_endpoints_clear(&ep);
}

Test(preflight, oidc_without_issuer_says_so)
{
  struct dhis2_config cfg = {.url = "https://h/dhis",
                             .oauth2 = DHIS2_OAUTH2_OIDC};
  struct dhis2_oauth2_endpoints ep;
  char why[256];

  cr_assert_eq(dhis2_oauth2_discover(NULL, &cfg, &ep, why, sizeof(why)),
               DHIS2_ERR_CONFIG);
  cr_assert_not_null(strstr(why, "issuer"));
}

/* --- the authorization URL ---------------------------------------------- */

Test(authorize, url_carries_pkce_state_nonce_and_encoded_redirect)
{
  struct dhis2_oauth2_endpoints ep = {.authorization =
                                          "https://h/dhis/oauth2/authorize"};
  struct dhis2_config cfg = {.client_id = "dhis2-auth", .scope = "ALL"};
  char challenge[44];
  char *url;
  char *v;

  url = dhis2_oauth2_authorize_url(&ep, &cfg, "http://127.0.0.1:8765/callback",
                                   "S1", "N1", "verifier-verifier-verifier-1");
  cr_assert_not_null(url);
  cr_assert(strncmp(url, "https://h/dhis/oauth2/authorize?", 32) == 0);
  v = dhis2_oauth2_query_get(strchr(url, '?') + 1, "redirect_uri");
  cr_assert_str_eq(v, "http://127.0.0.1:8765/callback");
  free(v);
  cr_assert_not_null(strstr(url, "redirect_uri=http%3A%2F%2F127.0.0.1"));
  cr_assert_not_null(strstr(url, "response_type=code"));
  cr_assert_not_null(strstr(url, "state=S1"));
  cr_assert_not_null(strstr(url, "nonce=N1"));
  cr_assert_not_null(strstr(url, "code_challenge_method=S256"));
  dhis2_oauth2_pkce_challenge("verifier-verifier-verifier-1", challenge);
  v = dhis2_oauth2_query_get(strchr(url, '?') + 1, "code_challenge");
  cr_assert_str_eq(v, challenge);
  free(v);
  cr_assert_null(strstr(url, "verifier-verifier"), "the verifier leaked");
  free(url);
}

/* Where a browser may be sent: what discovery and dhis2-auth check
   before xdg-open. Nothing that starts otherwise than with the scheme:
   xdg-open would read a leading '-' as an option. */
Test(authorize, only_https_or_loopback_http_goes_to_the_browser)
{
  struct dhis2_config strict = {0};
  struct dhis2_config lax = {.allow_http = true};

  cr_assert(dhis2_oauth2_browser_url_ok(&strict, "https://h/dhis/a?x=1"));
  cr_assert(dhis2_oauth2_browser_url_ok(&strict, "HTTPS://h/a"));
  cr_assert(dhis2_oauth2_browser_url_ok(&lax, "http://127.0.0.1:8080/a"));
  cr_assert_not(dhis2_oauth2_browser_url_ok(&strict, "http://127.0.0.1/a"));
  cr_assert_not(dhis2_oauth2_browser_url_ok(&lax, "http://h/a"));
  cr_assert_not(dhis2_oauth2_browser_url_ok(&lax, "--manual"));
  cr_assert_not(dhis2_oauth2_browser_url_ok(&lax, "-https://h/a"));
  cr_assert_not(dhis2_oauth2_browser_url_ok(&lax, " https://h/a"));
  cr_assert_not(dhis2_oauth2_browser_url_ok(&lax, "file:///etc/passwd"));
  cr_assert_not(dhis2_oauth2_browser_url_ok(&lax, "javascript:alert(1)"));
  cr_assert_not(dhis2_oauth2_browser_url_ok(&lax, "https://u:p@h/a"));
  cr_assert_not(dhis2_oauth2_browser_url_ok(&lax, NULL));
}

Test(authorize, no_client_id_gives_no_url)
{
  struct dhis2_oauth2_endpoints ep = {.authorization = "https://h/a"};
  struct dhis2_config cfg = {.scope = "ALL"};

  cr_assert_null(
      dhis2_oauth2_authorize_url(&ep, &cfg, "http://x/cb", "S", NULL, "v"));
}

/* --- token replies and how long to keep them ---------------------------- */

static enum dhis2_err parse(const char *json, struct dhis2_tokens *t)
{
  char why[256];

  return dhis2_oauth2_parse_tokens(json, strlen(json), t, why, sizeof(why));
}

Test(tokens, keycloak_reply_gives_the_refresh_token_life)
{
  struct dhis2_tokens t;

  cr_assert_eq(parse("{\"access_token\":\"A\",\"expires_in\":300,"
                     "\"refresh_expires_in\":1800,\"refresh_token\":\"R\","
                     "\"token_type\":\"Bearer\",\"id_token\":\"I\","
                     "\"not-before-policy\":0,\"scope\":\"openid email\"}",
                     &t),
               DHIS2_OK);
  cr_assert_str_eq(t.access_token, "A");
  cr_assert_str_eq(t.refresh_token, "R");
  cr_assert_str_eq(t.id_token, "I");
  cr_assert_str_eq(t.scope, "openid email");
  cr_assert_eq(t.expires_in, 300);
  cr_assert_eq(t.refresh_expires_in, 1800);
  dhis2_tokens_clear(&t);
}

Test(tokens, spring_reply_has_no_refresh_token_life)
{
  struct dhis2_tokens t;

  cr_assert_eq(parse("{\"access_token\":\"A\",\"refresh_token\":\"R\","
                     "\"token_type\":\"Bearer\",\"expires_in\":299}",
                     &t),
               DHIS2_OK);
  cr_assert_eq(t.expires_in, 299);
  cr_assert_eq(t.refresh_expires_in, 0);
  dhis2_tokens_clear(&t);
}

Test(tokens, numeric_strings_count_and_negative_lives_read_as_zero)
{
  struct dhis2_tokens t;

  cr_assert_eq(parse("{\"access_token\":\"A\",\"expires_in\":\"60\","
                     "\"refresh_expires_in\":-5}",
                     &t),
               DHIS2_OK);
  cr_assert_eq(t.expires_in, 60);
  cr_assert_eq(t.refresh_expires_in, 0);
  dhis2_tokens_clear(&t);
}

Test(tokens, a_reply_without_access_token_or_not_json_is_malformed)
{
  struct dhis2_tokens t;

  cr_assert_eq(parse("{\"refresh_token\":\"R\",\"refresh_expires_in\":9}", &t),
               DHIS2_ERR_MALFORMED);
  cr_assert_null(t.refresh_token);
  cr_assert_eq(t.refresh_expires_in, 0);
  cr_assert_eq(parse("access_token=A", &t), DHIS2_ERR_MALFORMED);
  cr_assert_eq(parse("[{\"access_token\":\"A\"}]", &t), DHIS2_ERR_MALFORMED);
}

/*
 * json-c's copies of the tokens. While watch is set, every block freed
 * (or moved by realloc, which here always moves) is searched for it: a
 * token that json-c copied and freed unwiped is found there. glibc's
 * __libc_* entry points do the real work; not under a sanitizer, which
 * owns malloc itself. Exported: -fvisibility=hidden would keep json-c
 * calling libc's own.
 */
#ifndef __SANITIZE_ADDRESS__
#define WATCH_FREES 1
void __libc_free(void *p);
void *__libc_malloc(size_t n);
void *__libc_realloc(void *p, size_t n);

static const char *watch;
static int watch_hits;

static void watch_block(void *p)
{
  if (watch != NULL && p != NULL &&
      memmem(p, malloc_usable_size(p), watch, strlen(watch)) != NULL)
    watch_hits++;
}

__attribute__((visibility("default"))) void free(void *p)
{
  watch_block(p);
  __libc_free(p);
}

__attribute__((visibility("default"))) void *realloc(void *p, size_t n)
{
  size_t old;
  void *q;

  if (watch == NULL || p == NULL || n == 0) {
    if (n == 0)
      watch_block(p);
    return __libc_realloc(p, n);
  }
  q = __libc_malloc(n);
  if (q == NULL)
    return NULL;
  old = malloc_usable_size(p);
  memcpy(q, p, old < n ? old : n);
  free(p);
  return q;
}
#endif

/* The last string parsed (id_token) is also left in json-c's tokener
   buffer: both copies are searched. */
Test(tokens, json_c_copies_of_the_tokens_are_wiped)
{
  static const char reply[] =
      "{\"access_token\":\"AT-4f1d-json-c-copy\",\"token_type\":\"Bearer\","
      "\"scope\":\"ALL openid\",\"refresh_token\":\"RT-9a2b-json-c-copy\","
      "\"expires_in\":300,\"id_token\":\"ID-77c0-json-c-copy\"}";
  struct dhis2_tokens t;
  char why[256];

#ifndef WATCH_FREES
  (void)reply;
  (void)t;
  (void)why;
  cr_skip_test("a sanitizer owns malloc");
#else
  watch = "-json-c-copy";
  cr_assert_eq(
      dhis2_oauth2_parse_tokens(reply, strlen(reply), &t, why, sizeof(why)),
      DHIS2_OK, "%s", why);
  cr_assert_str_eq(t.refresh_token, "RT-9a2b-json-c-copy");
  dhis2_tokens_clear(&t);
  watch = NULL;
  cr_assert_eq(watch_hits, 0, "%d freed blocks still held a token",
               watch_hits);
#endif
}

Test(keep_for, a_refresh_token_of_known_life_sets_it)
{
  struct dhis2_tokens t = {.expires_in = 300, .refresh_expires_in = 1800};

  cr_assert_eq(dhis2_tokens_keep_for(&t, true), 1800);
}

Test(keep_for, a_refresh_token_of_unknown_life_means_no_limit)
{
  struct dhis2_tokens t = {.expires_in = 300};

  cr_assert_eq(dhis2_tokens_keep_for(&t, true), 0);
}

Test(keep_for, without_a_refresh_token_the_access_token_life_bounds_it)
{
  struct dhis2_tokens t = {.expires_in = 300};
  struct dhis2_tokens unknown = {0};

  cr_assert_eq(dhis2_tokens_keep_for(&t, false), 300);
  cr_assert_eq(dhis2_tokens_keep_for(&unknown, false), 0);
}

/* --- loginConfig, /api refusals, device authorization replies ----------- */

Test(release, loginconfig_gives_the_api_version_as_the_server_wrote_it)
{
  static const char body[] =
      "{\"applicationTitle\":\"DHIS 2\",\"apiVersion\":\"2.42.5\","
      "\"allowAccountRecovery\":false,\"oidcProviders\":[]}";
  static const char snapshot[] = "{\"apiVersion\":\"2.44-SNAPSHOT\"}";
  char *release = NULL;

  cr_assert_eq(dhis2_oauth2_release_parse(body, strlen(body), &release),
               DHIS2_OK);
  cr_assert_str_eq(release, "2.42.5");
  free(release);
  cr_assert_eq(
      dhis2_oauth2_release_parse(snapshot, strlen(snapshot), &release),
      DHIS2_OK);
  cr_assert_str_eq(release, "2.44-SNAPSHOT");
  free(release);
}

Test(release, a_login_page_or_no_api_version_is_unsupported)
{
  const char *bodies[] = {"<!DOCTYPE html><html><title>DHIS 2</title>",
                          "{\"applicationTitle\":\"DHIS 2\"}",
                          "{\"apiVersion\":2.42}",
                          "{\"apiVersion\":null}",
                          "[\"2.42.5\"]",
                          "",
                          NULL};
  char *release = NULL;

  for (const char *const *b = bodies; *b; b++) {
    cr_assert_eq(dhis2_oauth2_release_parse(*b, strlen(*b), &release),
                 DHIS2_ERR_UNSUPPORTED, "%s", *b);
    cr_assert_null(release);
  }
}

Test(refusal, the_webmessage_says_why_api_refused_the_token)
{
  static const char body[] =
      "{\"httpStatus\":\"Unauthorized\",\"httpStatusCode\":401,"
      "\"status\":\"ERROR\",\"message\":\"Found no matching DHIS2 user for "
      "the mapping claim: 'email' with the value: 'a@b.c'\"}";
  char *msg = NULL;

  cr_assert_eq(dhis2_oauth2_refusal_parse(body, strlen(body), &msg), DHIS2_OK);
  cr_assert_str_eq(msg, "Found no matching DHIS2 user for the mapping "
                        "claim: 'email' with the value: 'a@b.c'");
  free(msg);
}

Test(refusal, a_body_without_a_message_is_unsupported)
{
  const char *bodies[] = {
      "{\"httpStatus\":\"Unauthorized\",\"httpStatusCode\":401}",
      "{\"message\":42}", "<html><body>401</body></html>", "", NULL};
  char *msg = NULL;

  for (const char *const *b = bodies; *b; b++) {
    cr_assert_eq(dhis2_oauth2_refusal_parse(*b, strlen(*b), &msg),
                 DHIS2_ERR_UNSUPPORTED, "%s", *b);
    cr_assert_null(msg);
  }
}

static enum dhis2_err device(const char *json, struct dhis2_device *d)
{
  char why[256];

  return dhis2_oauth2_device_parse(json, strlen(json), d, why, sizeof(why));
}

Test(device, keycloak_reply_gives_the_codes_and_where_to_go)
{
  struct dhis2_device d;

  cr_assert_eq(
      device("{\"device_code\":\"DC\",\"user_code\":\"BCDF-GHJK\","
             "\"verification_uri\":\"https://idp/realms/dhis2/device\","
             "\"verification_uri_complete\":\"https://idp/realms/dhis2/"
             "device?user_code=BCDF-GHJK\",\"expires_in\":600,"
             "\"interval\":5}",
             &d),
      DHIS2_OK);
  cr_assert_str_eq(d.device_code, "DC");
  cr_assert_str_eq(d.user_code, "BCDF-GHJK");
  cr_assert_str_eq(d.verification_uri, "https://idp/realms/dhis2/device");
  cr_assert_not_null(d.verification_uri_complete);
  cr_assert_eq(d.expires_in, 600);
  cr_assert_eq(d.interval, 5);
  dhis2_device_clear(&d);
}

Test(device, no_interval_or_a_nonpositive_one_means_five_seconds)
{
  struct dhis2_device d;

  cr_assert_eq(device("{\"device_code\":\"DC\",\"user_code\":\"U\","
                      "\"verification_uri\":\"https://i/d\","
                      "\"expires_in\":\"300\"}",
                      &d),
               DHIS2_OK);
  cr_assert_eq(d.interval, 5);
  cr_assert_eq(d.expires_in, 300, "a numeric string counts");
  cr_assert_null(d.verification_uri_complete);
  dhis2_device_clear(&d);
  cr_assert_eq(device("{\"device_code\":\"DC\",\"user_code\":\"U\","
                      "\"verification_uri\":\"https://i/d\","
                      "\"expires_in\":300,\"interval\":-1}",
                      &d),
               DHIS2_OK);
  cr_assert_eq(d.interval, 5);
  dhis2_device_clear(&d);
}

Test(device, an_incomplete_or_non_json_reply_is_malformed)
{
  const char *bodies[] = {
      "{\"user_code\":\"U\",\"verification_uri\":\"https://i/d\","
      "\"expires_in\":600}",
      "{\"device_code\":\"DC\",\"verification_uri\":\"https://i/d\","
      "\"expires_in\":600}",
      "{\"device_code\":\"DC\",\"user_code\":\"U\",\"expires_in\":600}",
      "{\"device_code\":\"DC\",\"user_code\":\"U\","
      "\"verification_uri\":\"https://i/d\"}",
      "{\"device_code\":\"DC\",\"user_code\":\"U\","
      "\"verification_uri\":\"https://i/d\",\"expires_in\":0}",
      "device_code=DC&user_code=U",
      "",
      NULL};
  struct dhis2_device d;
  char why[256];

  for (const char *const *b = bodies; *b; b++) {
    cr_assert_eq(
        dhis2_oauth2_device_parse(*b, strlen(*b), &d, why, sizeof(why)),
        DHIS2_ERR_MALFORMED, "%s", *b);
    cr_assert_null(d.device_code);
    cr_assert_neq(why[0], '\0', "a malformed reply is explained");
  }
}

/* The code and the addresses go onto the user's terminal (dhis2-auth) or
   into a PAM prompt that sshd relays to the ssh client: a provider must
   not be able to send escape sequences there, or an address that hides
   another behind spaces. */
Test(device, codes_and_addresses_that_cannot_be_shown_are_malformed)
{
  const char *bodies[] = {
      "{\"device_code\":\"DC\",\"user_code\":\"AB\\u001b[2JCD\","
      "\"verification_uri\":\"https://i/d\",\"expires_in\":600}",
      "{\"device_code\":\"DC\",\"user_code\":\"AB\\nCD\","
      "\"verification_uri\":\"https://i/d\",\"expires_in\":600}",
      "{\"device_code\":\"DC\",\"user_code\":\"U\","
      "\"verification_uri\":\"https://i/d\\u001b]8;;x\\u0007\","
      "\"expires_in\":600}",
      "{\"device_code\":\"DC\",\"user_code\":\"U\","
      "\"verification_uri\":\"https://i/d  https://evil/\","
      "\"expires_in\":600}",
      "{\"device_code\":\"DC\",\"user_code\":\"U\","
      "\"verification_uri\":\"https://i/d\",\"verification_uri_complete\":"
      "\"https://i/d?user_code=U\\r\",\"expires_in\":600}",
      "{\"device_code\":\"DC\",\"user_code\":\"\\u00e9\","
      "\"verification_uri\":\"https://i/d\",\"expires_in\":600}",
      "{\"device_code\":\"DC\",\"user_code\":\"\","
      "\"verification_uri\":\"https://i/d\",\"expires_in\":600}",
      NULL};
  char longcode[200];
  char body[512];
  struct dhis2_device d;
  char why[256];

  for (const char *const *b = bodies; *b; b++) {
    cr_assert_eq(
        dhis2_oauth2_device_parse(*b, strlen(*b), &d, why, sizeof(why)),
        DHIS2_ERR_MALFORMED, "%s", *b);
    cr_assert_null(d.user_code);
    cr_assert(strstr(why, "cannot be shown") != NULL, "%s", why);
  }
  memset(longcode, 'A', sizeof(longcode) - 1);
  longcode[sizeof(longcode) - 1] = '\0';
  snprintf(body, sizeof(body),
           "{\"device_code\":\"DC\",\"user_code\":\"%s\","
           "\"verification_uri\":\"https://i/d\",\"expires_in\":600}",
           longcode);
  cr_assert_eq(device(body, &d), DHIS2_ERR_MALFORMED, "a 199-byte code");
  /* What providers send is still fine: Keycloak's and Entra's codes. */
  cr_assert_eq(device("{\"device_code\":\"DC\",\"user_code\":\"GQVQ3ZKX\","
                      "\"verification_uri\":"
                      "\"https://microsoft.com/devicelogin\","
                      "\"expires_in\":900,\"interval\":5}",
                      &d),
               DHIS2_OK);
  dhis2_device_clear(&d);
}

Test(device, json_c_copies_of_the_device_code_are_wiped)
{
  static const char reply[] =
      "{\"user_code\":\"BCDF-GHJK\",\"verification_uri\":\"https://i/d\","
      "\"expires_in\":600,\"device_code\":\"DC-3e8f-json-c-copy\"}";
  struct dhis2_device d;

#ifndef WATCH_FREES
  (void)reply;
  (void)d;
  cr_skip_test("a sanitizer owns malloc");
#else
  watch = "-json-c-copy";
  cr_assert_eq(device(reply, &d), DHIS2_OK);
  cr_assert_str_eq(d.device_code, "DC-3e8f-json-c-copy");
  dhis2_device_clear(&d);
  watch = NULL;
  cr_assert_eq(watch_hits, 0, "%d freed blocks still held the device code",
               watch_hits);
#endif
}
