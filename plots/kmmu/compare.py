# SPDX-License-Identifier: GPL-2.0
"""Comparing runs metric by metric: runs grouped (by kernel, revision or
file), each group judged against the baseline with Welch's t-test and a
threshold (see judge()), the resolution of each comparison, and the trend
points of a metric across runs.

The unit of a comparison is the run.  Runs of the same kernel differ from
each other more than the samples of one run do (where the guest's memory
landed, what else the host was doing), so samples pooled over runs look
more precise than they are and two sets of runs of one kernel "differ
significantly".  (A run here is one set of a metric's samples: a round of
`make bench`, which boots a VM per round, is one; see ci/kmmu-run.)  When
both sides have at least two runs with a metric, the test compares the
runs' medians (one value per run: the between-run variance).  Two or
three runs a side say little of one metric's variance alone, and the
metrics of one program vary between runs alike, so each metric's
variance is moderated by its program's (moderated_runs(): Smyth's
empirical Bayes t-test, as limma's): on the log scale, its own pooled
variance and a prior fitted to the family's, weighted by their degrees
of freedom; a family whose metrics vary very unlike each other (a few
that jump between boots) gets a weak prior, and each of those metrics
keeps mostly its own variance.  No metric is taken as quieter than its
family's typical one (a few runs that agree do not show it), and the
test has the heavy tails of RUN_SPREAD_DF degrees of freedom at most.
With one run on a side (two `make bench` runs of one round, say) the
samples are all there is of each metric, and alone they would call every
difference between two runs of one kernel a change: so the spread between
runs is estimated from the family itself.  When nothing changed, each
metric's change is that spread plus its own samples' noise; a kernel
change moves some metrics, or all of them by similar amounts, and leaves
the spread about their common shift alone.  A program with enough metrics
gets a spread of its own (family_spreads()).  between_run_spread() finds
the spread at which the shortest half of the metrics' standardized
changes is as wide as a normal's, and each metric's test adds it to its
samples' noise (see measure()).

A comparison of two groups tests every metric at once, a hundred of them
in a full make bench: at alpha 0.05 about five would look significant
between two runs of one kernel.  So the p-values of one compared group's
metrics are adjusted as a family (Benjamini-Hochberg,
stats.adjusted_p_values()) and the verdict rests on the adjusted p: between runs of
one kernel the chance of any alarm at all is then alpha, while a slowdown
of many metrics at once (what a kernel change does) loses little power.
Each row keeps both p-values.
"""

import json
import math
import os

from kmmu import note
from kmmu.results import HIGHER, LOWER, InputError, load_run
from kmmu.stats import (POWER, SHORTEST_HALF_NORMAL, adjusted_p_values,
                        detectable_difference_se, mean, median, moderated_variance, normal_cdf,
                        normal_pdf, sample_variance, shortest_half,
                        student_t_quantile, student_t_two_sided_p, variance_prior, welch_t_test)

REGRESSION, IMPROVEMENT, NO_CHANGE = "REGRESSION", "improvement", "no change"
N_TOO_SMALL, MISSING, NEW = "n too small", "missing", "new"
NOT_RESOLVED = "not resolved"
VERDICT_ORDER = [REGRESSION, IMPROVEMENT, NOT_RESOLVED, NO_CHANGE, N_TOO_SMALL, MISSING, NEW]

# What a comparison's values are: the runs' medians, or every sample.
BY_RUNS, BY_SAMPLES = "runs", "samples"

# The fewest single-run metrics of a group the spread between runs is
# estimated from; with fewer, their samples alone are compared.
SPREAD_MIN_METRICS = 10
# Metrics farther than TRIM standard deviations from the robust fit are
# left out of the spread's refinement (they moved); the variance of a
# standard normal within +-TRIM is what the kept ones must match.
TRIM = 3.0
TRIMMED_NORMAL_VARIANCE = 1.0 - 2.0 * TRIM * normal_pdf(TRIM) / (2.0 * normal_cdf(TRIM) - 1.0)
# The degrees of freedom the spread brings to a metric's test.  Runs'
# deviations are heavier-tailed than a normal's: in two idle A/A runs of
# the benchmarks in the VM, a metric of a program whose spread was 4.7%
# moved by 50% (memslot_perf_test's unmap-chunked at 509 slots, as in
# issue 15's first A/A).  A Student t of 4 degrees of freedom gives them
# room without letting a change of most metrics at once go unseen.
RUN_SPREAD_DF = 4.0


