# SPDX-License-Identifier: GPL-2.0
#
# plots/: kmmu-plot and the tools' Python package plots/kmmu (results,
# stats, compare, text, plot, report, testlist, nightly), with a test per
# module in plots/tests; nothing to build.  The tests are in ci/suite.cfg.
