// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side helpers that work without KVM: guest memory bound to a NUMA
 * node, kernel-log classification, taint text, the cleanup stack.  (The
 * KVM device and backend are the host probe's: tracing/tests/host_probe_test.c.)
 */
#include <dirent.h>
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/hygiene.h"
#include "kmmu/kvm_vm.h"

static const enum kmmu_backing all_backings[] = { KMMU_BACKING_ANON, KMMU_BACKING_MEMFD };

/* The first node this task may allocate memory on, or -1. */
static int first_memory_node(void)
{
	struct bitmask *allowed = numa_get_mems_allowed();
	int node;

	for (node = 0; node <= numa_max_node(); node++)
		if (numa_bitmask_isbitset(allowed, node))
			break;
	if (node > numa_max_node())
		node = -1;
	numa_bitmask_free(allowed);
	return node;
}

static int open_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* The process's mapped virtual memory in KiB (VmSize), or -1. */
static long mapped_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSize: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/*
 * kmmu_mem_alloc(..., node) must put every page, once touched, on @node,
 * under an MPOL_BIND policy naming only @node.  The kernel is asked where
 * each page is (move_pages() with no target nodes only reports), not
 * libnuma's idea of where it should be.
 */
TEST(numa_node_binds_every_page)
{
	const size_t size = 16 * 4096;
	unsigned long mask[16];
	struct kmmu_mem m;
	int node, mode, status;
	size_t b, off;
	void *page;

	if (numa_available() < 0)
		SKIP(return, "libnuma: this kernel has no NUMA support (numa_available() < 0)");
	node = first_memory_node();
	ASSERT_LE(0, node);
	TH_LOG("binding to node %d of %d", node, numa_max_node() + 1);
	for (b = 0; b < sizeof(all_backings) / sizeof(all_backings[0]); b++) {
		ASSERT_EQ(0, kmmu_mem_alloc(&m, size, all_backings[b], node));
		ASSERT_EQ(node, m.node);
		memset(m.hva, 0x5a, size);	/* first touch: allocates every page */
		for (off = 0; off < size; off += 4096) {
			page = (char *)m.hva + off;
			status = -1;
			ASSERT_EQ(0, move_pages(0, 1, &page, NULL, &status, 0));
			ASSERT_EQ(node, status) TH_LOG("backing %zu, page at offset %#zx", b, off);
		}
		memset(mask, 0, sizeof(mask));
		ASSERT_EQ(0, get_mempolicy(&mode, mask, sizeof(mask) * 8, m.hva, MPOL_F_ADDR));
		ASSERT_EQ(MPOL_BIND, mode);
		ASSERT_EQ(1UL << (node % 64), mask[node / 64]);
		for (off = 0; off < sizeof(mask) / sizeof(mask[0]); off++)
			if (off != (size_t)node / 64)
				ASSERT_EQ(0, mask[off]);
		kmmu_mem_free(&m);
	}
}

/*
 * A node without memory here (one past the last), or one beyond the node
 * mask kmmu_mem_alloc builds: -EINVAL, and the mapping and the memfd made
 * before mbind() refused are gone again.
 */
TEST(numa_bad_node_is_einval_and_frees)
{
	const size_t size = 64 << 20;
	int bad_nodes[2], fds, i;
	struct kmmu_mem m;
	long kib;
	size_t b;

	if (numa_available() < 0)
		SKIP(return, "libnuma: this kernel has no NUMA support (numa_available() < 0)");
	bad_nodes[0] = numa_max_node() + 1;
	bad_nodes[1] = 1024;
	for (b = 0; b < sizeof(all_backings) / sizeof(all_backings[0]); b++) {
		for (i = 0; i < 2; i++) {
			fds = open_fd_count();
			kib = mapped_kib();
			ASSERT_LT(0, fds);
			ASSERT_LT(0, kib);
			ASSERT_EQ(-EINVAL, kmmu_mem_alloc(&m, size, all_backings[b], bad_nodes[i]))
				TH_LOG("backing %zu, node %d", b, bad_nodes[i]);
			ASSERT_EQ(NULL, m.hva);
			ASSERT_EQ(-1, m.fd);
			ASSERT_EQ(0, m.size);
			ASSERT_EQ(fds, open_fd_count());
			/* 64 MiB would show; a stdio buffer would not. */
			ASSERT_GT((long)(size >> 10) / 2, mapped_kib() - kib);
		}
	}
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
