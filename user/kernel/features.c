// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "lib/compiler.h"
#include "kernel/features.h"
#include "kernel/sock_diag.h"

enum probe_kind { PROG_TYPE, MAP_TYPE, HELPER, BTF_TYPE, BTF_FILE, BTF_FUNC, SOCK_DIAG };

/* clang-format off */
static const struct {
	const char *name, *what, *since;
	bool core;
	enum probe_kind kind;
	int id;			/* prog or map type, or helper (with prog_type) */
	int prog_type;
	const char *btf_name;	/* BTF_TYPE: a struct or typedef in vmlinux;
				 * BTF_FUNC: a kernel function (a kfunc) */
	bool drain;		/* only drain deadlines use it */
} probes[] = {
	{ "btf", "kernel types for CO-RE and BTF tracepoints (/sys/kernel/btf/vmlinux)",
	  "5.4", true, BTF_FILE, 0, 0, NULL, false },
	{ "sk_lookup", "steering each new connection (BPF_PROG_TYPE_SK_LOOKUP)",
	  "5.9", true, PROG_TYPE, BPF_PROG_TYPE_SK_LOOKUP, 0, NULL, false },
	{ "sk_assign", "handing the SYN to a chosen socket (bpf_sk_assign in sk_lookup)",
	  "5.9", true, HELPER, BPF_FUNC_sk_assign, BPF_PROG_TYPE_SK_LOOKUP, NULL, false },
	{ "sockmap", "the versions' listening sockets (BPF_MAP_TYPE_SOCKMAP)",
	  "4.14", true, MAP_TYPE, BPF_MAP_TYPE_SOCKMAP, 0, NULL, false },
	{ "sk_storage", "a connection's version, cloned from its listener (BPF_MAP_TYPE_SK_STORAGE)",
	  "5.2", true, MAP_TYPE, BPF_MAP_TYPE_SK_STORAGE, 0, NULL, false },
	{ "iter_tcp", "finding backends' listening sockets (iter/tcp)",
	  "5.9", true, BTF_TYPE, 0, 0, "bpf_iter__tcp", false },
	{ "tp_inet_sock_set_state", "open connections per version and session (tp_btf)",
	  "5.5", true, BTF_TYPE, 0, 0, "btf_trace_inet_sock_set_state", false },
	{ "tp_tcp_probe", "request arrival (tp_btf/tcp_probe)",
	  "5.5", false, BTF_TYPE, 0, 0, "btf_trace_tcp_probe", false },
	{ "tp_sock_send_length", "response start and size (tp_btf/sock_send_length; without it the TC egress program measures them)",
	  "6.3", false, BTF_TYPE, 0, 0, "btf_trace_sock_send_length", false },
	{ "tp_tcp_send_reset", "resets sent by backends (tp_btf/tcp_send_reset)",
	  "5.5", false, BTF_TYPE, 0, 0, "btf_trace_tcp_send_reset", false },
	{ "tc", "HTTP status classes, and responses where sock_send_length is missing (BPF_PROG_TYPE_SCHED_CLS)",
	  "4.1", false, PROG_TYPE, BPF_PROG_TYPE_SCHED_CLS, 0, NULL, false },
	{ "sock_destroy", "closing idle connections at a drain deadline in the socket iterator, under the socket lock (bpf_sock_destroy)",
	  "6.5", false, BTF_FUNC, 0, 0, "bpf_sock_destroy", true },
	{ "sock_diag_destroy", "closing them from vsteerd where bpf_sock_destroy is missing (netlink SOCK_DESTROY, CONFIG_INET_DIAG_DESTROY)",
	  "4.5", false, SOCK_DIAG, 0, 0, NULL, true },
};
/* clang-format on */

_Static_assert(ARRAY_SIZE(probes) <=
		       sizeof(((struct vs_features *)0)->f) / sizeof(struct vs_feature),
	       "room for every probe");

