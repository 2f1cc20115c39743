/* The libcurl wrapper against the emulator: policy, faults, caps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sched.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include "dhis2/http.h"
#include "emulator.h"
#include "http_internal.h"
#include "testutil.h"

static struct emu *emu;

static void start_tls(void)
{
  emu = emu_start("2.42", true);
}

static void start_plain(void)
{
  emu = emu_start("2.42", false);
}

static void stop(void)
{
  emu_stop(emu);
  emu = NULL;
}

static struct dhis2_http_opts opts_for(long timeout)
{
  struct dhis2_http_opts o = {
      .ca_file = emu_ca_file(emu),
      .connect_timeout = timeout,
      .timeout = timeout,
  };
  return o;
}

/* GET path on the emulator without credentials. */
static enum dhis2_err get(const struct dhis2_http_opts *o, const char *path,
                          struct dhis2_http_resp *resp)
{
  char *url = dhis2_url_join(emu_url(emu), path);
  struct dhis2_http_req req = {.url = url};
  enum dhis2_err rc = dhis2_http_request(o, &req, resp, NULL);

  free(url);
  return rc;
}

/* --- URL building and policy: no server needed -------------------------- */

Test(url_join, context_path_and_trailing_slashes)
{
  const char *bases[] = {"https://h/dhis", "https://h/dhis/",
                         "https://h/dhis///"};

  for (size_t i = 0; i < 3; i++) {
    char *u = dhis2_url_join(bases[i], "/api/me");
    cr_assert_str_eq(u, "https://h/dhis/api/me", "base %s", bases[i]);
    free(u);
  }
}

Test(url_join, root_context)
{
  char *a = dhis2_url_join("https://h", "/api/me");
  char *b = dhis2_url_join("https://h:8443/", "/api/me?fields=id");

  cr_assert_str_eq(a, "https://h/api/me");
  cr_assert_str_eq(b, "https://h:8443/api/me?fields=id");
  free(a);
  free(b);
}

Test(url_join, refuses_bad_input)
{
  cr_assert_null(dhis2_url_join(NULL, "/api/me"));
  cr_assert_null(dhis2_url_join("https://h", NULL));
  cr_assert_null(dhis2_url_join("https://h", "api/me"));
  cr_assert_null(dhis2_url_join("///", "/api/me"));
}

Test(url_policy, https_allowed)
{
  cr_assert_eq(dhis2_http_check_url("https://dhis2.example.org/dhis", false),
               DHIS2_OK);
}

Test(url_policy, http_refused_without_allow_http)
{
  cr_assert_eq(dhis2_http_check_url("http://127.0.0.1:8080", false),
               DHIS2_ERR_INVAL);
}

Test(url_policy, http_to_loopback_with_allow_http)
{
  cr_assert_eq(dhis2_http_check_url("http://127.0.0.1:8080", true), DHIS2_OK);
  cr_assert_eq(dhis2_http_check_url("http://[::1]:8080/dhis", true), DHIS2_OK);
  cr_assert_eq(dhis2_http_check_url("http://localhost/", true), DHIS2_OK);
}

Test(url_policy, http_to_other_hosts_refused_even_with_allow_http)
{
  cr_assert_eq(dhis2_http_check_url("http://10.1.2.3/", true),
               DHIS2_ERR_INVAL);
  cr_assert_eq(dhis2_http_check_url("http://dhis2.example.org/", true),
               DHIS2_ERR_INVAL);
  cr_assert_eq(dhis2_http_check_url("http://localhost.example.org/", true),
               DHIS2_ERR_INVAL);
}

Test(url_policy, credentials_in_url_refused)
{
  cr_assert_eq(dhis2_http_check_url("https://u:p@h/", false), DHIS2_ERR_INVAL);
}

Test(url_policy, other_schemes_and_garbage_refused)
{
  cr_assert_eq(dhis2_http_check_url("ftp://h/", true), DHIS2_ERR_INVAL);
  cr_assert_eq(dhis2_http_check_url("file:///etc/passwd", true),
               DHIS2_ERR_INVAL);
  cr_assert_eq(dhis2_http_check_url("not a url", true), DHIS2_ERR_INVAL);
  cr_assert_eq(dhis2_http_check_url(NULL, true), DHIS2_ERR_INVAL);
}

