"""Argument parsing and exit codes for build.py (later: --smoke, --frozen, --results, new, serve)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .errors import ContentError

EXIT_OK, EXIT_CONTENT, EXIT_USAGE = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="build.py", description="Build the study log into a static site.",
                                epilog="Also: 'build.py new diary|note|experiment ...' starts a content file; "
                                       "'build.py serve [--port N]' previews with live reload (each has --help).")
    p.add_argument("--content", type=Path, default=Path("content"), metavar="DIR", help="content folder (default: content)")
    p.add_argument("--out", type=Path, default=Path("_site"), metavar="DIR", help="output folder (default: _site)")
    p.add_argument("--base-url", type=base_url_arg, metavar="URL",
                   help="override site.toml base_url, e.g. /studylog/ (keeps site.toml's host) "
                        "or https://u.github.io/studylog/")
    p.add_argument("--drafts", action="store_true", help="include posts with draft: true")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    p.add_argument("--results", type=Path, metavar="DIR", help="experiment results (default: results/ beside the content folder)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--smoke", action="store_true", help="train stale experiments at a tiny size to check the pipeline")
    g.add_argument("--frozen", action="store_true", help="never train; fail if a result is missing or stale (deploy CI)")
    p.add_argument("--clean", action="store_true", help="ignore the incremental-build cache: make every file again")
    p.add_argument("--jobs", type=int, metavar="N",
                   help="worker processes rendering Markdown and pages (default: one per CPU for a big site)")
    p.add_argument("--no-search", action="store_true", help="do not build the Pagefind search index")
    return p


def base_url_arg(value: str) -> str:
    """argparse type of --base-url: a bad one is a usage error (exit 2), by site.toml's rule."""
    from .config import base_url_problem
    problem = base_url_problem(value)
    if problem:
        # argparse prefixes "argument --base-url: ", so drop the setting's name
        raise argparse.ArgumentTypeError(problem.replace("base_url ", "", 1))
    return value


def main(argv: list[str] | None = None, setup=()) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["new"]:            # python build.py new diary|note|experiment
        from .scaffold import main as new
        return new(argv[1:])
    if argv[:1] == ["serve"]:          # python build.py serve [--port N] [build options]
        from .serve import main as serve
        return serve(argv[1:], setup)
    args = parser().parse_args(argv)   # exits 2 on usage errors
    if not args.content.is_dir():
        print(f"build.py: error: content folder not found: {args.content}", file=sys.stderr)
        return EXIT_USAGE
    if args.jobs is not None and args.jobs < 1:
        print("build.py: error: --jobs must be >= 1", file=sys.stderr)
        return EXIT_USAGE
    if args.out.resolve() == args.content.resolve() or args.content.resolve().is_relative_to(args.out.resolve()):
        print("build.py: error: --out must not contain the content folder", file=sys.stderr)
        return EXIT_USAGE
    from .write import unsafe_output
    problem = unsafe_output(args.out)
    if problem:
        print(f"build.py: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    from .build import BuildOptions, build, results_root
    opts = BuildOptions(content=args.content, out=args.out, base_url=args.base_url,
                        drafts=args.drafts, quiet=args.quiet, jobs=args.jobs,
                        results=args.results, smoke=args.smoke, frozen=args.frozen,
                        search=not args.no_search, clean=args.clean, skip_if_unchanged=True)
    from .lock import build_locks, sweep_leftovers
    results = results_root(args.content, args.results)
    try:
        results = results if (args.content / "experiments").is_dir() else None
        # -q prints errors only: not even "another build ... is writing; waiting"
        quiet = {"say": lambda message: None} if args.quiet else {}
        with build_locks(args.out, results, **quiet):
            sweep_leftovers(args.out, results)
            result = build(opts, setup)
    except ContentError as e:
        for err in e.errors:
            print(err, file=sys.stderr)
        print(f"build failed: {len(e.errors)} error(s); {args.out} left unchanged", file=sys.stderr)
        return EXIT_CONTENT
    except OSError as e:
        print(f"build.py: error: {os_error_message(e, args.out)}; {args.out} left unchanged", file=sys.stderr)
        return EXIT_CONTENT
    except KeyboardInterrupt:
        trained = "gan.train" in sys.modules      # only then is there a checkpoint to speak of
        print(f"build.py: interrupted; {args.out} left unchanged"
              + (" (training resumes from its checkpoint)" if trained else ""), file=sys.stderr)
        return 130
    if not args.quiet:
        s = result.summary
        if s.get("experiments_table"):
            print(s["experiments_table"])
        done = "up to date" if result.site is None else f"{result.made} of {result.files} files made"
        print(f"built {args.out}: {s['posts']} posts, {s['pages']} pages, {s['experiments']} experiments, "
              f"{result.files} files ({done}) in {result.seconds:.2f}s")
    return EXIT_OK


def os_error_message(e: OSError, out: Path) -> str:
    """'No space left on device: _site/posts/x/index.html' (the temp tree named as the output)."""
    import re
    what = e.strerror or str(e)
    if e.filename is None:
        return f"cannot write the site: {what}"
    names = [re.sub(r"(^|/)\.([^/]+)\.new-[^/]+", r"\1\2", os.fsdecode(n))   # .NAME.new-xyz/ -> NAME/
             for n in (e.filename, e.filename2) if n is not None]
    return f"{what}: " + " -> ".join(names)
