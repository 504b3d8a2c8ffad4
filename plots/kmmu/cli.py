# SPDX-License-Identifier: GPL-2.0
"""The tools' command lines: argparse, except that a bad one is one line on
stderr and exit status 2, as the suite's C programs do (argparse prints the
whole usage first, which buries the message in CI logs).  The standard
library only: the stress runs it in the test VM."""

import argparse
import os
import sys

EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors read "NAME: MESSAGE (see PROG
    --help)": NAME is the program's (the first word of prog, without its
    directory), so that a subcommand's parser, which argparse makes of
    this class too, speaks as the program."""

    def error(self, message):
        name = os.path.basename(self.prog.split()[0])
        print(f"{name}: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_USAGE)