/* libbpf's probes answer "not supported" when bpf() itself is refused
 * (no CAP_BPF, or a container's seccomp filter): tell the two apart with a
 * program every kernel has. */
static int bpf_usable(void)
{
	/* clang-format off */
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	/* clang-format on */
	int fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, NULL, "GPL", insns, 2, NULL);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* VSTEER_PRETEND_MISSING=name,name: the tests' way to see how vsteerd
 * behaves on a kernel without those features. */
static void pretend_missing(struct vs_features *fs)
{
	const char *env = getenv("VSTEER_PRETEND_MISSING");

	for (unsigned int i = 0; env && i < fs->n; i++) {
		size_t len = strlen(fs->f[i].name);

		for (const char *p = env; (p = strstr(p, fs->f[i].name)); p += len)
			if ((p == env || p[-1] == ',') && (p[len] == ',' || !p[len]))
				fs->f[i].ok = false;
	}
}

int features_probe(struct vs_features *fs)
{
	struct btf *vmlinux = NULL;
	struct utsname u;

	memset(fs, 0, sizeof(*fs));
	if (uname(&u) == 0)
		snprintf(fs->kernel, sizeof(fs->kernel), "%s", u.release);
	fs->bpf_err = bpf_usable();
	if (access("/sys/kernel/btf/vmlinux", R_OK) == 0) {
		vmlinux = btf__load_vmlinux_btf();
		if (libbpf_get_error(vmlinux))
			vmlinux = NULL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(probes); i++) {
		struct vs_feature *f = &fs->f[fs->n++];

		f->name = probes[i].name;
		f->what = probes[i].what;
		f->since = probes[i].since;
		f->core = probes[i].core;
		f->drain = probes[i].drain;
		switch (probes[i].kind) {
		case BTF_FILE:
			f->ok = vmlinux != NULL;
			break;
		case PROG_TYPE:
			f->ok = libbpf_probe_bpf_prog_type(probes[i].id, NULL) == 1;
			break;
		case MAP_TYPE:
			f->ok = libbpf_probe_bpf_map_type(probes[i].id, NULL) == 1;
			break;
		case HELPER:
			f->ok = libbpf_probe_bpf_helper(probes[i].prog_type, probes[i].id, NULL) ==
				1;
			break;
		case BTF_TYPE:
			f->ok = vmlinux && (btf__find_by_name_kind(vmlinux, probes[i].btf_name,
								   BTF_KIND_STRUCT) >= 0 ||
					    btf__find_by_name_kind(vmlinux, probes[i].btf_name,
								   BTF_KIND_TYPEDEF) >= 0);
			break;
		case BTF_FUNC:
			f->ok = vmlinux && btf__find_by_name_kind(vmlinux, probes[i].btf_name,
								  BTF_KIND_FUNC) >= 0;
			break;
		case SOCK_DIAG:
			f->ok = sock_diag_probe() == 0;
			break;
		}
	}
	btf__free(vmlinux);
	pretend_missing(fs);
	return 0;
}

bool features_ok(const struct vs_features *fs, const char *name)
{
	for (unsigned int i = 0; i < fs->n; i++)
		if (!strcmp(fs->f[i].name, name))
			return fs->f[i].ok;
	return false;
}

static const struct vs_feature *first_missing(const struct vs_features *fs, bool core)
{
	for (unsigned int i = 0; i < fs->n; i++) {
		/* The TC program stands in for it. */
		if (!strcmp(fs->f[i].name, "tp_sock_send_length") && features_ok(fs, "tc"))
			continue;
		if (fs->f[i].core == core && !fs->f[i].drain && !fs->f[i].ok)
			return &fs->f[i];
	}
	return NULL;
}

const struct vs_feature *features_core_missing(const struct vs_features *fs)
{
	return first_missing(fs, true);
}

const struct vs_feature *features_meter_missing(const struct vs_features *fs)
{
	return first_missing(fs, false);
}
