#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""ci/suite.cfg, the one declarative list of the suite's programs: what
`make check`, `make run` and `make bench` run (ci/kmmu-run), what the
kernel's kselftest runner gets (ci/kselftest), and where the stress finds
its workloads (stress/kmmu-stress).  The file's head comment describes
its format; this module reads it (standard library only).

As a program it prints the list for shell scripts and make:
  testlist.py [--list FILE] [--build DIR] --group G   "kvm:PROG+ARG..." a line
  testlist.py [--list FILE] [--build DIR] --kselftest "COLLECTION:PROG" a line
"""

import argparse
import configparser
import fnmatch
import glob
import os
import shlex
import sys

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", ".."))
DEFAULT_LIST = os.path.join(REPO, "ci", "suite.cfg")
GROUPS = ("check", "run", "bench", "ci")
NEEDS = ("kvm",)
FIELDS = ("program", "each", "exclude", "args", "groups", "needs", "timeout", "kselftest")


class ListError(Exception):
    """The list is malformed: one line naming the file and the entry."""


class Program:
    """One program of the list, its "%" (if any) filled in."""

    def __init__(self, name, argv, groups, needs, timeout, kselftest):
        self.name = name            # the list's name for it, e.g. ref/tests/zap_test
        self.argv = argv            # program (relative to the current directory) and args
        self.groups = groups
        self.needs = needs
        self.timeout = timeout      # seconds, or None: the runner's default
        self.kselftest = kselftest  # the kselftest collection, or None

    @property
    def needs_kvm(self):
        return "kvm" in self.needs

    def spec(self):
        """The runner's command-line form: [kvm:]PROGRAM[+ARG...]."""
        return ("kvm:" if self.needs_kvm else "") + "+".join(self.argv)


def _path(text, build, repo):
    """$O/... is in the build directory, anything else in the source tree;
    relative to the current directory when that is inside the tree (so a
    program's name stays what `make` at the top spelled: build/ref/...)."""
    if text.startswith("$O/"):
        return os.path.join(build, text[3:])
    full = os.path.join(repo, text)
    rel = os.path.relpath(full)
    return full if rel.startswith("..") else rel


def load(path=DEFAULT_LIST, build="build", repo=REPO):
    """Every program of the list in its order, globs expanded."""
    cfg = configparser.ConfigParser(interpolation=None, delimiters=("=",),
                                    comment_prefixes=("#",), empty_lines_in_values=False)
    cfg.optionxform = str
    try:
        with open(path) as f:
            cfg.read_file(f)
    except OSError as e:
        raise ListError(f"{path}: {e.strerror}") from None
    except configparser.Error as e:
        raise ListError(f"{path}: {' '.join(str(e).split())}") from None
    out = []
    for entry in cfg.sections():
        sec = cfg[entry]

        def bad(msg):
            return ListError(f"{path}: [{entry}]: {msg}")

        unknown = [k for k in sec if k not in FIELDS]
        if unknown:
            raise bad(f"unknown field {unknown[0]!r} (fields: {', '.join(FIELDS)})")
        if "program" not in sec:
            raise bad("no program")
        groups = sec.get("groups", "").split()
        for g in groups:
            if g not in GROUPS:
                raise bad(f"unknown group {g!r} (groups: {', '.join(GROUPS)})")
        needs = sec.get("needs", "").split()
        for n in needs:
            if n not in NEEDS:
                raise bad(f"unknown requirement {n!r} (one of: {', '.join(NEEDS)})")
        timeout = sec.get("timeout")
        if timeout is not None:
            if not timeout.isdigit() or int(timeout) <= 0:
                raise bad(f"timeout {timeout!r} is not a positive number of seconds")
            timeout = int(timeout)
        try:
            args = shlex.split(sec.get("args", ""))
        except ValueError as e:
            raise bad(f"args: {e}") from None
        args = [a.replace("$O/", build.rstrip("/") + "/") for a in args]
        if "each" in sec:
            pattern = sec["each"]
            if pattern.count("%") != 1 or "%" in os.path.dirname(pattern):
                raise bad("'each' is a source file pattern with one '%' in its file name")
            if "%" not in sec["program"] or "%" not in entry:
                raise bad("an entry with 'each' names its program and itself with '%'")
            # As make's $(wildcard) and patsubst: sorted, '%' the part that
            # matched.
            head, tail = os.path.basename(pattern).split("%")
            files = sorted(glob.glob(os.path.join(repo, pattern.replace("%", "*"))))
            excluded = sec.get("exclude", "").split()
            stems = [os.path.basename(f)[len(head):len(os.path.basename(f)) - len(tail)]
                     for f in files
                     if not any(fnmatch.fnmatchcase(os.path.basename(f), x) for x in excluded)]
        elif "%" in sec["program"] or "exclude" in sec:
            raise bad("'%' and 'exclude' need 'each'")
        else:
            stems = [None]
        for stem in stems:
            def fill(text):
                return text if stem is None else text.replace("%", stem)
            out.append(Program(fill(entry), [_path(fill(sec["program"]), build, repo)] + args,
                               groups, needs, timeout, sec.get("kselftest")))
    names = [p.name for p in out]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise ListError(f"{path}: {dup} is listed twice")
    return out


def select(programs, group):
    return [p for p in programs if group in p.groups]


def find(programs, name):
    return next((p for p in programs if p.name == name), None)


def main(argv=None):
    ap = argparse.ArgumentParser(description="print programs of the suite's list")
    ap.add_argument("--list", default=DEFAULT_LIST)
    ap.add_argument("--build", default="build")
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--group", choices=GROUPS)
    what.add_argument("--kselftest", action="store_true")
    a = ap.parse_args(argv)
    try:
        programs = load(a.list, a.build)
    except ListError as e:
        print(f"testlist: {e}", file=sys.stderr)
        return 2
    if a.kselftest:
        for p in programs:
            if p.kselftest:
                print(f"{p.kselftest}:{p.argv[0]}")
    else:
        for p in select(programs, a.group):
            print(p.spec())
    return 0


if __name__ == "__main__":
    sys.exit(main())