class RunVariancePrior:
    """The prior of the variances between runs of a family of metrics
    compared by runs: d0 degrees of freedom (inf: one variance fits them
    all) about s0_2, the variance of the log of a run's value; fitted to
    n metrics of the programs named in programs (run_variance_priors())."""

    def __init__(self, d0, s0_2, n, total_df, programs):
        self.d0 = d0
        self.s0_2 = s0_2
        self.n = n
        self.total_df = total_df    # of the family's variances together
        self.programs = programs


class RunSpread:
    """The spread between runs of a group compared one run a side: tau,
    the standard deviation of one run's mean about the kernel's, relative
    to the mean; estimated from the changes of n metrics of the programs
    named in programs (family_spreads() sets them)."""

    def __init__(self, tau, n, programs=None):
        self.tau = tau
        self.n = n
        self.programs = programs


class MetricInfo:
    """What a metric is, independent of any run."""

    def __init__(self, m):
        self.key = m.key
        self.program = m.program
        self.name = m.name
        self.unit = m.unit
        self.direction = m.direction
        self.params = m.params

    def title(self):
        return f"{self.program}: {self.name}" if self.program else self.name

    def params_text(self):
        return ", ".join(f"{k}={v}" for k, v in self.params.items())

    def label(self):
        p = self.params_text()
        return self.title() + (f" [{p}]" if p else "")

    def better_word(self):
        return "higher" if self.direction == HIGHER else "lower"

    def better_text(self):
        return f"{self.better_word()} is better"


def metric_catalogue(runs):
    """Every metric key in order of first appearance, with its description."""
    infos = {}
    for run in runs:
        for m in run.metrics:
            if m.key not in infos:
                infos[m.key] = MetricInfo(m)
    return infos


def pooled_samples(runs, key):
    out = []
    for run in runs:
        for m in run.metrics:
            if m.key == key:
                out.extend(m.samples)
    return out


def run_medians(runs, key):
    """One value per run that has the metric: the median of its samples
    (robust to an outlier within the run)."""
    return [median(m.samples) for run in runs for m in run.metrics if m.key == key]


class Group:
    def __init__(self, name, runs, is_baseline=False):
        self.name = name
        self.runs = runs
        self.is_baseline = is_baseline
        self.spreads = []           # RunSpreads of its single-run comparisons (family_spreads())
        self.priors = []            # RunVariancePriors of its comparisons by runs

    def samples(self, key):
        return pooled_samples(self.runs, key)

    def run_values(self, key):
        return run_medians(self.runs, key)

    def describe(self):
        n = len(self.runs)
        times = [r.start for r in self.runs if r.start]
        span = ""
        if times:
            first, last = min(times).strftime("%Y-%m-%d"), max(times).strftime("%Y-%m-%d")
            span = first if first == last else f"{first}..{last}"
        kernels = sorted({r.kernel for r in self.runs})
        revs = sorted({r.revision for r in self.runs})
        return (f"{n} run{'s' if n != 1 else ''}"
                f"{', ' + span if span else ''}; kernel {', '.join(kernels)}; "
                f"revision {', '.join(revs)}")


GROUP_KEYS = {
    "kernel": lambda r: r.kernel,
    "revision": lambda r: r.revision,
    "run": lambda r: r.label,
    # The directory a file is in: two result directories as two sides
    # whatever their runs say (ci/ab's A and B, whose runs all name the
    # host's kernel, the kernels under test being in the VM).
    "dir": lambda r: os.path.dirname(r.path) or ".",
}


def group_runs(runs, by):
    """Runs grouped by kernel, revision or run, in order of first appearance."""
    order, members = [], {}
    for r in runs:
        k = GROUP_KEYS[by](r)
        if k not in members:
            order.append(k)
            members[k] = []
        members[k].append(r)
    return [Group(k, members[k]) for k in order]


