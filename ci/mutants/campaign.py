# SPDX-License-Identifier: GPL-2.0
"""The kernel-mutant campaign behind ci/mutants/run.

A planted kernel bug (a patch in ci/mutants/patches) is applied to ONE
kernel tree, KVM's modules are rebuilt in ONE object tree (ci/vm/build-kernel's
for that source), laid into a VM directory of the campaign's own, and kmmu's
suite and the upstream KVM selftests run in ci/vm/run-in-vm's VM with the
shadow MMU (kvm_amd npt=0) and the TDP MMU.  Every test's status is compared
with baseline runs of the unpatched kernel; the kernel log of every VM is
searched for WARN/BUG/Oops/KASAN/lockdep reports.  The tree is reverted on
every path.  State lives in a directory, one file per (patch, MMU) written
atomically, so a rerun resumes.

Only the standard library: /usr/bin/python3 on Debian bookworm.
"""

import collections
import concurrent.futures
import contextlib
import datetime
import fcntl
import fnmatch
import glob
import hashlib
import importlib.machinery
import importlib.util
import json
import math
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
STATE_FORMAT = 1


def _load_kmmu_run():
    """ci/kmmu-run as a module: its atomic writer, git revision, host probe
    and TAP parser, rather than copies of them."""
    loader = importlib.machinery.SourceFileLoader("kmmu_run", os.path.join(REPO, "ci", "kmmu-run"))
    spec = importlib.util.spec_from_loader("kmmu_run", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


kmmu_run = _load_kmmu_run()
# The result file's one reader and writer (plots/kmmu/results.py, through kmmu-run).
write_atomic = kmmu_run.write_atomic
SCHEMA = kmmu_run.SCHEMA

MMUS = ("shadow", "tdp")
# run-in-vm's kvm_amd parameters per MMU: npt=0 is the shadow MMU; NPT (the
# default where the CPU has it, as TCG's -cpu max does) is the TDP MMU.
MMU_VM_ARGS = {"shadow": ["--kvm-amd", "npt=0"], "tdp": []}
# What /sys/module says in the VM for each MMU (checked before every suite
# run: a wrong MMU would make every verdict meaningless).
MMU_EXPECT = {"shadow": {"npt": "N"}, "tdp": {"npt": "Y", "tdp_mmu": "Y"}}
VM_SMP = 2

HEADER_KEYS = ("Subject", "MMU", "Kind", "Area", "Why")
PATCH_MMUS = ("shadow", "tdp", "both")
PATCH_KINDS = ("mutant", "control")

# Verdicts of one suite on one (patch, MMU).
CAUGHT, MISSED, HUNG = "caught", "missed", "hung"
STALE, BUILD_FAILED, BOOT_FAILED = "stale", "build failed", "boot failed"
NOT_RUN = "not run"
DETECTED = (CAUGHT, HUNG)
NOT_COUNTED = (STALE, BUILD_FAILED, BOOT_FAILED)

# Programs of the nightly beyond the "kvm:" ones of make check: those
# ci/nightly's check-vmkernel step runs on a VM kernel that build-kernel
# built (DAMON, page_idle), the nightly stress's first job, the MMIO
# generation driven once around (262144 memslot swaps, about 2 minutes in
# an idle test VM: the only run that crosses the wrap), and a longer
# notifier race than make check's (2 minutes per backing; the nightly
# stress runs 5: a fault racing an invalidation is rare), and longer
# two-vCPU guest page-table rewrites (2 minutes of rounds: 015's window is a
# race too), and a minute of zap races (memslot updates whose fast zap
# yields mmu_lock to faulting vCPUs).  Full mode adds them and the "kvm:"
# benchmarks.
FULL_EXTRA = ("kvm:{O}/selftests/aging_test+--driver+damon", "kvm:{O}/selftests/lib/tests/damon_test",
              "kvm:{O}/selftests/mmio_invalidation_test+--full-wrap",
              "kvm:{O}/selftests/notifier_race_test+-d+120",
              "kvm:{O}/selftests/guest_pt_write_test+-d+120",
              "kvm:{O}/selftests/zap_race_test+-d+60")


class UsageError(Exception):
    """Bad command line or input: one line, exit 2."""


class CampaignError(Exception):
    """The campaign cannot go on: one line, exit 1."""


class Interrupted(Exception):
    """SIGINT or SIGTERM."""


def log(msg):
    print(f"mutants: {msg}", flush=True)


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def fmt_time(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_duration(s):
    if s is None:
        return "-"
    s = int(round(s))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def suite_fingerprint(repo):
    """What the baselines were run with beyond the program list: a hash of
    the suite's tracked files (and their uncommitted changes), leaving out
    documentation (*.md), the planted bugs (ci/mutants/patches/) and the
    committed campaign results (ci/mutants/results/), which change no
    program.  A test made stricter, or a checker rule added, can
    fail where it passed before; baselines of older code would not show
    that, and the mutant that met it first would be counted as caught.
    "" where the suite is not a git checkout (the program list alone)."""
    def git(*args):
        return subprocess.run(["git", "-C", repo, *args], capture_output=True, check=True).stdout

    def suite_file(path):
        return not path.endswith(b".md") and not path.startswith((b"ci/mutants/patches/",
                                                                    b"ci/mutants/results/"))
    try:
        files = git("ls-files", "-s", "-z").split(b"\0")
        changed = git("diff", "HEAD", "--name-only", "-z").split(b"\0")
        changed = [f for f in changed if f and suite_file(f)]
        diff = git("diff", "HEAD", "--", *[f.decode() for f in changed]) if changed else b""
    except (OSError, subprocess.CalledProcessError):
        return ""
    h = hashlib.sha256()
    for line in files:
        if line and suite_file(line.split(b"\t", 1)[-1]):
            h.update(line + b"\n")
    h.update(diff)
    return h.hexdigest()


def read_json(path):
    with open(path) as f:
        return json.load(f)


# ------------------------------------------------------------------ patches

class Patch:
    def __init__(self, path, headers, files, digest):
        self.path = path
        self.name = os.path.basename(path)[:-len(".patch")]
        self.headers = headers
        self.subject = headers["Subject"]
        self.mmu = headers["MMU"]
        self.kind = headers["Kind"]
        self.area = headers["Area"]
        self.why = headers["Why"]
        self.files = files
        self.sha256 = digest

    def mmus(self):
        """The MMUs whose code this patch touches (a "both" patch counts
        for both)."""
        return MMUS if self.mmu == "both" else (self.mmu,)

    def describe(self):
        return {"patch": self.name, "subject": self.subject, "patch_mmu": self.mmu,
                "kind": self.kind, "area": self.area, "why": self.why, "sha256": self.sha256}


HEADER_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9-]*):\s*(.*?)\s*$")
DIFF_FILE = re.compile(r"^(---|\+\+\+) (\S+)")