/* --- Against the emulator over TLS ------------------------------------ */

TestSuite(http, .init = start_tls, .fini = stop, .timeout = 30);

Test(http, sends_the_headers_that_make_dhis2_answer_401_not_302)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;
  char *log = NULL;

  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_OK);
  cr_assert_eq(resp.status, 401, "status %ld", resp.status);
  dhis2_http_resp_clear(&resp);
  emu_ctl(emu, "GET", "/requests", NULL, &log);
  cr_assert_not_null(strstr(log, "\"x-requested-with\":\"XMLHttpRequest\""));
  cr_assert_not_null(strstr(log, "\"accept\":\"application/json\""));
  free(log);
}

Test(http, unknown_ca_is_a_tls_error)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;

  o.ca_file = NULL; /* the system store does not know the test CA */
  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_ERR_TLS);
  dhis2_http_resp_clear(&resp);
  cr_assert_eq(emu_count(emu, NULL), 0);
}

/* A file of the test PKI: it sits beside the CA the emulator uses. */
static char *pki_file(const char *name)
{
  const char *ca = emu_ca_file(emu);
  char *path;

  cr_assert(
      asprintf(&path, "%.*s/%s", (int)(strrchr(ca, '/') - ca), ca, name) > 0);
  return path;
}

Test(http, wrong_ca_is_a_tls_error)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;
  char *other = pki_file("other-ca.pem");

  o.ca_file = other;
  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_ERR_TLS);
  dhis2_http_resp_clear(&resp);
  free(other);
}

Test(http, ca_file_replaces_the_system_store)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;
  char *ca = pki_file("ca.pem");
  char *other = pki_file("other-ca.pem");
  char cmd[1024];

  if (geteuid() != 0)
    cr_skip_test("a system store of the test's own needs root; make check "
                 "runs this as root");
  /* A machine whose system store trusts the emulator's CA: an empty
     tmpfs over /etc/ssl/certs, in a mount namespace of this test process
     alone, holding that CA only. It vanishes with the process. */
  cr_assert_eq(unshare(CLONE_NEWNS), 0);
  cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
  cr_assert_eq(mount("test-certs", "/etc/ssl/certs", "tmpfs", 0, "mode=0755"),
               0);
  snprintf(cmd, sizeof(cmd),
           "cp %s /etc/ssl/certs/ca-certificates.crt && "
           "cp %s /etc/ssl/certs/emu.pem && "
           "openssl rehash /etc/ssl/certs >/dev/null",
           ca, ca);
  cr_assert_eq(system(cmd), 0);
  o.ca_file = NULL;
  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_OK);
  dhis2_http_resp_clear(&resp);
  /* ca_file names the only CAs to trust, not some more. */
  o.ca_file = other;
  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_ERR_TLS);
  dhis2_http_resp_clear(&resp);
  free(ca);
  free(other);
}

/* The emulator's public key pin, computed by the openssl CLI. */
static char *server_pin(void)
{
  char cmd[1024];
  char buf[128] = "";
  char *cert = pki_file("server.pem");
  char *pin;
  FILE *p;

  snprintf(cmd, sizeof(cmd),
           "openssl x509 -in %s -pubkey -noout | "
           "openssl pkey -pubin -outform der | "
           "openssl dgst -sha256 -binary | base64",
           cert);
  free(cert);
  p = popen(cmd, "r");
  cr_assert_not_null(p);
  cr_assert_not_null(fgets(buf, sizeof(buf), p));
  pclose(p);
  buf[strcspn(buf, "\n")] = '\0';
  cr_assert(asprintf(&pin, "sha256//%s", buf) > 0);
  return pin;
}

Test(http, matching_pin_is_accepted)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;
  char *pin = server_pin();

  o.pinned_pubkey = pin;
  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_OK);
  cr_assert_eq(resp.status, 401);
  dhis2_http_resp_clear(&resp);
  free(pin);
}