def make_groups(runs, group_by, baseline_arg):
    """Groups in display order, the baseline first.

    --baseline FILE makes that file a group of its own, whatever it shares
    with the others; --baseline NAME picks a group; by default the group of
    the first file given is the baseline.  When every run falls into one
    group there is nothing to compare, so the runs are compared one by one:
    that is what "a copy of a result file" or "a re-run" needs.
    """
    baseline_run = None
    if baseline_arg and os.path.isfile(baseline_arg):
        real = os.path.realpath(baseline_arg)
        baseline_run = next((r for r in runs if os.path.realpath(r.path) == real), None)
        if baseline_run is None:
            baseline_run = load_run(baseline_arg)
            if not baseline_run.metrics:
                raise InputError(f"{baseline_arg}: no metrics (a run without benchmarks?)")
            runs = [baseline_run] + runs
    others = [r for r in runs if r is not baseline_run]
    groups = group_runs(others, group_by)
    if baseline_run is None and len(groups) == 1 and len(runs) > 1 and group_by != "run":
        note(f"all {len(runs)} runs share {group_by} {groups[0].name!r}: comparing them run by run")
        if baseline_arg == groups[0].name:
            baseline_arg = None     # it named every run: the first one is the baseline
        group_by = "run"
        groups = group_runs(others, group_by)
    if baseline_run is not None:
        base = Group(baseline_run.label, [baseline_run])
        groups = [base] + groups
    elif baseline_arg:
        base = next((g for g in groups if g.name == baseline_arg), None)
        if base is None:
            names = ", ".join(g.name for g in groups)
            raise InputError(f"--baseline {baseline_arg}: no such file or {group_by} "
                             f"among the runs (they have: {names})")
        groups = [base] + [g for g in groups if g is not base]
    base = groups[0]
    base.is_baseline = True
    return groups, group_by, runs


class Row:
    """One non-baseline group's numbers for one metric."""

    def __init__(self, group, samples, run_values):
        self.group = group
        self.samples = samples          # pooled, for the pictures
        self.run_values = run_values    # one per run with the metric
        self.median = median(samples) if samples else None
        self.basis = None           # BY_RUNS or BY_SAMPLES: what the test compared
        self.change = None          # of the median, relative to the baseline's, in percent
        self.mean_change = None     # of the mean, percent
        self.mean_change_ci = None  # (lo, hi) percent, 95% CI of the mean's change
        self.resolution = None      # percent: the smallest change the test detects, see resolve()
        self.se = None              # the test's standard error, of the mean's difference
        self.base_mean = None       # the baseline's mean, of what the test compared
        self.p = None
        self.p_adjusted = None      # p adjusted over the group's metrics (adjust_family())
        self.t = None
        self.df = None
        self.verdict = MISSING

    def values(self):
        return self.run_values if self.basis == BY_RUNS else self.samples


class Comparison:
    def __init__(self, info, base_samples, base_run_values):
        self.info = info
        self.base_samples = base_samples
        self.base_run_values = base_run_values
        self.base_median = median(base_samples) if base_samples else None
        self.rows = []

    def worst(self):
        return min((r.verdict for r in self.rows), key=VERDICT_ORDER.index, default=NO_CHANGE)


def relative_change(new, base):
    if base == 0:
        return 0.0 if new == 0 else math.copysign(math.inf, new)
    return (new - base) / abs(base) * 100.0


def comparison_basis(base_run_values, run_values):
    """Runs are the unit when both sides have two or more runs of the metric."""
    if len(base_run_values) >= 2 and len(run_values) >= 2:
        return BY_RUNS
    return BY_SAMPLES


def oriented_log_change(direction, base, new):
    """(d, v): the log of the ratio of the means of new and base, signed
    so that worse is positive, and its variance from the samples' noise
    (delta method); None without 2 values a side or a positive mean."""
    if len(base) < 2 or len(new) < 2:
        return None
    ma, mb = mean(base), mean(new)
    if ma <= 0 or mb <= 0:
        return None
    d = math.log(mb / ma)
    v = sample_variance(base) / len(base) / ma ** 2 + sample_variance(new) / len(new) / mb ** 2
    return (d if direction == LOWER else -d), v


