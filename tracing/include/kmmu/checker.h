/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The differential checker: replays a run's actions and the kernel's events,
 * in timestamp order, into a reference VM (ref/'s kmmu_ref_vm: its memslots
 * with the MMU's per-slot metadata and hooks) and checks the properties of
 * DESIGN.md "Checking the kernel against the reference".  Where ref/ has
 * the logic, it is the oracle: each memslot ioctl's result (including
 * x86's refusal of gfns beyond the address space), the largest level a
 * fault may map a gfn at (kmmu_fault_max_level()), the memslot generation.
 * The reference VM also keeps the SPTE state the kernel's events give it:
 * each leaf the kernel installs is faulted into it, and the kernel's
 * traced drops, MMU notifier unmaps and fast zaps take them out again.
 * Where the kernel traces its drops (the TDP MMU, one VM, a complete
 * history), a DELETE or MOVE must leave none of the reference's SPTEs in
 * the removed range (ZAP_ON_REMOVE per SPTE); each kvm_mmu_zap_all_fast
 * must report the mmu_valid_gen the reference's own fast zaps toggle
 * (MMU_VALID_GEN; 0 for a VM created in the trace, else learned from the
 * first).
 *
 * A memslot ioctl is an interval [issued, returned]; while one is in flight,
 * events touching the gfns it changes may legitimately follow either layout,
 * so they are judged against both.  Everything else is judged against the
 * one layout the reference holds at that moment.  An SPTE installed in
 * flight for a gfn only the ioctl's new range backs maps the slot it
 * creates or moves: the ioctl must succeed, and that slot's removal must
 * zap it.
 *
 * A property whose events this trace does not contain (e.g. MMIO SPTE
 * generations when the host runs with mmio_caching=N) is reported as not
 * checkable, never as passed.
 *
 * With the TDP MMU every SPTE change is traced (kvm_tdp_mmu_spte_changed,
 * from __handle_changed_spte(), which also keeps the page stats): the
 * checker counts leaf SPTEs per level the way the kernel does and compares
 * them with the stats the session read at its end (KMMU_ACT_STATS), and it
 * judges every Accessed-bit clear of a present leaf: it must lie in an
 * aging pass (a kvm_age_hva and the SPTE changes of the same task that
 * follow it) whose hva range covers the SPTE's gfns through the reference
 * memslots, keep the Dirty and Writable bits, and happen at most once for
 * a gfn after the test declared it idle (KMMU_ACT_IDLE).  The shadow MMU
 * traces installs only, so none of these is checkable there.  A page
 * stats shortfall where other tasks' unmaps (not in the trace) overlapped
 * guest memory is judged against the most leaves those unmaps could remove.
 *
 * Every leaf SPTE installed outside an ioctl changing its gfns (both MMUs'
 * kvm_mmu_set_spte, and the TDP MMU's own installs) must lie wholly in
 * one live slot, huge ones only at a level the reference's fault path
 * would map there (its lpage_info: slot ends, gfn/hva alignment; no huge
 * page while dirty logging), none writable in a read-only slot.  From the TDP
 * MMU's SPTE changes also: each change of a leaf or page-table SPTE
 * starts from what the previous traced change of it left (up to what KVM
 * changes untraced: the CPU's Accessed/Dirty, fast_page_fault()'s
 * Writable, other tasks' aging and unmaps), judged where the trace names
 * one SPTE (one VM; an install during a memslot ioctl's zap-all, which
 * makes a second root, only if the SPTE there was itself installed after
 * it), and not reported where another CPU's change of the SPTE, sorted
 * elsewhere by the per-CPU clocks' skew, explains the mismatch; and a
 * leaf changes in place only keeping its pfn, outside faults
 * only clearing Accessed, Dirty or write permission.
 * check_mmio_spte's verdict is judged: the generation it read is the
 * SPTE's, and the SPTE is used (handle_mmio_page_fault) exactly when it
 * matches KVM's.
 *
 * MMIO SPTE generations are compared with the reference memslots' own
 * generation of address space 0 (each swap adds KMMU_ADDRESS_SPACE_NUM).
 * The kernel may have updated memslots the trace does not show before it
 * starts (a VM created earlier, x86's private slots), so the difference
 * between the two is learned from the first MMIO SPTE event outside an
 * ioctl and must then stay constant: a memslot update the kernel makes on
 * its own later in the run (none does for the kmmu runtime's VMs, which
 * have no in-kernel LAPIC) would show as a divergence.  The zap at the
 * wrap is judged only once that difference is known.
 */
#ifndef KMMU_CHECKER_H
#define KMMU_CHECKER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "kmmu/trace_record.h"

enum kmmu_check_property {
	KMMU_PROP_MEMSLOT_RESULT,	/* each ioctl returned what the reference returns */
	KMMU_PROP_MMIO_UNBACKED,	/* kvm_mmio only for gfns with no live memslot */
	KMMU_PROP_SPTE_IN_SLOT,		/* kvm_mmu_set_spte only for gfns in a live memslot */
	KMMU_PROP_ZAP_ON_REMOVE,	/* DELETE/MOVE of a slot with SPTEs zaps them */
	KMMU_PROP_NO_SPTE_AFTER_ZAP,	/* no SPTE for a slot between its zap and its removal */
	KMMU_PROP_MMIO_GENERATION,	/* MMIO SPTE generation changes exactly with memslot updates */
	KMMU_PROP_MMIO_GEN_MODEL,	/* ... and is the reference's memslot generation */
	KMMU_PROP_MMIO_SPTE_UNBACKED,	/* an MMIO SPTE is honoured only for gfns with no live memslot */
	KMMU_PROP_ZAP_AT_WRAP,		/* the update that wraps the MMIO generation zaps all */
	KMMU_PROP_PAGE_STATS,		/* pages_4k/2m/1g == the traced leaf SPTEs */
	KMMU_PROP_AGING_IN_PASS,	/* an Accessed bit is cleared only by aging its hva */
	KMMU_PROP_AGING_KEEPS_DIRTY,	/* ... which keeps the Dirty and Writable bits */
	KMMU_PROP_AGING_IDLE,		/* a page the guest left idle is young at most once */
	KMMU_PROP_HUGE_ALLOWED,		/* a huge SPTE only where its slot allows one */
	KMMU_PROP_SPTE_WRITABLE,	/* no writable SPTE the slot's flags forbid */
	KMMU_PROP_SPTE_HISTORY,		/* a change starts from what the last one left */
	KMMU_PROP_LEAF_CHANGE,		/* a leaf changes in place only as KVM changes one */
	KMMU_PROP_MMIO_CHECK,		/* an MMIO SPTE is used iff its generation is KVM's */
	KMMU_PROP_MMU_VALID_GEN,	/* each fast zap toggles the reference's mmu_valid_gen */
	KMMU_PROP_AGING_MAKES_OLD,	/* an aging pass clears what the reference's finds young */
	KMMU_PROP_DIRTY_LOG_PROTECT,	/* dirty logging write-protects where KVM must, only there */
	KMMU_PROP_NR,
};

enum kmmu_check_verdict {
	KMMU_CHECK_PASS,
	KMMU_CHECK_FAIL,
	KMMU_CHECK_NOT_CHECKABLE,
};

struct kmmu_check_result {
	uint64_t checked[KMMU_PROP_NR];		/* how many events each property judged */
	uint64_t divergences[KMMU_PROP_NR];
	uint64_t nr_divergences;
	uint64_t nr_records;
	bool no_actions;			/* no memslot actions: nothing judged */
	const char *not_checkable[KMMU_PROP_NR];	/* why, when known (static text) */
	char first_divergence[2048];		/* event, expectation, history */
};

/* kmmu_checker_opts.max_guest_pages's default: 32 TiB of guest memory. */
#define KMMU_CHECK_MAX_GUEST_PAGES	(1ull << 33)

struct kmmu_checker_opts {
	FILE *report;		/* divergences are written here as found (NULL: quiet) */
	unsigned int max_reported;	/* 0: 10 */
	/*
	 * Guest pages the reference VM may back at once (0: KMMU_CHECK_MAX_GUEST_PAGES).
	 * Its per-page metadata is the kernel's (rmaps, lpage_info: about 8
	 * bytes a page); a trace whose live memslots exceed this is refused
	 * with -EFBIG rather than replayed with the metadata's allocations
	 * failing part-way.
	 */
	uint64_t max_guest_pages;
};

/*
 * @recs must be sorted by timestamp (kmmu_trace_log_sort, or a trace file).
 * A trace whose VMs are numbered (vm.id, memslot.vm: the ioctl
 * interposer's) is judged one VM at a time, each against a reference VM of
 * its own; while two VMs are live, what needs a kernel event's VM is NOT
 * CHECKABLE (tracing/checker/vms.c); numbers that are not 1, 2, ... in
 * order leave every property NOT CHECKABLE with that reason.  Without
 * numbers, it is one VM's.
 * 0 when the replay ran (divergences are in @res), -errno when it could not
 * (-ENOMEM, -EINVAL for records no run can produce, -EFBIG for memslots
 * above @opts->max_guest_pages).
 */
int kmmu_check(const struct kmmu_trace_record *recs, uint64_t nr,
	       const struct kmmu_checker_opts *opts, struct kmmu_check_result *res);

/*
 * The events the checker reads ("system:event", NULL-terminated): a capture
 * for checking enables only these, since every enabled tracepoint costs
 * the traced workload time.
 */
extern const char *const kmmu_check_events[];

const char *kmmu_check_property_name(enum kmmu_check_property p);
/*
 * Why kmmu_check() could not replay (its -errno @err), in words: -EFBIG
 * names the guest-memory limit, the others are strerror()'s.
 */
const char *kmmu_check_strerror(int err);
enum kmmu_check_verdict kmmu_check_verdict(const struct kmmu_check_result *res,
					   enum kmmu_check_property p);
/* One line per property: "PASS name (N checked)" / "FAIL ..." / "NOT CHECKABLE ...". */
void kmmu_check_print_summary(FILE *f, const struct kmmu_check_result *res);

#endif
