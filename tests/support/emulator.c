/* Starts, drives and stops the DHIS2 emulator for the C tests; contracts in
   emulator.h. */
#include "emulator.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

extern char **environ;

#define READY_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 5000

struct emu {
  pid_t pid;
  int in_fd;  /* our end of the child's stdin: EOF there stops it */
  int out_fd; /* our end of the child's stdout (the ready line) */
  int ctl_port;
  char url[80];
  char sink_url[80];
  char idp_url[80];
  char *ca_file;
  char *other_ca_file;
};

struct buf {
  char *p;
  size_t n;
};

static const char *srcdir(void)
{
  const char *d = getenv("DHIS2_SRCDIR");

  return d && *d ? d : ".";
}

static char *path_join(const char *a, const char *b)
{
  char *p = NULL;

  if (asprintf(&p, "%s/%s", a, b) < 0)
    return NULL;
  return p;
}

static void emu_free(struct emu *e)
{
  if (!e)
    return;
  if (e->in_fd >= 0)
    close(e->in_fd);
  if (e->out_fd >= 0)
    close(e->out_fd);
  free(e->ca_file);
  free(e->other_ca_file);
  free(e);
}

/* Waits up to ms for pid to exit; true if it did (and was reaped). */
static bool wait_exit(pid_t pid, int ms)
{
  struct timespec tick = {0, 10 * 1000 * 1000};

  for (int waited = 0; waited <= ms; waited += 10) {
    pid_t r = waitpid(pid, NULL, WNOHANG);

    if (r == pid || (r < 0 && errno == ECHILD))
      return true;
    nanosleep(&tick, NULL);
  }
  return false;
}

static void kill_child(struct emu *e)
{
  if (e->pid <= 0)
    return;
  kill(e->pid, SIGTERM);
  if (!wait_exit(e->pid, STOP_TIMEOUT_MS)) {
    kill(e->pid, SIGKILL);
    waitpid(e->pid, NULL, 0);
  }
  e->pid = -1;
}

/* Cleans up what start made so far, then fails and aborts the test. */
static void start_failed(struct emu *e, const char *fmt, ...)
{
  char msg[512];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (e) {
    kill_child(e);
    emu_free(e);
  }
  cr_assert_fail("DHIS2 emulator: %s", msg);
  abort(); /* not reached: cr_assert_fail does not return */
}

/* Runs mkpki.sh dir unless dir/server.pem is already there. Returns 0 on
   success, else a message in err. */
static int ensure_pki(const char *dir, char *err, size_t errlen)
{
  char *script = NULL;
  char *marker = path_join(dir, "server.pem");
  char *argv[4] = {"sh", NULL, (char *)dir, NULL};
  struct stat st;
  pid_t pid;
  int status = 0;
  int serr;
  int rc = -1;

  if (!marker) {
    snprintf(err, errlen, "out of memory");
    goto out;
  }
  if (stat(marker, &st) == 0) {
    rc = 0;
    goto out;
  }
  script = path_join(srcdir(), "tests/support/mkpki.sh");
  if (!script) {
    snprintf(err, errlen, "out of memory");
    goto out;
  }
  argv[1] = script;
  serr = posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ);

  if (serr != 0) {
    snprintf(err, errlen, "cannot run %s: %s", script, strerror(serr));
    goto out;
  }
  if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    snprintf(err, errlen, "%s %s failed (status %d)", script, dir, status);
    goto out;
  }
  rc = 0;
out:
  free(script);
  free(marker);
  return rc;
}

/* Reads one line from fd into line (NUL-terminated, newline dropped) within
   ms. Returns 0, or -1 with a message in err. */
static int read_line(int fd, char *line, size_t len, int ms, char *err,
                     size_t errlen)
{
  size_t n = 0;
  struct timespec t0;

  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    struct timespec now;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    long spent;

    clock_gettime(CLOCK_MONOTONIC, &now);
    spent =
        (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
    if (spent >= ms) {
      snprintf(err, errlen, "no ready line within %d ms", ms);
      return -1;
    }
    int pr = poll(&pfd, 1, (int)(ms - spent));

    if (pr < 0 && errno == EINTR)
      continue;
    if (pr <= 0)
      continue;
    char c;
    ssize_t r = read(fd, &c, 1);

    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      snprintf(err, errlen, "it exited before printing the ready line");
      return -1;
    }
    if (c == '\n') {
      line[n] = '\0';
      return 0;
    }
    if (n + 1 >= len) {
      snprintf(err, errlen, "ready line too long");
      return -1;
    }
    line[n++] = c;
  }
}

