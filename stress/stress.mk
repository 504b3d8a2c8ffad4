# SPDX-License-Identifier: GPL-2.0
#
# stress/: kmmu-stress, a randomized, seeded, time-bounded schedule of the
# real-KVM workloads and the reference's concurrency tests.  `make check`
# runs its short profile (about a minute); `make stress` the nightly one
# (an hour; STRESS_ARGS="--duration 600 --seed N" to change it).
#
# Both go through ci/kmmu-run as a "kvm:" program: where this host has no
# KVM, the whole schedule runs inside one test VM (ci/vm/run-in-vm).

STRESS_ARGS ?= --profile nightly

# make check's entries (and its schedule's test, without KVM) are in
# ci/suite.cfg.

.PHONY: stress
stress: deps all
	@$(RUNNER) --mode stress --timeout 7200 kvm:stress/kmmu-stress$(if $(strip $(STRESS_ARGS)),+$(subst $(space),+,$(strip $(STRESS_ARGS))))
