// SPDX-License-Identifier: GPL-2.0
/*
 * The host/vCPU-thread gate with plain threads standing in for vCPUs.
 */
#include <errno.h>
#include <pthread.h>

#include "kselftest_harness.h"
#include "kmmu/gate.h"

#define NR_THREADS	3
#define ROUNDS		50

struct gate_arg {
	struct kmmu_gate *g;
	uint64_t seen[ROUNDS];
};

static void *gate_thread(void *p)
{
	struct gate_arg *a = p;
	int i;

	for (i = 0; i < ROUNDS; i++)
		a->seen[i] = kmmu_gate_arrive(a->g);
	/* One more arrival: parks until the host's final open. */
	kmmu_gate_arrive(a->g);
	return NULL;
}

TEST(rounds)
{
	struct kmmu_gate g;
	struct gate_arg a[NR_THREADS];
	pthread_t t[NR_THREADS];
	int i, k;

	kmmu_gate_init(&g);
	for (i = 0; i < NR_THREADS; i++) {
		a[i].g = &g;
		ASSERT_EQ(0, pthread_create(&t[i], NULL, gate_thread, &a[i]));
	}
	for (k = 0; k < ROUNDS; k++) {
		/* Nobody passes before the host opens: all park. */
		ASSERT_EQ(0, kmmu_gate_wait(&g, (uint64_t)(k + 1) * NR_THREADS, NULL, 10));
		ASSERT_EQ((uint64_t)(k + 1) * NR_THREADS, g.arrived);
		kmmu_gate_open(&g, 1000 + k);
	}
	ASSERT_EQ(0, kmmu_gate_wait(&g, (uint64_t)(ROUNDS + 1) * NR_THREADS, NULL, 10));
	kmmu_gate_open(&g, 0);
	for (i = 0; i < NR_THREADS; i++) {
		pthread_join(t[i], NULL);
		for (k = 0; k < ROUNDS; k++)
			ASSERT_EQ(1000 + k, a[i].seen[k]);
	}
	kmmu_gate_destroy(&g);
}

/* After kmmu_gate_finish() nobody waits: a late arrival gets its command. */
TEST(finish)
{
	struct kmmu_gate g;
	struct gate_arg a[NR_THREADS];
	pthread_t t[NR_THREADS];
	int i;

	kmmu_gate_init(&g);
	for (i = 0; i < NR_THREADS; i++) {
		a[i].g = &g;
		ASSERT_EQ(0, pthread_create(&t[i], NULL, gate_thread, &a[i]));
	}
	ASSERT_EQ(0, kmmu_gate_wait(&g, NR_THREADS, NULL, 10));
	kmmu_gate_finish(&g, 7);
	/* Every thread runs through its remaining ROUNDS arrivals unparked. */
	for (i = 0; i < NR_THREADS; i++) {
		pthread_join(t[i], NULL);
		ASSERT_EQ(7, a[i].seen[0]);
		ASSERT_EQ(7, a[i].seen[ROUNDS - 1]);
	}
	ASSERT_EQ(7, kmmu_gate_arrive(&g));
	kmmu_gate_destroy(&g);
}

TEST(timeout)
{
	struct kmmu_gate g;

	kmmu_gate_init(&g);
	ASSERT_EQ(-ETIMEDOUT, kmmu_gate_wait(&g, 1, NULL, 0.2));
	ASSERT_EQ(0, kmmu_gate_wait(&g, 0, NULL, 0.2));
	kmmu_gate_destroy(&g);
}

TEST_HARNESS_MAIN