def parse_patch(path):
    """A patch file: "Key: value" header lines, a blank line, a unified
    diff for patch -p1.  Raises UsageError naming the file and the fault."""
    name = os.path.basename(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    lines = text.split("\n")
    headers = {}
    i = 0
    while i < len(lines) and lines[i].strip():
        m = HEADER_LINE.match(lines[i])
        if not m:
            raise UsageError(f"{name}: line {i + 1}: not a 'Key: value' header line: {lines[i][:60]!r}")
        key, value = m.group(1), m.group(2)
        if key in headers:
            raise UsageError(f"{name}: header {key} given twice")
        headers[key] = value
        i += 1
    for key in HEADER_KEYS:
        if not headers.get(key):
            raise UsageError(f"{name}: no {key}: header (needs {', '.join(HEADER_KEYS)})")
    if headers["MMU"] not in PATCH_MMUS:
        raise UsageError(f"{name}: MMU: {headers['MMU']!r} is not one of {'|'.join(PATCH_MMUS)}")
    if headers["Kind"] not in PATCH_KINDS:
        raise UsageError(f"{name}: Kind: {headers['Kind']!r} is not one of {'|'.join(PATCH_KINDS)}")
    files = []
    old = None
    for line in lines[i:]:
        m = DIFF_FILE.match(line)
        if not m:
            continue
        if m.group(1) == "---":
            old = m.group(2)
            continue
        new = m.group(2)
        target = new if new != "/dev/null" else old
        if target is None or target == "/dev/null" or "/" not in target:
            raise UsageError(f"{name}: cannot tell which file a hunk patches ({line[:60]!r})")
        # -p1: drop the a/ or b/.
        rel = target.split("/", 1)[1]
        if rel.startswith("/") or ".." in rel.split("/"):
            raise UsageError(f"{name}: patches a file outside the tree: {rel}")
        if rel not in files:
            files.append(rel)
        old = None
    if not files:
        raise UsageError(f"{name}: no unified diff after the header")
    return Patch(path, headers, files, hashlib.sha256(text.encode()).hexdigest())


def select(name, patterns):
    """--only: a shell glob matched against the patch name, or, without
    glob characters, a substring of it."""
    if not patterns:
        return True
    for p in patterns:
        if any(c in p for c in "*?["):
            if fnmatch.fnmatchcase(name, p):
                return True
        elif p in name:
            return True
    return False


def load_patches(directory, only=()):
    if not os.path.isdir(directory):
        raise UsageError(f"--patches {directory}: no such directory")
    paths = sorted(glob.glob(os.path.join(directory, "*.patch")))
    patches = [parse_patch(p) for p in paths if select(os.path.basename(p)[:-6], only)]
    if not patches:
        what = f" matching --only {' '.join(only)}" if only else ""
        raise UsageError(f"no patches{what} in {directory}")
    return patches


def pairs_of(patches, mmus):
    """Every (patch, MMU) to run, in a fixed order: a patch is run on the
    MMUs whose code it touches, of those selected."""
    return [(p, m) for p in sorted(patches, key=lambda p: p.name) for m in MMUS
            if m in mmus and m in p.mmus()]


def parse_shard(text):
    m = re.fullmatch(r"([1-9][0-9]*)/([1-9][0-9]*)", text or "")
    if not m or int(m.group(1)) > int(m.group(2)):
        raise UsageError(f"--shard {text}: needs I/N with 1 <= I <= N, e.g. 2/4")
    return int(m.group(1)), int(m.group(2))


def shard_of(pairs, index, count):
    """Shard I of N: every N-th pair starting at the I-th, so the shards'
    slices are disjoint, cover every pair, and mix patches and MMUs."""
    return [p for k, p in enumerate(pairs) if k % count == index - 1]


def pair_id(name, mmu):
    return f"{name}:{mmu}"


def program_path(spec):
    """"kvm:build/selftests/x_test+--opt" -> build/selftests/x_test"""
    return spec[len("kvm:"):].split("+")[0] if spec.startswith("kvm:") else spec.split("+")[0]


def select_programs(nightly_programs, mode, O="build"):
    """From make nightly-programs' "check PROG" / "bench PROG" lines: quick
    mode runs the real-KVM ("kvm:") programs of make check; full mode adds
    the kvm: benchmarks and the VM-kernel tests of the nightly.  Not the
    programs under ci/tests/: they test kmmu's own programs (a planted
    misclassification is caught, host state is restored after a signal),
    not the kernel, and in the test VM they took as long as the rest."""
    progs = []
    for line in nightly_programs.splitlines():
        kind, _, prog = line.strip().partition(" ")
        if prog.startswith("kvm:ci/tests/"):
            continue
        if prog.startswith("kvm:") and (kind == "check" or (kind == "bench" and mode == "full")):
            if prog not in progs:
                progs.append(prog)
    if mode == "full":
        for p in FULL_EXTRA:
            p = p.format(O=O)
            if p not in progs:
                progs.append(p)
    return progs


# -------------------------------------------------------------- kernel log

# The first line of each kind of kernel report, most specific first.
KERNEL_REPORTS = [
    ("kasan", re.compile(r"BUG: KASAN: ")),
    ("lockdep", re.compile(r"possible circular locking dependency|possible recursive locking|"
                           r"inconsistent lock state|possible irq lock inversion|"
                           r"bad unlock balance|suspicious RCU usage|held lock freed|"
                           r"lock held when returning to user space|"
                           r"(WARNING|BUG): .*(lock|RCU)[^:]*detected")),
    ("oops", re.compile(r"\bOops\b|BUG: unable to handle|BUG: kernel NULL pointer|"
                        r"general protection fault|kernel BUG at|: [0-9a-f]{4} \[#\d+\]")),
    ("hang", re.compile(r"soft lockup|hard LOCKUP|blocked for more than \d+ seconds|"
                        r"rcu_\w+ detected stalls|detected stalls on CPUs")),
    ("list", re.compile(r"list_(add|del) corruption")),
    ("ubsan", re.compile(r"UBSAN: ")),
    ("bug", re.compile(r"\bBUG: ")),
    ("warning", re.compile(r"\bWARNING: ")),
    ("panic", re.compile(r"Kernel panic - not syncing")),
]
TIMESTAMP = re.compile(r"^\s*(<\d+>)?\[\s*\d+\.\d+\]\s?")


def normalize_report(line):
    """A report's first line without what differs between runs of the
    same bug: CPU and PID, task names, addresses and code offsets."""
    s = TIMESTAMP.sub("", line)
    s = re.sub(r"CPU: \d+ PID: \d+", "", s)
    s = re.sub(r"\bComm: \S+", "", s)
    s = re.sub(r"\+0x[0-9a-f]+/0x[0-9a-f]+", "", s)
    s = re.sub(r"0x[0-9a-f]+", "0x?", s)
    s = re.sub(r"\b[0-9a-f]{8,16}\b", "?", s)
    s = re.sub(r"\[#\d+\]", "", s)
    s = re.sub(r"\btask [^ ]+:\d+", "task", s)
    return re.sub(r"\s+", " ", s).strip()


def classify_kernel_log(text, source=""):
    """The kernel reports in one VM's log: [{kind, line, key, source}].
    Lockdep's "WARNING: possible circular locking ..." is lockdep, not a
    plain WARNING; an Oops' "BUG: unable to handle" is the Oops."""
    findings = []
    for raw in text.splitlines():
        line = TIMESTAMP.sub("", raw).strip()
        for kind, rx in KERNEL_REPORTS:
            if rx.search(line):
                key = f"{kind}: {normalize_report(line)}"
                findings.append({"kind": kind, "line": line[:300], "key": key, "source": source})
                break
    return findings


def program_of_dmesg(path):
    """run-in-vm --dmesg-dir names a log STAMP-PID-CMDNAME.log."""
    base = os.path.basename(path)[:-len(".log")]
    parts = base.split("-", 2)
    return parts[2] if len(parts) == 3 else base


def read_kernel_logs(directory):
    findings = []
    for path in sorted(glob.glob(os.path.join(directory, "*.log"))):
        with open(path, errors="replace") as f:
            findings += classify_kernel_log(f.read(), program_of_dmesg(path))
    return findings


# ------------------------------------------------------------ test results

def subtest_key(program, name):
    # Subtest names may carry counts ("(10004 checked)"): those differ
    # between runs of the same test.
    return f"{program} :: {re.sub(r'[0-9]+', 'N', name)}"


def worse(a, b):
    order = {"fail": 3, "timeout": 2, "pass": 1, "skip": 0}
    return a if order.get(a["status"], 0) >= order.get(b["status"], 0) else b


def add_status(tests, key, status, reason=None, first=None):
    entry = {"status": status}
    if reason:
        entry["reason"] = reason
    if first:
        entry["first_failure"] = first
    tests[key] = worse(tests[key], entry) if key in tests else entry


FAILURE_LINE = re.compile(r"(FAIL|[Ff]ailed|Assert|assert|Expected|expected|diverge|mismatch|"
                          r"error|Error|ERROR|wrong|stale|lost|BUG|WARNING|Oops|timeout|"
                          r"[Tt]imed out|panicked|killed|Aborted)")
# What a failing check prints: the kselftest harness's location prefix of
# an assertion or TH_LOG ("x_test.c:88:two:"), a guest's failure report.
ASSERTION_LINE = re.compile(r"(\.c:\d+:[\w.]+:|guest failure)")
TAP_RESULT = re.compile(r"^\s*(not )?ok \d+ ")
# The checker's summary of a clean replay says "divergences" and "NOT
# CHECKABLE" without anything having gone wrong.
CHECKER_CLEAN = re.compile(r"checker: (PASS |NOT CHECKABLE |.*\b0 divergences)")


def program_sections(log_text):
    """kmmu-run's output, split per program: {name: [lines]}, the lines
    without kmmu-run's "# " prefix."""
    sections = {}
    current = None
    for line in log_text.splitlines():
        m = re.match(r"^# selftests: kmmu: (.*)$", line)
        if m:
            current = m.group(1)
            sections[current] = []
            continue
        if current is None:
            continue
        if re.match(rf"^(not )?ok \d+ selftests: kmmu: {re.escape(current)}( #.*)?$", line):
            current = None
            continue
        sections[current].append(line[2:] if line.startswith("# ") else line)
    return sections


def first_failure(lines, reason=None):
    """The first line that says what went wrong: a diagnostic before the
    first "not ok" -- an assertion's (kselftest's "file.c:LINE:test:"), a
    guest's failure, before any line that merely has a failure word (a
    test's statistics may say "stale") -- else the first "not ok", else
    kmmu-run's reason."""
    for pattern in (ASSERTION_LINE, FAILURE_LINE):
        for line in lines:
            if TAP_RESULT.match(line):
                if line.lstrip().startswith("not ok"):
                    break
                continue
            if "# SKIP" in line or CHECKER_CLEAN.search(line):
                continue
            if pattern.search(line):
                return line.strip()[:300]
    for line in lines:
        if line.lstrip().startswith("not ok"):
            return line.strip()[:300]
    return reason


def parse_kmmu_result(doc, log_text):
    """kmmu-run's result document -> {key: {status, reason, first_failure}}
    for every program and subtest, and each program's duration."""
    tests, durations = {}, {}
    sections = program_sections(log_text)
    for t in doc.get("tests", []):
        prog = t["name"]
        reason = t.get("reason")
        status = t["status"]
        if status == "fail" and reason and reason.startswith("timeout"):
            status = "timeout"
        first = first_failure(sections.get(prog, []), reason) if status != "pass" else None
        add_status(tests, prog, status, reason, first if status in ("fail", "timeout") else None)
        durations[prog] = t.get("duration_s")
        for s in t.get("subtests", []):
            sfirst = None
            if s["status"] == "fail":
                sfirst = s.get("reason") or first
            add_status(tests, subtest_key(prog, s["name"]), s["status"], s.get("reason"), sfirst)
    return tests, durations


# Its "# message" is free text (the first failure line), not only a TAP
# directive: the name ends at the first " # ".
UPSTREAM_TAP = re.compile(r"^(not )?ok \d+ (?:- )?(.*?)(?:\s+#\s+(.*))?$")


def parse_upstream_tap(text):
    """ci/mutants/upstream-selftests run's TAP: {name: {status, reason,
    first_failure}}; "# TIMEOUT ..." is a hang, "# SKIP ..." a skip."""
    tests = {}
    for line in text.splitlines():
        m = UPSTREAM_TAP.match(line.strip())
        if not m:
            continue
        failed, name, msg = m.group(1), m.group(2), m.group(3)
        if msg and re.match(r"SKIP\b", msg):
            status = "skip"
        elif failed and msg and re.match(r"TIMEOUT\b", msg):
            status = "timeout"
        else:
            status = "fail" if failed else "pass"
        first = msg if status in ("fail", "timeout") else None
        if first:
            # "exit=RC: line" (kselftest runner's exit=): the line itself.
            first = re.sub(r"^exit=-?\d+: ", "", first)
        add_status(tests, name, status, msg, first)
    return tests


# ----------------------------------------------------------------- verdicts

def stable_keys(baselines):
    """Tests that ran in every baseline run and failed (or hung) in none:
    only these can catch a mutant."""
    if not baselines:
        return set()
    keys = set(baselines[0]["tests"])
    for b in baselines[1:]:
        keys &= set(b["tests"])
    return {k for k in keys if all(b["tests"][k]["status"] not in ("fail", "timeout") for b in baselines)}


def suite_verdict(run, baselines):
    """One suite's verdict on a mutant's run, against the baseline runs of
    the same MMU.  run and each baseline: {"tests": {key: {status, ...}},
    "findings": [kernel reports], "vm": "ok"|"timeout"|"panic"|...}.

    caught: a stable test failed, or the kernel log has a report no
    baseline run had; hung: the only new failures are timeouts; missed:
    neither.  A test that failed in any baseline run does not count."""
    stable = stable_keys(baselines)
    tests = dict(run["tests"])
    # A VM that died or timed out took the tests it had not reported yet
    # with it (upstream's runner: one VM for all its tests).
    if run.get("vm") in ("timeout", "panic"):
        for k in stable:
            if k not in tests:
                tests[k] = {"status": "timeout" if run["vm"] == "timeout" else "fail",
                            "reason": f"not reported: the VM {'timed out' if run['vm'] == 'timeout' else 'panicked'}"}
    catching = sorted(k for k in stable if k in tests and tests[k]["status"] in ("fail", "timeout"))
    ignored = sorted(k for k, t in tests.items()
                     if t["status"] in ("fail", "timeout") and k not in stable)
    seen = {f["key"] for b in baselines for f in b.get("findings", [])}
    new_findings = [f for f in run.get("findings", []) if f["key"] not in seen]
    failed = [k for k in catching if tests[k]["status"] == "fail"]
    hung = [k for k in catching if tests[k]["status"] == "timeout"]
    result = {"ignored_failures": ignored, "kernel_log": new_findings}
    if failed or new_findings:
        by = failed + hung + (["kernel log"] if new_findings else [])
        first = next((tests[k].get("first_failure") or tests[k].get("reason") for k in failed), None)
        if first is None and new_findings:
            first = new_findings[0]["line"]
        result.update(verdict=CAUGHT, by=by, first_failure=first)
    elif hung:
        result.update(verdict=HUNG, by=hung, first_failure=tests[hung[0]].get("reason"))
    else:
        result.update(verdict=MISSED, by=[], first_failure=None)
    return result


def programs_of(keys):
    """Catching test keys -> the programs (and "kernel log"), in order."""
    out = []
    for k in keys:
        p = k.split(" :: ", 1)[0]
        if p not in out:
            out.append(p)
    return out


# ------------------------------------------------------------------ report

def flagged(verdict):
    return verdict in DETECTED


def rate(records, suite):
    """(detected, counted) over mutant pairs whose kmmu verdict is a real
    one (not stale, build failed or boot failed)."""
    counted = [r for r in records if r["kind"] == "mutant" and r["kmmu"]["verdict"] not in NOT_COUNTED]
    if suite == "upstream":
        counted = [r for r in counted if r["upstream"]["verdict"] != NOT_RUN]
    return sum(1 for r in counted if flagged(r[suite]["verdict"])), len(counted)


def percent(n, d):
    return f"{100.0 * n / d:.0f}%" if d else "n/a"


def short_by(v):
    """A verdict cell: the verdict, the catching programs (vm: and build/
    prefixes dropped), the first failure line."""
    text = v["verdict"]
    if v.get("by"):
        progs = [re.sub(r"^vm:", "", p) for p in programs_of(v["by"])]
        progs = [os.path.basename(p.split(" ")[0]) + (" " + p.split(" ", 1)[1] if " " in p else "")
                 for p in progs]
        text += " by " + ", ".join(progs)
    if v.get("first_failure"):
        line = v["first_failure"].replace("|", "\\|")
        text += f" (`{line[:120]}`)" if "`" not in line else f" ({line[:120]})"
    if v.get("detail"):
        text += f" ({v['detail'][:120]})"
    return text


def findings_cell(r):
    out = []
    for suite in ("kmmu", "upstream"):
        for f in r[suite].get("kernel_log", []):
            cell = f"{f['kind']}: {f['line'][:100]}".replace("|", "\\|")
            if cell not in out:
                out.append(cell)
    return "; ".join(out) if out else "-"


def render_report(doc):
    """The Markdown report of a result document (one shard's or merged)."""
    c = doc.get("campaign", {})
    records = [t["mutant"] for t in doc["tests"] if "mutant" in t]
    lines = ["# Kernel-mutant campaign", ""]
    lines.append(f"- date: {doc.get('start_time', '?')}; suite revision: {doc.get('suite_revision', '?')}")
    judged_at = collections.Counter(r.get("suite_revision") or "?" for r in records)
    if len(judged_at) > 1:
        lines.append("- pairs judged at suite revisions: " +
                     ", ".join(f"{rev} ({n})" for rev, n in sorted(judged_at.items())))
    lines.append(f"- kernel: {c.get('kernel', '?')} ({c.get('flavour', 'default')} flavour), in "
                 f"ci/vm/run-in-vm's QEMU/TCG VM with {VM_SMP} vCPUs; shadow MMU = kvm_amd npt=0, "
                 "TDP MMU = npt=1")
    lines.append(f"- mode: {c.get('mode', '?')} (kmmu programs: {', '.join(c.get('programs', [])) or '?'})")
    lines.append(f"- baselines: {c.get('baselines', '?')} runs of the unpatched kernel per MMU; shards: "
                 f"{', '.join(c.get('shards', [])) or '?'}")
    times = [r["duration_s"] for r in records if r.get("duration_s")]
    total = sum(times) + (c.get("baseline_seconds") or 0)
    if times:
        lines.append(f"- time: {fmt_duration(total)} in all ({len(times)} pairs, median "
                     f"{fmt_duration(statistics.median(times))} a pair incl. its share of the build; "
                     "baselines included)")
    lines.append("")
    kc, kn = rate(records, "kmmu")
    uc, un = rate(records, "upstream")
    lines.append(f"**kmmu: {percent(kc, kn)} caught** ({kc} of {kn} mutant pairs); "
                 f"**upstream: {percent(uc, un)} caught** ({uc} of {un})")
    lines.append("")
    lines.append("Counted: every (mutant, MMU) pair whose code that MMU runs (a patch for `both` "
                 "counts on both), but those that are stale, failed to build or failed to boot. "
                 "caught = a test that passed in every baseline run failed, or the kernel logged a "
                 "report no baseline run had; hung (counted as caught) = the only new failures are "
                 "timeouts.")
    lines.append("")
    head = "| patch | MMU | area | kmmu | upstream | kernel log | time |"
    sep = "|---|---|---|---|---|---|---|"
    for kind, title in (("mutant", "## Mutants"), ("control", "## Controls (equivalent changes: any flag is a false alarm)")):
        rows = [r for r in records if r["kind"] == kind]
        lines += [title, ""]
        if not rows:
            lines += ["none", ""]
            continue
        lines += [head, sep]
        for r in sorted(rows, key=lambda r: (r["patch"], MMUS.index(r["mmu"]))):
            # Stale, build failed, boot failed: said once, in kmmu's cell.
            up = "-" if r["kmmu"]["verdict"] in NOT_COUNTED else short_by(r["upstream"])
            lines.append(f"| {r['patch']} | {r['mmu']} | {r['area']} | {short_by(r['kmmu'])} | "
                         f"{up} | {findings_cell(r)} | {fmt_duration(r.get('duration_s'))} |")
        lines.append("")
        if kind == "control":
            alarms = [r for r in rows if flagged(r["kmmu"]["verdict"])]
            ualarms = [r for r in rows if flagged(r["upstream"]["verdict"])]
            lines.append(f"False alarms: kmmu {len(alarms)}"
                         + (f" ({', '.join(pair_id(r['patch'], r['mmu']) for r in alarms)})" if alarms else "")
                         + f", upstream {len(ualarms)}"
                         + (f" ({', '.join(pair_id(r['patch'], r['mmu']) for r in ualarms)})" if ualarms else ""))
            lines.append("")
    missed = [r for r in records if r["kind"] == "mutant" and r["kmmu"]["verdict"] == MISSED]
    lines += ["## Missed by kmmu", ""]
    lines += [f"- {pair_id(r['patch'], r['mmu'])}: {r['subject']} ({r['why']})" for r in missed] or ["none"]
    lines.append("")
    other = [r for r in records if r["kmmu"]["verdict"] in NOT_COUNTED]
    if other:
        lines += ["## Not counted", ""]
        lines += [f"- {pair_id(r['patch'], r['mmu'])}: {short_by(r['kmmu'])}" for r in other]
        lines.append("")
    return "\n".join(lines)


def test_entry(r):
    """One kmmu-result/1 test for a (patch, MMU): pass when kmmu did its
    job (a mutant caught, a control not flagged)."""
    v = r["kmmu"]["verdict"]
    name = f"mutant:{r['patch']}:{r['mmu']}"
    if v in (STALE, BUILD_FAILED) or (v == BOOT_FAILED and r["kind"] == "mutant"):
        status, reason = "skip", v + (f": {r['kmmu']['detail']}" if r["kmmu"].get("detail") else "")
    elif r["kind"] == "mutant":
        status, reason = ("pass", None) if flagged(v) else ("fail", "missed by kmmu")
    elif v == BOOT_FAILED:
        status, reason = "fail", "control failed to boot"
    else:
        status, reason = ("fail", f"false alarm: {short_by(r['kmmu'])}") if flagged(v) else ("pass", None)
    t = {"name": name, "status": status, "duration_s": round(r.get("duration_s") or 0, 3), "mutant": r}
    if reason:
        t["reason"] = reason
    return t


def rate_metrics(records):
    out = []
    for suite in ("kmmu", "upstream"):
        n, d = rate(records, suite)
        if d:
            v = 100.0 * n / d
            out.append({"program": "ci/mutants/run", "name": f"{suite}_caught", "unit": "%",
                        "direction": "higher", "samples": [v], "median": v, "cv": 0.0,
                        "params": {"pairs": d}})
    return out


def load_result(path, what):
    """A campaign's kmmu-result/1 file, or a UsageError naming @what."""
    try:
        doc = kmmu_run.read_document(path)
    except FileNotFoundError:
        raise UsageError(f"{what}: {path}: no such file") from None
    except json.JSONDecodeError as e:
        raise UsageError(f"{what}: {path}: not readable JSON ({e})") from None
    except (OSError, ValueError):
        raise UsageError(f"{what}: {path}: not a mutant campaign result") from None
    if "campaign" not in doc:
        raise UsageError(f"{what}: {path}: not a mutant campaign result")
    return doc


def merge_documents(docs):
    """Shard result documents -> one.  A pair in two files, or shards of
    different modes or kernels, is an error."""
    if not docs:
        raise UsageError("merge: no result files")
    seen = {}
    tests = []
    first_path, first = docs[0]
    for path, doc in docs:
        if doc.get("schema") != SCHEMA or "campaign" not in doc:
            raise UsageError(f"merge: {path}: not a mutant campaign result ({SCHEMA} with a campaign block)")
        for field in ("mode", "kernel", "flavour"):
            if doc["campaign"].get(field) != first["campaign"].get(field):
                raise UsageError(f"merge: {path}: {field} {doc['campaign'].get(field)!r} differs from "
                                 f"{first_path}'s {first['campaign'].get(field)!r}")
        for t in doc.get("tests", []):
            if t["name"] in seen:
                raise UsageError(f"merge: {t['name']} is in both {seen[t['name']]} and {path}")
            seen[t["name"]] = path
            tests.append(t)
    tests.sort(key=lambda t: t["name"])
    campaign = dict(first["campaign"])
    campaign["shards"] = sorted({s for _, d in docs for s in d["campaign"].get("shards", [])})
    campaign["baseline_seconds"] = sum(d["campaign"].get("baseline_seconds") or 0 for _, d in docs)
    campaign["programs"] = sorted({p for _, d in docs for p in d["campaign"].get("programs", [])})
    revisions = sorted({d.get("suite_revision", "?") for _, d in docs})
    start = min(d.get("start_time", "") for _, d in docs)
    records = [t["mutant"] for t in tests if "mutant" in t]
    return {
        "schema": SCHEMA,
        "run_id": f"{now_utc().strftime('%Y%m%dT%H%M%SZ')}-mutants-merged-{os.getpid()}",
        "start_time": start,
        "mode": "mutants",
        "suite_revision": ",".join(revisions),
        "host": first.get("host", {}),
        "campaign": campaign,
        "tests": tests,
        "metrics": rate_metrics(records),
    }


def verdict_changes(old, new):
    """Pairs judged in both result documents whose kmmu or upstream
    verdict differs: [(pair, suite, old verdict, new verdict)], for a
    nightly that runs (a slice of) the campaign and reports what changed."""
    def verdicts(doc):
        out = {}
        for t in doc.get("tests", []):
            r = t.get("mutant")
            if r:
                out[pair_id(r["patch"], r["mmu"])] = r
        return out
    before, after = verdicts(old), verdicts(new)
    changes = []
    for pid in sorted(set(before) & set(after)):
        for suite in ("kmmu", "upstream"):
            a, b = before[pid][suite]["verdict"], after[pid][suite]["verdict"]
            if a != b:
                changes.append((pid, suite, a, b))
    return changes


# --------------------------------------------------------------- processes

def command(env_name, default):
    """A step's command, replaceable for the tests (KMMU_MUTANTS_*)."""
    v = os.environ.get(env_name)
    return shlex.split(v) if v else list(default)


class Children:
    """Runs child process groups, one per thread (--vms runs VMs side by
    side); SIGINT/SIGTERM kill them all and raise Interrupted, except inside
    critical() (applying or reverting a patch, writing state), which
    finishes first."""

    def __init__(self):
        self.running = set()
        self.lock = threading.Lock()
        self.interrupted = False
        self.in_critical = 0

    def install(self):
        signal.signal(signal.SIGINT, self.on_signal)
        signal.signal(signal.SIGTERM, self.on_signal)

    def on_signal(self, signum, frame):
        self.interrupted = True
        # Only the signal here: the main thread may be inside a child's
        # wait(), which no poll() from a handler can reap; run() waits.
        self.terminate()
        if not self.in_critical:
            raise Interrupted()

    @staticmethod
    def signal_group(c, sig):
        if c.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(c.pid, sig)

    def terminate(self):
        for c in list(self.running):
            self.signal_group(c, signal.SIGTERM)

    @contextlib.contextmanager
    def critical(self):
        with self.lock:
            self.in_critical += 1
        try:
            yield
        finally:
            with self.lock:
                self.in_critical -= 1
        if self.interrupted and not self.in_critical:
            raise Interrupted()

    def kill(self, c):
        if c.poll() is not None:
            return
        self.signal_group(c, signal.SIGTERM)
        # A kmmu-run writes its result and takes its VM down on SIGTERM.
        try:
            c.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.signal_group(c, signal.SIGKILL)
            c.wait()

    def run(self, argv, out_path, env=None, cwd=REPO, stdout_also=False):
        """Runs argv, stdout and stderr into out_path; returns the exit
        status (negative: killed by that signal)."""
        if self.interrupted:
            raise Interrupted()
        with open(out_path, "a") as out:
            out.write(f"### {' '.join(shlex.quote(a) for a in argv)}\n")
            out.flush()
            with self.lock:
                try:
                    c = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                         start_new_session=True)
                except OSError as e:
                    raise CampaignError(f"cannot run {argv[0]}: {e.strerror}") from None
                self.running.add(c)
            try:
                rc = c.wait()
            finally:
                self.kill(c)
                with self.lock:
                    self.running.discard(c)
        if self.interrupted:
            raise Interrupted()
        return rc

    def side_by_side(self, jobs, n):
        """Calls the functions jobs, n at a time in threads (in this thread
        when n is 1), and once every started one has ended re-raises the
        first exception one raised (Interrupted first).  A signal's
        Interrupted in this thread ends the children; the jobs then end
        with Interrupted too, and are waited for, so that nothing runs on
        when the caller reverts the tree."""
        if n <= 1 or len(jobs) <= 1:
            for job in jobs:
                job()
            return
        errors = []
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=n)
        try:
            pending = {pool.submit(job) for job in jobs}
            while pending:
                try:
                    done, pending = concurrent.futures.wait(pending)
                except Interrupted as e:
                    errors.append(e)
                    continue
                for f in done:
                    if not f.cancelled() and f.exception() is not None:
                        errors.append(f.exception())
                if errors:
                    for f in pending:
                        f.cancel()
        finally:
            while True:
                try:
                    pool.shutdown(wait=True)
                    break
                except Interrupted as e:
                    errors.append(e)
        if errors:
            raise next((e for e in errors if isinstance(e, Interrupted)), errors[0])


