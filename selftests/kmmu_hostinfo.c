// SPDX-License-Identifier: GPL-2.0
/*
 * kmmu_hostinfo: what this host is, as the result files record it.
 *
 *   kmmu_hostinfo          the host block as JSON
 *   kmmu_hostinfo --line   one line (kmmu_host_format_line())
 *
 * The host probe (tracing/host_probe.c) with what only the KVM device
 * tells: whether it opens and the memslot limit (KVM_CHECK_EXTENSION).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kmmu/kvm_vm.h"
#include "kmmu/result.h"

static void json_str(const char *key, const char *v, bool last)
{
	const char *p;

	printf("  \"%s\": \"", key);
	for (p = v; *p; p++) {
		unsigned char ch = *p;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	printf("\"%s\n", last ? "" : ",");
}

static void json_tristate(const char *key, int v)
{
	if (v < 0)
		printf("  \"%s\": null,\n", key);
	else
		printf("  \"%s\": %s,\n", key, v ? "true" : "false");
}

int main(int argc, char **argv)
{
	struct kmmu_host host;
	char why[256], line[512];
	bool as_line = false;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--line")) {
			as_line = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: %s [--line]\n", argv[0]);
			return 0;
		} else {
			fprintf(stderr, "%s: unknown argument '%s'\n", argv[0], argv[i]);
			return 2;
		}
	}
	kmmu_host_probe_kvm(&host, why, sizeof(why));
	if (as_line) {
		kmmu_host_format_line(&host, line, sizeof(line));
		printf("%s\n", line);
		return 0;
	}
	printf("{\n");
	json_str("kernel_release", host.kernel_release, false);
	json_str("kvm_backend", host.kvm_backend, false);
	printf("  \"kvm_available\": %s,\n", host.kvm_available ? "true" : "false");
	if (!host.kvm_available)
		json_str("kvm_unavailable_reason", why, false);
	json_tristate("tdp", host.tdp);
	json_tristate("tdp_mmu", host.tdp_mmu);
	json_tristate("mmio_caching", host.mmio_caching);
	if (host.nr_memslots >= 0)
		printf("  \"nr_memslots\": %ld,\n", host.nr_memslots);
	else
		printf("  \"nr_memslots\": null,\n");
	printf("  \"cpus\": %d,\n", host.cpus);
	printf("  \"numa_nodes\": %d,\n", host.numa_nodes);
	printf("  \"memory_bytes\": %llu,\n", host.memory_bytes);
	json_str("hostname", host.hostname, true);
	printf("}\n");
	return 0;
}