Test(http, wrong_pin_is_a_tls_error)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;

  o.pinned_pubkey = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_ERR_TLS);
  dhis2_http_resp_clear(&resp);
}

Test(http, redirect_is_returned_not_followed)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;
  const char *hdr[] = {"Authorization: Basic YWxpY2U6QWxpY2UtcHctMQ==", NULL};
  char *url = dhis2_url_join(emu_url(emu), "/api/me");
  struct dhis2_http_req req = {.url = url, .headers = hdr};

  emu_fault(emu, "{\"mode\":\"redirect\"}");
  cr_assert_eq(dhis2_http_request(&o, &req, &resp, NULL), DHIS2_OK);
  cr_assert_eq(resp.status, 302);
  cr_assert_not_null(resp.location);
  cr_assert(strncmp(resp.location, emu_sink_url(emu),
                    strlen(emu_sink_url(emu))) == 0);
  dhis2_http_resp_clear(&resp);
  free(url);
  cr_assert_eq(emu_sink_count(emu), 0, "the other host got a request");
}

Test(http, server_errors_come_back_with_their_status)
{
  const long codes[] = {500, 502, 503};

  for (size_t i = 0; i < 3; i++) {
    struct dhis2_http_opts o = opts_for(5);
    struct dhis2_http_resp resp;
    char fault[64];

    snprintf(fault, sizeof(fault), "{\"mode\":\"status\",\"code\":%ld}",
             codes[i]);
    emu_fault(emu, fault);
    cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_OK);
    cr_assert_eq(resp.status, codes[i]);
    dhis2_http_resp_clear(&resp);
  }
}

Test(http, closed_connection_is_a_connect_error)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;

  emu_fault(emu, "{\"mode\":\"close\"}");
  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_ERR_CONNECT);
  dhis2_http_resp_clear(&resp);
}

Test(http, slow_server_times_out_within_timeout_plus_one_second)
{
  struct dhis2_http_opts o = opts_for(1);
  struct dhis2_http_resp resp;
  double t0 = tu_now();

  emu_fault(emu, "{\"mode\":\"delay\",\"ms\":5000}");
  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_ERR_TIMEOUT);
  cr_assert_lt(tu_now() - t0, 2.0);
  dhis2_http_resp_clear(&resp);
}

Test(http, body_over_the_cap_with_length_is_refused)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;

  emu_fault(emu, "{\"mode\":\"huge\",\"bytes\":2097152,\"chunked\":false}");
  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_ERR_TOO_LARGE);
  dhis2_http_resp_clear(&resp);
}

Test(http, chunked_body_over_the_cap_is_refused)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;

  emu_fault(emu, "{\"mode\":\"huge\",\"bytes\":2097152,\"chunked\":true}");
  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_ERR_TOO_LARGE);
  dhis2_http_resp_clear(&resp);
}

Test(http, cap_is_configurable_and_bounds_what_is_read)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;

  o.max_body = 64 * 1024;
  emu_fault(emu, "{\"mode\":\"huge\",\"bytes\":100000,\"chunked\":true}");
  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_ERR_TOO_LARGE);
  cr_assert_leq(resp.body_len, o.max_body);
  dhis2_http_resp_clear(&resp);
}

Test(http, body_under_the_cap_is_read_whole)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;

  emu_fault(emu, "{\"mode\":\"huge\",\"bytes\":900000,\"chunked\":true}");
  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_OK);
  cr_assert_eq(resp.status, 200);
  cr_assert_geq(resp.body_len, 900000);
  cr_assert_leq(resp.body_len, DHIS2_HTTP_MAX_BODY);
  cr_assert_eq(strlen(resp.body), resp.body_len);
  dhis2_http_resp_clear(&resp);
}

Test(http, nothing_listening_is_a_connect_error)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;
  struct dhis2_http_req req = {.url = "https://127.0.0.1:1/api/me"};

  cr_assert_eq(dhis2_http_request(&o, &req, &resp, NULL), DHIS2_ERR_CONNECT);
  dhis2_http_resp_clear(&resp);
}

