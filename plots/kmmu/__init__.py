# SPDX-License-Identifier: GPL-2.0
"""kmmu: the Python tools' one package, used by plots/kmmu-plot, ci/kmmu-run,
stress/kmmu-stress, ci/nightly and ci/nightly-matrix (and their tests)
straight from the source tree.

  results   kmmu-result/1 files: the one reader and writer (atomic writes)
  stats     summary statistics, Welch's t-test and its power (scipy.stats),
            p-values adjusted as a family (statsmodels)
  compare   runs grouped and compared metric by metric, trends
  text      the plain-text tables
  resolution how finely runs resolve a change, the runs a side for a target
  plot      matplotlib pictures
  report    the self-contained HTML report
  testlist  ci/suite.cfg, the one declarative list of the suite's programs
  cli       the tools' command lines: a bad one is one line, exit status 2
  nightly   ci/nightly's result-file work: a step's counts, the baseline

Debian's python3 packages only (python3-scipy, python3-statsmodels,
python3-matplotlib; see
ci/deps.sh), no installation: each tool puts this directory's parent
(plots/) first on sys.path.  results, testlist and nightly use nothing but
the standard library, so the test VM's python3 can run the stress.
"""

import os
import sys


def prog_name():
    """The running tool's name, for messages ("kmmu-plot: ...")."""
    return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "kmmu"


def warn(msg):
    print(f"{prog_name()}: warning: {msg}", file=sys.stderr)


def note(msg):
    print(f"{prog_name()}: note: {msg}", file=sys.stderr)
