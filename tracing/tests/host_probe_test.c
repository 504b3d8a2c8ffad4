// SPDX-License-Identifier: GPL-2.0
/*
 * The host/KVM probe without KVM: the device path and its open errors (the
 * SKIP path), the backend, and a probe that names this host.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "kselftest_harness.h"
#include "kmmu/host_probe.h"

TEST(kvm_dev_path_and_open_errors)
{
	char why[256];

	unsetenv("KMMU_KVM_DEV");
	ASSERT_STREQ("/dev/kvm", kmmu_kvm_dev_path());
	setenv("KMMU_KVM_DEV", "/nonexistent/kvm", 1);
	ASSERT_STREQ("/nonexistent/kvm", kmmu_kvm_dev_path());
	ASSERT_EQ(-ENOENT, kmmu_kvm_open(why, sizeof(why)));
	ASSERT_NE(NULL, strstr(why, "/nonexistent/kvm"));
	/* Opens, but is not KVM: the API version ioctl fails. */
	setenv("KMMU_KVM_DEV", "/dev/null", 1);
	ASSERT_GT(0, kmmu_kvm_open(why, sizeof(why)));
	ASSERT_NE(NULL, strstr(why, "KVM_GET_API_VERSION"));
	unsetenv("KMMU_KVM_DEV");
}

TEST(backend)
{
	const char *b = kmmu_kvm_backend();

	ASSERT_TRUE(!strcmp(b, "vmx") || !strcmp(b, "svm") || !strcmp(b, "pvm") ||
		    !strcmp(b, "none"));
	TH_LOG("backend here: %s", b);
}

TEST(probe_describes_this_host)
{
	struct kmmu_host host;
	struct utsname uts;
	char line[256];

	ASSERT_EQ(0, uname(&uts));
	kmmu_host_probe(&host);
	EXPECT_STREQ(uts.release, host.kernel_release);
	{
		char cmdline[sizeof(host.kernel_cmdline)] = "";
		FILE *f = fopen("/proc/cmdline", "r");

		ASSERT_NE(NULL, f);
		ASSERT_NE(NULL, fgets(cmdline, sizeof(cmdline), f));
		fclose(f);
		cmdline[strcspn(cmdline, "\n")] = '\0';
		EXPECT_STRNE("", host.kernel_cmdline);
		EXPECT_STREQ(cmdline, host.kernel_cmdline);
	}
	EXPECT_STREQ(kmmu_kvm_backend(), host.kvm_backend);
	EXPECT_GE(host.cpus, 1);
	EXPECT_GE(host.numa_nodes, 1);
	EXPECT_EQ(-1, host.nr_memslots);	/* no ioctl without _kvm */
	host.nr_memslots = 509;
	kmmu_host_format_line(&host, line, sizeof(line));
	EXPECT_NE(NULL, strstr(line, "memslots=509"));
	EXPECT_NE(NULL, strstr(line, "backend="));
	EXPECT_NE(NULL, strstr(line, host.kernel_release));

	/* KMMU_KVM_DEV points the probe (and the suite) at another device. */
	setenv("KMMU_KVM_DEV", "/nonexistent/kvm", 1);
	kmmu_host_probe(&host);
	EXPECT_FALSE(host.kvm_available);
	unsetenv("KMMU_KVM_DEV");
}

TEST(probe_kvm_without_kvm_says_why)
{
	struct kmmu_host host;
	char why[256] = "";

	setenv("KMMU_KVM_DEV", "/dev/null", 1);
	EXPECT_EQ(-1, kmmu_host_probe_kvm(&host, why, sizeof(why)));
	EXPECT_FALSE(host.kvm_available);
	EXPECT_EQ(-1, host.nr_memslots);
	EXPECT_NE(NULL, strstr(why, "KVM_GET_API_VERSION"));
	unsetenv("KMMU_KVM_DEV");
}

TEST(result_new_carries_the_probe)
{
	struct kmmu_result *res = kmmu_result_new("host_probe_test");
	struct kmmu_host host;

	ASSERT_NE(NULL, res);
	kmmu_host_probe(&host);
	EXPECT_STREQ(host.kernel_release, kmmu_result_host(res)->kernel_release);
	EXPECT_STREQ(host.kvm_backend, kmmu_result_host(res)->kvm_backend);
	EXPECT_EQ(host.cpus, kmmu_result_host(res)->cpus);
	kmmu_result_free(res);
}

TEST_HARNESS_MAIN