Test(http, session_cookie_is_captured_from_set_cookie)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;
  static const char body[] =
      "{\"username\":\"alice\",\"password\":\"Alice-pw-1\"}";
  char *url = dhis2_url_join(emu_url(emu), "/api/auth/login");
  struct dhis2_http_req req = {.method = "POST",
                               .url = url,
                               .body = body,
                               .body_len = sizeof(body) - 1,
                               .content_type = "application/json"};

  cr_assert_eq(dhis2_http_request(&o, &req, &resp, NULL), DHIS2_OK);
  cr_assert_eq(resp.status, 200);
  cr_assert_not_null(resp.cookies);
  cr_assert(strncmp(resp.cookies, "JSESSIONID=", 11) == 0, "%s", resp.cookies);
  cr_assert_null(strchr(resp.cookies, ';'), "attributes leaked: %s",
                 resp.cookies);
  dhis2_http_resp_clear(&resp);
  free(url);
}

/* --- The server's Date -------------------------------------------------- */

Test(http, reply_date_is_the_servers_clock_not_ours)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;
  time_t want;

  emu_clock(emu, 3 * 86400L); /* DHIS2's clock three days ahead */
  want = time(NULL) + 3 * 86400L;
  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_OK);
  cr_assert_eq(resp.status, 401);
  cr_assert_geq(resp.date, want - 5, "date %lld", (long long)resp.date);
  cr_assert_leq(resp.date, want + 5, "date %lld", (long long)resp.date);
  dhis2_http_resp_clear(&resp);
}

Test(http, reply_date_is_read_from_a_server_error_too)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;

  emu_clock(emu, -7200);
  emu_fault(emu, "{\"mode\":\"status\",\"code\":503}");
  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_OK);
  cr_assert_eq(resp.status, 503);
  cr_assert_lt(labs((long)(resp.date - (time(NULL) - 7200))), 5, "date %lld",
               (long long)resp.date);
  dhis2_http_resp_clear(&resp);
}

Test(http, reply_without_a_date_has_date_zero)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;

  emu_fault(emu, "{\"mode\":\"date\"}");
  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_OK);
  cr_assert_eq(resp.status, 401);
  cr_assert_eq(resp.date, 0);
  dhis2_http_resp_clear(&resp);
}

Test(http, unreadable_date_is_date_zero)
{
  static const char *const junk[] = {"not a date", "", "Yesterday",
                                     "Thu, 01 Jan 1970 00:00:00 GMT"};

  for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
    struct dhis2_http_opts o = opts_for(5);
    struct dhis2_http_resp resp;
    char fault[128];

    snprintf(fault, sizeof(fault), "{\"mode\":\"date\",\"value\":\"%s\"}",
             junk[i]);
    emu_fault(emu, fault);
    cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_OK);
    cr_expect_eq(resp.date, 0, "'%s' gave %lld", junk[i],
                 (long long)resp.date);
    dhis2_http_resp_clear(&resp);
  }
}

Test(http, each_http_date_form_is_read)
{
  /* RFC 9110 5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime. */
  static const char *const forms[] = {"Sun, 06 Nov 1994 08:49:37 GMT",
                                      "Sunday, 06-Nov-94 08:49:37 GMT",
                                      "Sun Nov  6 08:49:37 1994"};

  for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
    struct dhis2_http_opts o = opts_for(5);
    struct dhis2_http_resp resp;
    char fault[128];

    snprintf(fault, sizeof(fault), "{\"mode\":\"date\",\"value\":\"%s\"}",
             forms[i]);
    emu_fault(emu, fault);
    cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_OK);
    cr_expect_eq(resp.date, (time_t)784111777, "'%s' gave %lld", forms[i],
                 (long long)resp.date);
    dhis2_http_resp_clear(&resp);
  }
}

/* --- DHIS2 unavailable ----------------------------------------------------
 */

