// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Every BPF object of the build loads on the running kernel, each the way
 * vsteerd loads it: a verifier that rejects one (an older kernel's, which
 * tracks fewer bounds) fails a case of its own, and the case's line says
 * why in the verifier's words. With `vm/kernel-test.sh PACKAGE prog` that
 * takes under two minutes per kernel, emulated, against about an hour for
 * the whole suite.
 *
 * As vsteerd does (user/kernel/dp.c, user/kernel/features.c), a tracing
 * program whose tracepoint this kernel lacks is not loaded (it is a
 * feature the kernel lacks, not a program it rejects), and the TC meter is
 * loaded in both forms: classes only, and measuring responses, as on
 * kernels without sock_send_length. Maps are created afresh: nothing is
 * pinned, nothing of a running vsteerd is touched. steer.bpf.o is loaded by
 * test_lookup.c's setup, which the program tests then run.
 */
#include <errno.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "scan.skel.h"
#include "track.skel.h"
#include "http.skel.h"
#include "drain.skel.h"
#include "drain_list.skel.h"
#include "connect.skel.h"
#include "nat.skel.h"

#include "check.h"
#include "load.h"

/* Big enough for the path that failed (6.1's log at level 1 keeps only
 * that one), with room: a full log fails the load with ENOSPC. */
static char log_buf[1 << 22];

struct bpf_object_open_opts load_log_opts = {
	.sz = sizeof(struct bpf_object_open_opts),
	.kernel_log_buf = log_buf,
	.kernel_log_size = sizeof(log_buf),
};

const char *load_failed(const char *name)
{
	static char verdict[512];
	char *end = strstr(log_buf, "\nprocessed "), *why, *insn;

	if (!log_buf[0])
		return "no verifier log";
	fprintf(stderr, "-- %s: the verifier's log --\n%s-- end --\n", name, log_buf);
	if (!end)
		end = log_buf + strlen(log_buf);
	while (end > log_buf && end[-1] == '\n')
		end--;
	for (why = end; why > log_buf && why[-1] != '\n'; why--)
		;
	/* The instruction it stopped at, when the line before is one. */
	for (insn = why > log_buf ? why - 1 : why; insn > log_buf && insn[-1] != '\n'; insn--)
		;
	if (insn < why && *insn >= '0' && *insn <= '9')
		snprintf(verdict, sizeof(verdict), "%.*s: %.*s", (int)(why - 1 - insn), insn,
			 (int)(end - why), why);
	else
		snprintf(verdict, sizeof(verdict), "%.*s", (int)(end - why), why);
	log_buf[0] = '\0';
	return verdict;
}

/* Load obj with maps of its own; on failure 'why' says what failed, in
 * the verifier's words if it got that far. 0 or -errno. */
static int load(struct bpf_object *obj, char *why, size_t len)
{
	struct bpf_map *map;
	int err;

	bpf_object__for_each_map (map, obj)
		bpf_map__set_pin_path(map, NULL);
	err = bpf_object__load(obj);
	if (err)
		snprintf(why, len, "%s: %s: %s", bpf_object__name(obj), strerror(-err),
			 load_failed(bpf_object__name(obj)));
	return err;
}

static void case_scan(const void *arg)
{
	struct scan_bpf *skel = scan_bpf__open_opts(&load_log_opts);
	char why[768];
	int err;

	(void)arg;
	CHECK(skel, "scan_bpf__open: %s", strerror(errno));
	err = load(skel->obj, why, sizeof(why));
	scan_bpf__destroy(skel);
	CHECK(err == 0, "%s", why);
}

/* Whether this kernel has the hook of p: false only for a tp_btf
 * program whose tracepoint it lacks. */
static bool has_tracepoint(const struct bpf_program *p)
{
	const char *sec = bpf_program__section_name(p);

	return strncmp(sec, "tp_btf/", 7) ||
	       libbpf_find_vmlinux_btf_id(sec + 7, BPF_TRACE_RAW_TP) >= 0;
}

static void case_track(const void *arg)
{
	struct track_bpf *skel = track_bpf__open_opts(&load_log_opts);
	struct bpf_program *p;
	char why[768];
	int err, n = 0;

	(void)arg;
	CHECK(skel, "track_bpf__open: %s", strerror(errno));
	bpf_object__for_each_program (p, skel->obj) {
		if (has_tracepoint(p)) {
			n++;
			continue;
		}
		bpf_program__set_autoload(p, false);
		printf("# track: %s not loaded: no tracepoint %s on this kernel\n",
		       bpf_program__name(p), bpf_program__section_name(p));
	}
	err = load(skel->obj, why, sizeof(why));
	track_bpf__destroy(skel);
	CHECK(err == 0, "%s", why);
	/* Without the connection tracker's tracepoint vsteerd refuses to
	 * start: a kernel where nothing loaded proves nothing. */
	CHECK(n > 0, "no program of track.bpf.o has its tracepoint here");
}

