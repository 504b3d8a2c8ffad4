// SPDX-License-Identifier: GPL-2.0
/*
 * Host control files (kmmu/ctl_file.h) on files of the test's own: read
 * whole without trailing newlines and blanks, written in one write()
 * (at the start, not truncating: control files take one value per
 * write), errors as -errno, no retry for anything but EBUSY/EINTR.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kmmu/ctl_file.h"

TEST(read_write_and_errors)
{
	char dir[] = "/tmp/kmmu-ctl-file-test.XXXXXX", path[64], buf[32];

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	EXPECT_EQ(-ENOENT, kmmu_ctl_read(path, buf, sizeof(buf)));
	EXPECT_EQ(-ENOENT, kmmu_ctl_write(path, "1"));
	EXPECT_EQ(-ENOENT, kmmu_ctl_read_retry(path, buf, sizeof(buf), 1000));
	ASSERT_EQ(0, close(creat(path, 0600)));

	ASSERT_EQ(0, kmmu_ctl_write(path, "101\n102 \n"));
	ASSERT_EQ(0, kmmu_ctl_read(path, buf, sizeof(buf)));
	EXPECT_STREQ("101\n102", buf);	/* several lines stay whole */
	ASSERT_EQ(0, kmmu_ctl_write_retry(path, "Y\n", 3));
	ASSERT_EQ(0, kmmu_ctl_read_retry(path, buf, sizeof(buf), 3));
	EXPECT_STREQ("Y\n1\n102", buf);
	/* At most @len - 1 bytes. */
	ASSERT_EQ(0, kmmu_ctl_write(path, "0123456789"));
	ASSERT_EQ(0, kmmu_ctl_read(path, buf, 5));
	EXPECT_STREQ("0123", buf);
	EXPECT_EQ(-EISDIR, kmmu_ctl_write(dir, "x"));

	unlink(path);
	rmdir(dir);
}

TEST_HARNESS_MAIN