Test(http, server_down_is_a_connect_error_and_back_up_is_served)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;

  emu_outage(emu, "refuse");
  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_ERR_CONNECT);
  dhis2_http_resp_clear(&resp);
  emu_outage(emu, "off");
  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_OK);
  cr_assert_eq(resp.status, 401);
  dhis2_http_resp_clear(&resp);
}

Test(http, server_down_cuts_a_kept_connection)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_conn *conn = NULL;
  struct dhis2_http_resp resp;
  char *url = dhis2_url_join(emu_url(emu), "/api/me");
  struct dhis2_http_req req = {.url = url};

  cr_assert_eq(dhis2_http_conn_new(&o, &conn), DHIS2_OK);
  cr_assert_eq(dhis2_http_conn_request(conn, &req, &resp, NULL), DHIS2_OK);
  dhis2_http_resp_clear(&resp);
  emu_outage(emu, "refuse");
  cr_assert_eq(dhis2_http_conn_request(conn, &req, &resp, NULL),
               DHIS2_ERR_CONNECT);
  dhis2_http_resp_clear(&resp);
  dhis2_http_conn_free(conn);
  free(url);
}

Test(http, server_that_never_answers_is_a_timeout)
{
  struct dhis2_http_opts o = opts_for(1);
  struct dhis2_http_resp resp;
  double t0 = tu_now();

  emu_outage(emu, "hang");
  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_ERR_TIMEOUT);
  cr_assert_lt(tu_now() - t0, 2.0);
  dhis2_http_resp_clear(&resp);
  emu_reset(emu);
  o = opts_for(5);
  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_OK);
  dhis2_http_resp_clear(&resp);
}

/* --- Reply header lines, without a server -------------------------------- */

/* Feeds the lines of head ("\r\n" after each) to r as a transfer would. */
static void read_head(struct dhis2_http_resp *r, const char *head)
{
  while (*head != '\0') {
    size_t n = strcspn(head, "\n");

    if (head[n] == '\n')
      n++;
    cr_assert(dhis2_http_header_line(r, head, n));
    head += n;
  }
}

Test(header_lines, every_set_cookie_joins_the_session_without_attributes)
{
  struct dhis2_http_resp r = {0};

  read_head(&r, "HTTP/1.1 200 \r\n"
                "Set-Cookie: XSRF-TOKEN=3f2a; Path=/\r\n"
                "Content-Type: application/json;charset=UTF-8\r\n"
                "set-cookie: JSESSIONID=0123ABCD; Path=/; Secure; "
                "HttpOnly\r\n"
                "\r\n");
  cr_assert_str_eq(r.cookies, "XSRF-TOKEN=3f2a; JSESSIONID=0123ABCD");
  cr_assert_str_eq(r.content_type, "application/json;charset=UTF-8");
  dhis2_http_resp_clear(&r);
}

Test(header_lines, a_cookie_without_a_name_value_pair_is_ignored)
{
  struct dhis2_http_resp r = {0};

  read_head(&r, "Set-Cookie: HttpOnly; JSESSIONID=X\r\n"
                "Set-Cookie: ;a=b\r\n"
                "Set-Cookie:\r\n");
  cr_assert_null(r.cookies);
  read_head(&r, "Set-Cookie: JSESSIONID=; Path=/; Max-Age=0\r\n");
  cr_assert_str_eq(r.cookies, "JSESSIONID=", "a cleared cookie still counts");
  dhis2_http_resp_clear(&r);
}

Test(header_lines, location_and_challenge_are_kept_trimmed)
{
  struct dhis2_http_resp r = {0};

  read_head(&r, "HTTP/1.1 302 \r\n"
                "Location:   https://dhis2.example.org/dhis-web-login/  \r\n"
                "WWW-Authenticate: Basic realm=\"Realm\"\r\n");
  cr_assert_str_eq(r.location, "https://dhis2.example.org/dhis-web-login/");
  cr_assert_str_eq(r.www_authenticate, "Basic realm=\"Realm\"");
  dhis2_http_resp_clear(&r);
}