def between_run_spread(changes):
    """The RunSpread of a family from its metrics' changes, (d, v) pairs
    of oriented_log_change(), or None with fewer than SPREAD_MIN_METRICS.

    Each change is modelled as its metric's shift plus the two runs'
    deviations (tau each, relative) plus its samples' noise (v), and
    standardized as (d - centre) / sqrt(v + 2 tau^2).  A robust start: the
    tau at which the shortest half of the standardized changes, about the
    shortest half's midpoint, is as wide as a standard normal's; it
    ignores a minority of metrics that moved and, when a change moved most
    of them alike, measures the spread about that shift.  Then, for
    precision (the shortest half alone uses half of the metrics), the
    metrics within TRIM of the fit are kept and tau is where their
    standardized changes, about their mean, have a normal's variance
    truncated at TRIM; again, until the kept metrics stay the same.  0
    where the samples' noise alone explains the changes.
    """
    if len(changes) < SPREAD_MIN_METRICS:
        return None

    def standardized(d, v, centre, tau):
        sd = math.sqrt(v + 2.0 * tau * tau)
        if sd == 0:
            return 0.0 if d == centre else math.copysign(math.inf, d - centre)
        return (d - centre) / sd

    def solve(too_wide):
        """The least tau >= 0 that is not too wide (too_wide falls with tau)."""
        if not too_wide(0.0):
            return 0.0
        lo, hi = 0.0, 1.0
        while too_wide(hi):
            lo, hi = hi, hi * 2.0
            if hi > 1e6:
                return math.inf
        for _ in range(60):
            mid = (lo + hi) / 2.0
            if too_wide(mid):
                lo = mid
            else:
                hi = mid
        return hi

    _, centre = shortest_half([d for d, _ in changes])
    tau = solve(lambda t: shortest_half([standardized(d, v, centre, t)
                                         for d, v in changes])[0] > SHORTEST_HALF_NORMAL)
    if math.isinf(tau):
        return RunSpread(tau, len(changes))
    n = None
    # Until the kept metrics no longer change (the robust start may be wide
    # enough to keep some that moved: the next fit leaves them out).
    for _ in range(20):
        kept = [(d, v) for d, v in changes if abs(standardized(d, v, centre, tau)) <= TRIM]
        if len(kept) < SPREAD_MIN_METRICS or len(kept) == n:
            break
        n = len(kept)
        centre = mean([d for d, _ in kept])
        tau = solve(lambda t: mean([standardized(d, v, centre, t) ** 2 for d, v in kept])
                    > TRIMMED_NORMAL_VARIANCE)
    return RunSpread(tau, n or len(changes))


def program_families(items):
    """The families of {program: [item]}: (programs, items) for each
    program with SPREAD_MIN_METRICS items or more, and one of the other
    programs together (or, too few for that, of every program), last."""
    families, rest = [], []
    for program, its in items.items():
        if len(its) >= SPREAD_MIN_METRICS:
            families.append(([program], its))
        else:
            rest.append(program)
    if rest:
        pooled = [it for p in rest for it in items[p]]
        if len(pooled) < SPREAD_MIN_METRICS:
            pooled = [it for its in items.values() for it in its]
        families.append((rest, pooled))
    return families


def log_run_variance(base, new):
    """(s^2, d): the pooled variance of the logs of both sides' run
    values and its degrees of freedom, or None without 2 values a side or
    with a value that is not positive."""
    if len(base) < 2 or len(new) < 2 or min(base) <= 0 or min(new) <= 0:
        return None
    la, lb = [math.log(x) for x in base], [math.log(x) for x in new]
    ma, mb = mean(la), mean(lb)
    d = len(la) + len(lb) - 2
    return (sum((x - ma) ** 2 for x in la) + sum((x - mb) ** 2 for x in lb)) / d, d


def run_variance_priors(by_runs):
    """The priors of a group's comparisons by runs, (info, comparison,
    row) triples: ([RunVariancePrior], {program: RunVariancePrior}), a
    family as program_families() makes them."""
    variances = {}
    for info, c, row in by_runs:
        v = log_run_variance(c.base_run_values, row.run_values)
        if v is not None:
            variances.setdefault(info.program, []).append(v)
    return fit_run_priors(variances)


def fit_run_priors(variances):
    """([RunVariancePrior], {program: RunVariancePrior}) fitted to
    {program: [(s^2, d)]}, the variances of the logs of metrics' runs,
    per family (program_families(); SPREAD_MIN_METRICS metrics or more)."""
    priors, of_program = [], {}
    for programs, family in program_families(variances):
        fit = variance_prior(family) if len(family) >= SPREAD_MIN_METRICS else None
        if fit is None:
            continue
        prior = RunVariancePrior(fit[0], fit[1], len(family), sum(d for _, d in family), programs)
        priors.append(prior)
        for p in programs:
            of_program[p] = prior
    return priors, of_program


