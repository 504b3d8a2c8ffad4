# SPDX-License-Identifier: GPL-2.0
"""Pictures of comparisons and trends (matplotlib, Agg backend), imported
only when a picture is asked for: reading and comparing need no matplotlib.
"""

import math
import random
import re
import zlib

from kmmu.compare import (HIGHER, IMPROVEMENT, MISSING, N_TOO_SMALL, NEW, NO_CHANGE,
                          NOT_RESOLVED, REGRESSION, relative_change)
from kmmu.stats import median
from kmmu.text import fmt_change, fmt_p, fmt_percent, fmt_value

# Colours chosen to be told apart by colour-blind readers too (red/blue
# differ in lightness); the verdict is always written out as well.
COLOR = {
    "baseline": "#4c4c4c",
    REGRESSION: "#d62728",
    IMPROVEMENT: "#2a9d3a",
    NO_CHANGE: "#1f5fa8",
    NOT_RESOLVED: "#9a9a9a",
    N_TOO_SMALL: "#9a9a9a",
    MISSING: "#9a9a9a",
    NEW: "#9a9a9a",
}



_pyplot = None


def pyplot():
    global _pyplot
    if _pyplot is None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        plt.rcParams.update({
            "font.size": 9,
            "axes.spines.top": False,
            "axes.titlesize": 9,
            "axes.grid": True,
            "axes.grid.axis": "y",
            "grid.color": "#e4e4e4",
            "grid.linewidth": 0.8,
            "axes.axisbelow": True,
            "savefig.dpi": 110,
        })
        _pyplot = plt
    return _pyplot


def wrap_name(name, width=16):
    """Kernel releases are long ("6.7.0-rc3-lockless-aging+"): break them
    at '-' or '.' so tick labels do not run into each other."""
    parts = re.split(r"(?<=[-._/+])", name)
    lines, cur = [], ""
    for p in parts:
        if cur and len(cur) + len(p) > width:
            lines.append(cur)
            cur = ""
        while len(p) > width:
            lines.append(p[:width])
            p = p[width:]
        cur += p
    if cur:
        lines.append(cur)
    return "\n".join(lines)


def stable_rng(text):
    # Jitter only spreads overlapping points; the same input draws the same picture.
    return random.Random(zlib.crc32(text.encode()))


def titles(ax, title, subtitle):
    """A bold title and a grey subtitle, both aligned with the plot's left
    edge; the title is lifted by the subtitle's height so they never touch."""
    nlines = subtitle.count("\n") + 1
    ax.annotate(subtitle, xy=(0, 1), xycoords="axes fraction", xytext=(0, 6),
                textcoords="offset points", ha="left", va="bottom", color="#444444",
                fontsize=9, linespacing=1.35)
    ax.set_title(title, loc="left", fontsize=11.5, fontweight="bold", pad=10 + 12.5 * nlines)


def metric_titles(ax, info, extra=""):
    arrow = "\u2191" if info.direction == HIGHER else "\u2193"
    sub = f"{info.unit or 'no unit'} \u00b7 {info.better_text()} {arrow}"
    if info.params:
        sub += f" \u00b7 {info.params_text()}"
    if extra:
        sub += f"\n{extra}"
    titles(ax, info.title(), sub)


def save(fig, path, extra_artists=()):
    # A legend added with add_artist() is not seen by the tight bounding box
    # unless named here.
    fig.savefig(path, format="png", bbox_inches="tight", pad_inches=0.15, facecolor="white",
                bbox_extra_artists=list(extra_artists) or None)
    pyplot().close(fig)


