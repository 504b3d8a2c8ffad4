/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Dynamic kprobe events on the shadow MMU's functions that clear SPTEs
 * (arch/x86/kvm/mmu/mmu.c), for the drops and Accessed clears no
 * tracepoint shows (the TDP MMU has kvm_tdp_mmu_spte_changed).
 *
 * kprobe_events is global, not per tracefs instance: a capture creates its
 * probes in a group named like its instance ("kmmu-<pid>-<n>"), enables
 * them only in that instance, and removes them with it (destroy, the
 * capture's janitor, and kmmu_kprobes_remove_stale() for a dead process's).
 * Needs CONFIG_KPROBE_EVENTS; a function the compiler inlined has no symbol
 * to probe, which kmmu_kprobes_add() tells apart from other failures.
 */
#ifndef KMMU_KPROBES_H
#define KMMU_KPROBES_H

#include <stdbool.h>
#include <stddef.h>

struct kmmu_kprobe {
	unsigned int type;	/* enum kmmu_rec_type of its records */
	unsigned int bit;	/* KMMU_KPROBE_* */
	const char *event;	/* the event's name in its group */
	const char *func;	/* the probed function */
	/*
	 * fetchargs: "sptep" (its address) and "old_spte" (*sptep at entry),
	 * both x64; "page_offset" (the direct map's base) is added where the
	 * kernel has page_offset_base.
	 */
	const char *args;
};

extern const struct kmmu_kprobe kmmu_kprobes[];
extern const unsigned int kmmu_nr_kprobes;

/* The probe of records of @type; NULL if none. */
const struct kmmu_kprobe *kmmu_kprobe_of(unsigned int type);

/* Whether <tracing>/kprobe_events exists (CONFIG_KPROBE_EVENTS). */
bool kmmu_kprobes_supported(const char *tracing_dir);

/* Whether @func is a symbol of the running kernel or a module in @kallsyms (/proc/kallsyms). */
bool kmmu_kernel_has_symbol(const char *kallsyms, const char *func);

/*
 * Creates in group @group the probes whose bit is in @want.  Bits of the
 * probes created go to *@added, of those whose function @kallsyms lacks
 * (inlined) to *@inlined.  0, or -errno with a one-line reason in @err
 * (nothing is left created then): -ENODEV no kprobe_events, -EINVAL a
 * group name the kernel would refuse, -EIO a write the kernel refused.
 */
int kmmu_kprobes_add(const char *tracing_dir, const char *kallsyms, const char *group,
		     unsigned int want, unsigned int *added, unsigned int *inlined,
		     char *err, size_t err_len);

/*
 * Removes the probes of @group (those of @bits).  They must be disabled in
 * every instance first (or the instance removed).  0 or -errno.
 */
int kmmu_kprobes_remove(const char *tracing_dir, const char *group, unsigned int bits);

/* Removes every probe of a group "kmmu-<pid>-*" whose process is gone. */
void kmmu_kprobes_remove_stale(const char *tracing_dir);

#endif