# -------------------------------------------------------------------- tree

class Tree:
    """The kernel tree the patches go into.  apply() saves every file the
    patch touches first; revert() writes them back byte for byte (with a new
    mtime, so make rebuilds their objects) and checks them; what is applied
    is recorded in the state directory, so that a campaign killed with a
    patch applied reverts it when it starts again."""

    def __init__(self, src, state_dir, children):
        self.src = src
        self.record = os.path.join(state_dir, "applied.json")
        self.backup = os.path.join(state_dir, "backup")
        self.children = children

    def _patch(self, patch, *args):
        with open(patch.path, "rb") as f:
            return subprocess.run(["patch", "-p1", "--forward", "--fuzz=0", "--batch",
                                   "--no-backup-if-mismatch", "--reject-file=-", *args],
                                  stdin=f, cwd=self.src, capture_output=True, text=True)

    def applies(self, patch):
        """None if the patch applies, else patch's complaint."""
        out = self._patch(patch, "--dry-run")
        if out.returncode == 0:
            return None
        text = (out.stdout + out.stderr).strip().splitlines()
        why = [ln for ln in text if "FAILED" in ln or "Reversed" in ln or "can't find" in ln
               or "No file to patch" in ln or "malformed" in ln]
        return (why or text or ["patch failed"])[0][:200]

    def looks_applied(self, patch):
        """The tree already holds this patch: reversing it would work and
        applying it would not."""
        with open(patch.path, "rb") as f:
            rev = subprocess.run(["patch", "-p1", "-R", "--dry-run", "--force", "--fuzz=0",
                                  "--reject-file=-"], stdin=f, cwd=self.src, capture_output=True)
        return rev.returncode == 0 and self.applies(patch) is not None

    def apply(self, patch):
        """Applies the patch; returns None, or why it is stale."""
        why = self.applies(patch)
        if why:
            return why
        with self.children.critical():
            shutil.rmtree(self.backup, ignore_errors=True)
            os.makedirs(self.backup)
            files = {}
            for rel in patch.files:
                path = os.path.join(self.src, rel)
                if os.path.isfile(path):
                    dst = os.path.join(self.backup, rel)
                    os.makedirs(os.path.dirname(dst), exist_ok=True)
                    shutil.copy2(path, dst)
                    files[rel] = sha256_file(path)
                else:
                    files[rel] = None
            write_atomic(self.record, {"patch": patch.name, "files": files})
            out = self._patch(patch)
            if out.returncode != 0:
                self.revert()
                raise CampaignError(f"{patch.name}: patch failed after its dry run applied: "
                                    f"{(out.stdout + out.stderr).strip()[:200]}")
        return None

    def applied(self):
        if not os.path.exists(self.record):
            return None
        return read_json(self.record)

    def revert(self):
        """Puts back every file the applied patch touched; no-op if none
        is applied.  Raises CampaignError if a file does not come back
        exactly."""
        rec = self.applied()
        if rec is None:
            return None
        with self.children.critical():
            for rel, digest in rec["files"].items():
                path = os.path.join(self.src, rel)
                if digest is None:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
                    continue
                with open(os.path.join(self.backup, rel), "rb") as f:
                    data = f.read()
                tmp = path + ".mutants-restore"
                with open(tmp, "wb") as f:
                    f.write(data)
                shutil.copymode(os.path.join(self.backup, rel), tmp)
                os.rename(tmp, path)
                if sha256_file(path) != digest:
                    raise CampaignError(f"{rel}: not restored exactly after {rec['patch']} "
                                        f"(the original is in {self.backup})")
            os.unlink(self.record)
            shutil.rmtree(self.backup, ignore_errors=True)
        return rec["patch"]


