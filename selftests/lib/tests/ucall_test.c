// SPDX-License-Identifier: GPL-2.0
/*
 * ucall ABI: encode exactly as the guest does (kmmu_ucall_fill and the
 * GUEST_* argument packing) into a buffer, decode on the host side.
 */
#include <errno.h>
#include <string.h>

#include "kselftest_harness.h"
#include "kmmu/guest.h"
#include "kmmu/ucall.h"

static const char outside[] = "not in the image?";	/* .rodata: in the image */

TEST(sync_and_done)
{
	struct kmmu_ucall uc;
	struct kmmu_ucall_msg m;
	uint64_t v = 0x1234;

	memset(&uc, 0, sizeof(uc));
	kmmu_ucall_fill(&uc, KMMU_UCALL_SYNC, __FILE__, 42, NULL, 1, &v);
	ASSERT_EQ(KMMU_UCALL_MAGIC, uc.magic);
	ASSERT_EQ(1, uc.seq);
	ASSERT_EQ(KMMU_UCALL_SYNC, kmmu_ucall_decode(&uc, NULL, &m));
	ASSERT_EQ(0x1234, m.args[0]);
	ASSERT_STREQ(__FILE__, m.file);
	ASSERT_EQ(42, m.line);
	kmmu_ucall_fill(&uc, KMMU_UCALL_DONE, __FILE__, 43, NULL, 0, NULL);
	ASSERT_EQ(2, uc.seq);
	ASSERT_EQ(KMMU_UCALL_DONE, kmmu_ucall_decode(&uc, NULL, &m));
	ASSERT_EQ(0, m.nr_args);
	ASSERT_EQ(0, uc.args[0]);	/* stale args are cleared */
}

TEST(assert_messages)
{
	struct kmmu_ucall uc = { 0 };
	struct kmmu_ucall_msg m;
	uint64_t ab[2] = { 5, 7 };

	kmmu_ucall_fill(&uc, KMMU_UCALL_ASSERT, "guest.c", 17, "x == y", 2, ab);
	ASSERT_EQ(KMMU_UCALL_ASSERT, kmmu_ucall_decode(&uc, NULL, &m));
	ASSERT_STREQ("guest.c:17: guest assertion failed: x == y (0x5 vs 0x7)", m.text);
	kmmu_ucall_fill(&uc, KMMU_UCALL_ASSERT, "guest.c", 18, "ptr != 0", 0, NULL);
	ASSERT_EQ(KMMU_UCALL_ASSERT, kmmu_ucall_decode(&uc, NULL, &m));
	ASSERT_STREQ("guest.c:18: guest assertion failed: ptr != 0", m.text);
}

