// SPDX-License-Identifier: GPL-2.0
/*
 * The shadow MMU's kprobe events (see kmmu/kprobes.h).
 *
 * Which functions: every drop of a shadow-present SPTE goes through
 * mmu_spte_clear_track_bits(kvm, sptep), which also takes the leaf out of
 * the page stats (6.1 and 6.12: drop_spte(), kvm_zap_one_rmap_spte() and
 * kvm_zap_all_rmap_sptes() call it; only MMIO and page-table SPTEs are
 * cleared elsewhere, untracked), and 6.1's rmap aging clears Accessed in
 * mmu_spte_age(sptep).  Both are static: the probe reads the SPTE through
 * the pointer argument at entry (x86-64: %di, %si), and only exists where
 * the compiler kept the function out of line (the test VM's 6.1 and 6.12
 * builds keep mmu_spte_clear_track_bits and inline mmu_spte_age; 6.12 has
 * no mmu_spte_age at all).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmmu/err_msg.h"
#include "kmmu/kprobes.h"
#include "kmmu/trace_record.h"

const struct kmmu_kprobe kmmu_kprobes[] = {
	{ KMMU_EV_SHADOW_SPTE_CLEAR, KMMU_KPROBE_SPTE_CLEAR, "shadow_spte_clear",
	  "mmu_spte_clear_track_bits", "sptep=%si:x64 old_spte=+0(%si):x64" },
	{ KMMU_EV_SHADOW_SPTE_AGE, KMMU_KPROBE_SPTE_AGE, "shadow_spte_age",
	  "mmu_spte_age", "sptep=%di:x64 old_spte=+0(%di):x64" },
};
const unsigned int kmmu_nr_kprobes = sizeof(kmmu_kprobes) / sizeof(kmmu_kprobes[0]);

const struct kmmu_kprobe *kmmu_kprobe_of(unsigned int type)
{
	for (unsigned int i = 0; i < kmmu_nr_kprobes; i++)
		if (kmmu_kprobes[i].type == type)
			return &kmmu_kprobes[i];
	return NULL;
}

static void events_path(const char *tracing_dir, char *path, size_t len)
{
	snprintf(path, len, "%s/kprobe_events", tracing_dir);
}

bool kmmu_kprobes_supported(const char *tracing_dir)
{
	char path[512];

	events_path(tracing_dir, path, sizeof(path));
	return !access(path, F_OK);
}

bool kmmu_kernel_has_symbol(const char *kallsyms, const char *func)
{
	char line[512], name[256];
	bool found = false;
	FILE *f = fopen(kallsyms, "r");

	if (!f)
		return false;
	/* "ffffffffc0a1b2c0 t mmu_spte_clear_track_bits\t[kvm]" */
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*s %*s %255s", name) == 1 && !strcmp(name, func);
	fclose(f);
	return found;
}

/* One command to kprobe_events, appended: opening it with O_TRUNC would remove every probe. */
static int write_command(const char *tracing_dir, const char *cmd)
{
	char path[512];
	size_t len = strlen(cmd);
	ssize_t n;
	int fd;

	events_path(tracing_dir, path, sizeof(path));
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, cmd, len);
	if (n < 0)
		n = -errno;
	close(fd);
	return n < 0 ? (int)n : (size_t)n == len ? 0 : -EIO;
}

/* The kernel's is_good_system_name(): letters, digits, '_' and '-', not a digit first. */
static bool good_group(const char *group)
{
	if (!*group || (*group >= '0' && *group <= '9') || *group == '-')
		return false;
	for (const char *p = group; *p; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && *p != '_' && *p != '-')
			return false;
	return strlen(group) < 64;
}

int kmmu_kprobes_add(const char *tracing_dir, const char *kallsyms, const char *group,
		     unsigned int want, unsigned int *added, unsigned int *inlined,
		     char *err, size_t err_len)
{
	char cmd[512];
	bool page_offset;
	int ret;

	*added = 0;
	*inlined = 0;
	if (!good_group(group))
		return kmmu_err_msg(err, err_len, -EINVAL, "'%s' is not a kprobe group name", group);
	if (!kmmu_kprobes_supported(tracing_dir))
		return kmmu_err_msg(err, err_len, -ENODEV,
				    "%s has no kprobe_events (CONFIG_KPROBE_EVENTS)", tracing_dir);
	/* CONFIG_RANDOMIZE_MEMORY: the direct map moves, sptep -> physical needs its base. */
	page_offset = kmmu_kernel_has_symbol(kallsyms, "page_offset_base");
	for (unsigned int i = 0; i < kmmu_nr_kprobes; i++) {
		const struct kmmu_kprobe *k = &kmmu_kprobes[i];

		if (!(want & k->bit))
			continue;
		if (!kmmu_kernel_has_symbol(kallsyms, k->func)) {
			*inlined |= k->bit;
			continue;
		}
		snprintf(cmd, sizeof(cmd), "p:%s/%s %s %s%s\n", group, k->event, k->func, k->args,
			 page_offset ? " page_offset=@page_offset_base:x64" : "");
		ret = write_command(tracing_dir, cmd);
		if (ret) {
			kmmu_kprobes_remove(tracing_dir, group, *added);
			*added = 0;
			return kmmu_err_msg(err, err_len, ret, "kprobe_events refused '%.*s': %s",
					    (int)strlen(cmd) - 1, cmd, strerror(-ret));
		}
		*added |= k->bit;
	}
	return 0;
}

int kmmu_kprobes_remove(const char *tracing_dir, const char *group, unsigned int bits)
{
	char cmd[256];
	int ret = 0;

	for (unsigned int i = 0; i < kmmu_nr_kprobes; i++) {
		if (!(bits & kmmu_kprobes[i].bit))
			continue;
		snprintf(cmd, sizeof(cmd), "-:%s/%s\n", group, kmmu_kprobes[i].event);
		if (write_command(tracing_dir, cmd) && !ret)
			ret = -EIO;
	}
	return ret;
}

void kmmu_kprobes_remove_stale(const char *tracing_dir)
{
	char path[512], line[1024], group[80], event[80], cmd[200];
	char (*stale)[200] = NULL;
	size_t nr = 0;
	FILE *f;

	events_path(tracing_dir, path, sizeof(path));
	f = fopen(path, "r");
	if (!f)
		return;
	/* "p:kmmu-1234-0/shadow_spte_clear mmu_spte_clear_track_bits sptep=..." */
	while (fgets(line, sizeof(line), f)) {
		void *n;
		int pid;

		if (sscanf(line, "%*1[pr]:%79[^/]/%79s", group, event) != 2 ||
		    sscanf(group, "kmmu-%d-", &pid) != 1 || pid <= 0)
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		n = realloc(stale, (nr + 1) * sizeof(*stale));
		if (!n)
			break;
		stale = n;
		snprintf(stale[nr++], sizeof(*stale), "-:%s/%s\n", group, event);
	}
	fclose(f);
	/* After reading: a write while the listing is open would shift it. */
	for (size_t i = 0; i < nr; i++) {
		snprintf(cmd, sizeof(cmd), "%s", stale[i]);
		write_command(tracing_dir, cmd);
	}
	free(stale);
}
