#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""kmmu-result/1 documents -> JUnit XML, the test report CI systems read
(Jenkins' junit step, GitLab's junit artifacts, GitHub actions that show
test results).  The one JUnit writer: ci/kmmu-run writes its --junit file
with it after every program, and as a program it converts result files
that exist already:

  junit.py [-o FILE] RESULT|DIR...   every kmmu-result/1 file named or in DIR

The shape (ci/junit.xsd is the schema, from the Jenkins JUnit format):
one <testsuite> per program, named as the result file names it; one
<testcase> per TAP result line of the program (a kselftest case) with its
time; a failed case's <failure> has the first line that says what went
wrong as its message and the end of the case's output as its text; a
skipped one <skipped message=reason>.  A program without TAP lines is one
<testcase> of its own name; so is a program's verdict that no case
carries: a failure after all cases passed, and an <error> for a program
that timed out, crashed, could not be started or was interrupted.

The runner stores what a case needs in the result document (each
subtest's duration_s, and for a failure first_failure and output), so a
converted file says what the runner's own --junit file said.

Standard library only, as the runner: the test VM has nothing else.
"""

import argparse
import collections
import os
import re
import sys
import xml.etree.ElementTree as ET

if __name__ == "__main__":
    # Run as a program: the package is this file's directory.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))

from kmmu.results import SCHEMA, InputError, load_run, replace_atomically  # noqa: E402

# A line of a program's output that says what went wrong: the kselftest
# harness's assertion lines ("file.c:123:case:Expected ..."), its FAIL
# lines, and the words kmmu's programs and the checker use.
FAILURE_LINE = re.compile(r"^\S+\.[ch]:\d+:|\b(FAIL|Expected|[Aa]ssert\w*|[Ee]rror|ERROR|"
                          r"diverge\w*|DIVERGENCE|BUG|Oops|WARNING|[Tt]imed out)\b")
TAP_RESULT = re.compile(r"^\s*(not )?ok \d+ ")
# The end of the output a failure carries: enough to see what happened
# in a CI system's page, not a whole log.
EXCERPT_LINES = 40
EXCERPT_CHARS = 8000
MESSAGE_CHARS = 300

# A program's reasons (ci/kmmu-run) that are not a test's verdict but its
# run going wrong: these are JUnit errors, the rest failures.
ERROR_REASONS = re.compile(r"^(timeout|killed by signal|cannot execute|interrupted|"
                           r"unreadable result document)")

# XML 1.0 has no way to write most control characters, not even escaped:
# a program that prints an escape sequence must not make the file unreadable.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text):
    return NOT_XML.sub("\ufffd", str(text))


class OutputNotes:
    """What a test's output gives its JUnit <failure>, kept as the lines
    come (a program may print a lot): the first line that says what went
    wrong -- the harness prints its reasons before its "not ok", so a
    "not ok" line only when nothing said more before it -- and the last
    EXCERPT_LINES lines."""

    def __init__(self):
        self.first = None
        self.tail = collections.deque(maxlen=EXCERPT_LINES)

    def add(self, line):
        if self.first is None:
            tap = TAP_RESULT.match(line)
            if (tap and tap.group(1)) or (not tap and FAILURE_LINE.search(line)):
                # Without the "# " of a kselftest diagnostic.
                self.first = re.sub(r"^#\s*", "", line.strip())[:MESSAGE_CHARS]
        self.tail.append(line)

    def fields(self, fallback=None):
        """The result document's fields of a failed test: "output", the
        excerpt, and "first_failure" (else fallback, e.g. its "not ok" line)."""
        out = {"output": "\n".join(self.tail)[-EXCERPT_CHARS:]}
        first = self.first or fallback
        if first:
            out["first_failure"] = first.strip()[:MESSAGE_CHARS]
        return out


def seconds(value):
    try:
        return f"{max(0.0, float(value)):.3f}"
    except (TypeError, ValueError):
        return "0.000"


def verdict(parent, test, default_message):
    """A failed or skipped test's child element: <failure>, <error> or
    <skipped>; a passed test has none."""
    status = test.get("status")
    if status == "skip":
        ET.SubElement(parent, "skipped", message=xml_text(test.get("reason") or "skipped"))
        return
    if status != "fail":
        return
    reason = test.get("reason") or ""
    kind = "error" if ERROR_REASONS.match(reason) else "failure"
    message = test.get("first_failure") or reason or default_message
    if kind == "error" and reason:
        # What happened to the program first, then what it said.
        message = reason
    el = ET.SubElement(parent, kind, message=xml_text(message[:MESSAGE_CHARS]),
                       type=xml_text(reason or "fail"))
    text = test.get("output")
    if kind == "error" and test.get("first_failure"):
        text = f"{test['first_failure']}\n\n{text or ''}"
    if text:
        el.text = xml_text(text)


def program_suite(doc, test):
    """One program's <testsuite>."""
    name = str(test.get("name", "?"))
    suite = ET.Element("testsuite", name=xml_text(name))
    props = ET.SubElement(suite, "properties")
    # Measured in the VM: its kernel, not the runner's host.
    host = test.get("host") if isinstance(test.get("host"), dict) else doc.get("host") or {}
    for key, value in (("run_id", doc.get("run_id")), ("mode", doc.get("mode")),
                       ("suite_revision", doc.get("suite_revision")),
                       ("kernel_release", host.get("kernel_release")),
                       ("kvm_backend", host.get("kvm_backend"))):
        if value is not None:
            ET.SubElement(props, "property", name=key, value=xml_text(value))

    subtests = [s for s in test.get("subtests", []) if isinstance(s, dict)]
    cases = []
    for s in subtests:
        case = ET.Element("testcase", name=xml_text(s.get("name", "?")), classname=xml_text(name))
        if "duration_s" in s:
            case.set("time", seconds(s["duration_s"]))
        verdict(case, s, f"not ok: {s.get('name', '?')}")
        cases.append((case, s.get("status")))
    status = test.get("status")
    reason = test.get("reason") or ""
    carried = any(st == status for _, st in cases)
    if not subtests or (status == "fail" and (ERROR_REASONS.match(reason) or not carried)) or \
            (status == "skip" and not carried):
        # The program's own verdict, where no case says it.
        case = ET.Element("testcase", name=xml_text(name), classname=xml_text(name),
                          time=seconds(test.get("duration_s")))
        verdict(case, test, f"{name} failed")
        cases.append((case, status))

    counts = {"failure": 0, "error": 0, "skipped": 0}
    for case, _ in cases:
        suite.append(case)
        for child in case:
            counts[child.tag] += 1
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(counts["failure"]))
    suite.set("errors", str(counts["error"]))
    suite.set("skipped", str(counts["skipped"]))
    suite.set("time", seconds(test.get("duration_s")))
    start = str(doc.get("start_time") or "")
    if re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", start):
        suite.set("timestamp", start[:-1])   # JUnit's: local time, no zone
    return suite