def floored_run_variance(s2, d, prior):
    """A metric's variance of the logs of its runs (d degrees of freedom)
    moderated by its family's prior, and never below the prior's s0^2:
    two or three runs that agree do not show a metric varies less than
    its family (see moderated_runs())."""
    return max(moderated_variance(s2, d, (prior.d0, prior.s0_2))[0], prior.s0_2)


def run_test_df(prior, d, total_df):
    """The degrees of freedom of the moderated test of runs with d of
    their own, total_df the family's: at most RUN_SPREAD_DF (the runs'
    heavy tails)."""
    return min(prior.d0 + d, total_df, RUN_SPREAD_DF)


def moderated_runs(base, new, prior):
    """The moderated t-test of base's run values against new's, on the
    log scale (the variance of the logs moderated_variance() gives, at
    least the prior's s0^2, with RUN_SPREAD_DF degrees of freedom at
    most): (t, df, p, se, change), se the standard error of the
    difference of the log means times base's mean (what resolve() takes)
    and change the geometric means' in percent; None when the logs
    cannot be taken or have no variance at all."""
    v = log_run_variance(base, new)
    if v is None:
        return None
    # Two or three runs a side that agree do not show a metric varies less
    # than its family: in idle runs of one kernel, memslot_perf_test's
    # setup of 32762 slots took 3.46 and 3.40 s in two boots, 6.31 and
    # 6.39 s in the next two, while its program's metrics varied about 10%
    # between boots.  So no metric is taken as quieter than the prior's
    # typical one, and the runs' heavy tails get RUN_SPREAD_DF degrees of
    # freedom at most, as in the single-run test.
    s2 = floored_run_variance(v[0], v[1], prior)
    if s2 <= 0:
        return None
    df = run_test_df(prior, v[1], prior.total_df)
    diff = mean([math.log(x) for x in new]) - mean([math.log(x) for x in base])
    se_log = math.sqrt(s2 * (1.0 / len(base) + 1.0 / len(new)))
    t = diff / se_log
    return t, df, student_t_two_sided_p(t, df), se_log * mean(base), (math.exp(diff) - 1.0) * 100.0


def family_spreads(single):
    """The spreads between runs of a group's single-run comparisons,
    (info, comparison, row) triples: ([RunSpread], {program: RunSpread}).

    Programs differ in how much their runs vary (a benchmark of a few
    milliseconds of work more than one of seconds), so a program with
    SPREAD_MIN_METRICS metrics or more has a spread of its own; the other
    programs' metrics share one, or, too few for that, the whole group's.
    """
    changes = {}
    for info, c, row in single:
        ch = oriented_log_change(info.direction, c.base_samples, row.samples)
        if ch is not None:
            changes.setdefault(info.program, []).append(ch)
    spreads, of_program = [], {}
    for programs, family in program_families(changes):
        spread = between_run_spread(family)
        if spread is None:
            continue
        spread.programs = programs
        spreads.append(spread)
        for p in programs:
            of_program[p] = spread
    return spreads, of_program


def with_run_spread(base, new, spread):
    """Welch's test of base against new, one run each, with the spread
    between runs added: (t, df, p, se).  Each run's mean deviates from its
    kernel's by tau of it, so the difference's variance gains
    (tau * mean)^2 for each side; its degrees of freedom are
    Welch-Satterthwaite's over the samples' variances and the spread's
    (RUN_SPREAD_DF: its tails, not its estimate, are what is uncertain)."""
    na, nb = len(base), len(new)
    qa, qb = sample_variance(base) / na, sample_variance(new) / nb
    r = (spread.tau * mean(base)) ** 2 + (spread.tau * mean(new)) ** 2
    se = math.sqrt(qa + qb + r)
    diff = mean(new) - mean(base)
    if se == 0 or math.isinf(se):
        return welch_t_test(base, new) if se == 0 else (0.0, 1.0, 1.0, se)
    den = qa * qa / (na - 1) + qb * qb / (nb - 1) + r * r / RUN_SPREAD_DF
    df = (qa + qb + r) ** 2 / den
    t = diff / se
    return t, df, student_t_two_sided_p(t, df), se


