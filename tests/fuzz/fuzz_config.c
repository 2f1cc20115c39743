/* libFuzzer target: the configuration file and the module's arguments,
   through dhis2_config_load(). The input up to its first NUL byte is the
   file (written to a private temporary directory, read as a user file);
   what follows is split at NUL bytes into at most 16 arguments. conf=
   arguments are dropped: they would read other files. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dhis2/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/fuzz_config.XXXXXX";
static char path[sizeof(dir) + 16];

static void cleanup(void)
{
  unlink(path);
  rmdir(dir);
}

static void write_file(const uint8_t *data, size_t size)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  if (fd < 0 || write(fd, data, size) != (ssize_t)size || close(fd) != 0)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *argv[16];
  struct dhis2_config_opts o = {.system_path = "/nonexistent/pam_dhis2.conf",
                                .user_uid = geteuid(),
                                .argv = argv};
  struct dhis2_config *cfg = NULL;
  const uint8_t *nul = memchr(data, '\0', size);
  size_t flen = nul != NULL ? (size_t)(nul - data) : size;
  char err[512];
  char *args = NULL;

  if (path[0] == '\0') {
    if (mkdtemp(dir) == NULL)
      abort();
    snprintf(path, sizeof(path), "%s/user.conf", dir);
    atexit(cleanup);
  }
  write_file(data, flen);
  o.user_path = path;
  if (nul != NULL) {
    size_t alen = size - flen - 1;

    args = malloc(alen + 1);
    if (args == NULL)
      return 0;
    memcpy(args, nul + 1, alen);
    args[alen] = '\0';
    for (char *a = args; a < args + alen + 1 && o.argc < 16;
         a += strlen(a) + 1)
      if (strncmp(a, "conf=", 5) != 0)
        argv[o.argc++] = a;
  }
  (void)dhis2_config_load(&o, &cfg, err, sizeof(err));
  if (memchr(err, '\0', sizeof(err)) == NULL)
    abort();
  dhis2_config_free(cfg);
  free(args);
  return 0;
}
