// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side helpers that work without KVM: device path and open errors
 * (the SKIP path), backend detection, kernel-log classification, taint
 * text, the cleanup stack.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/hygiene.h"
#include "kmmu/kvm_vm.h"

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

TEST(kmsg_classification)
{
	ASSERT_TRUE(kmmu_kmsg_is_bad("WARNING: CPU: 1 PID: 4 at arch/x86/kvm/mmu/mmu.c:123"));
	ASSERT_TRUE(kmmu_kmsg_is_bad("BUG: unable to handle page fault for address"));
	ASSERT_TRUE(kmmu_kmsg_is_bad(" Call Trace:"));
	ASSERT_TRUE(kmmu_kmsg_is_bad("BUG: KASAN: use-after-free in kvm_mmu_zap"));
	ASSERT_FALSE(kmmu_kmsg_is_bad("kvm: zapping shadow pages for mmio generation wraparound"));
	ASSERT_FALSE(kmmu_kmsg_is_bad("kvm-pvm: this kernel is itself a kvm-pvm guest; not binding"));
}

TEST(taint_text)
{
	char buf[64];

	kmmu_taint_text((1UL << 9) | (1UL << 0), buf, sizeof(buf));
	ASSERT_STREQ("PW", buf);
	kmmu_taint_text(1UL << 30, buf, sizeof(buf));
	ASSERT_STREQ("[bit 30]", buf);
}

static char order[8];

static void note(void *arg)
{
	strncat(order, arg, sizeof(order) - strlen(order) - 1);
}

TEST(cleanup_stack)
{
	order[0] = 0;
	ASSERT_EQ(0, kmmu_cleanup_push(note, "a"));
	ASSERT_EQ(0, kmmu_cleanup_push(note, "b"));
	ASSERT_EQ(0, kmmu_cleanup_push(note, "c"));
	kmmu_cleanup_forget(note, "b");
	kmmu_cleanup_run();
	ASSERT_STREQ("ca", order);
	kmmu_cleanup_run();	/* runs each entry once */
	ASSERT_STREQ("ca", order);
}

static int signal_pipe_fd;

static void write_x(void *arg)
{
	(void)!write(signal_pipe_fd, arg, 1);
}

TEST(cleanup_on_signal)
{
	int pfd[2], status;
	char c = 0;
	pid_t pid;

	ASSERT_EQ(0, pipe(pfd));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		signal_pipe_fd = pfd[1];
		kmmu_cleanup_push(write_x, "x");
		raise(SIGTERM);
		_exit(0);	/* not reached: the handler re-raises */
	}
	close(pfd[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(SIGTERM, WTERMSIG(status));
	ASSERT_EQ(1, read(pfd[0], &c, 1));
	ASSERT_EQ('x', c);
}

TEST(hygiene_runs)
{
	struct kmmu_hygiene h;
	char report[512];

	kmmu_hygiene_begin(&h);
	/* Nothing the test did can taint the kernel: must be clean. */
	ASSERT_EQ(0, kmmu_hygiene_end(&h, report, sizeof(report)));
	TH_LOG("report: %s", report[0] ? report : "(clean)");
}

TEST_HARNESS_MAIN