static int json_int(struct json_object *o, const char *key)
{
  struct json_object *v = NULL;

  if (!json_object_object_get_ex(o, key, &v) ||
      !json_object_is_type(v, json_type_int))
    return -1;
  return json_object_get_int(v);
}

struct emu *emu_start(const char *version, bool tls)
{
  struct emu *e = calloc(1, sizeof *e);
  char err[256];
  char line[512];
  char *server = NULL;
  char *fixture = NULL;
  char *pki = NULL;
  char *cert = NULL;
  char *keys = NULL;
  char *key = NULL;
  int in[2] = {-1, -1};
  int out[2] = {-1, -1};
  posix_spawn_file_actions_t fa;
  struct json_object *ready = NULL;

  if (!e)
    start_failed(NULL, "out of memory");
  e->pid = -1;
  e->in_fd = -1;
  e->out_fd = -1;

  server = path_join(srcdir(), "tests/dhis2-emulator/server.js");
  fixture = path_join(srcdir(), "tests/dhis2-emulator/fixtures/users.json");
  if (!server || !fixture)
    start_failed(e, "out of memory");
  if (access(server, R_OK) != 0)
    start_failed(e,
                 "%s not found (run from the source tree or set "
                 "DHIS2_SRCDIR)",
                 server);

  if (tls) {
    const char *env = getenv("DHIS2_TEST_PKI");

    pki = env && *env ? strdup(env) : path_join(srcdir(), "build/test-pki");
    if (!pki)
      start_failed(e, "out of memory");
    if (ensure_pki(pki, err, sizeof err) != 0)
      start_failed(e, "test PKI: %s", err);
    keys = path_join(pki, "oauth2-keys.json");
    cert = path_join(pki, "server.pem");
    key = path_join(pki, "server.key");
    e->ca_file = path_join(pki, "ca.pem");
    e->other_ca_file = path_join(pki, "other-ca.pem");
    if (!cert || !key || !keys || !e->ca_file || !e->other_ca_file)
      start_failed(e, "out of memory");
  }

  /* O_CLOEXEC: no other child we spawn may hold the stdin pipe open, or the
     emulator would outlive us. */
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
    start_failed(e, "pipe: %s", strerror(errno));

  char *argv[16];
  int argc = 0;

  argv[argc++] = "node";
  argv[argc++] = server;
  argv[argc++] = "--fixture";
  argv[argc++] = fixture;
  if (version) {
    argv[argc++] = "--version";
    argv[argc++] = (char *)version;
  }
  if (tls) {
    argv[argc++] = "--tls-cert";
    argv[argc++] = cert;
    argv[argc++] = "--tls-key";
    argv[argc++] = key;
    /* The OAuth2 side's first keys, made once per build tree: an
       emulator a test costs a second less CPU. */
    argv[argc++] = "--key-cache";
    argv[argc++] = keys;
  }
  argv[argc] = NULL;

  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
  int serr = posix_spawnp(&e->pid, "node", &fa, NULL, argv, environ);

  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  e->in_fd = in[1];
  e->out_fd = out[0];
  if (serr != 0) {
    e->pid = -1;
    start_failed(e, "cannot run node (is it on PATH?): %s", strerror(serr));
  }

  if (read_line(e->out_fd, line, sizeof line, READY_TIMEOUT_MS, err,
                sizeof err) != 0)
    start_failed(e, "%s", err);
  ready = json_tokener_parse(line);
  struct json_object *flag = NULL;

  if (!ready || !json_object_object_get_ex(ready, "ready", &flag) ||
      !json_object_get_boolean(flag))
    start_failed(e, "bad ready line: %s", line);
  int port = json_int(ready, "port");
  int sink = json_int(ready, "sink_port");
  int idp = json_int(ready, "idp_port");

