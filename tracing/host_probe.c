// SPDX-License-Identifier: GPL-2.0
/*
 * The host/KVM probe (kmmu/host_probe.h): sysfs, procfs and the KVM device.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "kmmu/ctl_file.h"
#include "kmmu/host_probe.h"

const char *kmmu_kvm_dev_path(void)
{
	const char *p = getenv("KMMU_KVM_DEV");

	return p && *p ? p : "/dev/kvm";
}

int kmmu_kvm_open(char *why, size_t len)
{
	const char *path = kmmu_kvm_dev_path();
	int fd, v, e;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		snprintf(why, len, "cannot open %s: %s", path, strerror(e));
		return -e;
	}
	v = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		e = v < 0 ? errno : EINVAL;
		snprintf(why, len, "%s: KVM_GET_API_VERSION gave %d (%s), want %d",
			 path, v, v < 0 ? strerror(e) : "mismatch", KVM_API_VERSION);
		close(fd);
		return -e;
	}
	return fd;
}

long kmmu_kvm_cap(int fd, long cap)
{
	long r = ioctl(fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? -errno : r;
}

/* The vendor module that registered, not the CPU flags: PVM has none. */
const char *kmmu_kvm_backend(void)
{
	static const struct {
		const char *path, *name;
	} b[] = {
		{ "/sys/module/kvm_intel", "vmx" },
		{ "/sys/module/kvm_amd", "svm" },
		{ "/sys/module/kvm_pvm", "pvm" },
	};
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(b) / sizeof(b[0]); i++)
		if (!stat(b[i].path, &st))
			return b[i].name;
	return "none";
}

/* A Y/N module parameter: 1, 0, or -1 where it cannot be read. */
static int read_bool_param(const char *path)
{
	char buf[16];

	if (kmmu_ctl_read(path, buf, sizeof(buf)) || !buf[0])
		return -1;
	return buf[0] == 'Y' || buf[0] == 'y' || buf[0] == '1';
}

static int count_numa_nodes(void)
{
	char buf[256];
	int nodes = 0;
	char *p = buf;

	/* "0" or "0-3" or "0,2-3" */
	if (kmmu_ctl_read("/sys/devices/system/node/online", buf, sizeof(buf)))
		return 1;
	while (*p) {
		long lo = strtol(p, &p, 10), hi = lo;

		if (*p == '-')
			hi = strtol(p + 1, &p, 10);
		nodes += hi - lo + 1;
		if (*p == ',')
			p++;
		else
			break;
	}
	return nodes > 0 ? nodes : 1;
}

/* The kernel's command line, one line; "" where /proc/cmdline cannot be read. */
static void read_kernel_cmdline(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cmdline", "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (!fgets(buf, len, f))
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

void kmmu_host_probe(struct kmmu_host *host)
{
	struct utsname uts;
	struct sysinfo si;
	int fd;

	memset(host, 0, sizeof(*host));
	snprintf(host->kernel_release, sizeof(host->kernel_release), "unknown");
	if (!uname(&uts)) {
		snprintf(host->kernel_release, sizeof(host->kernel_release), "%s", uts.release);
		snprintf(host->hostname, sizeof(host->hostname), "%.63s", uts.nodename);
	}
	read_kernel_cmdline(host->kernel_cmdline, sizeof(host->kernel_cmdline));
	snprintf(host->kvm_backend, sizeof(host->kvm_backend), "%s", kmmu_kvm_backend());

	fd = open(kmmu_kvm_dev_path(), O_RDWR | O_CLOEXEC);
	host->kvm_available = fd >= 0;
	if (fd >= 0)
		close(fd);

	/*
	 * tdp_mmu=Y says nothing when the vendor module runs without EPT/NPT:
	 * KVM then shadows the guest's page tables.  PVM has no TDP at all.
	 */
	if (!strcmp(host->kvm_backend, "vmx"))
		host->tdp = read_bool_param("/sys/module/kvm_intel/parameters/ept");
	else if (!strcmp(host->kvm_backend, "svm"))
		host->tdp = read_bool_param("/sys/module/kvm_amd/parameters/npt");
	else if (!strcmp(host->kvm_backend, "pvm"))
		host->tdp = 0;
	else
		host->tdp = -1;
	host->tdp_mmu = read_bool_param("/sys/module/kvm/parameters/tdp_mmu");
	host->mmio_caching = read_bool_param("/sys/module/kvm/parameters/mmio_caching");
	host->nr_memslots = -1;
	host->cpus = sysconf(_SC_NPROCESSORS_ONLN);
	host->numa_nodes = count_numa_nodes();
	if (!sysinfo(&si))
		host->memory_bytes = (unsigned long long)si.totalram * si.mem_unit;
}

int kmmu_host_probe_kvm(struct kmmu_host *host, char *why, size_t len)
{
	long n;
	int fd;

	kmmu_host_probe(host);
	fd = kmmu_kvm_open(why, len);
	host->kvm_available = fd >= 0;
	if (fd < 0)
		return -1;
	n = kmmu_kvm_cap(fd, KVM_CAP_NR_MEMSLOTS);
	host->nr_memslots = n > 0 ? n : -1;
	close(fd);
	return 0;
}

struct kmmu_result *kmmu_result_new(const char *program)
{
	struct kmmu_host host;

	kmmu_host_probe(&host);
	return kmmu_result_create(program, &host);
}
