// SPDX-License-Identifier: GPL-2.0
/*
 * kmmu_hostinfo: what this host is, as the result files record it.
 *
 *   kmmu_hostinfo          the host block as JSON (kmmu_host_write_json())
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
	return kmmu_host_write_json(stdout, &host, host.kvm_available ? NULL : why) ? 1 : 0;
}
