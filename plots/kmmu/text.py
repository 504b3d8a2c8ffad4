# SPDX-License-Identifier: GPL-2.0
"""Plain-text output of kmmu-plot: number formats, the comparison table
with its summary line, and the trend tables.
"""

import math

from kmmu.compare import (BY_RUNS, BY_SAMPLES, IMPROVEMENT, MISSING, N_TOO_SMALL, NEW,
                          NO_CHANGE, NOT_RESOLVED, REGRESSION, RUN_SPREAD_DF, SPREAD_MIN_METRICS,
                          metric_catalogue, relative_change, trend_points)
from kmmu.stats import FAMILY_METHOD_TEXT, coefficient_of_variation, median


def fmt_value(v):
    """About four significant digits, no exponent for everyday magnitudes."""
    if v is None:
        return "-"
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e7 or a < 1e-4:
        return f"{v:.4g}"
    decimals = max(0, 3 - int(math.floor(math.log10(a))))
    return f"{v:.{decimals}f}"


def fmt_change(c):
    if c is None:
        return "-"
    if math.isinf(c):
        return "+inf%" if c > 0 else "-inf%"
    return f"{c:+.1f}%"


def fmt_p(p):
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_percent(x):
    return f"{x:g}%"


def fmt_resolution(r):
    """A resolution, the smallest change detectable, in percent."""
    if r is None:
        return "-"
    if r >= 1000:
        return ">1000%"
    return f"{r:.1f}%" if r >= 0.05 else "0%"


def fmt_count(n_samples, n_runs):
    """A side's size: samples, and the runs they came from when more than one."""
    return f"{n_samples} in {n_runs} runs" if n_runs > 1 else f"{n_samples}"


def render_table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = []
    for r in [header] + rows:
        cells = [str(c).ljust(w) for c, w in zip(r, widths)]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def comparison_rows(comparisons):
    rows = []
    for c in comparisons:
        info = c.info
        unit = f" {info.unit}" if info.unit else ""
        base = (f"{fmt_value(c.base_median)}{unit} "
                f"({fmt_count(len(c.base_samples), len(c.base_run_values))})"
                if c.base_samples else "-")
        for r in c.rows:
            med = (f"{fmt_value(r.median)}{unit} ({fmt_count(len(r.samples), len(r.run_values))})"
                   if r.samples else "-")
            rows.append([info.label(), info.better_word(), base, r.group.name, med,
                         fmt_change(r.change), fmt_p(r.p), fmt_p(r.p_adjusted),
                         fmt_resolution(r.resolution),
                         r.basis or "-", r.verdict])
    return rows


COMPARISON_HEADER = ["metric", "better", "baseline (n)", "compared", "median (n)",
                     "change", "p-value", "adjusted p", "resolution", "basis", "verdict"]
VERDICT_COLUMN = COMPARISON_HEADER.index("verdict")
NUMBER_COLUMNS = tuple(COMPARISON_HEADER.index(h) for h in ("baseline (n)", "median (n)", "change",
                                                              "p-value", "adjusted p",
                                                              "resolution"))


def verdict_counts(comparisons):
    counts = {}
    for c in comparisons:
        for r in c.rows:
            counts[r.verdict] = counts.get(r.verdict, 0) + 1
    return counts


def summary_line(comparisons, threshold, alpha):
    counts = verdict_counts(comparisons)
    n_reg = counts.get(REGRESSION, 0)
    parts = [f"{n_reg} regression{'s' if n_reg != 1 else ''}"]
    for v in (IMPROVEMENT, NO_CHANGE, NOT_RESOLVED, N_TOO_SMALL, MISSING, NEW):
        if counts.get(v):
            word = v + ("s" if v == IMPROVEMENT and counts[v] != 1 else "")
            parts.append(f"{counts[v]} {word}")
    return (", ".join(parts) + f" (threshold {fmt_percent(threshold)} on median and mean, "
            f"Welch's t-test at alpha {alpha:g} on p adjusted over each group's metrics)")


def groups_of(rows, basis):
    """The compared groups of the rows on this basis, in order."""
    groups = []
    for r in rows:
        if r.basis == basis and r.group not in groups:
            groups.append(r.group)
    return groups


def family_name(programs):
    """A family of metrics as the notes name it: its program, or the
    other programs (compare.program_families())."""
    return programs[0] if len(programs) == 1 else f"the other {len(programs)} programs"


