/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest frame numbers and the page size the reference counts them in,
 * shared by the memslot and SPTE headers.  The page size is guarded: a
 * program that includes the guest runtime's kmmu/pt.h first has its own
 * KMMU_PAGE_SIZE, of the same value.
 */
#ifndef KMMU_GFN_H
#define KMMU_GFN_H

#include <stdint.h>

typedef uint64_t gfn_t;

#ifndef KMMU_PAGE_SHIFT
#define KMMU_PAGE_SHIFT 12
#endif
#ifndef KMMU_PAGE_SIZE
#define KMMU_PAGE_SIZE (1ul << KMMU_PAGE_SHIFT)
#endif

#endif /* KMMU_GFN_H */
