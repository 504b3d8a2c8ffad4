# SPDX-License-Identifier: GPL-2.0
#
# plots/: kmmu-plot and the tools' Python package plots/kmmu (results,
# stats, compare, text, plot, report), with a test per module; nothing to
# build.  Its tests are in ci/suite.cfg.
