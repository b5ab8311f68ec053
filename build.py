#!/usr/bin/env python3
"""Command line: parse arguments, call studylog; nothing else.

    python build.py [--content DIR] [--out DIR] [--base-url URL] [--drafts] [-q]
    python build.py new diary [--date YYYY-MM-DD] | new note TITLE | new experiment NAME
    python build.py serve [--port N] [--host 127.0.0.1] [build options]

Exit status: 0 built, 1 content errors (each printed as path:line: message), 2 usage error.
"""
import gc
import os
import sys

from studylog.cli import main

if __name__ == "__main__":
    # One build and the process ends: the cyclic collector would only rescan the site's
    # ~10^6 objects (the build turns it off anyway; `serve`, which lives on, turns it on).
    gc.disable()
    code = main()
    if "tensorflow" not in sys.modules:
        # Freeing a big site's ~10^6 objects one by one at exit costs ~0.1 s, a fifth of an
        # edit rebuild; without TensorFlow (whose threads and atexit hooks want a real
        # shutdown) nothing is left to tear down, so flush and leave at once.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
