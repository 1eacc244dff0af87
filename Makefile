# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# BPF objects -> bpftool skeletons -> user space, as libbpf-bootstrap does.
# Everything built lands in build/.

CLANG   ?= clang
CC      ?= cc
BPFTOOL ?= bpftool
OUT     := build
ARCH    := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

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
	   -Iinclude -Iuser -I$(OUT)
ifneq ($(findstring clang,$(CC)),)
VS_CFLAGS += -Wno-unknown-warning-option
endif
ifneq ($(SANITIZE),)
VS_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
VS_CFLAGS += $(CFLAGS)
LDLIBS  := -lbpf -lelf -lz -lmicrohttpd -ljansson -lpthread -lm

SKELS   := $(OUT)/steer.skel.h $(OUT)/scan.skel.h $(OUT)/track.skel.h $(OUT)/http.skel.h

# Controller library: everything but main and the HTTP glue, shared by
# vsteerd and the unit tests.
LIB_SRCS := user/log.c user/util.c user/addr.c user/version.c user/model.c \
	user/parse.c user/config.c user/state.c user/rollout.c user/request.c user/stats.c user/judge.c user/sockets.c user/health.c user/ctl.c user/views.c user/api.c \
	user/dataplane.c user/auth.c user/probe.c
LIB_OBJS := $(patsubst user/%.c,$(OUT)/%.o,$(LIB_SRCS))

all: $(OUT)/vsteerd $(OUT)/vsteer-demo $(OUT)/unit_tests
ifeq ($(SANITIZE),)
all: $(OUT)/connloop $(OUT)/libsrcaddr.so $(OUT)/libkillat.so
endif

$(OUT):
	@mkdir -p $@

HEADERS := include/vsteer.h include/vsteer_hash.h include/vsteer_hist.h

$(OUT)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(HEADERS) | $(OUT)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

$(OUT)/dataplane.o: $(SKELS)

$(OUT)/%.o: user/%.c $(wildcard user/*.h) $(HEADERS) | $(OUT)
	$(CC) $(VS_CFLAGS) -c $< -o $@

# The unit tests: harness, shared fixtures and one file per area.
UNIT_OBJS := $(patsubst tests/unit/%.c,$(OUT)/unit/%.o,$(wildcard tests/unit/*.c))

$(OUT)/unit:
	@mkdir -p $@

$(OUT)/unit/%.o: tests/unit/%.c $(wildcard tests/unit/*.h) $(wildcard user/*.h) $(HEADERS) | $(OUT)/unit
	$(CC) $(VS_CFLAGS) -c $< -o $@

$(OUT)/vsteerd: $(OUT)/vsteerd.o $(OUT)/http.o $(LIB_OBJS)
	$(CC) $(VS_CFLAGS) $^ -o $@ $(LDLIBS)

$(OUT)/vsteer-demo: $(OUT)/demo.o
	$(CC) $(VS_CFLAGS) $^ -o $@ -lmicrohttpd -lpthread

$(OUT)/unit_tests: $(UNIT_OBJS) $(LIB_OBJS)
	$(CC) $(VS_CFLAGS) $^ -o $@ $(LDLIBS)

# The benchmark's load tools (tests/bench/): a connect-per-request client
# that records every connection, and the source-address shim for wrk.
$(OUT)/connloop: tests/bench/connloop.c | $(OUT)
	$(CC) $(VS_CFLAGS) $< -o $@ -lpthread

$(OUT)/libsrcaddr.so: tests/bench/srcaddr.c | $(OUT)
	$(CC) $(VS_CFLAGS) -shared -fPIC $< -o $@ -ldl

# The fault tests' shim: SIGKILL at the rename that commits a change.
$(OUT)/libkillat.so: tests/fault/killat.c | $(OUT)
	$(CC) $(VS_CFLAGS) -shared -fPIC $< -o $@ -ldl

# One idempotent step that installs every package the build, the tests and
# the demo need, and mounts bpffs if it is missing.
deps:
	scripts/deps.sh

# The sanitizer build: vsteerd and the unit tests under AddressSanitizer
# and UndefinedBehaviorSanitizer, built by clang, in build-san/.
san:
	$(MAKE) OUT=build-san CC=clang SANITIZE=address,undefined all

# libFuzzer targets (clang), in build-fuzz/: the config parser, the bodies
# of every mutating endpoint, the URL router. Seed corpora in fuzz/corpus/.
FUZZERS := config requests router
fuzz:
	$(MAKE) OUT=build-fuzz CC=clang SANITIZE=address,undefined,fuzzer-no-link fuzzers

fuzzers: $(patsubst %,$(OUT)/fuzz_%,$(FUZZERS))

$(OUT)/fuzz_%: fuzz/fuzz_%.c $(LIB_OBJS)
	$(CC) $(VS_CFLAGS) -fsanitize=fuzzer $^ -o $@ $(LDLIBS)

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
# Debian 12's 6.1 by default, KERNEL=linux-image-... for another package.
kernel-test:
	scripts/deps.sh vm $(KERNEL)

# The 30-minute saturation test alone.
soak:
	scripts/deps.sh bench --only soak --soak-minutes 30

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > bpf/vmlinux.h

clean:
	rm -rf $(OUT) build-san build-fuzz

.PHONY: all san fuzz fuzzers deps test demo bench soak kernel-test vmlinux clean
.DELETE_ON_ERROR:
.SECONDARY:
