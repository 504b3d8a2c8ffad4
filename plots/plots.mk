# SPDX-License-Identifier: GPL-2.0
#
# plots/: kmmu-plot and the tools' Python package plots/kmmu (results,
# stats, compare, text, plot, report), with a test per module; nothing to
# build.
CHECK_PROGS += plots/tests/results_test plots/tests/stats_test plots/tests/text_test
CHECK_PROGS += plots/tests/plot_test