def plot_comparison(c, groups, threshold, path):
    plt = pyplot()
    from matplotlib.ticker import FuncFormatter
    info = c.info
    n = len(groups)
    fig, ax = plt.subplots(figsize=(max(5.2, 1.45 * n + 2.6), 4.4))
    rng = stable_rng(info.label())
    rows = {id(r.group): r for r in c.rows}
    all_values = []

    base_med = c.base_median
    if base_med is not None and base_med != 0:
        lo_band, hi_band = sorted((base_med * (1 - threshold / 100), base_med * (1 + threshold / 100)))
        ax.axhspan(lo_band, hi_band, color="#d9d9d9", alpha=0.55, lw=0, zorder=0)
        ax.axhline(base_med, color=COLOR["baseline"], ls="--", lw=0.9, zorder=1)

    for i, g in enumerate(groups):
        row = rows.get(id(g))
        samples = c.base_samples if g.is_baseline else row.samples
        verdict = "baseline" if g.is_baseline else row.verdict
        color = COLOR[verdict]
        if verdict == REGRESSION:
            ax.axvspan(i - 0.48, i + 0.48, color=COLOR[REGRESSION], alpha=0.07, lw=0, zorder=0)
        if not samples:
            ax.text(i, 0.5, "no data", transform=ax.get_xaxis_transform(), ha="center",
                    color="#888888", style="italic")
            continue
        all_values.extend(samples)
        xs = [i + rng.uniform(-0.16, 0.16) for _ in samples]
        ax.scatter(xs, samples, s=20, color=color, alpha=0.6, edgecolors="none", zorder=3)
        m = median(samples)
        ax.hlines(m, i - 0.3, i + 0.3, color="black", lw=2.4, zorder=4)
        ax.hlines(m, i - 0.3, i + 0.3, color=color, lw=1.0, zorder=5)

    ax.set_xlim(-0.6, n - 0.4)
    ticks = []
    for g in groups:
        k = len(c.base_samples) if g.is_baseline else len(rows[id(g)].samples)
        ticks.append(wrap_name(g.name) + ("\n(baseline)" if g.is_baseline else "") + f"\nn={k}")
    ax.set_xticks(range(n))
    ax.set_xticklabels(ticks, fontsize=8.5)
    ax.tick_params(axis="x", length=0)
    ax.set_ylabel(info.unit or "value")

    # Room above the data for the verdicts, so they never cover a point.
    if all_values:
        lo, hi = min(all_values), max(all_values)
        if base_med is not None:
            lo = min(lo, base_med * (1 - threshold / 100))
            hi = max(hi, base_med * (1 + threshold / 100))
        span = (hi - lo) or abs(hi) or 1.0
        ax.set_ylim(lo - 0.08 * span, hi + 0.42 * span)
    for i, g in enumerate(groups):
        row = rows.get(id(g))
        if row is None:
            continue
        # The adjusted p: the one the verdict below it rests on.
        p = fmt_p(row.p_adjusted)
        p = "p -" if row.p_adjusted is None else (f"adj. p{p}" if p.startswith("<")
                                                  else f"adj. p={p}")
        text = f"{fmt_change(row.change)}\n{p}\n{row.verdict}"
        ax.text(i, 0.975, text, transform=ax.get_xaxis_transform(), ha="center", va="top",
                fontsize=8.5, color=COLOR[row.verdict], linespacing=1.25,
                fontweight="bold" if row.verdict == REGRESSION else "normal",
                bbox=dict(boxstyle="round,pad=0.25", fc="white", ec="none", alpha=0.85))

    # The same scale in percent of the baseline median on the right.
    if base_med is not None and base_med > 0:
        ax2 = ax.twinx()
        lo, hi = ax.get_ylim()
        ax2.set_ylim((lo / base_med - 1) * 100, (hi / base_med - 1) * 100)
        ax2.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+.0f}%"))
        ax2.set_ylabel("vs baseline median", color="#555555")
        ax2.tick_params(axis="y", colors="#555555")
        ax2.grid(False)
        ax2.spines["top"].set_visible(False)

    metric_titles(ax, info)
    fig.text(0.02, -0.02, f"dots: samples (jittered) \u00b7 bar: median \u00b7 dashed line and grey "
             f"band: baseline median \u00b1{fmt_percent(threshold)} threshold",
             fontsize=7.5, color="#666666", ha="left", va="top")
    save(fig, path)


def plot_summary(comparisons, groups, threshold, path):
    """All metrics on one chart: each compared group's median change against
    the baseline, its 95% confidence interval, the threshold band."""
    plt = pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter
    others = groups[1:]
    k = len(others)
    nrows = len(comparisons)
    fig, ax = plt.subplots(figsize=(8.2, 1.6 + 0.36 * nrows * max(1, 0.6 * k)))
    markers = ["o", "s", "D", "^", "v", "P", "X", "<", ">"]
    finite = [abs(r.change) for c in comparisons for r in c.rows
              if r.change is not None and not math.isinf(r.change)]
    limit = max([threshold * 2, 5.0] + [x * 1.3 for x in finite])
    ax.axvspan(-threshold, threshold, color="#d9d9d9", alpha=0.55, lw=0, zorder=0)
    ax.axvline(0, color=COLOR["baseline"], lw=0.9, zorder=1)
    labels = []
    for j, c in enumerate(comparisons):
        y0 = nrows - 1 - j
        arrow = "\u2191" if c.info.direction == HIGHER else "\u2193"
        # The metric on one line, its parameters and direction on the next.
        p = c.info.params_text()
        labels.append(f"{c.info.title()}\n{'[' + p + ']  ' if p else ''}{c.info.better_word()} "
                      f"is better {arrow}")
        if j:
            ax.axhline(y0 + 0.5, color="#e4e4e4", lw=0.8, zorder=0)
        if c.worst() == REGRESSION:
            ax.axhspan(y0 - 0.45, y0 + 0.45, color=COLOR[REGRESSION], alpha=0.07, lw=0, zorder=0)
        for gi, r in enumerate(c.rows):
            # The first compared group on top, as in the legend.
            y = y0 - (0 if k == 1 else (gi - (k - 1) / 2) * (0.6 / max(1, k - 1)))
            if r.change is None:
                continue
            x = max(-limit, min(limit, r.change))
            color = COLOR[r.verdict]
            if r.mean_change_ci:
                lo, hi = (max(-limit, min(limit, v)) for v in r.mean_change_ci)
                ax.hlines(y, lo, hi, color=color, lw=1.6, alpha=0.7, zorder=2)
            ax.plot([x], [y], marker=markers[gi % len(markers)], color=color, ms=6.5,
                    mec="white", mew=0.6, ls="none", zorder=3)
            if r.verdict == REGRESSION:
                ax.annotate(fmt_change(r.change), (x, y), xytext=(6, 4), textcoords="offset points",
                            fontsize=7.5, color=COLOR[REGRESSION], fontweight="bold")
    ax.set_yticks(range(nrows))
    ax.set_yticklabels(list(reversed(labels)), fontsize=8)
    ax.set_ylim(-0.7, nrows - 0.3)
    ax.set_xlim(-limit, limit)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+.0f}%"))
    ax.grid(True, axis="x", color="#e4e4e4")
    ax.grid(False, axis="y")
    ax.set_xlabel("change of the median vs the baseline's median")
    titles(ax, f"Changes against the baseline {groups[0].name}",
           f"grey band: \u00b1{fmt_percent(threshold)} threshold \u00b7 line: 95% confidence "
           f"interval of the mean's change (Welch) \u00b7 red: significant regression")
    handles = [Line2D([], [], marker=markers[i % len(markers)], color="#555555", ls="none",
                      label=wrap_name(g.name, 30)) for i, g in enumerate(others)]
    handles += [Line2D([], [], marker="o", color=COLOR[v], ls="none", label=v)
                for v in (REGRESSION, IMPROVEMENT, NO_CHANGE)]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              frameon=False, title="compared", title_fontsize=8)
    save(fig, path)