def resolve(row, alpha, power=POWER):
    """Sets row.resolution from its test's standard error and degrees of
    freedom: the smallest change of the mean, in percent of the
    baseline's, that the test finds at alpha with this power (None when
    the baseline's mean is 0)."""
    if row.base_mean == 0:
        row.resolution = None
    elif math.isinf(row.se):
        row.resolution = math.inf
    else:
        row.resolution = (detectable_difference_se(row.se, row.df, alpha, power) /
                          abs(row.base_mean) * 100.0)


def resolve_family(rows, alpha, power=POWER):
    """Sets each row's resolution for the verdict on its adjusted p: the
    smallest change r that is flagged (with this power) when the family's
    metrics all change by r, as a kernel-wide slowdown changes them.

    Benjamini-Hochberg rejects k of m p-values at alpha k / m each, so r
    is resolved for a metric if, at the level alpha k / m, it and at least
    k - 1 others detect r: r = min over k of max(its resolution, the k-th
    smallest of all) at that level.  A family whose metrics are precise
    gets about alpha's resolution; one where few are, about alpha / m's
    (a change of one metric alone needs that).  k runs over m and the
    powers of 2 below it (each rounded down: conservative)."""
    if not rows:
        return
    m = len(rows)
    ks = sorted({m} | {1 << i for i in range(m.bit_length()) if (1 << i) <= m})
    best = [math.inf] * m
    for k in ks:
        level = []
        for row in rows:
            resolve(row, alpha * k / m, power)
            level.append(math.inf if row.resolution is None else row.resolution)
        kth = sorted(level)[k - 1]
        for i, r in enumerate(level):
            best[i] = min(best[i], max(r, kth))
    for row, r in zip(rows, best):
        row.resolution = None if row.base_mean == 0 else r


def measure(base_samples, base_run_values, row, alpha, spread=None, prior=None):
    """Fills in row's statistics (basis, change, Welch's t-test, its
    resolution and the confidence interval of the mean's change); the
    verdict only where there is nothing to test: NEW, MISSING or
    N_TOO_SMALL.  With spread (a RunSpread), a comparison of samples
    counts the spread between runs as noise too (with_run_spread()); with
    prior (a RunVariancePrior), a comparison of runs is the moderated
    t-test of their logs (moderated_runs()), and the mean's change is the
    geometric means'.  Returns whether the row has a p-value to judge."""
    if not base_samples:
        row.verdict = NEW
        return False
    if not row.samples:
        row.verdict = MISSING
        return False
    row.basis = comparison_basis(base_run_values, row.run_values)
    base = base_run_values if row.basis == BY_RUNS else base_samples
    new = row.values()
    row.change = relative_change(median(new), median(base))
    res = welch_t_test(base, new)
    if res is None:
        row.verdict = N_TOO_SMALL
        return False
    if row.basis == BY_SAMPLES and spread is not None:
        res = with_run_spread(base, new, spread)
    moderated = moderated_runs(base, new, prior) if row.basis == BY_RUNS and prior else None
    if moderated is not None:
        res = moderated[:4]
    row.t, row.df, row.p, se = res
    row.p_adjusted = row.p
    row.se, row.base_mean = se, mean(base)
    resolve(row, alpha)
    base_mean = row.base_mean
    row.mean_change = relative_change(mean(new), base_mean)
    if moderated is not None:
        row.mean_change = moderated[4]
        # On the log scale, where the test is: se / base_mean is its se.
        diff = math.log1p(row.mean_change / 100.0)
        half = student_t_quantile(0.05, row.df) * se / base_mean
        row.mean_change_ci = (math.expm1(diff - half) * 100, math.expm1(diff + half) * 100)
    elif base_mean != 0 and row.df > 0:
        half = student_t_quantile(0.05, row.df) * se
        diff = mean(new) - base_mean
        row.mean_change_ci = ((diff - half) / abs(base_mean) * 100, (diff + half) / abs(base_mean) * 100)
    return True