def to_xml(docs):
    """kmmu-result/1 documents -> the JUnit XML file's bytes."""
    root = ET.Element("testsuites")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    time = 0.0
    for doc in docs:
        for test in doc.get("tests", []):
            suite = program_suite(doc, test)
            root.append(suite)
            for k in totals:
                totals[k] += int(suite.get(k))
            time += float(suite.get("time"))
    modes = sorted({str(d.get("mode")) for d in docs if d.get("mode")})
    root.set("name", xml_text("kmmu " + "+".join(modes) if modes else "kmmu"))
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", f"{time:.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"


def write(path, docs):
    """The JUnit file of docs at path, atomically: a CI system that reads it
    while the run goes on sees the previous whole file."""
    replace_atomically(path, to_xml(docs))


def load(path):
    """A result file's document (results.load_run reads and checks it),
    whose tests must have a name and a status."""
    doc = load_run(path).doc
    tests = doc.get("tests", [])
    if not isinstance(tests, list) or not all(isinstance(t, dict) and isinstance(t.get("name"), str)
                                              and t.get("status") in ("pass", "fail", "skip")
                                              for t in tests):
        raise InputError(f"{path}: tests is not a list of tests with a name and a status")
    return doc


def load_all(paths):
    """The documents of the files named (each must be one) and of every
    *.json in the directories named (others are skipped with a warning)."""
    docs = []
    for arg in paths:
        if not os.path.isdir(arg):
            docs.append(load(arg))
            continue
        found = 0
        for n in sorted(os.listdir(arg)):
            if not n.endswith(".json"):
                continue
            try:
                docs.append(load(os.path.join(arg, n)))
                found += 1
            except InputError as e:
                print(f"junit: warning: {e}; skipped", file=sys.stderr)
        if not found:
            raise InputError(f"{arg}: no {SCHEMA} result files in this directory")
    return docs


def main(argv=None):
    ap = argparse.ArgumentParser(prog="junit.py", description=f"{SCHEMA} result files -> JUnit XML")
    ap.add_argument("-o", "--output", metavar="FILE", help="write FILE (atomically), not stdout")
    ap.add_argument("results", nargs="+", metavar="RESULT|DIR")
    a = ap.parse_args(argv)
    try:
        data = to_xml(load_all(a.results))
    except InputError as e:
        print(f"junit: {e}", file=sys.stderr)
        return 2
    if not a.output:
        sys.stdout.buffer.write(data)
        return 0
    try:
        replace_atomically(a.output, data)
    except OSError as e:
        print(f"junit: {a.output}: {e.strerror or e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
