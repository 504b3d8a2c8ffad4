# SPDX-License-Identifier: GPL-2.0
"""Summary statistics of benchmark samples, Welch's t-test and its power.

The distributions come from scipy.stats (Debian's python3-scipy); what is
here is only what kmmu adds: the n - 1 variance kmmu_cv() in C uses too,
the verdict for samples without noise (counters), which scipy leaves
as nan, and the resolution of a comparison: the smallest difference of
the means Welch's test finds with a given power, from the noncentral t
distribution (not the normal approximation, which is too optimistic for
the handful of runs an A/B has), and the prior of a family's variances
that moderates each one's (Smyth's empirical Bayes, as limma's).  The
adjustment of many p-values as one family is statsmodels' (Debian's
python3-statsmodels).
"""

import functools
import math
import statistics

import numpy as _numpy
from scipy import optimize as _scipy_optimize
from scipy import special as _scipy_special
from scipy import stats as _scipy_stats
from statsmodels.stats.multitest import multipletests as _multipletests

POWER = 0.8

# How the p-values of one comparison's metrics are adjusted together
# (multipletests' name).  Benjamini-Hochberg: when nothing changed the
# chance of any false alarm is alpha, as with Holm; when many metrics
# change at once, the usual way a kernel change shows, each one's bar is
# lowered instead of raised, so resolved changes are still found.
FAMILY_METHOD = "fdr_bh"
FAMILY_METHOD_TEXT = "Benjamini-Hochberg"


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
    (the confidence interval of the change needs them) and the two-sided
    p-value, or None when a side has fewer than 2 samples.
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
    # Not scipy's ttest_ind: the same statistic, but it warns ("precision
    # loss") on every metric whose samples nearly agree.
    df = welch_df(sample_variance(a), na, sample_variance(b), nb)
    t = diff / se
    return t, df, student_t_two_sided_p(t, df), se


def welch_df(var_a, na, var_b, nb):
    """Welch-Satterthwaite degrees of freedom for sample variances var_a,
    var_b of na, nb values (both variances 0: the pooled na + nb - 2)."""
    qa, qb = var_a / na, var_b / nb
    if qa + qb == 0:
        return float(na + nb - 2)
    return (qa + qb) ** 2 / (qa * qa / (na - 1) + qb * qb / (nb - 1))


def t_test_power(noncentrality, df, alpha):
    """P(a two-sided t-test at alpha rejects) when the statistic follows
    the noncentral t with df degrees of freedom and this noncentrality."""
    crit = student_t_quantile(alpha, df)
    nct = _scipy_stats.nct
    # scipy 1.10's boost-based nct raises the FPU's invalid flag on good
    # inputs, and divide-by-zero far in the tails at few degrees of
    # freedom (numpy then warns); the values are right (clipped to 0..1),
    # nan is checked.
    with _numpy.errstate(invalid="ignore", divide="ignore"):
        p = float(nct.sf(crit, df, noncentrality) + nct.cdf(-crit, df, noncentrality))
    if math.isnan(p):
        raise ArithmeticError(f"noncentral t power at df={df}, nc={noncentrality} is nan")
    return p


def detectable_difference(sd_a, na, sd_b, nb, alpha, power=POWER):
    """The smallest true difference of the means that Welch's test at alpha
    detects with probability power, when the two sides have standard
    deviations sd_a, sd_b and na, nb values: se * the noncentrality at
    which the noncentral t's power reaches power.  None with fewer than 2
    values on a side; 0 without noise (any difference is certain)."""
    if na < 2 or nb < 2:
        return None
    var_a, var_b = sd_a * sd_a, sd_b * sd_b
    return detectable_difference_se(math.sqrt(var_a / na + var_b / nb),
                                    welch_df(var_a, na, var_b, nb), alpha, power)


def detectable_difference_se(se, df, alpha, power=POWER):
    """The smallest true difference a two-sided t-test at alpha detects
    with probability power when its statistic's standard error is se with
    df degrees of freedom; 0 when se is 0."""
    if se == 0:
        return 0.0
    return noncentrality_needed(df_floor(df), alpha, power) * se


def df_floor(df):
    """df rounded down to a grid (0.1 below 10, 1 below 100, then 10):
    fewer distinct noncentralities to solve for, each a little
    conservative."""
    if df < 10:
        return math.floor(df * 10) / 10 if df >= 0.1 else df
    if df < 100:
        return float(math.floor(df))
    return float(math.floor(df / 10) * 10)