def decide(info, row, threshold, alpha):
    """The verdict of a measured row from its adjusted p-value.

    REGRESSION or IMPROVEMENT: the adjusted p is below alpha and both the
    median and the mean moved by at least the threshold the same way.
    Otherwise "no change" only when the comparison could have seen a
    change of the threshold's size (resolution <= threshold), else "not
    resolved": the noise hides changes that large.
    """
    # The t-test is about means, the table shows medians: both have to move
    # past the threshold the same way.  The median alone could be carried by
    # a lucky half of the samples, the mean alone by a single outlier.
    big = (min(abs(row.change), abs(row.mean_change)) >= threshold
           and (row.change > 0) == (row.mean_change > 0))
    if row.p_adjusted < alpha and big and row.change != 0:
        worse = row.change > 0 if info.direction == LOWER else row.change < 0
        row.verdict = REGRESSION if worse else IMPROVEMENT
    elif row.resolution is not None and row.resolution > threshold:
        row.verdict = NOT_RESOLVED
    else:
        row.verdict = NO_CHANGE


def judge(info, base_samples, base_run_values, row, threshold, alpha):
    """One row measured and decided on its own, a family of one (its
    adjusted p is its p): see measure() and decide()."""
    if measure(base_samples, base_run_values, row, alpha):
        decide(info, row, threshold, alpha)


def adjust_family(rows):
    """Sets p_adjusted of every row that has a p-value: the p-values
    adjusted together as one family (stats.adjusted_p_values())."""
    tested = [r for r in rows if r.p is not None]
    for r, p in zip(tested, adjusted_p_values([r.p for r in tested])):
        r.p_adjusted = p


def compare(runs, groups, threshold, alpha):
    """Every metric of every group judged against the baseline; the
    family of a group is its metrics (adjust_family())."""
    infos = metric_catalogue([r for g in groups for r in g.runs])
    base = groups[0]
    out = []
    measured = [[] for _ in groups[1:]]
    for key, info in infos.items():
        c = Comparison(info, base.samples(key), base.run_values(key))
        for i, g in enumerate(groups[1:]):
            row = Row(g, g.samples(key), g.run_values(key))
            if measure(c.base_samples, c.base_run_values, row, alpha):
                measured[i].append((info, c, row))
            c.rows.append(row)
        out.append(c)
    for g, triples in zip(groups[1:], measured):
        single = [(info, c, row) for info, c, row in triples if row.basis == BY_SAMPLES]
        g.spreads, of_program = family_spreads(single)
        for info, c, row in single:
            spread = of_program.get(info.program)
            if spread is not None:
                measure(c.base_samples, c.base_run_values, row, alpha, spread)
        by_runs = [(info, c, row) for info, c, row in triples if row.basis == BY_RUNS]
        g.priors, prior_of = run_variance_priors(by_runs)
        for info, c, row in by_runs:
            prior = prior_of.get(info.program)
            if prior is not None:
                measure(c.base_samples, c.base_run_values, row, alpha, prior=prior)
        resolve_family([row for _, _, row in triples], alpha)
        adjust_family([row for _, _, row in triples])
        for info, _, row in triples:
            decide(info, row, threshold, alpha)
    return out


def host_differences(groups):
    """Host settings that differ between groups: a comparison across them
    measures the setting as much as the kernel."""
    notes = []
    for field in ("kvm_backend", "tdp_mmu", "mmio_caching", "cpus", "hostname"):
        values = {}
        for g in groups:
            for r in g.runs:
                values.setdefault(json.dumps(r.host.get(field)), []).append(g.name)
        if len(values) > 1:
            desc = "; ".join(f"{json.loads(v)} in {', '.join(sorted(set(names)))}"
                             for v, names in values.items())
            notes.append(f"host {field} differs: {desc}")
    return notes



class TrendPoint:
    def __init__(self, label, runs, key):
        self.label = label
        self.runs = runs
        # (value, kernel) per sample: points are coloured by kernel
        self.samples = [(s, r.kernel) for r in runs for m in r.metrics if m.key == key
                        for s in m.samples]

    def values(self):
        return [s for s, _ in self.samples]


def trend_points(runs, key, by):
    """The x axis of a trend: runs in time order, or revisions in the order
    they were first run (samples of all runs of a revision pooled)."""
    ordered = sorted((r for r in runs if any(m.key == key for m in r.metrics)),
                     key=lambda r: (r.sort_time, r.label))
    if by == "date":
        return [TrendPoint(r.short_time(), [r], key) for r in ordered]
    order, members = [], {}
    for r in ordered:
        if r.revision not in members:
            order.append(r.revision)
            members[r.revision] = []
        members[r.revision].append(r)
    return [TrendPoint(rev, members[rev], key) for rev in order]

