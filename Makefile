# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# BPF objects -> bpftool skeletons -> user space, as libbpf-bootstrap does.
# Everything built lands in build/ (OUT=...). The controller's sources are
# listed by folder, one folder per layer (docs/design.md):
#   user/lib -> core -> codec -> kernel -> ctl -> api -> cmd

CLANG   ?= clang
CC      ?= cc
BPFTOOL ?= bpftool
OUT     := build
ARCH    := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

# The version: `git describe` of a tag (v0.2.0 -> 0.2.0), else VERSION plus
# the commit; from a tarball without .git, VERSION alone.
VERSION := $(shell v=$$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null) && \
	echo "$${v#v}" || { b=$$(cat VERSION); \
	h=$$(git describe --always --dirty 2>/dev/null) && echo "$$b+g$$h" || echo "$$b"; })

# bpf/vmlinux.h is a committed copy generated from a 6.18 kernel's BTF.
# Committed, not generated at build time, so the build does not depend on
# the build host's kernel (CI, containers, a CoreOS builder); CO-RE
# relocates the few fields scan.bpf.c reads at load time on any kernel
# that has BTF. `make vmlinux` regenerates it from the running kernel.
# steer.bpf.c does not use it at all: UAPI's struct bpf_sk_lookup is enough.
# -mcpu=v3: atomic fetch-and-add (kernel 5.12+) for the open connection counts.
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-Iinclude -I$(OUT) -I/usr/include/$(shell uname -m)-linux-gnu

# CFLAGS is yours to set (make CFLAGS=-O0); the warnings and include paths
# are always added. SANITIZE=address,undefined builds with sanitizers.
CFLAGS  ?= -O2 -g
# Error messages are truncated on purpose where they would overflow.
VS_CFLAGS := -Wall -Wextra -Werror -Wno-format-truncation -std=gnu11 -D_GNU_SOURCE \
	   -Iinclude -Iuser -I$(OUT) -MMD -MP
ifneq ($(findstring clang,$(CC)),)
VS_CFLAGS += -Wno-unknown-warning-option
endif
ifneq ($(SANITIZE),)
VS_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
VS_CFLAGS += $(CFLAGS)
LDLIBS  := -lbpf -lelf -lz -lmicrohttpd -ljansson -lcurl -lpthread -lm

SKELS   := $(OUT)/steer.skel.h $(OUT)/scan.skel.h $(OUT)/track.skel.h $(OUT)/http.skel.h \
	   $(OUT)/drain.skel.h $(OUT)/drain_list.skel.h $(OUT)/connect.skel.h $(OUT)/nat.skel.h