def basis_notes(comparisons, alpha):
    """What the table's basis and resolution columns mean, and a warning
    when some verdicts rest on pooled samples of single runs."""
    rows = [r for c in comparisons for r in c.rows if r.basis]
    by_samples = sum(1 for r in rows if r.basis == BY_SAMPLES)
    notes = [f"resolution: the smallest change of the mean the test finds (Welch's; the moderated t "
             "of the runs' logs where runs are compared) with power 0.8 at "
             "the noise measured (noncentral t), at the level the adjusted p needs when the group's "
             "metrics all change by that much (as a kernel-wide slowdown changes them; a change of "
             f"one metric alone may need more); \"{NOT_RESOLVED}\" where it is coarser than the "
             "threshold",
             "adjusted p: the p-values of each compared group's metrics adjusted "
             f"together ({FAMILY_METHOD_TEXT}), so that runs of one kernel raise no alarm at "
             f"alpha {alpha:g} however many metrics there are; the verdict rests on it"]
    if any(r.basis == BY_RUNS for r in rows):
        notes.append("basis runs: the runs' medians compared (the variance between runs); a run "
                     "is a round of `make bench` (a VM boot), so one file may hold several")
        for g in groups_of(rows, BY_RUNS):
            if not g.priors:
                continue
            parts = []
            for pr in g.priors:
                who = family_name(pr.programs)
                weight = "one for all" if math.isinf(pr.d0) else f"weight {pr.d0:.2g} runs"
                parts.append(f"{who} {math.sqrt(pr.s0_2) * 100:.3g}% ({weight}; {pr.n} metrics)")
            notes.append(f"{g.name}: each metric's variance between runs moderated by its "
                         "family's typical one, as % of a run's value: " + "; ".join(parts) +
                         "; no metric is taken as quieter than that (a few runs that agree "
                         "do not show it)")
    unresolved = sum(1 for r in rows if r.verdict == NOT_RESOLVED)
    if unresolved:
        notes.append(f"{unresolved} not resolved: `kmmu-plot resolution --target PCT FILES` "
                     "tells how many runs a side would resolve PCT")
    if by_samples:
        notes.append(f"basis samples ({by_samples} of {len(rows)}): one run on a side, so its "
                     "samples are compared; runs vary more than the samples of one run")
        for g in groups_of(rows, BY_SAMPLES):
            if not g.spreads:
                notes.append(f"{g.name}: too few metrics of one run a side to estimate the spread "
                             f"between runs (fewer than {SPREAD_MIN_METRICS}): its samples alone "
                             "are compared: this verdict is per-sample and less reliable; give each side 2 "
                             "or more runs")
                continue
            parts = []
            for sp in g.spreads:
                who = family_name(sp.programs)
                parts.append(f"{who} {sp.tau * 100:.3g}% ({sp.n} metrics)")
            notes.append(f"{g.name}: the spread between runs, estimated from how the metrics "
                         "changed together, as % of a run's mean: " + "; ".join(parts) +
                         "; it counts as noise beside each metric's samples (more runs a side "
                         "measure it directly)")
    return notes


def comparison_text(groups, comparisons, threshold, alpha, group_by, notes):
    out = [f"baseline: {groups[0].name} ({groups[0].describe()})"]
    for g in groups[1:]:
        out.append(f"compared: {g.name} ({g.describe()})")
    out.append(f"grouped by {group_by}")
    out.extend(f"note: {n}" for n in notes)
    out.append("")
    out.append(render_table(COMPARISON_HEADER, comparison_rows(comparisons)))
    out.append("")
    out.extend(basis_notes(comparisons, alpha))
    out.append(summary_line(comparisons, threshold, alpha))
    return "\n".join(out) + "\n"



def resolution_text(resolutions, target, alpha):
    """kmmu-plot resolution's table: per group and metric the noise, the
    resolution an A/B of this many runs a side has, and the runs (or
    samples) a side that reach the target."""
    rows = []
    for r in resolutions:
        unit = "runs" if r.basis == BY_RUNS else "samples"
        more = "-" if r.more is None else f"{r.more} {unit}"
        needed = "-" if r.needed is None else f"{r.needed} {unit}"
        if r.needed is None and r.resolution is not None:
            needed = more = "never"
        rows.append([r.info.label(), r.group.name, r.basis, str(r.n),
                     "-" if r.cv is None else f"{r.cv:.1f}%", fmt_resolution(r.resolution),
                     needed, more])
    out = [render_table(["metric", "group", "basis", "n", "cv", "resolution",
                         f"for {fmt_percent(target)} (a side)", "more"], rows), ""]
    out.append(f"resolution: the smallest change of the mean an A/B of n against n values with "
               f"this noise detects (Welch's test at alpha {alpha:g}, power 0.8, noncentral t)")
    if any(r.moderated for r in resolutions):
        out.append(f"runs of a program with {SPREAD_MIN_METRICS} metrics or more (or of the other "
                   "programs together): planned for compare's moderated t of the logs, cv the moderated "
                   "noise, never below the family's typical one, at most "
                   f"{RUN_SPREAD_DF:g} degrees of freedom")
    if any(r.basis == BY_SAMPLES for r in resolutions):
        out.append("basis samples: one run, whose samples understate the noise between runs: "
                   "the runs needed are known only from 2 runs on")
    left = sum(1 for r in resolutions if not r.reached(target))
    out.append(f"{len(resolutions) - left} of {len(resolutions)} metrics resolve "
               f"{fmt_percent(target)}" + (f"; {left} need more" if left else ""))
    return "\n".join(out) + "\n"


def trend_text(runs, by):
    out = []
    for key, info in metric_catalogue(runs).items():
        unit = f" {info.unit}" if info.unit else ""
        out.append(f"{info.label()}  ({info.unit or 'no unit'}, {info.better_text()})")
        points = trend_points(runs, key, by)
        first = median(points[0].values()) if points else None
        rows = []
        for pt in points:
            vals = pt.values()
            r0 = pt.runs[0]
            when = pt.label if by == "date" else r0.short_time()
            kernels = ",".join(sorted({r.kernel for r in pt.runs}))
            revs = ",".join(sorted({r.revision for r in pt.runs}))
            rows.append([when, kernels, revs, str(len(vals)), fmt_value(median(vals)) + unit,
                         f"{coefficient_of_variation(vals) * 100:.1f}%",
                         fmt_change(relative_change(median(vals), first))])
        table = render_table(["first run" if by == "revision" else "run", "kernel", "revision",
                              "n", "median", "cv", "vs first"], rows)
        out.extend("  " + line for line in table.splitlines())
        out.append("")
    return "\n".join(out)

