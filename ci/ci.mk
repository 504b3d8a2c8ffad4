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
# them) and "kmmu/lib" (the guest runtime's own tests), as ci/suite.cfg's
# "kselftest =" says.  Without /dev/kvm the KVM tests SKIP there (no VM
# fallback: that is ci/kmmu-run's).

KSELFTEST_STAGE := $(O)/kselftest
# The tests come from ci/suite.cfg (--build); the tools are not tests.
KSELFTEST_SPECS = --build $(O) $(addprefix kmmu:+,$(SELFTEST_TOOLS))
KSELFTEST := ci/kselftest

.PHONY: kselftest kselftest-install nightly-programs

kselftest: deps $(SELFTESTS) $(SELFTEST_TOOLS) $(SELFTEST_LIB_TESTS)
	@$(KSELFTEST) run --ksft $(KSFT_DIR) --stage $(KSELFTEST_STAGE) $(KSELFTEST_SPECS)

kselftest-install: deps $(SELFTESTS) $(SELFTEST_TOOLS) $(SELFTEST_LIB_TESTS)
	@test -n "$(INSTALL_PATH)" || { echo "kselftest-install: set INSTALL_PATH=DIR" >&2; exit 2; }
	@$(KSELFTEST) install --ksft $(KSFT_DIR) --stage $(KSELFTEST_STAGE) \
		--install-path $(INSTALL_PATH) $(KSELFTEST_SPECS)

# What `make check` and `make bench` run, one "check PROG" / "bench PROG"
# a line (ci/kmmu-run's [kvm:]PROGRAM[+ARG...]): ci/nightly --quick picks
# its subset from it.
TESTLIST := /usr/bin/python3 plots/kmmu/testlist.py --build $(O)
nightly-programs:
	@$(TESTLIST) --group check | sed 's/^/check /'
	@$(TESTLIST) --group bench | sed 's/^/bench /'