# ------------------------------------------------------------------- build

def module_paths(obj):
    """{module file name: its path under obj}, from the build's
    modules.order (.ko entries before 6.2, .o after)."""
    out = {}
    with contextlib.suppress(FileNotFoundError):
        with open(os.path.join(obj, "modules.order")) as f:
            for line in f:
                rel = line.strip()
                if not rel:
                    continue
                if rel.endswith(".o"):
                    rel = rel[:-2] + ".ko"
                out[os.path.basename(rel)] = rel
    return out


def only_kvm_files(files):
    """Everything under arch/x86/kvm and virt/kvm is built into kvm.ko and
    kvm-amd.ko (KVM=m): a change of only such files needs only those
    rebuilt (ci/bisect-run asks this of the files two commits differ in)."""
    return all(f.startswith(("arch/x86/kvm/", "virt/kvm/")) for f in files)


def touches_only_modules(patch):
    return only_kvm_files(patch.files)


class KernelBuild:
    def __init__(self, kdir, src, obj, jobs, children):
        self.kdir, self.src, self.obj, self.jobs = kdir, src, obj, jobs
        self.children = children
        self.make = command("KMMU_MUTANTS_MAKE", ["nice", "-n", "19", "make"])
        with open(os.path.join(kdir, "vm", "modules", "order")) as f:
            self.modules = [ln.strip() for ln in f if ln.strip()]

    def build(self, full, log_path, release=None):
        """make bzImage and modules (full), or only the VM's modules; None
        or the first error line.  release: the modules' KERNELRELEASE (their
        vermagic) on a modules-only build, that of the kernel they are
        loaded into; in a git tree with LOCALVERSION_AUTO each commit has
        its own (6.1.0-gSHA), and insmod refuses a module of another."""
        if full:
            targets = ["bzImage", "modules"]
        else:
            paths = module_paths(self.obj)
            missing = [m for m in self.modules if m not in paths]
            if missing:
                targets = ["modules"]
            else:
                targets = [paths[m] for m in self.modules]
        order = os.path.join(self.obj, "modules.order")
        try:
            with open(order) as f:
                order_text = f.read()
        except FileNotFoundError:
            order_text = None
        pin = [f"KERNELRELEASE={release}"] if release and not full else []
        rc = self.children.run(self.make + ["-C", self.src, f"O={self.obj}", f"-j{self.jobs}", *pin,
                                            *targets], log_path)
        # Kbuild (6.1) removes modules.order on a build of single .ko
        # targets, and only `make modules` writes it again: without it the
        # modules could not be found for the layout, nor for the next patch.
        if rc == 0 and order_text is not None and not os.path.exists(order):
            with open(order + ".tmp", "w") as f:
                f.write(order_text)
            os.rename(order + ".tmp", order)
        if rc == 0:
            return None
        with open(log_path, errors="replace") as f:
            text = f.read().splitlines()
        errs = [ln for ln in text if re.search(r"\berror\b|Error \d", ln)]
        return (errs or text[-1:] or [f"make exit {rc}"])[0].strip()[:300]

    def layout(self, vm_dir, with_vmlinuz):
        """Copies the VM's modules (and the kernel) from the object tree
        into vm_dir; run-in-vm rebuilds its initramfs from them."""
        paths = module_paths(self.obj)
        os.makedirs(os.path.join(vm_dir, "modules"), exist_ok=True)
        for m in self.modules:
            if m not in paths:
                raise CampaignError(f"{m} is not in {self.obj}/modules.order")
            src = os.path.join(self.obj, paths[m])
            tmp = os.path.join(vm_dir, "modules", m + ".tmp")
            shutil.copyfile(src, tmp)
            os.rename(tmp, os.path.join(vm_dir, "modules", m))
        if with_vmlinuz:
            tmp = os.path.join(vm_dir, "vmlinuz.tmp")
            shutil.copyfile(os.path.join(self.obj, "arch", "x86", "boot", "bzImage"), tmp)
            os.rename(tmp, os.path.join(vm_dir, "vmlinuz"))
        # The initramfs holds the modules: run-in-vm makes a new one.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(vm_dir, "initramfs.gz"))


