/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The host/KVM probe: what this host is, as result files and trace files
 * record it (struct kmmu_host, kmmu/result.h).  The one place that asks
 * the host which KVM it runs: the vendor module in /sys/module, its
 * parameters (ept/npt, tdp_mmu, mmio_caching), whether the KVM device
 * opens, and what KVM_CHECK_EXTENSION says.
 *
 * It lives in tracing/, the layer that observes the host kernel (DESIGN.md
 * "Layers"); the result-file writer below it takes its description and
 * probes nothing itself.
 */
#ifndef KMMU_HOST_PROBE_H
#define KMMU_HOST_PROBE_H

#include <stddef.h>

#include "kmmu/result.h"

/* $KMMU_KVM_DEV or /dev/kvm */
const char *kmmu_kvm_dev_path(void);
/*
 * Opens the KVM device and checks the API version.  fd, or -errno with a
 * human reason in @why (the caller turns it into a kselftest SKIP).
 */
int kmmu_kvm_open(char *why, size_t len);
/* KVM_CHECK_EXTENSION on any KVM fd: >= 0, or -errno. */
long kmmu_kvm_cap(int fd, long cap);
/* "vmx", "svm", "pvm" (the vendor module in /sys/module), or "none". */
const char *kmmu_kvm_backend(void);

/*
 * Fills @host from sysfs/procfs and whether the KVM device opens; never
 * fails (unknowns are -1/"unknown"; nr_memslots is -1: no ioctl).
 */
void kmmu_host_probe(struct kmmu_host *host);
/*
 * kmmu_host_probe() plus what only the KVM device tells: whether it opens
 * as KVM (kvm_available) and KVM_CAP_NR_MEMSLOTS.  0 if it opens, else -1
 * with the reason in @why.
 */
int kmmu_host_probe_kvm(struct kmmu_host *host, char *why, size_t len);

/* A result for this host: kmmu_host_probe() + kmmu_result_create(). */
struct kmmu_result *kmmu_result_new(const char *program);

#endif