Test(header_lines, lookalike_names_are_not_read)
{
  struct dhis2_http_resp r = {0};

  read_head(&r, "Set-Cookie2: a=b\r\n"
                "X-Set-Cookie: c=d\r\n"
                "Location-Hint: /elsewhere\r\n"
                "Content-Type application/json\r\n");
  cr_assert_null(r.cookies);
  cr_assert_null(r.location);
  cr_assert_null(r.content_type);
}

Test(header_lines, a_final_reply_forgets_the_interim_ones_headers)
{
  struct dhis2_http_resp r = {0};

  read_head(&r, "HTTP/1.1 100 Continue\r\n"
                "Set-Cookie: stale=1\r\n"
                "Location: /stale\r\n"
                "\r\n"
                "HTTP/1.1 200 \r\n"
                "Set-Cookie: JSESSIONID=Y; Path=/\r\n");
  cr_assert_str_eq(r.cookies, "JSESSIONID=Y");
  cr_assert_null(r.location);
  dhis2_http_resp_clear(&r);
}

/* --- Plain HTTP ---------------------------------------------------------- */

TestSuite(http_plain, .init = start_plain, .fini = stop, .timeout = 30);

Test(http_plain, allowed_to_loopback_with_allow_http)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;

  o.allow_http = true;
  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_OK);
  cr_assert_eq(resp.status, 401);
  dhis2_http_resp_clear(&resp);
}

Test(http_plain, refused_without_allow_http_and_nothing_sent)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;

  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_ERR_INVAL);
  dhis2_http_resp_clear(&resp);
  cr_assert_eq(emu_count(emu, NULL), 0);
}

/* --- One connection for many requests ----------------------------------- */

/* GET /counters or /requests from the control API, parsed. */
static struct json_object *ctl_json(const char *path)
{
  char *reply = NULL;
  struct json_object *root;

  cr_assert_eq(emu_ctl(emu, "GET", path, NULL, &reply), 200);
  root = json_tokener_parse(reply);
  cr_assert_not_null(root, "%s", reply);
  free(reply);
  return root;
}

static long connections(void)
{
  struct json_object *root = ctl_json("/counters");
  struct json_object *v;
  long n;

  cr_assert(json_object_object_get_ex(root, "connections", &v));
  n = (long)json_object_get_int64(v);
  json_object_put(root);
  return n;
}

static enum dhis2_err conn_get(struct dhis2_http_conn *c, const char *path,
                               struct dhis2_http_resp *resp)
{
  char *url = dhis2_url_join(emu_url(emu), path);
  struct dhis2_http_req req = {.url = url};
  enum dhis2_err rc = dhis2_http_conn_request(c, &req, resp, NULL);

  free(url);
  return rc;
}

static struct dhis2_http_conn *conn_for(long timeout)
{
  struct dhis2_http_opts o = opts_for(timeout);
  struct dhis2_http_conn *c = NULL;

  cr_assert_eq(dhis2_http_conn_new(&o, &c), DHIS2_OK);
  return c;
}

Test(http, requests_on_one_handle_share_one_connection)
{
  struct dhis2_http_conn *c = conn_for(5);
  struct dhis2_http_resp resp;

  for (int i = 0; i < 3; i++) {
    cr_assert_eq(conn_get(c, "/api/loginConfig", &resp), DHIS2_OK);
    cr_assert_eq(resp.status, 200);
    dhis2_http_resp_clear(&resp);
  }
  cr_assert_eq(emu_count(emu, NULL), 3);
  cr_assert_eq(connections(), 1);
  dhis2_http_conn_free(c);
}