# ---------------------------------------------------------------- campaign

class Campaign:
    def __init__(self, args):
        self.args = args
        self.children = Children()
        self.outputs_lock = threading.Lock()
        self.O = os.environ.get("O", "build")
        self.build_dir = os.path.join(REPO, self.O) if not os.path.isabs(self.O) else self.O
        self.mode = "quick" if args.quick else "full"
        self.flavour = "debug" if args.debug else "default"
        self.state = os.path.abspath(args.state or self.default_state())
        self.kdir = os.path.abspath(args.kernel_dir or self.default_kdir())
        self.locks = []

    # ------------------------------------------------------------ setup
    def default_kdir(self):
        # As ci/vm/build-kernel chooses its --dir for --src and for
        # Debian's 6.1 (the campaign's default source).
        return os.path.join(self.build_dir, "vm-kernel" + ("-debug" if self.args.debug else ""))

    def default_state(self):
        name = self.mode + ("-debug" if self.args.debug else "")
        if self.args.src:
            name += "-" + re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(os.path.abspath(self.args.src)))
        return os.path.join(self.build_dir, "mutants", name)

    def programs(self):
        """The kmmu programs to run: those make nightly-programs lists that
        are built (one not built yet is left out, and said)."""
        env = os.environ.get("KMMU_MUTANTS_PROGRAMS")
        if env is not None:
            return env.split()
        out = subprocess.run(["make", "--no-print-directory", "-s", f"O={self.O}", "nightly-programs"],
                             cwd=REPO, capture_output=True, text=True)
        if out.returncode != 0:
            raise CampaignError(f"make nightly-programs failed: {out.stderr.strip()[:200]}")
        progs = select_programs(out.stdout, self.mode, self.O)
        built = [p for p in progs if os.access(os.path.join(REPO, program_path(p)), os.X_OK)]
        for p in progs:
            if p not in built:
                log(f"{program_path(p)} is not built: left out (make all)")
        if not built:
            raise CampaignError("none of the kvm: programs of make nightly-programs is built (make all)")
        return built

    def lock(self, path, what):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise CampaignError(f"{path} is in use ({what})") from None
        self.locks.append(fd)

    def ensure_kernel(self):
        """The tree and object tree of ci/vm/build-kernel for this source:
        built by it first if it has not built them yet."""
        want_src = os.path.realpath(self.args.src) if self.args.src else None
        rec = os.path.join(self.kdir, "obj", ".kmmu-source")
        have = None
        if os.path.exists(rec) and os.path.exists(os.path.join(self.kdir, "vm", "vmlinuz")):
            with open(rec) as f:
                have = f.read().strip()
        # Without --src: the Debian tree build-kernel unpacks into its
        # directory, not a --src tree an earlier build-kernel built there.
        if have is None or (want_src and os.path.realpath(have) != want_src) or \
                (not want_src and os.path.dirname(os.path.realpath(have)) != os.path.realpath(self.kdir)):
            cmd = command("KMMU_MUTANTS_BUILD_KERNEL", [os.path.join(REPO, "ci", "vm", "build-kernel")])
            cmd += ["--dir", self.kdir] + (["--debug"] if self.args.debug else [])
            cmd += ["--src", want_src] if want_src else []
            log(f"building the kernel first: {' '.join(cmd)}")
            rc = subprocess.run(cmd, cwd=REPO).returncode
            if rc != 0:
                raise CampaignError(f"ci/vm/build-kernel failed (exit {rc})")
            with open(rec) as f:
                have = f.read().strip()
        if not os.path.isfile(os.path.join(have, "Makefile")):
            raise CampaignError(f"{have} (from {rec}) is not a kernel tree")
        return have

    def check_state_config(self, src):
        """The state directory is one campaign's: same source, kernel
        directory, mode and flavour."""
        path = os.path.join(self.state, "campaign.json")
        config = {"format": STATE_FORMAT, "source": src, "kernel_dir": self.kdir, "mode": self.mode,
                  "flavour": self.flavour}
        if os.path.exists(path):
            old = read_json(path)
            for k, v in config.items():
                if old.get(k) != v:
                    raise CampaignError(f"state {self.state} belongs to another campaign ({k} "
                                        f"{old.get(k)!r}, not {v!r}): give another --state")
        else:
            write_atomic(path, config)

    # ------------------------------------------------------------ steps
    def vm_args(self, mmu, dmesg_dir, timeout):
        return ["--timeout", str(int(timeout)), "--smp", str(VM_SMP), "--panic-on-oops",
                "--dmesg-dir", dmesg_dir, *MMU_VM_ARGS[mmu]]

    def vm_env(self):
        return dict(os.environ, KMMU_VM_DIR=self.vm_dir)

    def boot_check(self, rundir, mmu):
        """The VM boots this kernel, loads KVM and runs the MMU asked for:
        None, or what went wrong."""
        script = ('test -c /dev/kvm || { echo "boot check: no /dev/kvm"; exit 1; }; '
                  'echo "boot check: npt=$(cat /sys/module/kvm_amd/parameters/npt) '
                  'tdp_mmu=$(cat /sys/module/kvm/parameters/tdp_mmu 2>/dev/null)"')
        out = os.path.join(rundir, "boot.log")
        rc = self.children.run(command("KMMU_MUTANTS_RUN_IN_VM", [os.path.join(REPO, "ci", "vm", "run-in-vm")])
                               + self.vm_args(mmu, os.path.join(rundir, "dmesg"), 300)
                               + ["--", "sh", "-c", script], out, env=self.vm_env())
        with open(out, errors="replace") as f:
            text = f.read()
        m = re.search(r"boot check: npt=(\S*) tdp_mmu=(\S*)", text)
        if rc != 0 or not m:
            lines = [ln for ln in text.splitlines() if not ln.startswith("###")]
            why = next((ln for ln in lines if "boot check" in ln or "run-in-vm" in ln), None)
            return why or f"run-in-vm exit {rc}"
        got = {"npt": m.group(1), "tdp_mmu": m.group(2)}
        for k, v in MMU_EXPECT[mmu].items():
            if got[k] != v:
                return f"the VM's KVM has {k}={got[k]}, not {v} as the {mmu} MMU needs"
        return None

    def run_kmmu(self, rundir, mmu, timeout):
        """kmmu's suite through ci/kmmu-run in the VM: {"tests", "durations",
        "findings", "vm"}."""
        results = os.path.join(rundir, "results")
        os.makedirs(results, exist_ok=True)
        dmesg = os.path.join(rundir, "dmesg")
        env = dict(self.vm_env(), KMMU_VM_ARGS=" ".join(shlex.quote(a) for a in self.vm_args(mmu, dmesg, timeout + 60)),
                   KMMU_TRACE_DIR=os.path.join(rundir, "traces"), KMMU_VM="always")
        argv = command("KMMU_MUTANTS_KMMU_RUN", ["/usr/bin/python3", os.path.join(REPO, "ci", "kmmu-run")])
        # One program at a time in its VM: --vms says how many VMs run at once.
        # A VM per program, not one for all: a program's kernel log
        # (--dmesg-dir, its findings) is then exactly its own, and an Oops
        # that panics the VM takes no other program with it.
        argv += ["--mode", "check", "--build", self.O, "--results", results, "--vm", "always",
                 "--jobs", "1", "--vm-per-program", "--timeout", str(int(timeout)), *self.program_list]
        log_path = os.path.join(rundir, "kmmu.log")
        rc = self.children.run(argv, log_path, env=env)
        docs = sorted(glob.glob(os.path.join(results, "*.json")))
        if not docs:
            raise CampaignError(f"kmmu-run wrote no result file (exit {rc}; log {log_path})")
        with open(log_path, errors="replace") as f:
            tests, durations = parse_kmmu_result(read_json(docs[-1]), f.read())
        return {"tests": tests, "durations": durations, "findings": read_kernel_logs(dmesg), "vm": "ok",
                "exit": rc}

    def run_upstream(self, rundir, mmu, timeout):
        if not self.upstream_bin:
            return None
        dmesg = os.path.join(rundir, "dmesg-upstream")
        tap = os.path.join(rundir, "upstream.tap")
        argv = (command("KMMU_MUTANTS_RUN_IN_VM", [os.path.join(REPO, "ci", "vm", "run-in-vm")])
                + self.vm_args(mmu, dmesg, timeout) + ["--"]
                + command("KMMU_MUTANTS_UPSTREAM", [os.path.join(HERE, "upstream-selftests")])
                + ["run", "--bin", self.upstream_bin])
        t0 = time.monotonic()
        rc = self.children.run(argv, tap, env=self.vm_env())
        with open(tap, errors="replace") as f:
            text = f.read()
        findings = read_kernel_logs(dmesg)
        vm = "ok"
        if rc == 124:
            vm = "timeout"
        elif rc == 125 and any(f["kind"] in ("panic", "oops") for f in findings):
            vm = "panic"
        elif rc in (125, 2):
            vm = f"error (exit {rc})"
        return {"tests": parse_upstream_tap(text), "findings": findings, "vm": vm, "exit": rc,
                "duration_s": time.monotonic() - t0}

    # ------------------------------------------------------- baselines
    def baseline_path(self, mmu, i):
        # Per list of kmmu programs and suite code (suite_fingerprint()):
        # when the suite gains a program or a test changes, the pairs run
        # from then on are judged against baselines that ran that code.
        key = hashlib.sha256("\n".join(self.program_list + [self.fingerprint]).encode()).hexdigest()[:12]
        return os.path.join(self.state, "baselines", key, f"{mmu}-{i}.json")

    def baselines_of(self, mmu):
        out = []
        for i in range(1, self.args.baselines + 1):
            p = self.baseline_path(mmu, i)
            if os.path.exists(p):
                out.append(read_json(p))
        return out

    def run_baselines(self, mmus):
        jobs = [lambda mmu=mmu, i=i: self.run_baseline(mmu, i)
                for mmu in mmus for i in range(1, self.args.baselines + 1)]
        self.children.side_by_side(jobs, self.args.vms)

    def run_baseline(self, mmu, i):
        path = self.baseline_path(mmu, i)
        if os.path.exists(path):
            rec = read_json(path)
            if rec.get("upstream") is None and self.upstream_bin:
                # Made before the upstream selftests were there.
                rundir = self.fresh_dir(os.path.join(self.state, "runs", "baseline",
                                                     f"{mmu}-{i}-upstream"))
                log(f"baseline {i}/{self.args.baselines}, {mmu} MMU: the upstream selftests")
                rec["upstream"] = self.run_upstream(rundir, mmu, self.args.upstream_timeout)
                with self.children.critical():
                    write_atomic(path, rec)
            return
        rundir = self.fresh_dir(os.path.join(self.state, "runs", "baseline", f"{mmu}-{i}"))
        log(f"baseline {i}/{self.args.baselines}, {mmu} MMU")
        t0 = time.monotonic()
        why = self.boot_check(rundir, mmu)
        if why:
            raise CampaignError(f"the unpatched kernel does not boot with the {mmu} MMU: {why} "
                                f"(log {rundir}/boot.log)")
        boot_findings = read_kernel_logs(os.path.join(rundir, "dmesg"))
        kmmu = self.run_kmmu(rundir, mmu, self.args.timeout)
        # As in a mutant's run: the boot's reports are kmmu's.
        kmmu["findings"] = boot_findings + kmmu["findings"]
        upstream = self.run_upstream(rundir, mmu, self.args.upstream_timeout)
        rec = {"mmu": mmu, "index": i, "kmmu": kmmu, "upstream": upstream,
               "programs": self.program_list, "suite_revision": self.revision,
               "time": fmt_time(now_utc()), "duration_s": time.monotonic() - t0, "vms": self.args.vms}
        with self.children.critical():
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_atomic(path, rec)
        fails = sorted(k for k, t in kmmu["tests"].items() if t["status"] in ("fail", "timeout"))
        log(f"baseline {i} {mmu}: {fmt_duration(rec['duration_s'])}, kmmu failures: "
            f"{', '.join(fails) or 'none'}, kernel reports: {len(kmmu['findings'])}")

    def mutant_timeout(self, baselines, suite):
        """A run's timeout: three times the longest baseline (a program,
        for kmmu; the whole VM, for upstream), at least 180 s, at most the
        baselines' own."""
        if suite == "kmmu":
            longest = max((d or 0 for b in baselines for d in b["kmmu"]["durations"].values()), default=0)
            cap = self.args.timeout
        else:
            longest = max((b["upstream"]["duration_s"] for b in baselines if b.get("upstream")), default=0)
            cap = self.args.upstream_timeout
        return int(min(cap, max(180, math.ceil(3 * longest))))

    # ------------------------------------------------------------ pairs
    def pair_path(self, patch, mmu):
        return os.path.join(self.state, "pairs", f"{patch.name}.{mmu}.json")

    def done(self, patch, mmu):
        p = self.pair_path(patch, mmu)
        if not os.path.exists(p):
            return False
        rec = read_json(p)
        # An edited patch is a new mutant; --rerun asks for some again
        # (e.g. the missed ones, once the suite has a test for them).
        if rec.get("sha256") != patch.sha256 or rec["kmmu"]["verdict"] in self.args.rerun:
            return False
        return not self.wants_upstream_only(rec)

    def wants_upstream_only(self, rec):
        """A pair judged by kmmu in a campaign without the upstream
        selftests (--no-upstream), now run with them: only they run."""
        return (not self.args.no_upstream and rec["upstream"]["verdict"] == NOT_RUN and
                rec["kmmu"]["verdict"] in (CAUGHT, MISSED, HUNG))

    def import_results(self, paths):
        """The pairs judged in earlier result files (--import): each one of
        this slice whose patch is unchanged and that this state has not
        judged is written to the state as judged, with the suite revision
        it was judged at.  How many.  A file of another mode, kernel or
        flavour is refused before anything is taken: its verdicts came
        from other programs or another kernel (as merge refuses it)."""
        patches = {p.name: p for p, _ in self.slice}
        wanted = {(p.name, m) for p, m in self.slice}
        ours = {"mode": self.mode, "kernel": self.kernel_version, "flavour": self.flavour}
        docs = [(path, load_result(path, "--import")) for path in paths]
        for path, doc in docs:
            for field, value in ours.items():
                if doc["campaign"].get(field) != value:
                    raise UsageError(f"--import: {path}: {field} {doc['campaign'].get(field)!r} "
                                     f"differs from this campaign's {value!r}")
        n = 0
        for path, doc in docs:
            for t in doc.get("tests", []):
                rec = t.get("mutant")
                if not rec or (rec.get("patch"), rec.get("mmu")) not in wanted:
                    continue
                patch = patches[rec["patch"]]
                if rec.get("sha256") != patch.sha256 or os.path.exists(self.pair_path(patch, rec["mmu"])):
                    continue
                rec = dict(rec, suite_revision=rec.get("suite_revision") or doc.get("suite_revision"),
                           imported_from=os.path.basename(path))
                os.makedirs(os.path.dirname(self.pair_path(patch, rec["mmu"])), exist_ok=True)
                write_atomic(self.pair_path(patch, rec["mmu"]), rec)
                n += 1
        return n

    def fresh_dir(self, path):
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
        return path

    def record(self, patch, mmu, kmmu, upstream, t0, build_s=None, extra=None):
        rec = dict(patch.describe(), mmu=mmu, kmmu=kmmu, upstream=upstream,
                   duration_s=round(time.monotonic() - t0 + (build_s or 0), 1),
                   build_s=round(build_s, 1) if build_s is not None else None,
                   suite_revision=self.revision, time=fmt_time(now_utc()), **(extra or {}))
        with self.children.critical(), self.outputs_lock:
            os.makedirs(os.path.dirname(self.pair_path(patch, mmu)), exist_ok=True)
            write_atomic(self.pair_path(patch, mmu), rec)
            log(f"{pair_id(patch.name, mmu)}: kmmu {short_by(kmmu)}; upstream {upstream['verdict']}; "
                f"{fmt_duration(rec['duration_s'])}")
            # The pairs of one patch may end side by side (--vms): one
            # writer of the report and result file at a time.
            self.write_outputs()

    def run_pair(self, patch, mmu, build_s):
        t0 = time.monotonic()
        baselines = self.baselines_of(mmu)
        old = read_json(self.pair_path(patch, mmu)) if os.path.exists(self.pair_path(patch, mmu)) else None
        if old and old.get("sha256") == patch.sha256 and old["kmmu"]["verdict"] not in self.args.rerun \
                and self.wants_upstream_only(old):
            ubase = [b["upstream"] for b in baselines if b.get("upstream")]
            if not ubase:
                return
            rundir = self.fresh_dir(os.path.join(self.state, "runs", patch.name, mmu + "-upstream"))
            log(f"{pair_id(patch.name, mmu)}: kmmu judged it before ({old['kmmu']['verdict']}); "
                "the upstream selftests only")
            up = self.run_upstream(rundir, mmu, self.mutant_timeout(baselines, "upstream"))
            self.record(patch, mmu, old["kmmu"], suite_verdict(up, ubase), t0, build_s,
                        {"kmmu_exit": old.get("kmmu_exit"), "upstream_vm": up["vm"]})
            return
        rundir = self.fresh_dir(os.path.join(self.state, "runs", patch.name, mmu))
        why = self.boot_check(rundir, mmu)
        boot_findings = read_kernel_logs(os.path.join(rundir, "dmesg"))
        if why:
            v = {"verdict": BOOT_FAILED, "detail": why, "kernel_log": boot_findings}
            self.record(patch, mmu, v, dict(v), t0, build_s)
            return
        kmmu = self.run_kmmu(rundir, mmu, self.mutant_timeout(baselines, "kmmu"))
        kmmu["findings"] = boot_findings + kmmu["findings"]
        kv = suite_verdict(kmmu, [b["kmmu"] for b in baselines])
        if kv["verdict"] == HUNG:
            # A hang alone is a weak verdict (the TCG VM has hung on the
            # unpatched kernel too): once more, and the second run decides.
            log(f"{pair_id(patch.name, mmu)}: hung ({', '.join(kv['by'])}); running kmmu again")
            again = self.run_kmmu(self.fresh_dir(os.path.join(rundir, "again")), mmu,
                                  self.mutant_timeout(baselines, "kmmu"))
            kv2 = suite_verdict(again, [b["kmmu"] for b in baselines])
            kv2["first_run"] = {"verdict": kv["verdict"], "by": kv["by"],
                                "first_failure": kv.get("first_failure")}
            kv = kv2
        ubase = [b["upstream"] for b in baselines if b.get("upstream")]
        up = self.run_upstream(rundir, mmu, self.mutant_timeout(baselines, "upstream")) if ubase else None
        uv = suite_verdict(up, ubase) if up else {"verdict": NOT_RUN, "by": []}
        self.record(patch, mmu, kv, uv, t0, build_s,
                    {"kmmu_exit": kmmu.get("exit"), "upstream_vm": up["vm"] if up else None})

    def run_patch(self, patch, mmus):
        t0 = time.monotonic()
        rundir = os.path.join(self.state, "runs", patch.name)
        os.makedirs(rundir, exist_ok=True)
        why = self.tree.apply(patch)
        if why:
            for mmu in mmus:
                v = {"verdict": STALE, "detail": why}
                self.record(patch, mmu, v, dict(v), t0)
            return
        try:
            full = self.needs_full or not touches_only_modules(patch)
            if full:
                # Until a full build after the revert, the object tree's
                # vmlinux may be this patch's (or half built).
                self.set_needs_full(True)
            log(f"{patch.name}: applied; building {'the kernel and modules' if full else 'KVM'}")
            build_log = os.path.join(rundir, "build.log")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(build_log)
            err = self.kbuild.build(full, build_log, release=self.pristine_release())
            build_s = time.monotonic() - t0
            if err:
                for mmu in mmus:
                    v = {"verdict": BUILD_FAILED, "detail": err}
                    self.record(patch, mmu, v, dict(v), t0)
                return
            # A full build made vmlinux the tree's: after the revert it is
            # stale only if this patch changed it.
            self.set_needs_full(not touches_only_modules(patch))
            self.restore_vm_dir()
            self.kbuild.layout(self.vm_dir, with_vmlinuz=full)
            log(f"{patch.name}: built in {fmt_duration(build_s)}")
            share = build_s / len(mmus)
            self.children.side_by_side([lambda mmu=mmu: self.run_pair(patch, mmu, share) for mmu in mmus],
                                       self.args.vms)
        finally:
            self.tree.revert()

    # ----------------------------------------------------- vm directory
    def set_needs_full(self, value):
        path = os.path.join(self.state, "needs-full-build")
        if value:
            open(path, "w").close()
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        self.needs_full = value

    def restore_vm_dir(self):
        """The campaign's KMMU_VM_DIR as the pristine build left it."""
        with self.children.critical():
            for name in ("vmlinuz", "config", "kernel-version", "modules"):
                src = os.path.join(self.pristine, name)
                dst = os.path.join(self.vm_dir, name)
                if os.path.isdir(src):
                    shutil.rmtree(dst, ignore_errors=True)
                    shutil.copytree(src, dst)
                else:
                    shutil.copyfile(src, dst)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.vm_dir, "initramfs.gz"))

    def pristine_release(self):
        """The unpatched kernel's release, which a patch's modules-only
        build must carry: in a git tree a patched checkout's own release
        gains "-dirty" (LOCALVERSION_AUTO), and the kernel would refuse
        modules of another release."""
        with open(os.path.join(self.pristine, "kernel-version")) as f:
            return f.read().split()[-1]

    def prepare_pristine(self):
        """Builds the unpatched tree (a full build: whatever an earlier
        campaign left in the object tree is rebuilt) and lays it out as the
        pristine VM directory."""
        log_path = os.path.join(self.state, "pristine-build.log")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(log_path)
        log(f"building the unpatched tree {self.src} (log {log_path})")
        t0 = time.monotonic()
        err = self.kbuild.build(True, log_path)
        if err:
            raise CampaignError(f"the unpatched tree does not build: {err} (log {log_path})")
        self.set_needs_full(False)
        src_vm = os.path.join(self.kdir, "vm")
        with self.children.critical():
            shutil.rmtree(self.pristine, ignore_errors=True)
            os.makedirs(os.path.join(self.pristine, "modules"))
            for name in ("kernel-version", "config"):
                shutil.copyfile(os.path.join(src_vm, name), os.path.join(self.pristine, name))
            for name in ("order", "wanted"):
                shutil.copyfile(os.path.join(src_vm, "modules", name),
                                os.path.join(self.pristine, "modules", name))
            self.kbuild.layout(self.pristine, with_vmlinuz=True)
            os.makedirs(self.vm_dir, exist_ok=True)
            busybox = os.path.join(self.vm_dir, "busybox")
            shared = os.path.join(self.build_dir, "vm", "busybox")
            if not os.path.exists(busybox) and os.path.exists(shared):
                shutil.copy2(shared, busybox)
        self.restore_vm_dir()
        log(f"unpatched build: {fmt_duration(time.monotonic() - t0)}")

    def prepare_upstream(self):
        if self.args.no_upstream:
            return None
        # Beside the tree it is built from, shared by the campaigns on it;
        # in build-kernel's directory, whose *.d files the Makefile skips.
        out = os.path.join(self.kdir, "upstream-selftests")
        log_path = os.path.join(self.state, "upstream-build.log")
        argv = command("KMMU_MUTANTS_UPSTREAM", [os.path.join(HERE, "upstream-selftests")])
        if not shutil.which(argv[0]) and not os.access(argv[0], os.X_OK):
            log(f"no {argv[0]}: the upstream selftests are not run")
            return None
        # A no-op when built from this tree before (it records what from).
        rc = self.children.run(argv + ["build", "--src", self.src, "--out", out], log_path)
        if rc != 0:
            raise CampaignError(f"building the upstream selftests failed (log {log_path})")
        return out

    # ---------------------------------------------------------- outputs
    def document(self):
        records = []
        for patch, mmu in self.slice:
            p = self.pair_path(patch, mmu)
            if os.path.exists(p):
                rec = read_json(p)
                if rec.get("sha256") == patch.sha256:
                    records.append(rec)
        baseline_s = sum(read_json(p).get("duration_s", 0)
                         for p in glob.glob(os.path.join(self.state, "baselines", "*.json")))
        campaign = {"kernel": self.kernel_version, "flavour": self.flavour, "mode": self.mode,
                    "source": self.src, "baselines": self.args.baselines,
                    "shards": [f"{self.shard[0]}/{self.shard[1]}"], "mmus": list(self.mmus),
                    "programs": [p[4:] for p in self.program_list], "pairs_planned": len(self.slice),
                    "pairs_done": len(records), "baseline_seconds": round(baseline_s, 1),
                    "upstream": bool(self.upstream_bin)}
        return {
            "schema": SCHEMA,
            "run_id": self.run_id,
            "start_time": fmt_time(self.start),
            "mode": "mutants",
            "suite_revision": self.revision,
            "host": self.host,
            "campaign": campaign,
            "tests": [test_entry(r) for r in records],
            "metrics": rate_metrics(records),
        }

    def write_outputs(self):
        doc = self.document()
        with self.children.critical():
            write_atomic(self.result_path, doc)
            tmp = self.report_path + f".tmp.{os.getpid()}"
            with open(tmp, "w") as f:
                f.write(render_report(doc) + "\n")
            os.rename(tmp, self.report_path)

    # -------------------------------------------------------------- run
    def plan(self):
        a = self.args
        self.patches = load_patches(a.patches, a.only)
        self.mmus = MMUS if a.mmu == "both" else (a.mmu,)
        self.shard = parse_shard(a.shard) if a.shard else (1, 1)
        self.all_pairs = pairs_of(self.patches, self.mmus)
        self.slice = shard_of(self.all_pairs, *self.shard)

    def run(self):
        self.plan()
        if self.args.list:
            for patch, mmu in self.slice:
                print(f"{pair_id(patch.name, mmu)}\t{patch.kind}\t{patch.area}\t{patch.subject}")
            return 0
        self.start = now_utc()
        self.run_id = f"{self.start.strftime('%Y%m%dT%H%M%SZ')}-mutants-{os.getpid()}"
        self.revision = kmmu_run.git_revision()
        self.host = kmmu_run.probe_host(self.build_dir)
        self.program_list = self.programs()
        self.fingerprint = suite_fingerprint(REPO)
        os.makedirs(self.state, exist_ok=True)
        self.result_path = os.path.join(self.state, "result.json")
        self.report_path = os.path.join(self.state, "report.md")
        self.lock(self.state, "another campaign runs on this state directory")
        self.src = self.ensure_kernel()
        self.check_state_config(self.src)
        with open(os.path.join(self.kdir, "vm", "kernel-version")) as f:
            self.kernel_version = f.read().strip()
        self.vm_dir = os.path.join(self.state, "vm")
        self.pristine = os.path.join(self.state, "pristine")
        self.needs_full = os.path.exists(os.path.join(self.state, "needs-full-build"))
        self.upstream_bin = None
        self.children.install()
        # The tree is ci/vm/build-kernel's: it waits while a patch is in.
        self.lock(self.kdir, "ci/vm/build-kernel, or another campaign, uses it")
        self.tree = Tree(self.src, self.state, self.children)
        self.kbuild = KernelBuild(self.kdir, self.src, os.path.join(self.kdir, "obj"), self.args.jobs,
                                  self.children)
        if self.args.imports:
            log(f"imported {self.import_results(self.args.imports)} judged pairs from "
                f"{', '.join(self.args.imports)}")
        pending = [(p, m) for p, m in self.slice if not self.done(p, m)]
        log(f"kmmu programs: {' '.join(program_path(p) for p in self.program_list)}")
        log(f"{len(self.slice)} pairs in shard {self.shard[0]}/{self.shard[1]} "
            f"({len(self.all_pairs)} in all), {len(pending)} to run; state {self.state}")
        try:
            left = self.tree.revert()
            if left:
                log(f"reverted {left}, left applied by an interrupted campaign")
            for p in self.patches:
                if self.tree.looks_applied(p):
                    raise CampaignError(f"the tree {self.src} already has {p.name} applied: "
                                        "restore it (e.g. patch -R -p1) first")
            if pending:
                self.prepare_pristine()
                self.upstream_bin = self.prepare_upstream()
                self.run_baselines(sorted({m for _, m in pending}, key=MMUS.index))
            else:
                self.upstream_bin = None if self.args.no_upstream else os.path.join(self.kdir, "upstream-selftests")
            by_patch = {}
            for p, m in pending:
                by_patch.setdefault(p.name, (p, []))[1].append(m)
            for patch, mmus in by_patch.values():
                self.run_patch(patch, mmus)
            self.write_outputs()
        except Interrupted:
            self.tree.revert()
            log("interrupted: the tree is reverted; run the same command again to resume")
            with contextlib.suppress(Exception):
                self.write_outputs()
            return 130
        finally:
            with contextlib.suppress(Exception):
                self.tree.revert()
        n, d = rate([read_json(self.pair_path(p, m)) for p, m in self.slice if os.path.exists(self.pair_path(p, m))],
                    "kmmu")
        log(f"done: kmmu caught {n} of {d} counted mutant pairs; report {self.report_path}, "
            f"result {self.result_path}")
        return 0
