# SPDX-License-Identifier: GPL-2.0
"""Summary statistics of benchmark samples and Welch's t-test.

The distributions come from scipy.stats (Debian's python3-scipy); what is
here is only what kmmu adds: the n - 1 variance kmmu_cv() in C uses too,
and the verdict for samples without noise (counters), which scipy leaves
as nan.
"""

import math
import statistics

from scipy import stats as _scipy_stats


def mean(xs):
    return sum(xs) / len(xs)


def sample_variance(xs):
    """Unbiased (n - 1) variance, as the t-test and kmmu_cv() use."""
    return statistics.variance(xs)


def median(xs):
    return statistics.median(xs)


def coefficient_of_variation(xs):
    if len(xs) < 2 or mean(xs) == 0:
        return 0.0
    return math.sqrt(sample_variance(xs)) / abs(mean(xs))


def student_t_two_sided_p(t, df):
    """P(|T| >= |t|) for Student's t with df degrees of freedom (df may be
    fractional, as Welch's is)."""
    return float(2.0 * _scipy_stats.t.sf(abs(t), df))


def student_t_quantile(two_sided_p, df):
    """The t with P(|T| >= t) = two_sided_p (for confidence intervals)."""
    return float(_scipy_stats.t.isf(two_sided_p / 2.0, df))


def welch_t_test(a, b):
    """Welch's unequal-variances t-test of mean(b) against mean(a).

    Returns (t, df, p, se) with the Welch-Satterthwaite degrees of freedom
    (scipy 1.10's result does not carry them; the confidence interval of
    the change needs them) and the two-sided p-value, or None when a side
    has fewer than 2 samples.
    """
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return None
    qa, qb = sample_variance(a) / na, sample_variance(b) / nb
    se = math.sqrt(qa + qb)
    diff = mean(b) - mean(a)
    if se == 0:
        # Both sides constant (counters, say): no noise to test against,
        # any difference at all is certain.
        df = float(na + nb - 2)
        if diff == 0:
            return 0.0, df, 1.0, 0.0
        return math.copysign(math.inf, diff), df, 0.0, 0.0
    res = _scipy_stats.ttest_ind(b, a, equal_var=False)
    df = (qa + qb) ** 2 / (qa * qa / (na - 1) + qb * qb / (nb - 1))
    return float(res.statistic), df, float(res.pvalue), se
