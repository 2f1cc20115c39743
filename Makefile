# Builds libdhis2, pam_dhis2.so, dhis2-pamctl and dhis2-auth; runs every
# test tier.
#
#   make            build what has sources
#   make check      install missing dependencies, then build and run all tests
#   make bench      print the benchmark tables (README, "Performance")
#   make demo       walk through the project against the DHIS2 emulator
#   make fuzz       run every libFuzzer target for FUZZ_SECONDS (default 60)
#   make install    PREFIX, DESTDIR, SYSCONFDIR, PAMDIR, BINDIR, SBINDIR,
#                   MANDIR and BASHCOMPDIR are honoured
#   make dist       build/pam_dhis2-VERSION.tar.gz of HEAD, for rpmbuild
#   make check-packaging   only the packages' tier (tests/packaging/run)

PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
MANDIR ?= $(PREFIX)/share/man
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
PAMDIR ?= $(shell pkg-config --variable=libdir pam 2>/dev/null || echo /lib)/security

CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := libcurl json-c libssl libcrypto
# The token store talks to the kernel keyring.
KEYUTILS_LIBS := $(shell $(PKG_CONFIG) --libs libkeyutils 2>/dev/null || echo -lkeyutils)
# Offline sign-in hashes with libxcrypt's yescrypt.
CRYPT_LIBS := $(shell $(PKG_CONFIG) --libs libcrypt 2>/dev/null || echo -lcrypt)
QRENCODE_LIBS := $(shell $(PKG_CONFIG) --libs libqrencode 2>/dev/null || echo -lqrencode)
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) $(KEYUTILS_LIBS) \
            $(CRYPT_LIBS)
CRITERION_LIBS := $(shell $(PKG_CONFIG) --libs criterion 2>/dev/null || echo -lcriterion)

WARNINGS := -Wall -Wextra -Wformat=2 -Wshadow -Wmissing-prototypes \
            -Wstrict-prototypes
ifeq ($(CI),true)
WARNINGS += -Werror
endif

CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -fPIC -fvisibility=hidden $(WARNINGS) -Iinclude $(PKG_CFLAGS) \
          -DDHIS2_SYSCONF_FILE='"$(SYSCONFDIR)/security/pam_dhis2.conf"'
# Preprocessor flags of the build system (dpkg-buildflags' _FORTIFY_SOURCE).
CPPFLAGS ?=
LDFLAGS ?=
# Sanitizer flags for a whole build (the sanitizer tier sets them, with
# B=build-san).
SANITIZE ?=
CFLAGS += $(SANITIZE)
LDFLAGS += $(SANITIZE)

B := build
LIB := $(B)/libdhis2.a
LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)

