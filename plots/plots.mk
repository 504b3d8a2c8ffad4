# SPDX-License-Identifier: GPL-2.0
#
# plots/: kmmu-plot (Python, matplotlib) and its tests; nothing to build.
CHECK_PROGS += plots/tests/plot_test
