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

Runs of a program with a family prior (compare.program_families(): 10
metrics or more) are planned for the test compare makes of them, the
moderated t of the logs of the runs (compare.moderated_runs()): each
metric's variance between runs moderated by its family's, never below
the family's typical one, with at most RUN_SPREAD_DF degrees of freedom.
Two runs that happen to agree do not promise a fine resolution there.
"""

import math

from kmmu.compare import (BY_RUNS, comparison_basis, fit_run_priors, floored_run_variance,
                          metric_catalogue, run_test_df)
from kmmu.stats import (POWER, detectable_difference, detectable_difference_se, mean,
                        sample_variance, values_needed)

# The most runs a side the moderated plan looks for.
MAX_RUNS = 10000


class MetricResolution:
    def __init__(self, info, group, basis, values, target, alpha, prior=None):
        self.info = info
        self.group = group
        self.basis = basis
        self.n = len(values)
        self.mean = mean(values)
        self.sd = math.sqrt(sample_variance(values)) if self.n >= 2 else None
        self.cv = None          # percent
        self.resolution = None  # percent, of an A/B of n against n values
        self.needed = None      # values a side for the target; None: never / unknown
        self.moderated = False
        if self.sd is None or self.mean == 0:
            return
        if prior is not None and basis == BY_RUNS and min(values) > 0:
            self.plan_moderated(values, target, alpha, prior)
            return
        self.cv = self.sd / abs(self.mean) * 100
        self.resolution = detectable_difference(self.sd, self.n, self.sd, self.n,
                                                alpha) / abs(self.mean) * 100
        self.needed = values_needed(self.sd, target / 100 * abs(self.mean), alpha)

    def plan_moderated(self, values, target, alpha, prior):
        """The resolution and the runs a side for the target of compare's
        moderated test of an A/B of n against n runs like these: the
        variance of the logs moderated and floored at the prior's s0^2, its
        degrees of freedom min(d0 + 2(n - 1), the family's, RUN_SPREAD_DF).
        cv is then that moderated noise (the sd of a run's log, in %)."""
        s2 = floored_run_variance(sample_variance([math.log(x) for x in values]), self.n - 1, prior)
        self.moderated = True
        self.cv = math.sqrt(s2) * 100

        def resolution(n):
            df = run_test_df(prior, 2 * (n - 1), 2 * prior.total_df)
            # As compare.resolve() takes the moderated test's se.
            return detectable_difference_se(math.sqrt(s2 * 2.0 / n), df, alpha, POWER) * 100

        self.resolution = resolution(self.n)
        for n in range(2, MAX_RUNS + 1):
            if resolution(n) <= target:
                self.needed = n
                break

    @property
    def more(self):
        """Values to add a side to reach the target (0: reached)."""
        return None if self.needed is None else max(0, self.needed - self.n)

    def reached(self, target):
        return self.resolution is not None and self.resolution <= target


def run_priors(group, catalogue):
    """{program: RunVariancePrior} of a group's metrics that have 2 runs
    or more: the variances of the logs of each metric's runs, fitted per
    family as compare fits the variances of an A/B's two sides."""
    variances = {}
    for key, info in catalogue.items():
        values = group.run_values(key)
        if len(values) >= 2 and min(values) > 0:
            logs = [math.log(x) for x in values]
            variances.setdefault(info.program, []).append((sample_variance(logs), len(logs) - 1))
    return fit_run_priors(variances)[1]


def group_resolutions(groups, target, alpha):
    """One MetricResolution per (group, metric the group has), in the
    catalogue's order of metrics."""
    out = []
    catalogue = metric_catalogue([r for g in groups for r in g.runs])
    priors = {g.name: run_priors(g, catalogue) for g in groups}
    for key, info in catalogue.items():
        for g in groups:
            runs_values = g.run_values(key)
            if not runs_values:
                continue
            basis = comparison_basis(runs_values, runs_values)
            values = runs_values if basis == BY_RUNS else g.samples(key)
            out.append(MetricResolution(info, g, basis, values, target, alpha,
                                        priors[g.name].get(info.program)))
    return out


def unresolved(resolutions, target):
    return [r for r in resolutions if not r.reached(target)]
