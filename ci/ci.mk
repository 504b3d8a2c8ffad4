# SPDX-License-Identifier: GPL-2.0
#
# ci/: the nightly script's test, and kmmu's selftests under the kernel's
# kselftest runner (ci/kselftest, with the framework of KSRC's tree or
# Debian's 6.1 copy):
#
#   make kselftest                          run them with the kernel's runner
#                                           (make run_tests: TAP, settings)
#   make kselftest-install INSTALL_PATH=DIR a tree with run_kselftest.sh and
#                                           kselftest-list.txt for a kernel CI
#
# Collections: "kmmu" (selftests/*_test, with kmmu_* tools installed beside
# them) and "kmmu/lib" (the guest runtime's own tests).  Without /dev/kvm
# the KVM tests SKIP there (no VM fallback: that is ci/kmmu-run's).

CHECK_PROGS += ci/tests/nightly_test
CHECK_PROGS += ci/tests/build_kernel_test
CHECK_PROGS += ci/tests/upstream_selftests_test
# The kernel-mutant campaign (ci/mutants/run) on a fake tree with stand-ins
# for the build and the VM, and run-in-vm's --panic-on-oops/--dmesg-dir.
CHECK_PROGS += ci/tests/mutants_test
# run-in-vm's choice of accelerator (KVM where the host nests SVM, else TCG).
CHECK_PROGS += ci/tests/run_in_vm_test
# The real-KVM tests fail on their planted bugs (KMMU_*_INJECT) and pass
# without them; they leave the host as they found it after SIGINT and
# after a failed assertion.  "kvm:": in the test VM where there is no KVM.
CHECK_PROGS += kvm:ci/tests/inject_test
CHECK_PROGS += kvm:ci/tests/hygiene_test

KSELFTEST_STAGE := $(O)/kselftest
KSELFTEST_SPECS = $(addprefix kmmu:,$(SELFTESTS)) $(addprefix kmmu:+,$(SELFTEST_TOOLS)) \
	$(addprefix kmmu/lib:,$(SELFTEST_LIB_TESTS))
KSELFTEST := ci/kselftest

.PHONY: kselftest kselftest-install nightly-programs

kselftest: deps $(SELFTESTS) $(SELFTEST_TOOLS) $(SELFTEST_LIB_TESTS)
	@$(KSELFTEST) run --ksft $(KSFT_DIR) --stage $(KSELFTEST_STAGE) $(KSELFTEST_SPECS)

kselftest-install: deps $(SELFTESTS) $(SELFTEST_TOOLS) $(SELFTEST_LIB_TESTS)
	@test -n "$(INSTALL_PATH)" || { echo "kselftest-install: set INSTALL_PATH=DIR" >&2; exit 2; }
	@$(KSELFTEST) install --ksft $(KSFT_DIR) --stage $(KSELFTEST_STAGE) \
		--install-path $(INSTALL_PATH) $(KSELFTEST_SPECS)

# What `make check` and `make bench` run, one "check PROG" / "bench PROG"
# a line: ci/nightly --quick picks its subset from it.
nightly-programs:
	@printf 'check %s\n' $(CHECK_PROGS)
	@printf 'bench %s\n' $(BENCH_PROGS)
