# SPDX-License-Identifier: GPL-2.0
"""kmmu-result/1 files: the one reader and writer of them in Python.

A result file is one JSON document per run (schema kmmu-result/1, see
DESIGN.md "Result files"): the run, the host, every test with its status
and every benchmark metric with all its samples.  The runner (ci/kmmu-run)
and the stress (stress/kmmu-stress) write them with write_atomic(), the
plots (plots/kmmu-plot) read them with load_runs().  Standard library
only: the test VM runs the stress with nothing but python3.
"""

import datetime
import json
import math
import os

from kmmu import note, warn

SCHEMA = "kmmu-result/1"
HIGHER, LOWER = "higher_is_better", "lower_is_better"


class InputError(Exception):
    """Bad input: reported as one line, exit status 2."""



# Parameters that say how a benchmark took its samples, not what it
# measured (selftests/lib/bench.c's adaptive sampling: why it stopped, the
# target and budget it was given): kept apart from a metric's params, so
# that they are no part of its identity and runs that stopped for
# different reasons compare.
SAMPLING_PARAMS = frozenset(("stopped", "target_resolution_pct", "budget_s"))
# Parameters that say which run of the same measurement it was (a
# randomized test's seed: memslot_churn_test's counts, the stress's): no
# part of its identity either, or no two runs would ever compare.
RUN_PARAMS = frozenset(("seed",))


def metric_key(program, name, params):
    """Which metric a result file's (program, name, params) is: the one
    identity every reader compares and pools by (no SAMPLING_PARAMS nor
    RUN_PARAMS in it)."""
    aside = SAMPLING_PARAMS | RUN_PARAMS
    return (program, name, json.dumps({k: v for k, v in params.items() if k not in aside},
                                      sort_keys=True))


class Metric:
    def __init__(self, program, name, unit, direction, samples, params):
        self.program = program
        self.name = name
        self.unit = unit
        self.direction = direction
        self.samples = samples
        aside = SAMPLING_PARAMS | RUN_PARAMS
        self.params = {k: v for k, v in params.items() if k not in aside}
        self.sampling = {k: v for k, v in params.items() if k in SAMPLING_PARAMS}
        self.run_params = {k: v for k, v in params.items() if k in RUN_PARAMS}

    @property
    def all_params(self):
        """Every parameter the result file gave, identity or not."""
        return {**self.params, **self.sampling, **self.run_params}

    @property
    def key(self):
        return metric_key(self.program, self.name, self.params)