# The controller, layer by layer; an object of user/X/y.c is $(OUT)/obj/X/y.o.
LAYERS  := lib core codec kernel store ctl api
obj_of   = $(patsubst user/%.c,$(OUT)/obj/%.o,$(1))
LIB_OBJS := $(foreach l,$(LAYERS),$(call obj_of,$(wildcard user/$(l)/*.c)))
KERNEL_OBJS := $(call obj_of,$(wildcard user/kernel/*.c))
# The unit tests link the controller against a fake of the kernel adapter
# (tests/unit/fake_dp.c) instead of it; features.c's probing is not
# called there, its pure part is.
UNIT_LIB_OBJS := $(filter-out $(KERNEL_OBJS),$(LIB_OBJS)) $(OUT)/obj/kernel/features.o \
		 $(OUT)/obj/kernel/sock_diag.o

all: $(OUT)/vsteerd $(OUT)/vsteer-demo $(OUT)/vsteerctl $(OUT)/unit_tests $(OUT)/prog_tests \
     $(OUT)/etcd_tests
ifeq ($(SANITIZE),)
all: man $(OUT)/connloop $(OUT)/libsrcaddr.so $(OUT)/libkillat.so
endif

$(OUT):
	@mkdir -p $@

HEADERS := include/vsteer.h include/vsteer_hash.h include/vsteer_hist.h include/vsteer_idle.h

$(OUT)/%.bpf.o: bpf/%.bpf.c | $(OUT)
	$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

# -MMD finds every header after the first build; the skeletons must exist
# before the first. features.c and sock_diag.c need none (make check
# builds them).
$(filter-out %/features.o %/sock_diag.o,$(KERNEL_OBJS)): $(SKELS)

$(OUT)/obj/%.o: user/%.c
	@mkdir -p $(@D)
	$(CC) $(VS_CFLAGS) -c $< -o $@

$(OUT)/obj/cmd/vsteerd.o: VS_CFLAGS += -DVSTEER_VERSION='"$(VERSION)"'
# Rebuilt when the version changes (a new commit), not on every make.
$(OUT)/obj/cmd/vsteerd.o: $(OUT)/version
$(OUT)/version: FORCE | $(OUT)
	@echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' > $@

# The checks and case counter both C test binaries use (tests/check.c).
CHECK_OBJ := $(OUT)/tests/check.o

$(CHECK_OBJ): tests/check.c
	@mkdir -p $(@D)
	$(CC) $(VS_CFLAGS) -Itests -c $< -o $@

# The unit tests: harness, shared fixtures, the fake kernel adapter and
# one file per area.
UNIT_OBJS := $(patsubst tests/unit/%.c,$(OUT)/unit/%.o,$(wildcard tests/unit/*.c)) $(CHECK_OBJ)

$(OUT)/unit/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(VS_CFLAGS) -Itests -Itests/unit -c $< -o $@

$(OUT)/vsteerd: $(OUT)/obj/cmd/vsteerd.o $(LIB_OBJS) $(OUT)/obj/web_assets.o
	$(CC) $(VS_CFLAGS) $^ -o $@ $(LDLIBS)

# vsteerctl, the API's command-line client: user/cli on user/lib only.
CLI_OBJS := $(call obj_of,$(wildcard user/cli/*.c))

$(OUT)/vsteerctl: $(OUT)/obj/cmd/vsteerctl.o $(CLI_OBJS) $(call obj_of,$(wildcard user/lib/*.c))
	$(CC) $(VS_CFLAGS) $^ -o $@ -lcurl -ljansson -lpthread -lm

$(OUT)/obj/cmd/vsteerctl.o: VS_CFLAGS += -DVSTEER_VERSION='"$(VERSION)"'
$(OUT)/obj/cmd/vsteerctl.o: $(OUT)/version

# The dashboard (docs/dashboard.md): web/'s files as a C table
# (api/ui.h's ui_web_assets), in vsteerd only; remade when a file of web/
# changes, is added or goes.
WEB_FILES := $(shell find web -type f 2>/dev/null)
$(OUT)/web_assets.c: scripts/web_assets.sh $(WEB_FILES) web | $(OUT)
	scripts/web_assets.sh web > $@

$(OUT)/obj/web_assets.o: $(OUT)/web_assets.c user/api/ui.h
	@mkdir -p $(@D)
	$(CC) $(VS_CFLAGS) -c $< -o $@

$(OUT)/vsteer-demo: $(OUT)/obj/cmd/demo.o
	$(CC) $(VS_CFLAGS) $^ -o $@ -lmicrohttpd -lpthread

$(OUT)/unit_tests: $(UNIT_OBJS) $(UNIT_LIB_OBJS) $(CLI_OBJS)
	$(CC) $(VS_CFLAGS) $^ -o $@ $(LDLIBS)

# The data plane's program alone under BPF_PROG_TEST_RUN (tests/prog/).
PROG_OBJS := $(patsubst tests/prog/%.c,$(OUT)/prog/%.o,$(wildcard tests/prog/*.c)) $(CHECK_OBJ)

$(OUT)/prog/%.o: tests/prog/%.c $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(VS_CFLAGS) -Itests -c $< -o $@

# test_capture.c opens the data plane with the kernel adapter's own API.
PROG_LIB_OBJS := $(foreach l,lib core kernel,$(call obj_of,$(wildcard user/$(l)/*.c)))

$(OUT)/prog_tests: $(PROG_OBJS) $(PROG_LIB_OBJS)
	$(CC) $(VS_CFLAGS) $^ -o $@ -lbpf -lelf -lz -lpthread -lm

# The etcd client against a real etcd cluster (tests/store/; run by
# tests/e2e/fleet.py, which starts the cluster).
ETCD_TEST_OBJS := $(call obj_of,$(wildcard user/lib/*.c) user/codec/etcd.c $(wildcard user/store/*.c))

$(OUT)/etcd_tests: tests/store/etcd_tests.c $(CHECK_OBJ) $(ETCD_TEST_OBJS)
	$(CC) $(VS_CFLAGS) -Itests $^ -o $@ -ljansson -lcurl -lpthread

# The benchmark's load tools (tests/bench/): a connect-per-request client
# that records every connection, and the source-address shim for wrk.
$(OUT)/connloop: tests/bench/connloop.c | $(OUT)
	$(CC) $(VS_CFLAGS) $< -o $@ -lpthread

$(OUT)/libsrcaddr.so: tests/bench/srcaddr.c | $(OUT)
	$(CC) $(VS_CFLAGS) -shared -fPIC $< -o $@ -ldl

# The fault tests' shim: SIGKILL at the rename that commits a change.
$(OUT)/libkillat.so: tests/fault/killat.c | $(OUT)
	$(CC) $(VS_CFLAGS) -shared -fPIC $< -o $@ -ldl

# Man pages, from the scdoc sources in docs/man/ (Debian's scdoc), stamped
# with the version and dated by the last commit so a rebuild of the same
# tree gives the same page.
MANS := $(OUT)/man/vsteerd.8 $(OUT)/man/vsteer-demo.1 $(OUT)/man/vsteerctl.1
MAN_DATE := $(shell git log -1 --format=%ct 2>/dev/null)
man: $(MANS)

$(OUT)/man/%: docs/man/%.scd $(OUT)/version
	@mkdir -p $(@D)
	sed 's/@VERSION@/$(VERSION)/' $< | $(if $(MAN_DATE),SOURCE_DATE_EPOCH=$(MAN_DATE)) scdoc > $@

# make install [PREFIX=/usr/local] [DESTDIR=]: copies what `make` built and
# builds nothing, so `make && sudo make install` never compiles as root (a
# root make would see another version in git describe and rebuild). Units
# go to PREFIX/lib/systemd/system: /usr/local/lib/systemd/system and
# /usr/lib/systemd/system are both on systemd's unit path, and
# /etc/systemd/system is the administrator's, for overrides; the units
# name /usr/local/bin/, which becomes BINDIR. docs/operations.md#installing-vsteer
# lists the tree.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/lib/vsteer
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/vsteer
UNITDIR    ?= $(PREFIX)/lib/systemd/system
PUPPETDIR  ?= $(PREFIX)/share/puppet/modules
COMPLDIR   ?= $(PREFIX)/share/bash-completion/completions
SYSCONFDIR ?= /etc
UNITS      := $(notdir $(wildcard contrib/systemd/*.service contrib/systemd/*.mount))
# the pages, and their pictures (dashboard.png)
DOCS       := $(notdir $(wildcard docs/*.md docs/*.png))
# benchmarks.md's charts and the results it cites
DOC_BENCH  := $(notdir $(wildcard docs/bench/*.png docs/bench/*.json))
PUPPET_PP  := manifests/version.pp
# Prometheus' scrape config and alert rules, Grafana's dashboard
CONTRIB    := $(wildcard contrib/prometheus/*.yml contrib/grafana/*.json)
D          := $(DESTDIR)

install:
	@for f in $(OUT)/vsteerd $(OUT)/vsteer-demo $(OUT)/vsteerctl $(MANS); do [ -e "$$f" ] || { \
		echo "make install: $$f is missing: run make first, as your own user" \
		"(install builds nothing)" >&2; exit 1; }; done
	install -d $(D)$(BINDIR) $(D)$(LIBEXECDIR) $(D)$(MANDIR)/man1 $(D)$(MANDIR)/man8 \
		$(D)$(UNITDIR) $(D)$(DOCDIR)/docs/bench $(D)$(DOCDIR)/examples \
		$(D)$(DOCDIR)/contrib/prometheus $(D)$(DOCDIR)/contrib/grafana \
		$(D)$(PUPPETDIR)/vsteer/manifests $(D)$(COMPLDIR)
	install -m 0755 $(OUT)/vsteerd $(OUT)/vsteer-demo $(OUT)/vsteerctl $(D)$(BINDIR)/
	install -m 0644 contrib/bash-completion/vsteerctl $(D)$(COMPLDIR)/vsteerctl
	install -m 0644 $(OUT)/man/vsteerctl.1 $(D)$(MANDIR)/man1/
	install -m 0755 examples/deploy.sh $(D)$(LIBEXECDIR)/deploy.sh
	install -m 0644 $(OUT)/man/vsteer-demo.1 $(D)$(MANDIR)/man1/
	install -m 0644 $(OUT)/man/vsteerd.8 $(D)$(MANDIR)/man8/
	for u in $(UNITS); do sed 's|/usr/local/bin/|$(BINDIR)/|g' \
		contrib/systemd/$$u > $(D)$(UNITDIR)/$$u.tmp && chmod 0644 $(D)$(UNITDIR)/$$u.tmp && \
		mv $(D)$(UNITDIR)/$$u.tmp $(D)$(UNITDIR)/$$u || exit 1; done
	sed "s|'/usr/local/lib/vsteer/deploy.sh'|'$(LIBEXECDIR)/deploy.sh'|" \
		examples/puppet/modules/vsteer/$(PUPPET_PP) > $(D)$(PUPPETDIR)/vsteer/$(PUPPET_PP)
	install -m 0644 README.md $(D)$(DOCDIR)/
	install -m 0644 $(addprefix docs/,$(DOCS)) $(D)$(DOCDIR)/docs/
	install -m 0644 $(addprefix docs/bench/,$(DOC_BENCH)) $(D)$(DOCDIR)/docs/bench/
	install -m 0644 docker/vsteer.json $(D)$(DOCDIR)/examples/config.json
	for f in $(CONTRIB); do install -m 0644 $$f $(D)$(DOCDIR)/$$f || exit 1; done
	@# The example becomes the config only where there is none: a config
	@# of the administrator's is never overwritten.
	@if [ -e $(D)$(SYSCONFDIR)/vsteer/config.json ]; then \
		echo "make install: kept $(D)$(SYSCONFDIR)/vsteer/config.json" \
		"(the example is in $(D)$(DOCDIR)/examples/config.json)"; \
	else echo install -D -m 0644 docker/vsteer.json $(D)$(SYSCONFDIR)/vsteer/config.json; \
		install -D -m 0644 docker/vsteer.json $(D)$(SYSCONFDIR)/vsteer/config.json; fi
	@[ -n "$(DESTDIR)" ] || echo "make install: done; to run it as a service:" \
		"systemctl daemon-reload && systemctl enable --now vsteerd"

# Removes what install put there: the config only if it is still the
# example unchanged, and vsteer's own directories once empty; shared ones
# (bin, man8, the unit directory) stay.
uninstall:
	rm -f $(D)$(BINDIR)/vsteerd $(D)$(BINDIR)/vsteer-demo $(D)$(LIBEXECDIR)/deploy.sh \
		$(D)$(MANDIR)/man1/vsteer-demo.1 $(D)$(MANDIR)/man8/vsteerd.8 \
		$(D)$(BINDIR)/vsteerctl $(D)$(MANDIR)/man1/vsteerctl.1 $(D)$(COMPLDIR)/vsteerctl \
		$(addprefix $(D)$(UNITDIR)/,$(UNITS)) $(D)$(PUPPETDIR)/vsteer/$(PUPPET_PP) \
		$(D)$(DOCDIR)/README.md $(addprefix $(D)$(DOCDIR)/docs/,$(DOCS)) \
		$(addprefix $(D)$(DOCDIR)/docs/bench/,$(DOC_BENCH)) \
		$(D)$(DOCDIR)/examples/config.json $(addprefix $(D)$(DOCDIR)/,$(CONTRIB))
	@c=$(D)$(SYSCONFDIR)/vsteer/config.json; \
	if cmp -s docker/vsteer.json "$$c"; then echo rm -f "$$c"; rm -f "$$c"; \
	elif [ -e "$$c" ]; then echo "make uninstall: kept $$c (not the example: yours)"; fi
	for d in $(LIBEXECDIR) $(DOCDIR)/docs/bench $(DOCDIR)/docs $(DOCDIR)/examples \
		$(DOCDIR)/contrib/prometheus $(DOCDIR)/contrib/grafana $(DOCDIR)/contrib $(DOCDIR) \
		$(PUPPETDIR)/vsteer/manifests $(PUPPETDIR)/vsteer $(SYSCONFDIR)/vsteer; do \
		[ ! -d $(D)$$d ] || rmdir --ignore-fail-on-non-empty $(D)$$d || exit 1; done

# One idempotent step that installs every package the build, the tests and
# the demo need, and mounts bpffs if it is missing.
deps:
	scripts/deps.sh

# The unit tests and the layout check: no root, no kernel, seconds.
check: $(OUT)/unit_tests
	tests/run unit
	tests/run layers

# Style: C as .clang-format says (kernel style), shellcheck, pyflakes
# (tests/lint.sh; CI runs them through tests/run --all).
C_SOURCES := $(shell git ls-files '*.c' '*.h' 2>/dev/null | grep -v '^bpf/vmlinux.h$$')
format:
	clang-format -i $(C_SOURCES)

format-check:
	@out=$$(for f in $(C_SOURCES); do clang-format "$$f" | diff -u "$$f" - ; done); \
	if [ -n "$$out" ]; then echo "$$out"; \
	echo "format-check: the files above differ from clang-format's output (make format)"; \
	exit 1; fi

lint:
	tests/lint.sh all

# The sanitizer build: vsteerd and the unit tests under AddressSanitizer
# and UndefinedBehaviorSanitizer, built by clang, in build-san/.
san:
	$(MAKE) OUT=build-san CC=clang SANITIZE=address,undefined all

# libFuzzer targets (clang), in build-fuzz/: the config parser, the bodies
# of every mutating endpoint, the URL router, the mirror's body comparison,
# settings, reassembly and HTTP/1 framing, vsteerctl's arguments and screen,
# etcd's replies.
# Seed corpora in fuzz/corpus/.
FUZZERS := config requests router jdiff http1 cli etcd
fuzz:
	$(MAKE) OUT=build-fuzz CC=clang SANITIZE=address,undefined,fuzzer-no-link fuzzers

fuzzers: $(patsubst %,$(OUT)/fuzz_%,$(FUZZERS))

$(OUT)/fuzz_%: fuzz/fuzz_%.c $(LIB_OBJS)
	$(CC) $(VS_CFLAGS) -fsanitize=fuzzer $^ -o $@ $(LDLIBS)

$(OUT)/fuzz_cli: $(CLI_OBJS)

# Everything: unit tests (plain and under valgrind), then the end-to-end
# suite against the plain build and again against the sanitizer build.
test: all san fuzz
	tests/run --all

demo: all
	scripts/demo.sh

# vsteer against direct, HAProxy and NGINX (tests/bench/README.md):
# make bench [BENCH_ARGS=--quick]; installs what it needs first.
bench:
	scripts/deps.sh bench $(BENCH_ARGS)

# The end-to-end tests on another kernel in a KVM guest (vm/kernel-test.sh):
# Debian 12's 6.1 by default, KERNEL=linux-image-... for another package;
# PATTERN=prog: the program tests alone (every BPF object loaded), minutes.
kernel-test:
	scripts/deps.sh vm "$(KERNEL)" $(PATTERN)

# The 30-minute saturation test alone.
soak:
	scripts/deps.sh bench --only soak --soak-minutes 30

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > bpf/vmlinux.h

clean:
	rm -rf $(OUT) build-san build-fuzz

FORCE:

.PHONY: all man install uninstall san fuzz fuzzers deps check format format-check lint test demo \
	bench soak kernel-test vmlinux clean FORCE
.DELETE_ON_ERROR:
.SECONDARY:

# The dependencies -MMD wrote (build/vm/ holds a guest's root file system,
# with directories called *.d: name the files, do not search for them).
-include $(patsubst %.o,%.d,$(LIB_OBJS) $(UNIT_OBJS) $(PROG_OBJS) $(CLI_OBJS) \
	$(OUT)/obj/cmd/vsteerd.o $(OUT)/obj/cmd/demo.o $(OUT)/obj/cmd/vsteerctl.o) $(wildcard $(OUT)/*.bpf.d)