Test(http, a_post_leaves_nothing_to_the_get_after_it)
{
  struct dhis2_http_conn *c = conn_for(5);
  struct dhis2_http_resp resp;
  static const char body[] =
      "{\"username\":\"alice\",\"password\":\"Alice-pw-1\"}";
  char *url = dhis2_url_join(emu_url(emu), "/api/auth/login");
  const char *hdr[] = {"X-Only-Here: 1", NULL};
  struct dhis2_http_req req = {.method = "POST",
                               .url = url,
                               .headers = hdr,
                               .body = body,
                               .body_len = sizeof(body) - 1,
                               .content_type = "application/json"};
  struct json_object *log;
  struct json_object *get;
  struct json_object *headers;
  struct json_object *v;

  cr_assert_eq(dhis2_http_conn_request(c, &req, &resp, NULL), DHIS2_OK);
  cr_assert_not_null(resp.cookies, "a session was set");
  dhis2_http_resp_clear(&resp);
  cr_assert_eq(conn_get(c, "/api/me", &resp), DHIS2_OK);
  cr_assert_eq(resp.status, 401, "the session cookie was not sent back");
  dhis2_http_resp_clear(&resp);

  log = ctl_json("/requests");
  cr_assert_eq(json_object_array_length(log), 2);
  get = json_object_array_get_idx(log, 1);
  cr_assert(json_object_object_get_ex(get, "method", &v));
  cr_assert_str_eq(json_object_get_string(v), "GET");
  cr_assert(json_object_object_get_ex(get, "body_length", &v));
  cr_assert_eq(json_object_get_int(v), 0);
  cr_assert(json_object_object_get_ex(get, "headers", &headers));
  cr_assert_not(json_object_object_get_ex(headers, "content-type", &v));
  cr_assert_not(json_object_object_get_ex(headers, "content-length", &v));
  cr_assert_not(json_object_object_get_ex(headers, "cookie", &v));
  cr_assert_not(json_object_object_get_ex(headers, "x-only-here", &v));
  cr_assert(json_object_object_get_ex(headers, "x-requested-with", &v));
  json_object_put(log);
  cr_assert_eq(connections(), 1);
  dhis2_http_conn_free(c);
  free(url);
}

Test(http, timeout_bounds_each_request_not_the_connection)
{
  struct dhis2_http_conn *c = conn_for(2);
  struct dhis2_http_resp resp;

  /* 2.4 s in all, each 1.2 s: within a 2 s timeout one by one (with room
     for a loaded machine's handshake). */
  emu_fault(emu, "{\"mode\":\"delay\",\"ms\":1200,\"times\":2}");
  for (int i = 0; i < 2; i++) {
    cr_assert_eq(conn_get(c, "/api/loginConfig", &resp), DHIS2_OK,
                 "request %d", i);
    dhis2_http_resp_clear(&resp);
  }
  emu_fault(emu, "{\"mode\":\"delay\",\"ms\":5000,\"times\":1}");
  cr_assert_eq(conn_get(c, "/api/loginConfig", &resp), DHIS2_ERR_TIMEOUT);
  dhis2_http_resp_clear(&resp);
  dhis2_http_conn_free(c);
}

Test(http, a_reused_connection_still_follows_no_redirect)
{
  struct dhis2_http_conn *c = conn_for(5);
  struct dhis2_http_resp resp;

  cr_assert_eq(conn_get(c, "/api/loginConfig", &resp), DHIS2_OK);
  dhis2_http_resp_clear(&resp);
  emu_fault(emu, "{\"mode\":\"redirect\"}");
  cr_assert_eq(conn_get(c, "/api/me", &resp), DHIS2_OK);
  cr_assert_eq(resp.status, 302);
  cr_assert_eq(emu_sink_count(emu), 0);
  dhis2_http_resp_clear(&resp);
  dhis2_http_conn_free(c);
}

Test(http, a_closed_connection_is_reopened_by_the_next_request)
{
  struct dhis2_http_conn *c = conn_for(5);
  struct dhis2_http_resp resp;

  emu_fault(emu, "{\"mode\":\"close\",\"times\":1}");
  cr_assert_eq(conn_get(c, "/api/me", &resp), DHIS2_ERR_CONNECT);
  dhis2_http_resp_clear(&resp);
  cr_assert_eq(conn_get(c, "/api/loginConfig", &resp), DHIS2_OK);
  cr_assert_eq(resp.status, 200);
  dhis2_http_resp_clear(&resp);
  cr_assert_eq(connections(), 2);
  dhis2_http_conn_free(c);
}