TEST(fail_format)
{
	struct kmmu_ucall uc = { 0 };
	struct kmmu_ucall_msg m;
	const uint64_t *argv = KMMU_ARGV_(1, 0xabcULL, -2LL);

	ASSERT_EQ(3, KMMU_NARGS_(1, 0xabcULL, -2LL));
	ASSERT_EQ(0, KMMU_NARGS_());
	kmmu_ucall_fill(&uc, KMMU_UCALL_FAIL, "t.c", 9, "slot %lu gpa %#lx d %ld",
			KMMU_NARGS_(1, 0xabcULL, -2LL), argv);
	ASSERT_EQ(KMMU_UCALL_FAIL, kmmu_ucall_decode(&uc, NULL, &m));
	ASSERT_STREQ("t.c:9: guest failure: slot 1 gpa 0xabc d -2", m.text);
	/* %s would dereference a guest value: shown raw instead. */
	kmmu_ucall_fill(&uc, KMMU_UCALL_FAIL, "t.c", 10, "name %s", 1, argv);
	ASSERT_EQ(KMMU_UCALL_FAIL, kmmu_ucall_decode(&uc, NULL, &m));
	ASSERT_STREQ("t.c:10: guest failure: [unexpandable format \"name %s\"] args: 0x1", m.text);
	/* More conversions than arguments: also raw. */
	kmmu_ucall_fill(&uc, KMMU_UCALL_PRINT, "t.c", 11, "%lu %lu", 1, argv);
	ASSERT_EQ(KMMU_UCALL_PRINT, kmmu_ucall_decode(&uc, NULL, &m));
	ASSERT_NE(NULL, strstr(m.text, "unexpandable"));
	/* Too many arguments are clamped. */
	uint64_t many[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	kmmu_ucall_fill(&uc, KMMU_UCALL_PRINT, "t.c", 12, "%lu %lu %lu %lu %lu %lu", 8, many);
	ASSERT_EQ(KMMU_UCALL_MAX_ARGS, uc.nr_args);
	ASSERT_EQ(KMMU_UCALL_PRINT, kmmu_ucall_decode(&uc, NULL, &m));
	ASSERT_STREQ("t.c:12: guest: 1 2 3 4 5 6", m.text);
}

TEST(format_checker)
{
	ASSERT_TRUE(kmmu_ucall_format_ok("plain", 0));
	ASSERT_TRUE(kmmu_ucall_format_ok("100%% %lu", 1));
	ASSERT_TRUE(kmmu_ucall_format_ok("%#018llx %-5ld %zu %ju %lX %lo", 6));
	ASSERT_FALSE(kmmu_ucall_format_ok("%d", 1));	/* int, not u64 */
	ASSERT_FALSE(kmmu_ucall_format_ok("%ls", 1));
	ASSERT_FALSE(kmmu_ucall_format_ok("%lf", 1));
	ASSERT_FALSE(kmmu_ucall_format_ok("%lu %lu", 1));
	ASSERT_FALSE(kmmu_ucall_format_ok("%*lu", 2));
	ASSERT_FALSE(kmmu_ucall_format_ok("%lln", 1));
	ASSERT_FALSE(kmmu_ucall_format_ok("trailing %", 1));
}

TEST(malformed_blocks)
{
	struct kmmu_ucall uc = { 0 };
	struct kmmu_ucall_msg m;
	char stack_str[] = "on the stack";
	struct kmmu_str_range r;

	ASSERT_EQ(-EINVAL, kmmu_ucall_decode(&uc, NULL, &m));	/* no magic */
	ASSERT_NE(NULL, strstr(m.text, "magic"));
	kmmu_ucall_fill(&uc, KMMU_UCALL_DONE, __FILE__, 1, NULL, 0, NULL);
	uc.nr = KMMU_UCALL_NR_MAX;
	ASSERT_EQ(-EINVAL, kmmu_ucall_decode(&uc, NULL, &m));
	uc.nr = KMMU_UCALL_DONE;
	uc.nr_args = 7;
	ASSERT_EQ(-EINVAL, kmmu_ucall_decode(&uc, NULL, &m));
	/* Strings outside the image are not read. */
	kmmu_ucall_fill(&uc, KMMU_UCALL_ASSERT, stack_str, 3, stack_str, 0, NULL);
	ASSERT_EQ(KMMU_UCALL_ASSERT, kmmu_ucall_decode(&uc, NULL, &m));
	ASSERT_STREQ("?:3: guest assertion failed: ?", m.text);
	/* A string running past the end of the allowed range is refused. */
	r.lo = (uintptr_t)outside;
	r.hi = (uintptr_t)outside + 4;
	kmmu_ucall_fill(&uc, KMMU_UCALL_ASSERT, outside, 4, outside, 0, NULL);
	ASSERT_EQ(KMMU_UCALL_ASSERT, kmmu_ucall_decode(&uc, &r, &m));
	ASSERT_STREQ("?:4: guest assertion failed: ?", m.text);
	ASSERT_EQ(KMMU_UCALL_ASSERT, kmmu_ucall_decode(&uc, NULL, &m));
	ASSERT_STREQ("not in the image?:4: guest assertion failed: not in the image?", m.text);
}

TEST(image_range)
{
	struct kmmu_str_range r;

	kmmu_image_range(&r);
	ASSERT_LT(r.lo, r.hi);
	ASSERT_LE(r.lo, (uintptr_t)kmmu_ucall_decode);
	ASSERT_GT(r.hi, (uintptr_t)kmmu_ucall_decode);
	ASSERT_LE(r.lo, (uintptr_t)outside);
	ASSERT_GT(r.hi, (uintptr_t)outside);
}

TEST_HARNESS_MAIN
