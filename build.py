#!/usr/bin/env python3
"""Command line: parse arguments, call studylog; nothing else.

    python build.py [--content DIR] [--out DIR] [--base-url URL] [--drafts] [-q]

Exit status: 0 built, 1 content errors (each printed as path:line: message), 2 usage error.
"""
import sys

from studylog.cli import main

if __name__ == "__main__":
    sys.exit(main())