Test(http, a_refused_url_on_a_handle_sends_nothing)
{
  struct dhis2_http_conn *c = conn_for(5);
  struct dhis2_http_resp resp;
  struct dhis2_http_req req = {.url = "http://127.0.0.1:1/api/me"};

  cr_assert_eq(dhis2_http_conn_request(c, &req, &resp, NULL), DHIS2_ERR_INVAL);
  dhis2_http_resp_clear(&resp);
  cr_assert_eq(emu_count(emu, NULL), 0);
  dhis2_http_conn_free(c);
}

/* --- The system store, read by what a chain needs ----------------------- */

/* Puts a tmpfs of this test process's own over /etc/ssl/certs, then runs
   sh_cmd in it (with $CA the emulator's CA, $OTHER an unrelated one). */
static void own_system_store(const char *sh_cmd)
{
  char *ca = pki_file("ca.pem");
  char *other = pki_file("other-ca.pem");
  char cmd[2048];

  if (geteuid() != 0)
    cr_skip_test("a system store of the test's own needs root; make check "
                 "runs this as root");
  cr_assert_eq(unshare(CLONE_NEWNS), 0);
  cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
  cr_assert_eq(mount("test-certs", "/etc/ssl/certs", "tmpfs", 0, "mode=0755"),
               0);
  snprintf(cmd, sizeof(cmd), "CA=%s OTHER=%s; cd /etc/ssl/certs && %s", ca,
           other, sh_cmd);
  cr_assert_eq(system(cmd), 0, "%s", cmd);
  free(ca);
  free(other);
}

Test(http, the_system_store_is_read_through_its_hashed_directory)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;

  /* A bundle OpenSSL cannot read: reading it would fail the request. */
  own_system_store("echo not a certificate >ca-certificates.crt && "
                   "cp $CA emu.pem && openssl rehash . >/dev/null");
  o.ca_file = NULL;
  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_OK);
  dhis2_http_resp_clear(&resp);
}

Test(http, the_hashed_directory_alone_is_the_system_store)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;

  /* The bundle trusts the emulator's CA; the directory does not. */
  own_system_store("cp $OTHER other.pem && openssl rehash . >/dev/null && "
                   "cp $CA ca-certificates.crt");
  o.ca_file = NULL;
  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_ERR_TLS);
  dhis2_http_resp_clear(&resp);
}

Test(http, without_hashed_links_the_system_bundle_is_read)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;

  own_system_store("cp $CA ca-certificates.crt");
  o.ca_file = NULL;
  cr_assert_eq(get(&o, "/api/me", &resp), DHIS2_OK);
  dhis2_http_resp_clear(&resp);
}

/* --- TLS versions ---------------------------------------------------------
 */

/* A loopback port nothing listens on (just now). */
static int free_port(void)
{
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  cr_assert_geq(fd, 0);
  cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

static bool listening(int port)
{
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

  close(fd);
  return ok;
}

Test(http, a_server_with_tls_1_2_at_most_is_accepted)
{
  struct dhis2_http_opts o = opts_for(5);
  struct dhis2_http_resp resp;
  char *cert = pki_file("server.pem");
  char *key = pki_file("server.key");
  char accept[64];
  char url[96];
  int port = free_port();
  pid_t pid;
  int i;

  snprintf(accept, sizeof(accept), "127.0.0.1:%d", port);
  pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR);

    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    execlp("openssl", "openssl", "s_server", "-accept", accept, "-cert", cert,
           "-key", key, "-tls1_2", "-www", "-quiet", (char *)NULL);
    _exit(127);
  }
  for (i = 0; i < 100 && !listening(port); i++)
    usleep(50000);
  snprintf(url, sizeof(url), "https://%s/", accept);
  {
    struct dhis2_http_req req = {.url = url};
    enum dhis2_err rc = dhis2_http_request(&o, &req, &resp, NULL);

    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    cr_assert_eq(rc, DHIS2_OK, "%s", dhis2_strerror(rc));
  }
  cr_assert_eq(resp.status, 200);
  dhis2_http_resp_clear(&resp);
  free(cert);
  free(key);
}
