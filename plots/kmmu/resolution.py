# SPDX-License-Identifier: GPL-2.0
"""How finely a set of runs resolves a change, and how many more runs it
takes to resolve a target: kmmu-plot resolution, and ci/ab's stopping rule.

For each group of runs (a kernel's, say) and metric, the noise is measured
as kmmu-plot compare will test it (compare.comparison_basis()): the spread
of the runs' medians when there are two or more runs, else the samples of
the one run (which understates the noise of a comparison between runs).
The resolution is that of an A/B of this group against another of the
same size and noise: the smallest change of the mean Welch's test finds at
alpha with power 0.8 (stats.detectable_difference(), noncentral t).
"""

import math

from kmmu.compare import BY_RUNS, comparison_basis, metric_catalogue
from kmmu.stats import detectable_difference, mean, sample_variance, values_needed


class MetricResolution:
    def __init__(self, info, group, basis, values, target, alpha):
        self.info = info
        self.group = group
        self.basis = basis
        self.n = len(values)
        self.mean = mean(values)
        self.sd = math.sqrt(sample_variance(values)) if self.n >= 2 else None
        self.cv = None          # percent
        self.resolution = None  # percent, of an A/B of n against n values
        self.needed = None      # values a side for the target; None: never / unknown
        if self.sd is None or self.mean == 0:
            return
        self.cv = self.sd / abs(self.mean) * 100
        self.resolution = detectable_difference(self.sd, self.n, self.sd, self.n,
                                                alpha) / abs(self.mean) * 100
        self.needed = values_needed(self.sd, target / 100 * abs(self.mean), alpha)

    @property
    def more(self):
        """Values to add a side to reach the target (0: reached)."""
        return None if self.needed is None else max(0, self.needed - self.n)

    def reached(self, target):
        return self.resolution is not None and self.resolution <= target


def group_resolutions(groups, target, alpha):
    """One MetricResolution per (group, metric the group has), in the
    catalogue's order of metrics."""
    out = []
    for key, info in metric_catalogue([r for g in groups for r in g.runs]).items():
        for g in groups:
            runs_values = g.run_values(key)
            if not runs_values:
                continue
            basis = comparison_basis(runs_values, runs_values)
            values = runs_values if basis == BY_RUNS else g.samples(key)
            out.append(MetricResolution(info, g, basis, values, target, alpha))
    return out


def unresolved(resolutions, target):
    return [r for r in resolutions if not r.reached(target)]