def plot_trend(info, points, by, path):
    plt = pyplot()
    from matplotlib.lines import Line2D
    n = len(points)
    fig, ax = plt.subplots(figsize=(min(15.0, max(5.6, 0.55 * n + 3.0)), 4.2))
    rng = stable_rng(info.label() + by)
    kernels = []
    for pt in points:
        for _, k in pt.samples:
            if k not in kernels:
                kernels.append(k)
    palette = ["#1f5fa8", "#e07b00", "#2a9d3a", "#8c4fb5", "#b5651d", "#c2418b",
               "#4c4c4c", "#8a8a00", "#00a0b0", "#d62728"]
    kcolor = {k: palette[i % len(palette)] for i, k in enumerate(kernels)}
    medians, lows, highs = [], [], []
    jitter = 0.15 if n > 1 else 0.08
    for i, pt in enumerate(points):
        vals = pt.values()
        medians.append(median(vals))
        lows.append(min(vals))
        highs.append(max(vals))
        xs = [i + rng.uniform(-jitter, jitter) for _ in vals]
        ax.scatter(xs, vals, s=16, c=[kcolor[k] for _, k in pt.samples], alpha=0.55,
                   edgecolors="none", zorder=3)
    xs = list(range(n))
    ax.fill_between(xs, lows, highs, color="#1f5fa8", alpha=0.08, lw=0, zorder=1, step=None)
    ax.plot(xs, medians, color="#222222", lw=1.3, marker="D", ms=5, mfc="white", mec="#222222",
            zorder=4)
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_xticks(xs)
    if by == "date":
        ticklabels = [pt.label.replace(" ", "\n") for pt in points]
    else:
        ticklabels = [f"{pt.label[:12]}\n{pt.runs[0].short_time().split(' ')[0]}" for pt in points]
    # Many runs: label every k-th tick, counted back from the latest run
    # (the one people look for), so the labels stay legible.
    step = max(1, math.ceil(n / 18))
    ax.set_xticklabels([t if (n - 1 - i) % step == 0 else "" for i, t in enumerate(ticklabels)],
                       fontsize=7.5, rotation=0 if n <= 8 else 45,
                       ha="center" if n <= 8 else "right")
    ax.tick_params(axis="x", length=2)
    ax.set_ylabel(info.unit or "value")
    lo, hi = min(lows), max(highs)
    span = (hi - lo) or abs(hi) or 1.0
    ax.set_ylim(lo - 0.1 * span, hi + 0.12 * span)
    ax.set_xlabel("run (by start time)" if by == "date" else "suite revision (first run date)")
    extra = ""
    if n > 1 and medians[0] != 0:
        extra = (f"median {fmt_value(medians[0])} \u2192 {fmt_value(medians[-1])} "
                 f"({fmt_change(relative_change(medians[-1], medians[0]))}, last vs first)")
    metric_titles(ax, info, extra)
    # Two legends: what the marks mean, and which kernel each dot is from.
    marks = [Line2D([], [], marker="D", color="#222222", mfc="white", label="median"),
             Line2D([], [], lw=6, color="#1f5fa8", alpha=0.15, label="sample range")]
    first = ax.legend(handles=marks, loc="lower left", bbox_to_anchor=(1.01, 0.0), fontsize=7.5,
                      frameon=False)
    ax.add_artist(first)
    dots = [Line2D([], [], marker="o", ls="none", color=kcolor[k], alpha=0.8,
                   label=wrap_name(k, 28)) for k in kernels]
    ax.legend(handles=dots, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7.5,
              frameon=False, title="kernel", title_fontsize=7.5, alignment="left")
    save(fig, path, extra_artists=[first])


def slug(text):
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60] or "metric"