@functools.lru_cache(maxsize=4096)
def noncentrality_needed(df, alpha, power):
    """The noncentrality at which a two-sided t-test at alpha with df
    degrees of freedom rejects with probability power."""
    # The power is alpha at noncentrality 0 and rises monotonically.
    hi = student_t_quantile(alpha, df) + 4.0
    while t_test_power(hi, df, alpha) < power:
        hi *= 2
    return _scipy_optimize.brentq(lambda d: t_test_power(d, df, alpha) - power, 0.0, hi,
                                  xtol=1e-10)


def trigamma_inverse(x):
    """The y > 0 with trigamma(y) = x, for x > 0 (Newton's method on
    1 / trigamma, which is nearly linear; Smyth 2004's)."""
    if x > 1e7:
        return 1.0 / math.sqrt(x)
    if x < 1e-6:
        return 1.0 / x
    y = 0.5 + 1.0 / x
    for _ in range(50):
        tri = float(_scipy_special.polygamma(1, y))
        step = tri * (1.0 - tri / x) / float(_scipy_special.polygamma(2, y))
        y += step
        if -step / y < 1e-8:
            break
    return y


def variance_prior(variances):
    """The scaled inverse chi-square prior (d0, s0^2) that a family of
    sample variances, (s^2, d) pairs each with d degrees of freedom, is
    drawn from: Smyth's empirical Bayes (2004, limma's fitFDist), by the
    moments of log s^2.  d0 is inf when the variances differ no more than
    sampling alone makes them (one variance fits all); small when they
    differ much (each metric then mostly keeps its own).  None with fewer
    than 2 positive variances."""
    kept = [(s2, d) for s2, d in variances if s2 > 0 and d > 0]
    if len(kept) < 2:
        return None
    e = [math.log(s2) - float(_scipy_special.digamma(d / 2.0)) + math.log(d / 2.0)
         for s2, d in kept]
    e_mean = mean(e)
    excess = (sum((x - e_mean) ** 2 for x in e) / (len(e) - 1) -
              mean([float(_scipy_special.polygamma(1, d / 2.0)) for _, d in kept]))
    if excess <= 0:
        return math.inf, math.exp(e_mean)
    d0 = 2.0 * trigamma_inverse(excess)
    return d0, math.exp(e_mean + float(_scipy_special.digamma(d0 / 2.0)) - math.log(d0 / 2.0))


def moderated_variance(s2, d, prior):
    """A metric's variance s^2 (d degrees of freedom) moderated by the
    family's prior (d0, s0^2): (d0 s0^2 + d s^2) / (d0 + d), with d0 + d
    degrees of freedom (s0^2 and inf when d0 is inf)."""
    d0, s0_2 = prior
    if math.isinf(d0):
        return s0_2, math.inf
    return (d0 * s0_2 + d * s2) / (d0 + d), d0 + d


def shortest_half(xs):
    """(length, midpoint) of the shortest interval that holds more than
    half of xs (at least 2 values): a robust spread and centre, which a
    minority of outliers, or a second cluster smaller than half, leaves
    alone.  For normal values its length is about SHORTEST_HALF_NORMAL
    standard deviations."""
    xs = sorted(xs)
    h = len(xs) // 2 + 1
    i = min(range(len(xs) - h + 1), key=lambda j: xs[j + h - 1] - xs[j])
    return xs[i + h - 1] - xs[i], (xs[i] + xs[i + h - 1]) / 2.0


def normal_pdf(x):
    return float(_scipy_stats.norm.pdf(x))


def normal_cdf(x):
    return float(_scipy_stats.norm.cdf(x))


# The shortest half of N(0, 1): from -0.6745 to +0.6745.
SHORTEST_HALF_NORMAL = 2.0 * float(_scipy_stats.norm.ppf(0.75))


def values_needed(sd, difference, alpha, power=POWER, limit=1000000):
    """How many values per side (both sides with standard deviation sd)
    detect a true difference of the means of `difference` at alpha with
    this power: the least n >= 2, or None past limit."""
    if difference <= 0:
        return None
    if sd == 0:
        return 2

    def enough(n):
        return detectable_difference(sd, n, sd, n, alpha, power) <= difference

    if enough(2):
        return 2
    lo, hi = 2, 4
    while not enough(hi):
        if hi >= limit:
            return None
        lo, hi = hi, min(hi * 2, limit)
    while hi - lo > 1:          # enough(hi), not enough(lo)
        mid = (lo + hi) // 2
        if enough(mid):
            hi = mid
        else:
            lo = mid
    return hi


def adjusted_p_values(ps):
    """The p-values ps adjusted together as one family (FAMILY_METHOD), in
    their order; [] for none."""
    if not ps:
        return []
    # multipletests' alpha only sets its reject flags, not the adjusted p.
    _, adjusted, _, _ = _multipletests(ps, alpha=0.05, method=FAMILY_METHOD)
    return [float(p) for p in adjusted]
