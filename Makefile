# SPDX-License-Identifier: GPL-2.0
#
# kmmu: selftests, a reference x86 KVM MMU, benchmarks and stress.
#
#   make run     build, run the default suite on this host, write a result file
#   make check   the tests (reference unit/property/sanitizer tests, selftests)
#   make bench   the benchmarks only (result file)
#   make stress  the nightly stress (an hour; STRESS_ARGS to change it)
#   make deps    install packages and unpack the kernel's kselftest framework
#
# KSRC=/path/to/linux builds against your own kernel tree's kselftest
# framework and tools/lib instead of Debian's linux-source-6.1.

O	?= build
KSRC	?=
RESULTS	?= results
# Where KVM selftests run when this host has no usable /dev/kvm: auto (in a
# QEMU/TCG VM with a real nested KVM, ci/vm/run-in-vm), never (SKIP), always.
VM	?= auto

# Two passes.  The make a user starts installs what is missing (ci/deps.sh)
# and only then runs the goals in a second make, which reads the Makefiles
# afresh: flags computed while they are read (pkg-config of libtraceevent)
# and the kernel headers every object includes must exist by then, and with
# -j nothing may compile while deps is still installing them.
# The second pass is marked with the build it is for: a make started from a
# recipe for another clone or build directory (a test's) does its own deps.
DEPS_DONE_FOR := $(abspath $(O)):$(KSRC)
ifneq ($(KMMU_DEPS_DONE),$(DEPS_DONE_FOR))
GOALS := $(or $(MAKECMDGOALS),all)
# Goals that need no package: no deps for them.
NODEPS_GOALS := clean nightly-programs
NEED_DEPS := $(filter-out $(NODEPS_GOALS),$(GOALS))
# `make -n` prints what would be done; it installs nothing.
DRY_RUN := $(findstring n,$(firstword -$(MAKEFLAGS)))

.PHONY: $(GOALS) kmmu-second-pass
$(GOALS): kmmu-second-pass
	@:
kmmu-second-pass:
ifneq ($(and $(NEED_DEPS),$(if $(DRY_RUN),,y)),)
	@O=$(O) KSRC=$(KSRC) VM=$(VM) ci/deps.sh
endif
ifneq ($(filter-out deps,$(GOALS)),)
	+@$(MAKE) --no-print-directory KMMU_DEPS_DONE='$(DEPS_DONE_FOR)' $(filter-out deps,$(GOALS))
endif
else

ifeq ($(KSRC),)
KSRC_DIR := $(O)/linux-source-6.1
else
KSRC_DIR := $(KSRC)
endif
KSFT_DIR := $(KSRC_DIR)/tools/testing/selftests

# Every object is compiled with the kernel tree's headers (PROG_INC,
# REF_CFLAGS), but its .d file names them by path: after KSRC= names another
# tree whose files are older than the objects, nothing would be rebuilt.  So
# every object depends on this stamp, which holds the tree's resolved path
# and is rewritten only when that changes.  It is compared here, while the
# Makefile is read, not in its recipe: then `make -n` neither writes it nor
# lists every object as out of date.
KSRC_STAMP := $(O)/.ksrc
KSRC_RESOLVED := $(or $(realpath $(KSRC_DIR)),$(abspath $(KSRC_DIR)))
ifneq ($(file <$(KSRC_STAMP)),$(KSRC_RESOLVED))
$(KSRC_STAMP): FORCE
endif
$(KSRC_STAMP):
	@mkdir -p $(dir $@)
	@echo '$(KSRC_RESOLVED)' > $@

CC	?= gcc
CLANG	?= clang
CFLAGS	?= -O2 -g
# No include paths here: each library adds only its own and those of the
# libraries below it (DESIGN.md "Layers"), so a ref/ file that includes a
# tracing/ header, or a tracing/ file a selftests/lib one, does not compile.
#   REF_INC        ref/: the model (+ the kernel's tools/include, REF_CFLAGS)
#   TRACING_INC    tracing/: observing the host kernel, on ref/
#   SELFTEST_INC   selftests/lib: driving the kernel, on tracing/ and ref/
#   PROG_INC       programs (tests, benchmarks, tools): every library and
#                  the kselftest harness of the kernel tree
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
	-Wno-missing-field-initializers -Wno-sign-compare -pthread -MMD -MP
REF_INC := -Iref/include
TRACING_INC := -Itracing/include $(REF_INC)
SELFTEST_INC := -Iselftests/lib/include $(TRACING_INC)
PROG_INC := $(SELFTEST_INC) -I$(KSFT_DIR)
# The libraries, named here so that a part's programs may link one whose
# part comes later (ref/bench takes the host probe from tracing/).
REF_LIB := $(O)/ref/libkmmuref.a
RESULT_LIB := $(O)/ref/libkmmuresult.a
TRACING_LIB := $(O)/tracing/libkmmutrace.a
SELFTEST_LIB := $(O)/selftests/libkmmukvm.a
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
LDLIBS	:= -pthread

# What run, check and bench run is not here: ci/suite.cfg lists every
# program with its groups, arguments and needs; ci/kmmu-run reads it.  The
# parts' Makefiles only build the programs (ALL_BINS).
ALL_BINS :=

.PHONY: all deps run check check-ci bench clean FORCE
all:

# In dependency order: a part's rules name the libraries of those before it.
include ref/ref.mk
include tracing/tracing.mk
include selftests/selftests.mk
-include stress/stress.mk
-include ref/models/models.mk
-include plots/plots.mk
-include ci/ci.mk

all: $(ALL_BINS)

# The first pass ran ci/deps.sh before this make read any Makefile.
deps:

empty :=
space := $(empty) $(empty)
RUNNER := /usr/bin/python3 ci/kmmu-run --build $(O) --results $(RESULTS) --vm $(VM)

run: deps all
	@$(RUNNER) --mode run --group run

check: deps all
	@$(RUNNER) --mode check --group check

# The tests of ci/'s own tools (the campaign, bisect, A/B, the nightly...).
check-ci: deps all
	@$(RUNNER) --mode check --group ci

bench: deps all
	@$(RUNNER) --mode bench --group bench

clean:
	rm -rf $(O)/ref $(O)/selftests $(O)/tracing $(O)/stress $(O)/asan $(KSRC_STAMP)

# Only from the parts' own object directories: build/ also holds kernel
# trees (ci/vm/build-kernel's, the upstream selftests') with .d files and
# directories of their own.
-include $(shell find $(addprefix $(O)/,ref tracing selftests stress asan tsan) \
	-name '*.d' -type f -print 2>/dev/null)

endif # second pass