class Run:
    """One result file."""

    def __init__(self, path, doc):
        self.path = path
        self.doc = doc
        host = doc.get("host") if isinstance(doc.get("host"), dict) else {}
        self.host = host
        self.kernel = str(host.get("kernel_release") or "unknown")
        self.revision = str(doc.get("suite_revision") or "unknown")
        self.run_id = str(doc.get("run_id") or os.path.basename(path))
        self.start_text = str(doc.get("start_time") or "")
        try:
            self.start = datetime.datetime.strptime(self.start_text, "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            self.start = None
        self.metrics = []
        self.label = os.path.basename(path)

    @property
    def sort_time(self):
        return self.start or datetime.datetime.min

    def short_time(self):
        return self.start.strftime("%Y-%m-%d %H:%M") if self.start else "?"


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def parse_metric(path, index, m, default_program):
    where = f"{path}: metric #{index + 1}"
    if not isinstance(m, dict):
        raise InputError(f"{where}: not an object")
    name = m.get("name")
    if not isinstance(name, str) or not name:
        raise InputError(f"{where}: no name")
    where = f"{path}: metric {name!r}"
    unit = m.get("unit", "")
    if not isinstance(unit, str):
        raise InputError(f"{where}: unit is not a string")
    direction = m.get("direction")
    if direction not in (HIGHER, LOWER):
        raise InputError(f"{where}: direction {direction!r} is neither {HIGHER} nor {LOWER}")
    samples = m.get("samples")
    if not isinstance(samples, list) or not samples or not all(_is_number(s) for s in samples):
        raise InputError(f"{where}: samples must be a non-empty list of finite numbers")
    params = m.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise InputError(f"{where}: params is not an object")
    # The runner stamps each metric with its program; a program's own
    # document carries it at the top level instead.
    program = m.get("program") or default_program or ""
    return Metric(str(program), name, unit, direction, [float(s) for s in samples], params)


def load_run(path):
    """Reads and validates one file; raises InputError naming it."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise InputError(f"{path}: not JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        schema = doc.get("schema") if isinstance(doc, dict) else None
        raise InputError(f"{path}: not a {SCHEMA} result file (schema {schema!r})")
    metrics = doc.get("metrics", [])
    if not isinstance(metrics, list):
        raise InputError(f"{path}: metrics is not a list")
    run = Run(path, doc)
    default_program = doc.get("program") if isinstance(doc.get("program"), str) else ""
    run.metrics = [parse_metric(path, i, m, default_program) for i, m in enumerate(metrics)]
    return run


def load_runs(args_paths):
    """Files named on the command line must be good; in a directory, files
    that are not kmmu results (or hold no metrics, like `make check` runs)
    are skipped so that a whole results/ directory can be given."""
    runs, seen = [], set()
    skipped_empty = 0
    for arg in args_paths:
        if os.path.isdir(arg):
            names = sorted(n for n in os.listdir(arg) if n.endswith(".json"))
            found = 0
            for n in names:
                path = os.path.join(arg, n)
                try:
                    run = load_run(path)
                except InputError as e:
                    warn(f"{e}; skipped")
                    continue
                if not run.metrics:
                    skipped_empty += 1
                    continue
                if os.path.realpath(path) not in seen:
                    seen.add(os.path.realpath(path))
                    runs.append(run)
                found += 1
            if not found:
                raise InputError(f"{arg}: no {SCHEMA} result files with metrics in this directory")
        else:
            run = load_run(arg)
            if not run.metrics:
                raise InputError(f"{arg}: no metrics (a run without benchmarks?)")
            if os.path.realpath(arg) not in seen:
                seen.add(os.path.realpath(arg))
                runs.append(run)
    if skipped_empty:
        note(f"{skipped_empty} result file(s) without metrics skipped")
    # Labels name runs in tables and plots: file names, made unique.
    counts = {}
    for run in runs:
        counts[run.label] = counts.get(run.label, 0) + 1
    for run in runs:
        if counts[run.label] > 1:
            run.label = os.path.join(os.path.basename(os.path.dirname(os.path.abspath(run.path))),
                                     run.label)
    return runs



def replace_atomically(path, data):
    """Writes the bytes data to path so that a reader sees the old file or
    the whole new one, never a part: a temp file beside it, synced, renamed
    over it."""
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def write_atomic(path, doc):
    """A result document to path, atomically (replace_atomically)."""
    replace_atomically(path, (json.dumps(doc, indent=1) + "\n").encode())


def read_document(path):
    """A program's own document (the runner's $KMMU_RESULT fragments):
    the parsed JSON; ValueError when it is not a kmmu-result/1 document."""
    with open(path) as f:
        doc = json.load(f)
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        schema = doc.get("schema") if isinstance(doc, dict) else None
        raise ValueError(f"schema {schema!r}")
    return doc


def utc_timestamp(when=None):
    """start_time's format: ISO 8601, UTC, whole seconds."""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def host_value(v):
    """A host field as the runner's summary shows it: Y/N, "?" for unknown."""
    if v is None:
        return "?"
    if isinstance(v, bool):
        return "Y" if v else "N"
    return str(v)


def host_line(host):
    """The host block in one line, as kmmu_hostinfo --line prints it: what
    a run's numbers depend on (a value nobody could measure shows '?')."""
    slots = host.get("nr_memslots")
    return (f"kernel={host.get('kernel_release', '?')} backend={host.get('kvm_backend', '?')} "
            f"kvm={'available' if host.get('kvm_available') else 'unavailable'} "
            f"tdp_mmu={host_value(host.get('tdp_mmu'))} "
            f"mmio_caching={host_value(host.get('mmio_caching'))} "
            f"memslots={'?' if slots is None else slots}")
