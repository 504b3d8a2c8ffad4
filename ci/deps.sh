#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what kmmu needs from Debian's archive and unpack the parts of the
# kernel tree the build uses (the kselftest framework, tools/lib/rbtree.c,
# tools/include) into a build cache.  With KSRC=/path/to/linux the user's own
# kernel tree is used instead of Debian's linux-source-6.1.
#
# Idempotent and quick when everything is already there: it only calls
# apt-get for packages that are missing and only unpacks once.
set -euo pipefail

O=${O:-build}
KSRC=${KSRC:-}
PACKAGES=(
	build-essential pkg-config
	linux-source-6.1
	libtracefs-dev libtraceevent-dev libtracecmd-dev trace-cmd
	liburcu-dev libnuma-dev libgsl-dev
	python3 python3-matplotlib python3-numpy python3-scipy python3-statsmodels
	python3-lxml python3-junitparser
	spin
	clang libclang-rt-14-dev
	qemu-system-x86
	rsync
)

die() { echo "deps: $*" >&2; exit 1; }

missing=()
for p in "${PACKAGES[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || die "missing packages (${missing[*]}); run 'make deps' as root"
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || die "apt-get update failed"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
fi

# Without a usable /dev/kvm the KVM selftests run in a VM with a real nested
# KVM (ci/vm/run-in-vm): fetch its kernel and build its initramfs now, once.
# (Test with '<', never '<>': that would create a regular file /dev/kvm.)
kvm_dev=${KMMU_KVM_DEV:-/dev/kvm}
if [ "${VM:-auto}" != never ] && ! { [ -c "$kvm_dev" ] && ( exec 3<"$kvm_dev" ) 2>/dev/null; }; then
	"$(dirname "$0")/vm/run-in-vm" --prepare >/dev/null ||
		die "preparing the KVM test VM failed (ci/vm/run-in-vm --prepare); VM=never skips it"
fi

# The kernel tree: the user's (KSRC) or the subset of Debian's source we need.
if [ -n "$KSRC" ]; then
	for f in tools/testing/selftests/kselftest_harness.h tools/lib/rbtree.c \
		 tools/include/linux/interval_tree_generic.h; do
		[ -f "$KSRC/$f" ] || die "KSRC=$KSRC has no $f: not a kernel tree?"
	done
	exit 0
fi

ksrc="$O/linux-source-6.1"
stamp="$ksrc/.kmmu-unpacked"
tarball=/usr/src/linux-source-6.1.tar.xz
[ -f "$tarball" ] || die "$tarball not found although linux-source-6.1 is installed"
if [ ! -f "$stamp" ] || [ "$tarball" -nt "$stamp" ]; then
	echo "deps: unpacking the kselftest framework and tools/lib from $tarball"
	mkdir -p "$O"
	rm -rf "$ksrc"
	tar -xJf "$tarball" -C "$O" --wildcards \
		'linux-source-6.1/tools/testing/selftests/kselftest*' \
		'linux-source-6.1/tools/testing/selftests/lib.mk' \
		'linux-source-6.1/tools/testing/selftests/run_kselftest.sh' \
		'linux-source-6.1/tools/lib/rbtree.c' \
		'linux-source-6.1/tools/include/*' \
		'linux-source-6.1/scripts/subarch.include' ||
		die "unpacking $tarball failed"
	touch "$stamp"
fi