  e->ctl_port = json_int(ready, "control_port");
  if (port <= 0 || sink <= 0 || idp <= 0 || e->ctl_port <= 0)
    start_failed(e, "bad ports in ready line: %s", line);
  snprintf(e->url, sizeof e->url, "%s://127.0.0.1:%d", tls ? "https" : "http",
           port);
  snprintf(e->sink_url, sizeof e->sink_url, "%s://127.0.0.1:%d",
           tls ? "https" : "http", sink);
  snprintf(e->idp_url, sizeof e->idp_url, "%s://127.0.0.1:%d",
           tls ? "https" : "http", idp);

  json_object_put(ready);
  free(server);
  free(fixture);
  free(pki);
  free(cert);
  free(key);
  free(keys);
  return e; /* transferred to the caller */
}

void emu_stop(struct emu *e)
{
  if (!e)
    return;
  kill_child(e);
  emu_free(e);
}

const char *emu_url(const struct emu *e)
{
  return e->url;
}

const char *emu_sink_url(const struct emu *e)
{
  return e->sink_url;
}

const char *emu_idp_url(const struct emu *e)
{
  return e->idp_url;
}

const char *emu_ca_file(const struct emu *e)
{
  return e->ca_file;
}

const char *emu_other_ca_file(const struct emu *e)
{
  return e->other_ca_file;
}

static size_t collect(char *data, size_t size, size_t nmemb, void *userp)
{
  struct buf *b = userp;
  size_t n = size * nmemb;
  char *p = realloc(b->p, b->n + n + 1);

  if (!p)
    return 0;
  memcpy(p + b->n, data, n);
  b->n += n;
  p[b->n] = '\0';
  b->p = p;
  return n;
}

int emu_ctl(struct emu *e, const char *method, const char *path,
            const char *json_body, char **reply)
{
  CURL *c = NULL;
  struct curl_slist *hdrs = NULL;
  struct buf b = {NULL, 0};
  char url[256];
  long status = 0;
  int rc = -1;

  if (reply)
    *reply = NULL;
  c = curl_easy_init();
  if (!c)
    goto out;
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", e->ctl_port, path);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*"); /* never via http_proxy */
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (json_body || strcmp(method, "POST") == 0) {
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, json_body ? json_body : "");
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  if (curl_easy_perform(c) != CURLE_OK)
    goto out;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  rc = (int)status;
  if (reply) {
    *reply = b.p;
    b.p = NULL; /* transferred */
  }
out:
  free(b.p);
  curl_slist_free_all(hdrs);
  if (c)
    curl_easy_cleanup(c);
  return rc;
}

/* emu_ctl that must answer 200 with a JSON body; fails the test otherwise.
   Returns the parsed body (caller puts it). */
static struct json_object *ctl_json(struct emu *e, const char *method,
                                    const char *path, const char *body)
{
  char *reply = NULL;
  int st = emu_ctl(e, method, path, body, &reply);
  struct json_object *o = reply ? json_tokener_parse(reply) : NULL;

  if (st != 200 || !o) {
    char msg[300];

    snprintf(msg, sizeof msg, "%s %s -> %d %s", method, path, st,
             reply ? reply : "");
    free(reply);
    json_object_put(o);
    cr_assert_fail("DHIS2 emulator control: %s", msg);
  }
  free(reply);
  return o;
}

void emu_reset(struct emu *e)
{
  json_object_put(ctl_json(e, "POST", "/reset", NULL));
}

void emu_fault(struct emu *e, const char *json)
{
  json_object_put(ctl_json(e, "POST", "/fault", json));
}

void emu_user(struct emu *e, const char *json)
{
  json_object_put(ctl_json(e, "POST", "/user", json));
}

void emu_outage(struct emu *e, const char *mode)
{
  char body[64];

  snprintf(body, sizeof body, "{\"mode\":\"%s\"}", mode);
  json_object_put(ctl_json(e, "POST", "/outage", body));
}

