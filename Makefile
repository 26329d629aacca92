# ppolicy top-level Makefile (committed; the autotools build lives in build/).
#
#   make          configure (once) and build src/ppolicyd
#   make run      install missing Debian packages, build, run ppolicyd -f on
#                 127.0.0.1:10030 with conf/ppolicy.conf
#   make check    install missing Debian packages, check the formatting (clang-format),
#                 build, run every test (unit tests also under ASan+UBSan);
#                 ends with "N passed, N failed"
#   make bench    benchmark tables (issue 17): throughput/latency at 1, 8, 32, 100
#                 connections of the shipped and a realistic configuration beside the
#                 do-nothing servers; cold DNS (1/2/4 modules, prefetch or not);
#                 memory per idle worker; instructions per request (valgrind,
#                 installed by its prerequisite `make deps-bench`) (t/bench/bench.sh)
#   make soak     long benchmark with memory/fd/shm figures (SOAK_MINUTES=30)
#   make bench-overload  shipped configuration under 500/1000/2000 idle connections
#   make install  DESTDIR=... prefix=... sysconfdir=... as usual
#                 (install-strip: the same without debug information)
#   make dist     source tarball (used by rpm/ppolicy.spec)
#   make deb      Debian package (debian/, dpkg-buildpackage -b -us -uc) in ./
#
# Root is needed for the package installation (apt-get) and for the tests that
# run Postfix; everything else works as an ordinary user.

SHELL := /bin/bash
SRCDIR := $(CURDIR)
BUILD ?= $(SRCDIR)/build
ASAN_BUILD ?= $(SRCDIR)/build-asan
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CONFIGURE_FLAGS ?= --prefix=/usr --sysconfdir=/etc --localstatedir=/var --runstatedir=/run

# Debian 12 packages: to build, and additionally to run the test suite.
DEB_BUILD = g++ make autoconf automake libtool pkg-config \
	libevent-dev libudns-dev libmysqlcppconn-dev libmaxminddb-dev \
	libldap-dev libinih-dev libboost-test-dev
DEB_TEST = $(DEB_BUILD) clang clang-format libclang-rt-14-dev python3 python3-yaml procps iproute2 \
	mariadb-server galera-4 rsync slapd ldap-utils bind9 dnsutils \
	mmdb-bin libmaxmind-db-writer-perl postfix swaks p0f \
	rpm groff-base man-db cpio shellcheck systemd \
	$(DEB_PACKAGING)
# To build the Debian package (make deb) and check it (lintian).
DEB_PACKAGING = dpkg-dev debhelper lintian
DEB_BENCH = valgrind

.PHONY: all build run run-user check bench bench-overload soak install uninstall dist clean \
	distclean deps-build deps-test deps-bench deps-deb deb install-strip format format-check

all: build

# Install the packages of $(1) that are not installed yet (as root only).
define install_missing
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "missing Debian packages: $$missing (run as root, or apt-get install them)" >&2; exit 1; \
		fi; \
		echo "installing: $$missing"; \
		echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get -o DPkg::Lock::Timeout=600 update -qq && \
		apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $$missing; \
	fi
endef

deps-build:
	$(call install_missing,$(DEB_BUILD))

deps-test:
	$(call install_missing,$(DEB_TEST))

deps-bench:
	$(call install_missing,$(DEB_BENCH))

deps-deb:
	$(call install_missing,$(DEB_BUILD) $(DEB_PACKAGING))

# Bootstrap once; afterwards automake's own rules in build/ regenerate
# Makefile.in, configure and config.status when configure.ac or Makefile.am change.
configure:
	mkdir -p m4 && autoreconf -fi

$(BUILD)/Makefile: | configure
	mkdir -p $(BUILD)
	cd $(BUILD) && $(SRCDIR)/configure $(CONFIGURE_FLAGS)

$(ASAN_BUILD)/Makefile: | configure
	mkdir -p $(ASAN_BUILD)
	cd $(ASAN_BUILD) && $(SRCDIR)/configure $(CONFIGURE_FLAGS) --enable-sanitizers

build: $(BUILD)/Makefile
	$(MAKE) -C $(BUILD) -j$(JOBS)
	@ln -sfn ../build/src/ppolicyd src/ppolicyd

# The run-time user of the shipped configuration (as root only; the same
# account `make install` and the packages create).
run-user:
	@if [ "$$(id -u)" = 0 ] && ! getent passwd ppolicy >/dev/null; then \
		echo "useradd --system --user-group ppolicy"; \
		useradd --system --user-group --home-dir /var/lib/ppolicy --no-create-home \
			--shell /usr/sbin/nologin --comment "ppolicy Postfix policy server" ppolicy; \
	fi

run: deps-build build run-user
	mkdir -p $(BUILD)/run
	exec $(BUILD)/src/ppolicyd -f -c $(SRCDIR)/conf/ppolicy.conf \
		-o ppolicyd.state_dir=$(BUILD)/run -o ppolicyd.pid_file=$(BUILD)/run/ppolicyd.pid

# The whole suite: unit and integration tests in build/, the unit tests and
# fuzz targets again under ASan+UBSan in build-asan/, then one summary line.
# format-check first: a tree that does not follow .clang-format fails CI at once.
check: deps-test run-user format-check build $(ASAN_BUILD)/Makefile
	@rm -f $(BUILD)/test-suite.log $(ASAN_BUILD)/test-suite.log
	-$(MAKE) -C $(BUILD) -j$(JOBS) check
	-$(MAKE) -C $(ASAN_BUILD) -j$(JOBS) check TESTS='$$(SANITIZER_TESTS)'
	@$(SRCDIR)/t/summary $(BUILD)/test-suite.log $(ASAN_BUILD)/test-suite.log

bench: deps-test deps-bench build
	$(MAKE) -C $(BUILD) -j$(JOBS) bench-programs
	$(SRCDIR)/t/bench/bench.sh $(BUILD)

bench-overload: deps-test build
	$(MAKE) -C $(BUILD) -j$(JOBS) bench-programs
	$(SRCDIR)/t/bench/overload.py $(BUILD)

soak: deps-test build
	$(MAKE) -C $(BUILD) -j$(JOBS) bench-programs
	$(SRCDIR)/t/bench/soak.sh $(BUILD) $${SOAK_MINUTES:-30}

install install-strip uninstall: build
	$(MAKE) -C $(BUILD) $@

deb: deps-deb build
	$(MAKE) -C $(BUILD) deb
	cp $(BUILD)/deb/*.deb $(SRCDIR)/

dist: build
	$(MAKE) -C $(BUILD) dist
	cp $(BUILD)/ppolicy-*.tar.gz $(SRCDIR)/

format:
	clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.hpp' 't/*.cpp' 't/*.hpp')

# Outside a git checkout (a release tarball) there is nothing to compare with.
format-check:
	@git rev-parse --git-dir >/dev/null 2>&1 || { echo "format-check: not a git checkout, skipped"; exit 0; }; \
	clang-format --dry-run -Werror $$(git ls-files 'src/*.cpp' 'src/*.hpp' 't/*.cpp' 't/*.hpp')

clean:
	-[ -f $(BUILD)/Makefile ] && $(MAKE) -C $(BUILD) clean
	-[ -f $(ASAN_BUILD)/Makefile ] && $(MAKE) -C $(ASAN_BUILD) clean
	rm -f src/ppolicyd

distclean:
	rm -rf $(BUILD) $(ASAN_BUILD) src/ppolicyd autom4te.cache build-aux m4 \
		configure Makefile.in config.h.in config.h.in~ aclocal.m4 ppolicy-*.tar.gz