static void case_http(const void *arg)
{
	struct http_bpf *skel = http_bpf__open_opts(&load_log_opts);
	char why[768];
	int err;

	CHECK(skel, "http_bpf__open: %s", strerror(errno));
	skel->rodata->meter_resp = *(const __u8 *)arg;
	err = load(skel->obj, why, sizeof(why));
	http_bpf__destroy(skel);
	CHECK(err == 0, "%s", why);
}

/* As vsteerd (features.c): the closing drain needs the bpf_sock_destroy
 * kfunc (Linux 6.5); without it vsteerd loads the listing one only. */
static bool has_sock_destroy(void)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	bool has;

	if (libbpf_get_error(vmlinux))
		return false;
	has = btf__find_by_name_kind(vmlinux, "bpf_sock_destroy", BTF_KIND_FUNC) >= 0;
	btf__free(vmlinux);
	return has;
}

static void case_drain(const void *arg)
{
	struct drain_bpf *skel;
	char why[768];
	int err;

	(void)arg;
	if (!has_sock_destroy()) {
		printf("# drain: not loaded: no bpf_sock_destroy on this kernel (drain_list is used)\n");
		return;
	}
	skel = drain_bpf__open_opts(&load_log_opts);
	CHECK(skel, "drain_bpf__open: %s", strerror(errno));
	err = load(skel->obj, why, sizeof(why));
	drain_bpf__destroy(skel);
	CHECK(err == 0, "%s", why);
}

static void case_drain_list(const void *arg)
{
	struct drain_list_bpf *skel = drain_list_bpf__open_opts(&load_log_opts);
	char why[768];
	int err;

	(void)arg;
	CHECK(skel, "drain_list_bpf__open: %s", strerror(errno));
	err = load(skel->obj, why, sizeof(why));
	drain_list_bpf__destroy(skel);
	CHECK(err == 0, "%s", why);
}

/* The connect hook: loaded by vsteerd only once a version is steered by
 * address, so only a test would notice that it stopped loading. */
static void case_connect(const void *arg)
{
	struct connect_bpf *skel = connect_bpf__open_opts(&load_log_opts);
	char why[768];
	int err;

	(void)arg;
	CHECK(skel, "connect_bpf__open: %s", strerror(errno));
	err = load(skel->obj, why, sizeof(why));
	connect_bpf__destroy(skel);
	CHECK(err == 0, "%s", why);
}

/* The packet steering: loaded, as the connect hook, only once needed. */
static void case_nat(const void *arg)
{
	struct nat_bpf *skel = nat_bpf__open_opts(&load_log_opts);
	char why[768];
	int err;

	(void)arg;
	CHECK(skel, "nat_bpf__open: %s", strerror(errno));
	err = load(skel->obj, why, sizeof(why));
	nat_bpf__destroy(skel);
	CHECK(err == 0, "%s", why);
}

/* The objects that have a case; a new one needs its own. */
static const char *const covered[] = { "steer", "scan",	      "track",	 "http",
				       "drain", "drain_list", "connect", "nat" };

static void case_all_covered(const void *arg)
{
	char exe[PATH_MAX], pat[PATH_MAX + 16];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	glob_t g;
	size_t found = 0;

	(void)arg;
	CHECK(n > 0, "readlink /proc/self/exe: %s", strerror(errno));
	exe[n] = '\0';
	snprintf(pat, sizeof(pat), "%s/*.bpf.o", dirname(exe));
	CHECK(glob(pat, 0, NULL, &g) == 0, "no %s", pat);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *name = strrchr(g.gl_pathv[i], '/') + 1;
		bool known = false;

		for (size_t k = 0; k < sizeof(covered) / sizeof(covered[0]); k++)
			if (!strncmp(name, covered[k], strlen(covered[k])) &&
			    !strcmp(name + strlen(covered[k]), ".bpf.o"))
				known = true;
		found += known;
		if (!known) {
			fail_at(__LINE__, "%s has no load case in tests/prog/test_load.c", name);
			break;
		}
	}
	globfree(&g);
	CHECK_INT(found, ==, sizeof(covered) / sizeof(covered[0]));
}

void load_cases(void)
{
	static const __u8 classes = 0, responses = 1;

	check_run("load: scan.bpf.o, the TCP iterators", case_scan, NULL, NULL);
	check_run("load: track.bpf.o, the tracepoints this kernel has", case_track, NULL, NULL);
	check_run("load: http.bpf.o, status classes (sock_send_length measures)", case_http,
		  &classes, NULL);
	check_run("load: http.bpf.o, measuring responses too (no sock_send_length)", case_http,
		  &responses, NULL);
	check_run("load: drain.bpf.o, closing idle connections (bpf_sock_destroy)", case_drain,
		  NULL, NULL);
	check_run("load: drain_list.bpf.o, listing idle connections", case_drain_list, NULL, NULL);
	check_run("load: connect.bpf.o, steering local clients by address", case_connect, NULL,
		  NULL);
	check_run("load: nat.bpf.o, steering remote clients' packets by address", case_nat, NULL,
		  NULL);
	check_run("load: every object of the build has a load case", case_all_covered, NULL, NULL);
}
