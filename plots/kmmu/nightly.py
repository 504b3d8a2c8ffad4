# SPDX-License-Identifier: GPL-2.0
"""The result-file work of ci/nightly (which is bash): a step's counts,
and the baseline tonight's benchmarks are compared with.

  python3 -m kmmu.nightly counts FILE
      "PASS FAIL SKIP", then one line per failed program: "NAME (REASON)"
  python3 -m kmmu.nightly select RESULTS_DIR TONIGHT HOST SUFFIX BASELINE N OUT
      links this host's bench runs of this profile (SUFFIX: "" or -quick)
      into OUT/runs, pools the latest N earlier runs of kernel BASELINE
      (default: the kernel of the latest earlier run) into
      OUT/baseline_*.json, and prints
      "KERNEL<tab>N<tab>FILE<tab>TONIGHT_METRICS<tab>RUNS"

Standard library only, as the rest of ci/nightly's needs.
"""

import os
import re
import statistics
import sys

from kmmu.results import SCHEMA, metric_key, read_document, write_atomic


def load(path):
    """A result document, or None for anything that is not one."""
    try:
        return read_document(path)
    except (OSError, ValueError):
        return None


def counts(path):
    """(pass, fail, skip) of a step's result file, and its failed programs."""
    tests = (load(path) or {}).get("tests", [])
    n = [sum(1 for t in tests if t.get("status") == s) for s in ("pass", "fail", "skip")]
    failed = [f"{t.get('name')} ({t.get('reason', 'failed')})" for t in tests
              if t.get("status") == "fail"]
    return n, failed


def clean(text):
    """As ci/nightly's file names spell a host or kernel."""
    return re.sub(r"[^A-Za-z0-9.+-]", "-", text)


def host_runs(results, host, suffix):
    """This host's bench runs of the profile with metrics, oldest first:
    (start_time, file name, path, document)."""
    kind = re.compile(rf"_bench{re.escape(suffix)}(-[0-9]+)?\.json$")
    runs = []
    for name in sorted(os.listdir(results)):
        if not kind.search(name):
            continue
        path = os.path.join(results, name)
        doc = load(path)
        if doc is None:
            print(f"nightly: {path}: not a {SCHEMA} file, ignored", file=sys.stderr)
            continue
        h = (doc.get("host") or {}).get("hostname")
        same = h == host if h else name.split("_")[1] == clean(host)
        if not same or not doc.get("metrics"):
            continue
        runs.append((doc.get("start_time") or "", name, path, doc))
    runs.sort()
    return runs


def kernel_of(run):
    return str((run[3].get("host") or {}).get("kernel_release") or "unknown")


def pooled_baseline(base):
    """One document whose metrics hold the samples of all the runs in base."""
    pooled, order = {}, []
    for r in base:
        for m in r[3].get("metrics", []):
            key = metric_key(m.get("program", ""), m.get("name"), m.get("params", {}))
            if key not in pooled:
                pooled[key] = dict(m, samples=[])
                order.append(key)
            pooled[key]["samples"].extend(m.get("samples", []))
    metrics = []
    for key in order:
        m = pooled[key]
        if m["samples"]:
            m["median"] = statistics.median(m["samples"])
            metrics.append(m)
    last = base[-1][3]
    revs = sorted({str(r[3].get("suite_revision")) for r in base})
    return {"schema": SCHEMA, "run_id": f"baseline-{len(base)}-runs",
            "start_time": last.get("start_time"), "mode": "bench",
            "suite_revision": "+".join(revs), "host": last.get("host", {}),
            "tests": [], "metrics": metrics}


def select(results, tonight, host, suffix, want, n, out):
    """See the module's head: returns the printed line's fields."""
    os.makedirs(os.path.join(out, "runs"))
    runs = host_runs(results, host, suffix)
    for _, name, path, _ in runs:
        os.symlink(path, os.path.join(out, "runs", name))
    me = os.path.realpath(tonight) if tonight else None
    mine = [r for r in runs if os.path.realpath(r[2]) == me]
    earlier = [r for r in runs if os.path.realpath(r[2]) != me]
    if not want and earlier:
        want = kernel_of(earlier[-1])
    base = [r for r in earlier if kernel_of(r) == want][-int(n):]
    tonight_metrics = len(mine[0][3]["metrics"]) if mine else 0
    if not base:
        return want or "-", 0, "-", tonight_metrics, len(runs)
    safe = "".join(c if c.isalnum() or c in ".+-" else "-" for c in want)
    path = os.path.join(out, f"baseline_{safe}_latest-{len(base)}-runs.json")
    write_atomic(path, pooled_baseline(base))
    return want, len(base), path, tonight_metrics, len(runs)


def main(argv):
    cmd, args = argv[0], argv[1:]
    if cmd == "counts" and len(args) == 1:
        n, failed = counts(args[0])
        print(*n)
        for line in failed:
            print(line)
    elif cmd == "select" and len(args) == 7:
        print("\t".join(str(f) for f in select(*args)))
    else:
        sys.exit(f"nightly: internal error: kmmu.nightly {' '.join(argv)}")


if __name__ == "__main__":
    main(sys.argv[1:])