MOD := $(B)/pam_dhis2.so
MOD_SRC := $(filter-out pam_dhis2/pamctl.c,$(wildcard pam_dhis2/*.c))
MOD_OBJ := $(MOD_SRC:%.c=$(B)/%.o)
PAM_LIBS := $(shell $(PKG_CONFIG) --libs pam 2>/dev/null || echo -lpam)

# The admin CLI shares the module's state, user map, policy and lookup
# code (as pam_faillock's CLI shares faillock.c); none of it calls libpam.
PAMCTL := $(B)/dhis2-pamctl
PAMCTL_OBJ := $(B)/pam_dhis2/pamctl.o $(addprefix $(B)/pam_dhis2/, \
              state.o usermap.o policy.o lookup.o host.o)

HELPER := $(B)/dhis2-auth
HELPER_SRC := $(wildcard helper/*.c)
HELPER_OBJ := $(HELPER_SRC:%.c=$(B)/%.o)

SUPPORT_SRC := $(wildcard tests/support/*.c)
SUPPORT_OBJ := $(SUPPORT_SRC:%.c=$(B)/%.o)
# An archive, so a test links only the support code it uses.
SUPPORT := $(B)/libtestsupport.a
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:%.c=$(B)/%)
PAMTEST_SRC := $(wildcard tests/pam/test_*.c)
PAMTEST_BIN := $(PAMTEST_SRC:%.c=$(B)/%)
# A bare libpam application: tests copy it setuid root (tests/pam/setuid-env-run).
PAMDRIVE := $(B)/tests/pam/pamdrive

SOURCES := $(wildcard include/dhis2/*.h lib/*.c lib/*.h pam_dhis2/*.c \
             pam_dhis2/*.h helper/*.c helper/*.h tests/*/*.c tests/*/*.h \
             bench/*.c)

.PHONY: all check check-tests check-packaging deps demo install uninstall format \
        format-check clean dist tests test-bins fuzz fuzz-build sanitizer-build \
        bench

all: $(LIB) $(MOD) $(PAMCTL) $(if $(HELPER_SRC),$(HELPER))

$(LIB): $(LIB_OBJ)
	$(AR) rcs $@ $^

# Only pam_sm_* leave the module: hidden by default, a version script, and
# every symbol resolved at link time.
$(MOD): $(MOD_OBJ) $(LIB) pam_dhis2/pam_dhis2.map
	$(CC) -shared -o $@ $(MOD_OBJ) $(LIB) $(LDFLAGS) \
	  -Wl,--version-script=pam_dhis2/pam_dhis2.map -Wl,--no-undefined \
	  -Wl,-z,relro,-z,now $(PKG_LIBS) $(QRENCODE_LIBS) $(PAM_LIBS)

$(B)/%.o: %.c $(wildcard include/dhis2/*.h) $(wildcard tests/support/*.h) \
           $(wildcard lib/*.h pam_dhis2/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/tests/support/pamtest.o: CFLAGS += \
  -DDHIS2_MODULE_PATH='"$(abspath $(MOD))"'

$(PAMCTL): $(PAMCTL_OBJ) $(LIB)
	$(CC) -o $@ $(PAMCTL_OBJ) $(LIB) $(LDFLAGS) $(PKG_LIBS) \
	  -Wl,--no-undefined -Wl,-z,relro,-z,now

$(HELPER): $(HELPER_OBJ) $(LIB)
	$(CC) -o $@ $(HELPER_OBJ) $(LIB) $(LDFLAGS) $(PKG_LIBS) \
	  $(QRENCODE_LIBS) -Wl,-z,relro,-z,now

$(SUPPORT): $(SUPPORT_OBJ)
	$(AR) rcs $@ $^

# -Ilib: the parsers split out of request functions (lib/*_internal.h).
$(B)/tests/unit/%: tests/unit/%.c $(SUPPORT) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/support -Ilib -o $@ $< $(SUPPORT) $(LIB) \
	  $(LDFLAGS) $(CRITERION_LIBS) $(PKG_LIBS) -lpthread

# Through the real libpam, loading the module just built. The tests see what
# the module logs by interposing glibc's __syslog_chk, and run with local
# accounts of their own under nss_wrapper (tests/support/accounts.c, linked
# whole for its constructor), whose getpwnam_r they interpose too.
$(B)/tests/pam/%: tests/pam/%.c $(B)/tests/support/accounts.o $(SUPPORT) \
                  $(LIB) $(MOD)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/support \
	  -DDHIS2_MODULE_PATH='"$(abspath $(MOD))"' -o $@ $< \
	  $(B)/tests/support/accounts.o $(SUPPORT) \
	  $(LIB) $(LDFLAGS) $(CRITERION_LIBS) $(PKG_LIBS) $(PAM_LIBS) -lpthread \
	  -ldl -Wl,--export-dynamic-symbol=__syslog_chk \
	  -Wl,--export-dynamic-symbol=getpwnam_r \
	  -Wl,--export-dynamic-symbol=time

# Only libpam: a setuid copy must load nothing but what a real su loads.
$(PAMDRIVE): tests/pam/pamdrive.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) $(PAM_LIBS) \
	  -Wl,--export-dynamic-symbol=__syslog_chk

tests: all $(UNIT_BIN) $(PAMTEST_BIN) $(PAMDRIVE)

test-bins: $(UNIT_BIN) $(PAMTEST_BIN)

# libFuzzer targets (tests/fuzz), one parser each, built by clang into
# build-fuzz/ against a libdhis2 instrumented for coverage, ASan and UBSan.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FB := build-fuzz
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
             -fno-omit-frame-pointer
FUZZ_CFLAGS := -O1 -g -std=c11 -D_GNU_SOURCE $(WARNINGS) -Iinclude -Ilib \
               -Ipam_dhis2 $(PKG_CFLAGS) $(SAN_FLAGS) \
               -DDHIS2_SYSCONF_FILE='"/nonexistent/pam_dhis2.conf"'
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(FB)/%)
FUZZ_LIB := $(FB)/libdhis2.a

$(FB)/%.o: %.c $(wildcard include/dhis2/*.h lib/*.h pam_dhis2/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_LIB): $(LIB_SRC:%.c=$(FB)/%.o)
	$(AR) rcs $@ $^

# The user map's parser lives in the module.
$(FB)/fuzz_usermap: $(FB)/pam_dhis2/usermap.o

# The QR drawing needs libqrencode.
$(FB)/fuzz_qr: FUZZ_EXTRA_LIBS := $(QRENCODE_LIBS)

$(FB)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
	  $(filter %.o,$^) $(FUZZ_LIB) $(PKG_LIBS) $(FUZZ_EXTRA_LIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run $(FUZZ_BIN)

# The unit and libpam tiers again, built with ASan and UBSan into
# build-san/ (tests/sanitizer-check runs them).
SAN_B := build-san
SAN_BIN := $(UNIT_BIN:$(B)/%=$(SAN_B)/%) $(PAMTEST_BIN:$(B)/%=$(SAN_B)/%)

sanitizer-build:
	@$(MAKE) --no-print-directory B=$(SAN_B) SANITIZE="$(SAN_FLAGS)" test-bins

# Not a test: prints the tables of DESIGN.md 9 (README, "Performance").
BENCH_BIN := $(B)/bench/measure $(B)/bench/pamlogin $(B)/bench/offline

$(B)/bench/measure: bench/measure.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS)

$(B)/bench/pamlogin: bench/pamlogin.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) $(PAM_LIBS) \
	  -Wl,--export-dynamic-symbol=__syslog_chk

# One offline sign-in (dhis2_cache_check) at each yescrypt cost.
$(B)/bench/offline: bench/offline.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(PKG_LIBS)

bench: all $(BENCH_BIN)
	@node bench/run.js

# Dependencies first, then a fresh make so pkg-config sees them.
check: deps
	@$(MAKE) --no-print-directory check-tests

check-tests: format-check tests fuzz-build sanitizer-build
	@VALGRIND_TESTS="$(PAMTEST_BIN)" FUZZ_TARGETS="$(FUZZ_BIN)" \
	  FUZZ_SECONDS=4 SANITIZER_TESTS="$(SAN_BIN)" tests/run-tests \
	  $(UNIT_BIN) $(PAMTEST_BIN)

# The .debs and the rpm built, linted and used (make check runs it too).
check-packaging: deps
	@tests/packaging/run

deps:
	@packaging/install-deps

# The source tarball rpmbuild takes (packaging/rpm): what git has at HEAD.
VERSION := $(shell sed -n 's/^Version: *//p' packaging/rpm/pam_dhis2.spec)

dist:
	@mkdir -p $(B)
	git archive --prefix=pam_dhis2-$(VERSION)/ \
	  -o $(B)/pam_dhis2-$(VERSION).tar.gz HEAD

demo: deps
	@$(MAKE) --no-print-directory all
	@tests/demo

format:
	clang-format -i $(SOURCES)

format-check:
	@clang-format --dry-run --Werror $(SOURCES) && echo "format-check: ok"

install: all
	install -d $(DESTDIR)$(PAMDIR)
	install -m 0644 $(MOD) $(DESTDIR)$(PAMDIR)/
	install -d $(DESTDIR)$(SBINDIR)
	install -m 0755 $(PAMCTL) $(DESTDIR)$(SBINDIR)/
	@if [ -f $(HELPER) ]; then \
	  install -d $(DESTDIR)$(BINDIR) && \
	  install -m 0755 $(HELPER) $(DESTDIR)$(BINDIR)/; fi
	install -d $(DESTDIR)$(BASHCOMPDIR)
	install -m 0644 packaging/bash-completion/dhis2-pamctl \
	  packaging/bash-completion/dhis2-auth $(DESTDIR)$(BASHCOMPDIR)/
	@for m in doc/*.[0-9]; do [ -f "$$m" ] || continue; \
	  s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s && \
	  install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done

uninstall:
	rm -f $(DESTDIR)$(PAMDIR)/pam_dhis2.so $(DESTDIR)$(BINDIR)/dhis2-auth \
	  $(DESTDIR)$(SBINDIR)/dhis2-pamctl \
	  $(DESTDIR)$(BASHCOMPDIR)/dhis2-pamctl \
	  $(DESTDIR)$(BASHCOMPDIR)/dhis2-auth
	@for m in doc/*.[0-9]; do [ -f "$$m" ] || continue; \
	  s=$${m##*.}; rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done

clean:
	rm -rf $(B) $(FB) $(SAN_B)