void emu_clock(struct emu *e, long offset_s)
{
  char body[64];

  snprintf(body, sizeof body, "{\"offset_s\":%ld}", offset_s);
  json_object_put(ctl_json(e, "POST", "/clock", body));
}

static long counters_field(struct emu *e, const char *outer, const char *inner)
{
  struct json_object *o = ctl_json(e, "GET", "/counters", NULL);
  struct json_object *v = NULL;
  long n = 0;

  if (json_object_object_get_ex(o, outer, &v)) {
    if (inner) {
      struct json_object *w = NULL;

      n = json_object_object_get_ex(v, inner, &w) ? json_object_get_int64(w)
                                                  : 0;
    } else {
      n = json_object_get_int64(v);
    }
  }
  json_object_put(o);
  return n;
}

long emu_count(struct emu *e, const char *path)
{
  return path ? counters_field(e, "by_path", path)
              : counters_field(e, "total", NULL);
}

long emu_sink_count(struct emu *e)
{
  return counters_field(e, "sink", NULL);
}

char *emu_email_code(struct emu *e, const char *username)
{
  static const char hex[] = "0123456789ABCDEF";
  char path[300] = "/email-code?username=";
  size_t n = strlen(path);
  char *reply = NULL;
  char *code = NULL;
  struct json_object *o = NULL;
  struct json_object *v = NULL;

  for (const unsigned char *p = (const unsigned char *)username;
       *p && n + 4 < sizeof path; p++) {
    if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
        (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
      path[n++] = (char)*p;
    } else {
      path[n++] = '%';
      path[n++] = hex[*p >> 4];
      path[n++] = hex[*p & 15];
    }
  }
  path[n] = '\0';
  int st = emu_ctl(e, "GET", path, NULL, &reply);

  if (st == 404)
    goto out;
  o = reply ? json_tokener_parse(reply) : NULL;
  if (st != 200 || !o || !json_object_object_get_ex(o, "code", &v))
    cr_assert_fail("DHIS2 emulator control: GET %s -> %d", path, st);
  code = strdup(json_object_get_string(v));
out:
  json_object_put(o);
  free(reply);
  return code;
}

/* RFC 4648 base32, case-insensitive; '=' padding and spaces ignored.
   Returns the byte count, or -1 on a bad character or overflow. */
static int base32_decode(const char *s, unsigned char *out, size_t len)
{
  uint32_t acc = 0;
  int bits = 0;
  size_t n = 0;

  for (; *s; s++) {
    int v;

    if (*s >= 'A' && *s <= 'Z')
      v = *s - 'A';
    else if (*s >= 'a' && *s <= 'z')
      v = *s - 'a';
    else if (*s >= '2' && *s <= '7')
      v = *s - '2' + 26;
    else if (*s == '=' || *s == ' ')
      continue;
    else
      return -1;
    acc = (acc << 5) | (uint32_t)v;
    bits += 5;
    if (bits >= 8) {
      if (n >= len)
        return -1;
      out[n++] = (unsigned char)(acc >> (bits - 8));
      bits -= 8;
    }
  }
  return (int)n;
}

void emu_totp(const char *base32_secret, time_t t, char out[7])
{
  unsigned char key[128];
  unsigned char msg[8];
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  int klen = base32_decode(base32_secret, key, sizeof key);
  uint64_t step = (uint64_t)t / 30;

  out[0] = '\0';
  if (klen <= 0)
    return;
  for (int i = 7; i >= 0; i--) {
    msg[i] = (unsigned char)(step & 0xff);
    step >>= 8;
  }
  if (!HMAC(EVP_sha1(), key, klen, msg, sizeof msg, md, &mdlen) || mdlen < 20)
    goto out;
  int off = md[mdlen - 1] & 0x0f;
  uint32_t bin = ((uint32_t)(md[off] & 0x7f) << 24) |
                 ((uint32_t)md[off + 1] << 16) | ((uint32_t)md[off + 2] << 8) |
                 (uint32_t)md[off + 3];

  snprintf(out, 7, "%06u", (unsigned)(bin % 1000000));
out:
  OPENSSL_cleanse(key, sizeof key);
}
